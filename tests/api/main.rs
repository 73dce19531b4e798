//! Integration tests: the real HTTP server against real stores.
//!
//! Every test in a module listed by `store_tests!` runs twice, as `<module>::sqlite::<name>` and
//! `<module>::postgres::<name>`, each against a fresh database of its own.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[macro_use]
mod helpers;
mod admin;
mod bad_input;
mod cart;
mod catalog_filters;
mod catalog_lookup;
mod catalog_pagination;
mod checkout;
mod checkout_race;
mod cli;
mod fixtures;
mod fuzz;
mod holds;
mod http;
mod identity_accounts;
mod identity_matrix;
mod limits;
mod media;
mod media_s3;
mod order_lifecycle;
mod partners;
mod payment_safety;
mod payments;
mod persisted_queries;
mod realtime;
mod replicas;
mod responses;
mod safelists;
mod schema;
mod search;
mod search_resilience;
mod security;
mod seed;
mod shop;
mod vector_contract;
mod websocket_protocol;
