//! The Redis pub/sub event bus, for several replicas.
//!
//! Publishing is a `PUBLISH` of each event as JSON on one channel; every replica runs a
//! [`RedisBus::listen`] task that subscribes to the channel and hands what arrives to its hub.
//! Pub/sub keeps nothing for a replica that is not listening, so after every reconnect the
//! listener first reads the events published meanwhile from the outbox (the shared store is the
//! source of truth); subscriptions drop what they already have. A lost connection is retried
//! with backoff; queries and mutations never wait for Redis.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use redis::AsyncCommands;
use tokio::task::JoinHandle;

use super::{Event, EventBus, Hub, relay};
use crate::db::Db;
use crate::redis_connection::RedisConnection;

/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Longest a publication may take before the relay gives up and tries again later.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);

/// Publishes to, and listens on, one Redis channel.
pub struct RedisBus {
    redis: Arc<RedisConnection>,
    channel: String,
    listening: Arc<AtomicBool>,
    publishing: AtomicBool,
}

impl RedisBus {
    /// A bus publishing on the shared connection `redis`, which connects on first use.
    pub fn new(redis: Arc<RedisConnection>, channel: &str) -> Self {
        Self {
            redis,
            channel: channel.to_owned(),
            listening: Arc::new(AtomicBool::new(false)),
            publishing: AtomicBool::new(true),
        }
    }

    /// Listens on the channel and delivers to `hub` until aborted, reconnecting with backoff
    /// and catching up from the outbox after each (re)connection.
    pub fn listen(&self, hub: Hub, db: Db) -> JoinHandle<()> {
        let client = self.redis.client().clone();
        let channel = self.channel.clone();
        let listening = Arc::clone(&self.listening);
        tokio::spawn(async move {
            let mut pause = Duration::from_millis(100);
            loop {
                match client.get_async_pubsub().await {
                    Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                        Ok(()) => {
                            listening.store(true, Ordering::Release);
                            pause = Duration::from_millis(100);
                            catch_up(&hub, &db).await;
                            let mut messages = pubsub.into_on_message();
                            while let Some(message) = messages.next().await {
                                match message.get_payload::<String>().map(|text| serde_json::from_str::<Event>(&text)) {
                                    Ok(Ok(event)) => hub.deliver([Arc::new(event)]),
                                    Ok(Err(error)) => tracing::warn!(%error, "an event on the bus is malformed"),
                                    Err(error) => tracing::warn!(%error, "an event on the bus is not text"),
                                }
                            }
                            listening.store(false, Ordering::Release);
                            tracing::warn!("lost the Redis event channel; reconnecting");
                        }
                        Err(error) => tracing::warn!(%error, "cannot subscribe to the Redis event channel"),
                    },
                    Err(error) => tracing::warn!(%error, retry_in_ms = pause.as_millis(), "cannot reach Redis"),
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_BACKOFF);
            }
        })
    }
}

/// Delivers the events published after the last one `hub` delivered.
async fn catch_up(hub: &Hub, db: &Db) {
    loop {
        match relay::published_since(db, hub.latest(), relay::BATCH).await {
            Ok(events) if events.is_empty() => return,
            Ok(events) => {
                let full = events.len() as u64 == relay::BATCH;
                hub.deliver(events.into_iter().map(Arc::new));
                if !full {
                    return;
                }
            }
            Err(error) => {
                tracing::warn!(?error, "cannot read missed events from the outbox");
                return;
            }
        }
    }
}

#[async_trait::async_trait]
impl EventBus for RedisBus {
    async fn publish(&self, events: &[Arc<Event>]) -> anyhow::Result<()> {
        let published = tokio::time::timeout(PUBLISH_TIMEOUT, self.publish_all(events)).await;
        published.unwrap_or_else(|_| {
            self.publishing.store(false, Ordering::Release);
            Err(anyhow::anyhow!("Redis did not answer within {PUBLISH_TIMEOUT:?}"))
        })
    }

    fn connected(&self) -> bool {
        self.listening.load(Ordering::Acquire) && self.publishing.load(Ordering::Acquire)
    }
}

impl RedisBus {
    async fn publish_all(&self, events: &[Arc<Event>]) -> anyhow::Result<()> {
        let mut connection = self.redis.get().await.inspect_err(|_| self.publishing.store(false, Ordering::Release))?;
        for event in events {
            let sent: redis::RedisResult<i64> =
                connection.publish(&self.channel, serde_json::to_string(event.as_ref())?).await;
            if let Err(error) = sent {
                self.redis.reset().await;
                self.publishing.store(false, Ordering::Release);
                return Err(error.into());
            }
        }
        self.publishing.store(true, Ordering::Release);
        Ok(())
    }
}
