//! Aeternum: a GraphQL backend-for-frontend for commerce.
//!
//! The crate is organised by domain (`catalog`, `identity`, `cart`, `order`, `payment`, `inventory`), each
//! owning its GraphQL root, types, use cases and loaders. Shared plumbing (configuration, the
//! database, HTTP, the GraphQL schema, errors, telemetry) lives apart from the domains.
//! [`startup::Application`] builds the whole service from a [`config::Settings`] value.

pub mod admin;
pub mod cart;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod db;
pub mod digest;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod identity;
pub mod input;
pub mod inventory;
pub mod limiter;
pub mod media;
pub mod money;
pub mod order;
pub mod partner;
pub mod payment;
pub mod redis_connection;
pub mod schema;
pub mod search;
pub mod seed;
pub mod startup;
pub mod telemetry;

pub use error::{AppError, AppResult, ErrorCode};
pub use startup::Application;
