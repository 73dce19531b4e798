//! A payment attempt for an order through a payment provider.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Where a payment is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum PaymentStatus {
    /// Authorised; waiting for the provider to confirm the capture.
    #[sea_orm(string_value = "PENDING")]
    Pending,
    /// Money taken.
    #[sea_orm(string_value = "CAPTURED")]
    Captured,
    /// Declined or failed; the order can be paid again.
    #[sea_orm(string_value = "FAILED")]
    Failed,
    /// A refund is recorded and is being sent to the provider (retried until it answers).
    #[sea_orm(string_value = "REFUND_PENDING")]
    RefundPending,
    /// Paid back.
    #[sea_orm(string_value = "REFUNDED")]
    Refunded,
    /// Given up before it completed (its order was cancelled, or another payment won); a success
    /// reported for it later is refunded.
    #[sea_orm(string_value = "VOIDED")]
    Voided,
}

/// A row of `payments`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    /// UUIDv7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The order paid for.
    pub order_id: Uuid,
    /// The provider's name, such as `test`.
    pub provider: String,
    /// The provider's reference for the payment, once it has one.
    #[sea_orm(unique)]
    pub reference: Option<String>,
    /// State.
    pub status: PaymentStatus,
    /// Amount in minor units of `currency`.
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// The client's idempotency key.
    pub idempotency_key: String,
    /// Why it failed, as the provider said.
    pub failure: Option<String>,
    /// Refund calls made to the provider so far.
    pub refund_attempts: i32,
    /// When the next refund call is due, while the status is `REFUND_PENDING`.
    pub retry_at: Option<DateTimeUtc>,
    /// When it was attempted.
    pub created_at: DateTimeUtc,
    /// When its state last changed.
    pub updated_at: DateTimeUtc,
}

/// Relations of a payment.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
