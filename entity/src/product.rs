//! A product: one listing in the catalog, often a one-of-a-kind piece.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Where a product is in its life cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum ProductStatus {
    /// Being prepared; not visible to shoppers.
    #[sea_orm(string_value = "DRAFT")]
    Draft,
    /// On sale.
    #[sea_orm(string_value = "ACTIVE")]
    Active,
    /// Held for a checkout in progress.
    #[sea_orm(string_value = "RESERVED")]
    Reserved,
    /// Sold.
    #[sea_orm(string_value = "SOLD")]
    Sold,
    /// Withdrawn from sale.
    #[sea_orm(string_value = "ARCHIVED")]
    Archived,
}

/// The wear of a pre-owned piece, from unworn to visibly used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum ProductCondition {
    /// Never worn, with its original tags.
    #[sea_orm(string_value = "NEW_WITH_TAGS")]
    NewWithTags,
    /// Worn once or twice, no visible signs.
    #[sea_orm(string_value = "EXCELLENT")]
    Excellent,
    /// Light signs of wear.
    #[sea_orm(string_value = "VERY_GOOD")]
    VeryGood,
    /// Visible but minor signs of wear.
    #[sea_orm(string_value = "GOOD")]
    Good,
    /// Clear signs of wear, described in the listing.
    #[sea_orm(string_value = "FAIR")]
    Fair,
}

/// A row of `products`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "products")]
pub struct Model {
    /// UUIDv7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The vendor selling the product.
    pub vendor_id: Uuid,
    /// The category the product is filed under.
    pub category_id: Uuid,
    /// Unique URL-safe handle.
    #[sea_orm(unique)]
    pub slug: String,
    /// Unique stock-keeping unit.
    #[sea_orm(unique)]
    pub sku: String,
    /// Display title.
    pub title: String,
    /// Long description.
    pub description: String,
    /// Brand or maker.
    pub brand: Option<String>,
    /// Size as labelled.
    pub size: Option<String>,
    /// Main colour.
    pub colour: Option<String>,
    /// Main material.
    pub material: Option<String>,
    /// Wear of the piece.
    pub condition: Option<ProductCondition>,
    /// Era or decade of production, such as `1990s`.
    pub era: Option<String>,
    /// Free-form attributes as a JSON object of string values.
    pub attributes: Json,
    /// Price in integer minor units of `currency`.
    pub price_minor: i64,
    /// ISO 4217 currency code.
    pub currency: String,
    /// Units in stock.
    pub stock: i32,
    /// Life-cycle status.
    pub status: ProductStatus,
    /// When the product was created.
    pub created_at: DateTimeUtc,
    /// When the product was last changed.
    pub updated_at: DateTimeUtc,
    /// What the vendor paid, in minor units of `currency`; private to the vendor and staff.
    pub cost_minor: Option<i64>,
    /// Notes for the vendor and staff; never shown to shoppers.
    pub internal_notes: String,
    /// A unique piece: at most one unit, reserved at checkout and sold once.
    pub one_of_a_kind: bool,
    /// The price it sold at, set by the database when it becomes SOLD and locked while it stays so.
    pub sold_price_minor: Option<i64>,
    /// The cart holding this one-of-a-kind piece, while `held_until` has not passed.
    pub held_by_cart: Option<Uuid>,
    /// When the hold lapses; a lapsed hold is no hold.
    pub held_until: Option<DateTimeUtc>,
    /// The client address that took the hold.
    pub held_from: Option<String>,
}

/// Relations of a product.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The vendor selling the product.
    #[sea_orm(belongs_to = "super::vendor::Entity", from = "Column::VendorId", to = "super::vendor::Column::Id")]
    Vendor,
    /// The category the product is filed under.
    #[sea_orm(belongs_to = "super::category::Entity", from = "Column::CategoryId", to = "super::category::Column::Id")]
    Category,
    /// The product's images.
    #[sea_orm(has_many = "super::product_image::Entity")]
    ProductImage,
}

impl Related<super::vendor::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Vendor.def()
    }
}

impl Related<super::category::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Category.def()
    }
}

impl Related<super::product_image::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ProductImage.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
