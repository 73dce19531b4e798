//! An account: a customer, a vendor's staff member, or the marketplace's staff.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// What an account is. Permissions follow from the role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Role {
    /// A shopper.
    #[sea_orm(string_value = "CUSTOMER")]
    Customer,
    /// Works for one vendor (`vendor_id`).
    #[sea_orm(string_value = "VENDOR")]
    Vendor,
    /// Marketplace staff.
    #[sea_orm(string_value = "STAFF")]
    Staff,
    /// Marketplace administrator.
    #[sea_orm(string_value = "ADMIN")]
    Admin,
}

/// A row of `users`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// UUIDv7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Normalised (trimmed, lowercase) email address, unique.
    #[sea_orm(unique)]
    pub email: String,
    /// Argon2id hash in PHC string format.
    pub password_hash: String,
    /// The account's role.
    pub role: Role,
    /// The vendor a VENDOR works for; `None` for every other role.
    pub vendor_id: Option<Uuid>,
    /// Name shown in the interface.
    pub display_name: String,
    /// Bumped when the role or the password changes; access tokens issued under an older version
    /// are refused.
    pub session_version: i32,
    /// When the account was created.
    pub created_at: DateTimeUtc,
    /// When the account was last changed.
    pub updated_at: DateTimeUtc,
}

/// Relations of a user.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
