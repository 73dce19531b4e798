//! A category: a node of the catalog's category tree.

use sea_orm::entity::prelude::*;

/// A row of `categories`.
///
/// `path` is the materialised path of ids from the root down to and including this category,
/// as `/<root id>/<child id>/…/<own id>/`, so "this category and its descendants" is the single
/// indexed predicate `path LIKE '<own path>%'`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "categories")]
pub struct Model {
    /// UUIDv7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The parent category; `None` for a root.
    pub parent_id: Option<Uuid>,
    /// Unique URL-safe handle.
    #[sea_orm(unique)]
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Materialised path of ids, see the type's documentation.
    pub path: String,
    /// Order among siblings.
    pub position: i32,
    /// When the category was created.
    pub created_at: DateTimeUtc,
    /// When the category was last changed.
    pub updated_at: DateTimeUtc,
}

/// Relations of a category.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The parent category.
    #[sea_orm(belongs_to = "Entity", from = "Column::ParentId", to = "Column::Id")]
    Parent,
    /// Products filed directly under this category.
    #[sea_orm(has_many = "super::product::Entity")]
    Product,
}

impl Related<super::product::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Product.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
