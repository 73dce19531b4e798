//! A partner: the holder of API keys and of a safelist of operations its keys may run.

use sea_orm::entity::prelude::*;

/// A row of `partners`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "partners")]
pub struct Model {
    /// UUIDv7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Unique handle, such as `feedly`.
    #[sea_orm(unique)]
    pub slug: String,
    /// Display name.
    pub name: String,
    /// The manifest version its keys run; none runs nothing.
    pub active_manifest_id: Option<Uuid>,
    /// When it was created.
    pub created_at: DateTimeUtc,
}

/// Relations of a partner.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
