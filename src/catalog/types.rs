//! GraphQL types of the catalog.

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{category, product, product_image, vendor};

use super::loaders::CatalogLoaders;
use crate::db::Db;
use crate::error::AppError;
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::scalars::{Long, Money};
use crate::graphql::state::State;
use crate::identity::Permission;
use crate::identity::guards::{Require, VendorOf};
use crate::inventory::service as inventory;

/// Largest number of images a product can have.
pub const MAX_IMAGES_PER_PRODUCT: usize = 20;

/// Where a product is in its life cycle.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::ProductStatus")]
pub enum ProductStatus {
    /// Being prepared; visible to its vendor and staff only.
    Draft,
    /// On sale.
    Active,
    /// Held for a checkout in progress.
    Reserved,
    /// Sold.
    Sold,
    /// Withdrawn from sale; visible to its vendor and staff only.
    Archived,
}

/// The wear of a pre-owned piece.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::ProductCondition")]
pub enum ProductCondition {
    /// Never worn, with its original tags.
    NewWithTags,
    /// Worn once or twice, no visible signs.
    Excellent,
    /// Light signs of wear.
    VeryGood,
    /// Visible but minor signs of wear.
    Good,
    /// Clear signs of wear, described in the listing.
    Fair,
}

/// A product: one listing, often a one-of-a-kind piece.
pub struct Product {
    /// The stored row.
    pub model: product::Model,
}

impl Product {
    /// An amount in the product's currency.
    fn money(&self, minor_units: i64) -> Result<Money, AppError> {
        Money::stored(minor_units, &self.model.currency)
    }
}

impl From<product::Model> for Product {
    fn from(model: product::Model) -> Self {
        Self { model }
    }
}

/// A free-form attribute of a product.
#[derive(SimpleObject)]
pub struct ProductAttribute {
    /// Attribute name, such as `pattern`.
    pub name: String,
    /// Attribute value, such as `houndstooth`.
    pub value: String,
}

impl ProductAttribute {
    /// The string members of a JSON object, sorted by name.
    pub fn from_json(attributes: &serde_json::Value) -> Vec<Self> {
        let Some(object) = attributes.as_object() else { return Vec::new() };
        let mut attributes: Vec<_> = object
            .iter()
            .filter_map(|(name, value)| value.as_str().map(|v| Self { name: name.clone(), value: v.to_owned() }))
            .collect();
        attributes.sort_by(|a, b| a.name.cmp(&b.name));
        attributes
    }
}

/// A product: one listing in the catalog, often a one-of-a-kind piece.
#[Object]
impl Product {
    /// The product's opaque global ID.
    pub async fn id(&self) -> ID {
        GlobalId::encode(NodeType::Product, self.model.id)
    }

    /// URL-safe handle, unique in the catalog.
    async fn slug(&self) -> &str {
        &self.model.slug
    }

    /// Stock-keeping unit, unique in the catalog.
    async fn sku(&self) -> &str {
        &self.model.sku
    }

    /// Display title.
    async fn title(&self) -> &str {
        &self.model.title
    }

    /// Long description (plain text).
    async fn description(&self) -> &str {
        &self.model.description
    }

    /// Brand or maker.
    async fn brand(&self) -> Option<&str> {
        self.model.brand.as_deref()
    }

    /// Size as labelled.
    async fn size(&self) -> Option<&str> {
        self.model.size.as_deref()
    }

    /// Main colour.
    async fn colour(&self) -> Option<&str> {
        self.model.colour.as_deref()
    }

    /// Main material.
    async fn material(&self) -> Option<&str> {
        self.model.material.as_deref()
    }

    /// Wear of the piece.
    async fn condition(&self) -> Option<ProductCondition> {
        self.model.condition.map(Into::into)
    }

    /// Era or decade of production, such as `1990s`.
    async fn era(&self) -> Option<&str> {
        self.model.era.as_deref()
    }

    /// Free-form attributes beyond the structured ones, sorted by name.
    async fn attributes(&self) -> Vec<ProductAttribute> {
        ProductAttribute::from_json(&self.model.attributes)
    }

    /// Current price.
    async fn price(&self) -> Result<Money> {
        Ok(self.money(self.model.price_minor)?)
    }

    /// What the vendor paid. Visible to the product's vendor and to staff.
    #[graphql(guard = "VendorOf::new(self.model.vendor_id).or(Require::new(Permission::CatalogReadPrivate))")]
    async fn cost_price(&self) -> Result<Option<Money>> {
        Ok(self.model.cost_minor.map(|cost| self.money(cost)).transpose()?)
    }

    /// Notes for the vendor and staff. Visible to the product's vendor and to staff.
    #[graphql(guard = "VendorOf::new(self.model.vendor_id).or(Require::new(Permission::CatalogReadPrivate))")]
    async fn internal_notes(&self) -> Option<&str> {
        Some(&self.model.internal_notes)
    }

    /// Units in stock.
    async fn stock(&self) -> i32 {
        self.model.stock
    }

    /// Life-cycle status. A one-of-a-kind piece in another shopper's cart is `RESERVED` until
    /// `heldUntil`.
    async fn status(&self) -> ProductStatus {
        match self.model.status {
            entity::ProductStatus::Active if super::hold::held_until(&self.model, crate::db::now()).is_some() => {
                ProductStatus::Reserved
            }
            status => status.into(),
        }
    }

    /// When the hold of the shopper who put this one-of-a-kind piece in a cart lapses; null when
    /// nobody holds it. The holder itself sees the same time.
    async fn held_until(&self) -> Option<DateTime<Utc>> {
        super::hold::held_until(&self.model, crate::db::now())
    }

    /// Whether the product can be bought now: `ACTIVE` with stock.
    async fn available(&self) -> bool {
        self.model.status == entity::ProductStatus::Active && self.model.stock > 0
    }

    /// A unique piece: it holds at most one unit, checkout reserves it (ACTIVE → RESERVED) and
    /// payment marks it SOLD.
    async fn one_of_a_kind(&self) -> bool {
        self.model.one_of_a_kind
    }

    /// The price it sold at, while it is SOLD. Recorded by the database when the product became
    /// SOLD; later price edits do not change it.
    async fn sold_price(&self) -> Result<Option<Money>> {
        Ok(self.model.sold_price_minor.map(|price| self.money(price)).transpose()?)
    }

    /// The inventory ledger of this product, oldest first: every stock change with its reason.
    /// Visible to the product's vendor and to staff. Read it for one product at a time: each
    /// product asked costs one query.
    #[graphql(
        guard = "VendorOf::new(self.model.vendor_id).or(Require::new(Permission::CatalogReadPrivate))",
        complexity = "10 + usize::try_from(first).unwrap_or(0) * child_complexity"
    )]
    async fn stock_movements(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20, validator(minimum = 1, maximum = 100))] first: i32,
        #[graphql(desc = "The `sequence` of the last row already read.")] after: Option<Long>,
    ) -> Result<Option<Vec<crate::inventory::types::StockMovement>>> {
        let limit = u64::try_from(first).unwrap_or(1);
        let rows = inventory::movements(ctx.state::<Db>()?, self.model.id, after.map(|a| a.0), limit).await?;
        Ok(Some(rows.into_iter().map(Into::into).collect()))
    }

    /// Every change of this product's status, price or stock, oldest first, as the database's
    /// triggers recorded it. Visible to the product's vendor and to staff; one query per product.
    #[graphql(
        guard = "VendorOf::new(self.model.vendor_id).or(Require::new(Permission::CatalogReadPrivate))",
        complexity = "10 + usize::try_from(first).unwrap_or(0) * child_complexity"
    )]
    async fn audit_trail(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20, validator(minimum = 1, maximum = 100))] first: i32,
        #[graphql(desc = "The `sequence` of the last row already read.")] after: Option<Long>,
    ) -> Result<Option<Vec<super::audit::AuditEntry>>> {
        let limit = u64::try_from(first).unwrap_or(1);
        let rows = super::audit::audit_trail(ctx.state::<Db>()?, self.model.id, after.map(|a| a.0), limit).await?;
        Ok(Some(rows.into_iter().map(Into::into).collect()))
    }

    /// The vendor selling the product.
    async fn vendor(&self, ctx: &Context<'_>) -> Result<Vendor> {
        let loaders = ctx.state::<CatalogLoaders>()?;
        let vendor = loaders.vendors.load_one(self.model.vendor_id).await?;
        Ok(vendor.ok_or_else(|| dangling("vendor", self.model.vendor_id))?.into())
    }

    /// The category the product is filed under.
    async fn category(&self, ctx: &Context<'_>) -> Result<Category> {
        let loaders = ctx.state::<CatalogLoaders>()?;
        let category = loaders.categories.load_one(self.model.category_id).await?;
        Ok(category.ok_or_else(|| dangling("category", self.model.category_id))?.into())
    }

    /// The product's images in display order; the first is the main image.
    async fn images(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return at most this many images.", validator(minimum = 0, maximum = 20))] first: Option<i32>,
    ) -> Result<Vec<ProductImage>> {
        let take = first.map_or(MAX_IMAGES_PER_PRODUCT, |n| usize::try_from(n).unwrap_or(0));
        let loaders = ctx.state::<CatalogLoaders>()?;
        if take == 1 {
            let main = loaders.main_images.load_one(self.model.id).await?;
            return Ok(main.into_iter().map(ProductImage::from).collect());
        }
        let images = loaders.images.load_one(self.model.id).await?.unwrap_or_default();
        Ok(images.into_iter().take(take).map(ProductImage::from).collect())
    }

    /// When the product was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }

    /// When the product was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.model.updated_at
    }
}

fn dangling(what: &str, id: uuid::Uuid) -> AppError {
    AppError::internal(anyhow::anyhow!("{what} {id} referenced by a product is missing"))
}

/// An image of a product.
pub struct ProductImage(pub product_image::Model);

impl From<product_image::Model> for ProductImage {
    fn from(model: product_image::Model) -> Self {
        Self(model)
    }
}

/// An image of a product, uploaded here or at an outside URL.
#[Object]
impl ProductImage {
    /// The image's opaque global ID.
    async fn id(&self) -> ID {
        GlobalId::encode(NodeType::ProductImage, self.0.id)
    }

    /// Public URL of the image. With `width` (the CSS pixels the storefront renders times the
    /// device pixel ratio), the narrowest WebP variant at least that wide, or the original when
    /// none is; without it, the original. Outside images have one URL.
    async fn url(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The width to render, in pixels.", validator(minimum = 1, maximum = 10000))] width: Option<
            i32,
        >,
    ) -> Result<String> {
        let Some(original) = &self.0.object_key else { return Ok(self.0.url.clone()) };
        let media = ctx.state::<crate::media::Media>()?;
        let wanted = width.and_then(|w| u32::try_from(w).ok());
        let variant = wanted.and_then(|wanted| {
            let widths = self.0.variant_widths.as_deref().unwrap_or_default().split(',');
            widths.filter_map(|w| w.parse::<u32>().ok()).filter(|&w| w >= wanted).min()
        });
        Ok(match variant {
            Some(width) => media.public_url(&crate::media::service::variant_key(original, width)),
            None => media.public_url(original),
        })
    }

    /// Width of the original in pixels, when known.
    async fn width(&self) -> Option<i32> {
        self.0.width
    }

    /// Height of the original in pixels, when known.
    async fn height(&self) -> Option<i32> {
        self.0.height
    }

    /// A BlurHash (https://blurha.sh) to paint while the image loads, when known.
    async fn blur_hash(&self) -> Option<&str> {
        self.0.blur_hash.as_deref()
    }

    /// Alternative text for accessibility.
    async fn alt_text(&self) -> &str {
        &self.0.alt_text
    }

    /// Position among the product's images, from 0.
    async fn position(&self) -> i32 {
        self.0.position
    }
}

/// A vendor: a seller on the marketplace.
pub struct Vendor(pub vendor::Model);

impl From<vendor::Model> for Vendor {
    fn from(model: vendor::Model) -> Self {
        Self(model)
    }
}

/// A vendor: a seller on the marketplace that owns products.
#[Object]
impl Vendor {
    /// The vendor's opaque global ID.
    pub async fn id(&self) -> ID {
        GlobalId::encode(NodeType::Vendor, self.0.id)
    }

    /// URL-safe handle, unique in the catalog.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Public description.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// When the vendor joined.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A category: a node of the catalog's category tree.
pub struct Category(pub category::Model);

impl From<category::Model> for Category {
    fn from(model: category::Model) -> Self {
        Self(model)
    }
}

/// A category of the catalog's category tree.
#[Object]
impl Category {
    /// The category's opaque global ID.
    pub async fn id(&self) -> ID {
        GlobalId::encode(NodeType::Category, self.0.id)
    }

    /// URL-safe handle, unique in the catalog.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Order among its siblings, from 0.
    async fn position(&self) -> i32 {
        self.0.position
    }

    /// The parent category, or null for a root.
    async fn parent(&self, ctx: &Context<'_>) -> Result<Option<Category>> {
        let Some(parent_id) = self.0.parent_id else { return Ok(None) };
        let loaders = ctx.state::<CatalogLoaders>()?;
        Ok(loaders.categories.load_one(parent_id).await?.map(Category))
    }

    /// The path from the root down to the parent, for breadcrumbs; empty for a root.
    async fn ancestors(&self, ctx: &Context<'_>) -> Result<Vec<Category>> {
        let ids = ancestor_ids(&self.0);
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let loaders = ctx.state::<CatalogLoaders>()?;
        let mut found = loaders.categories.load_many(ids.iter().copied()).await?;
        Ok(ids.iter().filter_map(|id| found.remove(id)).map(Category).collect())
    }

    /// Direct subcategories, in display order.
    async fn children(&self, ctx: &Context<'_>) -> Result<Vec<Category>> {
        let loaders = ctx.state::<CatalogLoaders>()?;
        let children = loaders.children.load_one(self.0.id).await?.unwrap_or_default();
        Ok(children.into_iter().map(Category).collect())
    }
}

/// The ids on a category's materialised path above itself, root first.
fn ancestor_ids(category: &category::Model) -> Vec<uuid::Uuid> {
    category
        .path
        .split('/')
        .filter_map(|segment| uuid::Uuid::try_parse(segment).ok())
        .filter(|id| *id != category.id)
        .collect()
}
