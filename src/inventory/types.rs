//! The ledger as the API shows it.

use async_graphql::{Enum, SimpleObject};
use chrono::{DateTime, Utc};
use entity::stock_movement;

use crate::graphql::scalars::Long;

/// Why stock moved.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::MovementReason")]
pub enum MovementReason {
    /// Units left with an order.
    Sale,
    /// An order was cancelled or expired unpaid, and its units came back.
    Cancel,
    /// An order was refunded, and its units came back.
    Refund,
    /// New units arrived (including a product's opening stock).
    Restock,
    /// A manual correction.
    Adjustment,
}

/// One row of the inventory ledger. Rows are never edited: a reversal is a new row.
#[derive(SimpleObject)]
pub struct StockMovement {
    /// The row's position in the ledger; pass it as `after` to read on.
    pub sequence: Long,
    /// Units added (positive) or removed (negative).
    pub delta: i32,
    /// Stock after the movement.
    pub stock_after: i32,
    /// Why.
    pub reason: MovementReason,
    /// The order's global ID, when an order caused it.
    pub order_id: Option<async_graphql::ID>,
    /// The account's global ID, when a person caused it.
    pub actor_id: Option<async_graphql::ID>,
    /// A free-form note.
    pub note: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl From<stock_movement::Model> for StockMovement {
    fn from(row: stock_movement::Model) -> Self {
        use crate::graphql::ids::{GlobalId, NodeType};
        Self {
            sequence: Long(row.id),
            delta: row.delta,
            stock_after: row.stock_after,
            reason: row.reason.into(),
            order_id: row.order_id.map(|id| GlobalId::encode(NodeType::Order, id)),
            actor_id: row.actor_id.map(|id| GlobalId::encode(NodeType::User, id)),
            note: row.note,
            created_at: row.created_at,
        }
    }
}
