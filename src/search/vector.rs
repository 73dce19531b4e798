//! The `VectorIndex` port, the payload and filter every adapter understands, and the embedded
//! adapter: an HNSW graph over int8 codes rescored exactly, or an exact scan.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use async_trait::async_trait;
use entity::product;
use sea_orm::{ActiveEnum, IdenStatic};
use uuid::Uuid;

use super::hnsw::{Code, Graph, Walk, best_of};
use super::indexer::{from_bytes, to_bytes};
use crate::catalog::filter::ProductCriteria;
use crate::config::EmbeddedMethod;

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

/// The embedded index, for one replica; several replicas share a Qdrant instead. Its contents
/// are persisted in the relational store (`product_embeddings`) and loaded at start.
///
/// With [`EmbeddedMethod::Hnsw`] (the default) it keeps int8 codes and an HNSW graph in memory
/// and the exact f32 vectors in an unlinked temporary file (the page cache holds them, outside
/// the process's own memory); a search walks the graph, filtering as it goes, and rescores the
/// candidates exactly. Vectors added since the last link are scanned exactly until a background
/// task has linked them, so a search never misses a fresh product and the index serves while it
/// is being built at start. A filter too narrow for the walk falls back to an exact scan.
/// With [`EmbeddedMethod::Exact`] every vector is in memory and every search compares them all:
/// the oracle for the graph, and fine for small catalogs.
#[derive(Clone)]
pub struct MemoryIndex {
    inner: Arc<RwLock<Slots>>,
    /// Whether a task is linking new vectors into the graph.
    linking: Arc<AtomicBool>,
}

impl Default for MemoryIndex {
    fn default() -> Self {
        Self::new(EmbeddedMethod::default())
    }
}

/// The exact vectors, by slot.
enum Originals {
    Memory(Vec<f32>),
    File(std::fs::File),
}

impl Originals {
    fn new(method: EmbeddedMethod) -> Self {
        match method {
            EmbeddedMethod::Exact => Self::Memory(Vec::new()),
            EmbeddedMethod::Hnsw => match tempfile::tempfile() {
                Ok(file) => Self::File(file),
                Err(error) => {
                    tracing::warn!(%error, "no temporary file for exact vectors: they are kept in memory");
                    Self::Memory(Vec::new())
                }
            },
        }
    }

    fn write(&mut self, slot: usize, vector: &[f32]) -> anyhow::Result<()> {
        match self {
            Self::Memory(all) => all.extend_from_slice(vector),
            Self::File(file) => {
                let bytes = to_bytes(vector);
                file.write_all_at(&bytes, (slot * bytes.len()) as u64).context("cannot write a vector to its file")?;
            }
        }
        Ok(())
    }

    fn read(&self, slot: usize, dimensions: usize, out: &mut Vec<f32>) -> anyhow::Result<()> {
        out.clear();
        match self {
            Self::Memory(all) => out.extend_from_slice(&all[slot * dimensions..(slot + 1) * dimensions]),
            Self::File(file) => {
                let mut bytes = vec![0u8; dimensions * 4];
                file.read_exact_at(&mut bytes, (slot * dimensions * 4) as u64)
                    .context("cannot read a vector from its file")?;
                *out = from_bytes(&bytes);
            }
        }
        Ok(())
    }
}

/// Interned strings: each distinct field name and value of the payloads is kept once.
#[derive(Clone, Default)]
struct Symbols {
    ids: HashMap<String, u32>,
}

impl Symbols {
    fn intern(&mut self, text: &str) -> u32 {
        if let Some(id) = self.ids.get(text) {
            return *id;
        }
        let id = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
        self.ids.insert(text.to_owned(), id);
        id
    }

    fn get(&self, text: &str) -> Option<u32> {
        self.ids.get(text).copied()
    }
}

/// A [`Payload`] in about a tenth of its memory: strings as [`Symbols`].
#[derive(Clone)]
struct CompactPayload {
    categories: Box<[Uuid]>,
    vendor: Uuid,
    currency: u32,
    price_minor: i64,
    buyable: bool,
    /// (field, value), sorted by field.
    fields: Box<[(u32, u32)]>,
}

impl CompactPayload {
    fn of(payload: Payload, symbols: &mut Symbols) -> Self {
        let mut fields: Vec<(u32, u32)> =
            payload.fields.iter().map(|(field, value)| (symbols.intern(field), symbols.intern(value))).collect();
        fields.sort_unstable();
        Self {
            categories: payload.categories.into_boxed_slice(),
            vendor: payload.vendor,
            currency: symbols.intern(&payload.currency),
            price_minor: payload.price_minor,
            buyable: payload.buyable,
            fields: fields.into_boxed_slice(),
        }
    }

    fn field(&self, field: u32) -> Option<u32> {
        self.fields.binary_search_by_key(&field, |(f, _)| *f).ok().map(|i| self.fields[i].1)
    }
}

/// A [`VectorFilter`] in terms of [`Symbols`]: a field or value no payload holds becomes a
/// condition nothing passes.
struct CompactFilter<'a> {
    filter: &'a VectorFilter,
    /// The currency's symbol; `Some(None)` when no payload has that currency.
    currency: Option<Option<u32>>,
    /// For each condition: the field's symbol and the accepted values' symbols.
    any_of: Vec<(Option<u32>, Vec<u32>)>,
}

impl<'a> CompactFilter<'a> {
    fn new(filter: &'a VectorFilter, symbols: &Symbols) -> Self {
        Self {
            filter,
            currency: filter.price.as_ref().map(|(currency, _, _)| symbols.get(currency)),
            any_of: filter
                .any_of
                .iter()
                .map(|(field, values)| (symbols.get(field), values.iter().filter_map(|v| symbols.get(v)).collect()))
                .collect(),
        }
    }

    fn matches(&self, payload: &CompactPayload) -> bool {
        let filter = self.filter;
        filter.category.is_none_or(|c| payload.categories.contains(&c))
            && (filter.vendors.is_empty() || filter.vendors.contains(&payload.vendor))
            && self.currency.is_none_or(|currency| currency == Some(payload.currency))
            && filter.price.as_ref().is_none_or(|(_, min, max)| {
                min.is_none_or(|min| payload.price_minor >= min) && max.is_none_or(|max| payload.price_minor <= max)
            })
            && filter.buyable.is_none_or(|b| payload.buyable == b)
            && self.any_of.iter().all(|(field, values)| {
                field.and_then(|field| payload.field(field)).is_some_and(|value| values.contains(&value))
            })
    }
}

/// Points by slot. A replaced or removed point's slot is only marked dead (the graph still
/// walks through it); the slots are compacted when the dead outnumber the living.
struct Slots {
    dimensions: usize,
    method: EmbeddedMethod,
    positions: HashMap<Uuid, u32>,
    ids: Vec<Uuid>,
    payloads: Vec<CompactPayload>,
    symbols: Symbols,
    alive: Vec<bool>,
    dead: usize,
    originals: Originals,
    /// Codes and links, with [`EmbeddedMethod::Hnsw`]: one node per distinct vector, since
    /// products with the same text share one (and a graph of identical nodes falls apart into
    /// cliques).
    graph: Option<Graph>,
    /// Graph nodes below this are linked; the rest are scanned.
    linked: usize,
    /// The slots of each graph node.
    members: Vec<Vec<u32>>,
    /// Graph nodes by a hash of their vector's bits.
    by_vector: HashMap<u64, u32>,
}

/// Dead slots tolerated before compaction, at least.
const COMPACT_AFTER: usize = 1_024;

impl Slots {
    fn new(dimensions: usize, method: EmbeddedMethod) -> Self {
        Self {
            dimensions,
            method,
            positions: HashMap::new(),
            ids: Vec::new(),
            payloads: Vec::new(),
            symbols: Symbols::default(),
            alive: Vec::new(),
            dead: 0,
            originals: Originals::new(method),
            graph: (method == EmbeddedMethod::Hnsw).then(|| Graph::new(dimensions)),
            linked: 0,
            members: Vec::new(),
            by_vector: HashMap::new(),
        }
    }

    fn len(&self) -> usize {
        self.ids.len()
    }

    fn remove(&mut self, id: Uuid) {
        if let Some(slot) = self.positions.remove(&id) {
            self.alive[slot as usize] = false;
            self.dead += 1;
        }
    }

    fn insert(&mut self, id: Uuid, vector: &[f32], payload: CompactPayload) -> anyhow::Result<()> {
        let slot = self.len();
        let slot_number = u32::try_from(slot).context("the vector index is full")?;
        self.originals.write(slot, vector)?;
        if let Some(graph) = &mut self.graph {
            let key = {
                use std::hash::{Hash, Hasher};
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                vector.iter().for_each(|x| x.to_bits().hash(&mut hasher));
                hasher.finish()
            };
            match self.by_vector.get(&key).copied().filter(|&node| graph.holds(node, vector)) {
                Some(node) => self.members[node as usize].push(slot_number),
                None => {
                    let node = graph.push(vector);
                    self.members.push(vec![slot_number]);
                    self.by_vector.insert(key, node);
                }
            }
        }
        self.remove(id);
        self.positions.insert(id, slot_number);
        self.ids.push(id);
        self.payloads.push(payload);
        self.alive.push(true);
        Ok(())
    }

    /// Drops dead slots once they outnumber the living; the graph is then linked anew.
    fn compact(&mut self) -> anyhow::Result<()> {
        if self.dead < COMPACT_AFTER.max(self.positions.len()) {
            return Ok(());
        }
        let mut fresh = Self::new(self.dimensions, self.method);
        fresh.symbols = self.symbols.clone();
        let mut vector = Vec::with_capacity(self.dimensions);
        for slot in (0..self.len()).filter(|&slot| self.alive[slot]) {
            self.originals.read(slot, self.dimensions, &mut vector)?;
            fresh.insert(self.ids[slot], &vector, self.payloads[slot].clone())?;
        }
        *self = fresh;
        Ok(())
    }

    /// Links pending slots into the graph for about `budget`; returns whether any remain.
    fn link_some(&mut self, budget: Duration) -> bool {
        let Some(graph) = &mut self.graph else { return false };
        let started = Instant::now();
        while self.linked < graph.len() && started.elapsed() < budget {
            graph.link(u32::try_from(self.linked).unwrap_or(u32::MAX));
            self.linked += 1;
        }
        self.linked < graph.len()
    }

    fn search(&self, query: &[f32], limit: usize, filter: &VectorFilter) -> anyhow::Result<Vec<(Uuid, f32)>> {
        if query.len() != self.dimensions {
            bail!("a query of {} dimensions cannot search an index of {}", query.len(), self.dimensions);
        }
        let filter = CompactFilter::new(filter, &self.symbols);
        let accept = |slot: u32| self.alive[slot as usize] && filter.matches(&self.payloads[slot as usize]);
        let candidates: Vec<(u32, f32)> = match &self.graph {
            None => {
                let mut vector = Vec::with_capacity(self.dimensions);
                let mut scored = Vec::new();
                for slot in 0..self.len() {
                    if accept(slot as u32) {
                        self.originals.read(slot, self.dimensions, &mut vector)?;
                        scored.push((slot as u32, dot(&vector, query)));
                    }
                }
                return Ok(self.best(scored, limit));
            }
            Some(graph) => {
                let code = Code::of(query);
                let ef = (limit + limit / 2).max(64);
                let accept_node = |node: u32| self.members[node as usize].iter().any(|&slot| accept(slot));
                let walked = match graph.search(&code, ef, &accept_node, (self.linked / 8).max(ef * 8)) {
                    Walk::Found(found) => found,
                    Walk::GaveUp => scan(graph, &code, 0..self.linked, ef, &accept_node),
                };
                let pending = scan(graph, &code, self.linked..graph.len(), ef, &accept_node);
                walked.into_iter().chain(pending).collect()
            }
        };
        // Rescored with the exact vector, read once per node, then the nodes' slots taken from
        // the best node down until `limit` pass: all the slots of a node share its similarity.
        let mut vector = Vec::with_capacity(self.dimensions);
        let mut nodes = Vec::with_capacity(candidates.len());
        for (node, _) in candidates {
            self.originals.read(self.members[node as usize][0] as usize, self.dimensions, &mut vector)?;
            nodes.push((node, dot(&vector, query)));
        }
        nodes.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut rescored = Vec::with_capacity(limit);
        for (node, similarity) in nodes {
            let room = limit - rescored.len();
            if room == 0 {
                break;
            }
            let passing = self.members[node as usize].iter().filter(|&&slot| accept(slot)).take(room);
            rescored.extend(passing.map(|&slot| (slot, similarity)));
        }
        Ok(self.best(rescored, limit))
    }

    /// The `limit` best of scored slots, as product ids by descending similarity.
    fn best(&self, scored: Vec<(u32, f32)>, limit: usize) -> Vec<(Uuid, f32)> {
        let mut hits: Vec<(Uuid, f32)> =
            best_of(scored, limit).into_iter().map(|(slot, score)| (self.ids[slot as usize], score)).collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        hits
    }
}

/// The `limit` accepted slots of `range` nearest to `query` by approximate similarity.
fn scan(
    graph: &Graph,
    query: &Code,
    range: Range<usize>,
    limit: usize,
    accept: &dyn Fn(u32) -> bool,
) -> Vec<(u32, f32)> {
    let accepted = range.map(|slot| slot as u32).filter(|&slot| accept(slot));
    best_of(accepted.map(|slot| (slot, graph.similarity(query, slot))), limit)
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

/// How long the linking task holds the index before letting searches in.
const LINK_SLICE: Duration = Duration::from_millis(4);

impl MemoryIndex {
    /// An empty index searched by `method`.
    pub fn new(method: EmbeddedMethod) -> Self {
        Self { inner: Arc::new(RwLock::new(Slots::new(0, method))), linking: Arc::default() }
    }

    fn read(&self) -> anyhow::Result<std::sync::RwLockReadGuard<'_, Slots>> {
        self.inner.read().map_err(|_| anyhow::anyhow!("the vector index lock is poisoned"))
    }

    fn write(&self) -> anyhow::Result<std::sync::RwLockWriteGuard<'_, Slots>> {
        self.inner.write().map_err(|_| anyhow::anyhow!("the vector index lock is poisoned"))
    }

    /// How many points wait to be linked into the graph (always 0 for the exact method).
    ///
    /// # Errors
    /// When the lock is poisoned.
    pub fn pending(&self) -> anyhow::Result<usize> {
        let slots = self.read()?;
        Ok(slots.graph.as_ref().map_or(0, |graph| graph.len() - slots.linked))
    }

    /// Bytes of the graph's codes and links (0 for the exact method).
    ///
    /// # Errors
    /// When the lock is poisoned.
    pub fn graph_bytes(&self) -> anyhow::Result<usize> {
        Ok(self.read()?.graph.as_ref().map_or(0, Graph::bytes))
    }

    /// Up to `count` living vectors, every `step`-th slot: queries for recall measurements.
    ///
    /// # Errors
    /// When the lock is poisoned or a vector cannot be read.
    pub fn sample(&self, step: usize, count: usize) -> anyhow::Result<Vec<Vec<f32>>> {
        let slots = self.read()?;
        let mut sampled = Vec::with_capacity(count);
        for slot in (0..slots.len()).step_by(step.max(1)).filter(|&slot| slots.alive[slot]).take(count) {
            let mut vector = Vec::new();
            slots.originals.read(slot, slots.dimensions, &mut vector)?;
            sampled.push(vector);
        }
        Ok(sampled)
    }

    /// Links every pending point now, on this thread.
    ///
    /// # Errors
    /// When the lock is poisoned.
    pub fn link_all(&self) -> anyhow::Result<()> {
        while self.write()?.link_some(LINK_SLICE) {}
        Ok(())
    }

    /// Starts the linking task unless one runs. It links in short slices, so searches wait at
    /// most one slice, and stops when nothing is pending.
    fn link_in_background(&self) {
        if self.linking.swap(true, AtomicOrdering::AcqRel) {
            return;
        }
        let index = self.clone();
        tokio::task::spawn_blocking(move || {
            loop {
                let Ok(mut slots) = index.write() else { break };
                if !slots.link_some(LINK_SLICE) {
                    // Cleared under the lock: an upsert that adds work after this sees the flag down.
                    index.linking.store(false, AtomicOrdering::Release);
                    return;
                }
                drop(slots);
                std::thread::yield_now();
            }
            index.linking.store(false, AtomicOrdering::Release);
        });
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
            *slots = Slots::new(dimensions, slots.method);
        }
        Ok(())
    }

    async fn upsert(&self, points: Vec<VectorPoint>) -> anyhow::Result<()> {
        {
            let mut slots = self.write()?;
            for point in points {
                if point.vector.len() != slots.dimensions {
                    bail!("a vector of {} dimensions cannot join an index of {}", point.vector.len(), slots.dimensions);
                }
                let payload = CompactPayload::of(point.payload, &mut slots.symbols);
                slots.insert(point.id, &point.vector, payload)?;
            }
            slots.compact()?;
        }
        self.link_in_background();
        Ok(())
    }

    async fn remove(&self, ids: &[Uuid]) -> anyhow::Result<()> {
        {
            let mut slots = self.write()?;
            ids.iter().for_each(|id| slots.remove(*id));
            slots.compact()?;
        }
        self.link_in_background();
        Ok(())
    }

    async fn search(&self, vector: &[f32], limit: usize, filter: &VectorFilter) -> anyhow::Result<Vec<(Uuid, f32)>> {
        let (index, query, filter) = (self.clone(), vector.to_vec(), filter.clone());
        tokio::task::spawn_blocking(move || index.read()?.search(&query, limit, &filter))
            .await
            .context("the vector search task failed")?
    }

    async fn count(&self) -> anyhow::Result<u64> {
        Ok(self.read()?.positions.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compact_filter_passes_exactly_what_the_filter_passes() {
        let (coats, vendor) = (Uuid::now_v7(), Uuid::now_v7());
        let payload = |brand: &str, currency: &str, price: i64| {
            let mut fields = BTreeMap::new();
            fields.insert("status".to_owned(), "ACTIVE".to_owned());
            fields.insert("brand".to_owned(), brand.to_owned());
            fields.insert("attr.made_in".to_owned(), "Italy".to_owned());
            Payload {
                categories: vec![Uuid::nil(), coats],
                vendor,
                currency: currency.to_owned(),
                price_minor: price,
                buyable: price < 500,
                fields,
            }
        };
        let payloads = [payload("Dior", "EUR", 100), payload("Celine", "EUR", 900), payload("Dior", "USD", 300)];
        let any = |field: &str, values: &[&str]| (field.to_owned(), values.iter().map(|v| (*v).to_owned()).collect());
        let filters = [
            VectorFilter::default(),
            VectorFilter { category: Some(coats), ..VectorFilter::default() },
            VectorFilter { category: Some(vendor), ..VectorFilter::default() },
            VectorFilter { vendors: vec![vendor], ..VectorFilter::default() },
            VectorFilter { price: Some(("EUR".into(), Some(50), Some(500))), ..VectorFilter::default() },
            VectorFilter { price: Some(("GBP".into(), None, None)), ..VectorFilter::default() },
            VectorFilter { buyable: Some(false), ..VectorFilter::default() },
            VectorFilter { any_of: vec![any("brand", &["Dior", "Gucci"])], ..VectorFilter::default() },
            VectorFilter { any_of: vec![any("brand", &["Gucci"])], ..VectorFilter::default() },
            VectorFilter { any_of: vec![any("era", &["1990s"])], ..VectorFilter::default() },
            VectorFilter {
                any_of: vec![any("attr.made_in", &["Italy"]), any("status", &["ACTIVE"])],
                ..VectorFilter::default()
            },
        ];
        let mut symbols = Symbols::default();
        let compact: Vec<CompactPayload> =
            payloads.iter().map(|p| CompactPayload::of(p.clone(), &mut symbols)).collect();
        for filter in &filters {
            let fast = CompactFilter::new(filter, &symbols);
            for (payload, small) in payloads.iter().zip(&compact) {
                assert_eq!(fast.matches(small), filter.matches(payload), "{filter:?} on {payload:?}");
            }
        }
    }
}
