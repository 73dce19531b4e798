//! Typed views of the responses tests read field by field, matching the selections in
//! [`crate::shop`]. A renamed or retyped field fails to deserialise, with the field's name.

use serde::Deserialize;
use serde_json::Value;

/// An amount as the API sends it.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Amount {
    pub amount: String,
    pub currency_code: Option<String>,
    pub minor_units: Option<i64>,
}

/// A name and value pair.
#[derive(Debug, Deserialize, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub value: String,
}

/// An order, as selected by [`crate::shop::ORDER`].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub id: String,
    pub status: String,
    pub expires_at: Option<String>,
    pub total: Amount,
    pub subtotal: Amount,
    pub email: String,
    pub shipping_address: Address,
    pub lines: Vec<OrderLine>,
    pub fulfilments: Vec<Fulfilment>,
    /// Payment attempts; tests that read them field by field use `payment_safety`'s helpers.
    pub payments: Vec<Value>,
}

/// The shipping address of an order.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub name: String,
    pub line1: String,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

/// One snapshot line of an order.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    pub product_id: String,
    pub sku: String,
    pub title: String,
    pub quantity: i32,
    pub unit_price: Amount,
    pub line_total: Amount,
    pub image_url: Option<String>,
    pub vendor_name: String,
    pub attributes: Vec<Attribute>,
}

/// One vendor's part of an order.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fulfilment {
    pub id: String,
    pub vendor_id: String,
    pub status: String,
    pub lines: Vec<Sku>,
    pub subtotal: Amount,
}

/// A line named by its SKU.
#[derive(Debug, Deserialize)]
pub struct Sku {
    pub sku: String,
}

/// Reads `value` as a `T`, naming what did not fit.
pub fn typed<T: serde::de::DeserializeOwned>(value: &Value) -> T {
    serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{e}: {value:#}"))
}
