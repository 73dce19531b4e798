//! A phrase staff keep out of type-ahead suggestions.

use sea_orm::entity::prelude::*;

/// A row of `search_suggestion_blocks`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "search_suggestion_blocks")]
pub struct Model {
    /// The normalised phrase; a suggestion containing it is never shown.
    #[sea_orm(primary_key, auto_increment = false)]
    pub phrase: String,
    /// The staff account that blocked it.
    pub blocked_by: Option<Uuid>,
    /// When.
    pub blocked_at: DateTimeUtc,
}

/// Relations of a block.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
