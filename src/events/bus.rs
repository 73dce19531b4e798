//! The event bus port: how published events reach every replica's [`super::Hub`].
//!
//! The embedded default is [`InProcessBus`]: one process, events go straight to its hub.

use std::sync::Arc;

use super::{Event, Hub};

/// Carries published events to the hubs of every replica.
#[async_trait::async_trait]
pub trait EventBus: Send + Sync {
    /// Publishes events, in order. An error means none may have arrived: the relay tries again
    /// (subscribers drop what they already have).
    async fn publish(&self, events: &[Arc<Event>]) -> anyhow::Result<()>;

    /// Whether the bus can publish now (for readiness).
    fn connected(&self) -> bool {
        true
    }
}

/// The bus of a single process: publishing is delivering to its own hub.
pub struct InProcessBus {
    hub: Hub,
}

impl InProcessBus {
    /// A bus delivering to `hub`.
    pub fn new(hub: Hub) -> Self {
        Self { hub }
    }
}

#[async_trait::async_trait]
impl EventBus for InProcessBus {
    async fn publish(&self, events: &[Arc<Event>]) -> anyhow::Result<()> {
        self.hub.deliver(events.iter().cloned());
        Ok(())
    }
}
