//! Turning a request's credential into its [`Viewer`], the same way for every entry point
//! (HTTP and WebSocket).
//!
//! An access token is only as good as the account behind it: after its signature and expiry,
//! the account's current role, vendor and session version are checked, so a demotion, a
//! password change or a deleted account takes effect at once rather than when the token expires.
//! Account states are cached for `auth.account_cache_ms` (one second by default) and dropped from
//! the cache on every change made through this process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use entity::{Role, user};
use sea_orm::{EntityTrait, QuerySelect};
use uuid::Uuid;

use super::keys;
use super::service::Auth;
use super::viewer::Viewer;
use crate::db::Db;
use crate::error::{AppError, AppResult, ErrorCode};

/// Most accounts kept in the cache; past it the cache starts over.
const MAX_CACHED: usize = 10_000;

/// What an access token is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AccountState {
    role: Role,
    vendor_id: Option<Uuid>,
    /// Tokens issued under another version are refused.
    version: i32,
}

/// Recently read account states; `None` means the account does not exist.
pub struct AccountCache {
    ttl: Duration,
    entries: Mutex<HashMap<Uuid, (Option<AccountState>, Instant)>>,
}

impl AccountCache {
    /// A cache keeping states for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, entries: Mutex::new(HashMap::new()) }
    }

    /// Forgets an account, after it changed.
    pub fn invalidate(&self, user_id: Uuid) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(&user_id);
        }
    }

    async fn get(&self, db: &Db, user_id: Uuid) -> AppResult<Option<AccountState>> {
        if let Ok(entries) = self.entries.lock()
            && let Some((state, read_at)) = entries.get(&user_id)
            && read_at.elapsed() < self.ttl
        {
            return Ok(*state);
        }
        let row: Option<(Role, Option<Uuid>, i32)> = user::Entity::find_by_id(user_id)
            .select_only()
            .column(user::Column::Role)
            .column(user::Column::VendorId)
            .column(user::Column::SessionVersion)
            .into_tuple()
            .one(db.conn())
            .await?;
        let state = row.map(|(role, vendor_id, version)| AccountState { role, vendor_id, version });
        if !self.ttl.is_zero()
            && let Ok(mut entries) = self.entries.lock()
        {
            if entries.len() >= MAX_CACHED {
                entries.clear();
            }
            entries.insert(user_id, (state, Instant::now()));
        }
        Ok(state)
    }
}

/// Who is calling, from an `Authorization` value (`Bearer <access token>`) or a partner key;
/// nobody when neither is given.
///
/// # Errors
/// `UNAUTHENTICATED` for both at once, a malformed or invalid token, a token of an account that
/// changed since it was issued or no longer exists, or an unknown key.
pub async fn viewer(db: &Db, auth: &Auth, authorization: Option<&str>, api_key: Option<&str>) -> AppResult<Viewer> {
    Ok(caller(db, auth, authorization, api_key).await?.0)
}

/// Like [`viewer`], with the moment the credential stops being valid: an access token's expiry
/// (`None` for a partner key or nobody).
///
/// # Errors
/// As [`viewer`].
pub async fn caller(
    db: &Db,
    auth: &Auth,
    authorization: Option<&str>,
    api_key: Option<&str>,
) -> AppResult<(Viewer, Option<chrono::DateTime<chrono::Utc>>)> {
    match (authorization, api_key) {
        (None, None) => Ok((Viewer::Anonymous, None)),
        (Some(_), Some(_)) => {
            Err(AppError::new(ErrorCode::Unauthenticated, "send either a bearer token or an API key"))
        }
        (Some(authorization), None) => {
            let token = authorization.strip_prefix("Bearer ").ok_or_else(|| {
                AppError::new(ErrorCode::Unauthenticated, "use `Authorization: Bearer <access token>`")
            })?;
            let claims = auth.keys.verify(token.trim())?;
            let stale = || AppError::new(ErrorCode::Unauthenticated, "the session is no longer valid; sign in again");
            let state = auth.accounts.get(db, claims.sub).await?.ok_or_else(stale)?;
            if state != (AccountState { role: claims.role, vendor_id: claims.vid, version: claims.ver }) {
                return Err(stale());
            }
            let expires_at = chrono::DateTime::from_timestamp(claims.exp, 0);
            Ok((Viewer::User { id: claims.sub, role: claims.role, vendor_id: claims.vid }, expires_at))
        }
        (None, Some(key)) => {
            let (key, partner) = keys::authenticate(db, key).await?;
            let scopes = keys::scopes_of(&key);
            Ok((
                Viewer::Partner {
                    key_id: key.id,
                    partner_id: partner.id,
                    manifest: partner.active_manifest_id,
                    scopes,
                },
                None,
            ))
        }
    }
}
