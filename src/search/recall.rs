//! `aeternum vector-recall`: how closely the embedded HNSW index follows the exact scan on the
//! catalog in the database, the figure the benchmark reports beside its timings.

use std::time::Instant;

use anyhow::Context;

use super::Search;
use super::indexer;
use super::vector::{MemoryIndex, VectorFilter, VectorIndex};
use crate::config::EmbeddedMethod;
use crate::db::Db;

/// Neighbours compared per query.
const K: usize = 10;

/// How many of the exact top-k the approximate list found. Products with the same text share
/// one vector, so the exact top-k is one of many equally good lists: an approximate hit counts
/// when its (exactly rescored) similarity reaches the k-th exact one.
fn hits_among(near: &[(uuid::Uuid, f32)], truth: &[(uuid::Uuid, f32)]) -> usize {
    let Some(kth) = truth.last().map(|t| t.1) else { return 0 };
    near.iter().take(truth.len()).filter(|n| n.1 >= kth - 1e-6).count()
}

/// What one comparison found.
#[derive(Clone, Debug)]
pub struct RecallReport {
    /// Vectors in the index.
    pub points: u64,
    /// Seconds to link every vector into the graph.
    pub build_seconds: f64,
    /// Bytes of int8 codes and links (the exact vectors live in a file).
    pub graph_bytes: usize,
    /// Recall@10 over the shopper queries given.
    pub query_recall: f64,
    /// Recall@10 over stored product vectors used as queries (the product itself left out).
    /// Ties count as found: see [`hits_among`].
    pub neighbour_recall: f64,
    /// Median milliseconds of one search: approximate, then exact.
    pub median_ms: (f64, f64),
}

/// Loads the catalog's vectors into an approximate and an exact index and compares their
/// top-10 lists for `queries` (embedded here) and for `samples` product vectors.
///
/// # Errors
/// When search has no vector side, or the store or the embedder fails.
pub async fn compare(db: &Db, search: &Search, queries: &[String], samples: usize) -> anyhow::Result<RecallReport> {
    let (embedder, _) = search.vector_side().context("search has no embedder configured (search.embedder.kind)")?;
    let (approximate, exact) = (MemoryIndex::new(EmbeddedMethod::Hnsw), MemoryIndex::new(EmbeddedMethod::Exact));
    for index in [&approximate, &exact] {
        index.prepare(embedder.dimensions()).await?;
    }
    let points = indexer::load_into(db, embedder.as_ref(), &exact).await?;
    indexer::load_into(db, embedder.as_ref(), &approximate).await?;
    let started = Instant::now();
    let linker = approximate.clone();
    tokio::task::spawn_blocking(move || linker.link_all()).await??;
    let build_seconds = started.elapsed().as_secs_f64();

    let mut vectors = embedder.embed(queries).await?;
    let step = (points as usize / samples.max(1)).max(1);
    vectors.extend(exact.sample(step, samples)?);
    let (mut found, mut neighbour_found, mut times) = (0usize, 0usize, (Vec::new(), Vec::new()));
    let filter = VectorFilter::default();
    for (i, vector) in vectors.iter().enumerate() {
        let is_query = i < queries.len();
        // A product vector finds itself first; compare the ten after it.
        let (wanted, skip) = if is_query { (K, 0) } else { (K + 1, 1) };
        let clock = Instant::now();
        let near = approximate.search(vector, wanted, &filter).await?;
        times.0.push(clock.elapsed().as_secs_f64() * 1e3);
        let clock = Instant::now();
        let truth = exact.search(vector, wanted, &filter).await?;
        times.1.push(clock.elapsed().as_secs_f64() * 1e3);
        let hits = hits_among(&near[skip.min(near.len())..], &truth[skip.min(truth.len())..]);
        if is_query { found += hits } else { neighbour_found += hits }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let sampled = vectors.len() - queries.len();
    Ok(RecallReport {
        points,
        build_seconds,
        graph_bytes: approximate.graph_bytes()?,
        query_recall: found as f64 / (queries.len().max(1) * K) as f64,
        neighbour_recall: neighbour_found as f64 / (sampled.max(1) * K) as f64,
        median_ms: (median(times.0), median(times.1)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn a_tied_neighbour_counts_as_found_and_a_worse_one_does_not() {
        let (a, b, c, d) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let truth = [(a, 0.9), (b, 0.8)];
        assert_eq!(hits_among(&[(a, 0.9), (c, 0.8)], &truth), 2, "c has b's similarity");
        assert_eq!(hits_among(&[(a, 0.9), (d, 0.7)], &truth), 1);
        assert_eq!(hits_among(&[], &truth), 0);
    }
}
