//! The security audit log: sign-ins, failures, role changes, key issue and revocation.
//! Append-only.

use sea_orm::entity::prelude::*;

/// A row of `security_events`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "security_events")]
pub struct Model {
    /// UUIDv7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// When it happened.
    pub occurred_at: DateTimeUtc,
    /// What happened, such as `sign_in_failed`.
    pub action: String,
    /// Who did it, when known.
    pub actor_id: Option<Uuid>,
    /// What it was done to: an account's email, a key's prefix, a user id.
    pub subject: Option<String>,
    /// The client's address.
    pub ip: Option<String>,
    /// Details (never secrets), as a JSON object.
    pub detail: Json,
}

/// Relations of a security event.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
