//! SeaORM entities of the Aeternum relational store.
//!
//! These are storage types only: they carry no GraphQL derives. Each domain converts them into
//! its own API types with `From`, so the API and the schema can evolve independently.

pub mod category;
pub mod product;
pub mod product_image;
pub mod vendor;

pub use product::{ProductCondition, ProductStatus};
