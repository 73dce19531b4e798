//! GraphQL over WebSocket (`graphql-transport-ws`, see [`super::transport_ws`]), as safe as HTTP.
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
use std::sync::{Arc, Mutex};
use std::time::Duration;

use poem::http::{StatusCode, header};
use poem::web::websocket::{WebSocket, WebSocketConfig};
use poem::{FromRequest, IntoResponse, Request, Response};

use super::context::{Presented, RequestContext};
use super::proxies::client_ip;
use super::transport_ws::Conversation;
use crate::config::WebsocketSettings;
use crate::db::Db;
use crate::error::ErrorCode;
use crate::graphql::persisted::PersistedQueries;
use crate::identity::service::Auth;
use crate::schema::AppSchema;

/// The subprotocol spoken.
const PROTOCOL: &str = "graphql-transport-ws";

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
    persisted: Arc<PersistedQueries>,
}

impl SocketEndpoint {
    /// The endpoint over a schema; messages may be at most `max_message_bytes` long.
    pub fn new(
        schema: AppSchema,
        db: Db,
        auth: Arc<Auth>,
        settings: &WebsocketSettings,
        max_message_bytes: usize,
        persisted: Arc<PersistedQueries>,
    ) -> Self {
        let slots = Arc::new(Slots {
            max_total: settings.max_connections,
            max_per_ip: settings.max_connections_per_ip,
            open: Mutex::new((0, HashMap::new())),
        });
        Self { schema, db, auth, settings: settings.clone(), max_message_bytes, slots, persisted }
    }

    /// Checks the origin and the caps, then upgrades.
    pub async fn upgrade(&self, req: Request) -> Response {
        if !origin_allowed(&req, &self.settings.allowed_origins) {
            return refuse(StatusCode::FORBIDDEN, ErrorCode::Forbidden, "this origin may not open a socket");
        }
        let ip = client_ip(&req);
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
        let speaks = req
            .headers()
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|p| p.trim() == PROTOCOL);
        if !speaks {
            return refuse(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                "this endpoint speaks the graphql-transport-ws subprotocol only",
            );
        }
        let (req, mut body) = req.split();
        let socket = match WebSocket::from_request(&req, &mut body).await {
            Ok(socket) => socket,
            Err(error) => return error.into_response(),
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
            persisted: Arc::clone(&self.persisted),
            client: RequestContext::client_of(&req),
            presented: Presented::from_headers(&req),
            init_timeout: Duration::from_millis(self.settings.init_timeout_ms),
            max_operations: self.settings.max_operations_per_connection,
            session_check: Duration::from_secs(self.settings.session_check_seconds.max(1)),
        };
        socket
            .protocols([PROTOCOL])
            .config(config)
            .on_upgrade(move |stream| async move {
                let _slot = slot;
                conversation.run(stream).await;
            })
            .into_response()
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
