//! One version of a partner's operation manifest; never changed once registered.

use sea_orm::entity::prelude::*;

/// A row of `partner_manifests`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "partner_manifests")]
pub struct Model {
    /// UUIDv7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Whose manifest.
    pub partner_id: Uuid,
    /// 1, 2, … per partner.
    pub version: i32,
    /// How many operations it holds.
    pub operations: i32,
    /// The admin who registered it, if registered through the API.
    pub created_by: Option<Uuid>,
    /// When it was registered.
    pub created_at: DateTimeUtc,
}

/// Relations of a manifest.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
