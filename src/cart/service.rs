//! Cart use cases. Every function that takes a cart id first checks that the caller owns it:
//! a customer's cart belongs to its account, a guest cart to whoever holds its token. A cart
//! the caller does not own is `NOT_FOUND`, so cart ids reveal nothing.

use std::collections::HashMap;

use entity::{ProductStatus, cart, cart_line, product};
use sea_orm::ModelTrait;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use tracing::instrument;
use uuid::Uuid;

use crate::config::OrderSettings;
use crate::db::{self, Db};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::identity::tokens::{opaque_token, token_hash};
use crate::identity::viewer::{ClientInfo, Viewer};

use super::holds;

/// A cart line with the product as it is now (`None` when the product no longer exists).
pub type LineWithProduct = (cart_line::Model, Option<product::Model>);

/// A cart with its lines, oldest first.
#[derive(Clone, Debug)]
pub struct CartContents {
    /// The cart.
    pub cart: cart::Model,
    /// Its lines with their products.
    pub lines: Vec<LineWithProduct>,
}

/// Opens a cart. A signed-in customer gets their cart (created on first use) and no token; a
/// guest gets a new cart and its token, shown only this once.
///
/// # Errors
/// When the store fails.
#[instrument(skip_all, err(Debug, level = "debug"))]
pub async fn open_cart(db: &Db, viewer: &Viewer) -> AppResult<(cart::Model, Option<String>)> {
    if let Some(user_id) = viewer.user_id() {
        return Ok((customer_cart(db.conn(), user_id).await?, None));
    }
    let token = opaque_token("aec_");
    let now = db::now();
    let created = cart::Entity::insert(cart::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(None),
        token_hash: Set(Some(token_hash(&token))),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_with_returning(db.conn())
    .await?;
    Ok((created, Some(token)))
}

/// The customer's cart, created on first use.
async fn customer_cart(conn: &impl ConnectionTrait, user_id: Uuid) -> AppResult<cart::Model> {
    if let Some(cart) = cart::Entity::find().filter(cart::Column::UserId.eq(user_id)).one(conn).await? {
        return Ok(cart);
    }
    let now = db::now();
    let row = cart::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(Some(user_id)),
        token_hash: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    // Two first requests may race; the unique index keeps one cart, and the loser reads it.
    match cart::Entity::insert(row).exec_with_returning(conn).await {
        Ok(cart) => Ok(cart),
        Err(_) => cart::Entity::find()
            .filter(cart::Column::UserId.eq(user_id))
            .one(conn)
            .await?
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("customer cart vanished"))),
    }
}

/// Like [`owned_cart`], as the first statement of a write transaction: it claims the cart row
/// first (see [`db::claim`]).
pub async fn claim_owned_cart(
    conn: &impl ConnectionTrait,
    id: Uuid,
    viewer: &Viewer,
    token: Option<&str>,
) -> AppResult<cart::Model> {
    db::claim::<cart::Entity>(conn, cart::Column::UpdatedAt, cart::Column::Id.eq(id)).await?;
    owned_cart(conn, id, viewer, token).await
}

/// The cart `id` if the caller owns it.
///
/// # Errors
/// `NOT_FOUND` when it does not exist or belongs to someone else.
pub async fn owned_cart(
    conn: &impl ConnectionTrait,
    id: Uuid,
    viewer: &Viewer,
    token: Option<&str>,
) -> AppResult<cart::Model> {
    let cart = cart::Entity::find_by_id(id).one(conn).await?.ok_or_else(|| AppError::not_found("cart"))?;
    let owns = match (cart.user_id, &cart.token_hash) {
        (Some(owner), _) => viewer.user_id() == Some(owner),
        (None, Some(hash)) => token.is_some_and(|t| token_hash(t) == *hash),
        (None, None) => false,
    };
    if owns { Ok(cart) } else { Err(AppError::not_found("cart")) }
}

/// The cart's lines with their current products, in two queries.
///
/// # Errors
/// When the store fails.
pub async fn contents(conn: &impl ConnectionTrait, cart: cart::Model) -> AppResult<CartContents> {
    let lines = cart
        .find_related(cart_line::Entity)
        .order_by_asc(cart_line::Column::CreatedAt)
        .order_by_asc(cart_line::Column::Id)
        .all(conn)
        .await?;
    let mut products: HashMap<Uuid, product::Model> = product::Entity::find()
        .filter(product::Column::Id.is_in(lines.iter().map(|l| l.product_id)))
        .all(conn)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let lines = lines
        .into_iter()
        .map(|line| {
            let product = products.remove(&line.product_id);
            (line, product)
        })
        .collect();
    Ok(CartContents { cart, lines })
}

/// Checks that `quantity` units of `product` may sit in one cart line.
fn check_quantity(product: &product::Model, quantity: i32, settings: &OrderSettings) -> AppResult<()> {
    if quantity < 1 || quantity > settings.max_quantity_per_line {
        return Err(AppError::bad_input(format!(
            "the quantity must be between 1 and {}",
            settings.max_quantity_per_line
        )));
    }
    if product.one_of_a_kind && quantity > 1 {
        return Err(AppError::bad_input("a one-of-a-kind piece can be in a cart only once"));
    }
    if product.status != ProductStatus::Active {
        return Err(AppError::new(ErrorCode::OutOfStock, "this product is not for sale"));
    }
    if quantity > product.stock {
        return Err(AppError::new(ErrorCode::OutOfStock, format!("only {} left", product.stock)));
    }
    Ok(())
}

/// A product a shopper may put in a cart: listed and visible.
async fn purchasable(conn: &impl ConnectionTrait, product_id: Uuid) -> AppResult<product::Model> {
    product::Entity::find_by_id(product_id)
        .one(conn)
        .await?
        .filter(|p| !matches!(p.status, ProductStatus::Draft))
        .ok_or_else(|| AppError::not_found("product"))
}

/// What to do to one line of a cart.
#[derive(Clone, Copy, Debug)]
pub enum LineChange {
    /// Add units (a new line, or more of an existing one).
    Add(i32),
    /// Set the line's quantity; 0 removes it.
    Set(i32),
}

/// Adds, changes or removes the line of `product_id`. The line takes the product's current
/// price, which the shopper thereby accepts.
///
/// # Errors
/// `NOT_FOUND` for a cart the caller does not own or an unknown product; `BAD_USER_INPUT` for a
/// quantity out of bounds, a second unit of a one-of-a-kind piece or a full cart;
/// `OUT_OF_STOCK` when the product is not for sale or has fewer units.
#[instrument(skip_all, fields(cart.id = %cart_id, product.id = %product_id), err(Debug, level = "debug"))]
pub async fn change_line(
    db: &Db,
    settings: &OrderSettings,
    (cart_id, viewer, token): (Uuid, &Viewer, Option<&str>),
    client: &ClientInfo,
    product_id: Uuid,
    change: LineChange,
) -> AppResult<CartContents> {
    if let LineChange::Add(n) | LineChange::Set(n) = change
        && n < 0
    {
        return Err(AppError::bad_input("the quantity must not be negative"));
    }
    let txn = db.begin_write().await?;
    let cart = claim_owned_cart(&txn, cart_id, viewer, token).await?;
    let existing = cart_line::Entity::find()
        .filter(cart_line::Column::CartId.eq(cart.id))
        .filter(cart_line::Column::ProductId.eq(product_id))
        .one(&txn)
        .await?;
    let quantity = match (change, &existing) {
        (LineChange::Add(n), Some(line)) => line.quantity.saturating_add(n),
        (LineChange::Add(n) | LineChange::Set(n), _) => n,
    };
    let now = db::now();
    match existing {
        Some(line) if quantity == 0 => {
            cart_line::Entity::delete_by_id(line.id).exec(&txn).await?;
            holds::release(&txn, cart.id, Some(product_id)).await?;
        }
        None if quantity == 0 => {
            if matches!(change, LineChange::Add(_)) {
                return Err(AppError::bad_input(format!(
                    "the quantity must be between 1 and {}",
                    settings.max_quantity_per_line
                )));
            }
        }
        existing => {
            let product = purchasable(&txn, product_id).await?;
            check_quantity(&product, quantity, settings)?;
            if product.one_of_a_kind {
                holds::take(&txn, settings, &cart, client, &product, now).await?;
            }
            if let Some(line) = existing {
                let mut row: cart_line::ActiveModel = line.into();
                row.quantity = Set(quantity);
                row.unit_price_minor = Set(product.price_minor);
                row.currency = Set(product.currency.clone());
                row.updated_at = Set(now);
                sea_orm::ActiveModelTrait::update(row, &txn).await?;
            } else {
                let lines = cart_line::Entity::find().filter(cart_line::Column::CartId.eq(cart.id)).count(&txn).await?;
                if lines >= settings.max_lines_per_cart {
                    return Err(AppError::bad_input(format!(
                        "a cart holds at most {} different products",
                        settings.max_lines_per_cart
                    )));
                }
                cart_line::Entity::insert(cart_line::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    cart_id: Set(cart.id),
                    product_id: Set(product_id),
                    quantity: Set(quantity),
                    unit_price_minor: Set(product.price_minor),
                    currency: Set(product.currency.clone()),
                    created_at: Set(now),
                    updated_at: Set(now),
                })
                .exec_without_returning(&txn)
                .await?;
            }
        }
    }
    let contents = contents(&txn, cart).await?;
    txn.commit().await?;
    Ok(contents)
}

/// Empties a cart.
///
/// # Errors
/// `NOT_FOUND` for a cart the caller does not own.
pub async fn clear(db: &Db, cart_id: Uuid, viewer: &Viewer, token: Option<&str>) -> AppResult<CartContents> {
    let txn = db.begin_write().await?;
    let cart = claim_owned_cart(&txn, cart_id, viewer, token).await?;
    cart_line::Entity::delete_many().filter(cart_line::Column::CartId.eq(cart.id)).exec(&txn).await?;
    holds::release(&txn, cart.id, None).await?;
    txn.commit().await?;
    Ok(CartContents { cart, lines: Vec::new() })
}

/// Accepts the current price of every line, after a price change was reported.
///
/// # Errors
/// `NOT_FOUND` for a cart the caller does not own.
pub async fn accept_prices(db: &Db, cart_id: Uuid, viewer: &Viewer, token: Option<&str>) -> AppResult<CartContents> {
    let txn = db.begin_write().await?;
    let cart = claim_owned_cart(&txn, cart_id, viewer, token).await?;
    let current = contents(&txn, cart).await?;
    for (line, product) in &current.lines {
        let Some(product) = product else { continue };
        if line.unit_price_minor != product.price_minor || line.currency != product.currency {
            let mut row: cart_line::ActiveModel = line.clone().into();
            row.unit_price_minor = Set(product.price_minor);
            row.currency = Set(product.currency.clone());
            row.updated_at = Set(db::now());
            sea_orm::ActiveModelTrait::update(row, &txn).await?;
        }
    }
    let contents = contents(&txn, current.cart).await?;
    txn.commit().await?;
    Ok(contents)
}

/// Moves the lines of the guest cart holding `token` into the customer's cart and deletes the
/// guest cart. Quantities of a product in both add up, within the per-line limit (one for a
/// one-of-a-kind piece). Does nothing when the token matches no guest cart.
///
/// # Errors
/// When the store fails.
#[instrument(skip_all, fields(user.id = %user_id), err(Debug, level = "debug"))]
pub async fn merge_guest_cart(db: &Db, settings: &OrderSettings, token: &str, user_id: Uuid) -> AppResult<()> {
    let txn = db.begin_write().await?;
    db::claim::<cart::Entity>(&txn, cart::Column::UpdatedAt, cart::Column::TokenHash.eq(token_hash(token))).await?;
    let Some(guest) = cart::Entity::find()
        .filter(cart::Column::TokenHash.eq(token_hash(token)))
        .filter(cart::Column::UserId.is_null())
        .one(&txn)
        .await?
    else {
        return Ok(());
    };
    let customer = customer_cart(&txn, user_id).await?;
    let guest = contents(&txn, guest).await?;
    let mine: HashMap<Uuid, cart_line::Model> = cart_line::Entity::find()
        .filter(cart_line::Column::CartId.eq(customer.id))
        .all(&txn)
        .await?
        .into_iter()
        .map(|l| (l.product_id, l))
        .collect();
    for (line, product) in guest.lines {
        let Some(product) = product else { continue };
        let cap = if product.one_of_a_kind { 1 } else { settings.max_quantity_per_line };
        match mine.get(&line.product_id) {
            Some(existing) => {
                let mut row: cart_line::ActiveModel = existing.clone().into();
                row.quantity = Set(existing.quantity.saturating_add(line.quantity).min(cap));
                row.updated_at = Set(db::now());
                sea_orm::ActiveModelTrait::update(row, &txn).await?;
            }
            None => {
                cart_line::Entity::insert(cart_line::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    cart_id: Set(customer.id),
                    product_id: Set(line.product_id),
                    quantity: Set(line.quantity.min(cap)),
                    unit_price_minor: Set(line.unit_price_minor),
                    currency: Set(line.currency),
                    created_at: Set(line.created_at),
                    updated_at: Set(db::now()),
                })
                .exec_without_returning(&txn)
                .await?;
            }
        }
    }
    holds::transfer(&txn, guest.cart.id, customer.id).await?;
    cart::Entity::delete_by_id(guest.cart.id).exec(&txn).await?;
    db::claim::<cart::Entity>(&txn, cart::Column::UpdatedAt, cart::Column::Id.eq(customer.id)).await?;
    txn.commit().await?;
    Ok(())
}
