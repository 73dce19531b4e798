//! Authorisation declared on fields and mutations.
//!
//! Each guard reads the request's [`Viewer`]. A refused anonymous caller gets `UNAUTHENTICATED`;
//! a refused identified caller gets `FORBIDDEN`. Guards compose with async-graphql's `.or()` and
//! `.and()`: `Require::new(Permission::CatalogWrite).or(VendorOf::new(vendor_id))`.

use async_graphql::{Context, Guard, Result};
use uuid::Uuid;

use super::viewer::{ClientInfo, Permission, Viewer};
use crate::error::{AppError, ErrorCode};

/// The request's viewer (anonymous when none was set).
pub fn viewer<'a>(ctx: &'a Context<'_>) -> &'a Viewer {
    static ANONYMOUS: Viewer = Viewer::Anonymous;
    ctx.data_opt::<Viewer>().unwrap_or(&ANONYMOUS)
}

/// Where the request came from (no address when none was set).
pub fn client(ctx: &Context<'_>) -> ClientInfo {
    ctx.data_opt::<ClientInfo>().cloned().unwrap_or_default()
}

fn refuse(viewer: &Viewer, what: &str) -> async_graphql::Error {
    if viewer.is_anonymous() {
        AppError::new(ErrorCode::Unauthenticated, "sign in to do this").into()
    } else {
        AppError::new(ErrorCode::Forbidden, format!("not allowed: {what}")).into()
    }
}

/// Requires a permission.
pub struct Require(Permission);

impl Require {
    /// A guard requiring `permission`.
    pub fn new(permission: Permission) -> Self {
        Self(permission)
    }
}

impl Guard for Require {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        let viewer = viewer(ctx);
        if viewer.can(self.0) { Ok(()) } else { Err(refuse(viewer, &format!("needs {}", self.0.name()))) }
    }
}

/// Passes when its condition holds: for facts the resolver already established, such as an
/// account authenticated by the very request that returns it.
pub struct AllowIf(pub bool);

impl Guard for AllowIf {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        if self.0 { Ok(()) } else { Err(refuse(viewer(ctx), "not established")) }
    }
}

/// Requires a signed-in account.
pub struct SignedIn;

impl Guard for SignedIn {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        let viewer = viewer(ctx);
        if viewer.user_id().is_some() { Ok(()) } else { Err(refuse(viewer, "needs a signed-in account")) }
    }
}

/// Requires the viewer to be this account.
pub struct IsUser(Uuid);

impl IsUser {
    /// A guard passing only for account `id`.
    pub fn new(id: Uuid) -> Self {
        Self(id)
    }
}

impl Guard for IsUser {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        let viewer = viewer(ctx);
        if viewer.user_id() == Some(self.0) { Ok(()) } else { Err(refuse(viewer, "only the account itself")) }
    }
}

/// Requires the viewer to work for this vendor (and hold `catalog:write:own`).
pub struct VendorOf(Option<Uuid>);

impl VendorOf {
    /// A guard passing only for VENDOR accounts of `vendor_id`.
    pub fn new(vendor_id: impl Into<Option<Uuid>>) -> Self {
        Self(vendor_id.into())
    }
}

impl Guard for VendorOf {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        let viewer = viewer(ctx);
        let own = self.0.is_some() && viewer.vendor_id() == self.0 && viewer.can(Permission::CatalogWriteOwn);
        if own { Ok(()) } else { Err(refuse(viewer, "only the vendor's own accounts")) }
    }
}
