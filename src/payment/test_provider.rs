//! The built-in test provider. It takes no money; the payment method token picks the outcome:
//!
//! | token | outcome |
//! | --- | --- |
//! | `test_card` (or any other) | authorised and captured at once |
//! | `test_async` | pending; the result comes by webhook |
//! | `test_declined` | declined |
//! | `test_unavailable` | the provider fails |
//! | `test_timeout` | never answers (the configured timeout ends the call) |

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::provider::{Charge, ChargeOutcome, ChargeRequest, PaymentProvider, ProviderError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Authorised,
    Captured,
    Refunded,
}

/// Charges kept in memory, keyed by reference.
#[derive(Default)]
pub struct TestProvider {
    charges: Mutex<HashMap<String, (i64, State)>>,
}

impl TestProvider {
    /// How many charges have been paid back (each counts once, however often it was asked).
    pub fn refunded_charges(&self) -> usize {
        self.charges.lock().map_or(0, |charges| charges.values().filter(|(_, s)| *s == State::Refunded).count())
    }

    /// Moves a charge to `to`; repeating a move that already happened is a no-op, as with real
    /// providers called with the same idempotency key.
    fn update(&self, reference: &str, amount: i64, from: &[State], to: State) -> Result<(), ProviderError> {
        let mut charges = self.charges.lock().map_err(|_| ProviderError::Unavailable("poisoned".into()))?;
        match charges.get_mut(reference) {
            Some((_, state)) if *state == to => Ok(()),
            Some((authorised, state)) if from.contains(state) && amount <= *authorised => {
                *state = to;
                Ok(())
            }
            Some(_) => Err(ProviderError::Declined(format!("charge {reference} cannot go from its state"))),
            None => Err(ProviderError::Declined(format!("no charge {reference}"))),
        }
    }

    /// Records a charge the test provider completes later by webhook.
    fn remember(&self, reference: &str, amount: i64) -> Result<(), ProviderError> {
        let mut charges = self.charges.lock().map_err(|_| ProviderError::Unavailable("poisoned".into()))?;
        charges.insert(reference.to_owned(), (amount, State::Authorised));
        Ok(())
    }
}

#[async_trait]
impl PaymentProvider for TestProvider {
    fn name(&self) -> &'static str {
        "test"
    }

    async fn authorise(&self, request: &ChargeRequest) -> Result<Charge, ProviderError> {
        let reference = format!("test_pi_{}", request.idempotency_key_digest());
        let outcome = match request.payment_method.as_str() {
            "test_declined" => return Err(ProviderError::Declined("insufficient funds (test)".into())),
            "test_unavailable" => return Err(ProviderError::Unavailable("test provider outage".into())),
            "test_timeout" => std::future::pending().await,
            "test_async" => ChargeOutcome::Pending,
            _ => ChargeOutcome::Authorised,
        };
        self.remember(&reference, request.amount_minor)?;
        Ok(Charge { reference, outcome })
    }

    async fn capture(&self, reference: &str, amount_minor: i64) -> Result<(), ProviderError> {
        self.update(reference, amount_minor, &[State::Authorised], State::Captured)
    }

    async fn refund(&self, reference: &str, amount_minor: i64, _idempotency_key: &str) -> Result<(), ProviderError> {
        // A charge completed by webhook was captured on the provider's side. A charge is refunded
        // whole, so the reference itself makes a repeated refund a no-op.
        self.update(reference, amount_minor, &[State::Authorised, State::Captured], State::Refunded)
    }
}

impl ChargeRequest {
    /// A stable digest of the order and idempotency key, so a retried authorisation gets the
    /// same reference.
    fn idempotency_key_digest(&self) -> String {
        let mut digest = crate::digest::sha256_hex(&format!("{}:{}", self.order_id, self.idempotency_key));
        digest.truncate(24);
        digest
    }
}
