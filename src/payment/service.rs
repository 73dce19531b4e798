//! Paying for an order, and applying what the provider reports by webhook.

use entity::{OrderStatus, PaymentStatus, order, payment, payment_event};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait};
use tracing::instrument;
use uuid::Uuid;

use super::Payments;
use super::provider::{ChargeOutcome, ChargeRequest, ProviderError};
use crate::db::{self, Db};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::order::lifecycle;

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
/// with a new key.
///
/// # Errors
/// `CONFLICT` when the order is not waiting for payment, `PAYMENT_FAILED` when the provider
/// declines, fails or times out, `BAD_USER_INPUT` for a bad payment method.
#[instrument(skip_all, fields(order.id = %order.id), err(Debug))]
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
    if order.status != OrderStatus::PendingPayment {
        return Err(AppError::conflict("this order is not waiting for payment"));
    }
    let id = Uuid::now_v7();
    let now = db::now();
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
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(db.conn())
    .await
    .map_err(crate::error::conflict_on_unique("a payment with this idempotency key is in progress"))?;

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
        let txn = db.conn().begin().await?;
        set_status(&txn, id, PaymentStatus::Captured, Some(&charge.reference), None).await?;
        lifecycle::mark_paid(&txn, order.id).await?;
        txn.commit().await?;
    }
    payment::Entity::find_by_id(id).one(db.conn()).await?.ok_or_else(|| AppError::not_found("payment"))
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
/// its effect, so a repeated delivery changes nothing.
///
/// # Errors
/// `NOT_FOUND` for an unknown payment reference, `BAD_USER_INPUT` for oversized fields.
#[instrument(skip_all, fields(event.id = %event.id, event.type = %event.event_type), err(Debug))]
pub async fn apply_event(db: &Db, provider: &str, event: &ProviderEvent) -> AppResult<EventOutcome> {
    if event.id.is_empty() || event.id.len() > 200 || event.reference.len() > 200 || event.event_type.len() > 60 {
        return Err(AppError::bad_input("the event's id, type or reference is malformed"));
    }
    let txn = db.conn().begin().await?;
    let recorded = payment_event::Entity::insert(payment_event::ActiveModel {
        id: Set(event.id.clone()),
        provider: Set(provider.to_owned()),
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
    let outcome = match (event.event_type.as_str(), paid.status) {
        ("payment.succeeded", PaymentStatus::Pending | PaymentStatus::Failed) => {
            set_status(&txn, paid.id, PaymentStatus::Captured, None, None).await?;
            match lifecycle::mark_paid(&txn, paid.order_id).await {
                Ok(_) => EventOutcome::Applied,
                Err(error) if error.code() == ErrorCode::Conflict => {
                    tracing::warn!(order.id = %paid.order_id, "money captured for an order that is no longer payable; refund it");
                    EventOutcome::Applied
                }
                Err(error) => return Err(error),
            }
        }
        ("payment.failed", PaymentStatus::Pending) => {
            let failure = event.failure.as_deref().unwrap_or_default();
            set_status(&txn, paid.id, PaymentStatus::Failed, None, Some(failure)).await?;
            EventOutcome::Applied
        }
        _ => EventOutcome::Ignored,
    };
    txn.commit().await?;
    Ok(outcome)
}
