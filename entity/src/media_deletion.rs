//! An object to delete from media storage, written in the transaction that stopped using it.

use sea_orm::entity::prelude::*;

/// A row of `media_deletions`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "media_deletions")]
pub struct Model {
    /// The object's key in media storage.
    #[sea_orm(primary_key, auto_increment = false)]
    pub object_key: String,
    /// When the object stopped being used.
    pub created_at: DateTimeUtc,
}

/// A deletion has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
