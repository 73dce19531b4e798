//! Paying money back in two steps, never inside an open transaction.
//!
//! 1. [`schedule`] records the intent in the caller's transaction: the captured payment becomes
//!    `REFUND_PENDING`, together with the order's new state and its returned stock, so either all
//!    of it is committed or none.
//! 2. After commit, [`send`] claims the payment (one caller at a time, pushing `retry_at` back),
//!    calls the provider with an idempotency key derived from the payment, and records
//!    `REFUNDED`. If the provider fails, answers late, or the process dies in between, the
//!    payment stays `REFUND_PENDING` and [`retry_due`] (run by the background sweeper) sends it
//!    again: at least once, and the provider's idempotency makes it exactly once.

use chrono::Duration;
use entity::{PaymentStatus, payment};
use sea_orm::ExprTrait;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::Payments;
use crate::db::{self, Db};
use crate::error::{AppError, AppResult};

/// Attempts after which a failing refund is logged as an error for a person to look at (it is
/// still retried).
const ATTEMPTS_BEFORE_ALERT: i32 = 8;

/// The idempotency key of a payment's refund: the same for every attempt.
pub fn idempotency_key(payment_id: Uuid) -> String {
    format!("refund-{payment_id}")
}

/// Wait before the next attempt: 30 s doubling per attempt, at most an hour.
fn backoff(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 7)).unwrap_or(7);
    Duration::seconds(std::cmp::min(30_i64 << exponent, 3_600))
}

/// Records refunds of every captured payment of `order_id` (in the caller's transaction), and
/// returns their ids for [`send`] after commit.
///
/// # Errors
/// When the store fails.
pub async fn schedule(conn: &impl ConnectionTrait, order_id: Uuid) -> AppResult<Vec<Uuid>> {
    let captured: Vec<Uuid> = payment::Entity::find()
        .select_only()
        .column(payment::Column::Id)
        .filter(payment::Column::OrderId.eq(order_id))
        .filter(payment::Column::Status.eq(PaymentStatus::Captured))
        .into_tuple()
        .all(conn)
        .await?;
    for id in &captured {
        schedule_one(conn, *id, &[PaymentStatus::Captured]).await?;
    }
    Ok(captured)
}

/// Records the refund of one payment that is in one of the states `from`. The sweeper leaves
/// it alone for the first backoff, so the caller's own [`send`] after commit is the only one
/// in flight; if the caller dies first, the sweeper sends it then.
///
/// # Errors
/// When the store fails.
pub async fn schedule_one(conn: &impl ConnectionTrait, payment_id: Uuid, from: &[PaymentStatus]) -> AppResult<()> {
    let now = db::now();
    payment::Entity::update_many()
        .col_expr(payment::Column::Status, Expr::value(PaymentStatus::RefundPending))
        .col_expr(payment::Column::RetryAt, Expr::value(now + backoff(0)))
        .col_expr(payment::Column::UpdatedAt, Expr::value(now))
        .filter(payment::Column::Id.eq(payment_id))
        .filter(payment::Column::Status.is_in(from.iter().copied()))
        .exec(conn)
        .await?;
    Ok(())
}

/// Sends the refunds of `payment_ids` now; failures are logged and left to [`retry_due`].
pub async fn send_all(db: &Db, payments: &Payments, payment_ids: &[Uuid]) {
    for id in payment_ids {
        if let Err(error) = send(db, payments, *id).await {
            tracing::warn!(payment.id = %id, ?error, "the refund is recorded and will be retried");
        }
    }
}

/// Sends one recorded refund to the provider if it is due and nobody else is sending it, and
/// records the outcome. Returns whether the payment is now `REFUNDED`.
///
/// # Errors
/// `PAYMENT_FAILED` when the provider refuses or does not answer (the refund stays recorded and
/// is retried), `INTERNAL` when the store fails.
pub async fn send(db: &Db, payments: &Payments, payment_id: Uuid) -> AppResult<bool> {
    send_once(db, payments, payment_id, Claim::Now).await
}

/// Whether a sender may take a refund whose retry time has not come.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Claim {
    /// Yes: the caller that just recorded it, or an explicit retry.
    Now,
    /// No: the sweeper, which must not race a sender that claimed it moments ago.
    WhenDue,
}

async fn send_once(db: &Db, payments: &Payments, payment_id: Uuid, claim: Claim) -> AppResult<bool> {
    let Some(due) = payment::Entity::find_by_id(payment_id).one(db.conn()).await? else {
        return Err(AppError::not_found("payment"));
    };
    if due.status != PaymentStatus::RefundPending {
        return Ok(due.status == PaymentStatus::Refunded);
    }
    let now = db::now();
    let mut claiming = payment::Entity::update_many()
        .col_expr(payment::Column::RefundAttempts, Expr::col(payment::Column::RefundAttempts).add(1))
        .col_expr(payment::Column::RetryAt, Expr::value(now + backoff(due.refund_attempts)))
        .filter(payment::Column::Id.eq(payment_id))
        .filter(payment::Column::Status.eq(PaymentStatus::RefundPending))
        .filter(payment::Column::RefundAttempts.eq(due.refund_attempts));
    if claim == Claim::WhenDue {
        claiming = claiming.filter(payment::Column::RetryAt.lte(now));
    }
    let claimed = claiming.exec(db.conn()).await?;
    if claimed.rows_affected == 0 {
        return Ok(false); // another caller is sending it
    }
    let Some(reference) = due.reference.as_deref() else {
        // Never reached the provider, so no money moved: nothing to pay back.
        super::service::set_status(db.conn(), payment_id, PaymentStatus::Refunded, None, None).await?;
        return Ok(true);
    };
    let key = idempotency_key(payment_id);
    let sent = payments.bounded(payments.provider.refund(reference, due.amount_minor, &key)).await;
    if let Err(error) = sent {
        let attempts = due.refund_attempts + 1;
        if attempts >= ATTEMPTS_BEFORE_ALERT {
            tracing::error!(payment.id = %payment_id, attempts, reason = error.message(), "a refund keeps failing");
        }
        return Err(error);
    }
    payment::Entity::update_many()
        .col_expr(payment::Column::Status, Expr::value(PaymentStatus::Refunded))
        .col_expr(payment::Column::RetryAt, Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None))
        .col_expr(payment::Column::UpdatedAt, Expr::value(db::now()))
        .filter(payment::Column::Id.eq(payment_id))
        .filter(payment::Column::Status.eq(PaymentStatus::RefundPending))
        .exec(db.conn())
        .await?;
    tracing::info!(payment.id = %payment_id, "refunded");
    Ok(true)
}

/// Sends up to `limit` recorded refunds whose time has come, and returns how many completed.
///
/// # Errors
/// When the store fails to list them; a failing refund is logged and retried later.
pub async fn retry_due(db: &Db, payments: &Payments, limit: u64) -> AppResult<usize> {
    let due: Vec<Uuid> = payment::Entity::find()
        .select_only()
        .column(payment::Column::Id)
        .filter(payment::Column::Status.eq(PaymentStatus::RefundPending))
        .filter(payment::Column::RetryAt.lte(db::now()))
        .order_by_asc(payment::Column::RetryAt)
        .limit(limit)
        .into_tuple()
        .all(db.conn())
        .await?;
    let mut completed = 0;
    for id in due {
        match send_once(db, payments, id, Claim::WhenDue).await {
            Ok(true) => completed += 1,
            Ok(false) => {}
            Err(error) => tracing::warn!(payment.id = %id, ?error, "refund retry failed; trying again later"),
        }
    }
    Ok(completed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(0), Duration::seconds(30));
        assert_eq!(backoff(1), Duration::seconds(60));
        assert_eq!(backoff(6), Duration::seconds(1_920));
        assert_eq!(backoff(7), Duration::seconds(3_600));
        assert_eq!(backoff(1_000), Duration::seconds(3_600));
    }
}
