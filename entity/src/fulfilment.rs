//! One vendor's part of an order, shipped by that vendor.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Where a vendor's part of an order is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum FulfilmentStatus {
    /// Waiting for the vendor to ship.
    #[sea_orm(string_value = "PENDING")]
    Pending,
    /// Shipped.
    #[sea_orm(string_value = "FULFILLED")]
    Fulfilled,
    /// The order was cancelled or refunded before shipping.
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
}

/// A row of `fulfilments`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "fulfilments")]
pub struct Model {
    /// UUIDv7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The order.
    pub order_id: Uuid,
    /// The vendor who ships it.
    pub vendor_id: Uuid,
    /// Shipping state.
    pub status: FulfilmentStatus,
    /// The carrier's tracking number.
    pub tracking_number: Option<String>,
    /// When it was shipped.
    pub fulfilled_at: Option<DateTimeUtc>,
    /// When it was created with the order.
    pub created_at: DateTimeUtc,
}

/// Relations of a fulfilment.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
