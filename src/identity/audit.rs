//! The security audit log, and the throttling of sign-ins, password changes and reset requests.
//!
//! An attempt takes a point from two leaky buckets of the [`Limiter`] (its subject's, an email or
//! an account, and its client address's) before the costly check it guards, so no number of
//! concurrent attempts gets past a limit; with the Redis limiter the limits hold across every
//! replica. A sign-in or password change that succeeds gives its points back: the limits count
//! failures. Every attempt's outcome is an audit event.

use std::time::Duration;

use entity::security_event;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;
use uuid::Uuid;

use super::viewer::ClientInfo;
use crate::db::{self, Db};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limiter::{Limiter, Quota, Taken};

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

async fn insert(conn: &impl ConnectionTrait, event: Event<'_>, detail: Value) -> AppResult<()> {
    let row = security_event::ActiveModel {
        id: Set(event.id),
        occurred_at: Set(event.at),
        action: Set(event.action.name().to_owned()),
        actor_id: Set(event.actor),
        subject: Set(event.subject.map(|s| s.chars().take(254).collect())),
        ip: Set(event.client.ip.clone()),
        detail: Set(detail),
    };
    security_event::Entity::insert(row).exec_without_returning(conn).await?;
    Ok(())
}

/// How many attempts of one kind an account and an address may make within a window (a point
/// of each comes back every `window / limit`).
#[derive(Clone, Copy, Debug)]
pub struct AttemptLimits {
    /// The kind of attempt, naming its buckets: `sign_in`, `password_change`, `password_reset`.
    pub kind: &'static str,
    /// Attempts per subject (an email address or an account id).
    pub per_subject: u64,
    /// Attempts per client address.
    pub per_ip: u64,
    /// The window, in minutes.
    pub window_minutes: u64,
}

impl AttemptLimits {
    /// The limits of password checks of `kind` (`sign_in`, `password_change`).
    pub fn password_checks(kind: &'static str, settings: &crate::config::AuthSettings) -> Self {
        Self {
            kind,
            per_subject: settings.max_failed_sign_ins_per_account,
            per_ip: settings.max_failed_sign_ins_per_ip,
            window_minutes: settings.sign_in_window_minutes,
        }
    }

    /// The limits of password-reset requests.
    pub fn password_resets(settings: &crate::config::AuthSettings) -> Self {
        Self {
            kind: "password_reset",
            per_subject: settings.max_password_resets_per_account,
            per_ip: settings.max_password_resets_per_ip,
            window_minutes: settings.sign_in_window_minutes,
        }
    }

    fn quota(self, limit: u64) -> Quota {
        let window = Duration::from_secs(self.window_minutes.max(1) * 60);
        Quota::per_window(u32::try_from(limit).unwrap_or(u32::MAX).max(1), window)
    }
}

/// An attempt that was let through: the points it took, to keep (a failure) or give back.
#[derive(Debug)]
pub struct Attempt {
    taken: Vec<(String, Quota)>,
}

impl Attempt {
    /// Gives the attempt's points back: it succeeded, or failed for a fault of ours.
    pub async fn give_back(self, limiter: &dyn Limiter) {
        for (bucket, quota) in self.taken {
            limiter.give_back(&bucket, quota, 1).await;
        }
    }
}

/// Takes an attempt from the buckets of `subject` and of the client's address, before the
/// costly check it guards; a refused attempt is recorded as `throttled` and takes nothing.
///
/// # Errors
/// `RATE_LIMITED` when over a limit, `INTERNAL` when the store fails.
pub async fn take_attempt(
    db: &Db,
    limiter: &dyn Limiter,
    throttled: Action,
    subject: &str,
    client: &ClientInfo,
    limits: AttemptLimits,
) -> AppResult<Attempt> {
    let mut buckets = vec![(format!("{}:subject:{subject}", limits.kind), limits.quota(limits.per_subject))];
    if let Some(ip) = &client.ip {
        buckets.push((format!("{}:ip:{ip}", limits.kind), limits.quota(limits.per_ip)));
    }
    let mut attempt = Attempt { taken: Vec::new() };
    for (bucket, quota) in buckets {
        if let Taken::Granted { .. } = limiter.take(&bucket, quota, 1).await {
            attempt.taken.push((bucket, quota));
            continue;
        }
        attempt.give_back(limiter).await;
        record(db.conn(), throttled, None, Some(subject), client, Value::Object(Default::default())).await?;
        tracing::info!(audit.action = throttled.name(), "attempt refused by throttling");
        return Err(AppError::new(ErrorCode::RateLimited, "too many attempts; try again later"));
    }
    Ok(attempt)
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
