//! Payments as the API shows them.

use async_graphql::{Enum, ID, Object, Result};
use chrono::{DateTime, Utc};
use entity::payment;

use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::scalars::Money;

/// Where a payment is.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::PaymentStatus")]
pub enum PaymentStatus {
    /// Waiting for the provider to confirm (by webhook).
    Pending,
    /// Money taken; the order is paid.
    Captured,
    /// Declined or failed; pay again with a new idempotency key.
    Failed,
    /// A refund is recorded and is being sent to the provider (retried until it confirms).
    RefundPending,
    /// Paid back.
    Refunded,
    /// Given up before it completed (its order was cancelled, or another payment paid it); a
    /// success reported for it later is refunded automatically.
    Voided,
}

/// One attempt to pay an order.
pub struct Payment(pub payment::Model);

#[Object]
impl Payment {
    /// Global ID.
    async fn id(&self) -> ID {
        GlobalId::encode(NodeType::Payment, self.0.id)
    }

    /// State.
    async fn status(&self) -> PaymentStatus {
        self.0.status.into()
    }

    /// Amount charged.
    async fn amount(&self) -> Result<Money> {
        Ok(Money::stored(self.0.amount_minor, &self.0.currency)?)
    }

    /// The provider, such as `test`.
    async fn provider(&self) -> &str {
        &self.0.provider
    }

    /// The provider's reference, once it has one.
    async fn reference(&self) -> Option<&str> {
        self.0.reference.as_deref()
    }

    /// Why it failed, as the provider said.
    async fn failure(&self) -> Option<&str> {
        self.0.failure.as_deref()
    }

    /// When it was attempted.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
