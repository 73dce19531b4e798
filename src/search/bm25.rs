//! BM25 for PostgreSQL's full-text side. Its index returns the matches in `ts_rank` order,
//! which knows neither how rare a word is nor how long a product's text is; those matches are
//! scored again with the formula SQLite's FTS5 ranks by, so both stores rank alike:
//!
//! `score = Σ idf(t) · f(t) · (k1 + 1) / (f(t) + k1 · (1 − b + b · |d| / avgdl))`
//!
//! where `f(t)` sums the term's occurrences weighted by field (title 10, brand and category 4,
//! details 2, description 1: the weights of FTS5's columns), `|d|` counts the product's
//! words, `idf(t) = ln((N − n(t) + 0.5) / (n(t) + 0.5))` (at least 10⁻⁶), k1 = 1.2 and b = 0.75.
//!
//! A product's frequencies and length are read from its `search_vector` (each lexeme's
//! positions, labelled A–D by field). The number of products, each term's document frequency
//! and the average length come from the store and are cached for [`STATS_TTL`]; when they
//! expire, one search reads them again while the others go on with the old ones.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, Value};

use crate::db::Db;
use crate::error::AppResult;

/// Term-frequency saturation.
const K1: f64 = 1.2;
/// Length normalisation.
const B: f64 = 0.75;
/// Weights of the tsvector labels A (title), B (brand, category), C (details), D (description).
const WEIGHTS: [f64; 4] = [10.0, 4.0, 2.0, 1.0];
/// How long the corpus figures are kept before they are read again.
pub const STATS_TTL: Duration = Duration::from_secs(600);
/// Products read to estimate the average length.
const LENGTH_SAMPLE: u32 = 2_000;
/// Most document frequencies kept; the map is emptied when full.
const MAX_TERMS: usize = 20_000;

/// A term of a query: a lexeme, or (with `prefix`) every lexeme starting with it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Term {
    /// The lexeme as PostgreSQL's `english` configuration stems it.
    pub lexeme: String,
    /// A prefix term (`'boot':*`).
    pub prefix: bool,
}

impl Term {
    /// The term as a `tsquery` literal matching exactly its lexeme (or prefix).
    fn tsquery(&self) -> String {
        format!("'{}'{}", self.lexeme.replace('\\', "\\\\").replace('\'', "''"), if self.prefix { ":*" } else { "" })
    }

    fn matches(&self, lexeme: &str) -> bool {
        if self.prefix { lexeme.starts_with(&self.lexeme) } else { lexeme == self.lexeme }
    }
}

/// The distinct terms a `tsquery`'s text asks for (`( 'knee' | 'boot':* ) & !'red'`), the
/// negated ones left out.
pub fn terms_of_tsquery(text: &str) -> Vec<Term> {
    let mut terms: Vec<Term> = Vec::new();
    let mut chars = text.chars().peekable();
    let mut negated = false;
    while let Some(c) = chars.next() {
        match c {
            '!' => negated = true,
            '\'' => {
                let lexeme = quoted(&mut chars);
                let prefix = chars.peek() == Some(&':') && {
                    chars.next();
                    let mut flags = String::new();
                    while let Some(&f) = chars.peek().filter(|f| f.is_ascii_alphabetic() || **f == '*') {
                        flags.push(f);
                        chars.next();
                    }
                    flags.contains('*')
                };
                let term = Term { lexeme, prefix };
                if !negated && !terms.contains(&term) {
                    terms.push(term);
                }
                negated = false;
            }
            '&' | '|' | '(' => negated = false,
            _ => {}
        }
    }
    terms
}

/// Reads a quoted lexeme up to its closing quote (`''` is a quote, `\x` is `x`).
fn quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    let mut lexeme = String::new();
    while let Some(c) = chars.next() {
        match c {
            '\\' => lexeme.extend(chars.next()),
            '\'' if chars.peek() == Some(&'\'') => {
                chars.next();
                lexeme.push('\'');
            }
            '\'' => break,
            _ => lexeme.push(c),
        }
    }
    lexeme
}

/// A product's text as BM25 sees it: each lexeme's occurrences per field, and its length.
#[derive(Debug, Default, PartialEq)]
pub struct Document {
    lexemes: Vec<(String, [u32; 4])>,
    length: u32,
}

impl Document {
    /// Reads a `tsvector`'s text (`'jil':1A,5B,19 'skirt':4A`; a position without a label is D).
    pub fn parse(text: &str) -> Self {
        let mut document = Self::default();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '\'' {
                continue;
            }
            let lexeme = quoted(&mut chars);
            let mut counts = [0_u32; 4];
            if chars.peek() == Some(&':') {
                chars.next();
                let positions: String = chars.by_ref().take_while(|c| *c != ' ').collect();
                for position in positions.split(',') {
                    let label = match position.chars().last() {
                        Some('A') => 0,
                        Some('B') => 1,
                        Some('C') => 2,
                        _ => 3,
                    };
                    counts[label] += 1;
                }
            } else {
                // Stripped of positions: one occurrence, in the description's weight.
                counts[3] = 1;
            }
            document.length += counts.iter().sum::<u32>();
            document.lexemes.push((lexeme, counts));
        }
        document
    }

    /// The weighted frequency of `term`.
    fn frequency(&self, term: &Term) -> f64 {
        self.lexemes
            .iter()
            .filter(|(lexeme, _)| term.matches(lexeme))
            .map(|(_, counts)| counts.iter().zip(WEIGHTS).map(|(n, w)| f64::from(*n) * w).sum::<f64>())
            .sum()
    }

    /// BM25 of this document for `terms`, each with its idf, in a corpus whose documents have
    /// `average_length` words on average.
    pub fn score(&self, terms: &[(Term, f64)], average_length: f64) -> f64 {
        let norm = K1 * (1.0 - B + B * f64::from(self.length) / average_length.max(1.0));
        terms
            .iter()
            .map(|(term, idf)| {
                let f = self.frequency(term);
                idf * f * (K1 + 1.0) / (f + norm)
            })
            .sum()
    }
}

/// The inverse document frequency of a term found in `containing` of `documents`, as FTS5
/// computes it.
pub fn idf(documents: u64, containing: u64) -> f64 {
    let (n, c) = (documents as f64, containing as f64);
    ((n - c + 0.5) / (c + 0.5)).ln().max(1e-6)
}

/// The corpus figures BM25 needs, read from the store and cached.
#[derive(Debug)]
pub struct CorpusStats {
    cached: Mutex<Cached>,
    /// How long figures are used before they are read again.
    ttl: Duration,
    /// Whether a search is reading new figures (the others use the old ones meanwhile).
    refreshing: AtomicBool,
    /// How many times the corpus figures were read.
    refreshes: AtomicU64,
}

impl Default for CorpusStats {
    fn default() -> Self {
        Self::with_ttl(STATS_TTL)
    }
}

/// The claim of the search that refreshes the figures, released however that search ends
/// (a search cancelled by its timeout included).
struct Refreshing<'a>(&'a AtomicBool);

impl Drop for Refreshing<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[derive(Debug, Default)]
struct Cached {
    taken: Option<Instant>,
    /// Expired whatever their age ([`CorpusStats::expire`]).
    expired: bool,
    documents: u64,
    average_length: f64,
    containing: HashMap<Term, u64>,
}

impl CorpusStats {
    /// Figures kept for `ttl` before they are read again.
    pub fn with_ttl(ttl: Duration) -> Self {
        Self { cached: Mutex::default(), ttl, refreshing: AtomicBool::new(false), refreshes: AtomicU64::new(0) }
    }

    /// Expires the figures whatever their age: the next search reads them again (one search,
    /// as when they age), after a bulk change to the catalog, say.
    pub fn expire(&self) {
        self.lock().expired = true;
    }

    /// How many times the corpus figures (product count, average length) were read.
    pub fn refreshes(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }

    /// The idf of each of `terms` and the corpus's average length, read from the store for
    /// what the cache lacks. Expired figures are read again by one search at a time; the
    /// searches meanwhile use the expired ones (only before any were read does each search
    /// read its own).
    ///
    /// # Errors
    /// When the store fails.
    pub async fn weigh(&self, db: &Db, terms: Vec<Term>) -> AppResult<(Vec<(Term, f64)>, f64)> {
        let (fresh, known) = {
            let cached = self.lock();
            let young = cached.taken.is_some_and(|taken| taken.elapsed() < self.ttl);
            (young && !cached.expired, cached.taken.is_some())
        };
        if !fresh && (!known || !self.refreshing.swap(true, Ordering::AcqRel)) {
            let _claim = known.then(|| Refreshing(&self.refreshing));
            let (documents, average_length) = corpus(db).await?;
            self.refreshes.fetch_add(1, Ordering::Relaxed);
            let mut cached = self.lock();
            *cached = Cached {
                taken: Some(Instant::now()),
                expired: false,
                documents,
                average_length,
                containing: HashMap::new(),
            };
        }
        let counts = self.count(db, &terms).await?;
        let cached = self.lock();
        let documents = cached.documents;
        let weighed = terms.into_iter().zip(counts).map(|(term, n)| (term, idf(documents, n))).collect();
        Ok((weighed, cached.average_length))
    }

    /// How many products contain each of `terms`, read from the store for what the cache
    /// lacks. A term no product contains is not kept: a product may bring it at any moment, and
    /// counting it again is one index probe.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn count(&self, db: &Db, terms: &[Term]) -> AppResult<Vec<u64>> {
        let missing: Vec<Term> = {
            let cached = self.lock();
            terms.iter().filter(|t| !cached.containing.contains_key(*t)).cloned().collect()
        };
        let counted: HashMap<Term, u64> = missing.iter().cloned().zip(containing(db, &missing).await?).collect();
        let mut cached = self.lock();
        if cached.containing.len() + counted.len() > MAX_TERMS {
            cached.containing.clear();
        }
        cached.containing.extend(counted.iter().filter(|(_, n)| **n > 0).map(|(t, n)| (t.clone(), *n)));
        Ok(terms.iter().map(|t| counted.get(t).or_else(|| cached.containing.get(t)).copied().unwrap_or(0)).collect())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cached> {
        // The figures are plain numbers: a panic elsewhere cannot leave them half-written.
        self.cached.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The number of products and their average length in words (estimated on a sample).
async fn corpus(db: &Db) -> AppResult<(u64, f64)> {
    let sql = format!(
        "SELECT (SELECT count(*) FROM products) AS documents, \
         (SELECT avg(words)::float8 FROM (SELECT (SELECT sum(cardinality(positions)) FROM unnest(search_vector))::float8 \
         AS words FROM products LIMIT {LENGTH_SAMPLE}) sample) AS average_length"
    );
    let row = db.conn().query_one_raw(Statement::from_string(DatabaseBackend::Postgres, sql)).await?;
    let (documents, average): (i64, Option<f64>) = match row {
        Some(row) => (row.try_get("", "documents")?, row.try_get("", "average_length")?),
        None => (0, None),
    };
    Ok((u64::try_from(documents).unwrap_or(0), average.unwrap_or(1.0)))
}

/// How many products contain each of `terms`, in one statement.
async fn containing(db: &Db, terms: &[Term]) -> AppResult<Vec<u64>> {
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let counts: Vec<String> =
        (1..=terms.len()).map(|i| format!("count(*) FILTER (WHERE search_vector @@ ${i}::tsquery) AS t{i}")).collect();
    let any: Vec<String> = (1..=terms.len()).map(|i| format!("${i}::tsquery")).collect();
    let sql = format!("SELECT {} FROM products WHERE search_vector @@ ({})", counts.join(", "), any.join(" || "));
    let values: Vec<Value> = terms.iter().map(|t| Value::from(t.tsquery())).collect();
    let row = db.conn().query_one_raw(Statement::from_sql_and_values(DatabaseBackend::Postgres, sql, values)).await?;
    (1..=terms.len())
        .map(|i| {
            let n: i64 = row.as_ref().map_or(Ok(0), |row| row.try_get("", &format!("t{i}")))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(lexeme: &str, prefix: bool) -> Term {
        Term { lexeme: lexeme.to_owned(), prefix }
    }

    #[test]
    fn a_tsquery_gives_its_positive_terms_once() {
        let terms = terms_of_tsquery("( 'knee' | 'boot':* ) & !'red' & 'knee' & 'o''neil'");
        assert_eq!(terms, vec![term("knee", false), term("boot", true), term("o'neil", false)]);
    }

    #[test]
    fn a_tsvector_gives_counts_per_field_and_its_length() {
        let document = Document::parse("'jil':1A,5B,19 'skirt':4A 'o''neil':7 'load'");
        assert_eq!(
            document,
            Document {
                lexemes: vec![
                    ("jil".to_owned(), [1, 1, 0, 1]),
                    ("skirt".to_owned(), [1, 0, 0, 0]),
                    ("o'neil".to_owned(), [0, 0, 0, 1]),
                    ("load".to_owned(), [0, 0, 0, 1]),
                ],
                length: 6,
            }
        );
    }

    #[test]
    fn rare_words_and_title_words_weigh_more_and_long_texts_less() {
        let terms = [(term("tote", false), idf(1000, 10)), (term("black", false), idf(1000, 500))];
        let in_title = Document::parse("'tote':1A 'bag':2A");
        let in_description = Document::parse("'tote':1 'bag':2");
        let common_only = Document::parse("'black':1A 'bag':2A");
        let long = Document::parse(&format!(
            "'tote':1A {}",
            (2..60).map(|i| format!("'w{i}':{i}")).collect::<Vec<_>>().join(" ")
        ));
        let (title, description, common) =
            (in_title.score(&terms, 10.0), in_description.score(&terms, 10.0), common_only.score(&terms, 10.0));
        assert!(title > description, "{title} > {description}");
        assert!(title > common, "a rare word outweighs a common one: {title} > {common}");
        assert!(title > long.score(&terms, 10.0), "length lowers the score");
        assert!(idf(1000, 999) > 0.0, "a word in almost every product still counts a little");
    }

    #[test]
    fn a_prefix_term_counts_every_lexeme_it_starts() {
        let document = Document::parse("'boot':1A 'bootleg':2 'shoe':3");
        assert_eq!(document.frequency(&term("boot", true)), 11.0);
        assert_eq!(document.frequency(&term("boot", false)), 10.0);
    }
}
