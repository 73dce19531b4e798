//! Inventory: the stock movements ledger.
//!
//! Stock changes only through [`service::move_stock`], which updates the product and appends a
//! ledger row in the caller's transaction. (The product audit trail, written by triggers, is
//! the catalog's: [`crate::catalog::audit`].)

pub mod graphql;
pub mod service;
pub mod types;
