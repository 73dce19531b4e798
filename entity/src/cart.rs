//! A shopping cart: a guest's (found by its token) or a customer's (one per account).

use sea_orm::entity::prelude::*;

/// A row of `carts`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "carts")]
pub struct Model {
    /// UUIDv7 key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The owning customer; `None` for a guest cart.
    #[sea_orm(unique)]
    pub user_id: Option<Uuid>,
    /// SHA-256 (hex) of a guest cart's token; `None` for a customer's cart.
    #[sea_orm(unique)]
    pub token_hash: Option<String>,
    /// When the cart was created.
    pub created_at: DateTimeUtc,
    /// When a line last changed.
    pub updated_at: DateTimeUtc,
}

/// Relations of a cart.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The cart's lines.
    #[sea_orm(has_many = "super::cart_line::Entity")]
    CartLine,
}

impl Related<super::cart_line::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::CartLine.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
