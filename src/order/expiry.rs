//! The background job that cancels unpaid orders after `orders.unpaid_ttl_seconds`, and sends
//! recorded refunds that have not reached the provider yet (see [`crate::payment::refunds`]).

use std::time::Duration;

use tokio::task::JoinHandle;

use super::lifecycle;
use crate::db::Db;
use crate::payment::{Payments, refunds};

/// Orders cancelled per sweep at most; the next sweep takes the rest.
const BATCH: u64 = 200;

/// Starts sweeping every `every`; abort the handle to stop.
pub fn spawn(db: Db, payments: Payments, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match lifecycle::expire_unpaid(&db, &payments, BATCH).await {
                Ok(0) => {}
                Ok(count) => tracing::info!(orders.expired = count, "cancelled unpaid orders past their time"),
                Err(error) => tracing::warn!(?error, "the unpaid-order sweep failed; retrying at the next tick"),
            }
            match refunds::retry_due(&db, &payments, BATCH).await {
                Ok(0) => {}
                Ok(count) => tracing::info!(refunds.completed = count, "sent recorded refunds"),
                Err(error) => tracing::warn!(?error, "the refund sweep failed; retrying at the next tick"),
            }
        }
    })
}
