//! The inventory ledger: every change of a product's stock, with its reason. Append-only.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Why stock moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum MovementReason {
    /// Units left with an order.
    #[sea_orm(string_value = "SALE")]
    Sale,
    /// An order was cancelled (or expired unpaid) and its units came back.
    #[sea_orm(string_value = "CANCEL")]
    Cancel,
    /// An order was refunded and its units came back.
    #[sea_orm(string_value = "REFUND")]
    Refund,
    /// New units arrived (including a product's opening stock).
    #[sea_orm(string_value = "RESTOCK")]
    Restock,
    /// A manual correction.
    #[sea_orm(string_value = "ADJUSTMENT")]
    Adjustment,
}

/// A row of `stock_movements`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stock_movements")]
pub struct Model {
    /// Growing key: the ledger's order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The product.
    pub product_id: Uuid,
    /// Units added (positive) or removed (negative).
    pub delta: i32,
    /// Stock after the movement.
    pub stock_after: i32,
    /// Why.
    pub reason: MovementReason,
    /// The order that caused it, if any.
    pub order_id: Option<Uuid>,
    /// The account that caused it, if any.
    pub actor_id: Option<Uuid>,
    /// A free-form note.
    pub note: String,
    /// When.
    pub created_at: DateTimeUtc,
}

/// Relations of a stock movement.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
