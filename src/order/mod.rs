//! Orders: checkout from a cart in one transaction, snapshot lines, per-vendor fulfilments, the
//! order life cycle with legal transitions only, and the expiry of unpaid orders.

pub mod address;
pub mod checkout;
pub mod expiry;
pub mod graphql;
mod holds;
pub mod lifecycle;
pub mod service;
pub mod types;
