//! Search's GraphQL queries: `search`, `similar`, `searchSuggestions`, and the admin's
//! `searchAnalytics` and `searchIndexStatus`.

use async_graphql::connection::{Connection, ConnectionNameType, Edge, EdgeNameType};
use async_graphql::{Context, Enum, ID, Object, OutputType, Result, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::Search;
use super::analytics::{self, QueryStat};
use super::indexer;
use super::service::{self, Facets, Hit, Sides};
use crate::catalog::filter::{ProductCriteria, ProductFilter};
use crate::catalog::graphql::preload_relations;
use crate::catalog::types::{Category, Product, ProductCondition, Vendor};
use crate::db::Db;
use crate::error::AppError;
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::pagination::PageLimits;
use crate::graphql::scalars::Money;
use crate::identity::Permission;
use crate::identity::guards::{Require, viewer};

/// Most similar products or suggestions one query returns.
const MAX_SHORT_LIST: i32 = 50;
/// Longest analytics window, in days.
const MAX_ANALYTICS_DAYS: i32 = 366;

/// Search queries.
#[derive(Default)]
pub struct SearchQuery;

/// Which sides a search uses.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
#[graphql(remote = "Sides")]
pub enum SearchMode {
    /// Full-text and vector results fused by reciprocal rank fusion.
    #[default]
    Hybrid,
    /// Full-text only.
    Lexical,
    /// Vectors only.
    Vector,
}

/// A page of search hits.
pub type SearchConnection = Connection<String, Product, SearchResults, SearchHit, SearchConnectionName, SearchEdgeName>;

/// Names the search connection `SearchConnection`.
pub struct SearchConnectionName;

impl ConnectionNameType for SearchConnectionName {
    fn type_name<T: OutputType>() -> String {
        "SearchConnection".to_owned()
    }
}

/// Names its edges `SearchEdge`.
pub struct SearchEdgeName;

impl EdgeNameType for SearchEdgeName {
    fn type_name<T: OutputType>() -> String {
        "SearchEdge".to_owned()
    }
}

/// How a product was found.
#[derive(SimpleObject)]
pub struct SearchHit {
    /// Fused relevance: the sum over the sides that found the product of
    /// `weight / (60 + rank)`, plus 1 when the title is exactly the query. Higher is better.
    pub score: f64,
    /// Rank (1 = best) among the full-text matches; null when full text did not find it.
    pub lexical_rank: Option<i32>,
    /// Rank (1 = best) among the vector matches; null when vectors did not find it.
    pub vector_rank: Option<i32>,
    /// Cosine similarity between the query and the product's text, when vectors found it.
    pub similarity: Option<f32>,
}

impl From<&Hit> for SearchHit {
    fn from(hit: &Hit) -> Self {
        let rank = |r: Option<usize>| r.map(|r| i32::try_from(r).unwrap_or(i32::MAX));
        Self {
            score: hit.score,
            lexical_rank: rank(hit.lexical_rank),
            vector_rank: rank(hit.vector_rank),
            similarity: hit.similarity,
        }
    }
}

/// The whole result of a search: how it ran, how many products it found, and facet counts.
pub struct SearchResults {
    embedding_ms: Option<f64>,
    mode: SearchMode,
    degraded: bool,
    notices: Vec<String>,
    ids: Vec<Uuid>,
}

#[Object]
impl SearchResults {
    /// The sides that answered. LEXICAL when vector search is not configured or failed.
    async fn mode(&self) -> SearchMode {
        self.mode
    }

    /// True when a side that should have answered failed or timed out: the results come from
    /// the other side alone.
    async fn degraded(&self) -> bool {
        self.degraded
    }

    /// Why the search ran in its mode, or how it was degraded.
    async fn notices(&self) -> &[String] {
        &self.notices
    }

    /// Milliseconds spent turning the query into a vector; null when it was not embedded
    /// (lexical only, or a recent query whose vector was cached).
    async fn embedding_ms(&self) -> Option<f64> {
        self.embedding_ms
    }

    /// How many hits the search ranked, across all pages. Each side ranks at most
    /// `search.candidates` products (200 by default), so a broad query reports that bound rather
    /// than every product containing its words.
    async fn total_count(&self) -> usize {
        self.ids.len()
    }

    /// Facet counts over every ranked hit (not only this page).
    async fn facets(&self, ctx: &Context<'_>) -> Result<SearchFacets> {
        Ok(SearchFacets(service::facets(ctx.data::<Db>()?, &self.ids).await?))
    }
}

/// One value of a facet and how many matched products have it.
#[derive(SimpleObject)]
pub struct FacetCount {
    /// The value: an ID for categories and vendors, the text otherwise.
    pub value: String,
    /// How many matched products have it.
    pub count: u64,
}

/// Matched products per condition.
#[derive(SimpleObject)]
pub struct ConditionCount {
    /// The condition.
    pub condition: ProductCondition,
    /// How many matched products are in it.
    pub count: u64,
}

/// Matched products per category.
pub struct CategoryCount(Uuid, u64);

#[Object]
impl CategoryCount {
    /// The category (products are counted under the category they are filed in).
    async fn category(&self, ctx: &Context<'_>) -> Result<Option<Category>> {
        let loaders = ctx.data::<crate::catalog::loaders::CatalogLoaders>()?;
        Ok(loaders.categories.load_one(self.0).await?.map(Category))
    }

    /// How many matched products are filed in it.
    async fn count(&self) -> u64 {
        self.1
    }
}

/// Matched products per vendor.
pub struct VendorCount(Uuid, u64);

#[Object]
impl VendorCount {
    /// The vendor.
    async fn vendor(&self, ctx: &Context<'_>) -> Result<Option<Vendor>> {
        let loaders = ctx.data::<crate::catalog::loaders::CatalogLoaders>()?;
        Ok(loaders.vendors.load_one(self.0).await?.map(Vendor))
    }

    /// How many matched products it sells.
    async fn count(&self) -> u64 {
        self.1
    }
}

/// Matched products in a price range.
pub struct PriceBucket(String, i64, Option<i64>, u64);

#[Object]
impl PriceBucket {
    /// Lowest price of the bucket, inclusive.
    async fn min(&self) -> Result<Money> {
        Ok(Money::stored(self.1, &self.0)?)
    }

    /// Upper bound of the bucket, exclusive; null for the highest bucket.
    async fn max(&self) -> Result<Option<Money>> {
        Ok(self.2.map(|max| Money::stored(max, &self.0)).transpose()?)
    }

    /// How many matched products are priced in it.
    async fn count(&self) -> u64 {
        self.3
    }
}

/// Facet counts of a search, most frequent value first.
pub struct SearchFacets(Facets);

#[Object]
impl SearchFacets {
    /// Per category.
    async fn categories(&self) -> Vec<CategoryCount> {
        self.0.categories.iter().map(|(id, n)| CategoryCount(*id, *n)).collect()
    }

    /// Per vendor.
    async fn vendors(&self) -> Vec<VendorCount> {
        self.0.vendors.iter().map(|(id, n)| VendorCount(*id, *n)).collect()
    }

    /// Per brand (products without one are not counted).
    async fn brands(&self) -> Vec<FacetCount> {
        self.0.brands.iter().map(|(value, count)| FacetCount { value: value.clone(), count: *count }).collect()
    }

    /// Per size (products without one are not counted).
    async fn sizes(&self) -> Vec<FacetCount> {
        self.0.sizes.iter().map(|(value, count)| FacetCount { value: value.clone(), count: *count }).collect()
    }

    /// Per condition (products without one are not counted).
    async fn conditions(&self) -> Vec<ConditionCount> {
        self.0.conditions.iter().map(|(c, count)| ConditionCount { condition: (*c).into(), count: *count }).collect()
    }

    /// Per price range, by currency then price. Ranges start at 0, 50, 100, 250, 500, 1000 and
    /// 2500 units of the currency; empty ranges are left out.
    async fn prices(&self) -> Vec<PriceBucket> {
        self.0.prices.iter().map(|(c, min, max, n)| PriceBucket(c.clone(), *min, *max, *n)).collect()
    }
}

/// A product like another, with how alike they are.
#[derive(SimpleObject)]
pub struct SimilarProduct {
    /// The product.
    pub product: Product,
    /// Cosine similarity of the two products' texts, from -1 to 1.
    pub similarity: f32,
}

/// A query with how often it was searched.
#[derive(SimpleObject)]
pub struct SearchQueryStat {
    /// The query as recorded: trimmed, lower-case, single spaces.
    pub query: String,
    /// How many times it was searched.
    pub searches: i64,
    /// Mean number of hits.
    pub average_hits: f64,
    /// Mean time taken, in milliseconds.
    pub average_latency_ms: f64,
    /// When it was last searched.
    pub last_searched_at: DateTime<Utc>,
}

impl From<QueryStat> for SearchQueryStat {
    fn from(stat: QueryStat) -> Self {
        Self {
            query: stat.query,
            searches: stat.searches,
            average_hits: stat.average_hits,
            average_latency_ms: stat.average_latency_ms,
            last_searched_at: stat.last_searched_at,
        }
    }
}

/// What shoppers searched for over a period.
pub struct SearchAnalytics {
    since: DateTime<Utc>,
    limit: u64,
}

#[Object]
impl SearchAnalytics {
    /// The most frequent queries.
    async fn top_queries(&self, ctx: &Context<'_>) -> Result<Vec<SearchQueryStat>> {
        let stats = analytics::top_queries(ctx.data::<Db>()?, self.since, false, self.limit).await?;
        Ok(stats.into_iter().map(Into::into).collect())
    }

    /// The most frequent queries that found nothing: what the catalog lacks, or what search
    /// misunderstands.
    async fn zero_result_queries(&self, ctx: &Context<'_>) -> Result<Vec<SearchQueryStat>> {
        let stats = analytics::top_queries(ctx.data::<Db>()?, self.since, true, self.limit).await?;
        Ok(stats.into_iter().map(Into::into).collect())
    }
}

/// The state of the vector side.
#[derive(SimpleObject)]
pub struct SearchIndexStatus {
    /// The embedding model; null when search is lexical-only.
    pub embedder: Option<String>,
    /// `embedded` or `qdrant`; null when search is lexical-only.
    pub vector_index: Option<String>,
    /// Products in the vector index.
    pub indexed: u64,
    /// Product changes waiting to reach the vector index.
    pub pending: u64,
}

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

/// A search cursor: the position of the hit after which to continue.
fn cursor(position: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("search:{position}"))
}

fn position_after(cursor: &str) -> Result<usize, AppError> {
    let malformed = || AppError::bad_input("malformed cursor: pass back a cursor exactly as the API returned it");
    let bytes = URL_SAFE_NO_PAD.decode(cursor.get(..64).unwrap_or(cursor)).map_err(|_| malformed())?;
    let text = String::from_utf8(bytes).map_err(|_| malformed())?;
    let position = text.strip_prefix("search:").and_then(|n| n.parse::<usize>().ok()).ok_or_else(malformed)?;
    Ok(position + 1)
}

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
        let limits = *ctx.data::<PageLimits>()?;
        let first = first.unwrap_or(limits.default_size as i32);
        if first < 0 || first as u32 > limits.max_size {
            return Err(AppError::bad_input(format!("`first` must be between 0 and {}", limits.max_size)).into());
        }
        let start = after.as_deref().map(position_after).transpose()?.unwrap_or(0);
        let criteria = criteria(ctx, filter)?;
        let db = ctx.data::<Db>()?;
        let search = ctx.data::<Search>()?;
        let visitor = visitor_of(ctx, search);
        let outcome =
            service::search(db, search, &query, &criteria, mode.unwrap_or_default().into(), visitor.as_deref()).await?;
        let page: Vec<&Hit> = outcome.hits.iter().skip(start).take(first as usize).collect();
        let models = service::products_in_order(db, &page.iter().map(|h| h.id).collect::<Vec<_>>()).await?;
        let products = preload_relations(ctx, models).await?;
        let ids: Vec<Uuid> = outcome.hits.iter().map(|h| h.id).collect();
        let mut connection = Connection::with_additional_fields(
            start > 0,
            start + page.len() < ids.len(),
            SearchResults {
                embedding_ms: outcome.embedding_ms,
                mode: outcome.mode.into(),
                degraded: outcome.degraded,
                notices: outcome.notices,
                ids,
            },
        );
        for (offset, (hit, product)) in page.into_iter().zip(products).enumerate() {
            connection.edges.push(Edge::with_additional_fields(cursor(start + offset), product, SearchHit::from(hit)));
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
        let db = ctx.data::<Db>()?;
        let found = service::similar(db, ctx.data::<Search>()?, id, viewer(ctx), &criteria, limit).await?;
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
        Ok(service::suggestions(ctx.data::<Db>()?, ctx.data::<Search>()?, &prefix, limit).await?)
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
        let search = ctx.data::<Search>()?;
        let db = ctx.data::<Db>()?;
        let pending = indexer::pending(db).await.map_err(AppError::internal)?;
        let status = match search.vector_side() {
            Some((embedder, index)) => SearchIndexStatus {
                embedder: Some(embedder.model().to_owned()),
                vector_index: Some(index.name().to_owned()),
                indexed: index.count().await.map_err(AppError::internal)?,
                pending,
            },
            None => SearchIndexStatus { embedder: None, vector_index: None, indexed: 0, pending },
        };
        Ok(Some(status))
    }
}

/// The searching visitor's pseudonym: the account or partner key, else the client address.
fn visitor_of(ctx: &Context<'_>, search: &Search) -> Option<String> {
    let who = match viewer(ctx) {
        crate::identity::Viewer::User { id, .. } => format!("user:{id}"),
        crate::identity::Viewer::Partner { key_id } => format!("key:{key_id}"),
        // Not the cart token: anyone can send a fresh one with every request.
        crate::identity::Viewer::Anonymous => {
            format!("ip:{}", ctx.data_opt::<crate::identity::viewer::ClientInfo>()?.ip.as_deref()?)
        }
    };
    Some(analytics::visitor(search.visitor_key(), &who))
}
