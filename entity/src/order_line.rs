//! A snapshot of one product as it was bought. Immutable: the database refuses updates and
//! deletes.

use sea_orm::entity::prelude::*;

/// A row of `order_lines`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_lines")]
pub struct Model {
    /// UUIDv7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The order.
    pub order_id: Uuid,
    /// The vendor's part of the order this line ships in.
    pub fulfilment_id: Uuid,
    /// The product bought (for links; everything shown comes from the snapshot).
    pub product_id: Uuid,
    /// The vendor who sold it.
    pub vendor_id: Uuid,
    /// The vendor's name at the time.
    pub vendor_name: String,
    /// SKU at the time.
    pub sku: String,
    /// Title at the time.
    pub title: String,
    /// Units bought.
    pub quantity: i32,
    /// Unit price paid, in minor units of `currency`.
    pub unit_price_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Tax on the line.
    pub tax_minor: i64,
    /// Quantity times unit price, plus tax.
    pub line_total_minor: i64,
    /// The first image's URL at the time.
    pub image_url: Option<String>,
    /// Brand, size, colour, material, condition, era and free-form attributes at the time.
    pub attributes: Json,
    /// Order of the line in the order.
    pub position: i32,
    /// When it was written.
    pub created_at: DateTimeUtc,
}

/// Relations of an order line.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
