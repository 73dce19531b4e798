//! Catalog writes, each guarded: vendors edit their own products; staff and admins edit all.

use async_graphql::{Context, Guard, ID, InputObject, Object, Result};
use uuid::Uuid;

use super::editing::{self, NewCategory, NewProduct, NewVendor, ProductPatch};
use super::service;
use super::types::{Category, Product, ProductCondition, ProductStatus, Vendor};
use crate::db::Db;
use crate::error::AppError;
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::state::State;
use crate::identity::guards::{Require, VendorOf, viewer};
use crate::identity::{Permission, Viewer};
use crate::money::{Currency, Money};

/// An exact amount as input: a decimal string and an ISO 4217 code.
#[derive(InputObject)]
pub struct MoneyInput {
    /// Decimal amount with at most the currency's decimal places, such as `"129.50"`.
    pub amount: String,
    /// ISO 4217 currency code.
    pub currency_code: String,
}

impl MoneyInput {
    fn parse(&self) -> Result<Money, AppError> {
        Money::parse_amount(&self.amount, Currency::parse(&self.currency_code)?)
    }
}

/// A free-form attribute as input.
#[derive(InputObject)]
pub struct AttributeInput {
    /// Name, such as `pattern`.
    pub name: String,
    /// Value, such as `houndstooth`.
    pub value: String,
}

/// An image as input.
#[derive(InputObject)]
pub struct ImageInput {
    /// Public URL.
    pub url: String,
    /// Alternative text.
    #[graphql(default)]
    pub alt_text: String,
}

/// A product to create.
#[derive(InputObject)]
pub struct CreateProductInput {
    /// The selling vendor; a VENDOR account may only name its own.
    pub vendor_id: ID,
    /// The category.
    pub category_id: ID,
    /// Unique handle; made from the title when omitted.
    pub slug: Option<String>,
    /// Unique SKU: uppercase letters, digits, `-` and `_`.
    pub sku: String,
    /// Title, 1 to 200 characters.
    pub title: String,
    /// Description, up to 20,000 characters.
    #[graphql(default)]
    pub description: String,
    /// Brand.
    pub brand: Option<String>,
    /// Size as labelled.
    pub size: Option<String>,
    /// Main colour.
    pub colour: Option<String>,
    /// Main material.
    pub material: Option<String>,
    /// Wear.
    pub condition: Option<ProductCondition>,
    /// Era, such as `1990s`.
    pub era: Option<String>,
    /// Free-form attributes, at most 30.
    #[graphql(default)]
    pub attributes: Vec<AttributeInput>,
    /// Price.
    pub price: MoneyInput,
    /// What the vendor paid (private); in the price's currency.
    pub cost: Option<MoneyInput>,
    /// Units in stock, written to the ledger as the opening stock.
    #[graphql(default = 1)]
    pub stock: i32,
    /// A unique piece: at most one unit, reserved at checkout and sold once.
    #[graphql(default)]
    pub one_of_a_kind: bool,
    /// DRAFT (default) or ACTIVE.
    #[graphql(default_with = "ProductStatus::Draft")]
    pub status: ProductStatus,
    /// Images in display order, at most 20.
    #[graphql(default)]
    pub images: Vec<ImageInput>,
    /// Notes for the vendor and staff (private).
    #[graphql(default)]
    pub internal_notes: String,
}

/// Changes to a product; omitted fields stay as they are.
#[derive(InputObject, Default)]
pub struct UpdateProductInput {
    /// New title.
    pub title: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New price (in any supported currency).
    pub price: Option<MoneyInput>,
    /// New cost (private).
    pub cost: Option<MoneyInput>,
    /// New stock; the difference is written to the ledger as an ADJUSTMENT (see also
    /// `adjustStock`).
    pub stock: Option<i32>,
    /// DRAFT, ACTIVE or ARCHIVED; RESERVED and SOLD are set by orders, and a product in either
    /// state keeps it (`CONFLICT`).
    pub status: Option<ProductStatus>,
    /// New internal notes (private).
    pub internal_notes: Option<String>,
}

/// Passes when the viewer works for the vendor of the product `id` names.
pub struct OwnsProduct(Option<Uuid>);

impl OwnsProduct {
    /// A guard over the product with this global ID (a malformed ID never passes).
    pub fn new(id: &ID) -> Self {
        Self(GlobalId::parse_as(id, NodeType::Product).ok())
    }

    /// A guard over the product with this id.
    pub fn of(id: Uuid) -> Self {
        Self(Some(id))
    }
}

impl Guard for OwnsProduct {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        let vendor = match (self.0, viewer(ctx)) {
            (Some(id), Viewer::User { .. }) => {
                service::any_product_by_id(ctx.state::<Db>()?, id).await.ok().map(|p| p.vendor_id)
            }
            _ => None,
        };
        VendorOf::new(vendor).check(ctx).await
    }
}

/// Catalog mutations.
#[derive(Default)]
pub struct CatalogMutation;

#[Object]
impl CatalogMutation {
    /// Creates a vendor.
    #[graphql(guard = "Require::new(Permission::CatalogWrite)")]
    async fn create_vendor(
        &self,
        ctx: &Context<'_>,
        slug: String,
        name: String,
        #[graphql(default)] description: String,
    ) -> Result<Vendor> {
        Ok(editing::create_vendor(ctx.state::<Db>()?, NewVendor { slug, name, description }).await?.into())
    }

    /// Renames or re-describes a vendor.
    #[graphql(guard = "Require::new(Permission::CatalogWrite)")]
    async fn update_vendor(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: Option<String>,
        description: Option<String>,
    ) -> Result<Vendor> {
        let id = GlobalId::parse_as(&id, NodeType::Vendor)?;
        Ok(editing::update_vendor(ctx.state::<Db>()?, id, name, description).await?.into())
    }

    /// Renames a category or changes its position among its siblings.
    #[graphql(guard = "Require::new(Permission::CatalogWrite)")]
    async fn update_category(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: Option<String>,
        position: Option<i32>,
    ) -> Result<Category> {
        let id = GlobalId::parse_as(&id, NodeType::Category)?;
        Ok(editing::update_category(ctx.state::<Db>()?, id, name, position).await?.into())
    }

    /// Creates a category, under `parentId` or as a root.
    #[graphql(guard = "Require::new(Permission::CatalogWrite)")]
    async fn create_category(
        &self,
        ctx: &Context<'_>,
        slug: String,
        name: String,
        parent_id: Option<ID>,
        #[graphql(default)] position: i32,
    ) -> Result<Category> {
        let parent_id = parent_id.map(|id| GlobalId::parse_as(&id, NodeType::Category)).transpose()?;
        Ok(editing::create_category(ctx.state::<Db>()?, NewCategory { slug, name, parent_id, position }).await?.into())
    }

    /// Creates a product.
    #[graphql(
        guard = "Require::new(Permission::CatalogWrite).or(VendorOf::new(GlobalId::parse_as(&input.vendor_id, NodeType::Vendor).ok()))"
    )]
    async fn create_product(&self, ctx: &Context<'_>, input: CreateProductInput) -> Result<Product> {
        let new = NewProduct {
            vendor_id: GlobalId::parse_as(&input.vendor_id, NodeType::Vendor)?,
            category_id: GlobalId::parse_as(&input.category_id, NodeType::Category)?,
            slug: input.slug,
            sku: input.sku,
            title: input.title,
            description: input.description,
            brand: input.brand,
            size: input.size,
            colour: input.colour,
            material: input.material,
            condition: input.condition.map(Into::into),
            era: input.era,
            attributes: input.attributes.into_iter().map(|a| (a.name, a.value)).collect(),
            price: input.price.parse()?,
            stock: input.stock,
            status: input.status.into(),
            images: input.images.into_iter().map(|i| editing::NewImage::at(i.url, i.alt_text)).collect(),
            created_at: None,
            cost: input.cost.as_ref().map(MoneyInput::parse).transpose()?,
            internal_notes: input.internal_notes,
            one_of_a_kind: input.one_of_a_kind,
        };
        Ok(editing::create_product(ctx.state::<Db>()?, new).await?.into())
    }

    /// Changes a product.
    #[graphql(guard = "Require::new(Permission::CatalogWrite).or(OwnsProduct::new(&id))")]
    async fn update_product(&self, ctx: &Context<'_>, id: ID, input: UpdateProductInput) -> Result<Product> {
        let id = GlobalId::parse_as(&id, NodeType::Product)?;
        let patch = ProductPatch {
            title: input.title,
            description: input.description,
            price: input.price.as_ref().map(MoneyInput::parse).transpose()?,
            cost: input.cost.as_ref().map(MoneyInput::parse).transpose()?,
            stock: input.stock,
            status: input.status.map(Into::into),
            internal_notes: input.internal_notes,
        };
        Ok(editing::update_product(ctx.state::<Db>()?, id, patch, viewer(ctx).user_id()).await?.into())
    }

    /// Archives a product: it leaves every public listing. Archiving twice changes nothing.
    #[graphql(guard = "Require::new(Permission::CatalogWrite).or(OwnsProduct::new(&id))")]
    async fn archive_product(&self, ctx: &Context<'_>, id: ID) -> Result<Product> {
        let id = GlobalId::parse_as(&id, NodeType::Product)?;
        let patch = ProductPatch { status: Some(entity::ProductStatus::Archived), ..ProductPatch::default() };
        Ok(editing::update_product(ctx.state::<Db>()?, id, patch, viewer(ctx).user_id()).await?.into())
    }
}
