//! The order domain's query and mutation roots.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object, Result};
use serde_json::Value;

use super::address::{Address, AddressInput};
use super::checkout::{self, CheckoutRequest};
use super::lifecycle::{self, Canceller};
use super::service;
use super::types::{Fulfilment, FulfilmentStatus, Order, OrderStatus};
use crate::cart::CartToken;
use crate::config::OrderSettings;
use crate::db::Db;
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::pagination::{Cursor, Page, PageLimits, PageRequest};
use crate::graphql::state::State;
use crate::identity::credentials::Email;
use crate::identity::guards::{Require, SignedIn, client, viewer};
use crate::identity::viewer::Permission;
use crate::input::bounded_text;
use crate::payment::Payments;

/// The order `id` with its details, if the caller may see it.
async fn visible(ctx: &Context<'_>, id: &ID) -> Result<Order> {
    let id = GlobalId::parse_as(id, NodeType::Order)?;
    let db = ctx.state::<Db>()?;
    let order = service::visible_order(db.conn(), id, viewer(ctx), CartToken::of(ctx)).await?;
    reload(db, order).await
}

/// An order with its details (after a change, or once its visibility is established).
pub(crate) async fn reload(db: &Db, order: entity::order::Model) -> Result<Order> {
    let mut details = service::with_details(db.conn(), vec![order]).await?;
    Ok(Order(details.pop().ok_or_else(|| crate::error::AppError::not_found("order"))?))
}

/// Fulfilments with their lines and orders, in two queries.
async fn with_context(db: &Db, rows: Vec<entity::fulfilment::Model>) -> Result<Vec<Fulfilment>> {
    let (mut lines, orders) = service::fulfilment_context(db.conn(), &rows).await?;
    Ok(rows
        .into_iter()
        .map(|model| Fulfilment {
            lines: lines.remove(&model.id).unwrap_or_default(),
            order: orders.get(&model.order_id).cloned(),
            model,
        })
        .collect())
}

/// The orders connection's cursor order (newest first).
const ORDERS: &str = "ORDERS";
/// The fulfilments connection's cursor order (newest first).
const FULFILMENTS: &str = "FULFILMENTS";

/// Order queries.
#[derive(Default)]
pub struct OrderQuery;

#[Object]
impl OrderQuery {
    /// One order: staff see any; a customer their own; a guest an order placed from the cart
    /// whose token is in `X-Cart-Token`. Anything else is `NOT_FOUND`.
    async fn order(&self, ctx: &Context<'_>, id: ID) -> Result<Order> {
        visible(ctx, &id).await
    }

    /// Orders, newest first: the signed-in customer's own, or every order for staff and for
    /// partner keys with `orders:read`.
    #[graphql(
        guard = "SignedIn.or(Require::new(Permission::OrdersReadAny))",
        complexity = "crate::graphql::pagination::connection_complexity(first, None, child_complexity)"
    )]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<OrderStatus>,
    ) -> Result<Connection<String, Order>> {
        let limits = *ctx.state::<PageLimits>()?;
        let page = PageRequest::parse(first, after.as_deref(), None, None, ORDERS, limits)?;
        let db = ctx.state::<Db>()?;
        let after = page.cursor.as_ref().map(|cursor| cursor.id);
        let rows = service::list_orders(db, viewer(ctx), status.map(Into::into), after, page.fetch_limit()).await?;
        let mut page = Page::from_overfetch(rows, &page);
        let details = service::with_details(db.conn(), std::mem::take(&mut page.items)).await?;
        let page = page.with_items(details);
        Ok(page.into_connection(|order| Cursor::new(ORDERS, Value::Null, order.order.id), Order))
    }

    /// Vendors' parts of orders, newest first: a vendor sees its own, staff see all. Each
    /// carries its lines and the shipping address, not the rest of the order.
    #[graphql(complexity = "crate::graphql::pagination::connection_complexity(first, None, child_complexity)")]
    async fn fulfilments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<FulfilmentStatus>,
    ) -> Result<Connection<String, Fulfilment>> {
        let limits = *ctx.state::<PageLimits>()?;
        let page = PageRequest::parse(first, after.as_deref(), None, None, FULFILMENTS, limits)?;
        let db = ctx.state::<Db>()?;
        let viewer = viewer(ctx);
        if viewer.is_anonymous() {
            return Err(
                crate::error::AppError::new(crate::error::ErrorCode::Unauthenticated, "sign in to do this").into()
            );
        }
        let after = page.cursor.as_ref().map(|cursor| cursor.id);
        let rows = service::list_fulfilments(db, viewer, status.map(Into::into), after, page.fetch_limit()).await?;
        let mut page = Page::from_overfetch(rows, &page);
        let fulfilments = with_context(db, std::mem::take(&mut page.items)).await?;
        let page = page.with_items(fulfilments);
        Ok(page.into_connection(|fulfilment| Cursor::new(FULFILMENTS, Value::Null, fulfilment.model.id), |f| f))
    }
}

/// Order mutations.
#[derive(Default)]
pub struct OrderMutation;

#[Object]
impl OrderMutation {
    /// Places an order from the cart in one transaction: re-checks status, stock and price of
    /// every line under lock, takes the stock (a one-of-a-kind piece becomes RESERVED), writes
    /// the order with snapshot lines and per-vendor fulfilments, and empties the cart. The order
    /// waits for payment (`payOrder`) until it expires. Retrying with the same
    /// `idempotencyKey` and input returns the same order; other input with that key is
    /// `CONFLICT`. A price that changed since it was added is `PRICE_CHANGED` (see
    /// `acceptCartPrices`); a product no longer available is `OUT_OF_STOCK`, with the products'
    /// IDs in `extensions.ids`. Guests give an `email`; customers default to their account's.
    async fn checkout(
        &self,
        ctx: &Context<'_>,
        cart_id: ID,
        shipping_address: AddressInput,
        email: Option<String>,
        idempotency_key: String,
    ) -> Result<Order> {
        let request = CheckoutRequest {
            cart_id: GlobalId::parse_as(&cart_id, NodeType::Cart)?,
            address: Address::parse(shipping_address)?,
            email: email.as_deref().map(Email::parse).transpose()?,
            idempotency_key: checkout::parse_idempotency_key(&idempotency_key)?,
        };
        let db = ctx.state::<Db>()?;
        let settings = ctx.state::<OrderSettings>()?;
        let order = checkout::place_order(db, settings, viewer(ctx), &client(ctx), CartToken::of(ctx), request).await?;
        reload(db, order).await
    }

    /// Cancels an order that has not shipped. Its buyer may cancel while it waits for payment;
    /// staff may also cancel a paid order, which refunds it. Stock comes back as CANCEL rows of
    /// the ledger.
    async fn cancel_order(&self, ctx: &Context<'_>, id: ID, #[graphql(default)] reason: String) -> Result<Order> {
        let order = visible(ctx, &id).await?;
        let viewer = viewer(ctx);
        let by = Canceller { actor: viewer.user_id(), manages_orders: viewer.can(Permission::OrdersManage) };
        let note = bounded_text("reason", &reason, 300, false)?;
        let db = ctx.state::<Db>()?;
        let cancelled = lifecycle::cancel(db, ctx.state::<Payments>()?, order.0.order.id, by, &note).await?;
        reload(db, cancelled).await
    }

    /// Refunds a paid, fulfilled or completed order in full through the payment provider; stock
    /// comes back as REFUND rows of the ledger.
    #[graphql(guard = "Require::new(Permission::OrdersManage)")]
    async fn refund_order(&self, ctx: &Context<'_>, id: ID, #[graphql(default)] reason: String) -> Result<Order> {
        let id = GlobalId::parse_as(&id, NodeType::Order)?;
        let note = bounded_text("reason", &reason, 300, false)?;
        let db = ctx.state::<Db>()?;
        let refunded = lifecycle::refund(db, ctx.state::<Payments>()?, id, viewer(ctx).user_id(), &note).await?;
        reload(db, refunded).await
    }

    /// Closes a fulfilled order.
    #[graphql(guard = "Require::new(Permission::OrdersManage)")]
    async fn complete_order(&self, ctx: &Context<'_>, id: ID) -> Result<Order> {
        let id = GlobalId::parse_as(&id, NodeType::Order)?;
        let db = ctx.state::<Db>()?;
        let completed = lifecycle::advance(db.conn(), id, entity::OrderStatus::Completed).await?;
        reload(db, completed).await
    }

    /// Marks a vendor's part of a paid order shipped: by that vendor, or by staff. When every
    /// part has shipped the order becomes FULFILLED.
    #[graphql(guard = "SignedIn")]
    async fn ship_fulfilment(&self, ctx: &Context<'_>, id: ID, tracking_number: Option<String>) -> Result<Fulfilment> {
        let id = GlobalId::parse_as(&id, NodeType::Fulfilment)?;
        let tracking = tracking_number.map(|t| bounded_text("trackingNumber", &t, 100, true)).transpose()?;
        let db = ctx.state::<Db>()?;
        let fulfilment = service::shippable_fulfilment(db, id, viewer(ctx)).await?;
        let shipped = lifecycle::ship(db, &fulfilment, tracking).await?;
        let shipped = with_context(db, vec![shipped]).await?.pop();
        Ok(shipped.ok_or_else(|| crate::error::AppError::not_found("fulfilment"))?)
    }
}
