//! Hybrid product search: full-text and vector candidates, each filtered by the catalog filter
//! in its own store, merged by weighted reciprocal rank fusion.
//!
//! Ports: [`embedder::Embedder`] (the in-process model or an HTTP provider) and
//! [`vector::VectorIndex`] (the embedded exact index or Qdrant). The lexical side is SQL in the
//! relational store ([`lexical`]). [`indexer`] keeps vectors in step with the catalog through an
//! outbox filled by database triggers; [`analytics`] records every search. See docs/SEARCH.md.

pub mod analytics;
pub mod batcher;
pub mod bm25;
pub mod embedder;
pub mod eval;
pub mod facets;
pub mod few_rows;
pub mod graphql;
pub mod hnsw;
pub mod indexer;
pub mod lexical;
pub mod minilm;
pub mod moderation;
pub mod qdrant;
pub mod query;
pub mod recall;
pub mod recent;
pub mod service;
pub mod types;
pub mod vector;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Context;

use crate::config::{EmbedderSettings, SearchSettings, VectorIndexSettings};
use analytics::Analytics;
use embedder::Embedder;
use vector::{MemoryIndex, VectorIndex};

/// The embedder and the vector index of a search with a vector side.
pub type VectorSide<'a> = (&'a Arc<dyn Embedder>, &'a Arc<dyn VectorIndex>);

/// Search's configuration and adapters, shared by requests, the sync worker and the CLI.
#[derive(Clone)]
pub struct Search {
    embedder: Option<Arc<dyn Embedder>>,
    index: Option<Arc<dyn VectorIndex>>,
    /// Fusion weights, limits and timeouts.
    pub settings: Arc<SearchSettings>,
    /// Where searches are recorded.
    pub analytics: Analytics,
    /// Vectors of recent queries: shoppers repeat queries, and the model is the costliest step.
    query_vectors: Arc<Mutex<HashMap<String, Arc<Vec<f32>>>>>,
    /// First-seen queries arriving together, embedded in one model run.
    batcher: batcher::QueryBatcher,
    /// The key visitors' pseudonyms are made with.
    visitor_key: Arc<Vec<u8>>,
    /// Whether the vector index is being refilled from the stored vectors.
    refilling: Arc<std::sync::atomic::AtomicBool>,
    /// The corpus figures PostgreSQL's full-text side ranks with (BM25).
    pub corpus: Arc<bm25::CorpusStats>,
    /// Full-text answers of recent queries, served again while the catalog is unchanged.
    pub recent: Arc<recent::RecentAnswers>,
}

/// Most query vectors kept (about 1.5 KiB each); the cache is emptied when full.
const QUERY_CACHE: usize = 10_000;

impl Search {
    /// Builds the configured adapters. A `local` embedder whose model files are missing leaves
    /// search lexical-only (with a warning) rather than stopping the service.
    ///
    /// # Errors
    /// When an adapter is misconfigured (unknown name, HTTP embedder without URL, bad Qdrant URL).
    pub fn from_settings(settings: &SearchSettings, analytics: Analytics) -> anyhow::Result<Self> {
        let embedder = match embedder::from_settings(&settings.embedder, settings.timeout_ms) {
            Ok(embedder) => embedder,
            Err(error) if matches!(settings.embedder, EmbedderSettings::Local { .. }) => {
                tracing::warn!(error = format!("{error:#}"), "the embedding model is unavailable");
                None
            }
            Err(error) => return Err(error),
        };
        let index: Option<Arc<dyn VectorIndex>> = match (&embedder, &settings.vector_index) {
            (None, _) => None,
            (Some(_), VectorIndexSettings::Embedded { method }) => Some(Arc::new(MemoryIndex::new(*method))),
            (Some(_), VectorIndexSettings::Qdrant { url, collection, api_key }) => {
                let timeout = std::time::Duration::from_millis(settings.timeout_ms.max(1) * 4);
                Some(Arc::new(qdrant::QdrantIndex::connect(url, collection, api_key.as_ref(), timeout)?))
            }
        };
        let search = Self::new(settings.clone(), embedder, index, analytics);
        match search.vector_side() {
            Some((embedder, index)) => tracing::info!(
                embedder = embedder.model(),
                vector_index = index.name(),
                "hybrid search: full-text plus vectors"
            ),
            None => tracing::warn!("search runs lexical only: no embedding model or provider is configured"),
        }
        Ok(search)
    }

    /// Search over explicit adapters.
    pub fn new(
        settings: SearchSettings,
        embedder: Option<Arc<dyn Embedder>>,
        index: Option<Arc<dyn VectorIndex>>,
        analytics: Analytics,
    ) -> Self {
        let visitor_key = match settings.visitor_key.expose() {
            "" => crate::identity::tokens::opaque_token("visitor_").into_bytes(),
            key => key.as_bytes().to_vec(),
        };
        let recent = recent::RecentAnswers::new(std::time::Duration::from_secs(settings.lexical_cache_seconds));
        Self {
            embedder,
            index,
            recent: Arc::new(recent),
            settings: Arc::new(settings),
            analytics,
            query_vectors: Arc::default(),
            batcher: batcher::QueryBatcher::default(),
            refilling: Arc::default(),
            corpus: Arc::default(),
            visitor_key: Arc::new(visitor_key),
        }
    }

    /// The key visitors' pseudonyms are made with (`search.visitor_key`, or a random one for
    /// this process).
    pub fn visitor_key(&self) -> &[u8] {
        &self.visitor_key
    }

    /// The vector of a query text, from the cache or the embedder (batched with other texts
    /// arriving at the same moment, see [`batcher`]), and the milliseconds spent waiting for it
    /// (none when it came from the cache).
    ///
    /// # Errors
    /// When there is no embedder or it fails.
    pub async fn query_vector(&self, text: &str) -> anyhow::Result<(Arc<Vec<f32>>, Option<f64>)> {
        let cached = self.query_vectors.lock().ok().and_then(|cache| cache.get(text).cloned());
        if let Some(vector) = cached {
            return Ok((vector, None));
        }
        let embedder = self.embedder.as_ref().context("no embedder is configured")?;
        let started = std::time::Instant::now();
        let vector = self.batcher.embed(embedder, text).await?;
        let spent = started.elapsed().as_secs_f64() * 1_000.0;
        if let Ok(mut cache) = self.query_vectors.lock() {
            if cache.len() >= QUERY_CACHE {
                cache.clear();
            }
            cache.insert(text.to_owned(), vector.clone());
        }
        Ok((vector, Some(spent)))
    }

    /// Runs a call to the embedder or the vector index within `search.timeout_ms`, as each side
    /// of a search is: a hanging index fails the caller with `SERVICE_UNAVAILABLE` in that time
    /// rather than after the client's own, longer timeout and retry.
    ///
    /// # Errors
    /// `SERVICE_UNAVAILABLE` on timeout, `INTERNAL` when the call fails.
    pub async fn within<T>(
        &self,
        what: &str,
        call: impl std::future::Future<Output = anyhow::Result<T>>,
    ) -> crate::error::AppResult<T> {
        let timeout = std::time::Duration::from_millis(self.settings.timeout_ms.max(1));
        match tokio::time::timeout(timeout, call).await {
            Ok(result) => result.map_err(crate::error::AppError::internal),
            Err(_) => Err(crate::error::AppError::new(
                crate::error::ErrorCode::ServiceUnavailable,
                format!("the {what} did not answer within {} ms", timeout.as_millis()),
            )),
        }
    }

    /// Whether the vector index is being refilled from the stored vectors
    /// ([`indexer::refill_if_short`]).
    pub fn is_refilling(&self) -> bool {
        self.refilling.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Marks a refill as running or over.
    fn set_refilling(&self, running: bool) {
        self.refilling.store(running, std::sync::atomic::Ordering::Release);
    }

    /// The embedder and vector index, when search has a vector side.
    pub fn vector_side(&self) -> Option<VectorSide<'_>> {
        self.embedder.as_ref().zip(self.index.as_ref())
    }
}
