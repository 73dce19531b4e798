//! GraphQL over WebSocket (`graphql-transport-ws`, and the older `graphql-ws`), as safe as HTTP.
//!
//! - The socket's operations run with the same [`RequestContext`] as an HTTP request: the viewer
//!   comes from `connection_init` (or the upgrade request's headers), the client's address from
//!   the connection, so throttling and the audit log see sockets as they see HTTP.
//! - Browsers may only connect from an allowed `Origin` (by default the server's own); clients
//!   that send no `Origin` (servers, tools) are not browsers and are let through.
//! - Connections are capped per instance and per address; a socket that has not sent
//!   `connection_init` within the timeout is closed with 4408; a message larger than the HTTP
//!   body limit ends the connection; buffers are small, so an idle socket costs little.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_poem::{GraphQLProtocol, GraphQLWebSocket};
use futures_util::{SinkExt, StreamExt};
use poem::http::{StatusCode, header};
use poem::web::websocket::{CloseCode, Message, WebSocket, WebSocketConfig};
use poem::{FromRequest, IntoResponse, Request, Response};

use super::context::{Presented, RequestContext};
use crate::config::WebsocketSettings;
use crate::db::Db;
use crate::error::ErrorCode;
use crate::identity::service::Auth;
use crate::schema::AppSchema;

/// The close code for a socket that did not initialise in time (graphql-transport-ws).
const INIT_TIMEOUT_CLOSE: u16 = 4408;

/// Open sockets, counted for the caps.
#[derive(Debug)]
struct Slots {
    max_total: usize,
    max_per_ip: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One open socket's place; freed when dropped.
struct Slot {
    slots: Arc<Slots>,
    ip: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.slots.open.lock() {
            open.0 = open.0.saturating_sub(1);
            if let Some(ip) = self.ip
                && let Some(count) = open.1.get_mut(&ip)
            {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    open.1.remove(&ip);
                }
            }
        }
    }
}

/// Why a socket was not opened.
enum Full {
    Instance,
    Address,
}

impl Slots {
    fn take(self: &Arc<Self>, ip: Option<IpAddr>) -> Result<Slot, Full> {
        let mut open = self.open.lock().map_err(|_| Full::Instance)?;
        if open.0 >= self.max_total {
            return Err(Full::Instance);
        }
        if let Some(ip) = ip {
            let count = open.1.entry(ip).or_insert(0);
            if *count >= self.max_per_ip {
                return Err(Full::Address);
            }
            *count += 1;
        }
        open.0 += 1;
        Ok(Slot { slots: Arc::clone(self), ip })
    }
}

/// Serves WebSocket upgrades of `/graphql`.
pub struct SocketEndpoint {
    schema: AppSchema,
    db: Db,
    auth: Arc<Auth>,
    settings: WebsocketSettings,
    max_message_bytes: usize,
    slots: Arc<Slots>,
}

impl SocketEndpoint {
    /// The endpoint over a schema; messages may be at most `max_message_bytes` long.
    pub fn new(
        schema: AppSchema,
        db: Db,
        auth: Arc<Auth>,
        settings: &WebsocketSettings,
        max_message_bytes: usize,
    ) -> Self {
        let slots = Arc::new(Slots {
            max_total: settings.max_connections,
            max_per_ip: settings.max_connections_per_ip,
            open: Mutex::new((0, HashMap::new())),
        });
        Self { schema, db, auth, settings: settings.clone(), max_message_bytes, slots }
    }

    /// Checks the origin and the caps, then upgrades.
    pub async fn upgrade(&self, req: Request) -> Response {
        if !origin_allowed(&req, &self.settings.allowed_origins) {
            return refuse(StatusCode::FORBIDDEN, ErrorCode::Forbidden, "this origin may not open a socket");
        }
        let ip = req.remote_addr().as_socket_addr().map(std::net::SocketAddr::ip);
        let slot = match self.slots.take(ip) {
            Ok(slot) => slot,
            Err(Full::Instance) => {
                return refuse(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Throttled, "too many open sockets");
            }
            Err(Full::Address) => {
                return refuse(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::Throttled,
                    "too many sockets from this address",
                );
            }
        };
        let (req, mut body) = req.split();
        let (protocol, socket) = match (
            GraphQLProtocol::from_request(&req, &mut body).await,
            WebSocket::from_request(&req, &mut body).await,
        ) {
            (Ok(protocol), Ok(socket)) => (protocol, socket),
            (Err(error), _) | (_, Err(error)) => return error.into_response(),
        };
        let config = WebSocketConfig::default()
            .read_buffer_size(4 * 1024)
            .write_buffer_size(4 * 1024)
            .max_write_buffer_size(1024 * 1024)
            .max_message_size(Some(self.max_message_bytes))
            .max_frame_size(Some(self.max_message_bytes));
        let conversation = Conversation {
            schema: self.schema.clone(),
            db: self.db.clone(),
            auth: Arc::clone(&self.auth),
            client: RequestContext::client_of(&req),
            presented: Presented::from_headers(&req),
            protocol,
            init_timeout: Duration::from_millis(self.settings.init_timeout_ms),
        };
        socket
            .protocols(ALL_WEBSOCKET_PROTOCOLS)
            .config(config)
            .on_upgrade(move |stream| async move {
                let _slot = slot;
                conversation.run(stream).await;
            })
            .into_response()
    }
}

/// What one socket needs once upgraded.
struct Conversation {
    schema: AppSchema,
    db: Db,
    auth: Arc<Auth>,
    client: crate::identity::viewer::ClientInfo,
    presented: Presented,
    protocol: GraphQLProtocol,
    init_timeout: Duration,
}

impl Conversation {
    async fn run(self, stream: poem::web::websocket::WebSocketStream) {
        let Self { schema, db, auth, client, presented, protocol, init_timeout } = self;
        let (mut to_client, from_client) = stream.split();
        // Everything for the client goes through one queue, so the init timeout can close the
        // socket with its own code while the protocol handler owns the other end.
        let (outgoing, mut queued) = futures_channel::mpsc::channel::<Message>(16);
        let initialised = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&initialised);
        let session = GraphQLWebSocket::new_with_pair(outgoing.clone(), from_client, schema, protocol)
            .on_connection_init(move |payload| async move {
                let presented = presented.with_payload(&payload);
                let context = RequestContext::build(&db, &auth, client, presented)
                    .await
                    .map_err(|error| async_graphql::Error::new(error.message()))?;
                flag.store(true, Ordering::Release);
                Ok(context.into_data())
            })
            .serve();
        let deadline = async {
            tokio::time::sleep(init_timeout).await;
            if initialised.load(Ordering::Acquire) {
                std::future::pending::<()>().await;
            }
        };
        let mut closer = outgoing;
        let protocol_side = async move {
            tokio::select! {
                () = session => {}
                () = deadline => {
                    let close = (CloseCode::from(INIT_TIMEOUT_CLOSE), "Connection initialisation timeout".to_owned());
                    let _ = closer.send(Message::Close(Some(close))).await;
                }
            }
        };
        let writer = async move {
            while let Some(message) = queued.next().await {
                let closing = matches!(message, Message::Close(_));
                if to_client.send(message).await.is_err() || closing {
                    break;
                }
            }
            let _ = to_client.close().await;
        };
        tokio::join!(protocol_side, writer);
    }
}

/// Whether a browser at the request's `Origin` may open a socket: no `Origin` (not a browser),
/// an origin on the list, or with an empty list the server's own host.
fn origin_allowed(req: &Request, allowed: &[String]) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN).map(|v| v.to_str().unwrap_or_default()) else {
        return true;
    };
    if !allowed.is_empty() {
        return allowed.iter().any(|a| a == "*" || a.eq_ignore_ascii_case(origin));
    }
    let host = req.headers().get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

fn refuse(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    super::graphql::request_error(status, code, message, super::graphql::JSON)
}
