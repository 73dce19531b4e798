//! An image of a product.

use sea_orm::entity::prelude::*;

/// A row of `product_images`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "product_images")]
pub struct Model {
    /// UUIDv7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The product shown.
    pub product_id: Uuid,
    /// Public URL of the image.
    pub url: String,
    /// Alternative text for accessibility.
    pub alt_text: String,
    /// Order among the product's images; 0 is the main image.
    pub position: i32,
    /// When the image was attached.
    pub created_at: DateTimeUtc,
}

/// Relations of a product image.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The product shown.
    #[sea_orm(
        belongs_to = "super::product::Entity",
        from = "Column::ProductId",
        to = "super::product::Column::Id",
        on_delete = "Cascade"
    )]
    Product,
}

impl Related<super::product::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Product.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
