//! Products waiting for the vector index to catch up, queued by database triggers in the
//! transaction that changed them.

use sea_orm::entity::prelude::*;

/// A row of `search_outbox`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "search_outbox")]
pub struct Model {
    /// Growing key: the queue's order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The product that changed (it may since have been deleted).
    pub product_id: Uuid,
    /// When it was queued.
    pub enqueued_at: DateTimeUtc,
}

/// Relations of an outbox row.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
