//! A partner API key, stored hashed; shown in full once, when issued.

use sea_orm::entity::prelude::*;

/// A row of `api_keys`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    /// UUIDv7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// What the key is for, such as `production`.
    pub name: String,
    /// The partner holding it.
    pub partner_id: Option<Uuid>,
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
pub enum Relation {
    /// The partner holding the key.
    #[sea_orm(belongs_to = "super::partner::Entity", from = "Column::PartnerId", to = "super::partner::Column::Id")]
    Partner,
}

impl Related<super::partner::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Partner.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
