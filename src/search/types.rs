//! Search's GraphQL types: the search connection and its hits, facets, similar products,
//! analytics and the index status.

use async_graphql::connection::{Connection, ConnectionNameType, EdgeNameType};
use async_graphql::{Context, Enum, Object, OutputType, Result, SimpleObject};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::analytics::{self, QueryStat};
use super::facets::{self, Facets};
use super::service::{Hit, Sides};
use crate::catalog::types::{Category, Product, ProductCondition, Vendor};
use crate::db::Db;
use crate::graphql::scalars::Money;
use crate::graphql::state::State;

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
    pub(super) embedding_ms: Option<f64>,
    pub(super) mode: SearchMode,
    pub(super) degraded: bool,
    pub(super) notices: Vec<String>,
    pub(super) ids: Vec<Uuid>,
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
        Ok(SearchFacets(facets::facets(ctx.state::<Db>()?, &self.ids).await?))
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
        let loaders = ctx.state::<crate::catalog::loaders::CatalogLoaders>()?;
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
        let loaders = ctx.state::<crate::catalog::loaders::CatalogLoaders>()?;
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
    pub(super) since: DateTime<Utc>,
    pub(super) limit: u64,
}

#[Object]
impl SearchAnalytics {
    /// The most frequent queries.
    async fn top_queries(&self, ctx: &Context<'_>) -> Result<Vec<SearchQueryStat>> {
        let stats = analytics::top_queries(ctx.state::<Db>()?, self.since, false, self.limit).await?;
        Ok(stats.into_iter().map(Into::into).collect())
    }

    /// The most frequent queries that found nothing: what the catalog lacks, or what search
    /// misunderstands.
    async fn zero_result_queries(&self, ctx: &Context<'_>) -> Result<Vec<SearchQueryStat>> {
        let stats = analytics::top_queries(ctx.state::<Db>()?, self.since, true, self.limit).await?;
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
    /// Whether the vector index is being refilled from the stored vectors, because it held
    /// fewer than the relational store (a Qdrant that came back empty, say).
    pub refilling: bool,
}
