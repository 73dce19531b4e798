//! Query texts that arrive together are embedded together: the first text not in the cache
//! opens a batch and, after a short window, one model run embeds every text that joined it.
//! Eight shoppers typing new queries at the same moment then cost about one run, not eight runs
//! queued on the cores. The same text twice in a batch is embedded once. A text that finds the
//! model idle is not held for the window: its batch runs at once, and the texts arriving
//! while it runs gather in the next.
//!
//! The run happens in a task of its own, so a caller that gives up (a search timing out) never
//! strands the others waiting on its batch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::oneshot;

use super::embedder::Embedder;

/// How long a batch stays open for more texts after its first.
pub const WINDOW: Duration = Duration::from_millis(2);
/// Most texts in one batch; a full batch starts its run at once.
pub const MAX_BATCH: usize = 32;

type Answer = Result<Arc<Vec<f32>>, Arc<String>>;

struct Batch {
    texts: Vec<String>,
    waiters: Vec<(usize, oneshot::Sender<Answer>)>,
    full: Option<oneshot::Sender<()>>,
}

#[derive(Default)]
struct Batches {
    next_id: u64,
    /// The batch new texts join.
    open: Option<u64>,
    waiting: HashMap<u64, Batch>,
    /// Batches being embedded.
    running: usize,
}

/// Gathers texts into batches for an embedder.
#[derive(Clone)]
pub struct QueryBatcher {
    batches: Arc<Mutex<Batches>>,
    /// How long a batch stays open ([`WINDOW`]).
    window: Duration,
}

impl Default for QueryBatcher {
    fn default() -> Self {
        Self { batches: Arc::default(), window: WINDOW }
    }
}

impl QueryBatcher {
    /// The vector of `text`, embedded with whatever other texts arrive within [`WINDOW`].
    ///
    /// # Errors
    /// When the embedder fails or returns no vector for the text.
    pub async fn embed(&self, embedder: &Arc<dyn Embedder>, text: &str) -> anyhow::Result<Arc<Vec<f32>>> {
        let (sender, answer) = oneshot::channel();
        let opened = {
            let mut batches = self.batches.lock().map_err(|_| anyhow::anyhow!("the query batcher is poisoned"))?;
            let joined = batches.open.and_then(|id| batches.waiting.get_mut(&id).map(|batch| (id, batch)));
            match joined {
                Some((_, batch)) => {
                    let index = match batch.texts.iter().position(|t| t == text) {
                        Some(index) => index,
                        None => {
                            batch.texts.push(text.to_owned());
                            batch.texts.len() - 1
                        }
                    };
                    batch.waiters.push((index, sender));
                    if batch.texts.len() >= MAX_BATCH {
                        if let Some(full) = batch.full.take() {
                            let _ = full.send(());
                        }
                        batches.open = None;
                    }
                    None
                }
                None => {
                    let id = batches.next_id;
                    batches.next_id += 1;
                    let (full, filled) = oneshot::channel();
                    let mut batch =
                        Batch { texts: vec![text.to_owned()], waiters: vec![(0, sender)], full: Some(full) };
                    if batches.running == 0 {
                        // The model is idle: nothing is gained by waiting for company.
                        if let Some(full) = batch.full.take() {
                            let _ = full.send(());
                        }
                    }
                    batches.waiting.insert(id, batch);
                    batches.open = Some(id);
                    Some((id, filled))
                }
            }
        };
        if let Some((id, filled)) = opened {
            tokio::spawn(run(Arc::clone(&self.batches), Arc::clone(embedder), id, filled, self.window));
        }
        match answer.await.context("the query batch was dropped")? {
            Ok(vector) => Ok(vector),
            Err(message) => Err(anyhow::anyhow!("{message}")),
        }
    }
}

/// Waits out the window (or until the batch is full), then embeds the batch and answers its
/// waiters.
async fn run(
    batches: Arc<Mutex<Batches>>,
    embedder: Arc<dyn Embedder>,
    id: u64,
    filled: oneshot::Receiver<()>,
    window: Duration,
) {
    let _ = tokio::time::timeout(window, filled).await;
    let batch = {
        let Ok(mut batches) = batches.lock() else { return };
        if batches.open == Some(id) {
            batches.open = None;
        }
        let batch = batches.waiting.remove(&id);
        if batch.is_some() {
            batches.running += 1;
        }
        batch
    };
    let Some(batch) = batch else { return };
    let embedded = embedder.embed_now(&batch.texts).await;
    if let Ok(mut batches) = batches.lock() {
        batches.running = batches.running.saturating_sub(1);
    }
    let answers: Vec<Answer> = match embedded {
        Ok(vectors) if vectors.len() == batch.texts.len() => vectors
            .into_iter()
            .map(|v| {
                if v.is_empty() {
                    Err(Arc::new("the embedder returned an empty vector".to_owned()))
                } else {
                    Ok(Arc::new(v))
                }
            })
            .collect(),
        Ok(vectors) => {
            let message =
                Arc::new(format!("the embedder returned {} vectors for {} texts", vectors.len(), batch.texts.len()));
            vec![Err(message); batch.texts.len()]
        }
        Err(error) => vec![Err(Arc::new(format!("{error:#}"))); batch.texts.len()],
    };
    for (index, waiter) in batch.waiters {
        let answer = answers.get(index).cloned().unwrap_or_else(|| Err(Arc::new("no answer for the text".to_owned())));
        let _ = waiter.send(answer);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;

    use super::*;

    /// An embedder that counts its runs and the texts it was given, and answers each text with
    /// its length.
    #[derive(Default)]
    struct Counting {
        runs: AtomicUsize,
        texts: AtomicUsize,
    }

    #[async_trait]
    impl Embedder for Counting {
        fn model(&self) -> &str {
            "counting"
        }

        fn dimensions(&self) -> usize {
            1
        }

        async fn embed(&self, texts: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
            self.runs.fetch_add(1, Ordering::SeqCst);
            self.texts.fetch_add(texts.len(), Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok(texts.iter().map(|t| vec![t.len() as f32]).collect())
        }
    }

    #[tokio::test]
    async fn texts_arriving_together_share_one_run_and_each_gets_its_own_vector() -> anyhow::Result<()> {
        let counting = Arc::new(Counting::default());
        let embedder: Arc<dyn Embedder> = counting.clone();
        let batcher = QueryBatcher::default();
        let texts = ["a", "bb", "ccc", "dddd", "bb", "eeeee", "ffffff", "ggggggg"];
        let answers = futures_util::future::try_join_all(texts.iter().map(|t| batcher.embed(&embedder, t))).await?;
        for (text, vector) in texts.iter().zip(&answers) {
            assert_eq!(vector.as_slice(), [text.len() as f32]);
        }
        assert_eq!(counting.runs.load(Ordering::SeqCst), 1, "one model run");
        assert_eq!(counting.texts.load(Ordering::SeqCst), 7, "the repeated text embedded once");

        // A later text opens a batch of its own.
        assert_eq!(batcher.embed(&embedder, "later").await?.as_slice(), [5.0]);
        assert_eq!(counting.runs.load(Ordering::SeqCst), 2);
        Ok(())
    }

    /// With a window of a minute: a text finding the model idle is answered at once (its run
    /// takes 5 ms), not when the window closes; the deadline below is a safety net only.
    #[tokio::test]
    async fn a_text_finding_the_model_idle_is_not_held_for_the_window() -> anyhow::Result<()> {
        let counting = Arc::new(Counting::default());
        let embedder: Arc<dyn Embedder> = counting.clone();
        let batcher = QueryBatcher { window: Duration::from_secs(60), ..QueryBatcher::default() };
        let alone = tokio::time::timeout(Duration::from_secs(30), batcher.embed(&embedder, "alone")).await;
        assert_eq!(alone.context("held for the window")??.as_slice(), [5.0]);
        assert_eq!(counting.runs.load(Ordering::SeqCst), 1);
        Ok(())
    }

    #[tokio::test]
    async fn a_full_batch_runs_at_once_and_the_rest_open_another() -> anyhow::Result<()> {
        let counting = Arc::new(Counting::default());
        let embedder: Arc<dyn Embedder> = counting.clone();
        let batcher = QueryBatcher::default();
        let texts: Vec<String> = (0..MAX_BATCH + 3).map(|i| "x".repeat(i + 1)).collect();
        let answers = futures_util::future::try_join_all(texts.iter().map(|t| batcher.embed(&embedder, t))).await?;
        assert!(answers.iter().zip(&texts).all(|(v, t)| v.as_slice() == [t.len() as f32]));
        assert_eq!(counting.runs.load(Ordering::SeqCst), 2);
        Ok(())
    }

    #[tokio::test]
    async fn a_caller_that_gives_up_strands_no_one() -> anyhow::Result<()> {
        let counting = Arc::new(Counting::default());
        let embedder: Arc<dyn Embedder> = counting.clone();
        let batcher = QueryBatcher::default();
        let first = batcher.embed(&embedder, "given up");
        let _ = tokio::time::timeout(Duration::from_micros(10), first).await;
        assert_eq!(batcher.embed(&embedder, "kept").await?.as_slice(), [4.0]);
        Ok(())
    }
}
