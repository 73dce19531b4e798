//! The `VectorIndex` port, the payload and filter every adapter understands, and the embedded
//! adapter: an exact in-memory index over unit vectors.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::{Arc, RwLock};

use anyhow::{Context, bail};
use async_trait::async_trait;
use entity::product;
use sea_orm::{ActiveEnum, IdenStatic};
use uuid::Uuid;

use crate::catalog::filter::ProductCriteria;

/// What a vector search may filter on, stored beside each vector.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Payload {
    /// The product's category and all its ancestors.
    pub categories: Vec<Uuid>,
    /// The product's vendor.
    pub vendor: Uuid,
    /// ISO currency of the price.
    pub currency: String,
    /// Price in minor units.
    pub price_minor: i64,
    /// ACTIVE with stock.
    pub buyable: bool,
    /// Exact-match fields: `status`, `brand`, `size`, `colour`, `material`, `era`, `condition`,
    /// and `attr.<name>` for free-form attributes.
    pub fields: BTreeMap<String, String>,
}

impl Payload {
    /// The payload of a product whose category has the materialised `category_path`.
    pub fn of(product: &product::Model, category_path: &str) -> Self {
        let mut fields = BTreeMap::new();
        fields.insert("status".to_owned(), product.status.to_value());
        for (key, value) in [
            ("brand", &product.brand),
            ("size", &product.size),
            ("colour", &product.colour),
            ("material", &product.material),
            ("era", &product.era),
        ] {
            if let Some(value) = value {
                fields.insert(key.to_owned(), value.clone());
            }
        }
        if let Some(condition) = &product.condition {
            fields.insert("condition".to_owned(), condition.to_value());
        }
        if let Some(attributes) = product.attributes.as_object() {
            for (name, value) in attributes {
                if let Some(value) = value.as_str() {
                    fields.insert(format!("attr.{name}"), value.to_owned());
                }
            }
        }
        Self {
            categories: category_path.split('/').filter_map(|id| Uuid::parse_str(id).ok()).collect(),
            vendor: product.vendor_id,
            currency: product.currency.clone(),
            price_minor: product.price_minor,
            buyable: product.status == entity::ProductStatus::Active && product.stock > 0,
            fields,
        }
    }
}

/// A product filter in terms of the payload. Conditions combine with AND, values of one
/// condition with OR.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VectorFilter {
    /// In this category or below.
    pub category: Option<Uuid>,
    /// Any of these vendors (empty: any).
    pub vendors: Vec<Uuid>,
    /// Currency and inclusive bounds in minor units.
    pub price: Option<(String, Option<i64>, Option<i64>)>,
    /// Buyable now, or not.
    pub buyable: Option<bool>,
    /// Field name and accepted values.
    pub any_of: Vec<(String, Vec<String>)>,
}

impl VectorFilter {
    /// The payload filter equivalent to a catalog filter.
    pub fn from_criteria(criteria: &ProductCriteria) -> Self {
        let mut any_of = vec![("status".to_owned(), criteria.statuses.iter().map(ActiveEnum::to_value).collect())];
        for (column, values) in &criteria.columns {
            // The payload keys of the filterable columns are the columns' own names.
            any_of.push((column.as_str().to_owned(), values.clone()));
        }
        if !criteria.conditions.is_empty() {
            any_of.push(("condition".to_owned(), criteria.conditions.iter().map(ActiveEnum::to_value).collect()));
        }
        for (name, values) in &criteria.attributes {
            any_of.push((format!("attr.{name}"), values.clone()));
        }
        Self {
            category: criteria.category,
            vendors: criteria.vendors.clone(),
            price: criteria.price.as_ref().map(|(currency, min, max)| (currency.code().to_owned(), *min, *max)),
            buyable: criteria.available,
            any_of,
        }
    }

    /// Whether a payload passes.
    pub fn matches(&self, payload: &Payload) -> bool {
        self.category.is_none_or(|c| payload.categories.contains(&c))
            && (self.vendors.is_empty() || self.vendors.contains(&payload.vendor))
            && self.price.as_ref().is_none_or(|(currency, min, max)| {
                payload.currency == *currency
                    && min.is_none_or(|min| payload.price_minor >= min)
                    && max.is_none_or(|max| payload.price_minor <= max)
            })
            && self.buyable.is_none_or(|b| payload.buyable == b)
            && self.any_of.iter().all(|(field, values)| payload.fields.get(field).is_some_and(|v| values.contains(v)))
    }
}

/// A vector with its product and payload.
#[derive(Clone, Debug)]
pub struct VectorPoint {
    /// The product.
    pub id: Uuid,
    /// Unit vector.
    pub vector: Vec<f32>,
    /// Filter fields.
    pub payload: Payload,
}

/// Nearest-neighbour search over product vectors.
#[async_trait]
pub trait VectorIndex: Send + Sync {
    /// Names the adapter in logs and responses.
    fn name(&self) -> &'static str;

    /// Whether the index keeps vectors itself across restarts (a server); the embedded index is
    /// refilled from the relational store at start instead.
    fn keeps_vectors(&self) -> bool;

    /// Prepares the index for vectors of `dimensions` (creating a collection, say).
    ///
    /// # Errors
    /// When the backing service fails or holds vectors of another length.
    async fn prepare(&self, dimensions: usize) -> anyhow::Result<()>;

    /// Inserts or replaces points.
    ///
    /// # Errors
    /// When the backing service fails or a vector has the wrong length.
    async fn upsert(&self, points: Vec<VectorPoint>) -> anyhow::Result<()>;

    /// Removes points; unknown ids are ignored.
    ///
    /// # Errors
    /// When the backing service fails.
    async fn remove(&self, ids: &[Uuid]) -> anyhow::Result<()>;

    /// Up to `limit` nearest points passing `filter`, by descending cosine similarity.
    ///
    /// # Errors
    /// When the backing service fails.
    async fn search(&self, vector: &[f32], limit: usize, filter: &VectorFilter) -> anyhow::Result<Vec<(Uuid, f32)>>;

    /// How many points the index holds.
    ///
    /// # Errors
    /// When the backing service fails.
    async fn count(&self) -> anyhow::Result<u64>;
}

/// The embedded index: every vector in one contiguous array, searched exactly. Its contents
/// are persisted in the relational store (`product_embeddings`) and loaded at start, so it
/// suits one replica; several replicas share a Qdrant instead.
#[derive(Clone, Default)]
pub struct MemoryIndex {
    inner: Arc<RwLock<Slots>>,
}

#[derive(Default)]
struct Slots {
    dimensions: usize,
    positions: HashMap<Uuid, usize>,
    ids: Vec<Uuid>,
    payloads: Vec<Payload>,
    vectors: Vec<f32>,
}

impl Slots {
    fn vector(&self, position: usize) -> &[f32] {
        &self.vectors[position * self.dimensions..(position + 1) * self.dimensions]
    }

    fn remove(&mut self, id: Uuid) {
        let Some(position) = self.positions.remove(&id) else { return };
        let last = self.ids.len() - 1;
        if position != last {
            let moved = self.ids[last];
            self.ids.swap(position, last);
            self.payloads.swap(position, last);
            let (head, tail) = self.vectors.split_at_mut(last * self.dimensions);
            head[position * self.dimensions..(position + 1) * self.dimensions].copy_from_slice(tail);
            self.positions.insert(moved, position);
        }
        self.ids.pop();
        self.payloads.pop();
        self.vectors.truncate(last * self.dimensions);
    }
}

/// The dot product of two vectors of equal length (their cosine similarity when both are unit
/// vectors), in eight independent lanes so the compiler can use SIMD: a floating-point sum in
/// one accumulator has to be computed in order and cannot.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (chunks_a, chunks_b) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = chunks_a.remainder().iter().zip(chunks_b.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in chunks_a.zip(chunks_b) {
        for ((lane, x), y) in lanes.iter_mut().zip(x).zip(y) {
            *lane += x * y;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// A candidate in the top-k heap, ordered so the heap's top is the worst kept candidate.
struct Candidate(f32, usize);

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0)
    }
}

impl MemoryIndex {
    fn read(&self) -> anyhow::Result<std::sync::RwLockReadGuard<'_, Slots>> {
        self.inner.read().map_err(|_| anyhow::anyhow!("the vector index lock is poisoned"))
    }

    fn write(&self) -> anyhow::Result<std::sync::RwLockWriteGuard<'_, Slots>> {
        self.inner.write().map_err(|_| anyhow::anyhow!("the vector index lock is poisoned"))
    }
}

#[async_trait]
impl VectorIndex for MemoryIndex {
    fn name(&self) -> &'static str {
        "embedded"
    }

    fn keeps_vectors(&self) -> bool {
        false
    }

    async fn prepare(&self, dimensions: usize) -> anyhow::Result<()> {
        let mut slots = self.write()?;
        if slots.dimensions != dimensions {
            *slots = Slots { dimensions, ..Slots::default() };
        }
        Ok(())
    }

    async fn upsert(&self, points: Vec<VectorPoint>) -> anyhow::Result<()> {
        let mut slots = self.write()?;
        for point in points {
            if point.vector.len() != slots.dimensions {
                bail!("a vector of {} dimensions cannot join an index of {}", point.vector.len(), slots.dimensions);
            }
            slots.remove(point.id);
            let position = slots.ids.len();
            slots.positions.insert(point.id, position);
            slots.ids.push(point.id);
            slots.payloads.push(point.payload);
            slots.vectors.extend_from_slice(&point.vector);
        }
        Ok(())
    }

    async fn remove(&self, ids: &[Uuid]) -> anyhow::Result<()> {
        let mut slots = self.write()?;
        ids.iter().for_each(|id| slots.remove(*id));
        Ok(())
    }

    async fn search(&self, vector: &[f32], limit: usize, filter: &VectorFilter) -> anyhow::Result<Vec<(Uuid, f32)>> {
        let (index, query, filter) = (self.clone(), vector.to_vec(), filter.clone());
        tokio::task::spawn_blocking(move || {
            let slots = index.read()?;
            if query.len() != slots.dimensions {
                bail!("a query of {} dimensions cannot search an index of {}", query.len(), slots.dimensions);
            }
            let mut best = BinaryHeap::with_capacity(limit + 1);
            for (position, payload) in slots.payloads.iter().enumerate() {
                if !filter.matches(payload) {
                    continue;
                }
                let score = dot(slots.vector(position), &query);
                if best.len() < limit {
                    best.push(Candidate(score, position));
                } else if best.peek().is_some_and(|worst: &Candidate| score > worst.0) {
                    best.pop();
                    best.push(Candidate(score, position));
                }
            }
            let mut hits: Vec<(Uuid, f32)> =
                best.into_iter().map(|Candidate(score, position)| (slots.ids[position], score)).collect();
            hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            Ok(hits)
        })
        .await
        .context("the vector search task failed")?
    }

    async fn count(&self) -> anyhow::Result<u64> {
        Ok(self.read()?.ids.len() as u64)
    }
}
