//! Passwords after registration: changing one (with the current password, throttled like
//! sign-ins) and resetting a forgotten one with a single-use code sent by mail. Each ends every
//! session of the account, access tokens included.

use chrono::Duration;
use entity::{password_reset, user};
use sea_orm::ExprTrait;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use super::audit::{self, Action};
use super::credentials::{Email, Password, verify_password};
use super::mailer::Message;
use super::service::{Auth, revoke_all, unauthenticated};
use super::tokens::{opaque_token, token_hash};
use super::viewer::ClientInfo;
use crate::db::{self, Db};
use crate::error::{AppError, AppResult};

/// Changes the signed-in account's password and ends all its sessions.
///
/// # Errors
/// `BAD_USER_INPUT` when the current password is wrong or the new one is weak.
pub async fn change_password(
    db: &Db,
    auth: &Auth,
    client: &ClientInfo,
    user_id: Uuid,
    current: &str,
    new: &str,
) -> AppResult<()> {
    let account =
        user::Entity::find_by_id(user_id).one(db.conn()).await?.ok_or_else(|| unauthenticated("sign in again"))?;
    let email = Email::parse(&account.email)?;
    let new = Password::new(new, &email)?;
    let limits = audit::AttemptLimits::password_checks("password_change", &auth.settings);
    let limiter = auth.limiter.as_ref();
    let subject = user_id.to_string();
    let attempt = audit::take_attempt(db, limiter, Action::PasswordChangeThrottled, &subject, client, limits).await?;
    let checked = verify_password(current, Some(account.password_hash.clone())).await;
    if !matches!(checked, Ok(true)) {
        let outcome = if checked.is_err() { Action::PasswordChangeThrottled } else { Action::PasswordChangeFailed };
        if checked.is_err() {
            attempt.give_back(limiter).await;
        }
        audit::record(db.conn(), outcome, Some(user_id), Some(&subject), client, json!({})).await?;
        return Err(checked.err().unwrap_or_else(|| AppError::bad_input("the current password is wrong")));
    }
    let hash = new.hash().await?;
    let txn = db.begin_write().await?;
    set_password_hash(&txn, user_id, hash).await?;
    revoke_all(&txn, user_id).await?;
    audit::record(&txn, Action::PasswordChanged, Some(user_id), Some(&subject), client, json!({})).await?;
    txn.commit().await?;
    attempt.give_back(limiter).await;
    auth.accounts.invalidate(user_id);
    Ok(())
}

/// Sets a new password hash; access tokens issued before it stop working.
async fn set_password_hash(conn: &impl ConnectionTrait, user_id: Uuid, hash: String) -> AppResult<()> {
    user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(hash))
        .col_expr(user::Column::SessionVersion, Expr::col(user::Column::SessionVersion).add(1))
        .col_expr(user::Column::UpdatedAt, Expr::value(db::now()))
        .filter(user::Column::Id.eq(user_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Sends a single-use reset link to the account with this email, if there is one. The answer is
/// the same either way.
///
/// # Errors
/// `BAD_USER_INPUT` for a malformed email.
pub async fn request_password_reset(db: &Db, auth: &Auth, client: &ClientInfo, email: &str) -> AppResult<()> {
    let email = Email::parse(email)?;
    let limits = audit::AttemptLimits::password_resets(&auth.settings);
    // Every request keeps its points, for an account or not, so the answer reveals nothing.
    let _attempt =
        audit::take_attempt(db, auth.limiter.as_ref(), Action::PasswordResetThrottled, email.as_str(), client, limits)
            .await?;
    let Some(account) = user::Entity::find().filter(user::Column::Email.eq(email.as_str())).one(db.conn()).await?
    else {
        audit::record(db.conn(), Action::PasswordResetRequested, None, Some(email.as_str()), client, json!({})).await?;
        return Ok(());
    };
    let token = opaque_token("aep_");
    let now = db::now();
    let row = password_reset::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(account.id),
        token_hash: Set(token_hash(&token)),
        expires_at: Set(now + Duration::minutes(i64::try_from(auth.settings.reset_token_minutes).unwrap_or(30))),
        created_at: Set(now),
        used_at: Set(None),
    };
    password_reset::Entity::insert(row).exec_without_returning(db.conn()).await?;
    let id = Some(account.id);
    audit::record(db.conn(), Action::PasswordResetRequested, id, Some(email.as_str()), client, json!({})).await?;
    let body =
        format!("Use this code to choose a new password within {} minutes: {token}", auth.settings.reset_token_minutes);
    auth.mailer.send(Message { to: account.email, subject: "Reset your Aeternum password".to_owned(), body }).await;
    Ok(())
}

/// Sets a new password with a reset token, once, and ends every session of the account.
///
/// # Errors
/// `BAD_USER_INPUT` for an unknown, used or expired token, or a weak password.
pub async fn reset_password(db: &Db, auth: &Auth, client: &ClientInfo, token: &str, new: &str) -> AppResult<()> {
    let invalid = || AppError::bad_input("the reset code is invalid or has expired");
    let row = password_reset::Entity::find()
        .filter(password_reset::Column::TokenHash.eq(token_hash(token)))
        .one(db.conn())
        .await?
        .filter(|r| r.used_at.is_none() && r.expires_at > db::now())
        .ok_or_else(invalid)?;
    let account = user::Entity::find_by_id(row.user_id).one(db.conn()).await?.ok_or_else(invalid)?;
    let hash = Password::new(new, &Email::parse(&account.email)?)?.hash().await?;
    let txn = db.begin_write().await?;
    let used = password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(db::now()))
        .filter(password_reset::Column::Id.eq(row.id))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    if used.rows_affected == 0 {
        return Err(invalid());
    }
    set_password_hash(&txn, account.id, hash).await?;
    revoke_all(&txn, account.id).await?;
    audit::record(&txn, Action::PasswordReset, Some(account.id), Some(&account.email), client, json!({})).await?;
    txn.commit().await?;
    auth.accounts.invalidate(account.id);
    Ok(())
}
