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
    /// Public URL of the image: an outside URL, or the public URL of `object_key`.
    pub url: String,
    /// The original's key in media storage, for images uploaded here.
    pub object_key: Option<String>,
    /// Width of the original in pixels, when known.
    pub width: Option<i32>,
    /// Height of the original in pixels, when known.
    pub height: Option<i32>,
    /// A BlurHash of the image, for a placeholder while it loads.
    pub blur_hash: Option<String>,
    /// Widths of the WebP variants made, comma-separated: NULL while they are being made, empty
    /// when none are needed or they could not be made.
    pub variant_widths: Option<String>,
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
