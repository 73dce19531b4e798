//! Carts: persistent baskets for guests (found by an opaque cart token) and customers (one per
//! account), with totals computed on the server from current prices. A guest cart merges into
//! the customer's when the guest signs in.

pub mod graphql;
pub mod holds;
pub mod service;
pub mod types;

/// The guest cart token a request carries in the `X-Cart-Token` header. A credential: `Debug`
/// prints it redacted.
#[derive(Clone)]
pub struct CartToken(pub String);

impl CartToken {
    /// The token the request of `ctx` carries, if any.
    pub fn of<'a>(ctx: &'a async_graphql::Context<'_>) -> Option<&'a str> {
        ctx.data_opt::<Self>().map(|t| t.0.as_str())
    }
}

impl std::fmt::Debug for CartToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CartToken([redacted])")
    }
}

/// The header that carries a guest's cart token.
pub const CART_TOKEN_HEADER: &str = "x-cart-token";
