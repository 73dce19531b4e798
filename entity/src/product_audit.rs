//! Changes of a product's status, price and stock, written by database triggers. Append-only.

use sea_orm::entity::prelude::*;

/// A row of `product_audit`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "product_audit")]
pub struct Model {
    /// Growing key: the trail's order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The product.
    pub product_id: Uuid,
    /// Status before; `None` when the product was created.
    pub old_status: Option<String>,
    /// Status after.
    pub new_status: String,
    /// Price before, in minor units.
    pub old_price_minor: Option<i64>,
    /// Price after, in minor units.
    pub new_price_minor: i64,
    /// Stock before.
    pub old_stock: Option<i32>,
    /// Stock after.
    pub new_stock: i32,
    /// When.
    pub changed_at: DateTimeUtc,
}

/// Relations of an audit row.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
