//! An order placed from a cart, in one currency, with its shipping address.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Where an order is in its life cycle. Only the transitions of `OrderStatus::can_become` exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
pub enum OrderStatus {
    /// Placed; stock is held until it is paid or expires.
    #[sea_orm(string_value = "PENDING_PAYMENT")]
    PendingPayment,
    /// Paid; the vendors may ship.
    #[sea_orm(string_value = "PAID")]
    Paid,
    /// Every vendor has shipped its part.
    #[sea_orm(string_value = "FULFILLED")]
    Fulfilled,
    /// Delivered and closed.
    #[sea_orm(string_value = "COMPLETED")]
    Completed,
    /// Cancelled before fulfilment; stock returned.
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
    /// Paid back; stock returned.
    #[sea_orm(string_value = "REFUNDED")]
    Refunded,
}

impl OrderStatus {
    /// Whether an order in this state may move to `next`.
    pub fn can_become(self, next: Self) -> bool {
        use OrderStatus::*;
        matches!(
            (self, next),
            (PendingPayment, Paid | Cancelled)
                | (Paid, Fulfilled | Cancelled | Refunded)
                | (Fulfilled, Completed | Refunded)
                | (Completed, Refunded)
        )
    }
}

/// A row of `orders`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    /// UUIDv7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The customer; `None` for a guest order.
    pub user_id: Option<Uuid>,
    /// The cart it was placed from.
    pub cart_id: Uuid,
    /// The client's idempotency key for the checkout.
    pub idempotency_key: String,
    /// SHA-256 (hex) of the checkout input, to tell a retry from a different request.
    pub request_hash: String,
    /// Life-cycle state.
    pub status: OrderStatus,
    /// ISO 4217 code of every amount of the order.
    pub currency: String,
    /// Sum of the lines before tax.
    pub subtotal_minor: i64,
    /// Tax on the lines.
    pub tax_minor: i64,
    /// What the customer pays.
    pub total_minor: i64,
    /// Where order messages go.
    pub email: String,
    /// Recipient's name.
    pub ship_name: String,
    /// Street address.
    pub ship_line1: String,
    /// More of the street address.
    pub ship_line2: Option<String>,
    /// City.
    pub ship_city: String,
    /// Region, state or province.
    pub ship_region: Option<String>,
    /// Postal code.
    pub ship_postal_code: String,
    /// ISO 3166-1 alpha-2 country code.
    pub ship_country: String,
    /// Phone number for the carrier.
    pub ship_phone: Option<String>,
    /// When an unpaid order expires and releases its stock.
    pub expires_at: DateTimeUtc,
    /// The client address the checkout came from.
    pub placed_from: Option<String>,
    /// When it was paid.
    pub paid_at: Option<DateTimeUtc>,
    /// When it was cancelled or refunded.
    pub closed_at: Option<DateTimeUtc>,
    /// When it was placed.
    pub created_at: DateTimeUtc,
    /// When its state last changed.
    pub updated_at: DateTimeUtc,
}

/// Relations of an order.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
