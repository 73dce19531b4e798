//! The identity part of the schema.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};

use super::guards::{Require, SignedIn, client, viewer};
use super::service::{self, Auth, Session};
use super::types::{ApiKey, AuthPayload, IssuedApiKey, Role, SecurityEvent, User};
use super::viewer::Permission;
use super::{audit, keys, passwords};
use crate::cart::CartToken;
use crate::db::Db;
use crate::error::{AppError, ErrorCode};
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::state::State;

/// Name of the HttpOnly cookie that carries the refresh token in cookie mode.
pub const REFRESH_COOKIE: &str = "aeternum_refresh";

/// Identity queries.
#[derive(Default)]
pub struct IdentityQuery;

#[Object]
impl IdentityQuery {
    /// The signed-in account, or null.
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        match viewer(ctx).user_id() {
            Some(id) => Ok(Some(service::user_by_id(ctx.state::<Db>()?, id).await?.into())),
            None => Ok(None),
        }
    }

    /// An account, by ID.
    #[graphql(guard = "Require::new(Permission::UsersRead)")]
    async fn user(&self, ctx: &Context<'_>, id: ID) -> Result<User> {
        let id = GlobalId::parse_as(&id, NodeType::User)?;
        Ok(service::user_by_id(ctx.state::<Db>()?, id).await?.into())
    }

    /// Partner API keys, newest first (at most 200).
    #[graphql(guard = "Require::new(Permission::KeysManage)")]
    async fn api_keys(&self, ctx: &Context<'_>) -> Result<Vec<ApiKey>> {
        Ok(keys::list(ctx.state::<Db>()?).await?.into_iter().map(ApiKey).collect())
    }

    /// The security audit log, newest first.
    #[graphql(guard = "Require::new(Permission::AuditRead)")]
    async fn security_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many, at most 200.", default = 50)] first: u64,
        #[graphql(desc = "Only this action, such as `sign_in_failed`.")] action: Option<String>,
    ) -> Result<Vec<SecurityEvent>> {
        let events = audit::recent(ctx.state::<Db>()?, first, action.as_deref()).await?;
        Ok(events.into_iter().map(SecurityEvent::from).collect())
    }
}

/// Identity mutations.
#[derive(Default)]
pub struct IdentityMutation;

/// Turns a session into the payload, moving the refresh token into an HttpOnly cookie when asked.
/// Merges the guest cart whose token the request carries into the account's cart. A failure
/// is logged, not returned: the sign-in itself succeeded.
async fn adopt_guest_cart(ctx: &Context<'_>, user_id: uuid::Uuid) {
    let (Some(token), Ok(db), Ok(settings)) =
        (ctx.data_opt::<CartToken>(), ctx.state::<Db>(), ctx.state::<crate::config::OrderSettings>())
    else {
        return;
    };
    if let Err(error) = crate::cart::service::merge_guest_cart(db, settings, &token.0, user_id).await {
        tracing::warn!(?error, "could not merge the guest cart at sign-in");
    }
}

fn payload(ctx: &Context<'_>, session: Session, cookie: bool) -> Result<AuthPayload> {
    let refresh_token = if cookie {
        let auth = ctx.state::<Arc<Auth>>()?;
        let max_age = auth.settings.refresh_token_days * 24 * 3600;
        let secure = if auth.settings.cookie_secure { "; Secure" } else { "" };
        ctx.append_http_header(
            "Set-Cookie",
            format!(
                "{REFRESH_COOKIE}={}; HttpOnly{secure}; SameSite=Strict; Path=/graphql; Max-Age={max_age}",
                session.refresh_token
            ),
        );
        None
    } else {
        Some(session.refresh_token)
    };
    Ok(AuthPayload {
        access_token: session.access_token,
        access_token_expires_at: session.access_expires_at,
        refresh_token,
        user: User { model: session.user, authenticated_here: true },
    })
}

/// The refresh token from the argument or, failing that, the cookie.
fn presented_refresh_token(ctx: &Context<'_>, argument: Option<String>) -> Result<String> {
    argument
        .or_else(|| ctx.data_opt::<RefreshCookie>().map(|c| c.0.clone()))
        .ok_or_else(|| AppError::new(ErrorCode::Unauthenticated, "no refresh token was presented").into())
}

/// The refresh token found in the request's cookie, if any.
#[derive(Clone)]
pub struct RefreshCookie(pub String);

impl std::fmt::Debug for RefreshCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshCookie([redacted])")
    }
}

#[Object]
impl IdentityMutation {
    /// Creates a customer account and signs it in. Passwords need 12 to 128 characters and must
    /// not be common or contain the email address.
    async fn register(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
        display_name: String,
        #[graphql(desc = "Set the refresh token as an HttpOnly cookie instead of returning it.", default)] cookie: bool,
    ) -> Result<AuthPayload> {
        let session = service::register(
            ctx.state::<Db>()?,
            ctx.state::<Arc<Auth>>()?,
            &client(ctx),
            &email,
            &password,
            &display_name,
        )
        .await?;
        adopt_guest_cart(ctx, session.user.id).await;
        payload(ctx, session, cookie)
    }

    /// Signs in. A wrong email and a wrong password give the same error; repeated failures are
    /// throttled per account and per address (`RATE_LIMITED`). A guest cart whose token is in
    /// the `X-Cart-Token` header is merged into the account's cart.
    async fn sign_in(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
        #[graphql(desc = "Set the refresh token as an HttpOnly cookie instead of returning it.", default)] cookie: bool,
    ) -> Result<AuthPayload> {
        let session =
            service::sign_in(ctx.state::<Db>()?, ctx.state::<Arc<Auth>>()?, &client(ctx), &email, &password).await?;
        adopt_guest_cart(ctx, session.user.id).await;
        payload(ctx, session, cookie)
    }

    /// Exchanges a refresh token (argument or cookie) for a new access and refresh token. Each
    /// refresh token works once; using one twice ends every session of the account.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        refresh_token: Option<String>,
        #[graphql(default)] cookie: bool,
    ) -> Result<AuthPayload> {
        let token = presented_refresh_token(ctx, refresh_token)?;
        let session = service::refresh(ctx.state::<Db>()?, ctx.state::<Arc<Auth>>()?, &client(ctx), &token).await?;
        payload(ctx, session, cookie)
    }

    /// Ends the session of a refresh token (argument or cookie). Always true.
    async fn sign_out(&self, ctx: &Context<'_>, refresh_token: Option<String>) -> Result<bool> {
        if let Ok(token) = presented_refresh_token(ctx, refresh_token) {
            service::sign_out(ctx.state::<Db>()?, &client(ctx), &token).await?;
        }
        ctx.append_http_header(
            "Set-Cookie",
            format!("{REFRESH_COOKIE}=; HttpOnly; SameSite=Strict; Path=/graphql; Max-Age=0"),
        );
        Ok(true)
    }

    /// Changes the signed-in account's password and ends all its sessions.
    #[graphql(guard = "SignedIn")]
    async fn change_password(&self, ctx: &Context<'_>, current_password: String, new_password: String) -> Result<bool> {
        let user_id = viewer(ctx).user_id().ok_or_else(|| AppError::new(ErrorCode::Unauthenticated, "sign in"))?;
        passwords::change_password(
            ctx.state::<Db>()?,
            ctx.state::<Arc<Auth>>()?,
            &client(ctx),
            user_id,
            &current_password,
            &new_password,
        )
        .await?;
        Ok(true)
    }

    /// Sends a password-reset code to the address if an account has it. Always true, so the
    /// answer does not reveal which addresses have accounts.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> Result<bool> {
        passwords::request_password_reset(ctx.state::<Db>()?, ctx.state::<Arc<Auth>>()?, &client(ctx), &email).await?;
        Ok(true)
    }

    /// Sets a new password with a reset code (single use, short-lived) and ends all sessions.
    async fn reset_password(&self, ctx: &Context<'_>, code: String, new_password: String) -> Result<bool> {
        passwords::reset_password(ctx.state::<Db>()?, ctx.state::<Arc<Auth>>()?, &client(ctx), &code, &new_password)
            .await?;
        Ok(true)
    }

    /// Changes an account's role; a VENDOR needs `vendorId`. Ends the account's sessions.
    #[graphql(guard = "Require::new(Permission::UsersManage)")]
    async fn set_user_role(&self, ctx: &Context<'_>, user_id: ID, role: Role, vendor_id: Option<ID>) -> Result<User> {
        let actor = viewer(ctx).actor()?;
        let user_id = GlobalId::parse_as(&user_id, NodeType::User)?;
        let vendor_id = vendor_id.map(|id| GlobalId::parse_as(&id, NodeType::Vendor)).transpose()?;
        let user = service::set_role(
            ctx.state::<Db>()?,
            ctx.state::<Arc<Auth>>()?,
            &client(ctx),
            actor,
            user_id,
            role.into(),
            vendor_id,
        )
        .await?;
        Ok(user.into())
    }

    /// Issues an API key of a partner (see `createPartner`). The key is in the answer, and
    /// nowhere else, ever.
    #[graphql(guard = "Require::new(Permission::KeysManage)")]
    async fn issue_api_key(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The partner's slug.")] partner: String,
        #[graphql(desc = "What the key is for, such as `production`.")] name: String,
        scopes: Vec<String>,
    ) -> Result<IssuedApiKey> {
        let actor = viewer(ctx).actor()?;
        let db = ctx.state::<Db>()?;
        let partner = crate::partner::service::by_slug(db, &partner).await?;
        let (key, row) = keys::issue(db, &client(ctx), actor, partner.id, &name, scopes).await?;
        Ok(IssuedApiKey { key, api_key: ApiKey(row) })
    }

    /// Revokes a partner API key; it stops working with the next request.
    #[graphql(guard = "Require::new(Permission::KeysManage)")]
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> Result<ApiKey> {
        let actor = viewer(ctx).actor()?;
        let id = GlobalId::parse_as(&id, NodeType::ApiKey)?;
        Ok(ApiKey(keys::revoke(ctx.state::<Db>()?, &client(ctx), actor, id).await?))
    }
}
