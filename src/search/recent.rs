//! Recent full-text answers. Shoppers repeat queries, and ranking a common word's matches is
//! the costliest statement a search runs; a repeated query with the same filter is answered
//! from memory while the catalog has not changed since. So is a query that differs from one
//! already ranked only by words no product holds (a typo, an unknown model number): it is
//! ranked as the query without them, and that answer is kept under both.
//!
//! "Not changed" is read from the store, so replicas and other processes' writes count: every
//! product change that matters to search (text, filterable columns, status, stock running out
//! or back, a category renamed or moved) adds a row to `search_outbox` by trigger, and the
//! outbox's id sequence is the catalog's search generation. An answer is kept with the
//! generation read before it was ranked and served only while the generation is the same and
//! the answer is younger than `search.lexical_cache_seconds`. On SQLite the sequence is
//! transactional, so an answer is never stale; on PostgreSQL a sequence moves when the writing
//! transaction takes its value, before it commits, so a search ranking during that moment can
//! keep the catalog as it was for at most the age limit.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{Condition, ConnectionTrait, DatabaseBackend, DbErr, Statement};

use super::bm25::CorpusStats;
use super::lexical::{self, LexicalHit};
use super::query::TextQuery;
use crate::catalog::filter::ProductCriteria;
use crate::db::Db;
use crate::error::AppResult;

/// Most answers kept (each at most `search.candidates` ids and titles, about 16 KiB at 200);
/// when full, the expired ones go, and if none has, all.
const MOST_ANSWERS: usize = 512;

/// Full-text answers by query, filter and limit, with the generation they were ranked at.
pub struct RecentAnswers {
    max_age: Duration,
    answers: Mutex<HashMap<String, Answer>>,
    /// Whether reading the generation failed once (said once in the log).
    unreadable: AtomicBool,
}

struct Answer {
    generation: i64,
    ranked_at: Instant,
    hits: Arc<[LexicalHit]>,
}

impl RecentAnswers {
    /// Answers kept for at most `max_age`; zero keeps none.
    pub fn new(max_age: Duration) -> Self {
        Self { max_age, answers: Mutex::default(), unreadable: AtomicBool::new(false) }
    }

    /// The best `limit` products for `query` among those passing `condition` ([`lexical::ranked`]),
    /// from memory when the same was ranked at the current generation. `filter` names the
    /// condition (the key of the answer with the query and the limit). A query holding words no
    /// product has is answered as the query without them ([`lexical::kept`]), which may have
    /// been asked already: "silk scarf 4711" is answered as "silk scarf" is.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn search(
        &self,
        db: &Db,
        corpus: &CorpusStats,
        query: &TextQuery,
        filter: &str,
        condition: Condition,
        limit: u64,
    ) -> AppResult<Arc<[LexicalHit]>> {
        let generation = self.generation(db).await;
        let scope = format!("search\u{1f}{limit}\u{1f}{filter}");
        let asked = key(&scope, query);
        if let Some(hits) = self.get(&asked, generation) {
            return Ok(hits);
        }
        let Some(kept) = lexical::kept(db, corpus, query).await? else {
            let none: Arc<[LexicalHit]> = Vec::new().into();
            self.put(asked, generation, none.clone());
            return Ok(none);
        };
        let ranked = key(&scope, &kept);
        let hits =
            self.answer(ranked.clone(), generation, || lexical::ranked(db, corpus, &kept, condition, limit)).await?;
        if asked != ranked {
            self.put(asked, generation, hits.clone());
        }
        Ok(hits)
    }

    /// The best `limit` public products matching every word of `query`
    /// ([`lexical::search_all_words`], the titles type-ahead suggests), from memory as
    /// [`Self::search`]: shoppers typing the same first letters ask the same.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn suggest(
        &self,
        db: &Db,
        corpus: &CorpusStats,
        query: &TextQuery,
        limit: u64,
    ) -> AppResult<Arc<[LexicalHit]>> {
        let generation = self.generation(db).await;
        self.answer(key(&format!("suggest\u{1f}{limit}"), query), generation, || {
            let public = ProductCriteria::public().condition(db.backend(), None);
            lexical::search_all_words(db, corpus, query, public, limit)
        })
        .await
    }

    /// The answer kept under `key` at `generation`, or the one `rank` gives, kept.
    async fn answer<F: Future<Output = AppResult<Vec<LexicalHit>>>>(
        &self,
        key: String,
        generation: Option<i64>,
        rank: impl FnOnce() -> F,
    ) -> AppResult<Arc<[LexicalHit]>> {
        if let Some(hits) = self.get(&key, generation) {
            return Ok(hits);
        }
        let hits: Arc<[LexicalHit]> = rank().await?.into();
        self.put(key, generation, hits.clone());
        Ok(hits)
    }

    /// The current generation, or `None` when nothing is kept: answers are kept for no time, or
    /// the generation cannot be read (then nothing kept can be trusted; said once in the log).
    async fn generation(&self, db: &Db) -> Option<i64> {
        if self.max_age.is_zero() {
            return None;
        }
        match generation(db).await {
            Ok(generation) => Some(generation),
            Err(error) => {
                if !self.unreadable.swap(true, Ordering::Relaxed) {
                    tracing::warn!(%error, "the search generation is unreadable: full-text answers are not kept");
                }
                None
            }
        }
    }

    /// The answer kept under `key` at `generation` (none without one).
    fn get(&self, key: &str, generation: Option<i64>) -> Option<Arc<[LexicalHit]>> {
        let generation = generation?;
        let answers = self.answers.lock().ok()?;
        let answer = answers.get(key)?;
        let fresh = answer.generation == generation && answer.ranked_at.elapsed() < self.max_age;
        fresh.then(|| answer.hits.clone())
    }

    /// Keeps `hits` under `key` at `generation` (not without one: nothing kept could be trusted).
    fn put(&self, key: String, generation: Option<i64>, hits: Arc<[LexicalHit]>) {
        let Some(generation) = generation else { return };
        let Ok(mut answers) = self.answers.lock() else { return };
        if answers.len() >= MOST_ANSWERS && !answers.contains_key(&key) {
            answers.retain(|_, answer| answer.ranked_at.elapsed() < self.max_age);
            if answers.len() >= MOST_ANSWERS {
                answers.clear();
            }
        }
        answers.insert(key, Answer { generation, ranked_at: Instant::now(), hits });
    }
}

/// The key of `query`'s answer within `scope`: what it asks for (its words and exclusions), not
/// the text typed.
fn key(scope: &str, query: &TextQuery) -> String {
    format!("{scope}\u{1f}{:?}\u{1f}{:?}", query.groups, query.excluded)
}

/// The catalog's search generation: the last id `search_outbox` handed out.
async fn generation(db: &Db) -> Result<i64, DbErr> {
    let sql = match db.backend() {
        DatabaseBackend::Postgres => "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM search_outbox_id_seq",
        _ => "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'search_outbox'), 0)",
    };
    let row = db.conn().query_one_raw(Statement::from_string(db.backend(), sql)).await?;
    row.ok_or_else(|| DbErr::Custom("no search generation row".to_owned()))?.try_get_by_index(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(title: &str) -> Arc<[LexicalHit]> {
        vec![LexicalHit { id: uuid::Uuid::nil(), title: title.to_owned() }].into()
    }

    #[test]
    fn an_answer_serves_only_its_own_generation() {
        let recent = RecentAnswers::new(Duration::from_secs(60));
        recent.put("tote".to_owned(), Some(7), hits("Tote"));
        let kept = recent.get("tote", Some(7)).map(|hits| hits[0].title.clone());
        assert_eq!(kept.as_deref(), Some("Tote"));
        assert!(recent.get("tote", Some(8)).is_none(), "the catalog changed since");
        assert!(recent.get("coat", Some(7)).is_none());
    }

    #[test]
    fn an_answer_expires() {
        let recent = RecentAnswers::new(Duration::from_millis(1));
        recent.put("tote".to_owned(), Some(7), hits("Tote"));
        std::thread::sleep(Duration::from_millis(5));
        assert!(recent.get("tote", Some(7)).is_none());
    }

    #[test]
    fn the_answers_kept_are_bounded() {
        let recent = RecentAnswers::new(Duration::from_secs(60));
        for n in 0..=MOST_ANSWERS {
            recent.put(format!("query {n}"), Some(1), hits("Tote"));
        }
        let kept = recent.answers.lock().map_or(usize::MAX, |answers| answers.len());
        assert!(kept <= MOST_ANSWERS, "{kept}");
        assert!(recent.get(&format!("query {MOST_ANSWERS}"), Some(1)).is_some(), "the newest is kept");
    }
}
