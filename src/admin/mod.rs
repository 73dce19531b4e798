//! The admin console's data: key figures of the business computed by the store (see [`kpis`]
//! and docs/ADMIN.md). Live updates travel as events (see [`crate::events`]).

pub mod graphql;
pub mod kpis;
