//! Partners: the third kind of client. A partner holds API keys (see [`crate::identity::keys`])
//! and a safelist: versions of an operation manifest, one of them active. A request with one of
//! its keys runs only an operation of the active version (see
//! [`crate::graphql::persisted`]), and only within its key's scopes (see
//! [`crate::schema::partners`]).
//!
//! - [`manifest`]: the Apollo manifest format, read and checked for shape.
//! - [`service`]: partners, registering and activating manifest versions.
//! - [`graphql`]: the admin's part of the schema.

pub mod graphql;
pub mod manifest;
pub mod service;
