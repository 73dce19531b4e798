//! The relay: hands events from the outbox to the event bus, oldest first, and marks them
//! published once the bus took them. A crash or a bus outage in between leaves them unmarked, so
//! they are published again (subscribers drop the ones they have); nothing is lost.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use entity::{ProductStatus, event, fulfilment, order, product};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::{Audience, Event, EventBus, EventKind};
use crate::catalog::filter::PUBLIC_STATUSES;
use crate::db::{self, Db};
use crate::error::{AppError, AppResult};

/// Events read from the outbox at a time.
pub const BATCH: u64 = 500;

/// Longest pause between attempts while the bus or the store is failing.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Publishes the oldest unpublished events (at most [`BATCH`]); returns how many.
///
/// # Errors
/// When the store or the bus fails; the events stay unpublished.
pub async fn relay_once(db: &Db, bus: &dyn EventBus) -> anyhow::Result<usize> {
    let rows = event::Entity::find()
        .filter(event::Column::PublishedAt.is_null())
        .order_by_asc(event::Column::Id)
        .limit(BATCH)
        .all(db.conn())
        .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let events = with_audience(db, rows).await.map_err(AppError::into_anyhow)?;
    let events: Vec<Arc<Event>> = events.into_iter().map(Arc::new).collect();
    bus.publish(&events).await?;
    event::Entity::update_many()
        .col_expr(event::Column::PublishedAt, Expr::value(db::now()))
        .filter(event::Column::Id.is_in(ids))
        .exec(db.conn())
        .await?;
    Ok(events.len())
}

/// Published events after `after`, oldest first, at most `limit`: what a subscription that fell
/// behind, or a replica that lost the bus, missed.
///
/// # Errors
/// When the store fails.
pub async fn published_since(db: &Db, after: i64, limit: u64) -> AppResult<Vec<Event>> {
    let rows = event::Entity::find()
        .filter(event::Column::Id.gt(after))
        .filter(event::Column::PublishedAt.is_not_null())
        .order_by_asc(event::Column::Id)
        .limit(limit)
        .all(db.conn())
        .await?;
    with_audience(db, rows).await
}

/// Deletes published events older than `age`; returns how many.
///
/// # Errors
/// When the store fails.
pub async fn prune(db: &Db, age: Duration) -> AppResult<u64> {
    let cutoff = db::now() - chrono::Duration::from_std(age).unwrap_or(chrono::Duration::days(1));
    let done = event::Entity::delete_many()
        .filter(event::Column::PublishedAt.is_not_null())
        .filter(event::Column::CreatedAt.lt(cutoff))
        .exec(db.conn())
        .await?;
    Ok(done.rows_affected)
}

/// Relays every `every` (sooner while there is a backlog), backing off while failing, and
/// prunes events older than `retention` once a minute; abort the handle to stop.
pub fn spawn(db: Db, bus: Arc<dyn EventBus>, every: Duration, retention: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut pause = every;
        let mut last_prune = tokio::time::Instant::now();
        loop {
            match relay_once(&db, bus.as_ref()).await {
                Ok(count) => {
                    pause = if count as u64 == BATCH { Duration::ZERO } else { every };
                }
                Err(error) => {
                    pause = (pause * 2).clamp(every, MAX_BACKOFF);
                    tracing::warn!(?error, retry_in_ms = pause.as_millis(), "cannot publish events; retrying");
                }
            }
            if last_prune.elapsed() > Duration::from_secs(60) {
                last_prune = tokio::time::Instant::now();
                if let Err(error) = prune(&db, retention).await {
                    tracing::warn!(?error, "cannot prune old events");
                }
            }
            tokio::time::sleep(pause).await;
        }
    })
}

/// Outbox rows as events, with who besides staff may see each: an order's customer and the
/// vendors of its parts; a product's vendor. Three queries whatever the batch.
async fn with_audience(db: &Db, rows: Vec<event::Model>) -> AppResult<Vec<Event>> {
    let kinds: Vec<EventKind> = rows
        .iter()
        .map(|row| {
            EventKind::from_str(&row.kind)
                .map_err(|_| AppError::internal(anyhow::anyhow!("unknown event kind {}", row.kind)))
        })
        .collect::<AppResult<_>>()?;
    let is_order = |kind: &EventKind| matches!(kind, EventKind::OrderPlaced | EventKind::OrderStatusChanged);
    let (mut order_ids, mut product_ids) = (Vec::new(), Vec::new());
    for (row, kind) in rows.iter().zip(&kinds) {
        if is_order(kind) { order_ids.push(row.subject) } else { product_ids.push(row.subject) }
    }
    let buyers: HashMap<Uuid, Option<Uuid>> = if order_ids.is_empty() {
        HashMap::new()
    } else {
        order::Entity::find()
            .select_only()
            .columns([order::Column::Id, order::Column::UserId])
            .filter(order::Column::Id.is_in(order_ids.iter().copied()))
            .into_tuple::<(Uuid, Option<Uuid>)>()
            .all(db.conn())
            .await?
            .into_iter()
            .collect()
    };
    let mut order_vendors: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    if !order_ids.is_empty() {
        let parts = fulfilment::Entity::find()
            .select_only()
            .columns([fulfilment::Column::OrderId, fulfilment::Column::VendorId])
            .filter(fulfilment::Column::OrderId.is_in(order_ids))
            .into_tuple::<(Uuid, Uuid)>()
            .all(db.conn())
            .await?;
        for (order_id, vendor_id) in parts {
            order_vendors.entry(order_id).or_default().push(vendor_id);
        }
    }
    let products: HashMap<Uuid, (Uuid, ProductStatus)> = if product_ids.is_empty() {
        HashMap::new()
    } else {
        product::Entity::find()
            .select_only()
            .columns([product::Column::Id, product::Column::VendorId, product::Column::Status])
            .filter(product::Column::Id.is_in(product_ids))
            .into_tuple::<(Uuid, Uuid, ProductStatus)>()
            .all(db.conn())
            .await?
            .into_iter()
            .map(|(id, vendor, status)| (id, (vendor, status)))
            .collect()
    };
    rows.into_iter()
        .zip(kinds)
        .map(|(row, kind)| {
            let audience = if is_order(&kind) {
                Audience {
                    user_id: buyers.get(&row.subject).copied().flatten(),
                    vendor_ids: order_vendors.get(&row.subject).cloned().unwrap_or_default(),
                    public: false,
                }
            } else {
                let product = products.get(&row.subject);
                Audience {
                    user_id: None,
                    vendor_ids: product.map(|(vendor, _)| *vendor).into_iter().collect(),
                    public: product.is_some_and(|(_, status)| PUBLIC_STATUSES.contains(status)),
                }
            };
            let detail = serde_json::from_str(&row.detail)
                .map_err(|e| AppError::internal(anyhow::anyhow!("event {} has a malformed detail: {e}", row.id)))?;
            Ok(Event { id: row.id, kind, subject: row.subject, detail, at: row.created_at, audience })
        })
        .collect()
}
