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
//! The buckets are kept by the [`Limiter`] port: in this process, or in Redis shared by every
//! replica.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_graphql::extensions::ExtensionContext;
use async_graphql::{Response, ServerError, ValidationResult, Value};

use crate::config::{CostBucket, CostLimitSettings};
use crate::error::ErrorCode;
use crate::graphql::errors::coded;
use crate::graphql::stage::{Stage, StageFactory};
use crate::identity::viewer::{ClientInfo, Viewer};
use crate::limiter::{Limiter, Quota, Taken};

/// The stage charging and reporting costs.
pub struct CostLimits {
    limiter: Arc<dyn Limiter>,
    settings: CostLimitSettings,
}

impl CostLimits {
    /// Costs charged to `limiter`'s buckets, of the sizes in `settings`.
    pub fn new(limiter: Arc<dyn Limiter>, settings: CostLimitSettings) -> Self {
        Self { limiter, settings }
    }
}

impl StageFactory for CostLimits {
    fn begin(&self) -> Box<dyn Stage> {
        Box::new(Charge {
            limiter: Arc::clone(&self.limiter),
            settings: self.settings.clone(),
            charged: Mutex::default(),
        })
    }
}

/// One operation's charge.
struct Charge {
    limiter: Arc<dyn Limiter>,
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
    /// Who pays for the operation: its bucket's name and size.
    fn payer(&self, ctx: &ExtensionContext<'_>) -> (String, CostBucket) {
        match ctx.data_opt::<Viewer>() {
            Some(Viewer::Partner { key_id, .. }) => (format!("cost:partner:{key_id}"), self.settings.partner),
            Some(Viewer::User { id, .. }) => (format!("cost:user:{id}"), self.settings.user),
            _ => {
                let ip = ctx.data_opt::<ClientInfo>().and_then(|c| c.ip.as_deref()).unwrap_or_default();
                (format!("cost:ip:{ip}"), self.settings.anonymous)
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
impl Stage for Charge {
    async fn validated(&self, ctx: &ExtensionContext<'_>, result: &ValidationResult) -> Result<(), Vec<ServerError>> {
        if !self.settings.enabled {
            *self.charged.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(Charged { requested: result.complexity, bucket: None, retry_after: None });
            return Ok(());
        }
        let (name, bucket) = self.payer(ctx);
        let cost = u32::try_from(result.complexity).unwrap_or(u32::MAX);
        let quota = Quota::per_second(bucket.capacity, bucket.restore_per_second);
        let taken = self.limiter.take(&name, quota, cost).await;
        let (available, retry_after) = match taken {
            Taken::Granted { available } => (available.min(bucket.capacity), None),
            Taken::Throttled { retry_after } => (0, Some(retry_after)),
            Taken::TooCostly => (0, None),
        };
        *self.charged.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(Charged { requested: result.complexity, bucket: Some((bucket, available)), retry_after });
        match taken {
            Taken::Granted { .. } => Ok(()),
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

    fn answered(&self, _ctx: &ExtensionContext<'_>, response: &mut Response) {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_actual_cost_counts_the_fields_answered() {
        let data = Value::from_json(serde_json::json!({
            "products": { "edges": [{ "node": { "id": 1, "title": "a" } }, { "node": { "id": 2, "title": "b" } }] }
        }));
        // products, edges, then per edge node + id + title.
        assert_eq!(data.map(|d| fields_in(&d)).ok(), Some(2 + 2 * 3));
    }
}
