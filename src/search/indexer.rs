//! Keeps the vector index in step with the catalog.
//!
//! Database triggers queue every product write that matters to search in `search_outbox`, in the
//! writing transaction. [`sync_once`] takes a batch from that queue, embeds the products whose
//! text changed (an unchanged text reuses its stored vector), stores the vectors in
//! `product_embeddings`, updates the index, and only then removes the batch from the queue: a
//! crash at any point leaves the batch queued, and replaying it is harmless.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use entity::{category, product, product_embedding, search_outbox};
use sea_orm::sea_query::{Alias, Expr, Func, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::Search;
use super::embedder::Embedder;
use super::vector::{Payload, VectorIndex, VectorPoint};
use crate::db::Db;

/// Products taken from the queue (or rebuilt) per pass.
pub const BATCH: u64 = 64;

/// Characters of the description that join the embedded text: its start says what the
/// product is; the rest mostly adds words the model averages away (and tokens it pays for).
const DESCRIPTION_START: usize = 300;

/// The text a product is embedded from: what it is (title, brand), its describing attributes,
/// then the start of its description. The category name joins only when the title does not
/// already say it, so it does not dilute a short title; sizes and ids are left out (filters
/// answer them, and they carry no meaning for the model).
pub fn document(product: &product::Model, category: &str) -> String {
    let mut parts = vec![product.title.clone()];
    parts.extend(product.brand.clone());
    let title = product.title.to_lowercase();
    if !category.split_whitespace().any(|word| title.contains(&word.to_lowercase())) {
        parts.push(category.to_owned());
    }
    let mut details: Vec<String> =
        [&product.colour, &product.material, &product.era].into_iter().flatten().cloned().collect();
    if let Some(attributes) = product.attributes.as_object() {
        details.extend(attributes.values().filter_map(|v| v.as_str().map(str::to_owned)));
    }
    if !details.is_empty() {
        parts.push(details.join(", "));
    }
    parts.push(start_of(&product.description, DESCRIPTION_START));
    parts.retain(|p| !p.trim().is_empty());
    parts.join(". ")
}

/// The first sentences of `text` within `limit` characters (at least its first words).
fn start_of(text: &str, limit: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let cut: String = text.chars().take(limit).collect();
    match cut.rfind(['.', '!', '?']) {
        Some(end) if end > limit / 3 => cut[..=end].to_owned(),
        _ => cut.rfind(char::is_whitespace).map_or(cut.clone(), |end| cut[..end].to_owned()),
    }
}

/// Encodes a vector for `product_embeddings`.
pub fn to_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Decodes a vector from `product_embeddings`.
pub fn from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// Takes one batch from the outbox and applies it. Returns how many queue rows it cleared
/// (0 when the queue is empty or search has no vector side).
///
/// # Errors
/// When the store, the embedder or the index fails; the batch stays queued.
pub async fn sync_once(db: &Db, search: &Search) -> anyhow::Result<usize> {
    let rows = search_outbox::Entity::find()
        .order_by_asc(search_outbox::Column::Id)
        .limit(BATCH)
        .all(db.conn())
        .await
        .context("cannot read the search outbox")?;
    if rows.is_empty() {
        return Ok(0);
    }
    if search.vector_side().is_some() {
        let ids: Vec<Uuid> = rows.iter().map(|r| r.product_id).collect::<HashSet<_>>().into_iter().collect();
        index_products(db, search, &ids).await?;
    }
    let done: Vec<i64> = rows.iter().map(|r| r.id).collect();
    search_outbox::Entity::delete_many()
        .filter(search_outbox::Column::Id.is_in(done))
        .exec(db.conn())
        .await
        .context("cannot clear the search outbox")?;
    Ok(rows.len())
}

/// How many products wait in the outbox.
///
/// # Errors
/// When the store fails.
pub async fn pending(db: &Db) -> anyhow::Result<u64> {
    Ok(search_outbox::Entity::find().count(db.conn()).await?)
}

/// How often a lexical-only server empties the outbox (nothing consumes it; `reindex` rebuilds
/// the vectors once a model is configured).
const LEXICAL_ONLY_DRAIN: Duration = Duration::from_secs(60);

/// Runs [`sync_once`] until stopped: right away while there is work, every `interval` when
/// idle, backing off (up to a minute) while something fails. Without a vector side it only
/// empties the outbox now and then.
pub fn spawn(db: Db, search: Search, interval: Duration) -> tokio::task::JoinHandle<()> {
    if search.vector_side().is_none() {
        return tokio::spawn(async move {
            loop {
                tokio::time::sleep(LEXICAL_ONLY_DRAIN).await;
                if let Err(error) = search_outbox::Entity::delete_many().exec(db.conn()).await {
                    tracing::warn!(%error, "cannot empty the search outbox");
                }
            }
        });
    }
    tokio::spawn(async move {
        let mut failures = 0u32;
        let mut checked: Option<std::time::Instant> = None;
        loop {
            let pass = async {
                // After a failure the index may have come back empty (a new Qdrant): prepare it,
                // and refill it if it is short.
                if failures > 0
                    && let Some((embedder, index)) = search.vector_side()
                {
                    index.prepare(embedder.dimensions()).await?;
                    checked = None;
                }
                if checked.is_none_or(|at| at.elapsed() >= SHORT_CHECK) {
                    refill_if_short(&db, &search).await?;
                    checked = Some(std::time::Instant::now());
                }
                sync_once(&db, &search).await
            };
            match pass.await {
                Ok(0) => {
                    failures = 0;
                    tokio::time::sleep(interval).await;
                }
                Ok(_) => failures = 0,
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let wait = (interval * 2u32.saturating_pow(failures.min(7))).min(Duration::from_secs(60));
                    tracing::warn!(
                        error = format!("{error:#}"),
                        retry_in_ms = wait.as_millis() as u64,
                        "search index sync failed"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    })
}

/// How often the worker compares the vector index with the stored vectors.
const SHORT_CHECK: Duration = Duration::from_secs(60);

/// Refills the vector index from `product_embeddings`, without running the model, when it
/// holds fewer points than there are stored vectors of the model: a Qdrant that came back
/// empty or was restored from an old snapshot. `searchIndexStatus` shows `refilling` meanwhile.
/// Returns how many points were written, or `None` when nothing was missing.
///
/// # Errors
/// When the store or the index fails.
pub async fn refill_if_short(db: &Db, search: &Search) -> anyhow::Result<Option<u64>> {
    let Some((embedder, index)) = search.vector_side() else { return Ok(None) };
    // The vectors `load_into` can use: of the model and of its length (4 bytes a dimension).
    let length = Func::cust(Alias::new("length")).arg(Expr::col(product_embedding::Column::Vector));
    let stored = product_embedding::Entity::find()
        .filter(product_embedding::Column::Model.eq(embedder.model()))
        .filter(sea_orm::sea_query::ExprTrait::eq(Expr::expr(length), embedder.dimensions() as i64 * 4))
        .count(db.conn())
        .await?;
    let indexed = index.count().await?;
    if indexed >= stored {
        return Ok(None);
    }
    tracing::warn!(indexed, stored, "the vector index holds fewer points than the stored vectors: refilling it");
    search.set_refilling(true);
    let written = load_into(db, embedder.as_ref(), index.as_ref()).await;
    search.set_refilling(false);
    let written = written?;
    tracing::info!(written, "vector index refilled from the stored vectors");
    Ok(Some(written))
}

/// Rebuilds the vector index from the catalog, reporting `(done, total)` after each batch.
/// Unchanged texts reuse their stored vectors. Outbox entries queued before the rebuild began
/// are covered by it and cleared at the end; later ones stay for the worker. Returns how many
/// products it indexed.
///
/// # Errors
/// When search has no vector side, or the store, the embedder or the index fails.
pub async fn reindex(db: &Db, search: &Search, mut progress: impl FnMut(u64, u64)) -> anyhow::Result<u64> {
    let (embedder, index) = search.vector_side().context("search has no embedder configured (search.embedder.kind)")?;
    index.prepare(embedder.dimensions()).await?;
    let covered: Option<i64> = search_outbox::Entity::find()
        .select_only()
        .column_as(search_outbox::Column::Id.max(), "id")
        .into_tuple::<Option<i64>>()
        .one(db.conn())
        .await?
        .flatten();
    let total = product::Entity::find().count(db.conn()).await?;
    let mut done = 0;
    let mut after: Option<Uuid> = None;
    loop {
        let mut page =
            product::Entity::find().select_only().column(product::Column::Id).order_by_asc(product::Column::Id);
        if let Some(last) = after {
            page = page.filter(product::Column::Id.gt(last));
        }
        let ids: Vec<Uuid> = page.limit(BATCH * 4).into_tuple().all(db.conn()).await?;
        let Some(last) = ids.last().copied() else { break };
        index_products(db, search, &ids).await?;
        done += ids.len() as u64;
        progress(done, total);
        after = Some(last);
    }
    if let Some(covered) = covered {
        search_outbox::Entity::delete_many().filter(search_outbox::Column::Id.lte(covered)).exec(db.conn()).await?;
    }
    Ok(done)
}

/// Prepares the index at start and, for the embedded index, fills it from
/// `product_embeddings`. Vectors of another model are skipped (and counted in the log:
/// `aeternum reindex` recomputes them).
///
/// # Errors
/// When the store or the index fails.
pub async fn load(db: &Db, search: &Search) -> anyhow::Result<u64> {
    let Some((embedder, index)) = search.vector_side() else { return Ok(0) };
    index.prepare(embedder.dimensions()).await?;
    if index.keeps_vectors() {
        return Ok(0);
    }
    load_into(db, embedder.as_ref(), index.as_ref()).await
}

/// Fills `index` from `product_embeddings` with the vectors of `embedder`'s model.
///
/// # Errors
/// When the store or the index fails.
pub async fn load_into(db: &Db, embedder: &dyn Embedder, index: &dyn VectorIndex) -> anyhow::Result<u64> {
    let categories = category_paths(db, None).await?;
    let (mut loaded, mut stale) = (0u64, 0u64);
    let mut after: Option<Uuid> = None;
    loop {
        let mut page = product_embedding::Entity::find().order_by_asc(product_embedding::Column::ProductId);
        if let Some(last) = after {
            page = page.filter(product_embedding::Column::ProductId.gt(last));
        }
        let rows = page.limit(2_000).all(db.conn()).await?;
        let Some(last) = rows.last().map(|r| r.product_id) else { break };
        after = Some(last);
        let (current, other): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| r.model == embedder.model());
        stale += other.len() as u64;
        let products: HashMap<Uuid, product::Model> = product::Entity::find()
            .filter(product::Column::Id.is_in(current.iter().map(|r| r.product_id)))
            .all(db.conn())
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let points: Vec<VectorPoint> = current
            .into_iter()
            .filter_map(|row| {
                let product = products.get(&row.product_id)?;
                let (_, path) = categories.get(&product.category_id)?;
                Some(VectorPoint {
                    id: row.product_id,
                    vector: from_bytes(&row.vector),
                    payload: Payload::of(product, path),
                })
            })
            .filter(|point| point.vector.len() == embedder.dimensions())
            .collect();
        loaded += points.len() as u64;
        index.upsert(points).await?;
    }
    if stale > 0 {
        tracing::warn!(
            stale,
            model = embedder.model(),
            "vectors of another model were skipped: run `aeternum reindex`"
        );
    }
    Ok(loaded)
}

/// Names and paths of categories (all of them, or those listed).
async fn category_paths(db: &Db, ids: Option<Vec<Uuid>>) -> anyhow::Result<HashMap<Uuid, (String, String)>> {
    let mut query = category::Entity::find();
    if let Some(ids) = ids {
        query = query.filter(category::Column::Id.is_in(ids));
    }
    Ok(query.all(db.conn()).await?.into_iter().map(|c| (c.id, (c.name, c.path))).collect())
}

/// A product with the text it is embedded from.
struct Document {
    product: product::Model,
    /// Materialised path of its category.
    path: String,
    text: String,
    /// SHA-256 of `text`.
    hash: String,
}

/// Embeds (when their text changed), stores and indexes the listed products; removes from the
/// index those that no longer exist.
async fn index_products(db: &Db, search: &Search, ids: &[Uuid]) -> anyhow::Result<()> {
    let Some((embedder, index)) = search.vector_side() else { return Ok(()) };
    let products =
        product::Entity::find().filter(product::Column::Id.is_in(ids.iter().copied())).all(db.conn()).await?;
    let found: HashSet<Uuid> = products.iter().map(|p| p.id).collect();
    let gone: Vec<Uuid> = ids.iter().copied().filter(|id| !found.contains(id)).collect();
    if !gone.is_empty() {
        index.remove(&gone).await?;
    }
    if products.is_empty() {
        return Ok(());
    }
    let categories = category_paths(db, Some(products.iter().map(|p| p.category_id).collect())).await?;
    let documents: Vec<Document> = products
        .into_iter()
        .map(|product| {
            let (name, path) = categories.get(&product.category_id).cloned().unwrap_or_default();
            let text = document(&product, &name);
            Document { hash: crate::digest::sha256_hex(&text), text, path, product }
        })
        .collect();

    // Reuse a stored vector of the same text under the same model, whichever product it was for.
    let mut vectors: HashMap<String, Vec<f32>> = product_embedding::Entity::find()
        .filter(product_embedding::Column::Model.eq(embedder.model()))
        .filter(product_embedding::Column::ContentHash.is_in(documents.iter().map(|d| d.hash.as_str())))
        .all(db.conn())
        .await?
        .into_iter()
        .map(|row| (row.content_hash, from_bytes(&row.vector)))
        .filter(|(_, v)| v.len() == embedder.dimensions())
        .collect();
    let mut missing: Vec<&Document> = Vec::new();
    for doc in &documents {
        if !vectors.contains_key(&doc.hash) && !missing.iter().any(|m| m.hash == doc.hash) {
            missing.push(doc);
        }
    }
    if !missing.is_empty() {
        let texts: Vec<String> = missing.iter().map(|doc| doc.text.clone()).collect();
        let embedded = embedder.embed(&texts).await?;
        vectors.extend(missing.into_iter().map(|doc| doc.hash.clone()).zip(embedded));
    }

    let now = Utc::now();
    let mut rows = Vec::with_capacity(documents.len());
    let mut points = Vec::with_capacity(documents.len());
    for Document { product, path, hash, .. } in documents {
        let Some(vector) = vectors.get(&hash) else { continue };
        rows.push(product_embedding::ActiveModel {
            product_id: Set(product.id),
            model: Set(embedder.model().to_owned()),
            content_hash: Set(hash),
            vector: Set(to_bytes(vector)),
            updated_at: Set(now),
        });
        points.push(VectorPoint { id: product.id, vector: vector.clone(), payload: Payload::of(&product, &path) });
    }
    product_embedding::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(product_embedding::Column::ProductId)
                .update_columns([
                    product_embedding::Column::Model,
                    product_embedding::Column::ContentHash,
                    product_embedding::Column::Vector,
                    product_embedding::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db.conn())
        .await?;
    index.upsert(points).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(title: &str, description: &str) -> product::Model {
        let now = Utc::now();
        product::Model {
            id: Uuid::nil(),
            vendor_id: Uuid::nil(),
            category_id: Uuid::nil(),
            slug: "a".into(),
            sku: "a".into(),
            title: title.into(),
            description: description.into(),
            brand: Some("Acne".into()),
            size: Some("EU 42".into()),
            colour: Some("black".into()),
            material: Some("leather".into()),
            condition: None,
            era: None,
            attributes: serde_json::json!({ "heel": "block" }),
            price_minor: 1,
            currency: "EUR".into(),
            stock: 1,
            status: entity::ProductStatus::Active,
            created_at: now,
            updated_at: now,
            cost_minor: None,
            internal_notes: "never embedded".into(),
            one_of_a_kind: false,
            sold_price_minor: None,
            held_by_cart: None,
            held_until: None,
            held_from: None,
        }
    }

    #[test]
    fn the_embedded_text_says_what_the_product_is_without_filler() {
        let text = document(&product("Chelsea boots", "Pull-on boots."), "Boots");
        assert_eq!(text, "Chelsea boots. Acne. black, leather, block. Pull-on boots.");
        let text = document(&product("Chelsea", "Pull-on boots."), "Boots");
        assert_eq!(
            text, "Chelsea. Acne. Boots. black, leather, block. Pull-on boots.",
            "the category when the title lacks it"
        );
    }

    #[test]
    fn only_the_start_of_a_long_description_is_embedded() {
        let long = format!("A sturdy boot for wet days. {}", "It has a story. ".repeat(40));
        let start = start_of(&long, DESCRIPTION_START);
        assert!(start.starts_with("A sturdy boot for wet days."));
        assert!(start.ends_with('.') && start.chars().count() <= DESCRIPTION_START);
        let words = "word ".repeat(100);
        let start = start_of(&words, 50);
        assert!(start.chars().count() <= 50 && start.ends_with("word"), "cut between words: {start:?}");
        assert_eq!(start_of("  short  ", 50), "short");
    }
}
