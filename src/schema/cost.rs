//! The cost of an operation, charged to its caller's leaky bucket and reported back, as Shopify's
//! APIs do.
//!
//! An operation's cost is its complexity (each field 1, a list times its page size), known once
//! the document validated and before anything runs. It is taken from a bucket of the caller: its
//! partner key, its account, or (anonymous) its address. A bucket holds `capacity` points and
//! refills `restore_per_second`; an operation the bucket cannot pay now is refused `THROTTLED`
//! (HTTP 429 with `Retry-After`), one larger than the whole bucket `MAX_COST_EXCEEDED`; either way
//! nothing runs. Every answer reports
//! `extensions.cost {requestedQueryCost, actualQueryCost, throttleStatus {maximumAvailable,
//! currentlyAvailable, restoreRate}}`, the actual cost being the fields the answer holds.
//!
//! The buckets are a port ([`CostLimiter`]); the one here keeps them in this process (GCRA, the
//! `governor` crate), forgetting buckets that have refilled.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextRequest, NextValidation};
use async_graphql::{Response, ServerError, ValidationResult, Value};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::config::{CostBucket, CostLimitSettings};
use crate::error::ErrorCode;
use crate::graphql::errors::coded;
use crate::identity::viewer::{ClientInfo, Viewer};

/// Whose bucket an operation is charged to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Payer {
    /// A partner key.
    Partner,
    /// A signed-in account.
    User,
    /// An anonymous client address.
    Anonymous,
}

/// What taking from a bucket gave.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Taken {
    /// Paid; this many points are left.
    Granted {
        /// Points left in the bucket.
        available: u32,
    },
    /// The bucket cannot pay it now; it can after this long.
    Throttled {
        /// When to try again.
        retry_after: Duration,
    },
    /// Larger than the whole bucket: it can never be paid.
    TooCostly,
}

/// Where the buckets are kept.
pub trait CostLimiter: Send + Sync {
    /// Takes `cost` points from the bucket of `payer` `key`.
    fn take(&self, payer: Payer, key: &str, cost: u32) -> Taken;
}

type Buckets = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// Buckets in this process, one keyed limiter per kind of payer.
pub struct InProcessLimiter {
    partner: Buckets,
    user: Buckets,
    anonymous: Buckets,
    clock: DefaultClock,
    checks: AtomicU64,
}

/// Checks between two sweeps of refilled buckets.
const SWEEP_EVERY: u64 = 10_000;

fn buckets(bucket: &CostBucket) -> Buckets {
    let capacity = NonZeroU32::new(bucket.capacity.max(1)).unwrap_or(NonZeroU32::MIN);
    let per_point = Duration::from_secs(1) / bucket.restore_per_second.max(1);
    let quota = Quota::with_period(per_point).unwrap_or_else(|| Quota::per_second(capacity)).allow_burst(capacity);
    RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>()
}

impl InProcessLimiter {
    /// Buckets of the configured sizes.
    pub fn new(settings: &CostLimitSettings) -> Self {
        Self {
            partner: buckets(&settings.partner),
            user: buckets(&settings.user),
            anonymous: buckets(&settings.anonymous),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
        }
    }
}

impl CostLimiter for InProcessLimiter {
    fn take(&self, payer: Payer, key: &str, cost: u32) -> Taken {
        let buckets = match payer {
            Payer::Partner => &self.partner,
            Payer::User => &self.user,
            Payer::Anonymous => &self.anonymous,
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            buckets.retain_recent();
        }
        let Some(cost) = NonZeroU32::new(cost) else {
            return Taken::Granted { available: u32::MAX };
        };
        match buckets.check_key_n(&key.to_owned(), cost) {
            Ok(Ok(state)) => Taken::Granted { available: state.remaining_burst_capacity() },
            Ok(Err(not_until)) => Taken::Throttled { retry_after: not_until.wait_time_from(self.clock.now()) },
            Err(_) => Taken::TooCostly,
        }
    }
}

/// The extension charging and reporting costs.
pub struct CostLimits {
    limiter: Arc<dyn CostLimiter>,
    settings: CostLimitSettings,
}

impl CostLimits {
    /// Costs charged to `limiter`'s buckets, of the sizes in `settings`.
    pub fn new(limiter: Arc<dyn CostLimiter>, settings: CostLimitSettings) -> Self {
        Self { limiter, settings }
    }
}

impl ExtensionFactory for CostLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Charge {
            limiter: Arc::clone(&self.limiter),
            settings: self.settings.clone(),
            charged: Mutex::default(),
        })
    }
}

/// One operation's charge.
struct Charge {
    limiter: Arc<dyn CostLimiter>,
    settings: CostLimitSettings,
    charged: Mutex<Option<Charged>>,
}

#[derive(Clone, Copy)]
struct Charged {
    requested: usize,
    /// The bucket charged and what it holds after; `None` when limits are off.
    bucket: Option<(CostBucket, u32)>,
    retry_after: Option<Duration>,
}

impl Charge {
    /// Who pays for the operation, and from which bucket.
    fn payer(&self, ctx: &ExtensionContext<'_>) -> (Payer, String, CostBucket) {
        match ctx.data_opt::<Viewer>() {
            Some(Viewer::Partner { key_id, .. }) => (Payer::Partner, key_id.to_string(), self.settings.partner),
            Some(Viewer::User { id, .. }) => (Payer::User, id.to_string(), self.settings.user),
            _ => {
                let ip = ctx.data_opt::<ClientInfo>().and_then(|c| c.ip.clone()).unwrap_or_default();
                (Payer::Anonymous, ip, self.settings.anonymous)
            }
        }
    }
}

/// The fields an answer holds: what the operation really cost.
fn fields_in(value: &Value) -> usize {
    match value {
        Value::Object(fields) => fields.values().map(|v| 1 + fields_in(v)).sum(),
        Value::List(items) => items.iter().map(fields_in).sum(),
        _ => 0,
    }
}

#[async_trait::async_trait]
impl Extension for Charge {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        if !self.settings.enabled {
            *self.charged.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(Charged { requested: result.complexity, bucket: None, retry_after: None });
            return Ok(result);
        }
        let (payer, key, bucket) = self.payer(ctx);
        let cost = u32::try_from(result.complexity).unwrap_or(u32::MAX);
        let taken = self.limiter.take(payer, &key, cost);
        let (available, retry_after) = match taken {
            Taken::Granted { available } => (available.min(bucket.capacity), None),
            Taken::Throttled { retry_after } => (0, Some(retry_after)),
            Taken::TooCostly => (0, None),
        };
        *self.charged.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(Charged { requested: result.complexity, bucket: Some((bucket, available)), retry_after });
        match taken {
            Taken::Granted { .. } => Ok(result),
            Taken::Throttled { retry_after } => Err(vec![coded(
                format!(
                    "this operation costs {cost}; the bucket refills {} a second, retry in {:.1} s",
                    bucket.restore_per_second,
                    retry_after.as_secs_f64()
                ),
                ErrorCode::Throttled,
            )]),
            Taken::TooCostly => Err(vec![coded(
                format!("this operation costs {cost}, more than the bucket's {}; ask for less", bucket.capacity),
                ErrorCode::MaxCostExceeded,
            )]),
        }
    }

    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        let charged = *self.charged.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(charged) = charged {
            let mut cost = serde_json::json!({
                "requestedQueryCost": charged.requested,
                "actualQueryCost": fields_in(&response.data),
            });
            if let Some((bucket, available)) = charged.bucket {
                cost["throttleStatus"] = serde_json::json!({
                    "maximumAvailable": bucket.capacity,
                    "currentlyAvailable": available,
                    "restoreRate": bucket.restore_per_second,
                });
            }
            if let Ok(cost) = Value::from_json(cost) {
                response.extensions.insert("cost".to_owned(), cost);
            }
            if let Some(retry_after) = charged.retry_after {
                let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                if let Ok(value) = seconds.max(1).to_string().parse() {
                    response.http_headers.insert(poem::http::header::RETRY_AFTER, value);
                }
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(capacity: u32, restore_per_second: u32) -> InProcessLimiter {
        let bucket = CostBucket { capacity, restore_per_second };
        InProcessLimiter::new(&CostLimitSettings { enabled: true, partner: bucket, user: bucket, anonymous: bucket })
    }

    #[test]
    fn a_bucket_pays_until_empty_then_throttles_and_never_pays_more_than_it_holds() {
        let buckets = limiter(100, 10);
        assert_eq!(buckets.take(Payer::User, "ada", 60), Taken::Granted { available: 40 });
        let Taken::Throttled { retry_after } = buckets.take(Payer::User, "ada", 60) else {
            panic!("a second 60 does not fit in 40");
        };
        // 20 points missing at 10 a second: about two seconds.
        assert!(retry_after > Duration::from_millis(1_500) && retry_after <= Duration::from_secs(2), "{retry_after:?}");
        assert_eq!(buckets.take(Payer::User, "ada", 101), Taken::TooCostly);
        // Each payer and each kind of payer has a bucket of its own.
        assert_eq!(buckets.take(Payer::User, "grace", 60), Taken::Granted { available: 40 });
        assert_eq!(buckets.take(Payer::Partner, "ada", 60), Taken::Granted { available: 40 });
        assert!(matches!(buckets.take(Payer::User, "ada", 0), Taken::Granted { .. }));
    }

    #[test]
    fn the_actual_cost_counts_the_fields_answered() {
        let data = Value::from_json(serde_json::json!({
            "products": { "edges": [{ "node": { "id": 1, "title": "a" } }, { "node": { "id": 2, "title": "b" } }] }
        }));
        // products, edges, then per edge node + id + title.
        assert_eq!(data.map(|d| fields_in(&d)).ok(), Some(2 + 2 * 3));
    }
}
