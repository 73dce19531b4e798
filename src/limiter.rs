//! Leaky buckets, as one port: operation costs (see [`crate::schema::cost`]) and attempts at
//! sign-ins, password changes and reset requests (see [`crate::identity::audit`]) are taken from
//! them.
//!
//! A bucket holds `capacity` points and refills one point every `per_point`; taking more than it
//! holds is refused with the time until it could be paid. The algorithm is GCRA (the generic cell
//! rate algorithm): a bucket is one number, its "theoretical arrival time", so taking is one
//! read and one write, and a full bucket is no state at all. The same arithmetic runs in this
//! process ([`InProcessLimiter`], the embedded default) and in Redis ([`RedisLimiter`], one
//! atomic script per take, so a limit holds across every replica).
//!
//! When Redis fails or does not answer within its timeout, the Redis limiter takes from the
//! in-process buckets instead for a few seconds (then tries Redis again): during an outage each
//! replica limits on its own, so a caller gets at most its limit per replica, never an unthrottled
//! free-for-all, and requests are not refused for a fault of ours.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::config::LimiterSettings;
use crate::redis_connection::{RedisConnection, RedisConnections};

/// A bucket's size: the points it holds when full, and the time it takes to refill one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Points held when full: the most one take may cost.
    pub capacity: u32,
    /// Time to refill one point.
    pub per_point: Duration,
}

impl Quota {
    /// `capacity` points refilling `per_second` a second.
    pub fn per_second(capacity: u32, per_second: u32) -> Self {
        Self { capacity, per_point: Duration::from_secs(1) / per_second.max(1) }
    }

    /// `capacity` points refilling to full over `window`.
    pub fn per_window(capacity: u32, window: Duration) -> Self {
        Self { capacity, per_point: window / capacity.max(1) }
    }

    fn per_point_micros(self) -> u64 {
        u64::try_from(self.per_point.as_micros()).unwrap_or(u64::MAX).max(1)
    }
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
    /// More than the whole bucket: it can never be paid.
    TooCostly,
}

/// Where the buckets are kept.
#[async_trait::async_trait]
pub trait Limiter: Send + Sync {
    /// Takes `cost` points from bucket `bucket` (of size `quota`).
    async fn take(&self, bucket: &str, quota: Quota, cost: u32) -> Taken;
    /// Gives back `cost` points taken from `bucket` (never more than it holds when full).
    async fn give_back(&self, bucket: &str, quota: Quota, cost: u32);
}

/// The limiter as configured: in this process, or in Redis (on the connection `redis` holds for
/// its URL) with the in-process buckets as the fallback.
///
/// # Errors
/// When the Redis URL is not one.
pub fn from_settings(settings: &LimiterSettings, redis: &mut RedisConnections) -> anyhow::Result<Arc<dyn Limiter>> {
    Ok(match settings {
        LimiterSettings::InProcess => Arc::new(InProcessLimiter::default()),
        LimiterSettings::Redis { url, key_prefix, timeout_ms } => {
            let connection = redis.to(url.expose()).map_err(|e| e.context("limits.store.url"))?;
            Arc::new(RedisLimiter::new(connection, key_prefix, Duration::from_millis(*timeout_ms)))
        }
    })
}

/// One GCRA step: the bucket whose theoretical arrival time is `tat` (microseconds, on the same
/// clock as `now`), asked for `cost` points; what it gives and the new arrival time to store.
fn gcra(tat: u64, now: u64, quota: Quota, cost: u32) -> (Taken, Option<u64>) {
    if cost > quota.capacity {
        return (Taken::TooCostly, None);
    }
    let interval = quota.per_point_micros();
    let tolerance = interval.saturating_mul(u64::from(quota.capacity));
    let new_tat = tat.max(now).saturating_add(interval.saturating_mul(u64::from(cost)));
    let allowed_at = new_tat.saturating_sub(tolerance);
    if allowed_at > now {
        return (Taken::Throttled { retry_after: Duration::from_micros(allowed_at - now) }, None);
    }
    let available = (now.saturating_add(tolerance).saturating_sub(new_tat)) / interval;
    (Taken::Granted { available: u32::try_from(available).unwrap_or(u32::MAX) }, Some(new_tat))
}

/// Buckets in this process. Full buckets are forgotten as they are swept.
pub struct InProcessLimiter {
    buckets: Mutex<HashMap<String, u64>>,
    epoch: Instant,
}

impl Default for InProcessLimiter {
    fn default() -> Self {
        Self { buckets: Mutex::default(), epoch: Instant::now() }
    }
}

/// Buckets kept before full ones are swept.
const SWEEP_ABOVE: usize = 100_000;

impl InProcessLimiter {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Takes `cost` points at once (the synchronous core of [`Limiter::take`]).
    pub fn take_now(&self, bucket: &str, quota: Quota, cost: u32) -> Taken {
        if cost == 0 {
            return Taken::Granted { available: quota.capacity };
        }
        let now = self.now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let tat = buckets.get(bucket).copied().unwrap_or(now);
        let (taken, new_tat) = gcra(tat, now, quota, cost);
        if let Some(new_tat) = new_tat {
            if buckets.len() >= SWEEP_ABOVE && !buckets.contains_key(bucket) {
                buckets.retain(|_, tat| *tat > now);
            }
            buckets.insert(bucket.to_owned(), new_tat);
        }
        taken
    }

    fn give_back_now(&self, bucket: &str, quota: Quota, cost: u32) {
        let now = self.now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tat) = buckets.get_mut(bucket) {
            *tat = tat.saturating_sub(quota.per_point_micros().saturating_mul(u64::from(cost))).max(now);
        }
    }
}

#[async_trait::async_trait]
impl Limiter for InProcessLimiter {
    async fn take(&self, bucket: &str, quota: Quota, cost: u32) -> Taken {
        self.take_now(bucket, quota, cost)
    }

    async fn give_back(&self, bucket: &str, quota: Quota, cost: u32) {
        self.give_back_now(bucket, quota, cost);
    }
}

/// GCRA in Redis, as [`gcra`] does it: `KEYS[1]` the bucket; `ARGV` the capacity, the
/// microseconds per point and the cost (negative to give back). Answers `{available, 0}`,
/// `{-1, microseconds to wait}` or `{-2, 0}` (more than the capacity). The clock is Redis's own,
/// so replicas whose clocks disagree still share one bucket.
const SCRIPT: &str = r"
local capacity = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
if cost > capacity then return {-2, 0} end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local tolerance = interval * capacity
local new_tat = tat + cost * interval
if cost < 0 then
  if new_tat < now then new_tat = now end
elseif new_tat - tolerance > now then
  return {-1, math.ceil(new_tat - tolerance - now)}
end
if new_tat > now then
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
else
  redis.call('DEL', KEYS[1])
end
return {math.floor((now + tolerance - new_tat) / interval), 0}
";

/// Seconds the in-process buckets stand in after Redis failed.
const FALLBACK_FOR: Duration = Duration::from_secs(5);

/// Buckets in Redis, shared by every replica; the in-process buckets while Redis is failing.
pub struct RedisLimiter {
    redis: Arc<RedisConnection>,
    prefix: String,
    timeout: Duration,
    script: redis::Script,
    fallback: InProcessLimiter,
    failed_at: Mutex<Option<Instant>>,
}

impl RedisLimiter {
    /// Buckets on the shared connection `redis`, under keys starting with `prefix`; a take
    /// waits at most `timeout` for Redis.
    pub fn new(redis: Arc<RedisConnection>, prefix: &str, timeout: Duration) -> Self {
        Self {
            redis,
            prefix: prefix.to_owned(),
            timeout,
            script: redis::Script::new(SCRIPT),
            fallback: InProcessLimiter::default(),
            failed_at: Mutex::new(None),
        }
    }

    /// Whether Redis failed within the last [`FALLBACK_FOR`].
    fn failing(&self) -> bool {
        let failed_at = self.failed_at.lock().unwrap_or_else(PoisonError::into_inner);
        failed_at.is_some_and(|at| at.elapsed() < FALLBACK_FOR)
    }

    fn failed(&self, error: &anyhow::Error) {
        let first = self.failed_at.lock().unwrap_or_else(PoisonError::into_inner).replace(Instant::now()).is_none();
        if first {
            tracing::warn!(error = format!("{error:#}"), "Redis limits unavailable: each replica limits on its own");
        }
    }

    async fn run(&self, bucket: &str, quota: Quota, cost: i64) -> anyhow::Result<(i64, i64)> {
        let key = format!("{}{bucket}", self.prefix);
        let call = async {
            let mut connection = self.redis.get().await?;
            let mut invocation = self.script.key(key);
            invocation.arg(quota.capacity).arg(quota.per_point_micros()).arg(cost);
            invocation.invoke_async::<(i64, i64)>(&mut connection).await
        };
        let answer = self.redis.timed(self.timeout, call).await?;
        if self.failed_at.lock().unwrap_or_else(PoisonError::into_inner).take().is_some() {
            tracing::info!("Redis limits available again");
        }
        Ok(answer)
    }
}

#[async_trait::async_trait]
impl Limiter for RedisLimiter {
    async fn take(&self, bucket: &str, quota: Quota, cost: u32) -> Taken {
        if cost == 0 {
            return Taken::Granted { available: quota.capacity };
        }
        if !self.failing() {
            match self.run(bucket, quota, i64::from(cost)).await {
                Ok((-2, _)) => return Taken::TooCostly,
                Ok((-1, micros)) => {
                    let retry_after = Duration::from_micros(u64::try_from(micros).unwrap_or(0));
                    return Taken::Throttled { retry_after };
                }
                Ok((available, _)) => {
                    return Taken::Granted { available: u32::try_from(available).unwrap_or(0) };
                }
                Err(error) => self.failed(&error),
            }
        }
        self.fallback.take_now(bucket, quota, cost)
    }

    async fn give_back(&self, bucket: &str, quota: Quota, cost: u32) {
        if !self.failing() {
            match self.run(bucket, quota, -i64::from(cost)).await {
                Ok(_) => return,
                Err(error) => self.failed(&error),
            }
        }
        self.fallback.give_back_now(bucket, quota, cost);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_pays_until_empty_then_throttles_and_never_pays_more_than_it_holds() {
        let buckets = InProcessLimiter::default();
        let quota = Quota::per_second(100, 10);
        assert_eq!(buckets.take_now("ada", quota, 60), Taken::Granted { available: 40 });
        let Taken::Throttled { retry_after } = buckets.take_now("ada", quota, 60) else {
            panic!("a second 60 does not fit in 40");
        };
        // 20 points missing at 10 a second: about two seconds.
        assert!(retry_after > Duration::from_millis(1_500) && retry_after <= Duration::from_secs(2), "{retry_after:?}");
        assert_eq!(buckets.take_now("ada", quota, 101), Taken::TooCostly);
        // Each bucket is its own.
        assert_eq!(buckets.take_now("grace", quota, 60), Taken::Granted { available: 40 });
        assert!(matches!(buckets.take_now("ada", quota, 0), Taken::Granted { .. }));
        // Given back, the points can be taken again; never more than the capacity.
        buckets.give_back_now("ada", quota, 60);
        assert!(matches!(buckets.take_now("ada", quota, 60), Taken::Granted { .. }));
        buckets.give_back_now("grace", quota, 1_000);
        assert!(matches!(buckets.take_now("grace", quota, 100), Taken::Granted { available: 0 }));
    }

    #[test]
    fn gcra_refills_one_point_per_interval() {
        let quota = Quota::per_window(5, Duration::from_secs(300)); // a point a minute
        let minute = 60_000_000;
        let (taken, tat) = gcra(0, 0, quota, 5);
        assert_eq!(taken, Taken::Granted { available: 0 });
        let tat = tat.unwrap_or_default();
        assert!(matches!(gcra(tat, minute - 1, quota, 1).0, Taken::Throttled { .. }));
        assert_eq!(gcra(tat, minute, quota, 1).0, Taken::Granted { available: 0 });
        assert_eq!(gcra(tat, 10 * minute, quota, 1).0, Taken::Granted { available: 4 }, "full, never more");
    }
}
