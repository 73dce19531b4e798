//! The GraphQL kit every domain builds on: global IDs, pagination, scalars, the error-code
//! extension, the document limits it applies and the stages it runs. Nothing here knows a
//! domain; the schema that merges the domains is [`crate::schema`].

pub mod errors;
pub mod ids;
pub mod nesting;
pub mod pagination;
pub mod persisted;
pub mod scalars;
pub mod shape;
pub mod stage;
pub mod state;
