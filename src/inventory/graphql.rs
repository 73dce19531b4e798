//! Manual stock changes.

use async_graphql::{Context, ID, Object, Result};

use super::service::{self, Movement};
use super::types::MovementReason;
use crate::catalog::mutations::OwnsProduct;
use crate::catalog::types::Product;
use crate::db::Db;
use crate::error::AppError;
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::state::State;
use crate::identity::guards::{Require, viewer};
use crate::identity::viewer::Permission;

/// The largest number of units one manual change may add or remove.
const MAX_DELTA: u32 = 100_000;

/// Inventory mutations.
#[derive(Default)]
pub struct InventoryMutation;

#[Object]
impl InventoryMutation {
    /// Adds units (`delta` > 0) or removes them (`delta` < 0), as a RESTOCK or an ADJUSTMENT row
    /// of the ledger. Stock never goes below zero (`OUT_OF_STOCK`), and a one-of-a-kind piece
    /// never holds more than one unit.
    #[graphql(guard = "Require::new(Permission::CatalogWrite).or(OwnsProduct::new(&product_id))")]
    async fn adjust_stock(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        delta: i32,
        reason: MovementReason,
        #[graphql(default)] note: String,
    ) -> Result<Product> {
        let product_id = GlobalId::parse_as(&product_id, NodeType::Product)?;
        if delta.unsigned_abs() > MAX_DELTA {
            return Err(AppError::bad_input(format!("a stock change is at most {MAX_DELTA} units")).into());
        }
        let db = ctx.state::<Db>()?;
        let movement =
            Movement { actor_id: viewer(ctx).user_id(), note, ..Movement::new(product_id, delta, reason.into()) };
        service::adjust_stock(db, movement).await?;
        Ok(crate::catalog::service::any_product_by_id(db, product_id).await?.into())
    }
}
