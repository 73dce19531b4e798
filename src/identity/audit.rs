//! The security audit log, and the throttling of sign-ins, password changes and reset requests
//! computed from it.
//!
//! Attempts are audit events, written before the check they guard; counting them in the store
//! (rather than in memory) makes the limits hold across every replica.

use chrono::Duration;
use entity::security_event;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;
use uuid::Uuid;

use super::viewer::ClientInfo;
use crate::db::{self, Db};
use crate::error::{AppError, AppResult, ErrorCode};

/// What happened. Stored as the variant's name in snake_case; stored names never change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
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
    #[strum(serialize = "refresh_token_reused")]
    RefreshReuse,
    /// A password was changed.
    PasswordChanged,
    /// A password reset was asked for.
    PasswordResetRequested,
    /// A password was reset with a token.
    PasswordReset,
    /// A password reset was refused by throttling.
    PasswordResetThrottled,
    /// A password change failed: the current password was wrong.
    PasswordChangeFailed,
    /// A password change was refused by throttling.
    PasswordChangeThrottled,
    /// A role was changed.
    RoleChanged,
    /// Money the provider took for an order that could not keep it was sent back.
    PaymentAutoRefunded,
    /// A partner key was issued.
    ApiKeyIssued,
    /// A partner key was revoked.
    ApiKeyRevoked,
    /// A partner was created.
    PartnerCreated,
    /// A version of a partner's operation manifest was registered.
    PartnerManifestRegistered,
    /// A version of a partner's operation manifest was made the one its keys run.
    PartnerManifestActivated,
}

impl Action {
    /// The stored name.
    pub fn name(self) -> &'static str {
        self.into()
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
    let event = Event { id: Uuid::now_v7(), at: db::now(), action, actor, subject, client };
    insert(conn, event, detail).await?;
    tracing::info!(audit.action = action.name(), audit.actor = ?actor, "security event");
    Ok(())
}

/// One audit row to write.
struct Event<'a> {
    id: Uuid,
    at: chrono::DateTime<chrono::Utc>,
    action: Action,
    actor: Option<Uuid>,
    subject: Option<&'a str>,
    client: &'a ClientInfo,
}

/// A subject as it is stored (and counted): at most 254 characters.
fn stored_subject(subject: &str) -> String {
    subject.chars().take(254).collect()
}

async fn insert(conn: &impl ConnectionTrait, event: Event<'_>, detail: Value) -> AppResult<()> {
    let row = security_event::ActiveModel {
        id: Set(event.id),
        occurred_at: Set(event.at),
        action: Set(event.action.name().to_owned()),
        actor_id: Set(event.actor),
        subject: Set(event.subject.map(stored_subject)),
        ip: Set(event.client.ip.clone()),
        detail: Set(detail),
    };
    security_event::Entity::insert(row).exec_without_returning(conn).await?;
    Ok(())
}

/// How many attempts of one kind an account and an address may make within a window.
#[derive(Clone, Copy, Debug)]
pub struct AttemptLimits {
    /// Attempts per subject (an email address or an account id).
    pub per_subject: u64,
    /// Attempts per client address.
    pub per_ip: u64,
    /// The window, in minutes.
    pub window_minutes: u64,
}

impl AttemptLimits {
    /// The limits of password checks: sign-ins, and current passwords in password changes.
    pub fn password_checks(settings: &crate::config::AuthSettings) -> Self {
        Self {
            per_subject: settings.max_failed_sign_ins_per_account,
            per_ip: settings.max_failed_sign_ins_per_ip,
            window_minutes: settings.sign_in_window_minutes,
        }
    }

    /// The limits of password-reset requests.
    pub fn password_resets(settings: &crate::config::AuthSettings) -> Self {
        Self {
            per_subject: settings.max_password_resets_per_account,
            per_ip: settings.max_password_resets_per_ip,
            window_minutes: settings.sign_in_window_minutes,
        }
    }
}

/// An attempt that was let through: its audit row, to be settled with the outcome.
#[derive(Debug)]
#[must_use = "settle the attempt with its outcome, or it counts as failed"]
pub struct Attempt {
    id: Uuid,
}

/// Reserves an attempt before the costly check it guards (a password check, a reset mail): the
/// attempt is written first as `presumed` (a failure), then the attempts in the window are
/// counted, this one included. Writing before counting makes the limit hold under any
/// concurrency and across replicas: of N attempts racing, the k-th to be written sees at least k,
/// so no more than the limit ever get through. A refused attempt is rewritten as `throttled` and
/// does not count.
///
/// # Errors
/// `RATE_LIMITED` when over a limit, `INTERNAL` when the store fails.
pub async fn reserve_attempt(
    db: &Db,
    presumed: Action,
    throttled: Action,
    subject: &str,
    client: &ClientInfo,
    limits: AttemptLimits,
) -> AppResult<Attempt> {
    let id = Uuid::now_v7();
    let now = db::now();
    let event = Event { id, at: now, action: presumed, actor: None, subject: Some(subject), client };
    insert(db.conn(), event, Value::Object(Default::default())).await?;
    let subject = stored_subject(subject);
    let since = now - Duration::minutes(i64::try_from(limits.window_minutes).unwrap_or(15));
    let attempts = || {
        security_event::Entity::find()
            .filter(security_event::Column::Action.eq(presumed.name()))
            .filter(security_event::Column::OccurredAt.gt(since))
    };
    let by_subject = attempts().filter(security_event::Column::Subject.eq(subject)).count(db.conn()).await?;
    let by_ip = match &client.ip {
        Some(ip) => attempts().filter(security_event::Column::Ip.eq(ip.as_str())).count(db.conn()).await?,
        None => 0,
    };
    let attempt = Attempt { id };
    if by_subject > limits.per_subject || by_ip > limits.per_ip {
        settle(db.conn(), attempt, throttled, None).await?;
        tracing::info!(audit.action = throttled.name(), "attempt refused by throttling");
        return Err(AppError::new(ErrorCode::RateLimited, "too many attempts; try again later"));
    }
    Ok(attempt)
}

/// Records the outcome of a reserved attempt (on `conn`, so it can join the transaction that
/// acts on a success), with the account it concerned when known.
///
/// # Errors
/// `INTERNAL` when the store fails.
pub async fn settle(
    conn: &impl ConnectionTrait,
    attempt: Attempt,
    outcome: Action,
    actor: Option<Uuid>,
) -> AppResult<()> {
    security_event::Entity::update_many()
        .col_expr(security_event::Column::Action, Expr::value(outcome.name()))
        .col_expr(security_event::Column::ActorId, Expr::value(actor))
        .filter(security_event::Column::Id.eq(attempt.id))
        .exec(conn)
        .await?;
    tracing::info!(audit.action = outcome.name(), audit.actor = ?actor, "security event");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_action_names_never_change() {
        use strum::IntoEnumIterator;
        let names: Vec<&str> = Action::iter().map(Action::name).collect();
        assert_eq!(
            names,
            [
                "registered",
                "signed_in",
                "sign_in_failed",
                "sign_in_throttled",
                "signed_out",
                "refresh_token_reused",
                "password_changed",
                "password_reset_requested",
                "password_reset",
                "password_reset_throttled",
                "password_change_failed",
                "password_change_throttled",
                "role_changed",
                "payment_auto_refunded",
                "api_key_issued",
                "api_key_revoked",
                "partner_created",
                "partner_manifest_registered",
                "partner_manifest_activated",
            ]
        );
    }
}
