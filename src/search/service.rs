//! Running a search: both sides concurrently, each bounded by a timeout, fused by weighted
//! reciprocal rank fusion; similar products; type-ahead. Facets are in [`super::facets`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use entity::product;
use sea_orm::{ActiveEnum, ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::Search;
use super::analytics::{self, Record};
use super::indexer;
use super::lexical::LexicalHit;
use super::query::TextQuery;
use super::vector::VectorFilter;
use crate::catalog::filter::ProductCriteria;
use crate::catalog::{listing, service as catalog};
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::identity::Viewer;

/// Which sides a search may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum Sides {
    /// Both, fused.
    Hybrid,
    /// Full-text only.
    Lexical,
    /// Vectors only.
    Vector,
}

impl Sides {
    /// The name used in responses and analytics.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// One fused hit.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// The product.
    pub id: Uuid,
    /// Fused score: the weighted reciprocal ranks, plus 1 for an exact title match.
    pub score: f64,
    /// 1-based rank on the full-text side.
    pub lexical_rank: Option<usize>,
    /// 1-based rank on the vector side.
    pub vector_rank: Option<usize>,
    /// Cosine similarity to the query.
    pub similarity: Option<f32>,
}

/// What a search found, best first, with how it was found.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Every hit (at most `search.candidates` per side), best first.
    pub hits: Vec<Hit>,
    /// The sides that answered.
    pub mode: Sides,
    /// A side that should have answered failed or timed out.
    pub degraded: bool,
    /// Human-readable explanations of `mode` and `degraded`.
    pub notices: Vec<String>,
    /// Milliseconds spent embedding the query, when it was embedded (not taken from the cache).
    pub embedding_ms: Option<f64>,
}

/// Searches the catalog for `text` among products passing `criteria`, and records the search.
///
/// # Errors
/// `BAD_USER_INPUT` for an unusable query, `NOT_FOUND` for an unknown category filter,
/// `INTERNAL` when every side that could answer failed.
pub async fn search(
    db: &Db,
    search: &Search,
    text: &str,
    criteria: &ProductCriteria,
    sides: Sides,
    visitor: Option<&str>,
) -> AppResult<Outcome> {
    let started = Instant::now();
    let query = TextQuery::parse(text)?;
    let condition = listing::condition(db, criteria).await?;
    let settings = &search.settings;
    let limit = settings.candidates.max(1);
    let timeout = Duration::from_millis(settings.timeout_ms.max(1));
    let mut notices = Vec::new();
    let want_vector = sides != Sides::Lexical;
    if want_vector && search.vector_side().is_none() {
        if sides == Sides::Vector {
            return Err(AppError::bad_input("vector search is not configured: use HYBRID or LEXICAL"));
        }
        notices.push("vector search is not configured: lexical results only".to_owned());
    }
    let filter = format!("{criteria:?}");
    let lexical_side = async {
        let work = search.recent.search(db, &search.corpus, &query, &filter, condition.clone(), limit as u64);
        if sides == Sides::Vector { None } else { Some(bounded("full-text", timeout, work).await) }
    };
    let vector_side = async {
        let work = vector_candidates(db, search, &query, criteria, &condition);
        if want_vector && search.vector_side().is_some() { Some(bounded("vector", timeout, work).await) } else { None }
    };
    let (lexical_result, vector_result) = tokio::join!(lexical_side, vector_side);

    let mut degraded = false;
    let lexical_hits: Option<Arc<[LexicalHit]>> = answered(lexical_result, &mut notices, &mut degraded);
    let vector_hits: Option<VectorHits> = answered(vector_result, &mut notices, &mut degraded);
    let mode = match (&lexical_hits, &vector_hits) {
        (Some(_), Some(_)) => Sides::Hybrid,
        (Some(_), None) => Sides::Lexical,
        (None, Some(_)) => Sides::Vector,
        (None, None) => {
            return Err(AppError::internal(anyhow::anyhow!("every search side failed: {}", notices.join("; "))));
        }
    };
    let embedding_ms = vector_hits.as_ref().and_then(|(_, ms)| *ms);
    let lexical_found_nothing = lexical_hits.as_ref().is_none_or(|hits| hits.is_empty());
    let vector_hits =
        vector_hits.map(|(hits, ms)| (above_floor(hits, settings.min_similarity, lexical_found_nothing), ms));
    let hits = fuse(
        lexical_hits.as_deref().unwrap_or_default(),
        vector_hits.as_ref().map(|(hits, _)| hits.as_slice()).unwrap_or_default(),
        &query,
        (settings.lexical_weight, settings.vector_weight, settings.rrf_k),
    );
    search.analytics.record(Record {
        query: analytics::normalise(text),
        filters: filters_json(criteria),
        hits: hits.len(),
        latency_ms: started.elapsed().as_secs_f64() * 1_000.0,
        mode: mode.name(),
        degraded,
        visitor: visitor.map(str::to_owned),
    });
    Ok(Outcome { hits, mode, degraded, notices, embedding_ms })
}

/// When the full-text side found nothing, vector candidates count down to this share of the best
/// one's similarity, even below `search.min_similarity`: a query a little off the catalog's
/// words still gets its nearest products rather than an empty page.
const RELATIVE_FLOOR: f32 = 0.85;
/// No vector candidate counts below this similarity.
const LEAST_SIMILARITY: f32 = 0.15;

/// The vector candidates (best first) at or above the similarity floor: `min_similarity`, or,
/// when the full-text side found nothing, the lower of it and [`RELATIVE_FLOOR`] of the best.
fn above_floor(hits: Vec<(Uuid, f32)>, min_similarity: f32, lexical_found_nothing: bool) -> Vec<(Uuid, f32)> {
    let best = hits.iter().map(|(_, s)| *s).fold(f32::MIN, f32::max);
    let floor = if lexical_found_nothing {
        min_similarity.min(best * RELATIVE_FLOOR).max(LEAST_SIMILARITY)
    } else {
        min_similarity
    };
    hits.into_iter().filter(|(_, similarity)| *similarity >= floor).collect()
}

/// Runs one side within `timeout`. A failure is the notice for the client (`"<side> search
/// failed"` or `"... timed out after N ms"`) and its cause for the log.
async fn bounded<T, E: std::fmt::Debug>(
    side: &str,
    timeout: Duration,
    work: impl Future<Output = Result<T, E>>,
) -> Result<T, (String, String)> {
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(cause)) => Err((format!("{side} search failed"), format!("{cause:?}"))),
        Err(_) => Err((format!("{side} search timed out after {} ms", timeout.as_millis()), String::new())),
    }
}

/// What a side found. A failure is logged with its cause, noted for the client without it (causes
/// name internal hosts), and marks the search degraded.
fn answered<T>(
    result: Option<Result<T, (String, String)>>,
    notices: &mut Vec<String>,
    degraded: &mut bool,
) -> Option<T> {
    match result? {
        Ok(found) => Some(found),
        Err((problem, cause)) => {
            tracing::warn!(problem, cause, "search is degraded");
            notices.push(problem);
            *degraded = true;
            None
        }
    }
}

/// Vector candidates with their similarity, and the milliseconds spent embedding the query.
type VectorHits = (Vec<(Uuid, f32)>, Option<f64>);

/// Embeds the query (or takes its cached vector) and asks the index, then keeps the candidates
/// above [`LEAST_SIMILARITY`] that the store confirms pass the filter (the index may lag behind a write by a moment). Returns
/// the hits and the milliseconds spent embedding, if it was embedded.
async fn vector_candidates(
    db: &Db,
    search: &Search,
    query: &TextQuery,
    criteria: &ProductCriteria,
    condition: &Condition,
) -> anyhow::Result<VectorHits> {
    let Some((_, index)) = search.vector_side() else { return Ok((Vec::new(), None)) };
    let (vector, embedding_ms) = search.query_vector(&query.semantic_text()).await?;
    let found =
        index.search(&vector, search.settings.candidates.max(1), &VectorFilter::from_criteria(criteria)).await?;
    // The similarity floor is applied once the full-text side has answered (`above_floor`).
    let found: Vec<(Uuid, f32)> = found.into_iter().filter(|(_, similarity)| *similarity >= LEAST_SIMILARITY).collect();
    Ok((confirmed(db, found, condition.clone()).await?, embedding_ms))
}

/// The candidates that pass `condition` in the store, in their order.
async fn confirmed(db: &Db, candidates: Vec<(Uuid, f32)>, condition: Condition) -> anyhow::Result<Vec<(Uuid, f32)>> {
    if candidates.is_empty() {
        return Ok(candidates);
    }
    let passing: HashSet<Uuid> = product::Entity::find()
        .select_only()
        .column(product::Column::Id)
        .filter(condition)
        .filter(product::Column::Id.is_in(candidates.iter().map(|(id, _)| *id)))
        .into_tuple::<Uuid>()
        .all(db.conn())
        .await?
        .into_iter()
        .collect();
    Ok(candidates.into_iter().filter(|(id, _)| passing.contains(id)).collect())
}

/// Weighted reciprocal rank fusion: `weight / (k + rank)` summed over the sides that found a
/// product. A product whose title is exactly the query ranks first. Ties break by id, so the
/// order (and so paging) is stable.
pub fn fuse(lexical: &[LexicalHit], vector: &[(Uuid, f32)], query: &TextQuery, weights: (f64, f64, f64)) -> Vec<Hit> {
    let (lexical_weight, vector_weight, k) = weights;
    let wanted = query.semantic_text();
    let mut hits: BTreeMap<Uuid, Hit> = BTreeMap::new();
    for (i, hit) in lexical.iter().enumerate() {
        let target = hits.entry(hit.id).or_insert(Hit {
            id: hit.id,
            score: 0.0,
            lexical_rank: None,
            vector_rank: None,
            similarity: None,
        });
        target.lexical_rank = Some(i + 1);
        target.score += lexical_weight / (k + (i + 1) as f64);
        if analytics::normalise(&hit.title) == wanted {
            target.score += 1.0;
        }
    }
    for (i, (id, similarity)) in vector.iter().enumerate() {
        let target = hits.entry(*id).or_insert(Hit {
            id: *id,
            score: 0.0,
            lexical_rank: None,
            vector_rank: None,
            similarity: None,
        });
        target.vector_rank = Some(i + 1);
        target.similarity = Some(*similarity);
        target.score += vector_weight / (k + (i + 1) as f64);
    }
    let mut hits: Vec<Hit> = hits.into_values().collect();
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    hits
}

/// Loads products by id, in the given order.
///
/// # Errors
/// When the store fails.
pub async fn products_in_order(db: &Db, ids: &[Uuid]) -> AppResult<Vec<product::Model>> {
    let mut found: HashMap<Uuid, product::Model> = product::Entity::find()
        .filter(product::Column::Id.is_in(ids.iter().copied()))
        .all(db.conn())
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

/// Products most like `id` by their vectors, passing `criteria`, most similar first (itself
/// excluded). Empty when search has no vector side.
///
/// # Errors
/// `NOT_FOUND` for an unknown product or category, `INTERNAL` when the vector side fails.
pub async fn similar(
    db: &Db,
    search: &Search,
    id: Uuid,
    viewer: &Viewer,
    criteria: &ProductCriteria,
    limit: usize,
) -> AppResult<Vec<(Uuid, f32)>> {
    let product = catalog::product_by_id(db, id, viewer).await?;
    let Some((embedder, index)) = search.vector_side() else { return Ok(Vec::new()) };
    let condition = listing::condition(db, criteria).await?;
    let stored = entity::product_embedding::Entity::find_by_id(id)
        .filter(entity::product_embedding::Column::Model.eq(embedder.model()))
        .one(db.conn())
        .await?;
    let vector = match stored {
        Some(row) => indexer::from_bytes(&row.vector),
        None => {
            let category = catalog::category_by_id(db, product.category_id).await?;
            let text = indexer::document(&product, &category.name);
            search.within("embedder", embedder.embed_now(&[text])).await?.pop().unwrap_or_default()
        }
    };
    let filter = VectorFilter::from_criteria(criteria);
    let found = search.within("vector index", index.search(&vector, limit + 1, &filter)).await?;
    let found = found.into_iter().filter(|(other, _)| *other != id).take(limit).collect();
    confirmed(db, found, condition).await.map_err(AppError::internal)
}

/// Type-ahead: earlier queries that found something, were searched by at least
/// `search.suggestion_min_visitors` distinct visitors (so no one visitor can plant a suggestion
/// for others) and start with `prefix`, then titles of products matching it as a prefix;
/// distinct, without blocked phrases, at most `limit`.
///
/// # Errors
/// `BAD_USER_INPUT` for an unusable prefix; `INTERNAL` when the store fails.
pub async fn suggestions(db: &Db, search: &Search, prefix: &str, limit: usize) -> AppResult<Vec<String>> {
    let query = TextQuery::parse(prefix.trim_end())?;
    let blocked = super::moderation::blocked(db).await?;
    let min_visitors = search.settings.suggestion_min_visitors.max(1);
    let mut suggestions: Vec<String> = analytics::popular_with_prefix(db, prefix, (limit * 2) as u64, min_visitors)
        .await?
        .into_iter()
        .filter(|s| !super::moderation::is_blocked(s, &blocked))
        .take(limit)
        .collect();
    let titles = search.recent.suggest(db, &search.corpus, &query, limit as u64).await?;
    for title in titles.iter().map(|hit| &hit.title) {
        if suggestions.len() >= limit {
            break;
        }
        if !suggestions.iter().any(|s| s.eq_ignore_ascii_case(title)) && !super::moderation::is_blocked(title, &blocked)
        {
            suggestions.push(title.clone());
        }
    }
    suggestions.truncate(limit);
    Ok(suggestions)
}

/// The filter as recorded in search analytics.
fn filters_json(criteria: &ProductCriteria) -> serde_json::Value {
    let mut json = serde_json::Map::new();
    if let Some(category) = criteria.category {
        json.insert("category".into(), category.to_string().into());
    }
    if !criteria.vendors.is_empty() {
        json.insert("vendors".into(), criteria.vendors.iter().map(Uuid::to_string).collect());
    }
    if let Some((currency, min, max)) = &criteria.price {
        json.insert("price".into(), serde_json::json!({ "currency": currency.code(), "min": min, "max": max }));
    }
    if let Some(available) = criteria.available {
        json.insert("available".into(), available.into());
    }
    for (column, values) in &criteria.columns {
        json.insert(format!("{column:?}").to_lowercase(), values.clone().into());
    }
    if !criteria.conditions.is_empty() {
        json.insert("conditions".into(), criteria.conditions.iter().map(ActiveEnum::to_value).collect());
    }
    for (name, values) in &criteria.attributes {
        json.insert(format!("attr.{name}"), values.clone().into());
    }
    serde_json::Value::Object(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(hits: &[(Uuid, f32)]) -> Vec<f32> {
        hits.iter().map(|(_, s)| *s).collect()
    }

    #[test]
    fn the_similarity_floor_falls_relative_to_the_best_only_when_full_text_found_nothing() {
        let hits: Vec<(Uuid, f32)> = [0.28, 0.25, 0.22, 0.1].iter().map(|s| (Uuid::nil(), *s)).collect();
        assert!(above_floor(hits.clone(), 0.3, false).is_empty(), "the absolute floor with full-text hits");
        assert_eq!(ids(&above_floor(hits.clone(), 0.3, true)), [0.28, 0.25], "0.85 of the best");
        let strong: Vec<(Uuid, f32)> = [0.9, 0.5, 0.31, 0.2].iter().map(|s| (Uuid::nil(), *s)).collect();
        assert_eq!(ids(&above_floor(strong, 0.3, true)), [0.9, 0.5, 0.31], "never above the absolute floor");
        let weak: Vec<(Uuid, f32)> = [0.16, 0.14].iter().map(|s| (Uuid::nil(), *s)).collect();
        assert_eq!(ids(&above_floor(weak, 0.3, true)), [0.16], "never below the least similarity");
    }
}
