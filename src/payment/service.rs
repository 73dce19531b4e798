//! Paying for an order, and applying what the provider reports by webhook.

use entity::{OrderStatus, PaymentStatus, order, payment, payment_event};
use sea_orm::ExprTrait;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use tracing::instrument;
use uuid::Uuid;

use super::provider::{ChargeOutcome, ChargeRequest, ProviderError};
use super::{Payments, refunds};
use crate::db::{self, Db};
use crate::error::{AppError, AppResult};
use crate::identity::audit::{self, Action};
use crate::identity::viewer::ClientInfo;

/// Longest payment-method token accepted.
const MAX_METHOD_CHARS: usize = 200;

/// Moves a payment to `status`, with the provider's reference and a failure reason when given,
/// on `conn` (a transaction or the pool).
///
/// # Errors
/// When the store fails.
pub async fn set_status(
    conn: &impl ConnectionTrait,
    id: Uuid,
    status: PaymentStatus,
    reference: Option<&str>,
    failure: Option<&str>,
) -> AppResult<()> {
    let mut update = payment::Entity::update_many()
        .col_expr(payment::Column::Status, Expr::value(status))
        .col_expr(payment::Column::UpdatedAt, Expr::value(db::now()))
        .filter(payment::Column::Id.eq(id));
    if let Some(reference) = reference {
        update = update.col_expr(payment::Column::Reference, Expr::value(reference));
    }
    if let Some(failure) = failure {
        update = update.col_expr(payment::Column::Failure, Expr::value(failure.chars().take(300).collect::<String>()));
    }
    update.exec(conn).await?;
    Ok(())
}

/// Pays a pending order with the shopper's payment method: the provider authorises, then the
/// charge is captured and the order becomes PAID. A method that completes later leaves the
/// payment PENDING until the provider's webhook. The same idempotency key returns the same
/// payment; a failed payment is kept (FAILED, with the reason) and the order can be paid again
/// with a new key. An order has at most one payment in flight: the attempt is recorded (and
/// committed) before the provider is called, and a second attempt while one is PENDING is
/// refused.
///
/// # Errors
/// `CONFLICT` when the order is not waiting for payment or another payment of it is in
/// progress, `PAYMENT_FAILED` when the provider declines, fails or times out, `BAD_USER_INPUT`
/// for a bad payment method.
#[instrument(skip_all, fields(order.id = %order.id), err(Debug, level = "debug"))]
pub async fn pay_order(
    db: &Db,
    payments: &Payments,
    order: &order::Model,
    payment_method: &str,
    idempotency_key: &str,
) -> AppResult<payment::Model> {
    if payment_method.is_empty() || payment_method.chars().count() > MAX_METHOD_CHARS {
        return Err(AppError::bad_input(format!("the payment method is 1 to {MAX_METHOD_CHARS} characters")));
    }
    let previous = payment::Entity::find()
        .filter(payment::Column::OrderId.eq(order.id))
        .filter(payment::Column::IdempotencyKey.eq(idempotency_key))
        .one(db.conn())
        .await?;
    if let Some(previous) = previous {
        return Ok(previous);
    }
    let id = Uuid::now_v7();
    let now = db::now();
    let txn = db.begin_write().await?;
    let waiting = order::Column::Id.eq(order.id).and(order::Column::Status.eq(OrderStatus::PendingPayment));
    if db::claim::<order::Entity>(&txn, order::Column::UpdatedAt, waiting).await? == 0 {
        return Err(AppError::conflict("this order is not waiting for payment"));
    }
    let in_flight = payment::Entity::find()
        .filter(payment::Column::OrderId.eq(order.id))
        .filter(payment::Column::Status.eq(PaymentStatus::Pending))
        .one(&txn)
        .await?;
    if let Some(in_flight) = in_flight {
        return Err(if in_flight.idempotency_key == idempotency_key {
            AppError::conflict("a payment with this idempotency key is in progress")
        } else {
            AppError::conflict("another payment of this order is in progress; wait for its outcome")
        });
    }
    payment::Entity::insert(payment::ActiveModel {
        id: Set(id),
        order_id: Set(order.id),
        provider: Set(payments.provider.name().to_owned()),
        reference: Set(None),
        status: Set(PaymentStatus::Pending),
        amount_minor: Set(order.total_minor),
        currency: Set(order.currency.clone()),
        idempotency_key: Set(idempotency_key.to_owned()),
        failure: Set(None),
        refund_attempts: Set(0),
        retry_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await
    .map_err(crate::error::conflict_on_unique("another payment of this order is in progress"))?;
    txn.commit().await?;

    let request = ChargeRequest {
        order_id: order.id,
        amount_minor: order.total_minor,
        currency: order.currency.clone(),
        payment_method: payment_method.to_owned(),
        idempotency_key: idempotency_key.to_owned(),
    };
    let charged = async {
        let charge = payments.provider.authorise(&request).await?;
        if charge.outcome == ChargeOutcome::Authorised {
            payments.provider.capture(&charge.reference, order.total_minor).await?;
        }
        Ok::<_, ProviderError>(charge)
    };
    let charge = match payments.bounded(charged).await {
        Ok(charge) => charge,
        Err(error) => return Err(failed(db, id, error).await),
    };
    if charge.outcome == ChargeOutcome::Pending {
        set_status(db.conn(), id, PaymentStatus::Pending, Some(&charge.reference), None).await?;
    } else {
        let refund = settle_success(db, payments, id, Some(&charge.reference)).await?;
        if let Some(refund) = refund {
            refunds::send_all(db, payments, &[refund]).await;
        }
    }
    payment::Entity::find_by_id(id).one(db.conn()).await?.ok_or_else(|| AppError::not_found("payment"))
}

/// What became of a payment the provider says succeeded.
enum Success {
    /// It paid its order.
    PaidOrder,
    /// Its order could not take it (cancelled, expired, or paid by another payment): the money
    /// goes back.
    Refund(&'static str),
    /// It was already settled; nothing changes.
    AlreadySettled,
}

/// Applies a provider's success for payment `id` in one transaction: the payment captures its
/// order if the order still waits and the payment was not given up; otherwise the refund is
/// recorded (and audited) and its id returned for sending after commit. Other payments still in
/// flight for a paid order are voided, so their later success is refunded too.
///
/// # Errors
/// When the store fails.
async fn settle_success(db: &Db, payments: &Payments, id: Uuid, reference: Option<&str>) -> AppResult<Option<Uuid>> {
    let txn = db.begin_write().await?;
    let outcome = settle_success_in(&txn, payments, id, reference).await?;
    txn.commit().await?;
    Ok(match outcome {
        Success::Refund(_) => Some(id),
        Success::PaidOrder | Success::AlreadySettled => None,
    })
}

async fn settle_success_in(
    txn: &sea_orm::DatabaseTransaction,
    payments: &Payments,
    id: Uuid,
    reference: Option<&str>,
) -> AppResult<Success> {
    let paid = payment::Entity::find_by_id(id).one(txn).await?.ok_or_else(|| AppError::not_found("payment"))?;
    if let Some(reference) = reference {
        set_status(txn, id, paid.status, Some(reference), None).await?;
    }
    if !matches!(paid.status, PaymentStatus::Pending | PaymentStatus::Failed | PaymentStatus::Voided) {
        return Ok(Success::AlreadySettled);
    }
    let waiting = order::Column::Id.eq(paid.order_id).and(order::Column::Status.eq(OrderStatus::PendingPayment));
    let order_waits = db::claim::<order::Entity>(txn, order::Column::UpdatedAt, waiting).await? == 1;
    let outcome = if paid.status == PaymentStatus::Voided {
        Success::Refund("the payment was given up before it succeeded")
    } else if !order_waits {
        Success::Refund("the order was no longer waiting for payment")
    } else {
        set_status(txn, id, PaymentStatus::Captured, None, None).await?;
        (payments.mark_paid)(txn, paid.order_id).await?;
        void_others(txn, paid.order_id, id).await?;
        Success::PaidOrder
    };
    if let Success::Refund(reason) = outcome {
        let from = [PaymentStatus::Pending, PaymentStatus::Failed, PaymentStatus::Voided];
        refunds::schedule_one(txn, id, &from).await?;
        let detail = serde_json::json!({ "payment": id, "reason": reason, "amount_minor": paid.amount_minor });
        let subject = paid.order_id.to_string();
        audit::record(txn, Action::PaymentAutoRefunded, None, Some(&subject), &ClientInfo::default(), detail).await?;
        tracing::warn!(payment.id = %id, order.id = %paid.order_id, reason, "money taken that no order can keep; refunding it");
    }
    Ok(outcome)
}

/// Gives up every other payment of `order_id` still in flight.
async fn void_others(conn: &impl ConnectionTrait, order_id: Uuid, keep: Uuid) -> AppResult<()> {
    payment::Entity::update_many()
        .col_expr(payment::Column::Status, Expr::value(PaymentStatus::Voided))
        .col_expr(payment::Column::UpdatedAt, Expr::value(db::now()))
        .filter(payment::Column::OrderId.eq(order_id))
        .filter(payment::Column::Id.ne(keep))
        .filter(payment::Column::Status.eq(PaymentStatus::Pending))
        .exec(conn)
        .await?;
    Ok(())
}

/// Gives up the payments of `order_id` still in flight (its order was cancelled).
///
/// # Errors
/// When the store fails.
pub async fn void_pending(conn: &impl ConnectionTrait, order_id: Uuid) -> AppResult<()> {
    void_others(conn, order_id, Uuid::nil()).await
}

/// Records a failed attempt and returns its error for the client.
async fn failed(db: &Db, id: Uuid, error: AppError) -> AppError {
    tracing::warn!(payment.id = %id, reason = error.message(), "payment failed");
    match set_status(db.conn(), id, PaymentStatus::Failed, None, Some(error.message())).await {
        Ok(()) => error,
        Err(store_error) => store_error,
    }
}

/// A provider event, as the webhook carries it.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct ProviderEvent {
    /// The provider's unique event id.
    pub id: String,
    /// `payment.succeeded` or `payment.failed`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The payment's reference.
    pub reference: String,
    /// Why it failed, for `payment.failed`.
    #[serde(default)]
    pub failure: Option<String>,
}

/// What applying an event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventOutcome {
    /// The payment (and its order) changed.
    Applied,
    /// This event was already applied; nothing changed.
    Duplicate,
    /// Nothing to do: an unknown type, or a payment already settled.
    Ignored,
}

/// Applies a verified provider event once: the event id is recorded in the same transaction as
/// its effect, so a repeated delivery changes nothing. A success for a payment whose order can no
/// longer take it is refunded after commit.
///
/// # Errors
/// `NOT_FOUND` for an unknown payment reference, `BAD_USER_INPUT` for oversized fields.
#[instrument(skip_all, fields(event.id = %event.id, event.type = %event.event_type), err(Debug, level = "debug"))]
pub async fn apply_event(db: &Db, payments: &Payments, event: &ProviderEvent) -> AppResult<EventOutcome> {
    if event.id.is_empty() || event.id.len() > 200 || event.reference.len() > 200 || event.event_type.len() > 60 {
        return Err(AppError::bad_input("the event's id, type or reference is malformed"));
    }
    let txn = db.begin_write().await?;
    let recorded = payment_event::Entity::insert(payment_event::ActiveModel {
        id: Set(event.id.clone()),
        provider: Set(payments.provider.name().to_owned()),
        event_type: Set(event.event_type.clone()),
        reference: Set(event.reference.clone()),
        received_at: Set(db::now()),
    })
    .exec_without_returning(&txn)
    .await;
    if let Err(error) = recorded {
        return match error.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => Ok(EventOutcome::Duplicate),
            _ => Err(error.into()),
        };
    }
    let paid = payment::Entity::find()
        .filter(payment::Column::Reference.eq(&event.reference))
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::not_found("payment"))?;
    let mut refund = None;
    let outcome = match (event.event_type.as_str(), paid.status) {
        ("payment.succeeded", _) => match settle_success_in(&txn, payments, paid.id, None).await? {
            Success::PaidOrder => EventOutcome::Applied,
            Success::Refund(_) => {
                refund = Some(paid.id);
                EventOutcome::Applied
            }
            Success::AlreadySettled => EventOutcome::Ignored,
        },
        ("payment.failed", PaymentStatus::Pending | PaymentStatus::Voided) => {
            let failure = event.failure.as_deref().unwrap_or_default();
            set_status(&txn, paid.id, PaymentStatus::Failed, None, Some(failure)).await?;
            EventOutcome::Applied
        }
        _ => EventOutcome::Ignored,
    };
    txn.commit().await?;
    if let Some(refund) = refund {
        refunds::send_all(db, payments, &[refund]).await;
    }
    Ok(outcome)
}
