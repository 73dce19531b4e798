//! Account use cases: register, sign in, refresh, sign out, roles (password changes and resets
//! are in [`super::passwords`]).

use sea_orm::ExprTrait;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use entity::{Role, refresh_token, user};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use super::audit::{self, Action};
use super::authenticate::AccountCache;
use super::credentials::{Email, Password, verify_password};
use super::mailer::Mailer;
use super::tokens::{TokenKeys, opaque_token, token_hash};
use super::viewer::ClientInfo;
use crate::config::AuthSettings;
use crate::db::{self, Db};
use crate::error::{AppError, AppResult, ErrorCode, conflict_on_unique};
use crate::input::bounded_text;

/// What the identity use cases need besides the store, shared by all requests.
pub struct Auth {
    /// Token keys.
    pub keys: TokenKeys,
    /// Lifetimes and limits.
    pub settings: AuthSettings,
    /// Delivery of reset links.
    pub mailer: Arc<dyn Mailer>,
    /// Account states that access tokens are checked against.
    pub accounts: AccountCache,
    /// The buckets that throttle sign-ins, password changes and reset requests.
    pub limiter: Arc<dyn crate::limiter::Limiter>,
}

/// A signed-in session.
pub struct Session {
    /// The short-lived access token.
    pub access_token: String,
    /// When it expires.
    pub access_expires_at: DateTime<Utc>,
    /// The refresh token (shown once, stored hashed).
    pub refresh_token: String,
    /// The account.
    pub user: user::Model,
}

pub(super) fn unauthenticated(message: &str) -> AppError {
    AppError::new(ErrorCode::Unauthenticated, message)
}

/// Creates a customer account and signs it in, in one transaction.
///
/// # Errors
/// `BAD_USER_INPUT` for a malformed email, a weak password or a bad name; `CONFLICT` when the
/// email is taken. Nothing is written on error.
pub async fn register(
    db: &Db,
    auth: &Auth,
    client: &ClientInfo,
    email: &str,
    password: &str,
    name: &str,
) -> AppResult<Session> {
    let email = Email::parse(email)?;
    let password = Password::new(password, &email)?;
    let display_name = bounded_text("displayName", name, 100, true)?;
    let hash = password.hash().await?;
    let txn = db.begin_write().await?;
    let created = insert_user(&txn, &email, hash, Role::Customer, None, display_name).await?;
    let session = start_session(&txn, auth, created, Uuid::now_v7()).await?;
    audit::record(&txn, Action::Registered, Some(session.user.id), Some(email.as_str()), client, json!({})).await?;
    txn.commit().await?;
    Ok(session)
}

/// Signs in with email and password. Unknown email and wrong password give the same error after
/// the same work.
///
/// # Errors
/// `UNAUTHENTICATED` for wrong credentials, `RATE_LIMITED` when throttled.
pub async fn sign_in(db: &Db, auth: &Auth, client: &ClientInfo, email: &str, password: &str) -> AppResult<Session> {
    let Ok(email) = Email::parse(email) else {
        return Err(unauthenticated("wrong email or password"));
    };
    let limits = audit::AttemptLimits::password_checks("sign_in", &auth.settings);
    let limiter = auth.limiter.as_ref();
    let attempt = audit::take_attempt(db, limiter, Action::SignInThrottled, email.as_str(), client, limits).await?;
    let found = user::Entity::find().filter(user::Column::Email.eq(email.as_str())).one(db.conn()).await?;
    let verified = match verify_password(password, found.as_ref().map(|u| u.password_hash.clone())).await {
        Ok(verified) => verified,
        Err(error) => {
            // Not checked (the hashing queue is full): not the caller's failure.
            attempt.give_back(limiter).await;
            audit::record(db.conn(), Action::SignInThrottled, None, Some(email.as_str()), client, json!({})).await?;
            return Err(error);
        }
    };
    match found.filter(|_| verified) {
        Some(user) => {
            let txn = db.begin_write().await?;
            let session = start_session(&txn, auth, user, Uuid::now_v7()).await?;
            let id = Some(session.user.id);
            audit::record(&txn, Action::SignedIn, id, Some(email.as_str()), client, json!({})).await?;
            txn.commit().await?;
            attempt.give_back(limiter).await;
            Ok(session)
        }
        None => {
            audit::record(db.conn(), Action::SignInFailed, None, Some(email.as_str()), client, json!({})).await?;
            Err(unauthenticated("wrong email or password"))
        }
    }
}

/// Exchanges a refresh token for a new session of the same family. Presenting a token that was
/// already used revokes every session of its account.
///
/// # Errors
/// `UNAUTHENTICATED` for an unknown, used, revoked or expired token.
pub async fn refresh(db: &Db, auth: &Auth, client: &ClientInfo, token: &str) -> AppResult<Session> {
    let invalid = || unauthenticated("the refresh token is invalid or expired");
    let row = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(token_hash(token)))
        .one(db.conn())
        .await?
        .ok_or_else(invalid)?;
    if row.revoked_at.is_some() || row.expires_at <= db::now() {
        return Err(invalid());
    }
    // Marking the token used only if it still is unused, as the first statement of the transaction
    // that issues its successor, makes exactly one of two concurrent uses win: the other waits
    // for the winner's commit (its row lock, or SQLite's write lock), finds the token used, and
    // revokes every session, the winner's new one included.
    let txn = db.begin_write().await?;
    let marked = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(db::now()))
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    if marked.rows_affected == 0 {
        txn.rollback().await?;
        revoke_all(db.conn(), row.user_id).await?;
        audit::record(
            db.conn(),
            Action::RefreshReuse,
            Some(row.user_id),
            None,
            client,
            json!({ "family": row.family_id }),
        )
        .await?;
        tracing::warn!(user.id = %row.user_id, "refresh token reused; every session of the account revoked");
        return Err(invalid());
    }
    let user = user::Entity::find_by_id(row.user_id).one(&txn).await?.ok_or_else(invalid)?;
    let session = start_session(&txn, auth, user, row.family_id).await?;
    txn.commit().await?;
    Ok(session)
}

/// Ends the session a refresh token belongs to (its whole family). Unknown tokens are ignored.
///
/// # Errors
/// `INTERNAL` when the store fails.
pub async fn sign_out(db: &Db, client: &ClientInfo, token: &str) -> AppResult<()> {
    let found = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(token_hash(token)))
        .one(db.conn())
        .await?;
    if let Some(row) = found {
        refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::RevokedAt, Expr::value(db::now()))
            .filter(refresh_token::Column::FamilyId.eq(row.family_id))
            .filter(refresh_token::Column::RevokedAt.is_null())
            .exec(db.conn())
            .await?;
        audit::record(db.conn(), Action::SignedOut, Some(row.user_id), None, client, json!({})).await?;
    }
    Ok(())
}

/// Ends every session of an account.
///
/// # Errors
/// `INTERNAL` when the store fails.
pub async fn revoke_all(conn: &impl ConnectionTrait, user_id: Uuid) -> AppResult<()> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(db::now()))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

async fn start_session(
    conn: &impl ConnectionTrait,
    auth: &Auth,
    user: user::Model,
    family: Uuid,
) -> AppResult<Session> {
    let (access_token, access_expires_at) =
        auth.keys.issue(user.id, user.role, user.vendor_id, user.session_version)?;
    let refresh_token = opaque_token("aer_");
    let now = db::now();
    let row = refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user.id),
        family_id: Set(family),
        token_hash: Set(token_hash(&refresh_token)),
        expires_at: Set(now + Duration::days(i64::try_from(auth.settings.refresh_token_days).unwrap_or(30))),
        created_at: Set(now),
        used_at: Set(None),
        revoked_at: Set(None),
    };
    refresh_token::Entity::insert(row).exec_without_returning(conn).await?;
    Ok(Session { access_token, access_expires_at, refresh_token, user })
}

/// Creates an account with any role (the command-line bootstrap; no session is started).
///
/// # Errors
/// As [`register`], plus `BAD_USER_INPUT` when a VENDOR has no vendor or another role has one.
pub async fn create_user(
    db: &Db,
    email: &str,
    password: &str,
    name: &str,
    role: Role,
    vendor_id: Option<Uuid>,
) -> AppResult<user::Model> {
    check_vendor_binding(role, vendor_id)?;
    let email = Email::parse(email)?;
    let password = Password::new(password, &email)?;
    let display_name = bounded_text("displayName", name, 100, true)?;
    insert_user(db.conn(), &email, password.hash().await?, role, vendor_id, display_name).await
}

/// Writes an account row from parsed, hashed input.
async fn insert_user(
    conn: &impl ConnectionTrait,
    email: &Email,
    password_hash: String,
    role: Role,
    vendor_id: Option<Uuid>,
    display_name: String,
) -> AppResult<user::Model> {
    let now = db::now();
    let model = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email.as_str().to_owned()),
        password_hash: Set(password_hash),
        role: Set(role),
        vendor_id: Set(vendor_id),
        display_name: Set(display_name),
        session_version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    };
    user::Entity::insert(model)
        .exec_with_returning(conn)
        .await
        .map_err(conflict_on_unique("an account with this email already exists"))
}

fn check_vendor_binding(role: Role, vendor_id: Option<Uuid>) -> AppResult<()> {
    match (role, vendor_id) {
        (Role::Vendor, None) => Err(AppError::bad_input("a VENDOR account needs its vendor")),
        (Role::Vendor, Some(_)) | (_, None) => Ok(()),
        (_, Some(_)) => Err(AppError::bad_input("only VENDOR accounts belong to a vendor")),
    }
}

/// Changes an account's role (and vendor), and ends its sessions so the change applies at once.
///
/// # Errors
/// `NOT_FOUND` for an unknown account or vendor, `BAD_USER_INPUT` for an inconsistent vendor.
pub async fn set_role(
    db: &Db,
    auth: &Auth,
    client: &ClientInfo,
    actor: Uuid,
    user_id: Uuid,
    role: Role,
    vendor_id: Option<Uuid>,
) -> AppResult<user::Model> {
    check_vendor_binding(role, vendor_id)?;
    if let Some(vendor) = vendor_id {
        crate::catalog::service::vendor_by_id(db, vendor).await?;
    }
    let account = user_by_id(db, user_id).await?;
    if account.role == role && account.vendor_id == vendor_id {
        return Ok(account); // nothing changes, so no session needs to end
    }
    let txn = db.begin_write().await?;
    user::Entity::update_many()
        .col_expr(user::Column::Role, Expr::value(role))
        .col_expr(user::Column::VendorId, Expr::value(vendor_id))
        .col_expr(user::Column::SessionVersion, Expr::col(user::Column::SessionVersion).add(1))
        .col_expr(user::Column::UpdatedAt, Expr::value(db::now()))
        .filter(user::Column::Id.eq(user_id))
        .exec(&txn)
        .await?;
    revoke_all(&txn, user_id).await?;
    let detail =
        json!({ "from": format!("{:?}", account.role).to_uppercase(), "to": format!("{role:?}").to_uppercase() });
    audit::record(&txn, Action::RoleChanged, Some(actor), Some(&user_id.to_string()), client, detail).await?;
    txn.commit().await?;
    auth.accounts.invalidate(user_id);
    user_by_id(db, user_id).await
}

/// An account by id.
///
/// # Errors
/// `NOT_FOUND` when absent.
pub async fn user_by_id(db: &Db, id: Uuid) -> AppResult<user::Model> {
    user::Entity::find_by_id(id).one(db.conn()).await?.ok_or_else(|| AppError::not_found("user"))
}
