//! One product in a cart, with the price the shopper last saw.

use sea_orm::entity::prelude::*;

/// A row of `cart_lines`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cart_lines")]
pub struct Model {
    /// UUIDv7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The cart.
    pub cart_id: Uuid,
    /// The product.
    pub product_id: Uuid,
    /// Units wanted, 1 to 99.
    pub quantity: i32,
    /// The unit price the shopper accepted, in minor units of `currency`.
    pub unit_price_minor: i64,
    /// ISO 4217 code of `unit_price_minor`.
    pub currency: String,
    /// When the line was added.
    pub created_at: DateTimeUtc,
    /// When the line last changed.
    pub updated_at: DateTimeUtc,
}

/// Relations of a cart line.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The cart.
    #[sea_orm(belongs_to = "super::cart::Entity", from = "Column::CartId", to = "super::cart::Column::Id")]
    Cart,
}

impl Related<super::cart::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Cart.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
