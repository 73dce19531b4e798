//! Events for subscribers: what changed, written to the `events` outbox by database triggers in
//! the transaction of the change, handed to the event bus by the [`relay`], and fanned out to
//! this process's subscriptions by the [`Hub`].
//!
//! The outbox is the source of truth. An event's id is its identity and its order: a
//! subscription delivers ids in increasing order and drops any it has passed, so an event the
//! relay publishes twice (after a crash between publishing and marking it published, or by two
//! replicas) reaches a subscriber once. A subscription that falls behind the fan-out catches up
//! from the outbox instead of losing events.

pub mod bus;
pub mod graphql;
pub mod redis;
pub mod relay;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::db::Db;
pub use bus::{EventBus, InProcessBus};

/// What an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, strum::EnumString, strum::IntoStaticStr)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventKind {
    /// An order was placed; the subject is the order.
    OrderPlaced,
    /// An order's status changed; the subject is the order.
    OrderStatusChanged,
    /// A product's stock moved; the subject is the product.
    StockChanged,
    /// A product's audit trail grew; the subject is the product.
    AuditEntryAdded,
}

/// Who may be told of an event besides staff: resolved by the relay when it publishes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audience {
    /// The customer whose order it is.
    pub user_id: Option<Uuid>,
    /// The vendors the order or product belongs to.
    pub vendor_ids: Vec<Uuid>,
    /// Whether anyone may know of it: a product that is listed publicly (not a draft, not
    /// archived). Orders are never public.
    pub public: bool,
}

/// One event, as published.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The outbox id: identity and order.
    pub id: i64,
    /// What it is about.
    pub kind: EventKind,
    /// The order or product.
    pub subject: Uuid,
    /// The kind's details (see the `events` migration).
    pub detail: serde_json::Value,
    /// When the change was committed.
    pub at: DateTime<Utc>,
    /// Who besides staff may see it.
    pub audience: Audience,
}

/// This process's fan-out of published events to its subscriptions.
#[derive(Clone)]
pub struct Hub {
    feed: broadcast::Sender<Arc<Event>>,
    latest: Arc<AtomicI64>,
    db: Db,
}

impl Hub {
    /// A hub over a store (for catching up), buffering `capacity` events per subscriber.
    pub fn new(db: Db, capacity: usize) -> Self {
        let (feed, _) = broadcast::channel(capacity.max(16));
        Self { feed, latest: Arc::new(AtomicI64::new(0)), db }
    }

    /// A hub whose subscriptions start after the events already published: a process that
    /// starts does not replay the outbox's history to its first subscribers.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn starting_now(db: Db, capacity: usize) -> anyhow::Result<Self> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
        let last = entity::event::Entity::find()
            .filter(entity::event::Column::PublishedAt.is_not_null())
            .order_by_desc(entity::event::Column::Id)
            .one(db.conn())
            .await?;
        let hub = Self::new(db, capacity);
        hub.latest.store(last.map_or(0, |event| event.id), Ordering::Release);
        Ok(hub)
    }

    /// Hands published events to every subscription of this process.
    pub fn deliver(&self, events: impl IntoIterator<Item = Arc<Event>>) {
        for event in events {
            self.latest.fetch_max(event.id, Ordering::AcqRel);
            // No subscriber is not an error: the event is in the outbox for whoever comes.
            let _ = self.feed.send(event);
        }
    }

    /// The last event id handed to this process's subscriptions.
    pub fn latest(&self) -> i64 {
        self.latest.load(Ordering::Acquire)
    }

    /// Events from now on, in id order, each once.
    pub fn subscribe(&self) -> impl Stream<Item = Arc<Event>> + Send + 'static {
        let feed = self.feed.subscribe();
        let last = self.latest.load(Ordering::Acquire);
        let state = Follow { feed, db: self.db.clone(), last, backlog: VecDeque::new() };
        futures_util::stream::unfold(state, |mut state| async move {
            let event = state.next().await?;
            Some((event, state))
        })
    }
}

/// One subscription's place in the stream of events.
struct Follow {
    feed: broadcast::Receiver<Arc<Event>>,
    db: Db,
    last: i64,
    backlog: VecDeque<Arc<Event>>,
}

impl Follow {
    async fn next(&mut self) -> Option<Arc<Event>> {
        loop {
            let event = match self.backlog.pop_front() {
                Some(event) => event,
                None => match self.feed.recv().await {
                    Ok(event) => event,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, "a subscription fell behind; catching up from the outbox");
                        self.catch_up().await;
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            };
            if event.id > self.last {
                self.last = event.id;
                return Some(event);
            }
        }
    }

    /// Reads what the feed dropped from the outbox.
    async fn catch_up(&mut self) {
        match relay::published_since(&self.db, self.last, relay::BATCH).await {
            Ok(events) => self.backlog.extend(events.into_iter().map(Arc::new)),
            Err(error) => tracing::warn!(?error, "cannot read missed events from the outbox"),
        }
    }
}
