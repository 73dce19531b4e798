//! Search analytics: every search is recorded (query, filter, hit count, latency, mode) through
//! a bounded buffer written in batches, so recording never slows a search down; admins read the
//! most frequent and the zero-result queries.

use sea_orm::ExprTrait;
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::search_query;
use sea_orm::sea_query::{Expr, LikeExpr, Order};
use sea_orm::{ColumnTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Set};
use tokio::sync::mpsc;

use crate::db::Db;
use crate::error::AppResult;

/// Searches buffered before new ones are dropped (and counted in the log).
const BUFFER: usize = 10_000;
/// Most searches written per statement.
const WRITE_BATCH: usize = 500;

/// One search.
#[derive(Clone, Debug)]
pub struct Record {
    /// Normalised query.
    pub query: String,
    /// The filter, as JSON.
    pub filters: serde_json::Value,
    /// Hits found.
    pub hits: usize,
    /// Milliseconds taken.
    pub latency_ms: f64,
    /// `HYBRID`, `LEXICAL` or `VECTOR`.
    pub mode: &'static str,
    /// Whether a configured side failed.
    pub degraded: bool,
    /// Who searched, as [`visitor`] pseudonymised them.
    pub visitor: Option<String>,
}

/// The sending half: cheap to clone, never blocks.
#[derive(Clone, Debug, Default)]
pub struct Analytics {
    sender: Option<mpsc::Sender<(Record, DateTime<Utc>)>>,
}

/// The receiving half, written to the store by [`Writer::spawn`].
pub struct Writer {
    receiver: mpsc::Receiver<(Record, DateTime<Utc>)>,
}

impl Analytics {
    /// A recorder and the writer that stores what it records.
    pub fn channel() -> (Self, Writer) {
        let (sender, receiver) = mpsc::channel(BUFFER);
        (Self { sender: Some(sender) }, Writer { receiver })
    }

    /// Records a search; drops it when the buffer is full or nothing writes it.
    pub fn record(&self, record: Record) {
        if let Some(sender) = &self.sender
            && sender.try_send((record, Utc::now())).is_err()
        {
            tracing::debug!("search analytics buffer full: a search was not recorded");
        }
    }
}

impl Writer {
    /// Writes buffered searches every `interval` until every sender is gone.
    pub fn spawn(mut self, db: Db, interval: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(WRITE_BATCH);
            loop {
                let open = self.receiver.recv_many(&mut batch, WRITE_BATCH).await > 0;
                if !batch.is_empty() {
                    let rows = batch.drain(..).map(|(r, at): (Record, DateTime<Utc>)| search_query::ActiveModel {
                        query: Set(r.query),
                        filters: Set(r.filters),
                        hits: Set(i32::try_from(r.hits).unwrap_or(i32::MAX)),
                        latency_ms: Set(r.latency_ms),
                        mode: Set(r.mode.to_owned()),
                        degraded: Set(r.degraded),
                        searched_at: Set(at),
                        visitor: Set(r.visitor),
                        ..Default::default()
                    });
                    if let Err(error) = search_query::Entity::insert_many(rows).exec_without_returning(db.conn()).await
                    {
                        tracing::warn!(%error, "cannot record search analytics");
                    }
                }
                if !open {
                    break;
                }
                tokio::time::sleep(interval).await;
            }
        })
    }
}

/// The form queries are recorded and grouped in: trimmed, lower-case, single spaces, at most
/// 200 characters.
pub fn normalise(query: &str) -> String {
    query.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase().chars().take(200).collect()
}

/// A query with how often it was searched.
#[derive(Clone, Debug, FromQueryResult)]
pub struct QueryStat {
    /// The normalised query.
    pub query: String,
    /// How many times.
    pub searches: i64,
    /// Mean hit count.
    pub average_hits: f64,
    /// Mean latency in milliseconds.
    pub average_latency_ms: f64,
    /// The latest time.
    pub last_searched_at: DateTime<Utc>,
}

/// The most searched queries since `since`; only those that found nothing when `zero_results`.
///
/// # Errors
/// When the store fails.
pub async fn top_queries(db: &Db, since: DateTime<Utc>, zero_results: bool, limit: u64) -> AppResult<Vec<QueryStat>> {
    let mut select = search_query::Entity::find()
        .select_only()
        .column(search_query::Column::Query)
        .column_as(Expr::col(search_query::Column::Id).count(), "searches")
        .column_as(Expr::cust(r#"AVG(CAST("hits" AS DOUBLE PRECISION))"#), "average_hits")
        .column_as(Expr::cust(r#"AVG("latency_ms")"#), "average_latency_ms")
        .column_as(Expr::col(search_query::Column::SearchedAt).max(), "last_searched_at")
        .filter(search_query::Column::SearchedAt.gte(since))
        .group_by(search_query::Column::Query);
    if zero_results {
        select = select.filter(search_query::Column::Hits.eq(0));
    }
    Ok(select
        .order_by(Expr::col(search_query::Column::Id).count(), Order::Desc)
        .order_by_asc(search_query::Column::Query)
        .limit(limit)
        .into_model::<QueryStat>()
        .all(db.conn())
        .await?)
}

/// A visitor's pseudonym: an HMAC of who they are (`user:<id>`, `key:<id>`, `ip:<address>`)
/// keyed with the deployment's secret, so analytics can count distinct visitors without storing
/// or revealing who they are.
pub fn visitor(key: &[u8], who: &str) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(key) else { return String::new() };
    mac.update(who.as_bytes());
    crate::digest::hex(mac.finalize().into_bytes().get(..16).unwrap_or_default())
}

/// Earlier queries that found something, were searched by at least `min_visitors` distinct
/// visitors, and start with `prefix`; most widely searched first.
///
/// # Errors
/// When the store fails.
pub async fn popular_with_prefix(db: &Db, prefix: &str, limit: u64, min_visitors: u64) -> AppResult<Vec<String>> {
    let escaped: String = normalise(prefix)
        .chars()
        .flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] })
        .collect();
    let rows: Vec<String> = search_query::Entity::find()
        .select_only()
        .column(search_query::Column::Query)
        .filter(search_query::Column::Hits.gt(0))
        .filter(Expr::col(search_query::Column::Query).like(LikeExpr::new(format!("{escaped}%")).escape('\\')))
        .group_by(search_query::Column::Query)
        .filter(search_query::Column::Visitor.is_not_null())
        .having(Expr::expr(Expr::cust(r#"COUNT(DISTINCT "visitor")"#)).gte(min_visitors))
        .order_by(Expr::cust(r#"COUNT(DISTINCT "visitor")"#), Order::Desc)
        .order_by_asc(search_query::Column::Query)
        .limit(limit)
        .into_tuple()
        .all(db.conn())
        .await?;
    Ok(rows)
}
