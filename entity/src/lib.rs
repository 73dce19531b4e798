//! SeaORM entities of the Aeternum relational store.
//!
//! These are storage types only: they carry no GraphQL derives. Each domain converts them into
//! its own API types with `From`, so the API and the schema can evolve independently.

pub mod api_key;
pub mod cart;
pub mod cart_line;
pub mod category;
pub mod event;
pub mod fulfilment;
pub mod media_deletion;
pub mod media_upload;
pub mod order;
pub mod order_line;
pub mod partner;
pub mod partner_manifest;
pub mod partner_operation;
pub mod password_reset;
pub mod payment;
pub mod payment_event;
pub mod product;
pub mod product_audit;
pub mod product_embedding;
pub mod product_image;
pub mod refresh_token;
pub mod search_outbox;
pub mod search_query;
pub mod search_suggestion_block;
pub mod security_event;
pub mod stock_movement;
pub mod user;
pub mod vendor;

pub use fulfilment::FulfilmentStatus;
pub use order::OrderStatus;
pub use payment::PaymentStatus;
pub use product::{ProductCondition, ProductStatus};
pub use stock_movement::MovementReason;
pub use user::Role;
