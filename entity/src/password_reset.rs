//! A password-reset token, stored hashed, single-use and short-lived.

use sea_orm::entity::prelude::*;

/// A row of `password_resets`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "password_resets")]
pub struct Model {
    /// UUIDv7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The account.
    pub user_id: Uuid,
    /// SHA-256 of the token, hex.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// When the token stops working.
    pub expires_at: DateTimeUtc,
    /// When it was issued.
    pub created_at: DateTimeUtc,
    /// When it was used; a used token never works again.
    pub used_at: Option<DateTimeUtc>,
}

/// Relations of a password reset.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
