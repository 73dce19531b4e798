//! Search analytics: one row per search.

use sea_orm::entity::prelude::*;

/// A row of `search_queries`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "search_queries")]
pub struct Model {
    /// Growing key.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The query, trimmed, lower-cased and with runs of spaces collapsed.
    pub query: String,
    /// The filter applied, as JSON.
    pub filters: Json,
    /// How many hits the search found.
    pub hits: i32,
    /// Milliseconds the search took.
    pub latency_ms: f64,
    /// `HYBRID`, `LEXICAL` or `VECTOR`.
    pub mode: String,
    /// Whether a configured side failed.
    pub degraded: bool,
    /// When.
    pub searched_at: DateTimeUtc,
    /// A keyed hash of who searched (account, cart or address), never the identity itself.
    pub visitor: Option<String>,
}

/// Relations of a search.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
