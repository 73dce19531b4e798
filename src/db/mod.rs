//! The relational store: connecting, migrating, and counting statements.
//!
//! The same code runs on SQLite (the embedded default) and PostgreSQL; `DATABASE_URL` decides.
//! SQL that differs between the two lives in [`dialect`] and in the migrations, nowhere else.

pub mod dialect;
pub mod outbox;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, SqlxPostgresConnector, SqlxSqliteConnector};

use crate::config::DatabaseSettings;

/// A pooled connection to the relational store, cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    conn: DatabaseConnection,
    statements: Arc<AtomicU64>,
    /// Whether PostgreSQL holds the RUM index that returns full-text matches ordered by rank;
    /// looked up once, on first use (after migrations).
    ranked_full_text: Arc<tokio::sync::OnceCell<bool>>,
}

impl Db {
    /// Connects to the store named by the settings, creating a SQLite file (and its folder) when
    /// missing.
    ///
    /// # Errors
    /// When the URL is malformed or the store cannot be reached.
    pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<Self> {
        let url = settings.url.expose();
        let acquire_timeout = Duration::from_secs(settings.acquire_timeout_seconds);
        let mut conn = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .context("DATABASE_URL is not a valid SQLite URL")?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            if let Some(dir) = options.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create the database folder {}", dir.display()))?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(settings.pool_size())
                .acquire_timeout(acquire_timeout)
                .connect_with(options)
                .await
                .context("cannot open the SQLite database")?;
            SqlxSqliteConnector::from_sqlx_sqlite_pool(pool)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url).context("DATABASE_URL is not a valid PostgreSQL URL")?;
            let pool = PgPoolOptions::new()
                .max_connections(settings.pool_size())
                .acquire_timeout(acquire_timeout)
                .connect_with(options)
                .await
                .context("cannot connect to PostgreSQL")?;
            SqlxPostgresConnector::from_sqlx_postgres_pool(pool)
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite: or postgres:");
        };

        let statements = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&statements);
        conn.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        Ok(Self { conn, statements, ranked_full_text: Arc::default() })
    }

    /// Whether full-text matches can be read in rank order from an index (PostgreSQL with the
    /// RUM index of migration 13). False on SQLite, whose FTS5 ranks in its own way.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn ranked_full_text(&self) -> Result<bool, sea_orm::DbErr> {
        if self.backend() != DatabaseBackend::Postgres {
            return Ok(false);
        }
        let found = self
            .ranked_full_text
            .get_or_try_init(|| async {
                let statement = sea_orm::Statement::from_string(
                    DatabaseBackend::Postgres,
                    "SELECT 1 AS found FROM pg_indexes WHERE indexname = 'products_search_rum_idx' \
                     AND schemaname = current_schema()",
                );
                let found = self.conn.query_one_raw(statement).await?.is_some();
                if !found {
                    tracing::info!("no RUM index (extension rum): full-text search ranks every match");
                }
                Ok::<bool, sea_orm::DbErr>(found)
            })
            .await?;
        Ok(*found)
    }

    /// The SeaORM connection, for queries.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Starts a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`: the database's
    /// write lock is taken at the start, so concurrent writers queue on the busy timeout; a
    /// deferred transaction that read first would instead fail its later write at once with
    /// "database is locked". On PostgreSQL it is a plain transaction.
    ///
    /// # Errors
    /// When the store fails or the lock is not granted within the busy timeout.
    pub async fn begin_write(&self) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
        use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        self.conn.begin_with_options(options).await
    }

    /// Which store this is.
    pub fn backend(&self) -> DatabaseBackend {
        self.conn.get_database_backend()
    }

    /// How many SQL statements this pool has run since it was opened.
    pub fn statement_count(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Applies every pending migration.
    ///
    /// # Errors
    /// When a migration fails; the store is left at the last migration that succeeded.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        Migrator::up(&self.conn, None).await.context("migration failed")
    }

    /// Checks that the store answers.
    ///
    /// # Errors
    /// When it does not.
    pub async fn ping(&self) -> anyhow::Result<()> {
        self.conn.execute_unprepared("SELECT 1").await.context("the database does not answer")?;
        Ok(())
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(self) {
        if let Err(error) = self.conn.close().await {
            tracing::warn!(error = %error, "closing the database pool failed");
        }
    }
}

/// Claims the rows of `E` matching `condition` by bumping their `updated_at`, and returns how
/// many it touched. Make it the first statement of a write transaction: on PostgreSQL it locks
/// the rows until commit, and on SQLite it takes the database's write lock before any read, the
/// effect of `BEGIN IMMEDIATE`. Concurrent writers then queue on the lock; a transaction that
/// read first would instead fail its later write with a busy snapshot.
///
/// # Errors
/// When the store fails.
pub async fn claim<E: sea_orm::EntityTrait>(
    conn: &impl ConnectionTrait,
    updated_at: E::Column,
    condition: impl sea_orm::sea_query::IntoCondition,
) -> Result<u64, sea_orm::DbErr> {
    use sea_orm::QueryFilter;
    let claimed = E::update_many()
        .col_expr(updated_at, sea_orm::sea_query::Expr::value(now()))
        .filter(condition)
        .exec(conn)
        .await?;
    Ok(claimed.rows_affected)
}

/// The current time at the precision both stores keep (microseconds), so a value read back
/// equals the value written and can serve as a pagination key.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    truncate_to_micros(chrono::Utc::now())
}

/// Drops sub-microsecond precision.
pub fn truncate_to_micros(time: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    time.trunc_subsecs(6)
}
