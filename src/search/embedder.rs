//! The `Embedder` port and its adapters: the in-process model and OpenAI-compatible HTTP
//! endpoints (hosted APIs, Ollama, vLLM, TEI).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use async_trait::async_trait;
use serde::Deserialize;

use super::minilm::MiniLm;
use crate::config::{EmbedderSettings, Secret};

/// Most texts sent to an embedder in one call.
pub const EMBED_BATCH: usize = 32;

/// Turns texts into unit vectors of a fixed length.
#[async_trait]
pub trait Embedder: Send + Sync {
    /// Names the model; vectors of different models are never compared.
    fn model(&self) -> &str;

    /// Length of the vectors.
    fn dimensions(&self) -> usize;

    /// One unit vector per text, in order.
    ///
    /// # Errors
    /// When the model or the provider fails.
    async fn embed(&self, texts: &[String]) -> anyhow::Result<Vec<Vec<f32>>>;
}

/// Builds the configured embedder; `None` when search is configured lexical-only. An HTTP
/// call may take four times `timeout_ms` (the indexer embeds in batches).
///
/// # Errors
/// When the configured embedder cannot be set up (missing model files, no URL).
pub fn from_settings(settings: &EmbedderSettings, timeout_ms: u64) -> anyhow::Result<Option<Arc<dyn Embedder>>> {
    Ok(match settings {
        EmbedderSettings::None => None,
        EmbedderSettings::Local { model_dir } => Some(Arc::new(LocalEmbedder::load(Path::new(model_dir))?)),
        EmbedderSettings::Http { url, model, api_key, dimensions } => Some(Arc::new(HttpEmbedder::new(
            url,
            model,
            api_key.clone(),
            *dimensions,
            Duration::from_millis(timeout_ms.max(1) * 4),
        )?)),
    })
}

/// The in-process all-MiniLM-L6-v2 model. At most one inference per core runs at a time: more
/// would only share the cores and make every one of them slower.
pub struct LocalEmbedder {
    model: Arc<MiniLm>,
    cores: Arc<tokio::sync::Semaphore>,
    core_count: usize,
}

impl LocalEmbedder {
    /// Loads the model from its folder.
    ///
    /// # Errors
    /// When the files are missing or malformed.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let model = MiniLm::load(dir).with_context(|| {
            format!("cannot load the embedding model from {} (run scripts/fetch-model)", dir.display())
        })?;
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Ok(Self { model: Arc::new(model), cores: Arc::new(tokio::sync::Semaphore::new(cores)), core_count: cores })
    }

    /// Embeds `texts` on one core, in chunks of [`EMBED_BATCH`].
    async fn run(&self, texts: Vec<String>) -> anyhow::Result<Vec<Vec<f32>>> {
        let model = self.model.clone();
        let _core = self.cores.acquire().await.context("the embedder is shutting down")?;
        tokio::task::spawn_blocking(move || {
            texts.chunks(EMBED_BATCH).try_fold(Vec::with_capacity(texts.len()), |mut all, chunk| {
                all.extend(model.embed(chunk)?);
                anyhow::Ok(all)
            })
        })
        .await
        .context("the embedding task failed")?
    }
}

#[async_trait]
impl Embedder for LocalEmbedder {
    fn model(&self) -> &str {
        "all-MiniLM-L6-v2"
    }

    fn dimensions(&self) -> usize {
        self.model.dimensions()
    }

    /// The texts are split into runs, at most one per core at once (queued fairly with other
    /// callers'): a batch of at most [`EMBED_BATCH`] (queries arriving together) into one run
    /// per core, a longer one (reindexing) into runs of [`EMBED_BATCH`] texts of similar
    /// length, since a run pads every text to its longest.
    async fn embed(&self, texts: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
        let per_run =
            if texts.len() <= EMBED_BATCH { texts.len().div_ceil(self.core_count).max(1) } else { EMBED_BATCH };
        let mut order: Vec<usize> = (0..texts.len()).collect();
        if texts.len() > EMBED_BATCH {
            order.sort_by_key(|&i| texts[i].len());
        }
        let runs = order.chunks(per_run).map(|chunk| self.run(chunk.iter().map(|&i| texts[i].clone()).collect()));
        let vectors = futures_util::future::try_join_all(runs).await?;
        let mut placed = vec![Vec::new(); texts.len()];
        for (i, vector) in order.into_iter().zip(vectors.into_iter().flatten()) {
            placed[i] = vector;
        }
        Ok(placed)
    }
}

/// An OpenAI-compatible `POST {url}/v1/embeddings` endpoint.
pub struct HttpEmbedder {
    client: reqwest::Client,
    endpoint: String,
    model: String,
    api_key: Option<Secret>,
    dimensions: usize,
}

#[derive(Deserialize)]
struct EmbeddingsResponse {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    index: usize,
    embedding: Vec<f32>,
}

impl HttpEmbedder {
    /// An adapter for the endpoint at `url` serving `model`.
    ///
    /// # Errors
    /// When the URL or model is empty.
    pub fn new(
        url: &str,
        model: &str,
        api_key: Option<Secret>,
        dimensions: usize,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        if url.is_empty() || model.is_empty() {
            bail!("search.embedder.kind = \"http\" needs search.embedder.url and search.embedder.model");
        }
        let client = reqwest::Client::builder().timeout(timeout).build().context("cannot build the HTTP client")?;
        Ok(Self {
            client,
            endpoint: format!("{}/v1/embeddings", url.trim_end_matches('/')),
            model: model.to_owned(),
            api_key: api_key.filter(|key| !key.expose().is_empty()),
            dimensions,
        })
    }

    async fn call(&self, texts: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
        let mut request =
            self.client.post(&self.endpoint).json(&serde_json::json!({ "model": self.model, "input": texts }));
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key.expose());
        }
        let response = request.send().await.context("the embedding provider is unreachable")?;
        let status = response.status();
        if !status.is_success() {
            bail!("the embedding provider answered {status}");
        }
        let mut body: EmbeddingsResponse =
            response.json().await.context("the embedding provider's answer is not an embeddings list")?;
        if body.data.len() != texts.len() {
            bail!("the embedding provider returned {} vectors for {} texts", body.data.len(), texts.len());
        }
        body.data.sort_by_key(|item| item.index);
        if let Some(item) = body.data.iter().find(|item| item.embedding.len() != self.dimensions) {
            bail!(
                "the embedding provider returned {} dimensions, not search.embedder.dimensions = {}",
                item.embedding.len(),
                self.dimensions
            );
        }
        Ok(body.data.into_iter().map(|item| normalised(item.embedding)).collect())
    }
}

#[async_trait]
impl Embedder for HttpEmbedder {
    fn model(&self) -> &str {
        &self.model
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    async fn embed(&self, texts: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
        let mut all = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(EMBED_BATCH) {
            all.extend(self.call(chunk).await?);
        }
        Ok(all)
    }
}

/// Scales a vector to unit length (providers do not all normalise).
pub fn normalised(mut vector: Vec<f32>) -> Vec<f32> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
    vector
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::vector::dot as cosine;

    #[tokio::test]
    async fn a_long_batch_grouped_by_length_keeps_each_text_with_its_vector() -> anyhow::Result<()> {
        let embedder = LocalEmbedder::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-minilm-l6-v2"))?;
        let texts: Vec<String> = (0..EMBED_BATCH + 8)
            .map(|i| format!("{} boots number {i}", "very long and warm winter ".repeat(i % 7)))
            .collect();
        let together = embedder.embed(&texts).await?;
        assert_eq!(together.len(), texts.len());
        for i in [0, 5, 13, EMBED_BATCH + 7] {
            // Alone a short text takes the int8 path, so its vector is close to, not equal to,
            // the one from the batch: it must be closest to its own.
            let alone = embedder.embed(std::slice::from_ref(&texts[i])).await?;
            let nearest = (0..texts.len())
                .max_by(|&a, &b| cosine(&alone[0], &together[a]).total_cmp(&cosine(&alone[0], &together[b])));
            assert_eq!(nearest, Some(i), "text {i} got another text's vector");
            assert!(cosine(&alone[0], &together[i]) > 0.995);
        }
        Ok(())
    }
}
