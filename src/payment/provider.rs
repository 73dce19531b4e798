//! The payment provider port.

use async_trait::async_trait;
use uuid::Uuid;

/// A charge to authorise.
#[derive(Clone, Debug)]
pub struct ChargeRequest {
    /// The order paid for.
    pub order_id: Uuid,
    /// Amount in minor units of `currency`.
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// The provider's token for the shopper's payment method, from its client SDK.
    pub payment_method: String,
    /// Passed on so a retried call charges once.
    pub idempotency_key: String,
}

/// What the provider answered to an authorisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// Authorised now; capture it.
    Authorised,
    /// Accepted, with the result to come by webhook (bank redirects, async methods).
    Pending,
}

/// An authorised or pending charge.
#[derive(Clone, Debug)]
pub struct Charge {
    /// The provider's reference.
    pub reference: String,
    /// Whether it is authorised yet.
    pub outcome: ChargeOutcome,
}

/// Why a provider call failed. The message is safe to show the shopper.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ProviderError {
    /// The payment method was refused.
    #[error("the payment was declined: {0}")]
    Declined(String),
    /// The provider failed or could not be reached.
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
}

/// A payment provider: Stripe, Adyen, or the built-in test provider.
#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// Its name, stored with each payment.
    fn name(&self) -> &'static str;

    /// Authorises a charge.
    async fn authorise(&self, request: &ChargeRequest) -> Result<Charge, ProviderError>;

    /// Captures an authorised charge.
    async fn capture(&self, reference: &str, amount_minor: i64) -> Result<(), ProviderError>;

    /// Pays a captured charge back. Calls with the same `idempotency_key` pay back once, however
    /// often they are repeated (a retried refund must never pay twice).
    async fn refund(&self, reference: &str, amount_minor: i64, idempotency_key: &str) -> Result<(), ProviderError>;
}
