//! The catalog: vendors, the category tree, products and their images.
//!
//! - [`graphql`]: the catalog's query root; [`mutations`]: its guarded writes.
//! - [`types`]: its GraphQL types, converted from the entities with `From`.
//! - [`filter`] and [`listing`]: product filters and keyset-paginated listings.
//! - [`service`]: use cases (lookups and writes) that other domains and tools call.
//! - [`input`]: parsed input newtypes (`Slug`, `Sku`…).
//! - [`loaders`]: DataLoaders for every relation field.

pub mod audit;
pub mod editing;
pub mod filter;
pub mod graphql;
pub mod hold;
pub mod input;
pub mod listing;
pub mod loaders;
pub mod mutations;
pub mod service;
pub mod types;
