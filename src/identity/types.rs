//! GraphQL types of identity.

use async_graphql::{Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{api_key, security_event, user};

use super::guards::{AllowIf, IsUser, Require};
use super::viewer::Permission;
use crate::graphql::ids::{GlobalId, NodeType};

/// What an account is; permissions follow from it (see docs/SECURITY.md).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::Role")]
pub enum Role {
    /// A shopper.
    Customer,
    /// Works for one vendor.
    Vendor,
    /// Marketplace staff.
    Staff,
    /// Marketplace administrator.
    Admin,
}

/// An account.
pub struct User {
    /// The stored row.
    pub model: user::Model,
    /// The account was just authenticated by this very request (sign-in, registration), so the
    /// caller is its owner even though the request carried no token.
    pub authenticated_here: bool,
}

impl From<user::Model> for User {
    fn from(model: user::Model) -> Self {
        Self { model, authenticated_here: false }
    }
}

/// An account: a shopper, a vendor's staff member, or the marketplace's staff.
#[Object]
impl User {
    /// The account's opaque global ID.
    pub async fn id(&self) -> ID {
        GlobalId::encode(NodeType::User, self.model.id)
    }

    /// Name shown in the interface.
    async fn display_name(&self) -> &str {
        &self.model.display_name
    }

    /// The account's role.
    async fn role(&self) -> Role {
        self.model.role.into()
    }

    /// The vendor a VENDOR account works for.
    async fn vendor_id(&self) -> Option<ID> {
        self.model.vendor_id.map(|id| GlobalId::encode(NodeType::Vendor, id))
    }

    /// The sign-in email. Visible to the account itself and to staff; for anyone else the field
    /// is null with a `FORBIDDEN` error, and the rest of the response is intact.
    #[graphql(
        guard = "AllowIf(self.authenticated_here).or(IsUser::new(self.model.id)).or(Require::new(Permission::UsersRead))"
    )]
    async fn email(&self) -> Option<&str> {
        Some(&self.model.email)
    }

    /// When the account was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }
}

/// The result of signing in, registering or refreshing.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// Bearer token for the `Authorization` header; short-lived.
    pub access_token: String,
    /// When the access token expires.
    pub access_token_expires_at: DateTime<Utc>,
    /// Exchange it with `refreshSession` for a new pair; single use. Null when it was set as an
    /// HttpOnly cookie instead.
    pub refresh_token: Option<String>,
    /// The signed-in account.
    pub user: User,
}

/// A partner API key, as listed (never the key itself).
pub struct ApiKey(pub api_key::Model);

/// A partner API key. The key itself is shown once, when issued.
#[Object]
impl ApiKey {
    /// The key's opaque global ID.
    async fn id(&self) -> ID {
        GlobalId::encode(NodeType::ApiKey, self.0.id)
    }

    /// What the key is for, such as `production`.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The key's first characters, to recognise it.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }

    /// Granted scopes.
    async fn scopes(&self) -> Vec<String> {
        serde_json::from_value(self.0.scopes.clone()).unwrap_or_default()
    }

    /// When it was issued.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When it last authenticated a request, to the minute.
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }

    /// When it was revoked.
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
}

/// A newly issued key.
#[derive(SimpleObject)]
pub struct IssuedApiKey {
    /// The key, shown this once: store it now. Send it as `X-Api-Key`.
    pub key: String,
    /// The key's record.
    pub api_key: ApiKey,
}

/// An entry of the security audit log.
#[derive(SimpleObject)]
pub struct SecurityEvent {
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// What happened, such as `sign_in_failed`.
    pub action: String,
    /// The account that acted, when known.
    pub actor_id: Option<ID>,
    /// What it was done to: an email, a key prefix, an account id.
    pub subject: Option<String>,
    /// The client's address.
    pub ip: Option<String>,
    /// Details, as a JSON object.
    pub detail: async_graphql::Json<serde_json::Value>,
}

impl From<security_event::Model> for SecurityEvent {
    fn from(event: security_event::Model) -> Self {
        Self {
            occurred_at: event.occurred_at,
            action: event.action,
            actor_id: event.actor_id.map(|id| GlobalId::encode(NodeType::User, id)),
            subject: event.subject,
            ip: event.ip,
            detail: async_graphql::Json(event.detail),
        }
    }
}
