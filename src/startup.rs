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
use crate::db::Db;
use crate::{graphql, http};

/// The service, bound to its port and ready to serve.
pub struct Application {
    acceptor: TcpAcceptor,
    address: SocketAddr,
    db: Db,
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
        Ok(Self { acceptor, address, db, settings })
    }

    /// The address the server listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The store the server uses.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Serves until `shutdown` resolves, then gives in-flight requests the configured grace
    /// period and closes the store.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let schema = graphql::build_schema(&self.settings.graphql, self.db.clone());
        let routes = http::routes(schema, self.db.clone(), &self.settings.graphql).into_endpoint();
        tracing::info!(address = %self.address, "serving GraphQL on http://{}/graphql", self.address);
        let grace = Duration::from_secs(self.settings.shutdown_grace_seconds);
        Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(routes, shutdown, Some(grace))
            .await
            .context("the HTTP server failed")?;
        self.db.close().await;
        tracing::info!("stopped");
        Ok(())
    }
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
