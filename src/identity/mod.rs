//! Identity and access: accounts, tokens, roles and permissions, partner keys, guards, and the
//! security audit log.
//!
//! - [`credentials`]: parsed email addresses and the password policy; argon2id hashing.
//! - [`tokens`]: signed access tokens (JWT) and opaque, hashed refresh and reset tokens.
//! - [`viewer`]: who is calling, resolved once per request from the bearer token, cookie or key.
//! - [`guards`]: async-graphql guards that declare authorisation on fields and mutations.
//! - [`service`]: account use cases; [`keys`]: partner keys; [`audit`]: security events and
//!   sign-in throttling; [`mailer`]: delivery of reset links.
//! - [`graphql`] and [`types`]: the identity part of the schema.

pub mod audit;
pub mod authenticate;
pub mod credentials;
pub mod graphql;
pub mod guards;
pub mod keys;
pub mod mailer;
pub mod passwords;
pub mod service;
pub mod tokens;
pub mod types;
pub mod viewer;

pub use viewer::{Permission, Viewer};
