//! Products created and changed under the catalog's rules: lengths, slugs and SKUs, money
//! bounds, the statuses a product may be created or edited into, image and attribute caps.

use chrono::{DateTime, Utc};
use entity::{product, product_image};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::catalog::input::{Sku, Slug};
use crate::catalog::service::{category_by_id, vendor_by_id};
use crate::catalog::types::MAX_IMAGES_PER_PRODUCT;
use crate::db::{self, Db};
use crate::error::{AppError, AppResult, conflict_on_unique};
use crate::input::bounded_text;
use crate::inventory::service as inventory;
use crate::money::{Currency, MAX_MINOR_UNITS, Money};

/// Most rows written by one multi-row `INSERT` in [`insert_products`].
const INSERT_BATCH: usize = 1_000;

/// A product to create.
#[derive(Clone, Debug)]
pub struct NewProduct {
    /// Selling vendor.
    pub vendor_id: Uuid,
    /// Category filed under.
    pub category_id: Uuid,
    /// Unique handle; `None` derives one from the title and the SKU.
    pub slug: Option<String>,
    /// Unique SKU.
    pub sku: String,
    /// Title, 1 to 200 characters.
    pub title: String,
    /// Description, up to 20,000 characters.
    pub description: String,
    /// Structured attributes.
    pub brand: Option<String>,
    /// Size as labelled.
    pub size: Option<String>,
    /// Main colour.
    pub colour: Option<String>,
    /// Main material.
    pub material: Option<String>,
    /// Wear of the piece.
    pub condition: Option<entity::ProductCondition>,
    /// Era of production.
    pub era: Option<String>,
    /// Free-form attributes (name → value), at most 30.
    pub attributes: Vec<(String, String)>,
    /// Price.
    pub price: Money,
    /// Units in stock.
    pub stock: i32,
    /// Initial status: DRAFT or ACTIVE (an order makes a product RESERVED or SOLD).
    pub status: entity::ProductStatus,
    /// Images in display order.
    pub images: Vec<NewImage>,
    /// Creation time; `None` for now.
    pub created_at: Option<DateTime<Utc>>,
    /// What the vendor paid, in the price's currency; private.
    pub cost: Option<Money>,
    /// Notes for the vendor and staff; private.
    pub internal_notes: String,
    /// A unique piece: at most one unit.
    pub one_of_a_kind: bool,
}

/// An image of a new product: an outside URL, or an object already in media storage.
#[derive(Clone, Debug, Default)]
pub struct NewImage {
    /// Public URL.
    pub url: String,
    /// Alternative text.
    pub alt: String,
    /// The object in media storage, when the image is stored here.
    pub stored: Option<StoredImage>,
}

/// An image object already in media storage, with what is known of it.
#[derive(Clone, Debug)]
pub struct StoredImage {
    /// The object's key.
    pub object_key: String,
    /// Width in pixels.
    pub width: i32,
    /// Height in pixels.
    pub height: i32,
    /// Its BlurHash.
    pub blur_hash: Option<String>,
}

impl NewImage {
    /// An image at an outside URL.
    pub fn at(url: impl Into<String>, alt: impl Into<String>) -> Self {
        Self { url: url.into(), alt: alt.into(), stored: None }
    }
}

/// Creates a product with its images, in one transaction.
///
/// # Errors
/// `BAD_USER_INPUT` for invalid fields, `NOT_FOUND` for an unknown vendor or category,
/// `CONFLICT` when the slug or SKU is taken.
pub async fn create_product(db: &Db, new: NewProduct) -> AppResult<product::Model> {
    vendor_by_id(db, new.vendor_id).await?;
    category_by_id(db, new.category_id).await?;
    let (product, images) = validate_product(new)?;
    let txn = db.begin_write().await?;
    let created = product::Entity::insert(product)
        .exec_with_returning(&txn)
        .await
        .map_err(conflict_on_unique("this product slug or SKU is already taken"))?;
    if !images.is_empty() {
        product_image::Entity::insert_many(images).exec_without_returning(&txn).await?;
    }
    inventory::record_opening_stock(&txn, &[(created.id, created.stock)]).await?;
    txn.commit().await?;
    Ok(created)
}

/// Loads many products in bulk (the seeders' path), with multi-row `INSERT`s in one
/// transaction per batch of [`INSERT_BATCH`], and returns their ids in the order given. Vendors
/// and categories must exist (foreign keys check them). A bulk load is not news: the stock and
/// audit events its rows raise are discarded in the same transaction, never published.
///
/// # Errors
/// `BAD_USER_INPUT` for an invalid product (nothing of its batch is written), `CONFLICT` on a
/// duplicate slug or SKU.
pub async fn insert_products(db: &Db, products: Vec<NewProduct>) -> AppResult<Vec<Uuid>> {
    let mut inserted = Vec::new();
    let mut rows = products.into_iter().map(validate_product);
    loop {
        let batch: Vec<_> = rows.by_ref().take(INSERT_BATCH).collect::<AppResult<_>>()?;
        if batch.is_empty() {
            return Ok(inserted);
        }
        let (products, images): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        let ids: Vec<Uuid> = products.iter().filter_map(|p| p.id.try_as_ref().copied()).collect();
        let opening: Vec<(Uuid, i32)> =
            products.iter().filter_map(|p| Some((*p.id.try_as_ref()?, *p.stock.try_as_ref()?))).collect();
        let txn = db.begin_write().await?;
        product::Entity::insert_many(products)
            .exec_without_returning(&txn)
            .await
            .map_err(conflict_on_unique("this product slug or SKU is already taken"))?;
        for chunk in images.into_iter().flatten().collect::<Vec<_>>().chunks(INSERT_BATCH) {
            product_image::Entity::insert_many(chunk.to_vec()).exec_without_returning(&txn).await?;
        }
        inventory::record_opening_stock(&txn, &opening).await?;
        db::outbox::discard_unpublished(&txn, &ids).await?;
        txn.commit().await?;
        inserted.extend(ids);
    }
}

fn validate_product(new: NewProduct) -> AppResult<(product::ActiveModel, Vec<product_image::ActiveModel>)> {
    let id = Uuid::now_v7();
    if !matches!(new.status, entity::ProductStatus::Draft | entity::ProductStatus::Active) {
        return Err(AppError::bad_input("a new product is DRAFT or ACTIVE"));
    }
    check_amount("price", new.price)?;
    let cost = new.cost.map(|cost| check_cost(cost, new.price.currency())).transpose()?;
    if new.stock < 0 {
        return Err(AppError::bad_input("stock must not be negative"));
    }
    if new.one_of_a_kind && new.stock > 1 {
        return Err(AppError::bad_input("a one-of-a-kind product holds at most one unit"));
    }
    if new.images.len() > MAX_IMAGES_PER_PRODUCT {
        return Err(AppError::bad_input(format!("a product has at most {MAX_IMAGES_PER_PRODUCT} images")));
    }
    if new.attributes.len() > 30 {
        return Err(AppError::bad_input("a product has at most 30 free-form attributes"));
    }
    let optional = |field: &str, value: Option<String>, max: usize| -> AppResult<Option<String>> {
        value.map(|v| bounded_text(field, &v, max, true)).transpose()
    };
    let mut attributes = Map::new();
    for (name, value) in new.attributes {
        attributes.insert(
            bounded_text("attribute name", &name, 40, true)?,
            Value::String(bounded_text("attribute value", &value, 200, false)?),
        );
    }
    let slug = match &new.slug {
        Some(slug) => Slug::parse(slug)?,
        None => Slug::from_text(&format!("{} {}", new.title, new.sku))?,
    };
    let slug = slug.as_str().to_owned();
    let now = new.created_at.map_or_else(db::now, db::truncate_to_micros);
    let images = new
        .images
        .into_iter()
        .enumerate()
        .map(|(position, image)| {
            let stored = image.stored;
            Ok(product_image::ActiveModel {
                id: Set(Uuid::now_v7()),
                product_id: Set(id),
                url: Set(bounded_text("image url", &image.url, 2048, true)?),
                alt_text: Set(bounded_text("image alt text", &image.alt, 300, false)?),
                position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
                created_at: Set(now),
                width: Set(stored.as_ref().map(|s| s.width)),
                height: Set(stored.as_ref().map(|s| s.height)),
                blur_hash: Set(stored.as_ref().and_then(|s| s.blur_hash.clone())),
                // Outside images and stored placeholders have no variants to make.
                variant_widths: Set(Some(String::new())),
                object_key: Set(stored.map(|s| s.object_key)),
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    let product = product::ActiveModel {
        id: Set(id),
        vendor_id: Set(new.vendor_id),
        category_id: Set(new.category_id),
        slug: Set(slug),
        sku: Set(Sku::parse(&new.sku)?.as_str().to_owned()),
        title: Set(bounded_text("title", &new.title, 200, true)?),
        description: Set(bounded_text("description", &new.description, 20_000, false)?),
        brand: Set(optional("brand", new.brand, 100)?),
        size: Set(optional("size", new.size, 40)?),
        colour: Set(optional("colour", new.colour, 60)?),
        material: Set(optional("material", new.material, 100)?),
        condition: Set(new.condition),
        era: Set(optional("era", new.era, 40)?),
        attributes: Set(Value::Object(attributes)),
        price_minor: Set(new.price.minor_units()),
        currency: Set(new.price.currency().code().to_owned()),
        stock: Set(new.stock),
        status: Set(new.status),
        created_at: Set(now),
        updated_at: Set(now),
        cost_minor: Set(cost),
        internal_notes: Set(bounded_text("internal notes", &new.internal_notes, 5_000, false)?),
        one_of_a_kind: Set(new.one_of_a_kind),
        sold_price_minor: Set(None),
        held_by_cart: Set(None),
        held_until: Set(None),
        held_from: Set(None),
    };
    Ok((product, images))
}

fn check_amount(what: &str, amount: Money) -> AppResult<i64> {
    let minor = amount.minor_units();
    if (0..=MAX_MINOR_UNITS).contains(&minor) {
        Ok(minor)
    } else {
        Err(AppError::bad_input(format!("the {what} must be between 0 and {MAX_MINOR_UNITS} minor units")))
    }
}

/// The cost in minor units, when it is a valid amount in the price's currency.
fn check_cost(cost: Money, price_currency: Currency) -> AppResult<i64> {
    if cost.currency() != price_currency {
        return Err(AppError::bad_input("the cost must be in the price's currency"));
    }
    check_amount("cost", cost)
}

/// Changes to a product; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct ProductPatch {
    /// New title.
    pub title: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New price.
    pub price: Option<crate::money::Money>,
    /// New cost, in the price's currency.
    pub cost: Option<Money>,
    /// New stock.
    pub stock: Option<i32>,
    /// New status: DRAFT, ACTIVE or ARCHIVED (an order sets the others).
    pub status: Option<entity::ProductStatus>,
    /// New internal notes.
    pub internal_notes: Option<String>,
}

/// Applies a patch to a product, in one transaction. A stock change is written to the ledger as
/// an ADJUSTMENT by `actor`.
///
/// # Errors
/// `NOT_FOUND` for an unknown product, `BAD_USER_INPUT` for invalid values, `CONFLICT` when the
/// status of a product held by an order (RESERVED or SOLD) would change.
pub async fn update_product(db: &Db, id: Uuid, patch: ProductPatch, actor: Option<Uuid>) -> AppResult<product::Model> {
    use sea_orm::ActiveModelTrait;
    let txn = db.begin_write().await?;
    db::claim::<product::Entity>(&txn, product::Column::UpdatedAt, product::Column::Id.eq(id)).await?;
    let current = product::Entity::find_by_id(id).one(&txn).await?.ok_or_else(|| AppError::not_found("product"))?;
    if patch.status.is_some_and(|status| {
        !matches!(
            status,
            entity::ProductStatus::Draft | entity::ProductStatus::Active | entity::ProductStatus::Archived
        )
    }) {
        return Err(AppError::bad_input("status can be set to DRAFT, ACTIVE or ARCHIVED; checkout sets the others"));
    }
    let held = matches!(current.status, entity::ProductStatus::Reserved | entity::ProductStatus::Sold);
    if held && patch.status.is_some_and(|status| status != current.status) {
        return Err(AppError::conflict("a reserved or sold product's status is set by its order"));
    }
    let stock_change = match patch.stock {
        Some(stock) if stock < 0 => return Err(AppError::bad_input("stock must not be negative")),
        Some(stock) => stock - current.stock,
        None => 0,
    };
    let current_currency = Currency::parse(&current.currency)?;
    let currency_changes = patch.price.is_some_and(|price| price.currency() != current_currency);
    if currency_changes && current.cost_minor.is_some() && patch.cost.is_none() {
        return Err(AppError::bad_input("a price in another currency needs the cost in that currency too"));
    }
    let mut model: product::ActiveModel = current.into();
    if let Some(title) = patch.title {
        model.title = Set(bounded_text("title", &title, 200, true)?);
    }
    if let Some(description) = patch.description {
        model.description = Set(bounded_text("description", &description, 20_000, false)?);
    }
    if let Some(price) = patch.price {
        model.price_minor = Set(check_amount("price", price)?);
        model.currency = Set(price.currency().code().to_owned());
    }
    if let Some(cost) = patch.cost {
        let currency = patch.price.map_or(current_currency, Money::currency);
        model.cost_minor = Set(Some(check_cost(cost, currency)?));
    }
    if let Some(status) = patch.status {
        model.status = Set(status);
    }
    if let Some(notes) = patch.internal_notes {
        model.internal_notes = Set(bounded_text("internal notes", &notes, 5_000, false)?);
    }
    model.updated_at = Set(db::now());
    let mut updated = model.update(&txn).await?;
    if stock_change != 0 {
        let movement = inventory::Movement {
            actor_id: actor,
            note: "stock set by updateProduct".to_owned(),
            ..inventory::Movement::new(id, stock_change, entity::MovementReason::Adjustment)
        };
        inventory::move_stock(&txn, movement).await?;
        updated = product::Entity::find_by_id(id).one(&txn).await?.ok_or_else(|| AppError::not_found("product"))?;
    }
    txn.commit().await?;
    Ok(updated)
}
