//! The subscription root: live events, each filtered for its subscriber exactly as the matching
//! query field would be. Subscriptions run over the WebSocket endpoint (`graphql-transport-ws`),
//! whose `connection_init` builds the same request context as an HTTP request.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result, Subscription};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt, future};
use sea_orm::ActiveEnum;
use uuid::Uuid;

use super::{Event, EventKind, Hub};
use crate::cart::CartToken;
use crate::db::Db;
use crate::error::{AppError, ErrorCode};
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::scalars::Long;
use crate::graphql::state::State;
use crate::identity::guards::{AllowIf, Require, SignedIn, viewer};
use crate::identity::viewer::{Permission, Viewer};
use crate::inventory::types::MovementReason;
use crate::order::service as orders;
use crate::order::types::{Order, OrderStatus};

/// Live events.
#[derive(Default)]
pub struct EventSubscription;

/// Whether `viewer` may read the order an event is about: staff any, a customer its own, a
/// vendor one with a part of its own.
fn sees_order(viewer: &Viewer, event: &Event) -> bool {
    viewer.can(Permission::OrdersReadAny)
        || (event.audience.user_id.is_some() && event.audience.user_id == viewer.user_id())
        || viewer.vendor_id().is_some_and(|vendor| event.audience.vendor_ids.contains(&vendor))
}

/// Whether `viewer` may read the private side (the ledger, the audit trail, a draft) of a
/// product of `vendor`: staff any, a vendor's accounts their own.
fn reads_private(viewer: &Viewer, vendor: Option<Uuid>) -> bool {
    viewer.can(Permission::CatalogReadPrivate)
        || (viewer.can(Permission::CatalogWriteOwn) && vendor.is_some() && viewer.vendor_id() == vendor)
}

/// Whether `viewer` may read the private side of the product an event is about.
fn sees_product_privately(viewer: &Viewer, event: &Event) -> bool {
    reads_private(viewer, event.audience.vendor_ids.first().copied())
}

/// The events of `kind` that `keep` lets through.
fn events_of(
    hub: &Hub,
    kind: EventKind,
    keep: impl Fn(&Event) -> bool + Send + 'static,
) -> impl Stream<Item = Arc<Event>> + Send + 'static {
    hub.subscribe().filter(move |event| future::ready(event.kind == kind && keep(event)))
}

fn parse_product(id: Option<&ID>) -> Result<Option<Uuid>> {
    Ok(id.map(|id| GlobalId::parse_as(id, NodeType::Product)).transpose()?)
}

#[Subscription]
impl EventSubscription {
    /// Orders as they are placed: staff see every order, a customer its own, a vendor those with
    /// a part of its own.
    #[graphql(guard = "SignedIn")]
    async fn order_placed(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = OrderEvent>> {
        let viewer = viewer(ctx).clone();
        Ok(events_of(ctx.state::<Hub>()?, EventKind::OrderPlaced, move |e| sees_order(&viewer, e)).map(OrderEvent))
    }

    /// Changes of orders' statuses. With `orderId`, of that order only, for whoever may read it
    /// with the `order` query (a guest with its cart's token included; anyone else gets
    /// `NOT_FOUND`). Without, as `orderPlaced` (signed in).
    async fn order_status_changed(
        &self,
        ctx: &Context<'_>,
        order_id: Option<ID>,
    ) -> Result<impl Stream<Item = OrderEvent>> {
        let viewer = viewer(ctx).clone();
        let only = match order_id {
            Some(id) => {
                let id = GlobalId::parse_as(&id, NodeType::Order)?;
                let token = CartToken::of(ctx);
                orders::visible_order(ctx.state::<Db>()?.conn(), id, &viewer, token).await?;
                Some(id)
            }
            None if viewer.is_anonymous() => {
                return Err(
                    AppError::new(ErrorCode::Unauthenticated, "sign in, or follow one order by `orderId`").into()
                );
            }
            None => None,
        };
        let keep = move |e: &Event| only.map_or_else(|| sees_order(&viewer, e), |id| e.subject == id);
        Ok(events_of(ctx.state::<Hub>()?, EventKind::OrderStatusChanged, keep).map(OrderEvent))
    }

    /// Stock levels as they move, of one product or of all, and one-of-a-kind pieces held and
    /// released by shoppers' carts (delta 0, `heldUntil`): anyone may follow a listed product;
    /// drafts and archived products only their vendor and staff.
    async fn stock_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this product.")] product_id: Option<ID>,
    ) -> Result<impl Stream<Item = StockChange>> {
        let viewer = viewer(ctx).clone();
        let only = parse_product(product_id.as_ref())?;
        let keep = move |e: &Event| {
            only.is_none_or(|id| e.subject == id) && (e.audience.public || sees_product_privately(&viewer, e))
        };
        Ok(events_of(ctx.state::<Hub>()?, EventKind::StockChanged, keep).map(StockChange))
    }

    /// Rows added to products' audit trails (status, price and stock changes): staff see all,
    /// a vendor those of its own products.
    #[graphql(guard = "Require::new(Permission::CatalogReadPrivate).or(Require::new(Permission::CatalogWriteOwn))")]
    async fn audit_entry_added(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this product.")] product_id: Option<ID>,
    ) -> Result<impl Stream<Item = AuditEvent>> {
        let viewer = viewer(ctx).clone();
        let only = parse_product(product_id.as_ref())?;
        let keep = move |e: &Event| only.is_none_or(|id| e.subject == id) && sees_product_privately(&viewer, e);
        Ok(events_of(ctx.state::<Hub>()?, EventKind::AuditEntryAdded, keep).map(AuditEvent))
    }
}

fn order_status(detail: &serde_json::Value, key: &str) -> Option<OrderStatus> {
    let text = detail.get(key)?.as_str()?;
    entity::OrderStatus::try_from_value(&text.to_owned()).ok().map(Into::into)
}

/// An order placed or changed.
pub struct OrderEvent(Arc<Event>);

#[Object]
impl OrderEvent {
    /// The event's id: increasing, and never delivered twice to one subscription.
    async fn event_id(&self) -> Long {
        Long(self.0.id)
    }

    /// The order.
    async fn order_id(&self) -> ID {
        GlobalId::encode(NodeType::Order, self.0.subject)
    }

    /// The status the order has now.
    async fn status(&self) -> Result<OrderStatus> {
        let detail = &self.0.detail;
        order_status(detail, "to")
            .or_else(|| order_status(detail, "status"))
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("event {} carries no status", self.0.id)).into())
    }

    /// The status before the change; null when the order was just placed.
    async fn previous_status(&self) -> Option<OrderStatus> {
        order_status(&self.0.detail, "from")
    }

    /// When the change was committed.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }

    /// The order as the `order` query returns it to this subscriber, read when the event is
    /// delivered; null for a vendor (it reads its part through `fulfilments`).
    async fn order(&self, ctx: &Context<'_>) -> Result<Option<Order>> {
        let db = ctx.state::<Db>()?;
        let token = CartToken::of(ctx);
        match orders::visible_order(db.conn(), self.0.subject, viewer(ctx), token).await {
            Ok(order) => Ok(Some(crate::order::graphql::reload(db, order).await?)),
            Err(error) if error.code() == ErrorCode::NotFound => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}

/// A product's stock moved.
pub struct StockChange(Arc<Event>);

impl StockChange {
    fn number(&self, key: &str) -> i32 {
        self.0.detail.get(key).and_then(serde_json::Value::as_i64).and_then(|n| i32::try_from(n).ok()).unwrap_or(0)
    }

    fn vendor(&self) -> Option<Uuid> {
        self.0.audience.vendor_ids.first().copied()
    }
}

#[Object]
impl StockChange {
    /// The event's id: increasing, and never delivered twice to one subscription.
    async fn event_id(&self) -> Long {
        Long(self.0.id)
    }

    /// The product.
    async fn product_id(&self) -> ID {
        GlobalId::encode(NodeType::Product, self.0.subject)
    }

    /// Units in stock after the movement.
    async fn level(&self) -> i32 {
        self.number("level")
    }

    /// Units added (positive) or removed (negative). Like the ledger, visible to the product's
    /// vendor and to staff.
    #[graphql(guard = "AllowIf(reads_private(viewer(ctx), self.vendor()))")]
    async fn delta(&self) -> Option<i32> {
        Some(self.number("delta"))
    }

    /// Why the stock moved. Like the ledger, visible to the product's vendor and to staff.
    #[graphql(guard = "AllowIf(reads_private(viewer(ctx), self.vendor()))")]
    async fn reason(&self) -> Option<MovementReason> {
        let text = self.0.detail.get("reason")?.as_str()?;
        entity::MovementReason::try_from_value(&text.to_owned()).ok().map(Into::into)
    }

    /// For a one-of-a-kind piece put in a cart (delta 0): when that shopper's hold lapses; null
    /// for any other movement, and when a hold ends.
    async fn held_until(&self) -> Option<DateTime<Utc>> {
        let text = self.0.detail.get("held_until")?.as_str()?;
        DateTime::parse_from_rfc3339(text)
            .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z"))
            .ok()
            .map(|at| at.with_timezone(&Utc))
    }

    /// When the movement was committed.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

/// A row added to a product's audit trail.
pub struct AuditEvent(Arc<Event>);

#[Object]
impl AuditEvent {
    /// The event's id: increasing, and never delivered twice to one subscription.
    async fn event_id(&self) -> Long {
        Long(self.0.id)
    }

    /// The product.
    async fn product_id(&self) -> ID {
        GlobalId::encode(NodeType::Product, self.0.subject)
    }

    /// The row's `sequence` in the product's `auditTrail`: read it there for the details.
    async fn sequence(&self) -> Long {
        Long(self.0.detail.get("sequence").and_then(serde_json::Value::as_i64).unwrap_or(0))
    }

    /// When the change was committed.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}
