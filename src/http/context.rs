//! The one request context: who is calling and from where, built the same way for an HTTP
//! request and for a WebSocket's `connection_init`, and attached to every operation they run.

use poem::Request;
use poem::http::header;
use serde_json::Value;

use super::proxies::client_ip;
use crate::cart::{CART_TOKEN_HEADER, CartToken};
use crate::db::Db;
use crate::error::AppResult;
use crate::graphql::persisted::Allowed;
use crate::identity::authenticate;
use crate::identity::graphql::{REFRESH_COOKIE, RefreshCookie};
use crate::identity::service::Auth;
use crate::identity::viewer::{ClientInfo, Viewer};

/// Longest cart token looked at.
const MAX_CART_TOKEN_CHARS: usize = 128;

/// Everything an operation knows about its caller.
#[derive(Clone, Debug, Default)]
pub struct RequestContext {
    /// Who is calling.
    pub viewer: Viewer,
    /// From where.
    pub client: ClientInfo,
    /// A guest's cart token, if sent.
    pub cart_token: Option<CartToken>,
    /// The refresh token cookie, if sent.
    pub refresh_cookie: Option<RefreshCookie>,
    /// When the credential stops being valid (an access token's expiry).
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The credential and tokens a caller presented, from headers or a `connection_init` payload.
#[derive(Clone, Debug, Default)]
pub struct Presented {
    /// `Bearer <access token>`.
    pub authorization: Option<String>,
    /// A partner key.
    pub api_key: Option<String>,
    /// A guest cart token.
    pub cart_token: Option<String>,
    /// The refresh token cookie.
    pub refresh_cookie: Option<String>,
}

impl Presented {
    /// What the request's headers carry.
    pub fn from_headers(req: &Request) -> Self {
        let header = |name: &str| req.headers().get(name).map(|v| v.to_str().unwrap_or_default().to_owned());
        Self {
            authorization: header(header::AUTHORIZATION.as_str()),
            api_key: header("x-api-key"),
            cart_token: header(CART_TOKEN_HEADER),
            refresh_cookie: cookie(req, REFRESH_COOKIE),
        }
    }

    /// What a `connection_init` payload carries, over what the upgrade request's headers did:
    /// `{"Authorization": "Bearer …"}` (or `authorization`), `{"accessToken": "…"}`,
    /// `{"apiKey": "…"}` (or `x-api-key`), `{"cartToken": "…"}` (or `x-cart-token`).
    #[must_use]
    pub fn with_payload(mut self, payload: &Value) -> Self {
        let field = |names: &[&str]| {
            names.iter().find_map(|name| payload.get(*name).and_then(Value::as_str)).map(str::to_owned)
        };
        if let Some(authorization) = field(&["Authorization", "authorization"]) {
            self.authorization = Some(authorization);
        } else if let Some(token) = field(&["accessToken"]) {
            self.authorization = Some(format!("Bearer {token}"));
        }
        if let Some(key) = field(&["apiKey", "x-api-key", "X-Api-Key"]) {
            self.api_key = Some(key);
        }
        if let Some(token) = field(&["cartToken", CART_TOKEN_HEADER]) {
            self.cart_token = Some(token);
        }
        self
    }
}

impl RequestContext {
    /// Builds the context: resolves the viewer (see [`authenticate::viewer`]) and keeps the
    /// client's address, cart token and refresh cookie.
    ///
    /// # Errors
    /// `UNAUTHENTICATED` for a credential that is not valid.
    pub async fn build(db: &Db, auth: &Auth, client: ClientInfo, presented: Presented) -> AppResult<Self> {
        let (viewer, expires_at) =
            authenticate::caller(db, auth, presented.authorization.as_deref(), presented.api_key.as_deref()).await?;
        let cart_token =
            presented.cart_token.filter(|t| !t.is_empty() && t.chars().count() <= MAX_CART_TOKEN_CHARS).map(CartToken);
        let refresh_cookie = presented.refresh_cookie.map(RefreshCookie);
        Ok(Self { viewer, client, cart_token, refresh_cookie, expires_at })
    }

    /// The client of `req`: its peer, or whom a trusted proxy forwarded for (see
    /// [`super::proxies::TrustedProxies`]).
    pub fn client_of(req: &Request) -> ClientInfo {
        ClientInfo { ip: client_ip(req).map(|ip| ip.to_string()) }
    }

    /// Which documents the caller may run: a partner, only its manifest's operations.
    pub fn allowed(&self) -> Allowed {
        match &self.viewer {
            Viewer::Partner { manifest, .. } => Allowed::Manifest(*manifest),
            _ => Allowed::Any,
        }
    }

    /// Attaches the context to a GraphQL request.
    pub fn attach(self, mut request: async_graphql::Request) -> async_graphql::Request {
        request = request.data(self.viewer).data(self.client);
        if let Some(token) = self.cart_token {
            request = request.data(token);
        }
        if let Some(cookie) = self.refresh_cookie {
            request = request.data(cookie);
        }
        request
    }
}

/// The value of a request cookie.
fn cookie(req: &Request, name: &str) -> Option<String> {
    req.headers().get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(
        |pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name && !value.is_empty()).then(|| value.to_owned())
        },
    )
}
