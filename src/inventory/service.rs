//! Moving stock and reading the ledger.

use entity::stock_movement::{self, MovementReason};
use entity::{ProductStatus, product};
use sea_orm::ExprTrait;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::db::{self, Db};
use crate::error::{AppError, AppResult, ErrorCode};

/// The longest note a movement carries.
pub const MAX_NOTE_CHARS: usize = 300;

/// One change of a product's stock.
#[derive(Clone, Debug)]
pub struct Movement {
    /// The product.
    pub product_id: Uuid,
    /// Units added (positive) or removed (negative).
    pub delta: i32,
    /// Why.
    pub reason: MovementReason,
    /// The order that caused it.
    pub order_id: Option<Uuid>,
    /// The account that caused it.
    pub actor_id: Option<Uuid>,
    /// A free-form note.
    pub note: String,
    /// A status to set in the same write (a one-of-a-kind piece's ACTIVE → RESERVED, …).
    pub status: Option<ProductStatus>,
}

impl Movement {
    /// A movement of `delta` units of `product_id` for `reason`, with no order, actor or note.
    pub fn new(product_id: Uuid, delta: i32, reason: MovementReason) -> Self {
        Self { product_id, delta, reason, order_id: None, actor_id: None, note: String::new(), status: None }
    }
}

/// Applies a movement to the product's stock and appends it to the ledger, on `conn` (the
/// caller's transaction). The stock never goes below zero: the update is conditional.
///
/// # Errors
/// `OUT_OF_STOCK` when fewer units are left than `-delta`, `NOT_FOUND` for an unknown product,
/// `BAD_USER_INPUT` for a note that is too long or a one-of-a-kind piece given a second unit.
pub async fn move_stock(conn: &impl ConnectionTrait, movement: Movement) -> AppResult<i32> {
    if movement.note.chars().count() > MAX_NOTE_CHARS {
        return Err(AppError::bad_input(format!("a stock note has at most {MAX_NOTE_CHARS} characters")));
    }
    let mut update = product::Entity::update_many()
        .col_expr(product::Column::Stock, Expr::col(product::Column::Stock).add(movement.delta))
        .col_expr(product::Column::UpdatedAt, Expr::value(db::now()))
        .filter(product::Column::Id.eq(movement.product_id))
        .filter(Expr::expr(Expr::col(product::Column::Stock).add(movement.delta)).gte(0));
    if let Some(status) = movement.status {
        update = update.col_expr(product::Column::Status, Expr::value(status));
    }
    let result = update.exec(conn).await.map_err(|error| {
        if error.to_string().contains("one-of-a-kind") {
            AppError::bad_input("a one-of-a-kind product holds at most one unit")
        } else {
            error.into()
        }
    })?;
    let stock_after = product::Entity::find_by_id(movement.product_id)
        .select_only()
        .column(product::Column::Stock)
        .into_tuple::<i32>()
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("product"))?;
    if result.rows_affected == 0 {
        return Err(AppError::new(
            ErrorCode::OutOfStock,
            format!("only {stock_after} left; cannot remove {}", movement.delta.unsigned_abs()),
        ));
    }
    stock_movement::Entity::insert(stock_movement::ActiveModel {
        product_id: Set(movement.product_id),
        delta: Set(movement.delta),
        stock_after: Set(stock_after),
        reason: Set(movement.reason),
        order_id: Set(movement.order_id),
        actor_id: Set(movement.actor_id),
        note: Set(movement.note),
        created_at: Set(db::now()),
        ..Default::default()
    })
    .exec_without_returning(conn)
    .await?;
    Ok(stock_after)
}

/// Appends the opening stock of newly inserted products to the ledger (their `stock` column
/// already holds it), on `conn`.
///
/// # Errors
/// When the store fails.
pub async fn record_opening_stock(conn: &impl ConnectionTrait, products: &[(Uuid, i32)]) -> AppResult<()> {
    let now = db::now();
    let rows: Vec<_> = products
        .iter()
        .filter(|(_, stock)| *stock > 0)
        .map(|&(product_id, stock)| stock_movement::ActiveModel {
            product_id: Set(product_id),
            delta: Set(stock),
            stock_after: Set(stock),
            reason: Set(MovementReason::Restock),
            order_id: Set(None),
            actor_id: Set(None),
            note: Set("opening stock".to_owned()),
            created_at: Set(now),
            ..Default::default()
        })
        .collect();
    for chunk in rows.chunks(1000) {
        stock_movement::Entity::insert_many(chunk.to_vec()).exec_without_returning(conn).await?;
    }
    Ok(())
}

/// Adds or removes units by hand (a delivery, a stock count), in its own transaction.
///
/// # Errors
/// `BAD_USER_INPUT` for a zero delta or a reason that belongs to orders, plus those of
/// [`move_stock`].
pub async fn adjust_stock(db: &Db, movement: Movement) -> AppResult<i32> {
    if movement.delta == 0 {
        return Err(AppError::bad_input("the stock change must not be zero"));
    }
    if !matches!(movement.reason, MovementReason::Restock | MovementReason::Adjustment) {
        return Err(AppError::bad_input("a manual stock change is a RESTOCK or an ADJUSTMENT"));
    }
    let txn = db.begin_write().await?;
    let stock = move_stock(&txn, movement).await?;
    txn.commit().await?;
    Ok(stock)
}

/// A product's ledger, oldest first, after the row `after` (exclusive).
///
/// # Errors
/// When the store fails.
pub async fn movements(
    db: &Db,
    product_id: Uuid,
    after: Option<i64>,
    limit: u64,
) -> AppResult<Vec<stock_movement::Model>> {
    Ok(stock_movement::Entity::find()
        .filter(stock_movement::Column::ProductId.eq(product_id))
        .filter(stock_movement::Column::Id.gt(after.unwrap_or(0)))
        .order_by_asc(stock_movement::Column::Id)
        .limit(limit)
        .all(db.conn())
        .await?)
}
