//! Holds on one-of-a-kind pieces. Putting a unique piece in a cart holds it for that cart for
//! `orders.hold_minutes`: other shoppers see it `RESERVED` until then and cannot add it. Nothing
//! has to run for a hold to end: a lapsed hold is simply not a hold. The store decides who gets a
//! piece (one conditional `UPDATE`), so two replicas cannot both hand it out.
//!
//! A hold is the cheapest way to hoard, so holds are bounded per guest cart, per account and per
//! client address.

use chrono::{DateTime, Duration, Utc};
use entity::{ProductStatus, cart, product};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

pub use crate::catalog::hold::{held_by_another, held_until};
use crate::config::OrderSettings;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::graphql::ids::{GlobalId, NodeType};
use crate::identity::viewer::ClientInfo;

/// Holds `product` for `cart` (keeping an earlier hold's end: adding again does not extend it).
///
/// # Errors
/// `OUT_OF_STOCK` when another shopper holds it or it is not for sale; `RATE_LIMITED` when the
/// shopper or its address already holds as many pieces as allowed.
pub async fn take(
    conn: &impl ConnectionTrait,
    settings: &OrderSettings,
    cart: &cart::Model,
    client: &ClientInfo,
    product: &product::Model,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if product.held_by_cart == Some(cart.id) && held_until(product, now).is_some() {
        return Ok(());
    }
    let active = || product::Entity::find().filter(product::Column::HeldUntil.gt(now));
    let too_many = || {
        AppError::new(
            ErrorCode::RateLimited,
            "you hold as many unique pieces as allowed: check out or remove one first",
        )
    };
    let (held, limit) = match cart.user_id {
        Some(user) => {
            let carts = Query::select()
                .column(cart::Column::Id)
                .from(cart::Entity)
                .and_where(cart::Column::UserId.eq(user))
                .to_owned();
            (
                active().filter(product::Column::HeldByCart.in_subquery(carts)).count(conn).await?,
                settings.max_holds_per_account,
            )
        }
        None => {
            (active().filter(product::Column::HeldByCart.eq(cart.id)).count(conn).await?, settings.max_holds_per_guest)
        }
    };
    if held >= limit {
        return Err(too_many());
    }
    if let Some(ip) = &client.ip
        && active().filter(product::Column::HeldFrom.eq(ip.as_str())).count(conn).await? >= settings.max_holds_per_ip
    {
        return Err(too_many());
    }
    let until = now + Duration::minutes(i64::try_from(settings.hold_minutes).unwrap_or(15));
    let free = Condition::any()
        .add(product::Column::HeldByCart.is_null())
        .add(product::Column::HeldUntil.lte(now))
        .add(product::Column::HeldByCart.eq(cart.id));
    let taken = product::Entity::update_many()
        .col_expr(product::Column::HeldByCart, Expr::value(cart.id))
        .col_expr(product::Column::HeldUntil, Expr::value(until))
        .col_expr(product::Column::HeldFrom, Expr::value(client.ip.clone()))
        .filter(product::Column::Id.eq(product.id))
        .filter(product::Column::Status.eq(ProductStatus::Active))
        .filter(product::Column::Stock.gte(1))
        .filter(free)
        .exec(conn)
        .await?;
    if taken.rows_affected == 0 {
        return Err(AppError::new(ErrorCode::OutOfStock, "another shopper holds this piece; try again later")
            .with_ids(vec![GlobalId::encode(NodeType::Product, product.id)]));
    }
    Ok(())
}

/// Ends the holds of `cart`: on one product, or on all of them.
///
/// # Errors
/// When the store fails.
pub async fn release(conn: &impl ConnectionTrait, cart_id: Uuid, product_id: Option<Uuid>) -> AppResult<()> {
    let mut release = product::Entity::update_many()
        .col_expr(product::Column::HeldByCart, Expr::value(Option::<Uuid>::None))
        .col_expr(product::Column::HeldUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(product::Column::HeldFrom, Expr::value(Option::<String>::None))
        .filter(product::Column::HeldByCart.eq(cart_id));
    if let Some(product_id) = product_id {
        release = release.filter(product::Column::Id.eq(product_id));
    }
    release.exec(conn).await?;
    Ok(())
}

/// Moves the holds of one cart to another (a guest's cart merged into an account's).
///
/// # Errors
/// When the store fails.
pub async fn transfer(conn: &impl ConnectionTrait, from: Uuid, to: Uuid) -> AppResult<()> {
    product::Entity::update_many()
        .col_expr(product::Column::HeldByCart, Expr::value(to))
        .filter(product::Column::HeldByCart.eq(from))
        .exec(conn)
        .await?;
    Ok(())
}
