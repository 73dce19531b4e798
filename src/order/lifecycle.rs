//! Moving an order through its states, with only legal transitions, and returning stock when
//! an order is cancelled, expires or is refunded. Every transition is a conditional update
//! (`… WHERE status IN (states that may become the target)`), so two replicas or two clicks
//! racing on one order change it once and the loser gets `CONFLICT`.

use entity::{FulfilmentStatus, MovementReason, OrderStatus, ProductStatus};
use entity::{fulfilment, order, order_line, product};
use futures_util::future::BoxFuture;
use sea_orm::ExprTrait;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use sea_orm::{Iterable, QuerySelect};
use tracing::instrument;
use uuid::Uuid;

use crate::db::{self, Db};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::inventory::service::{Movement, move_stock};
use crate::payment::service as payment_service;
use crate::payment::{Payments, refunds};

fn name(status: OrderStatus) -> String {
    use sea_orm::ActiveEnum;
    status.to_value()
}

/// Moves the order to `to` if its current state allows it, and returns it as it is after.
///
/// # Errors
/// `NOT_FOUND` for an unknown order, `CONFLICT` when the current state cannot become `to`.
pub async fn advance(conn: &impl ConnectionTrait, order_id: Uuid, to: OrderStatus) -> AppResult<order::Model> {
    let from: Vec<OrderStatus> = OrderStatus::iter().filter(|s| s.can_become(to)).collect();
    let now = db::now();
    let mut update = order::Entity::update_many()
        .col_expr(order::Column::Status, Expr::value(to))
        .col_expr(order::Column::UpdatedAt, Expr::value(now))
        .filter(order::Column::Id.eq(order_id))
        .filter(order::Column::Status.is_in(from));
    match to {
        OrderStatus::Paid => update = update.col_expr(order::Column::PaidAt, Expr::value(now)),
        OrderStatus::Cancelled | OrderStatus::Refunded => {
            update = update.col_expr(order::Column::ClosedAt, Expr::value(now));
        }
        _ => {}
    }
    let changed = update.exec(conn).await?.rows_affected;
    let order = order::Entity::find_by_id(order_id).one(conn).await?.ok_or_else(|| AppError::not_found("order"))?;
    if changed == 0 {
        return Err(AppError::conflict(format!("an order that is {} cannot become {}", name(order.status), name(to))));
    }
    Ok(order)
}

/// Marks a pending order paid; its one-of-a-kind pieces go RESERVED → SOLD (their sale price is
/// then locked by the database).
///
/// # Errors
/// See [`advance`].
pub async fn mark_paid(conn: &impl ConnectionTrait, order_id: Uuid) -> AppResult<order::Model> {
    let order = advance(conn, order_id, OrderStatus::Paid).await?;
    let products = order_line::Entity::find()
        .select_only()
        .column(order_line::Column::ProductId)
        .filter(order_line::Column::OrderId.eq(order_id))
        .into_tuple::<Uuid>()
        .all(conn)
        .await?;
    product::Entity::update_many()
        .col_expr(product::Column::Status, Expr::value(ProductStatus::Sold))
        .col_expr(product::Column::UpdatedAt, Expr::value(db::now()))
        .filter(product::Column::Id.is_in(products))
        .filter(product::Column::OneOfAKind.eq(true))
        .filter(product::Column::Status.eq(ProductStatus::Reserved))
        .exec(conn)
        .await?;
    tracing::info!(order.id = %order_id, "order paid");
    Ok(order)
}

/// [`mark_paid`] in the shape payments call it with ([`crate::payment::MarkPaid`]).
pub fn mark_paid_in(txn: &sea_orm::DatabaseTransaction, order_id: Uuid) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move { mark_paid(txn, order_id).await.map(drop) })
}

/// Puts every unit of the order back in stock as new ledger rows (one-of-a-kind pieces become
/// ACTIVE again) and cancels the vendors' pending fulfilments.
async fn return_stock(
    conn: &impl ConnectionTrait,
    order_id: Uuid,
    reason: MovementReason,
    actor: Option<Uuid>,
    note: &str,
) -> AppResult<()> {
    let lines = order_line::Entity::find()
        .filter(order_line::Column::OrderId.eq(order_id))
        .order_by_asc(order_line::Column::ProductId)
        .all(conn)
        .await?;
    let unique: Vec<Uuid> = product::Entity::find()
        .select_only()
        .column(product::Column::Id)
        .filter(product::Column::Id.is_in(lines.iter().map(|l| l.product_id)))
        .filter(product::Column::OneOfAKind.eq(true))
        .into_tuple()
        .all(conn)
        .await?;
    for line in lines {
        let movement = Movement {
            order_id: Some(order_id),
            actor_id: actor,
            note: note.to_owned(),
            status: unique.contains(&line.product_id).then_some(ProductStatus::Active),
            ..Movement::new(line.product_id, line.quantity, reason)
        };
        move_stock(conn, movement).await?;
    }
    fulfilment::Entity::update_many()
        .col_expr(fulfilment::Column::Status, Expr::value(FulfilmentStatus::Cancelled))
        .filter(fulfilment::Column::OrderId.eq(order_id))
        .filter(fulfilment::Column::Status.eq(FulfilmentStatus::Pending))
        .exec(conn)
        .await?;
    Ok(())
}

/// Who asks for a cancellation.
#[derive(Clone, Copy, Debug)]
pub struct Canceller {
    /// The account, if a person asks (none for the expiry job).
    pub actor: Option<Uuid>,
    /// Whether they may cancel a paid order (staff).
    pub manages_orders: bool,
}

/// Cancels an order that has not shipped: a pending one (its buyer, staff, or the expiry job),
/// or a paid one (staff only; the payment is refunded). Stock comes back as CANCEL rows. The
/// refund is recorded with the cancellation and sent to the provider after commit (see
/// [`refunds`]); payments still in flight are voided, so a late success is refunded too.
///
/// # Errors
/// `CONFLICT` when the order has shipped or is closed, `FORBIDDEN` when a buyer cancels a paid
/// order.
#[instrument(skip_all, fields(order.id = %order_id), err(Debug, level = "debug"))]
pub async fn cancel(
    db: &Db,
    payments: &Payments,
    order_id: Uuid,
    by: Canceller,
    note: &str,
) -> AppResult<order::Model> {
    let txn = db.begin_write().await?;
    db::claim::<order::Entity>(&txn, order::Column::UpdatedAt, order::Column::Id.eq(order_id)).await?;
    let before = order::Entity::find_by_id(order_id).one(&txn).await?.ok_or_else(|| AppError::not_found("order"))?;
    if before.status == OrderStatus::Paid && !by.manages_orders {
        return Err(AppError::forbidden("a paid order is cancelled by staff, who refund it"));
    }
    let order = advance(&txn, order_id, OrderStatus::Cancelled).await?;
    let due = refunds::schedule(&txn, order_id).await?;
    payment_service::void_pending(&txn, order_id).await?;
    return_stock(&txn, order_id, MovementReason::Cancel, by.actor, note).await?;
    txn.commit().await?;
    tracing::info!(order.id = %order_id, "order cancelled");
    refunds::send_all(db, payments, &due).await;
    Ok(order)
}

/// Refunds a paid, fulfilled or completed order through the provider; stock comes back as
/// REFUND rows. The refund is recorded with the order's new state and sent after commit; a
/// provider failure leaves it recorded, and the sweeper retries it until the provider confirms.
///
/// # Errors
/// `CONFLICT` when the order is not paid or already closed.
#[instrument(skip_all, fields(order.id = %order_id), err(Debug, level = "debug"))]
pub async fn refund(
    db: &Db,
    payments: &Payments,
    order_id: Uuid,
    actor: Option<Uuid>,
    note: &str,
) -> AppResult<order::Model> {
    let txn = db.begin_write().await?;
    let order = advance(&txn, order_id, OrderStatus::Refunded).await?;
    let due = refunds::schedule(&txn, order_id).await?;
    return_stock(&txn, order_id, MovementReason::Refund, actor, note).await?;
    txn.commit().await?;
    tracing::info!(order.id = %order_id, "order refunded");
    refunds::send_all(db, payments, &due).await;
    Ok(order)
}

/// Marks a vendor's part of a paid order shipped; when every part has shipped the order becomes
/// FULFILLED.
///
/// # Errors
/// `CONFLICT` when the order is not paid or the part already shipped.
#[instrument(skip_all, fields(fulfilment.id = %shipped.id), err(Debug, level = "debug"))]
pub async fn ship(db: &Db, shipped: &fulfilment::Model, tracking: Option<String>) -> AppResult<fulfilment::Model> {
    let txn = db.begin_write().await?;
    let paid = order::Column::Id.eq(shipped.order_id).and(order::Column::Status.eq(OrderStatus::Paid));
    if db::claim::<order::Entity>(&txn, order::Column::UpdatedAt, paid).await? == 0 {
        return Err(AppError::conflict("only a paid order ships"));
    }
    let changed = fulfilment::Entity::update_many()
        .col_expr(fulfilment::Column::Status, Expr::value(FulfilmentStatus::Fulfilled))
        .col_expr(fulfilment::Column::TrackingNumber, Expr::value(tracking))
        .col_expr(fulfilment::Column::FulfilledAt, Expr::value(db::now()))
        .filter(fulfilment::Column::Id.eq(shipped.id))
        .filter(fulfilment::Column::Status.eq(FulfilmentStatus::Pending))
        .exec(&txn)
        .await?;
    if changed.rows_affected == 0 {
        return Err(AppError::conflict("this part of the order has already shipped"));
    }
    let pending = fulfilment::Entity::find()
        .filter(fulfilment::Column::OrderId.eq(shipped.order_id))
        .filter(fulfilment::Column::Status.eq(FulfilmentStatus::Pending))
        .count(&txn)
        .await?;
    if pending == 0 {
        advance(&txn, shipped.order_id, OrderStatus::Fulfilled).await?;
    }
    let updated =
        fulfilment::Entity::find_by_id(shipped.id).one(&txn).await?.ok_or_else(|| AppError::not_found("fulfilment"))?;
    txn.commit().await?;
    Ok(updated)
}

/// Cancels unpaid orders whose time ran out, up to `limit` of them, and returns how many. Safe
/// with several replicas sweeping at once: each order is cancelled by exactly one of them.
///
/// # Errors
/// When the store fails.
pub async fn expire_unpaid(db: &Db, payments: &Payments, limit: u64) -> AppResult<usize> {
    let due: Vec<Uuid> = order::Entity::find()
        .select_only()
        .column(order::Column::Id)
        .filter(order::Column::Status.eq(OrderStatus::PendingPayment))
        .filter(order::Column::ExpiresAt.lte(db::now()))
        .order_by_asc(order::Column::ExpiresAt)
        .limit(limit)
        .into_tuple()
        .all(db.conn())
        .await?;
    let mut expired = 0;
    for order_id in due {
        let by = Canceller { actor: None, manages_orders: false };
        match cancel(db, payments, order_id, by, "expired unpaid").await {
            Ok(_) => expired += 1,
            Err(error) if error.code() == ErrorCode::Conflict => {} // paid or cancelled meanwhile
            Err(error) => return Err(error),
        }
    }
    Ok(expired)
}
