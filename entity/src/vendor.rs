//! A vendor: a seller on the marketplace that owns products.

use sea_orm::entity::prelude::*;

/// A row of `vendors`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "vendors")]
pub struct Model {
    /// UUIDv7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Unique URL-safe handle.
    #[sea_orm(unique)]
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Public description.
    pub description: String,
    /// When the vendor was created.
    pub created_at: DateTimeUtc,
    /// When the vendor was last changed.
    pub updated_at: DateTimeUtc,
}

/// Relations of a vendor.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The vendor's products.
    #[sea_orm(has_many = "super::product::Entity")]
    Product,
}

impl Related<super::product::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Product.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
