//! The Relay `Node` interface and `node(id:)`: fetch any object by its global ID.

use async_graphql::{Context, ID, Interface, Object, Result};

use crate::catalog::service;
use crate::catalog::types::{Category, Product, Vendor};
use crate::db::Db;
use crate::error::AppError;
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::state::State;

/// An object with a global ID that `node(id:)` can fetch again.
// A `Node` lives for one resolver call; boxing the product would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "The object's opaque global ID."))]
pub enum Node {
    /// A product.
    Product(Product),
    /// A vendor.
    Vendor(Vendor),
    /// A category.
    Category(Category),
}

/// The `node` root field.
#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Fetches any object by its global ID. A malformed ID is `BAD_USER_INPUT`; an ID of nothing
    /// visible is `NOT_FOUND`.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Node> {
        let db = ctx.state::<Db>()?;
        let global = GlobalId::parse(&id)?;
        Ok(match global.node_type {
            NodeType::Product => {
                Node::Product(service::product_by_id(db, global.id, crate::identity::guards::viewer(ctx)).await?.into())
            }
            NodeType::Vendor => Node::Vendor(service::vendor_by_id(db, global.id).await?.into()),
            NodeType::Category => Node::Category(service::category_by_id(db, global.id).await?.into()),
            // Accounts, keys, carts and orders are read through their own fields, under their
            // guards.
            NodeType::User
            | NodeType::ApiKey
            | NodeType::Partner
            | NodeType::Cart
            | NodeType::Order
            | NodeType::Fulfilment
            | NodeType::Payment
            | NodeType::ProductImage
            | NodeType::Upload => return Err(AppError::not_found(global.node_type.name()).into()),
        })
    }
}
