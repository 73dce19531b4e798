//! Keeping type-ahead suggestions clean: staff block phrases, and a suggestion containing a
//! blocked phrase is never shown, whoever searched for it.

use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::search_suggestion_block;
use sea_orm::{ActiveValue::Set, EntityTrait, QueryOrder, QuerySelect};

use super::analytics::normalise;
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::graphql::state::State;
use crate::identity::Permission;
use crate::identity::guards::{Require, viewer};

/// Most phrases that can be blocked.
pub const MAX_BLOCKED: u64 = 1_000;

/// The blocked phrases, normalised.
///
/// # Errors
/// When the store fails.
pub async fn blocked(db: &Db) -> AppResult<Vec<String>> {
    Ok(search_suggestion_block::Entity::find()
        .select_only()
        .column(search_suggestion_block::Column::Phrase)
        .order_by_asc(search_suggestion_block::Column::Phrase)
        .limit(MAX_BLOCKED)
        .into_tuple()
        .all(db.conn())
        .await?)
}

/// Whether `suggestion` contains any of the `blocked` phrases.
pub fn is_blocked(suggestion: &str, blocked: &[String]) -> bool {
    let suggestion = normalise(suggestion);
    blocked.iter().any(|phrase| suggestion.contains(phrase.as_str()))
}

fn parse_phrase(phrase: &str) -> AppResult<String> {
    let phrase = normalise(phrase);
    if phrase.is_empty() {
        return Err(AppError::bad_input("the phrase must not be blank"));
    }
    Ok(phrase)
}

/// A blocked phrase, as staff see it.
#[derive(SimpleObject)]
pub struct BlockedSuggestion {
    /// The phrase, normalised (trimmed, lower-case, single spaces).
    pub phrase: String,
    /// When it was blocked.
    pub blocked_at: DateTime<Utc>,
}

/// Moderation queries.
#[derive(Default)]
pub struct ModerationQuery;

#[Object]
impl ModerationQuery {
    /// Phrases kept out of `searchSuggestions`, alphabetically (at most 1,000). Needs
    /// catalog:write.
    #[graphql(guard = "Require::new(Permission::CatalogWrite)")]
    async fn blocked_search_suggestions(&self, ctx: &Context<'_>) -> Result<Vec<BlockedSuggestion>> {
        let rows = search_suggestion_block::Entity::find()
            .order_by_asc(search_suggestion_block::Column::Phrase)
            .limit(MAX_BLOCKED)
            .all(ctx.state::<Db>()?.conn())
            .await
            .map_err(AppError::from)?;
        Ok(rows.into_iter().map(|r| BlockedSuggestion { phrase: r.phrase, blocked_at: r.blocked_at }).collect())
    }
}

/// Moderation mutations.
#[derive(Default)]
pub struct ModerationMutation;

#[Object]
impl ModerationMutation {
    /// Keeps every suggestion containing `phrase` (1 to 200 characters, matched case-insensitively)
    /// out of `searchSuggestions`. Blocking a phrase twice is harmless. Needs catalog:write.
    #[graphql(guard = "Require::new(Permission::CatalogWrite)")]
    async fn block_search_suggestion(&self, ctx: &Context<'_>, phrase: String) -> Result<BlockedSuggestion> {
        let phrase = parse_phrase(&phrase)?;
        let db = ctx.state::<Db>()?;
        let already = blocked(db).await?;
        if already.len() as u64 >= MAX_BLOCKED && !already.contains(&phrase) {
            return Err(AppError::bad_input(format!("at most {MAX_BLOCKED} phrases can be blocked")).into());
        }
        let now = crate::db::now();
        let row = search_suggestion_block::ActiveModel {
            phrase: Set(phrase.clone()),
            blocked_by: Set(viewer(ctx).user_id()),
            blocked_at: Set(now),
        };
        let inserted = search_suggestion_block::Entity::insert(row).exec_without_returning(db.conn()).await;
        match inserted {
            Ok(_) => {}
            Err(error) if matches!(error.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {}
            Err(error) => return Err(AppError::from(error).into()),
        }
        Ok(BlockedSuggestion { phrase, blocked_at: now })
    }

    /// Lets suggestions containing `phrase` be shown again; whether it was blocked. Needs
    /// catalog:write.
    #[graphql(guard = "Require::new(Permission::CatalogWrite)")]
    async fn unblock_search_suggestion(&self, ctx: &Context<'_>, phrase: String) -> Result<bool> {
        let phrase = parse_phrase(&phrase)?;
        let deleted = search_suggestion_block::Entity::delete_by_id(phrase)
            .exec(ctx.state::<Db>()?.conn())
            .await
            .map_err(AppError::from)?;
        Ok(deleted.rows_affected > 0)
    }
}
