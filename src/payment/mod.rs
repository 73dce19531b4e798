//! Payments: a [`PaymentProvider`] port with a built-in test provider, the `payOrder` use case,
//! and the provider's webhook, verified by an HMAC signature over a timestamp.

pub mod graphql;
pub mod provider;
pub mod refunds;
pub mod service;
pub mod test_provider;
pub mod types;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sea_orm::DatabaseTransaction;
use uuid::Uuid;

use crate::config::{PaymentProviderSettings, PaymentSettings, Secret};
use crate::error::AppResult;
use provider::PaymentProvider;

/// Marks order `order_id` paid inside the transaction that captured its payment. The rule is
/// the order domain's (`order::lifecycle::mark_paid_in`); the composition root hands it in, so
/// payments, which the order life cycle calls for refunds, never imports the order domain.
pub type MarkPaid = for<'a> fn(&'a DatabaseTransaction, Uuid) -> BoxFuture<'a, AppResult<()>>;

/// The configured provider and what verifies its webhooks; cheap to clone.
#[derive(Clone)]
pub struct Payments {
    /// The provider.
    pub provider: Arc<dyn PaymentProvider>,
    /// Signs the provider's webhooks.
    pub webhook_secret: Secret,
    /// Largest age of a webhook's timestamp, in seconds.
    pub tolerance_seconds: u64,
    /// Time a provider call may take.
    pub timeout: Duration,
    /// What a captured payment does to its order.
    pub mark_paid: MarkPaid,
}

impl Payments {
    /// Runs a provider call within the configured timeout.
    ///
    /// # Errors
    /// `PAYMENT_FAILED` saying whether the provider declined, failed or did not answer in time
    /// (its own message is logged, never sent).
    pub async fn bounded<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, provider::ProviderError>>,
    ) -> crate::error::AppResult<T> {
        use crate::error::{AppError, ErrorCode};
        // The provider's own words can name its internals; they go to the log, and the client
        // gets what kind of failure it was.
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                tracing::info!(reason = %error, "the payment provider refused or failed");
                let message = match error {
                    provider::ProviderError::Declined(_) => "the payment was declined",
                    provider::ProviderError::Unavailable(_) => "the payment provider is unavailable",
                };
                Err(AppError::new(ErrorCode::PaymentFailed, message))
            }
            Err(_) => Err(AppError::new(ErrorCode::PaymentFailed, "the payment provider did not answer in time")),
        }
    }

    /// The provider chosen in the settings; `mark_paid` is what a capture does to its order.
    pub fn from_settings(settings: &PaymentSettings, mark_paid: MarkPaid) -> Self {
        let provider: Arc<dyn PaymentProvider> = match settings.provider {
            PaymentProviderSettings::Test => Arc::new(test_provider::TestProvider::default()),
        };
        let webhook_secret = if settings.webhook_secret.expose().is_empty() {
            tracing::warn!("no payments.webhook_secret is set: payment webhooks are refused until one is");
            Secret::new(crate::identity::tokens::opaque_token("unset_"))
        } else {
            settings.webhook_secret.clone()
        };
        Self {
            provider,
            webhook_secret,
            tolerance_seconds: settings.webhook_tolerance_seconds,
            timeout: Duration::from_millis(settings.timeout_ms),
            mark_paid,
        }
    }
}
