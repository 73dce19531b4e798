//! Carts as the API shows them.

use std::collections::BTreeMap;

use async_graphql::{Enum, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{ProductStatus, cart_line, product};

use super::service::CartContents;
use crate::catalog::types::Product;
use crate::error::AppError;
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::scalars::Money;
use crate::money;

/// Why a cart line cannot be bought as it stands.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CartLineProblem {
    /// The product is no longer for sale (sold, reserved by another order, or withdrawn).
    Unavailable,
    /// Fewer units are left than the line asks for.
    InsufficientStock,
    /// The price changed since the shopper accepted it; see `acceptedUnitPrice` and call
    /// `acceptCartPrices` to go on.
    PriceChanged,
}

/// The problem of a line, if any, judged against the product as it is now.
pub fn line_problem(line: &cart_line::Model, product: Option<&product::Model>) -> Option<CartLineProblem> {
    match product {
        None => Some(CartLineProblem::Unavailable),
        Some(p) if p.status != ProductStatus::Active || p.stock == 0 => Some(CartLineProblem::Unavailable),
        Some(p) if p.stock < line.quantity => Some(CartLineProblem::InsufficientStock),
        Some(p) if p.price_minor != line.unit_price_minor || p.currency != line.currency => {
            Some(CartLineProblem::PriceChanged)
        }
        Some(_) => None,
    }
}

/// A shopping cart. Totals are computed from current prices on every read.
pub struct Cart(pub CartContents);

#[Object]
impl Cart {
    /// Global ID.
    async fn id(&self) -> ID {
        GlobalId::encode(NodeType::Cart, self.0.cart.id)
    }

    /// The lines, oldest first. Lines whose product can no longer be bought stay, flagged with
    /// their `problem`.
    async fn lines(&self) -> Vec<CartLine> {
        self.0.lines.iter().map(|(line, product)| CartLine { line: line.clone(), product: product.clone() }).collect()
    }

    /// Units in the cart, over all lines.
    async fn item_count(&self) -> i64 {
        self.0.lines.iter().map(|(line, _)| i64::from(line.quantity)).sum()
    }

    /// What the buyable lines cost at current prices: one total per currency, by currency code.
    /// Lines with an `UNAVAILABLE` problem are left out.
    async fn totals(&self) -> Result<Vec<Money>> {
        let mut totals: BTreeMap<&str, i64> = BTreeMap::new();
        for (line, product) in &self.0.lines {
            let Some(product) = product else { continue };
            if line_problem(line, Some(product)) == Some(CartLineProblem::Unavailable) {
                continue;
            }
            let total = totals.entry(&product.currency).or_default();
            *total = money::plus(*total, money::times(product.price_minor, line.quantity)?)?;
        }
        Ok(totals.into_iter().map(|(code, minor)| Money::stored(minor, code)).collect::<Result<_, AppError>>()?)
    }

    /// Whether checkout would accept the cart now: not empty, one currency, and no line with a
    /// problem.
    async fn ready_for_checkout(&self) -> bool {
        let lines = &self.0.lines;
        let currencies: std::collections::HashSet<&str> = lines.iter().map(|(l, _)| l.currency.as_str()).collect();
        !lines.is_empty() && currencies.len() == 1 && lines.iter().all(|(l, p)| line_problem(l, p.as_ref()).is_none())
    }

    /// When a line last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.cart.updated_at
    }
}

/// One product in a cart.
pub struct CartLine {
    line: cart_line::Model,
    product: Option<product::Model>,
}

#[Object]
impl CartLine {
    /// The product as it is now.
    async fn product(&self) -> Option<Product> {
        self.product.clone().map(Into::into)
    }

    /// Units wanted.
    async fn quantity(&self) -> i32 {
        self.line.quantity
    }

    /// The product's current unit price.
    async fn unit_price(&self) -> Result<Money> {
        match &self.product {
            Some(p) => Ok(Money::stored(p.price_minor, &p.currency)?),
            None => Ok(Money::stored(self.line.unit_price_minor, &self.line.currency)?),
        }
    }

    /// The unit price the shopper accepted when adding the line (or in `acceptCartPrices`).
    /// Checkout refuses the cart while it differs from `unitPrice`.
    async fn accepted_unit_price(&self) -> Result<Money> {
        Ok(Money::stored(self.line.unit_price_minor, &self.line.currency)?)
    }

    /// Quantity times the current unit price.
    async fn line_total(&self) -> Result<Money> {
        let (price, code) = match &self.product {
            Some(p) => (p.price_minor, p.currency.as_str()),
            None => (self.line.unit_price_minor, self.line.currency.as_str()),
        };
        Ok(Money::stored(money::times(price, self.line.quantity)?, code)?)
    }

    /// Why the line cannot be bought as it stands; null when it can.
    async fn problem(&self) -> Option<CartLineProblem> {
        line_problem(&self.line, self.product.as_ref())
    }
}

/// A cart just opened. A guest's cart comes with its token: send it in the `X-Cart-Token`
/// header of every request that reads or changes the cart. It is shown only this once.
#[derive(SimpleObject)]
pub struct OpenedCart {
    /// The cart.
    pub cart: Cart,
    /// The guest cart's token; null for a signed-in customer's cart.
    pub token: Option<String>,
}
