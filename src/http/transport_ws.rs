//! The `graphql-transport-ws` protocol, as its specification says, over one upgraded socket.
//!
//! - `connection_init` builds the [`RequestContext`] (as an HTTP request does); a credential
//!   that is not valid closes with 4403, a second `connection_init` with 4429, none within the
//!   timeout with 4408.
//! - `subscribe` before `connection_ack` closes with 4401, an id already running with 4409; a
//!   message that is not one of the protocol's closes with 4400.
//! - An operation refused before it ran (unparsable, invalid against the schema, too deep, too
//!   complex) is answered with `error` and its GraphQL errors; otherwise `next` for each result
//!   (errors of its fields included) and `complete` at the end.
//! - The context is checked again every `websocket.session_check_seconds` and when the access token expires: a
//!   session that ended (token expired, account demoted or deleted) closes with 4403, so no
//!   stream outlives the session it was opened under.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use poem::web::websocket::{CloseCode, Message, WebSocketStream};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::context::{Presented, RequestContext};
use crate::db::Db;
use crate::error::{AppError, ErrorCode};
use crate::graphql::errors::refused_before_execution;
use crate::graphql::persisted::PersistedQueries;
use crate::identity::service::Auth;
use crate::identity::viewer::ClientInfo;
use crate::schema::AppSchema;

/// Close codes of the protocol.
mod close {
    pub const BAD_MESSAGE: u16 = 4400;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const INIT_TIMEOUT: u16 = 4408;
    pub const DUPLICATE_ID: u16 = 4409;
    pub const TOO_MANY_INITS: u16 = 4429;
}

/// What a client may send.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Ping {
        #[serde(default)]
        payload: Option<Value>,
    },
    Pong {
        #[serde(default, rename = "payload")]
        _payload: Option<Value>,
    },
    Subscribe {
        id: String,
        payload: Operation,
    },
    Complete {
        id: String,
    },
}

/// A `subscribe` message's operation: a document, or a persisted one by `documentId` or the
/// `persistedQuery` extension, as over HTTP.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Operation {
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    document_id: Option<String>,
    #[serde(default)]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<Value>,
    #[serde(default)]
    extensions: Option<serde_json::Map<String, Value>>,
}

/// What an operation's task reports.
enum Report {
    Next(String, async_graphql::Response),
    Error(String, Vec<async_graphql::ServerError>),
    Complete(String),
}

/// Everything a conversation needs.
pub struct Conversation {
    /// The schema operations run on.
    pub schema: AppSchema,
    /// The store, for the viewer.
    pub db: Db,
    /// Tokens and accounts.
    pub auth: std::sync::Arc<Auth>,
    /// Persisted queries and partners' manifests.
    pub persisted: std::sync::Arc<PersistedQueries>,
    /// The peer's address.
    pub client: ClientInfo,
    /// What the upgrade request's headers carried.
    pub presented: Presented,
    /// Time allowed before `connection_init`.
    pub init_timeout: Duration,
    /// Operations one socket may run at once.
    pub max_operations: usize,
    /// Time between checks that the session is still valid.
    pub session_check: Duration,
}

/// A conversation's running operations; aborted when it ends.
#[derive(Default)]
struct Operations(HashMap<String, JoinHandle<()>>);

/// Messages written before one flush, at most.
const BATCH: usize = 64;

/// A server message, serialised in one pass.
#[derive(Serialize)]
struct Outgoing<'a, P: Serialize> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<&'a P>,
}

impl Operations {
    /// The message of a report of a running operation, forgetting the operation when the report
    /// ends it; `None` when the client completed the operation meanwhile.
    fn outgoing(&mut self, report: Report) -> Option<String> {
        let (Report::Next(id, _) | Report::Error(id, _) | Report::Complete(id)) = &report;
        if !self.0.contains_key(id) {
            return None;
        }
        let text = match &report {
            Report::Next(_, response) => serde_json::to_string(&Outgoing { id, kind: "next", payload: Some(response) }),
            Report::Error(_, errors) => serde_json::to_string(&Outgoing { id, kind: "error", payload: Some(errors) }),
            Report::Complete(_) => serde_json::to_string(&Outgoing::<()> { id, kind: "complete", payload: None }),
        };
        if !matches!(report, Report::Next(..)) {
            self.0.remove(id);
        }
        text.inspect_err(|error| tracing::error!(%error, "cannot serialise a socket message")).ok()
    }
}

impl Drop for Operations {
    fn drop(&mut self) {
        self.0.values().for_each(JoinHandle::abort);
    }
}

impl Conversation {
    /// Runs the protocol until either side closes.
    pub async fn run(self, stream: WebSocketStream) {
        let (mut sink, mut source) = stream.split();
        let (reports, mut reported) = mpsc::channel::<Report>(64);
        let mut session: Option<(Presented, RequestContext)> = None;
        let mut initialising = false;
        let mut operations = Operations::default();
        let init_deadline = tokio::time::sleep(self.init_timeout);
        tokio::pin!(init_deadline);
        let mut revalidate = tokio::time::interval(self.session_check);
        revalidate.tick().await;
        let closing = loop {
            let expiry = session.as_ref().and_then(|(_, c)| c.expires_at).map(until);
            tokio::select! {
                () = &mut init_deadline, if session.is_none() => {
                    break Some((close::INIT_TIMEOUT, "Connection initialisation timeout"));
                }
                () = sleep_for(expiry), if expiry.is_some() => {
                    break Some((close::FORBIDDEN, "Forbidden: the access token expired"));
                }
                _ = revalidate.tick(), if session.is_some() => {
                    if let Some((presented, _)) = &session {
                        let checked = RequestContext::build(&self.db, &self.auth, self.client.clone(), presented.clone()).await;
                        match checked {
                            Ok(context) => session = Some((presented.clone(), context)),
                            Err(_) => break Some((close::FORBIDDEN, "Forbidden: the session ended")),
                        }
                    }
                }
                Some(report) = reported.recv() => {
                    // Whatever else is ready goes out with it, flushed once: a burst of events
                    // costs one write, not one per message.
                    let (mut ready, mut sent, mut written) = (Some(report), Ok(()), 0);
                    while let Some(report) = ready.take() {
                        if let Some(text) = operations.outgoing(report) {
                            sent = sink.feed(Message::Text(text)).await;
                            if sent.is_err() {
                                break;
                            }
                        }
                        written += 1;
                        if written < BATCH {
                            ready = reported.try_recv().ok();
                        }
                    }
                    if sent.is_err() || sink.flush().await.is_err() {
                        break None;
                    }
                }
                incoming = source.next() => {
                    let text = match incoming {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Binary(_))) => break Some((close::BAD_MESSAGE, "Invalid message received")),
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                        Some(Ok(Message::Close(_)) | Err(_)) | None => break None,
                    };
                    let Ok(message) = serde_json::from_str::<ClientMessage>(&text) else {
                        break Some((close::BAD_MESSAGE, "Invalid message received"));
                    };
                    match message {
                        ClientMessage::ConnectionInit { payload } => {
                            if initialising {
                                break Some((close::TOO_MANY_INITS, "Too many initialisation requests"));
                            }
                            initialising = true;
                            let presented = self.presented.clone().with_payload(&payload.unwrap_or_default());
                            match RequestContext::build(&self.db, &self.auth, self.client.clone(), presented.clone()).await {
                                Ok(context) => session = Some((presented, context)),
                                Err(_) => break Some((close::FORBIDDEN, "Forbidden")),
                            }
                            let ack = json!({ "type": "connection_ack" }).to_string();
                            if sink.send(Message::Text(ack)).await.is_err() {
                                break None;
                            }
                        }
                        ClientMessage::Ping { payload } => {
                            let pong = json!({ "type": "pong", "payload": payload }).to_string();
                            if sink.send(Message::Text(pong)).await.is_err() {
                                break None;
                            }
                        }
                        ClientMessage::Pong { .. } => {}
                        ClientMessage::Subscribe { id, payload } => {
                            let Some((_, context)) = &session else {
                                break Some((close::UNAUTHORIZED, "Unauthorized"));
                            };
                            if operations.0.contains_key(&id) {
                                break Some((close::DUPLICATE_ID, "Subscriber for this id already exists"));
                            }
                            if operations.0.len() >= self.max_operations {
                                let error = AppError::new(
                                    ErrorCode::Throttled,
                                    "too many operations on this socket; complete one first",
                                );
                                let errors = vec![async_graphql::Error::from(error).into_server_error(Default::default())];
                                let message = json!({ "id": id, "type": "error", "payload": errors }).to_string();
                                if sink.send(Message::Text(message)).await.is_err() {
                                    break None;
                                }
                                continue;
                            }
                            let run = Run { schema: self.schema.clone(), persisted: self.persisted.clone(), context: context.clone() };
                            let task = tokio::spawn(run.execute(id.clone(), payload, reports.clone()));
                            operations.0.insert(id, task);
                        }
                        ClientMessage::Complete { id } => {
                            if let Some(task) = operations.0.remove(&id) {
                                task.abort();
                            }
                        }
                    }
                }
            }
        };
        drop(operations);
        if let Some((code, reason)) = closing {
            let _ = sink.send(Message::Close(Some((CloseCode::from(code), reason.to_owned())))).await;
        }
        let _ = sink.close().await;
    }
}

/// What one operation runs with.
struct Run {
    schema: AppSchema,
    persisted: std::sync::Arc<PersistedQueries>,
    context: RequestContext,
}

impl Run {
    /// Runs one operation and reports its results.
    async fn execute(self, id: String, mut operation: Operation, reports: mpsc::Sender<Report>) {
        let document = self
            .persisted
            .document(self.context.allowed(), operation.query, operation.document_id, operation.extensions.as_mut())
            .await;
        let document = match document {
            Ok(Some(document)) => document,
            Ok(None) => return refuse(&reports, id, ErrorCode::BadRequest, "the operation has no `query`").await,
            Err(refusal) => return refuse(&reports, id, refusal.code, &refusal.message).await,
        };
        let (mut request, mut registering) = document.into_request();
        if let Some(name) = operation.operation_name {
            request = request.operation_name(name);
        }
        if let Some(variables) = operation.variables {
            request = request.variables(async_graphql::Variables::from_json(variables));
        }
        let mut results = self.schema.execute_stream(self.context.attach(request));
        let mut first = true;
        while let Some(response) = results.next().await {
            let refused = first && !response.errors.is_empty() && response.errors.iter().all(refused_before_execution);
            first = false;
            if let Some(registering) = registering.take() {
                self.persisted.keep_if_it_ran(registering, &response).await;
            }
            let report =
                if refused { Report::Error(id.clone(), response.errors) } else { Report::Next(id.clone(), response) };
            let done = matches!(report, Report::Error(..));
            if reports.send(report).await.is_err() || done {
                return;
            }
        }
        let _ = reports.send(Report::Complete(id)).await;
    }
}

/// Reports an operation refused before it ran.
async fn refuse(reports: &mpsc::Sender<Report>, id: String, code: ErrorCode, message: &str) {
    let error = async_graphql::Error::from(AppError::new(code, message)).into_server_error(Default::default());
    let _ = reports.send(Report::Error(id, vec![error])).await;
}

/// The time left until `at`.
fn until(at: chrono::DateTime<chrono::Utc>) -> Duration {
    (at - chrono::Utc::now()).to_std().unwrap_or(Duration::ZERO)
}

async fn sleep_for(duration: Option<Duration>) {
    match duration {
        Some(duration) => tokio::time::sleep(duration).await,
        None => std::future::pending().await,
    }
}
