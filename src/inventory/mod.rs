//! Inventory: the stock movements ledger and the product audit trail.
//!
//! Stock changes only through [`service::move_stock`], which updates the product and appends a
//! ledger row in the caller's transaction. The audit trail is written by database triggers (see
//! the migrations), so it holds whatever client writes to the store.

pub mod graphql;
pub mod service;
pub mod types;
