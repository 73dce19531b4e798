//! The event outbox's one rule below the domains: a bulk load is not news.
//!
//! Triggers write an `events` row for every stock movement, audit row and order, whoever wrote
//! them. The seeders load catalogs and order histories in bulk; subscribers should not be told
//! of a hundred thousand "changes" that are only the data arriving, so those loads discard the
//! events they raised, in their own transaction, before the relay can see them.

use entity::event;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

/// Deletes the unpublished events about `subjects` (products or orders); returns how many.
///
/// # Errors
/// When the store fails.
pub async fn discard_unpublished(conn: &impl ConnectionTrait, subjects: &[Uuid]) -> Result<u64, DbErr> {
    let mut discarded = 0;
    for chunk in subjects.chunks(1_000) {
        let done = event::Entity::delete_many()
            .filter(event::Column::PublishedAt.is_null())
            .filter(event::Column::Subject.is_in(chunk.iter().copied()))
            .exec(conn)
            .await?;
        discarded += done.rows_affected;
    }
    Ok(discarded)
}
