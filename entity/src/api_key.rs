//! A partner API key, stored hashed; shown in full once, when issued.

use sea_orm::entity::prelude::*;

/// A row of `api_keys`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    /// UUIDv7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The partner's name.
    pub name: String,
    /// The key's first characters, to recognise it in lists and logs.
    #[sea_orm(unique)]
    pub prefix: String,
    /// SHA-256 of the whole key, hex.
    #[sea_orm(unique)]
    pub key_hash: String,
    /// Scopes granted, as a JSON array of strings.
    pub scopes: Json,
    /// The admin who issued it.
    pub created_by: Option<Uuid>,
    /// When it was issued.
    pub created_at: DateTimeUtc,
    /// When it last authenticated a request, to the minute.
    pub last_used_at: Option<DateTimeUtc>,
    /// When it was revoked; a revoked key never works again.
    pub revoked_at: Option<DateTimeUtc>,
}

/// Relations of an API key.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
