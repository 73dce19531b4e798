//! The cart's query and mutation roots.

use async_graphql::{Context, ID, Object, Result};
use uuid::Uuid;

use super::CartToken;
use super::service::{self, LineChange};
use super::types::{Cart, OpenedCart};
use crate::config::OrderSettings;
use crate::db::Db;
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::state::State;
use crate::identity::guards::{SignedIn, viewer};
use crate::identity::viewer::Viewer;

/// The caller's claim on a cart: the cart, who is asking, and the guest token they sent.
fn claim<'a>(ctx: &'a Context<'_>, cart_id: &ID) -> Result<(Uuid, &'a Viewer, Option<&'a str>)> {
    let id = GlobalId::parse_as(cart_id, NodeType::Cart)?;
    Ok((id, viewer(ctx), CartToken::of(ctx)))
}

/// Cart queries.
#[derive(Default)]
pub struct CartQuery;

#[Object]
impl CartQuery {
    /// A cart the caller owns: their own as a customer, or a guest cart whose token is in the
    /// `X-Cart-Token` header. Any other cart is `NOT_FOUND`.
    async fn cart(&self, ctx: &Context<'_>, id: ID) -> Result<Cart> {
        let (id, viewer, token) = claim(ctx, &id)?;
        let db = ctx.state::<Db>()?;
        let cart = service::owned_cart(db.conn(), id, viewer, token).await?;
        Ok(Cart(service::contents(db.conn(), cart).await?))
    }

    /// The signed-in customer's cart (created on first use).
    #[graphql(guard = "SignedIn")]
    async fn my_cart(&self, ctx: &Context<'_>) -> Result<Cart> {
        let db = ctx.state::<Db>()?;
        let (cart, _) = service::open_cart(db, viewer(ctx)).await?;
        Ok(Cart(service::contents(db.conn(), cart).await?))
    }
}

/// Cart mutations. Each returns the cart as it is after the change.
#[derive(Default)]
pub struct CartMutation;

#[Object]
impl CartMutation {
    /// Opens a cart: a signed-in customer's own cart, or a new guest cart with its token. A guest
    /// cart merges into the customer's cart when its holder signs in or registers with the token
    /// in the `X-Cart-Token` header.
    async fn open_cart(&self, ctx: &Context<'_>) -> Result<OpenedCart> {
        let db = ctx.state::<Db>()?;
        let (cart, token) = service::open_cart(db, viewer(ctx)).await?;
        Ok(OpenedCart { cart: Cart(service::contents(db.conn(), cart).await?), token })
    }

    /// Adds `quantity` units of a product (1 to 99 per line, one for a one-of-a-kind piece). The
    /// line takes the product's current price.
    async fn add_to_cart(
        &self,
        ctx: &Context<'_>,
        cart_id: ID,
        product_id: ID,
        #[graphql(default = 1)] quantity: i32,
    ) -> Result<Cart> {
        change(ctx, &cart_id, &product_id, LineChange::Add(quantity)).await
    }

    /// Sets the quantity of a product's line; 0 removes the line.
    async fn update_cart_line(&self, ctx: &Context<'_>, cart_id: ID, product_id: ID, quantity: i32) -> Result<Cart> {
        change(ctx, &cart_id, &product_id, LineChange::Set(quantity)).await
    }

    /// Removes a product's line. Removing a product that is not in the cart changes nothing.
    async fn remove_from_cart(&self, ctx: &Context<'_>, cart_id: ID, product_id: ID) -> Result<Cart> {
        change(ctx, &cart_id, &product_id, LineChange::Set(0)).await
    }

    /// Removes every line.
    async fn clear_cart(&self, ctx: &Context<'_>, cart_id: ID) -> Result<Cart> {
        let (id, viewer, token) = claim(ctx, &cart_id)?;
        Ok(Cart(service::clear(ctx.state::<Db>()?, id, viewer, token).await?))
    }

    /// Accepts the current price of every line, after a `PRICE_CHANGED` line or checkout error.
    async fn accept_cart_prices(&self, ctx: &Context<'_>, cart_id: ID) -> Result<Cart> {
        let (id, viewer, token) = claim(ctx, &cart_id)?;
        Ok(Cart(service::accept_prices(ctx.state::<Db>()?, id, viewer, token).await?))
    }
}

async fn change(ctx: &Context<'_>, cart_id: &ID, product_id: &ID, change: LineChange) -> Result<Cart> {
    let owner = claim(ctx, cart_id)?;
    let product_id = GlobalId::parse_as(product_id, NodeType::Product)?;
    let settings = ctx.state::<OrderSettings>()?;
    Ok(Cart(
        service::change_line(
            ctx.state::<Db>()?,
            settings,
            owner,
            ctx.state::<crate::identity::viewer::ClientInfo>()?,
            product_id,
            change,
        )
        .await?,
    ))
}
