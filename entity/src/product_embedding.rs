//! A product's embedding: the vector of its search text under one model.

use sea_orm::entity::prelude::*;

/// A row of `product_embeddings`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "product_embeddings")]
pub struct Model {
    /// The product.
    #[sea_orm(primary_key, auto_increment = false)]
    pub product_id: Uuid,
    /// The model that computed the vector.
    pub model: String,
    /// SHA-256 (hex) of the text the vector was computed from; an unchanged text is not
    /// embedded again.
    pub content_hash: String,
    /// The unit vector as little-endian `f32`s.
    pub vector: Vec<u8>,
    /// When the vector was written.
    pub updated_at: DateTimeUtc,
}

/// Relations of an embedding.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
