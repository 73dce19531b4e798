//! The `Embedder` port and its adapters: the in-process model and OpenAI-compatible HTTP
//! endpoints (hosted APIs, Ollama, vLLM, TEI).

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use async_trait::async_trait;
use serde::Deserialize;
use tokio::sync::oneshot;

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

    /// As [`Self::embed`], for texts a request is waiting on (shoppers' queries): an adapter
    /// sharing its capacity with background work (reindexing) serves these first.
    ///
    /// # Errors
    /// When the model or the provider fails.
    async fn embed_now(&self, texts: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
        self.embed(texts).await
    }
}

/// Texts per run of background embedding (reindexing): a request's texts wait for at most one
/// such run to end before a core is theirs.
pub const BACKGROUND_RUN: usize = 8;

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
/// would only share the cores and make every one of them slower. A core that frees goes to a
/// waiting request's run before a waiting background run.
pub struct LocalEmbedder {
    model: Arc<MiniLm>,
    cores: Arc<Cores>,
    core_count: usize,
}

/// The cores' turns: one per core, handed to waiting urgent runs before the others, each in
/// the order they asked.
pub struct Cores {
    state: std::sync::Mutex<Turns>,
}

struct Turns {
    free: usize,
    urgent: VecDeque<oneshot::Sender<()>>,
    background: VecDeque<oneshot::Sender<()>>,
}

/// A core's turn, passed on when dropped.
pub struct Core<'a>(&'a Cores);

impl Drop for Core<'_> {
    fn drop(&mut self) {
        self.0.pass_on();
    }
}

/// A run waiting for its turn. Dropped after being handed a turn it never took (its caller
/// gave up), it passes the turn on.
struct Waiting<'a> {
    cores: &'a Cores,
    turn: Option<oneshot::Receiver<()>>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(mut turn) = self.turn.take()
            && turn.try_recv().is_ok()
        {
            self.cores.pass_on();
        }
    }
}

impl Cores {
    /// `count` turns.
    pub fn new(count: usize) -> Self {
        Self {
            state: std::sync::Mutex::new(Turns {
                free: count.max(1),
                urgent: VecDeque::new(),
                background: VecDeque::new(),
            }),
        }
    }

    /// A turn: at once when one is free, else when one is passed on (to `urgent` runs first).
    pub async fn turn(&self, urgent: bool) -> Core<'_> {
        let receiver = {
            let mut turns = self.lock();
            if turns.free > 0 {
                turns.free -= 1;
                return Core(self);
            }
            let (sender, receiver) = oneshot::channel();
            let queue = if urgent { &mut turns.urgent } else { &mut turns.background };
            queue.push_back(sender);
            receiver
        };
        let mut waiting = Waiting { cores: self, turn: Some(receiver) };
        if let Some(turn) = waiting.turn.as_mut() {
            // Senders are only dropped by sending: the turn always comes.
            let _ = turn.await;
        }
        waiting.turn = None;
        Core(self)
    }

    fn pass_on(&self) {
        let mut turns = self.lock();
        while let Some(next) = turns.urgent.pop_front().or_else(|| turns.background.pop_front()) {
            if next.send(()).is_ok() {
                return;
            }
        }
        turns.free += 1;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Turns> {
        // Plain counters and queues: a panic elsewhere cannot leave them half-written.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
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
        Ok(Self { model: Arc::new(model), cores: Arc::new(Cores::new(cores)), core_count: cores })
    }

    /// Embeds `texts` on one core, in chunks of [`EMBED_BATCH`].
    async fn run(&self, texts: Vec<String>, urgent: bool) -> anyhow::Result<Vec<Vec<f32>>> {
        let model = self.model.clone();
        let _core = self.cores.turn(urgent).await;
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

    /// Background work (reindexing): runs of [`BACKGROUND_RUN`] texts of similar length (a run
    /// pads every text to its longest), at most one per core at once, each taking its turn
    /// after any waiting request's.
    async fn embed(&self, texts: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
        self.in_runs(texts, BACKGROUND_RUN, false).await
    }

    /// Texts a request waits on (queries arriving together): one run per core, served before
    /// waiting background runs.
    async fn embed_now(&self, texts: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
        self.in_runs(texts, texts.len().div_ceil(self.core_count).clamp(1, EMBED_BATCH), true).await
    }
}

impl LocalEmbedder {
    /// `texts` in runs of `per_run`, sorted by length when there is more than one run.
    async fn in_runs(&self, texts: &[String], per_run: usize, urgent: bool) -> anyhow::Result<Vec<Vec<f32>>> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        if texts.len() > per_run {
            order.sort_by_key(|&i| texts[i].len());
        }
        let runs =
            order.chunks(per_run).map(|chunk| self.run(chunk.iter().map(|&i| texts[i].clone()).collect(), urgent));
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
    use std::task::Poll;

    use super::*;
    use crate::search::vector::dot as cosine;

    /// Polls `future` once.
    fn poll_once<F: std::future::Future>(future: std::pin::Pin<&mut F>) -> std::task::Poll<F::Output> {
        future.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    }

    /// A core of `cores` taken at once (one must be free).
    fn taken(cores: &Cores) -> Core<'_> {
        let mut turn = std::pin::pin!(cores.turn(false));
        let Poll::Ready(core) = poll_once(turn.as_mut()) else { panic!("a free core is taken at once") };
        core
    }

    #[test]
    fn a_freed_core_goes_to_a_waiting_request_before_waiting_background_runs() {
        let cores = Cores::new(1);
        let held = taken(&cores);
        let mut background = std::pin::pin!(cores.turn(false));
        let mut request = std::pin::pin!(cores.turn(true));
        assert!(poll_once(background.as_mut()).is_pending());
        assert!(poll_once(request.as_mut()).is_pending());

        drop(held);
        assert!(poll_once(background.as_mut()).is_pending(), "the background run asked first, yet waits");
        let Poll::Ready(request) = poll_once(request.as_mut()) else { panic!("the request has the core") };
        drop(request);
        assert!(poll_once(background.as_mut()).is_ready(), "then the background run");
    }

    #[test]
    fn a_turn_handed_to_a_caller_that_gave_up_is_passed_on() {
        let cores = Cores::new(1);
        let held = taken(&cores);
        let mut next = std::pin::pin!(cores.turn(false));
        {
            let mut gave_up = Box::pin(cores.turn(true));
            assert!(poll_once(gave_up.as_mut()).is_pending());
            drop(held);
            // Handed the core, then dropped before taking it.
        }
        assert!(poll_once(next.as_mut()).is_ready(), "the core was not lost");
    }

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
