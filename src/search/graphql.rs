//! Search's GraphQL queries: `search`, `similar`, `searchSuggestions`, and the admin's
//! `searchAnalytics` and `searchIndexStatus`.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Object, Result};
use chrono::{Duration, Utc};
use uuid::Uuid;

use super::Search;
use super::analytics::{self};
use super::indexer;
use super::service;
use super::types::{
    SearchAnalytics, SearchConnection, SearchHit, SearchIndexStatus, SearchMode, SearchResults, SimilarProduct,
};
use crate::catalog::filter::{ProductCriteria, ProductFilter};
use crate::catalog::graphql::page_of_products;
use crate::db::Db;
use crate::error::AppError;
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::pagination::{Cursor, Page, PageLimits, PageRequest};
use crate::graphql::state::State;
use crate::identity::Permission;
use crate::identity::guards::{Require, client, viewer};

/// Most similar products or suggestions one query returns.
const MAX_SHORT_LIST: i32 = 50;
/// Longest analytics window, in days.
const MAX_ANALYTICS_DAYS: i32 = 366;

/// Search queries.
#[derive(Default)]
pub struct SearchQuery;

fn short_list(first: Option<i32>, default: i32) -> Result<usize, AppError> {
    let first = first.unwrap_or(default);
    if !(1..=MAX_SHORT_LIST).contains(&first) {
        return Err(AppError::bad_input(format!("`first` must be between 1 and {MAX_SHORT_LIST}")));
    }
    Ok(first as usize)
}

fn criteria(ctx: &Context<'_>, filter: Option<ProductFilter>) -> Result<ProductCriteria, AppError> {
    match filter {
        Some(filter) => ProductCriteria::parse(filter, viewer(ctx)),
        None => Ok(ProductCriteria::public()),
    }
}

/// The search connection's cursor order: a hit's rank in the fused result.
const SEARCH: &str = "SEARCH";

#[Object]
impl SearchQuery {
    /// Searches the catalog. `query` is web-search style: all words must match (the last also
    /// as a prefix, for type-ahead), `"quoted words"` match as a phrase, `or` accepts either
    /// side, `-word` excludes. Full-text and vector (semantic) matches are fused by reciprocal
    /// rank fusion; `filter` applies to both before ranking. Read forward with `first` (at most
    /// 100, default 20) and `after`; at most `search.candidates` hits per side are ranked.
    /// When one side fails the other answers, with `degraded` set.
    #[graphql(complexity = "crate::graphql::pagination::connection_complexity(first, None, child_complexity)")]
    async fn search(
        &self,
        ctx: &Context<'_>,
        query: String,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ProductFilter>,
        #[graphql(desc = "Which sides to use; HYBRID when omitted.")] mode: Option<SearchMode>,
    ) -> Result<SearchConnection> {
        let request = PageRequest::parse(first, after.as_deref(), None, None, SEARCH, *ctx.state::<PageLimits>()?)?;
        let criteria = criteria(ctx, filter)?;
        let db = ctx.state::<Db>()?;
        let search = ctx.state::<Search>()?;
        let visitor = visitor_of(ctx, search);
        let outcome =
            service::search(db, search, &query, &criteria, mode.unwrap_or_default().into(), visitor.as_deref()).await?;
        let ids: Vec<Uuid> = outcome.hits.iter().map(|h| h.id).collect();
        let page = Page::window(outcome.hits, &request)?;
        let models = service::products_in_order(db, &page.items.iter().map(|(_, h)| h.id).collect::<Vec<_>>()).await?;
        let products = page_of_products(ctx, models).await?;
        let mut connection = Connection::with_additional_fields(
            page.has_previous_page,
            page.has_next_page,
            SearchResults {
                embedding_ms: outcome.embedding_ms,
                mode: outcome.mode.into(),
                degraded: outcome.degraded,
                notices: outcome.notices,
                ids,
            },
        );
        for ((rank, hit), product) in page.items.into_iter().zip(products) {
            let cursor = Cursor::new(SEARCH, rank.into(), hit.id).encode();
            connection.edges.push(Edge::with_additional_fields(cursor, product, SearchHit::from(&hit)));
        }
        Ok(connection)
    }

    /// Products most like `productId` by meaning (nearest vectors), most similar first, passing
    /// `filter` (publicly visible products by default). Empty when vector search is not
    /// configured. `first`: 1 to 50, default 10.
    async fn similar(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        first: Option<i32>,
        filter: Option<ProductFilter>,
    ) -> Result<Vec<SimilarProduct>> {
        let limit = short_list(first, 10)?;
        let id = GlobalId::parse_as(&product_id, NodeType::Product)?;
        let criteria = criteria(ctx, filter)?;
        let db = ctx.state::<Db>()?;
        let found = service::similar(db, ctx.state::<Search>()?, id, viewer(ctx), &criteria, limit).await?;
        let models = service::products_in_order(db, &found.iter().map(|(id, _)| *id).collect::<Vec<_>>()).await?;
        Ok(models
            .into_iter()
            .zip(found)
            .map(|(model, (_, similarity))| SimilarProduct { product: model.into(), similarity })
            .collect())
    }

    /// Type-ahead for a search box: earlier queries that found something, were searched by at
    /// least `search.suggestion_min_visitors` (5) distinct visitors and start with `prefix`, most
    /// widely searched first, then titles of matching products; phrases staff blocked are never
    /// shown. `first`: 1 to 50, default 8.
    async fn search_suggestions(&self, ctx: &Context<'_>, prefix: String, first: Option<i32>) -> Result<Vec<String>> {
        let limit = short_list(first, 8)?;
        Ok(service::suggestions(ctx.state::<Db>()?, ctx.state::<Search>()?, &prefix, limit).await?)
    }

    /// What shoppers searched for in the last `days` (1 to 366, default 30): the `first` (1 to
    /// 50, default 20) most frequent queries and zero-result queries. Needs analytics:read.
    #[graphql(guard = "Require::new(Permission::AnalyticsRead)")]
    async fn search_analytics(&self, days: Option<i32>, first: Option<i32>) -> Result<Option<SearchAnalytics>> {
        let days = days.unwrap_or(30);
        if !(1..=MAX_ANALYTICS_DAYS).contains(&days) {
            return Err(AppError::bad_input(format!("`days` must be between 1 and {MAX_ANALYTICS_DAYS}")).into());
        }
        let limit = short_list(first, 20)? as u64;
        Ok(Some(SearchAnalytics { since: Utc::now() - Duration::days(i64::from(days)), limit }))
    }

    /// The vector side's state: model, index, indexed products and changes not yet applied.
    /// Needs catalog:read:private.
    #[graphql(guard = "Require::new(Permission::CatalogReadPrivate)")]
    async fn search_index_status(&self, ctx: &Context<'_>) -> Result<Option<SearchIndexStatus>> {
        let search = ctx.state::<Search>()?;
        let db = ctx.state::<Db>()?;
        let pending = indexer::pending(db).await.map_err(AppError::internal)?;
        let status = match search.vector_side() {
            Some((embedder, index)) => SearchIndexStatus {
                embedder: Some(embedder.model().to_owned()),
                vector_index: Some(index.name().to_owned()),
                indexed: search.within("vector index", index.count()).await?,
                pending,
                refilling: search.is_refilling(),
            },
            None => SearchIndexStatus { embedder: None, vector_index: None, indexed: 0, pending, refilling: false },
        };
        Ok(Some(status))
    }
}

/// The searching visitor's pseudonym: the account or partner key, else the client address.
fn visitor_of(ctx: &Context<'_>, search: &Search) -> Option<String> {
    let who = match viewer(ctx) {
        crate::identity::Viewer::User { id, .. } => format!("user:{id}"),
        crate::identity::Viewer::Partner { key_id, .. } => format!("key:{key_id}"),
        // Not the cart token: anyone can send a fresh one with every request.
        crate::identity::Viewer::Anonymous => format!("ip:{}", client(ctx).ip?),
    };
    Some(analytics::visitor(search.visitor_key(), &who))
}
