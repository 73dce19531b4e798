//! The ledger and the audit trail as the API shows them.

use async_graphql::{Enum, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{product_audit, stock_movement};

use crate::catalog::types::ProductStatus;
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

/// One change of a product's status, price or stock, written by the database itself.
#[derive(SimpleObject)]
pub struct AuditEntry {
    /// The row's position in the trail; pass it as `after` to read on.
    pub sequence: Long,
    /// Status before; null when the product was created.
    pub old_status: Option<ProductStatus>,
    /// Status after.
    pub new_status: Option<ProductStatus>,
    /// Price before, in minor units of the product's currency.
    pub old_price_minor: Option<Long>,
    /// Price after, in minor units.
    pub new_price_minor: Long,
    /// Stock before.
    pub old_stock: Option<i32>,
    /// Stock after.
    pub new_stock: i32,
    /// When.
    pub changed_at: DateTime<Utc>,
}

fn status(value: &str) -> Option<ProductStatus> {
    use sea_orm::ActiveEnum;
    entity::ProductStatus::try_from_value(&value.to_owned()).ok().map(Into::into)
}

impl From<product_audit::Model> for AuditEntry {
    fn from(row: product_audit::Model) -> Self {
        Self {
            sequence: Long(row.id),
            old_status: row.old_status.as_deref().and_then(status),
            new_status: status(&row.new_status),
            old_price_minor: row.old_price_minor.map(Long),
            new_price_minor: Long(row.new_price_minor),
            old_stock: row.old_stock,
            new_stock: row.new_stock,
            changed_at: row.changed_at,
        }
    }
}
