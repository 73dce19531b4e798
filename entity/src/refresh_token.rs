//! A refresh token, stored hashed. Tokens rotate: each use marks the token used and issues the
//! next of its family; presenting a used token again revokes the whole family.

use sea_orm::entity::prelude::*;

/// A row of `refresh_tokens`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    /// UUIDv7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The account.
    pub user_id: Uuid,
    /// Every token descending from one sign-in shares a family.
    pub family_id: Uuid,
    /// SHA-256 of the token, hex.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// When the token stops working.
    pub expires_at: DateTimeUtc,
    /// When it was issued.
    pub created_at: DateTimeUtc,
    /// When it was exchanged for the next one.
    pub used_at: Option<DateTimeUtc>,
    /// When it (or its family) was revoked.
    pub revoked_at: Option<DateTimeUtc>,
}

/// Relations of a refresh token.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
