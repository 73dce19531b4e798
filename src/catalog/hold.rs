//! A one-of-a-kind piece's hold, as the catalog shows it (taken and released by
//! [`crate::cart::holds`]).

use chrono::{DateTime, Utc};
use entity::product;
use uuid::Uuid;

/// Whether `product` is held by a cart other than `cart_id` at `now`.
pub fn held_by_another(product: &product::Model, cart_id: Uuid, now: DateTime<Utc>) -> bool {
    product.held_by_cart.is_some_and(|holder| holder != cart_id) && product.held_until.is_some_and(|until| until > now)
}

/// When the hold on `product` lapses, if it is held at `now`.
pub fn held_until(product: &product::Model, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    product.held_by_cart.and(product.held_until).filter(|until| *until > now)
}
