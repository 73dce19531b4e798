//! The event outbox: changes subscribers are told about, written by database triggers in the
//! transaction that made them.

use sea_orm::entity::prelude::*;

/// A row of `events`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    /// Growing key: the event's identity and its order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `ORDER_PLACED`, `ORDER_STATUS_CHANGED`, `STOCK_CHANGED` or `AUDIT_ENTRY_ADDED`.
    pub kind: String,
    /// The order or product concerned.
    pub subject: Uuid,
    /// Details as a JSON object, by kind.
    pub detail: String,
    /// When the change was committed (the trigger's clock).
    pub created_at: DateTimeUtc,
    /// When the relay handed it to the event bus.
    pub published_at: Option<DateTimeUtc>,
}

/// Relations of an event.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
