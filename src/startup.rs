//! Building and running the service.
//!
//! [`Application::build`] turns a [`Settings`] value into a bound server (port 0 picks a free
//! port, which is how tests start the real thing); [`Application::run_until_stopped`] serves
//! until the shutdown future resolves, then lets in-flight requests finish.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::{IntoEndpoint, Server};

use crate::config::Settings;
use std::sync::Arc;

use crate::config::EventBusSettings;
use crate::db::Db;
use crate::events::redis::RedisBus;
use crate::events::{EventBus, Hub, InProcessBus};
use crate::graphql::persisted::PersistedQueries;
use crate::http::proxies::TrustedProxies;
use crate::identity::mailer::Outbox;
use crate::identity::service::Auth;
use crate::identity::tokens::TokenKeys;
use crate::media::Media;
use crate::payment::Payments;
use crate::redis_connection::RedisConnections;
use crate::search::analytics::{Analytics, Writer};
use crate::search::{Search, indexer};
use crate::{events, http, order, schema};

/// The service, bound to its port and ready to serve.
pub struct Application {
    acceptor: TcpAcceptor,
    address: SocketAddr,
    db: Db,
    auth: Arc<Auth>,
    outbox: Arc<Outbox>,
    payments: Payments,
    search: Search,
    analytics: Writer,
    hub: Hub,
    bus: Arc<dyn EventBus>,
    listener: Option<tokio::task::JoinHandle<()>>,
    persisted: Arc<PersistedQueries>,
    proxies: TrustedProxies,
    media: Media,
    settings: Settings,
}

impl Application {
    /// Connects to the store, applies migrations when configured to, builds the schema and
    /// binds the listener.
    ///
    /// # Errors
    /// When the store is unreachable, a migration fails, or the address cannot be bound.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let db = Db::connect(&settings.database).await?;
        if settings.migrate_on_start {
            db.migrate().await?;
        }
        Self::build_with_db(settings, db).await
    }

    /// Like [`Application::build`] over an already connected store (migrations are not run).
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn build_with_db(settings: Settings, db: Db) -> anyhow::Result<Self> {
        let acceptor = TcpListener::bind(settings.bind)
            .into_acceptor()
            .await
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let address = acceptor
            .local_addr()
            .first()
            .and_then(|addr| addr.as_socket_addr().copied())
            .context("the listener has no socket address")?;
        crate::identity::credentials::limit_hashing(crate::identity::credentials::HashingLimits {
            concurrent: settings.auth.max_concurrent_password_hashes,
            queue_timeout: Duration::from_millis(settings.auth.password_hash_queue_ms),
        });
        let outbox = Arc::new(Outbox::default());
        let keys = TokenKeys::from_settings(&settings.auth)?;
        let accounts =
            crate::identity::authenticate::AccountCache::new(Duration::from_millis(settings.auth.account_cache_ms));
        let mut redis = RedisConnections::default();
        let limiter = crate::limiter::from_settings(&settings.limits.store, &mut redis)?;
        let auth = Arc::new(Auth {
            keys,
            settings: settings.auth.clone(),
            mailer: outbox.clone(),
            accounts,
            limiter: Arc::clone(&limiter),
        });
        let payments = Payments::from_settings(&settings.payments, order::lifecycle::mark_paid_in);
        let (recorder, analytics) = Analytics::channel();
        let search = Search::from_settings(&settings.search, recorder)?;
        let hub = Hub::starting_now(db.clone(), settings.events.feed_capacity).await?;
        let (bus, listener): (Arc<dyn EventBus>, _) = match &settings.events.bus {
            EventBusSettings::InProcess => (Arc::new(InProcessBus::new(hub.clone())), None),
            EventBusSettings::Redis { url, channel } => {
                let bus = RedisBus::new(redis.to(url.expose()).context("events.bus.url")?, channel);
                let listener = bus.listen(hub.clone(), db.clone());
                (Arc::new(bus), Some(listener))
            }
        };
        let manifests = Arc::new(crate::partner::service::StoredManifests(db.clone()));
        let persisted =
            Arc::new(PersistedQueries::from_settings(&settings.graphql.persisted_queries, manifests, &mut redis)?);
        let proxies = TrustedProxies::parse(&settings.http.trusted_proxies)?;
        let media = Media::from_settings(&settings.media, &app_base(address)).await?;
        Ok(Self {
            acceptor,
            address,
            db,
            auth,
            outbox,
            payments,
            search,
            analytics,
            hub,
            bus,
            listener,
            persisted,
            proxies,
            media,
            settings,
        })
    }

    /// The address the server listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Account messages sent by the embedded mailer (password-reset codes), oldest first.
    pub fn outbox(&self) -> Arc<Outbox> {
        self.outbox.clone()
    }

    /// Replaces the payment provider chosen by the settings (to plug in a provider of one's own,
    /// or a test double of one).
    pub fn set_payment_provider(&mut self, provider: Arc<dyn crate::payment::provider::PaymentProvider>) {
        self.payments.provider = provider;
    }

    /// The payment port the server uses.
    pub fn payments(&self) -> Payments {
        self.payments.clone()
    }

    /// The store the server uses.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The media port the server uses.
    pub fn media(&self) -> Media {
        self.media.clone()
    }

    /// Serves until `shutdown` resolves, then gives in-flight requests the configured grace
    /// period and closes the store.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let schema = schema::build_schema(
            &self.settings,
            self.db.clone(),
            self.auth.clone(),
            self.payments.clone(),
            self.search.clone(),
            self.hub.clone(),
            self.media.clone(),
        );
        let routes = http::routes(
            schema,
            self.db.clone(),
            self.auth.clone(),
            self.payments.clone(),
            Arc::clone(&self.bus),
            http::Edge {
                persisted: Arc::clone(&self.persisted),
                proxies: self.proxies.clone(),
                media: self.media.clone(),
            },
            &self.settings,
        )
        .into_endpoint();
        let sweeper = match self.settings.orders.expiry_sweep_seconds {
            0 => None,
            seconds => Some(order::expiry::spawn(self.db.clone(), self.payments.clone(), Duration::from_secs(seconds))),
        };
        match indexer::load(&self.db, &self.search).await {
            Ok(0) => {}
            Ok(vectors) => tracing::info!(vectors, "vector index loaded"),
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "the vector index is not ready: search may be degraded")
            }
        }
        let search = &self.settings.search;
        let background = [
            crate::media::worker::spawn(self.media.clone(), self.db.clone()),
            indexer::spawn(
                self.db.clone(),
                self.search.clone(),
                Duration::from_millis(search.sync_interval_ms.max(10)),
            ),
            self.analytics.spawn(self.db.clone(), Duration::from_millis(search.analytics_flush_ms.max(10))),
            events::relay::spawn(
                self.db.clone(),
                Arc::clone(&self.bus),
                Duration::from_millis(self.settings.events.relay_interval_ms.max(5)),
                Duration::from_secs(self.settings.events.retention_hours.max(1) * 3600),
            ),
        ];
        tracing::info!(address = %self.address, "serving GraphQL on http://{}/graphql", self.address);
        let grace = Duration::from_secs(self.settings.shutdown_grace_seconds);
        let http = &self.settings.http;
        let acceptor = http::slow_clients::DeadlineAcceptor::new(
            self.acceptor,
            Duration::from_secs(http.request_read_timeout_seconds.max(1)),
        );
        Server::new_with_acceptor(acceptor)
            .idle_timeout(Duration::from_secs(http.idle_timeout_seconds.max(1)))
            .run_with_graceful_shutdown(routes, shutdown, Some(grace))
            .await
            .context("the HTTP server failed")?;
        if let Some(sweeper) = sweeper {
            sweeper.abort();
        }
        background.iter().for_each(tokio::task::JoinHandle::abort);
        if let Some(listener) = &self.listener {
            listener.abort();
        }
        self.db.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Where the app serves `/media` when `media.public_base_url` is unset: its own address, with
/// loopback for an address that listens on every interface.
fn app_base(address: SocketAddr) -> String {
    let mut reachable = address;
    if address.ip().is_unspecified() {
        reachable.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        tracing::warn!(%address, "media URLs name {reachable}; set media.public_base_url to the address clients use");
    }
    format!("http://{reachable}/media")
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
