//! The security audit log, and sign-in throttling computed from it.
//!
//! Failed sign-ins are audit events; counting them in the store (rather than in memory) makes the
//! limits hold across every replica.

use chrono::Duration;
use entity::security_event;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;
use uuid::Uuid;

use super::viewer::ClientInfo;
use crate::db::{self, Db};
use crate::error::{AppError, AppResult, ErrorCode};

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// An account was created.
    Registered,
    /// A sign-in succeeded.
    SignedIn,
    /// A sign-in failed (unknown email or wrong password: recorded alike).
    SignInFailed,
    /// A sign-in was refused by throttling.
    SignInThrottled,
    /// A session was ended.
    SignedOut,
    /// A used refresh token was presented again; its family was revoked.
    RefreshReuse,
    /// A password was changed.
    PasswordChanged,
    /// A password reset was asked for.
    PasswordResetRequested,
    /// A password was reset with a token.
    PasswordReset,
    /// A role was changed.
    RoleChanged,
    /// A partner key was issued.
    ApiKeyIssued,
    /// A partner key was revoked.
    ApiKeyRevoked,
}

impl Action {
    /// The stored name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::SignedIn => "signed_in",
            Self::SignInFailed => "sign_in_failed",
            Self::SignInThrottled => "sign_in_throttled",
            Self::SignedOut => "signed_out",
            Self::RefreshReuse => "refresh_token_reused",
            Self::PasswordChanged => "password_changed",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::PasswordReset => "password_reset",
            Self::RoleChanged => "role_changed",
            Self::ApiKeyIssued => "api_key_issued",
            Self::ApiKeyRevoked => "api_key_revoked",
        }
    }
}

/// Appends an event. `detail` must never hold a secret.
///
/// # Errors
/// `INTERNAL` when the store fails.
pub async fn record(
    conn: &impl ConnectionTrait,
    action: Action,
    actor: Option<Uuid>,
    subject: Option<&str>,
    client: &ClientInfo,
    detail: Value,
) -> AppResult<()> {
    let event = security_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        occurred_at: Set(db::now()),
        action: Set(action.name().to_owned()),
        actor_id: Set(actor),
        subject: Set(subject.map(|s| s.chars().take(254).collect())),
        ip: Set(client.ip.clone()),
        detail: Set(detail),
    };
    security_event::Entity::insert(event).exec_without_returning(conn).await?;
    tracing::info!(audit.action = action.name(), audit.actor = ?actor, "security event");
    Ok(())
}

/// Refuses a sign-in when the account or the address has failed too often lately.
///
/// # Errors
/// `RATE_LIMITED` when over a limit, `INTERNAL` when the store fails.
pub async fn check_sign_in_throttle(
    db: &Db,
    email: &str,
    client: &ClientInfo,
    settings: &crate::config::AuthSettings,
) -> AppResult<()> {
    let since = db::now() - Duration::minutes(i64::try_from(settings.sign_in_window_minutes).unwrap_or(15));
    let failures = || {
        security_event::Entity::find()
            .filter(security_event::Column::Action.eq(Action::SignInFailed.name()))
            .filter(security_event::Column::OccurredAt.gt(since))
    };
    let by_account = failures().filter(security_event::Column::Subject.eq(email)).count(db.conn()).await?;
    let by_ip = match &client.ip {
        Some(ip) => failures().filter(security_event::Column::Ip.eq(ip.as_str())).count(db.conn()).await?,
        None => 0,
    };
    if by_account >= settings.max_failed_sign_ins_per_account || by_ip >= settings.max_failed_sign_ins_per_ip {
        record(db.conn(), Action::SignInThrottled, None, Some(email), client, Value::Object(Default::default()))
            .await?;
        return Err(AppError::new(ErrorCode::RateLimited, "too many failed sign-ins; try again later"));
    }
    Ok(())
}

/// Most events [`recent`] returns.
pub const MAX_EVENTS: u64 = 200;

/// The most recent events, newest first.
///
/// # Errors
/// `BAD_USER_INPUT` for a limit over [`MAX_EVENTS`], `INTERNAL` when the store fails.
pub async fn recent(db: &Db, limit: u64, action: Option<&str>) -> AppResult<Vec<security_event::Model>> {
    if limit > MAX_EVENTS {
        return Err(AppError::bad_input(format!("at most {MAX_EVENTS} events at a time")));
    }
    let mut query = security_event::Entity::find();
    if let Some(action) = action {
        query = query.filter(security_event::Column::Action.eq(action));
    }
    Ok(query
        .order_by_desc(security_event::Column::OccurredAt)
        .order_by_desc(security_event::Column::Id)
        .limit(limit)
        .all(db.conn())
        .await?)
}
