//! Partner API keys: issued by admins, shown once, stored hashed, checked on every request so a
//! revocation takes effect at once.

use entity::{api_key, partner};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;
use uuid::Uuid;

use super::audit::{self, Action};
use super::tokens::{opaque_token, token_hash};
use super::viewer::{ClientInfo, Scope};
use crate::db::{self, Db};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::input::bounded_text;

/// The scopes a key may be granted, by name.
pub fn scope_names() -> Vec<&'static str> {
    use strum::IntoEnumIterator;
    Scope::iter().map(Scope::name).collect()
}
/// The scopes stored with a key; a name no longer known grants nothing.
pub fn scopes_of(key: &api_key::Model) -> Vec<Scope> {
    let names = key.scopes.as_array().map(Vec::as_slice).unwrap_or_default();
    names.iter().filter_map(|name| name.as_str()?.parse().ok()).collect()
}

/// Characters of a key kept as its visible prefix.
const PREFIX_CHARS: usize = 12;
/// How stale a key's `last_used_at` may be, in seconds.
const LAST_USED_RESOLUTION_SECONDS: i64 = 60;
/// Most keys listed.
pub const MAX_KEYS_LISTED: u64 = 200;

/// Issues a key of the partner `partner`; returns the key (the only time it exists in clear)
/// and its row.
///
/// # Errors
/// `BAD_USER_INPUT` for a bad name or an unknown scope.
pub async fn issue(
    db: &Db,
    client: &ClientInfo,
    actor: Uuid,
    partner: Uuid,
    name: &str,
    scopes: Vec<String>,
) -> AppResult<(String, api_key::Model)> {
    let name = bounded_text("name", name, 100, true)?;
    if let Some(unknown) = scopes.iter().find(|s| s.parse::<Scope>().is_err()) {
        return Err(AppError::bad_input(format!(
            "unknown scope `{}`; known: {}",
            unknown.chars().take(40).collect::<String>(),
            scope_names().join(", ")
        )));
    }
    let key = opaque_token("aek_");
    let prefix: String = key.chars().take(PREFIX_CHARS).collect();
    let row = api_key::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name),
        partner_id: Set(Some(partner)),
        prefix: Set(prefix.clone()),
        key_hash: Set(token_hash(&key)),
        scopes: Set(json!(scopes)),
        created_by: Set(Some(actor)),
        created_at: Set(db::now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    };
    let created = api_key::Entity::insert(row).exec_with_returning(db.conn()).await?;
    audit::record(db.conn(), Action::ApiKeyIssued, Some(actor), Some(&prefix), client, json!({ "scopes": scopes }))
        .await?;
    Ok((key, created))
}

/// Revokes a key; it stops working with the next request.
///
/// # Errors
/// `NOT_FOUND` for an unknown key.
pub async fn revoke(db: &Db, client: &ClientInfo, actor: Uuid, id: Uuid) -> AppResult<api_key::Model> {
    let key = api_key::Entity::find_by_id(id).one(db.conn()).await?.ok_or_else(|| AppError::not_found("API key"))?;
    if key.revoked_at.is_none() {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, Expr::value(db::now()))
            .filter(api_key::Column::Id.eq(id))
            .exec(db.conn())
            .await?;
        audit::record(db.conn(), Action::ApiKeyRevoked, Some(actor), Some(&key.prefix), client, json!({})).await?;
    }
    api_key::Entity::find_by_id(id).one(db.conn()).await?.ok_or_else(|| AppError::not_found("API key"))
}

/// The keys, newest first.
///
/// # Errors
/// `INTERNAL` when the store fails.
pub async fn list(db: &Db) -> AppResult<Vec<api_key::Model>> {
    Ok(api_key::Entity::find().order_by_desc(api_key::Column::CreatedAt).limit(MAX_KEYS_LISTED).all(db.conn()).await?)
}

/// The live keys of a partner.
///
/// # Errors
/// `INTERNAL` when the store fails.
pub async fn of_partner(db: &Db, partner: Uuid) -> AppResult<Vec<api_key::Model>> {
    Ok(api_key::Entity::find()
        .filter(api_key::Column::PartnerId.eq(partner))
        .filter(api_key::Column::RevokedAt.is_null())
        .order_by_desc(api_key::Column::CreatedAt)
        .limit(MAX_KEYS_LISTED)
        .all(db.conn())
        .await?)
}

/// The live key matching a presented key, with its partner, noting its use.
///
/// # Errors
/// `UNAUTHENTICATED` for an unknown or revoked key, or one of no partner.
pub async fn authenticate(db: &Db, presented: &str) -> AppResult<(api_key::Model, partner::Model)> {
    let refused = || AppError::new(ErrorCode::Unauthenticated, "the API key is invalid or revoked");
    if presented.len() > 100 {
        return Err(refused());
    }
    let (key, partner) = api_key::Entity::find()
        .find_also_related(partner::Entity)
        .filter(api_key::Column::KeyHash.eq(token_hash(presented)))
        .filter(api_key::Column::RevokedAt.is_null())
        .one(db.conn())
        .await?
        .ok_or_else(refused)?;
    let partner = partner.ok_or_else(refused)?;
    // A partner's every request would otherwise be a write: the time is kept to the minute.
    let now = db::now();
    if key.last_used_at.is_none_or(|used| now - used > chrono::Duration::seconds(LAST_USED_RESOLUTION_SECONDS)) {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::LastUsedAt, Expr::value(now))
            .filter(api_key::Column::Id.eq(key.id))
            .exec(db.conn())
            .await?;
    }
    Ok((key, partner))
}
