//! The `search` scenario: hybrid search with shopper queries, alone, at a few clients and under
//! load, with queries whose vectors are cached and queries nobody sent before.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{ClientResult, Load, drive_clients, quantile};

pub const SEARCH: &str = "query Search($q: String!) {
  search(query: $q, first: 24) {
    totalCount mode degraded embeddingMs
    edges { score node { id title price { amount currencyCode } } }
  }
}";

/// What the search scenario's shoppers type: catalog words, near-misses and words the catalog
/// does not use (found through vectors).
pub const QUERIES: [&str; 16] = [
    "black wool coat",
    "prada bag",
    "dior",
    "camel jacket",
    "silk scarf",
    "leather boots",
    "navy dress",
    "sneakers",
    "warm winter outerwear",
    "evening gown",
    "trainers",
    "burgundy belt",
    "olive skirt",
    "handbag for work",
    "gucci shirt",
    "ivory",
];

/// Which queries a search load sends.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Queries {
    /// The shopper queries in turn: after the first of each, its vector is cached.
    Repeated,
    /// A shopper query with a number no one sent before, so every search embeds its query. The
    /// catalog holds no such number, so the full-text side is that of the shopper query.
    FirstSeen,
    /// Two words of the shopper queries in a pair not sent before, and a number: nothing any
    /// earlier search did serves it.
    Novel,
}

impl Queries {
    fn label(self) -> &'static str {
        match self {
            Self::Repeated => "repeated",
            Self::FirstSeen => "first-seen",
            Self::Novel => "novel",
        }
    }
}

/// Numbers the first-seen queries carry, unique across the whole run.
static FIRST_SEEN: AtomicUsize = AtomicUsize::new(1_000_000);

/// Pairs of words the novel queries used, counted across the whole run.
static NOVEL: AtomicUsize = AtomicUsize::new(0);

/// The distinct words of the shopper queries.
fn words() -> &'static [&'static str] {
    static WORDS: std::sync::OnceLock<Vec<&str>> = std::sync::OnceLock::new();
    WORDS.get_or_init(|| {
        let mut words: Vec<&str> = QUERIES.iter().flat_map(|q| q.split(' ')).filter(|w| *w != "for").collect();
        words.sort_unstable();
        words.dedup();
        words
    })
}

/// The `turn`th query of a load sending `queries`.
fn query(queries: Queries, turn: usize) -> String {
    let shopper = QUERIES[turn % QUERIES.len()];
    match queries {
        Queries::Repeated => shopper.to_owned(),
        Queries::FirstSeen => format!("{shopper} {}", FIRST_SEEN.fetch_add(1, Ordering::Relaxed)),
        Queries::Novel => {
            // Every ordered pair of distinct words once (870 of them); after that, pairs with a
            // third word, another each round.
            let (words, n) = (words(), NOVEL.fetch_add(1, Ordering::Relaxed));
            let first = n % words.len();
            let second = (first + 1 + (n / words.len()) % (words.len() - 1)) % words.len();
            let round = n / (words.len() * (words.len() - 1));
            let third = (first + second + round) % words.len();
            let third = if round > 0 && third != first && third != second { words[third] } else { "" };
            let number = FIRST_SEEN.fetch_add(1, Ordering::Relaxed);
            format!("{} {} {third} {number}", words[first], words[second])
        }
    }
}

/// Concurrencies of the latency profile: one shopper alone, then a few at once.
const PROFILE_CONCURRENCY: [usize; 2] = [1, 8];
/// Most searches of one profile line, whatever the time.
const PROFILE_MAX_SEARCHES: usize = 2_000;

/// Search latency at each of [`PROFILE_CONCURRENCY`], first with first-seen queries (every
/// search embeds its query), then novel ones (nothing earlier serves them) and then repeated
/// ones (vectors cached), `seconds` each. One line per run: searches/s, whole-search
/// percentiles, the server's embedding percentiles and degraded answers.
pub async fn profile(client: &reqwest::Client, base: &str, seconds: u64) -> anyhow::Result<()> {
    for concurrency in PROFILE_CONCURRENCY {
        for queries in [Queries::FirstSeen, Queries::Novel, Queries::Repeated] {
            let load = Load {
                concurrency,
                duration: Duration::from_secs(seconds),
                max_requests: PROFILE_MAX_SEARCHES,
                persisted: false,
            };
            let started = Instant::now();
            let results = drive(client, base, load, queries).await?;
            let elapsed = started.elapsed().as_secs_f64();
            let mut latencies: Vec<f64> =
                results.iter().flat_map(|r| r.latencies_us.iter().map(|us| *us as f64 / 1e3)).collect();
            let mut embedding: Vec<f64> = results.iter().flat_map(|r| r.embedding_ms.iter().copied()).collect();
            latencies.sort_by(f64::total_cmp);
            embedding.sort_by(f64::total_cmp);
            let degraded: usize = results.iter().map(|r| r.sold_out).sum();
            let errors: usize = results.iter().map(|r| r.errors).sum();
            println!(
                "c={concurrency:<2} {:<10} {} searches, {:.1}/s: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms; embedding p50 {:.2} ms, p95 {:.2} ms ({} embedded); {degraded} degraded, {errors} errors",
                queries.label(),
                latencies.len(),
                latencies.len() as f64 / elapsed,
                quantile(&latencies, 0.50),
                quantile(&latencies, 0.95),
                quantile(&latencies, 0.99),
                quantile(&embedding, 0.50),
                quantile(&embedding, 0.95),
                embedding.len(),
            );
        }
    }
    Ok(())
}

/// Rounds in which [`BURST`] shoppers send queries nobody searched before at the same moment.
const BURST_ROUNDS: usize = 20;
/// Shoppers in one burst.
const BURST: usize = 8;

/// How long embedding takes when several first-seen queries arrive together: each round sends
/// [`BURST`] new queries at once and reports the embedding time the server measured and the
/// whole search's.
pub async fn burst(client: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let (mut embedding, mut total) = (Vec::new(), Vec::new());
    for round in 0..BURST_ROUNDS {
        let searches = (0..BURST).map(|i| {
            let query = query(Queries::FirstSeen, round * BURST + i);
            async move {
                let started = Instant::now();
                let body = json!({ "query": SEARCH, "variables": { "q": query } });
                let response: Value = client.post(format!("{base}/graphql")).json(&body).send().await?.json().await?;
                anyhow::Ok((response["data"]["search"]["embeddingMs"].as_f64(), started.elapsed().as_secs_f64() * 1e3))
            }
        });
        for (embedded, spent) in futures_util::future::try_join_all(searches).await? {
            embedding.extend(embedded);
            total.push(spent);
        }
    }
    embedding.sort_by(f64::total_cmp);
    total.sort_by(f64::total_cmp);
    println!(
        "burst       {BURST} first-seen queries at once, {BURST_ROUNDS} rounds: embedding p50 {:.2} ms, p95 {:.2} ms ({} embedded); whole search p50 {:.2} ms, p95 {:.2} ms",
        quantile(&embedding, 0.5),
        quantile(&embedding, 0.95),
        embedding.len(),
        quantile(&total, 0.5),
        quantile(&total, 0.95),
    );
    Ok(())
}

/// Shoppers searching `queries` in turn, each starting at its own. A degraded answer is counted
/// in `sold_out`.
pub async fn drive(
    client: &reqwest::Client,
    base: &str,
    load: Load,
    queries: Queries,
) -> anyhow::Result<Vec<ClientResult>> {
    drive_clients(
        client,
        base,
        load,
        SEARCH,
        None,
        move |n| (n, queries),
        |(turn, queries)| {
            *turn += 1;
            json!({ "q": query(*queries, *turn - 1) })
        },
        |_, data, result| {
            result.embedding_ms.extend(data["search"]["embeddingMs"].as_f64());
            if data["search"]["degraded"] == json!(true) {
                result.sold_out += 1;
            }
        },
    )
    .await
}
