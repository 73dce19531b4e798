//! Reading orders and fulfilments, limited to what the caller may see.

use std::collections::HashMap;

use entity::{FulfilmentStatus, OrderStatus, cart, fulfilment, order, order_line, payment};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::identity::tokens::token_hash;
use crate::identity::viewer::{Permission, Viewer};

/// An order with its lines, fulfilments and payments.
#[derive(Clone, Debug)]
pub struct OrderDetails {
    /// The order.
    pub order: order::Model,
    /// Snapshot lines in order.
    pub lines: Vec<order_line::Model>,
    /// One per vendor.
    pub fulfilments: Vec<fulfilment::Model>,
    /// Payment attempts, oldest first.
    pub payments: Vec<payment::Model>,
}

/// The order `id` if the caller may see it: staff any order, a customer their own, a guest an
/// order placed from the cart whose token they hold.
///
/// # Errors
/// `NOT_FOUND` otherwise.
pub async fn visible_order(
    conn: &impl ConnectionTrait,
    id: Uuid,
    viewer: &Viewer,
    cart_token: Option<&str>,
) -> AppResult<order::Model> {
    let order = order::Entity::find_by_id(id).one(conn).await?.ok_or_else(|| AppError::not_found("order"))?;
    let visible = viewer.can(Permission::OrdersReadAny) || is_buyer(conn, &order, viewer, cart_token).await?;
    if visible { Ok(order) } else { Err(AppError::not_found("order")) }
}

/// Whether the viewer placed the order: its customer, or the guest holding its cart's token.
///
/// # Errors
/// When the store fails.
pub async fn is_buyer(
    conn: &impl ConnectionTrait,
    order: &order::Model,
    viewer: &Viewer,
    cart_token: Option<&str>,
) -> AppResult<bool> {
    Ok(match order.user_id {
        Some(owner) => viewer.user_id() == Some(owner),
        None => match cart_token {
            Some(token) => cart::Entity::find_by_id(order.cart_id)
                .one(conn)
                .await?
                .is_some_and(|c| c.token_hash.as_deref() == Some(token_hash(token).as_str())),
            None => false,
        },
    })
}

/// Loads the lines, fulfilments and payments of many orders in three queries.
///
/// # Errors
/// When the store fails.
pub async fn with_details(conn: &impl ConnectionTrait, orders: Vec<order::Model>) -> AppResult<Vec<OrderDetails>> {
    let ids: Vec<Uuid> = orders.iter().map(|o| o.id).collect();
    let mut lines = group(
        order_line::Entity::find()
            .filter(order_line::Column::OrderId.is_in(ids.clone()))
            .order_by_asc(order_line::Column::Position)
            .all(conn)
            .await?,
        |l| l.order_id,
    );
    let mut fulfilments = group(
        fulfilment::Entity::find()
            .filter(fulfilment::Column::OrderId.is_in(ids.clone()))
            .order_by_asc(fulfilment::Column::Id)
            .all(conn)
            .await?,
        |f| f.order_id,
    );
    let mut payments = group(
        payment::Entity::find()
            .filter(payment::Column::OrderId.is_in(ids))
            .order_by_asc(payment::Column::CreatedAt)
            .all(conn)
            .await?,
        |p| p.order_id,
    );
    Ok(orders
        .into_iter()
        .map(|order| OrderDetails {
            lines: lines.remove(&order.id).unwrap_or_default(),
            fulfilments: fulfilments.remove(&order.id).unwrap_or_default(),
            payments: payments.remove(&order.id).unwrap_or_default(),
            order,
        })
        .collect())
}

fn group<T>(rows: Vec<T>, key: impl Fn(&T) -> Uuid) -> HashMap<Uuid, Vec<T>> {
    let mut grouped: HashMap<Uuid, Vec<T>> = HashMap::new();
    for row in rows {
        grouped.entry(key(&row)).or_default().push(row);
    }
    grouped
}

/// A page of orders, newest first (ids are time-ordered UUIDv7), after the order `after`: the
/// caller's own, or every order for staff; at most `limit` rows.
///
/// # Errors
/// `FORBIDDEN` for a caller without an account; when the store fails.
pub async fn list_orders(
    db: &Db,
    viewer: &Viewer,
    status: Option<OrderStatus>,
    after: Option<Uuid>,
    limit: u64,
) -> AppResult<Vec<order::Model>> {
    let mut query = order::Entity::find();
    if !viewer.can(Permission::OrdersReadAny) {
        let owner = viewer.user_id().ok_or_else(|| AppError::forbidden("sign in to see orders"))?;
        query = query.filter(order::Column::UserId.eq(owner));
    }
    if let Some(status) = status {
        query = query.filter(order::Column::Status.eq(status));
    }
    if let Some(after) = after {
        query = query.filter(order::Column::Id.lt(after));
    }
    Ok(query.order_by_desc(order::Column::Id).limit(limit).all(db.conn()).await?)
}

/// A page of fulfilments, newest first, after the fulfilment `after`: a vendor's own, or every
/// vendor's for staff; at most `limit` rows.
///
/// # Errors
/// `FORBIDDEN` for callers who are neither; when the store fails.
pub async fn list_fulfilments(
    db: &Db,
    viewer: &Viewer,
    status: Option<FulfilmentStatus>,
    after: Option<Uuid>,
    limit: u64,
) -> AppResult<Vec<fulfilment::Model>> {
    let mut query = fulfilment::Entity::find();
    if !viewer.can(Permission::OrdersReadAny) {
        let vendor = viewer.vendor_id().ok_or_else(|| AppError::forbidden("only vendors and staff see fulfilments"))?;
        query = query.filter(fulfilment::Column::VendorId.eq(vendor));
    }
    if let Some(status) = status {
        query = query.filter(fulfilment::Column::Status.eq(status));
    }
    if let Some(after) = after {
        query = query.filter(fulfilment::Column::Id.lt(after));
    }
    Ok(query.order_by_desc(fulfilment::Column::Id).limit(limit).all(db.conn()).await?)
}

/// A fulfilment the caller may ship: their vendor's, or any for staff who manage orders.
///
/// # Errors
/// `NOT_FOUND` otherwise.
pub async fn shippable_fulfilment(db: &Db, id: Uuid, viewer: &Viewer) -> AppResult<fulfilment::Model> {
    let found = fulfilment::Entity::find_by_id(id).one(db.conn()).await?;
    found
        .filter(|f| viewer.can(Permission::OrdersManage) || viewer.vendor_id() == Some(f.vendor_id))
        .ok_or_else(|| AppError::not_found("fulfilment"))
}

/// The lines of some fulfilments, in two maps: by fulfilment, and the orders they belong to.
///
/// # Errors
/// When the store fails.
pub async fn fulfilment_context(
    conn: &impl ConnectionTrait,
    fulfilments: &[fulfilment::Model],
) -> AppResult<(HashMap<Uuid, Vec<order_line::Model>>, HashMap<Uuid, order::Model>)> {
    let lines = group(
        order_line::Entity::find()
            .filter(order_line::Column::FulfilmentId.is_in(fulfilments.iter().map(|f| f.id)))
            .order_by_asc(order_line::Column::Position)
            .all(conn)
            .await?,
        |l| l.fulfilment_id,
    );
    let orders = order::Entity::find()
        .filter(order::Column::Id.is_in(fulfilments.iter().map(|f| f.order_id)))
        .all(conn)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    Ok((lines, orders))
}
