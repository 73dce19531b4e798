//! GraphQL over HTTP: methods, media types, status codes, limits, WebSocket, health, shutdown.

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{Store, TestApp, error_codes};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

async fn post(
    app: &TestApp,
    accept: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, String, Value) {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header(ACCEPT, accept)
        .header(CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let media = response.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
    (status, media, response.json().await.unwrap_or(Value::Null))
}

async fn status_codes_follow_the_graphql_over_http_spec(store: Store) {
    let app = TestApp::spawn(store).await;
    let ok = json!({ "query": "{ categories { name } }" }).to_string();
    let invalid = json!({ "query": "{ nope }" }).to_string();

    let (status, media, body) = post(&app, GRAPHQL_RESPONSE, "application/json", ok.clone()).await;
    assert_eq!((status, media.as_str()), (StatusCode::OK, "application/graphql-response+json; charset=utf-8"));
    assert_eq!(body["data"], json!({ "categories": [] }));
    assert_eq!(body["extensions"]["cost"]["requestedQueryCost"], 2, "every answer reports its cost: {body}");

    let (status, _, body) = post(&app, GRAPHQL_RESPONSE, "application/json", invalid.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "validation failure with the new media type");
    assert!(body.get("data").is_none(), "no data entry when nothing was executed");
    assert_eq!(error_codes(&body), ["GRAPHQL_VALIDATION_FAILED"]);

    let (status, media, body) = post(&app, "application/json", "application/json", invalid).await;
    assert_eq!((status, media.as_str()), (StatusCode::OK, "application/json; charset=utf-8"), "legacy media type");
    assert_eq!(error_codes(&body), ["GRAPHQL_VALIDATION_FAILED"]);

    let (status, _, body) = post(&app, "*/*", "application/json", "{ not json").await;
    assert_eq!((status, error_codes(&body)), (StatusCode::BAD_REQUEST, vec!["BAD_REQUEST".to_owned()]));
    let (status, _, body) = post(&app, "*/*", "application/json", json!({ "variables": {} }).to_string()).await;
    assert_eq!((status, error_codes(&body)), (StatusCode::BAD_REQUEST, vec!["BAD_REQUEST".to_owned()]), "no query");
    let (status, _, body) = post(&app, "*/*", "application/json", json!([{ "query": "{ a }" }]).to_string()).await;
    assert_eq!((status, error_codes(&body)), (StatusCode::BAD_REQUEST, vec!["BAD_REQUEST".to_owned()]), "batch");
    let (status, _, _) = post(&app, "*/*", "text/plain", ok.clone()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, _, _) = post(&app, "text/csv", "application/json", ok.clone()).await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);

    let huge = json!({ "query": format!("{{ categories {{ name }} }} #{}", "x".repeat(300 * 1024)) }).to_string();
    let (status, _, body) = post(&app, "*/*", "application/json", huge).await;
    assert_eq!((status, error_codes(&body)), (StatusCode::PAYLOAD_TOO_LARGE, vec!["PAYLOAD_TOO_LARGE".to_owned()]));

    let put = app.client.put(format!("{}/graphql", app.address)).body(ok).send().await.unwrap();
    assert_eq!(put.status(), StatusCode::METHOD_NOT_ALLOWED);
}

async fn get_runs_queries_and_serves_graphiql(store: Store) {
    let app = TestApp::spawn(store).await;
    let url = format!("{}/graphql", app.address);
    let response = app
        .client
        .get(&url)
        .query(&[("query", "query($n: Int) { products(first: $n) { edges { cursor } } }"), ("variables", "{\"n\": 1}")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["data"], json!({ "products": { "edges": [] } }));

    let mutation = app.client.get(&url).query(&[("query", "mutation { x }")]).send().await.unwrap();
    assert_eq!(mutation.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(mutation.headers()["allow"], "POST");

    let bad_variables =
        app.client.get(&url).query(&[("query", "{ categories { name } }"), ("variables", "[1")]).send().await.unwrap();
    assert_eq!(bad_variables.status(), StatusCode::BAD_REQUEST);

    let page = app.client.get(&url).header(ACCEPT, "text/html,application/xhtml+xml").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(policy.starts_with("default-src 'none'; script-src https://unpkg.com 'sha256-"), "{policy}");
    let html = page.text().await.unwrap();
    assert!(html.contains("graphiql@3.9.0/graphiql.min.js") && html.matches("integrity=\"sha384-").count() == 4);
    assert!(!html.contains("development"), "production builds only");

    let mirrored = TestApp::spawn_with(store, |s| s.graphql.graphiql_assets_url = "/static/npm".into()).await;
    let page =
        mirrored.client.get(format!("{}/graphql", mirrored.address)).header(ACCEPT, "text/html").send().await.unwrap();
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("script-src 'self' 'sha256-"));
    assert!(page.text().await.unwrap().contains(r#"src="/static/npm/react@18.3.1/umd/react.production.min.js""#));
}

async fn websocket_speaks_graphql_transport_ws(store: Store) {
    let app = TestApp::spawn(store).await;
    let mut request = format!("{}/graphql", app.address.replace("http://", "ws://")).into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.expect("the upgrade succeeds");
    assert_eq!(response.headers()["sec-websocket-protocol"], "graphql-transport-ws");

    socket.send(Message::text(json!({ "type": "connection_init" }).to_string())).await.unwrap();
    assert_eq!(read_json(&mut socket).await["type"], "connection_ack");
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ categories { name } }" } });
    socket.send(Message::text(subscribe.to_string())).await.unwrap();
    let next = read_json(&mut socket).await;
    assert_eq!(next, json!({ "id": "1", "type": "next", "payload": { "data": { "categories": [] } } }));
    assert_eq!(read_json(&mut socket).await, json!({ "id": "1", "type": "complete" }));
}

async fn read_json<S>(socket: &mut S) -> Value
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match socket.next().await.expect("a message").expect("a frame") {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

async fn health_readiness_and_graceful_shutdown(store: Store) {
    let app = TestApp::spawn(store).await;
    let health = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready = app.client.get(format!("{}/readyz", app.address)).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.json::<Value>().await.unwrap(), json!({ "status": "ready", "events": "up" }));

    let address = app.address.clone();
    let client = app.client.clone();
    app.stop().await.expect("the server stops cleanly");
    assert!(client.get(format!("{address}/healthz")).send().await.is_err(), "nothing listens after shutdown");
}

store_tests!(
    status_codes_follow_the_graphql_over_http_spec,
    get_runs_queries_and_serves_graphiql,
    websocket_speaks_graphql_transport_ws,
    health_readiness_and_graceful_shutdown,
);
