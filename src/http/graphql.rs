//! `/graphql`: GraphQL over HTTP, GraphiQL, and the WebSocket upgrade, on one path.
//!
//! Follows the GraphQL-over-HTTP specification:
//! - `POST` with an `application/json` body, or `GET` with `query`, `operationName`,
//!   `variables` and `extensions` in the query string. `GET` runs queries only (`405` otherwise).
//! - The response is `application/graphql-response+json` when the client accepts it, else
//!   `application/json`. With the former, a request that fails before execution (parse or
//!   validation) is `400`; with the latter, every well-formed request gets `200`.
//! - A body that is not a GraphQL request is `400`, a body over the limit `413`, another media
//!   type `415`, an unacceptable `Accept` `406`.
//! - A browser asking for HTML gets GraphiQL; a WebSocket upgrade speaks `graphql-transport-ws`.

use async_graphql::parser::types::OperationType;
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, Request, Response};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use std::sync::Arc;

use crate::config::{GraphqlSettings, WebsocketSettings};
use crate::db::Db;
use crate::error::ErrorCode;
use crate::graphql::errors::{has_code, refused_before_execution};
use crate::graphql::persisted::PersistedQueries;
use crate::identity::service::Auth;
use crate::schema::AppSchema;

use super::context::{Presented, RequestContext};
use super::websocket::SocketEndpoint;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
pub(super) const JSON: &str = "application/json";

/// The `/graphql` endpoint.
pub struct GraphqlEndpoint {
    schema: AppSchema,
    db: Db,
    auth: Arc<Auth>,
    websocket: SocketEndpoint,
    graphiql: Option<super::graphiql::GraphiqlPage>,
    max_body_bytes: usize,
    max_nesting: usize,
    persisted: Arc<PersistedQueries>,
}

/// A GraphQL request as sent in a `POST` body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphqlRequest {
    query: Option<String>,
    document_id: Option<String>,
    operation_name: Option<String>,
    variables: Option<Map<String, Value>>,
    extensions: Option<Map<String, Value>>,
}

/// A GraphQL request as sent in a `GET` query string.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphqlParams {
    query: Option<String>,
    document_id: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

impl GraphqlEndpoint {
    /// The endpoint over a schema.
    pub fn new(
        schema: AppSchema,
        db: Db,
        auth: Arc<Auth>,
        settings: &GraphqlSettings,
        websocket: &WebsocketSettings,
        persisted: Arc<PersistedQueries>,
    ) -> Self {
        let graphiql = settings.graphiql.then(|| super::graphiql::page(&settings.graphiql_assets_url));
        Self {
            websocket: SocketEndpoint::new(
                schema.clone(),
                db.clone(),
                auth.clone(),
                websocket,
                settings.max_body_bytes,
                Arc::clone(&persisted),
            ),
            schema,
            db,
            auth,
            graphiql,
            max_body_bytes: settings.max_body_bytes,
            max_nesting: settings.max_nesting,
            persisted,
        }
    }

    async fn serve_http(&self, mut req: Request) -> Response {
        if let Some(page) = &self.graphiql
            && req.method() == Method::GET
            && wants_html(&req)
            && req.uri().query().is_none_or(str::is_empty)
        {
            return graphiql_response(page);
        }
        let Some(media_type) = negotiate(req.headers().get(header::ACCEPT)) else {
            return request_error(
                StatusCode::NOT_ACCEPTABLE,
                ErrorCode::BadRequest,
                "the response can be application/graphql-response+json or application/json",
                JSON,
            );
        };
        let (mut request, get) = match *req.method() {
            Method::GET => match read_get(&req) {
                Ok(request) => (request, true),
                Err(message) => {
                    return request_error(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, &message, media_type);
                }
            },
            Method::POST => match self.read_post(&mut req, media_type).await {
                Ok(request) => (request, false),
                Err(response) => return response,
            },
            _ => {
                let mut response =
                    request_error(StatusCode::METHOD_NOT_ALLOWED, ErrorCode::BadRequest, "use GET or POST", media_type);
                response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
                return response;
            }
        };
        let client = RequestContext::client_of(&req);
        let context = match RequestContext::build(&self.db, &self.auth, client, Presented::from_headers(&req)).await {
            Ok(context) => context,
            Err(error) => return request_error(StatusCode::UNAUTHORIZED, error.code(), error.message(), media_type),
        };
        let document = match self
            .persisted
            .document(context.allowed(), request.query.take(), request.document_id.take(), request.extensions.as_mut())
            .await
        {
            Ok(Some(document)) => document,
            Ok(None) => {
                let message = "the request has no `query`";
                return request_error(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message, media_type);
            }
            Err(refusal) => {
                // Apollo clients read NOT_FOUND and NOT_SUPPORTED from a 200 and react (send the
                // query in full).
                let status = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST);
                return request_error(status, refusal.code, &refusal.message, media_type);
            }
        };
        if get && !is_query_operation(document.text(), request.operation_name.as_deref(), self.max_nesting) {
            let mut response = request_error(
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::BadRequest,
                "mutations and subscriptions need POST",
                media_type,
            );
            response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
        let (gql, registering) = document.into_request();
        let response = self.schema.execute(with_request_parts(context.attach(gql), request)).await;
        if let Some(registering) = registering {
            self.persisted.keep_if_it_ran(registering, &response).await;
        }
        encode(response, media_type)
    }

    /// The GraphQL request in a `POST` body, or the response refusing it.
    async fn read_post(&self, req: &mut Request, media_type: &'static str) -> Result<GraphqlRequest, Response> {
        let content_type = req.content_type().unwrap_or_default();
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        if !essence.eq_ignore_ascii_case(JSON) {
            return Err(request_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::BadRequest,
                "send the request as application/json",
                media_type,
            ));
        }
        let body = match req.take_body().into_bytes_limit(self.max_body_bytes).await {
            Ok(body) => body,
            Err(poem::error::ReadBodyError::PayloadTooLarge) => {
                let message = format!("the request body is larger than {} bytes", self.max_body_bytes);
                return Err(request_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::PayloadTooLarge,
                    &message,
                    media_type,
                ));
            }
            Err(_) => {
                let message = "the request body could not be read";
                return Err(request_error(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message, media_type));
            }
        };
        serde_json::from_slice::<GraphqlRequest>(&body).map_err(|error| {
            let message = format!("the body is not a GraphQL request: {error}");
            request_error(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, &message, media_type)
        })
    }
}

/// The GraphQL request in a `GET` query string, or why it is malformed.
fn read_get(req: &Request) -> Result<GraphqlRequest, String> {
    let params = req.params::<GraphqlParams>().map_err(|_| "malformed query string".to_owned())?;
    let decode = |text: Option<String>, name: &str| -> Result<Option<Map<String, Value>>, String> {
        text.map(|t| serde_json::from_str(&t).map_err(|_| format!("`{name}` must be a JSON object"))).transpose()
    };
    Ok(GraphqlRequest {
        query: params.query,
        document_id: params.document_id,
        operation_name: params.operation_name,
        variables: decode(params.variables, "variables")?,
        extensions: decode(params.extensions, "extensions")?,
    })
}

/// Adds the operation name, variables and extensions of `request` to `gql`.
fn with_request_parts(mut gql: async_graphql::Request, request: GraphqlRequest) -> async_graphql::Request {
    if let Some(name) = request.operation_name {
        gql = gql.operation_name(name);
    }
    if let Some(variables) = request.variables {
        gql = gql.variables(async_graphql::Variables::from_json(Value::Object(variables)));
    }
    for (key, value) in request.extensions.unwrap_or_default() {
        if let Ok(value) = async_graphql::Value::from_json(value) {
            gql.extensions.insert(key, value);
        }
    }
    gql
}

/// The GraphiQL page with its security headers.
fn graphiql_response(page: &super::graphiql::GraphiqlPage) -> Response {
    Response::builder()
        .content_type("text/html; charset=utf-8")
        .header(header::CONTENT_SECURITY_POLICY, page.content_security_policy.as_str())
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::REFERRER_POLICY, "no-referrer")
        .body(page.html.clone())
}

impl Endpoint for GraphqlEndpoint {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Self::Output> {
        let upgrade = req.headers().get(header::UPGRADE).and_then(|v| v.to_str().ok());
        if upgrade.is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
            return Ok(self.websocket.upgrade(req).await);
        }
        Ok(self.serve_http(req).await)
    }
}

/// Picks the response media type from `Accept`; `None` when neither JSON type is acceptable.
fn negotiate(accept: Option<&HeaderValue>) -> Option<&'static str> {
    let Some(accept) = accept.and_then(|v| v.to_str().ok()).filter(|v| !v.trim().is_empty()) else {
        return Some(JSON);
    };
    let ranges: Vec<String> = accept
        .split(',')
        .filter(|range| !range.split(';').skip(1).any(|p| p.trim().replace(' ', "") == "q=0"))
        .map(|range| range.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .collect();
    if ranges.iter().any(|r| r == GRAPHQL_RESPONSE_JSON) {
        Some(GRAPHQL_RESPONSE_JSON)
    } else if ranges.iter().any(|r| r == JSON || r == "application/*" || r == "*/*") {
        Some(JSON)
    } else {
        None
    }
}

fn wants_html(req: &Request) -> bool {
    req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|accept| accept.contains("text/html"))
}

/// Whether the operation a `GET` would run is a query. Unparsable documents pass, so the
/// schema reports the parse error with its code.
fn is_query_operation(query: &str, operation_name: Option<&str>, max_nesting: usize) -> bool {
    if crate::graphql::nesting::check(query, max_nesting).is_err() {
        return true;
    }
    let Ok(document) = async_graphql::parser::parse_query(query) else { return true };
    let operation = match operation_name {
        Some(name) => document.operations.iter().find(|(n, _)| n.is_some_and(|n| n.as_str() == name)).map(|(_, op)| op),
        None => document.operations.iter().next().map(|(_, op)| op),
    };
    operation.is_none_or(|op| op.node.ty == OperationType::Query)
}

/// The body of a GraphQL response; `data` keeps the order of the selection set.
#[derive(Serialize)]
struct ResponseBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a async_graphql::Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [async_graphql::ServerError],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: &'a BTreeMap<String, async_graphql::Value>,
}

/// Serialises a GraphQL response with the status code its media type calls for.
fn encode(response: async_graphql::Response, media_type: &'static str) -> Response {
    let failed_before_execution = !response.errors.is_empty() && response.errors.iter().all(refused_before_execution);
    let body = ResponseBody {
        data: (!failed_before_execution).then_some(&response.data),
        errors: &response.errors,
        extensions: &response.extensions,
    };
    let unavailable = response.errors.iter().any(|e| has_code(e, ErrorCode::ServiceUnavailable));
    let throttled = response.errors.iter().any(|e| has_code(e, ErrorCode::Throttled));
    let status = if unavailable {
        StatusCode::SERVICE_UNAVAILABLE
    } else if throttled && response.data == async_graphql::Value::Null {
        // Refused before it ran: a cost bucket that cannot pay for it now.
        StatusCode::TOO_MANY_REQUESTS
    } else if response.errors.iter().any(|e| has_code(e, ErrorCode::PersistedQueryRequired)) {
        StatusCode::FORBIDDEN
    } else if failed_before_execution && media_type == GRAPHQL_RESPONSE_JSON {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut http = json_response(status, &body, media_type);
    if unavailable {
        http.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    for (name, value) in &response.http_headers {
        http.headers_mut().append(name.clone(), value.clone());
    }
    http
}

/// A response for a request that is not a well-formed GraphQL request.
pub(super) fn request_error(status: StatusCode, code: ErrorCode, message: &str, media_type: &'static str) -> Response {
    json_response(status, &crate::error::error_body(code, message), media_type)
}

fn json_response(status: StatusCode, body: &impl Serialize, media_type: &'static str) -> Response {
    Response::builder()
        .status(status)
        .content_type(format!("{media_type}; charset=utf-8"))
        .body(serde_json::to_vec(body).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_the_response_media_type() {
        let accept = |v: &'static str| negotiate(Some(&HeaderValue::from_static(v)));
        assert_eq!(negotiate(None), Some(JSON));
        assert_eq!(accept("application/graphql-response+json, application/json;q=0.9"), Some(GRAPHQL_RESPONSE_JSON));
        assert_eq!(accept("application/json"), Some(JSON));
        assert_eq!(accept("*/*"), Some(JSON));
        assert_eq!(accept("text/plain"), None);
        assert_eq!(accept("application/json;q=0"), None);
    }

    #[test]
    fn get_runs_queries_only() {
        assert!(is_query_operation("{ a }", None, 64));
        assert!(!is_query_operation("mutation { a }", None, 64));
        assert!(!is_query_operation("query A { a } mutation B { b }", Some("B"), 64));
        assert!(is_query_operation("query A { a } mutation B { b }", Some("A"), 64));
        let deep = format!("mutation {{ a(x: {}1{}) }}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(is_query_operation(&deep, None, 64), "left to the schema, which refuses it unparsed");
    }
}
