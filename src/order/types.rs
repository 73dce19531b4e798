//! Orders as the API shows them.

use async_graphql::{Enum, ID, Object, Result};
use chrono::{DateTime, Utc};
use entity::{fulfilment, order, order_line};

use super::address::Address;
use super::service::OrderDetails;
use crate::catalog::types::ProductAttribute;
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::scalars::Money;
use crate::payment::types::Payment;

/// Where an order is. PENDING_PAYMENT → PAID → FULFILLED → COMPLETED; a pending or paid order
/// can be CANCELLED, and a paid, fulfilled or completed one REFUNDED. No other move exists.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::OrderStatus")]
pub enum OrderStatus {
    /// Placed; its stock is held until it is paid or expires.
    PendingPayment,
    /// Paid; the vendors may ship.
    Paid,
    /// Every vendor has shipped its part.
    Fulfilled,
    /// Delivered and closed.
    Completed,
    /// Cancelled before shipping; stock returned.
    Cancelled,
    /// Paid back; stock returned.
    Refunded,
}

/// Where one vendor's part of an order is.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::FulfilmentStatus")]
pub enum FulfilmentStatus {
    /// Waiting for the vendor to ship.
    Pending,
    /// Shipped.
    Fulfilled,
    /// The order was cancelled or refunded before shipping.
    Cancelled,
}

/// An order, with its lines as they were bought.
pub struct Order(pub OrderDetails);

#[Object]
impl Order {
    /// Global ID.
    async fn id(&self) -> ID {
        GlobalId::encode(NodeType::Order, self.0.order.id)
    }

    /// Life-cycle state.
    async fn status(&self) -> OrderStatus {
        self.0.order.status.into()
    }

    /// Sum of the lines before tax.
    async fn subtotal(&self) -> Result<Money> {
        Ok(Money::stored(self.0.order.subtotal_minor, &self.0.order.currency)?)
    }

    /// Tax on the lines (no tax engine is configured: zero).
    async fn tax(&self) -> Result<Money> {
        Ok(Money::stored(self.0.order.tax_minor, &self.0.order.currency)?)
    }

    /// What the customer pays.
    async fn total(&self) -> Result<Money> {
        Ok(Money::stored(self.0.order.total_minor, &self.0.order.currency)?)
    }

    /// Where order messages go.
    async fn email(&self) -> &str {
        &self.0.order.email
    }

    /// Where it ships.
    async fn shipping_address(&self) -> Address {
        (&self.0.order).into()
    }

    /// The snapshot lines: what was bought, as it was. Later catalog edits never change them.
    async fn lines(&self) -> Vec<OrderLine> {
        self.0.lines.iter().cloned().map(OrderLine).collect()
    }

    /// One part per vendor, each shipped by its vendor.
    async fn fulfilments(&self) -> Vec<Fulfilment> {
        self.0
            .fulfilments
            .iter()
            .map(|f| Fulfilment {
                lines: self.0.lines.iter().filter(|l| l.fulfilment_id == f.id).cloned().collect(),
                order: Some(self.0.order.clone()),
                model: f.clone(),
            })
            .collect()
    }

    /// Payment attempts, oldest first.
    async fn payments(&self) -> Vec<Payment> {
        self.0.payments.iter().cloned().map(Payment).collect()
    }

    /// When an unpaid order expires and releases its stock.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.order.expires_at
    }

    /// When it was paid.
    async fn paid_at(&self) -> Option<DateTime<Utc>> {
        self.0.order.paid_at
    }

    /// When it was cancelled or refunded.
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.order.closed_at
    }

    /// When it was placed.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.order.created_at
    }
}

/// One product as it was bought. Immutable: the database refuses to change it.
pub struct OrderLine(pub order_line::Model);

#[Object]
impl OrderLine {
    /// The product's global ID, for a link; everything else here is the snapshot.
    async fn product_id(&self) -> ID {
        GlobalId::encode(NodeType::Product, self.0.product_id)
    }

    /// SKU at the time.
    async fn sku(&self) -> &str {
        &self.0.sku
    }

    /// Title at the time.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// The vendor's name at the time.
    async fn vendor_name(&self) -> &str {
        &self.0.vendor_name
    }

    /// The vendor's global ID.
    async fn vendor_id(&self) -> ID {
        GlobalId::encode(NodeType::Vendor, self.0.vendor_id)
    }

    /// Units bought.
    async fn quantity(&self) -> i32 {
        self.0.quantity
    }

    /// Unit price paid.
    async fn unit_price(&self) -> Result<Money> {
        Ok(Money::stored(self.0.unit_price_minor, &self.0.currency)?)
    }

    /// Tax on the line.
    async fn tax(&self) -> Result<Money> {
        Ok(Money::stored(self.0.tax_minor, &self.0.currency)?)
    }

    /// Quantity times unit price, plus tax.
    async fn line_total(&self) -> Result<Money> {
        Ok(Money::stored(self.0.line_total_minor, &self.0.currency)?)
    }

    /// The product's first image at the time.
    async fn image_url(&self) -> Option<&str> {
        self.0.image_url.as_deref()
    }

    /// Brand, size, colour, material, condition, era and free-form attributes at the time,
    /// sorted by name.
    async fn attributes(&self) -> Vec<ProductAttribute> {
        ProductAttribute::from_json(&self.0.attributes)
    }
}

/// One vendor's part of an order: the lines it ships and where to.
pub struct Fulfilment {
    /// The row.
    pub model: fulfilment::Model,
    /// Its lines.
    pub lines: Vec<order_line::Model>,
    /// The order it belongs to.
    pub order: Option<order::Model>,
}

#[Object]
impl Fulfilment {
    /// Global ID.
    async fn id(&self) -> ID {
        GlobalId::encode(NodeType::Fulfilment, self.model.id)
    }

    /// The vendor's global ID.
    async fn vendor_id(&self) -> ID {
        GlobalId::encode(NodeType::Vendor, self.model.vendor_id)
    }

    /// Shipping state.
    async fn status(&self) -> FulfilmentStatus {
        self.model.status.into()
    }

    /// The carrier's tracking number.
    async fn tracking_number(&self) -> Option<&str> {
        self.model.tracking_number.as_deref()
    }

    /// When it shipped.
    async fn fulfilled_at(&self) -> Option<DateTime<Utc>> {
        self.model.fulfilled_at
    }

    /// The lines this vendor ships.
    async fn lines(&self) -> Vec<OrderLine> {
        self.lines.iter().cloned().map(OrderLine).collect()
    }

    /// What this vendor's lines cost the customer.
    async fn subtotal(&self) -> Result<Option<Money>> {
        let Some(order) = &self.order else { return Ok(None) };
        let total = self.lines.iter().map(|l| l.line_total_minor).sum();
        Ok(Some(Money::stored(total, &order.currency)?))
    }

    /// The order's global ID.
    async fn order_id(&self) -> ID {
        GlobalId::encode(NodeType::Order, self.model.order_id)
    }

    /// The order's state (a vendor ships once it is PAID).
    async fn order_status(&self) -> Option<OrderStatus> {
        self.order.as_ref().map(|o| o.status.into())
    }

    /// Where to ship.
    async fn shipping_address(&self) -> Option<Address> {
        self.order.as_ref().map(Into::into)
    }
}
