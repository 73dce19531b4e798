//! Placing an order from a cart, in one transaction.
//!
//! The transaction's first statement writes the cart row: on PostgreSQL that row lock
//! serialises checkouts of one cart (so a retried request finds the first one's order), and on
//! SQLite it takes the write lock at once, like `BEGIN IMMEDIATE`. Products are then locked in
//! id order (`FOR UPDATE` on PostgreSQL), so mixed carts racing for the same products wait for
//! each other instead of deadlocking, and the last unit goes to exactly one buyer.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::Duration;
use entity::{FulfilmentStatus, MovementReason};
use entity::{OrderStatus, ProductStatus, cart_line, fulfilment, order, order_line, product, product_image, vendor};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::{Map, Value};
use tracing::instrument;
use uuid::Uuid;

use super::address::Address;
use super::holds;
use crate::cart::service as carts;
use crate::config::OrderSettings;
use crate::db::{self, Db};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::graphql::ids::{GlobalId, NodeType};
use crate::identity::credentials::Email;
use crate::identity::viewer::{ClientInfo, Viewer};
use crate::inventory::service::{Movement, move_stock};

/// What a checkout asks for.
#[derive(Clone, Debug)]
pub struct CheckoutRequest {
    /// The cart to buy.
    pub cart_id: Uuid,
    /// Where to ship.
    pub address: Address,
    /// Where order messages go; a customer's account email when `None`.
    pub email: Option<Email>,
    /// The client's key: a retry with the same key and input returns the same order.
    pub idempotency_key: String,
}

impl CheckoutRequest {
    /// A digest of everything the request asks, to tell a retry from a different request.
    fn fingerprint(&self) -> String {
        let canonical = serde_json::json!({
            "cart": self.cart_id,
            "address": self.address,
            "email": self.email.as_ref().map(Email::as_str),
        });
        crate::digest::sha256_hex(&canonical.to_string())
    }
}

/// Checks a client's idempotency key: 8 to 100 visible ASCII characters (a UUID fits).
///
/// # Errors
/// `BAD_USER_INPUT` otherwise.
pub fn parse_idempotency_key(key: &str) -> AppResult<String> {
    if (8..=100).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(key.to_owned())
    } else {
        Err(AppError::bad_input("the idempotency key must be 8 to 100 visible ASCII characters, such as a UUID"))
    }
}

/// Places an order from the cart: re-checks every product's status, stock and price under lock,
/// takes the stock (a one-of-a-kind piece becomes RESERVED), writes the order, its per-vendor
/// fulfilments and snapshot lines, and empties the cart.
///
/// # Errors
/// `NOT_FOUND` for a cart the caller does not own; `BAD_USER_INPUT` for an empty cart, several
/// currencies, or a guest without an email; `OUT_OF_STOCK` when a product is no longer for
/// sale or short of units; `PRICE_CHANGED` when a price moved since the shopper accepted it;
/// `CONFLICT` when the idempotency key was used for a different request. Nothing is written
/// on error.
#[instrument(skip_all, fields(cart.id = %request.cart_id), err(Debug, level = "debug"))]
pub async fn place_order(
    db: &Db,
    settings: &OrderSettings,
    viewer: &Viewer,
    client: &ClientInfo,
    cart_token: Option<&str>,
    request: CheckoutRequest,
) -> AppResult<order::Model> {
    let fingerprint = request.fingerprint();
    let email = match (&request.email, viewer.user_id()) {
        (Some(email), _) => email.as_str().to_owned(),
        (None, Some(user_id)) => crate::identity::service::user_by_id(db, user_id).await?.email,
        (None, None) => return Err(AppError::bad_input("a guest checkout needs an `email`")),
    };
    let txn = db.begin_write().await?;

    // Write first: lock the cart row (PostgreSQL) or the database (SQLite).
    let cart = carts::claim_owned_cart(&txn, request.cart_id, viewer, cart_token).await?;

    let previous = order::Entity::find()
        .filter(order::Column::CartId.eq(cart.id))
        .filter(order::Column::IdempotencyKey.eq(&request.idempotency_key))
        .one(&txn)
        .await?;
    if let Some(previous) = previous {
        return if previous.request_hash == fingerprint {
            Ok(previous)
        } else {
            Err(AppError::conflict("this idempotency key was already used for a different checkout"))
        };
    }

    holds::check(&txn, settings, &cart, client).await?;

    let lines = cart_lines(&txn, cart.id).await?;

    let products = lock_products(&txn, &lines).await?;
    check_lines(&lines, &products, cart.id)?;

    let (vendors, images) = vendor_names_and_images(&txn, &products).await?;

    let now = db::now();
    let order_id = Uuid::now_v7();
    let currency = lines[0].currency.clone();
    let subtotal = lines
        .iter()
        .try_fold(0_i64, |sum, l| crate::money::plus(sum, crate::money::times(l.unit_price_minor, l.quantity)?))?;
    let address = &request.address;
    let hold_seconds =
        if cart.user_id.is_some() { settings.unpaid_ttl_seconds } else { settings.guest_unpaid_ttl_seconds };
    order::Entity::insert(order::ActiveModel {
        id: Set(order_id),
        user_id: Set(cart.user_id),
        cart_id: Set(cart.id),
        idempotency_key: Set(request.idempotency_key.clone()),
        request_hash: Set(fingerprint),
        status: Set(OrderStatus::PendingPayment),
        currency: Set(currency.clone()),
        subtotal_minor: Set(subtotal),
        tax_minor: Set(0),
        total_minor: Set(subtotal),
        email: Set(email),
        ship_name: Set(address.name.clone()),
        ship_line1: Set(address.line1.clone()),
        ship_line2: Set(address.line2.clone()),
        ship_city: Set(address.city.clone()),
        ship_region: Set(address.region.clone()),
        ship_postal_code: Set(address.postal_code.clone()),
        ship_country: Set(address.country.clone()),
        ship_phone: Set(address.phone.clone()),
        expires_at: Set(now + Duration::seconds(i64::try_from(hold_seconds).unwrap_or(i64::MAX / 2))),
        placed_from: Set(client.ip.clone()),
        paid_at: Set(None),
        closed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await?;

    write_parts_and_lines(&txn, order_id, &currency, now, &lines, &products, &vendors, images).await?;

    take_stock(&txn, order_id, viewer, &lines, &products).await?;
    cart_line::Entity::delete_many().filter(cart_line::Column::CartId.eq(cart.id)).exec(&txn).await?;
    crate::cart::holds::release(&txn, cart.id, None).await?;

    let placed = order::Entity::find_by_id(order_id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("order {order_id} vanished in its own transaction")))?;
    txn.commit().await?;
    tracing::info!(order.id = %order_id, order.total_minor = subtotal, "order placed");
    Ok(placed)
}

/// The cart's lines in product order, refused when empty or in several currencies.
async fn cart_lines(txn: &DatabaseTransaction, cart_id: Uuid) -> AppResult<Vec<cart_line::Model>> {
    let lines = cart_line::Entity::find()
        .filter(cart_line::Column::CartId.eq(cart_id))
        .order_by_asc(cart_line::Column::ProductId)
        .all(txn)
        .await?;
    if lines.is_empty() {
        return Err(AppError::bad_input("the cart is empty"));
    }
    let currencies: HashSet<&str> = lines.iter().map(|l| l.currency.as_str()).collect();
    if currencies.len() > 1 {
        let mut codes: Vec<_> = currencies.into_iter().collect();
        codes.sort_unstable();
        return Err(AppError::bad_input(format!(
            "an order is paid in one currency, and this cart holds {}: remove the lines of all but one",
            codes.join(", ")
        )));
    }
    Ok(lines)
}

/// The lines' products, locked in id order (`FOR UPDATE` on PostgreSQL; SQLite is already locked).
async fn lock_products(
    txn: &DatabaseTransaction,
    lines: &[cart_line::Model],
) -> AppResult<HashMap<Uuid, product::Model>> {
    let postgres = txn.get_database_backend() == DatabaseBackend::Postgres;
    let mut locking = product::Entity::find()
        .filter(product::Column::Id.is_in(lines.iter().map(|l| l.product_id)))
        .order_by_asc(product::Column::Id);
    if postgres {
        locking = locking.lock_exclusive();
    }
    let products: HashMap<Uuid, product::Model> = locking.all(txn).await?.into_iter().map(|p| (p.id, p)).collect();
    Ok(products)
}

/// The vendors' names and each product's first image, for the snapshot lines.
async fn vendor_names_and_images(
    txn: &DatabaseTransaction,
    products: &HashMap<Uuid, product::Model>,
) -> AppResult<(HashMap<Uuid, String>, HashMap<Uuid, String>)> {
    let vendor_ids: Vec<Uuid> = products.values().map(|p| p.vendor_id).collect();
    let vendors: HashMap<Uuid, String> = vendor::Entity::find()
        .filter(vendor::Column::Id.is_in(vendor_ids))
        .all(txn)
        .await?
        .into_iter()
        .map(|v| (v.id, v.name))
        .collect();
    let mut images: HashMap<Uuid, String> = HashMap::new();
    for image in product_image::Entity::find()
        .filter(product_image::Column::ProductId.is_in(products.keys().copied()))
        .order_by_desc(product_image::Column::Position)
        .all(txn)
        .await?
    {
        images.insert(image.product_id, image.url);
    }
    Ok((vendors, images))
}

/// One fulfilment per vendor, and the snapshot lines, of order `order_id`.
#[allow(clippy::too_many_arguments)]
async fn write_parts_and_lines(
    txn: &DatabaseTransaction,
    order_id: Uuid,
    currency: &str,
    now: chrono::DateTime<chrono::Utc>,
    lines: &[cart_line::Model],
    products: &HashMap<Uuid, product::Model>,
    vendors: &HashMap<Uuid, String>,
    mut images: HashMap<Uuid, String>,
) -> AppResult<()> {
    let mut fulfilments: BTreeMap<Uuid, Uuid> = BTreeMap::new();
    for product in products.values() {
        fulfilments.entry(product.vendor_id).or_insert_with(Uuid::now_v7);
    }
    fulfilment::Entity::insert_many(fulfilments.iter().map(|(&vendor_id, &id)| fulfilment::ActiveModel {
        id: Set(id),
        order_id: Set(order_id),
        vendor_id: Set(vendor_id),
        status: Set(FulfilmentStatus::Pending),
        tracking_number: Set(None),
        fulfilled_at: Set(None),
        created_at: Set(now),
    }))
    .exec_without_returning(txn)
    .await?;

    let mut snapshot = Vec::with_capacity(lines.len());
    for (position, line) in lines.iter().enumerate() {
        let product = &products[&line.product_id];
        let total = crate::money::times(line.unit_price_minor, line.quantity)?;
        snapshot.push(order_line::ActiveModel {
            id: Set(Uuid::now_v7()),
            order_id: Set(order_id),
            fulfilment_id: Set(fulfilments[&product.vendor_id]),
            product_id: Set(product.id),
            vendor_id: Set(product.vendor_id),
            vendor_name: Set(vendors.get(&product.vendor_id).cloned().ok_or_else(|| {
                AppError::internal(anyhow::anyhow!("vendor {} of product {} is missing", product.vendor_id, product.id))
            })?),
            sku: Set(product.sku.clone()),
            title: Set(product.title.clone()),
            quantity: Set(line.quantity),
            unit_price_minor: Set(line.unit_price_minor),
            currency: Set(currency.to_owned()),
            tax_minor: Set(0),
            line_total_minor: Set(total),
            image_url: Set(images.remove(&product.id)),
            attributes: Set(snapshot_attributes(product)),
            position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
            created_at: Set(now),
        });
    }
    order_line::Entity::insert_many(snapshot).exec_without_returning(txn).await?;
    Ok(())
}

/// Takes the lines' units from stock through the ledger; a one-of-a-kind piece becomes RESERVED.
async fn take_stock(
    txn: &DatabaseTransaction,
    order_id: Uuid,
    viewer: &Viewer,
    lines: &[cart_line::Model],
    products: &HashMap<Uuid, product::Model>,
) -> AppResult<()> {
    for line in lines {
        let product = &products[&line.product_id];
        let movement = Movement {
            order_id: Some(order_id),
            actor_id: viewer.user_id(),
            status: product.one_of_a_kind.then_some(ProductStatus::Reserved),
            ..Movement::new(product.id, -line.quantity, MovementReason::Sale)
        };
        move_stock(txn, movement).await?;
    }
    Ok(())
}

/// Refuses the checkout when a product is gone, not for sale, short of units, or priced
/// differently from what the shopper accepted. Reports every such product at once.
fn check_lines(lines: &[cart_line::Model], products: &HashMap<Uuid, product::Model>, cart_id: Uuid) -> AppResult<()> {
    let mut short = Vec::new();
    let mut repriced = Vec::new();
    let now = db::now();
    for line in lines {
        match products.get(&line.product_id) {
            Some(p)
                if p.status == ProductStatus::Active
                    && p.stock >= line.quantity
                    && !crate::cart::holds::held_by_another(p, cart_id, now) =>
            {
                if p.price_minor != line.unit_price_minor || p.currency != line.currency {
                    repriced.push(p.id);
                }
            }
            _ => short.push(line.product_id),
        }
    }
    let ids = |ids: Vec<Uuid>| ids.into_iter().map(|id| GlobalId::encode(NodeType::Product, id)).collect();
    if !short.is_empty() {
        let message = format!("{} product(s) in the cart are no longer available in that quantity", short.len());
        return Err(AppError::new(ErrorCode::OutOfStock, message).with_ids(ids(short)));
    }
    if !repriced.is_empty() {
        let message = format!(
            "the price of {} product(s) changed since they were added: review the cart and call acceptCartPrices",
            repriced.len()
        );
        return Err(AppError::new(ErrorCode::PriceChanged, message).with_ids(ids(repriced)));
    }
    Ok(())
}

/// The product's describing fields as they are at the time of sale.
fn snapshot_attributes(product: &product::Model) -> Value {
    let mut attributes = match &product.attributes {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    let condition = product.condition.map(|c| {
        use sea_orm::ActiveEnum;
        c.to_value()
    });
    for (name, value) in [
        ("brand", product.brand.clone()),
        ("size", product.size.clone()),
        ("colour", product.colour.clone()),
        ("material", product.material.clone()),
        ("condition", condition),
        ("era", product.era.clone()),
    ] {
        if let Some(value) = value {
            attributes.insert(name.to_owned(), Value::String(value));
        }
    }
    Value::Object(attributes)
}
