//! SeaORM entities of the Aeternum relational store.
//!
//! These are storage types only: they carry no GraphQL derives. Each domain converts them into
//! its own API types with `From`, so the API and the schema can evolve independently.

pub mod api_key;
pub mod category;
pub mod password_reset;
pub mod product;
pub mod product_image;
pub mod refresh_token;
pub mod security_event;
pub mod user;
pub mod vendor;

pub use product::{ProductCondition, ProductStatus};
pub use user::Role;
