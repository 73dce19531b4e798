//! One Redis connection per server, shared by every port that uses Redis (the event bus's
//! publisher, the persisted-query store): a multiplexed connection opened on first use, and
//! opened again after a failure. Pub/sub needs a connection of its own; [`RedisConnection::client`]
//! opens it.

use std::collections::HashMap;
use std::sync::Arc;

use redis::aio::MultiplexedConnection;
use tokio::sync::Mutex;

/// A lazily opened, shared connection to one Redis server.
pub struct RedisConnection {
    client: redis::Client,
    live: Mutex<Option<MultiplexedConnection>>,
}

impl RedisConnection {
    /// A connection to the server at `url`, opened on first use.
    ///
    /// # Errors
    /// When `url` is not a Redis URL.
    pub fn open(url: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).map_err(|e| anyhow::anyhow!("not a Redis URL: {e}"))?;
        Ok(Self { client, live: Mutex::new(None) })
    }

    /// The client, for connections of their own (pub/sub).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// A handle on the shared connection, opening it when there is none.
    ///
    /// # Errors
    /// When the server cannot be reached.
    pub async fn get(&self) -> redis::RedisResult<MultiplexedConnection> {
        let mut live = self.live.lock().await;
        if let Some(connection) = live.as_ref() {
            return Ok(connection.clone());
        }
        let connection = self.client.get_multiplexed_async_connection().await?;
        *live = Some(connection.clone());
        Ok(connection)
    }

    /// Drops the shared connection after a failure: the next [`RedisConnection::get`] opens a
    /// new one.
    pub async fn reset(&self) {
        *self.live.lock().await = None;
    }

    /// Runs `call` (on this connection) for at most `timeout`; a failure or a timeout drops the
    /// shared connection, so the next call opens a new one.
    ///
    /// # Errors
    /// Redis's error, or the timeout.
    pub async fn timed<T>(
        &self,
        timeout: std::time::Duration,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> anyhow::Result<T> {
        match tokio::time::timeout(timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                self.reset().await;
                Err(error.into())
            }
            Err(_) => {
                self.reset().await;
                Err(anyhow::anyhow!("Redis did not answer within {timeout:?}"))
            }
        }
    }
}

/// The connections of one server, by URL: ports configured with the same Redis share one.
#[derive(Default)]
pub struct RedisConnections(HashMap<String, Arc<RedisConnection>>);

impl RedisConnections {
    /// The connection to `url`, opened (lazily) the first time it is asked for.
    ///
    /// # Errors
    /// When `url` is not a Redis URL.
    pub fn to(&mut self, url: &str) -> anyhow::Result<Arc<RedisConnection>> {
        if let Some(connection) = self.0.get(url) {
            return Ok(Arc::clone(connection));
        }
        let connection = Arc::new(RedisConnection::open(url)?);
        self.0.insert(url.to_owned(), Arc::clone(&connection));
        Ok(connection)
    }
}
