//! Hybrid product search: full-text and vector candidates, each filtered by the catalog filter
//! in its own store, merged by weighted reciprocal rank fusion.
//!
//! Ports: [`embedder::Embedder`] (the in-process model or an HTTP provider) and
//! [`vector::VectorIndex`] (the embedded exact index or Qdrant). The lexical side is SQL in the
//! relational store ([`lexical`]). [`indexer`] keeps vectors in step with the catalog through an
//! outbox filled by database triggers; [`analytics`] records every search. See docs/SEARCH.md.

pub mod analytics;
pub mod embedder;
pub mod eval;
pub mod graphql;
pub mod indexer;
pub mod lexical;
pub mod minilm;
pub mod qdrant;
pub mod query;
pub mod service;
pub mod vector;

use std::sync::Arc;

use anyhow::bail;

use crate::config::SearchSettings;
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
}

impl Search {
    /// Builds the configured adapters. A `local` embedder whose model files are missing leaves
    /// search lexical-only (with a warning) rather than stopping the service.
    ///
    /// # Errors
    /// When an adapter is misconfigured (unknown name, HTTP embedder without URL, bad Qdrant URL).
    pub fn from_settings(settings: &SearchSettings, analytics: Analytics) -> anyhow::Result<Self> {
        let embedder = match embedder::from_settings(settings) {
            Ok(embedder) => embedder,
            Err(error) if settings.embedder == "local" => {
                tracing::warn!(error = format!("{error:#}"), "the embedding model is unavailable");
                None
            }
            Err(error) => return Err(error),
        };
        let index: Option<Arc<dyn VectorIndex>> = match (&embedder, settings.vector_index.as_str()) {
            (None, _) => None,
            (Some(_), "embedded") => Some(Arc::new(MemoryIndex::default())),
            (Some(_), "qdrant") => Some(Arc::new(qdrant::QdrantIndex::connect(settings)?)),
            (Some(_), other) => bail!("unknown search.vector_index `{other}`: use embedded or qdrant"),
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
        Self { embedder, index, settings: Arc::new(settings), analytics }
    }

    /// The embedder and vector index, when search has a vector side.
    pub fn vector_side(&self) -> Option<VectorSide<'_>> {
        self.embedder.as_ref().zip(self.index.as_ref())
    }
}
