//! Offline relevance evaluation: `aeternum eval-search` runs a judged query set against the
//! demo catalog and prints nDCG@10 and recall@10 for lexical-only, vector-only and hybrid search.
//!
//! The judged set is a TSV file of `query<TAB>product title<TAB>grade` rows (grade 0 to 3;
//! lines starting with `#` are comments). Products are named by title, which is unique in the
//! demo catalog.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, bail};
use entity::product;
use sea_orm::EntityTrait;
use uuid::Uuid;

use super::Search;
use super::service::{self, Sides};
use crate::catalog::filter::ProductCriteria;
use crate::db::Db;

/// Results scored per query.
const CUTOFF: usize = 10;

/// Graded judgements: query → product title → grade.
pub type Judgements = BTreeMap<String, HashMap<String, u8>>;

/// Mean scores of one search mode.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scores {
    /// Mean nDCG@10.
    pub ndcg: f64,
    /// Mean recall@10 of the products graded above 0.
    pub recall: f64,
}

/// Reads a judged set.
///
/// # Errors
/// When the file cannot be read or a line is malformed.
pub fn read_judgements(path: &Path) -> anyhow::Result<Judgements> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut judgements = Judgements::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [query, title, grade] = fields[..] else {
            bail!("line {}: expected query, product title and grade separated by tabs", number + 1);
        };
        let grade: u8 = grade
            .trim()
            .parse()
            .ok()
            .filter(|g| *g <= 3)
            .with_context(|| format!("line {}: the grade must be 0, 1, 2 or 3", number + 1))?;
        judgements.entry(query.trim().to_owned()).or_default().insert(title.trim().to_owned(), grade);
    }
    if judgements.is_empty() {
        bail!("{} holds no judgements", path.display());
    }
    Ok(judgements)
}

/// nDCG@10 of a ranking (titles, best first) against the grades of one query.
pub fn ndcg(ranking: &[String], grades: &HashMap<String, u8>) -> f64 {
    let gain = |grade: u8| f64::from((1u32 << grade) - 1);
    let dcg = |gains: &mut dyn Iterator<Item = f64>| {
        gains.take(CUTOFF).enumerate().map(|(i, g)| g / ((i + 2) as f64).log2()).sum::<f64>()
    };
    let actual = dcg(&mut ranking.iter().map(|title| gain(grades.get(title).copied().unwrap_or(0))));
    let mut ideal: Vec<u8> = grades.values().copied().collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let best = dcg(&mut ideal.into_iter().map(gain));
    if best == 0.0 { 0.0 } else { actual / best }
}

/// recall@10: the share of products graded above 0 found in the first ten.
pub fn recall(ranking: &[String], grades: &HashMap<String, u8>) -> f64 {
    let relevant = grades.values().filter(|g| **g > 0).count();
    if relevant == 0 {
        return 0.0;
    }
    let found = ranking.iter().take(CUTOFF).filter(|title| grades.get(*title).is_some_and(|g| *g > 0)).count();
    found as f64 / relevant as f64
}

/// Runs every judged query in every mode and returns the mean scores per mode.
///
/// # Errors
/// When a judged title is not in the catalog, or a search fails.
pub async fn evaluate(db: &Db, search: &Search, judgements: &Judgements) -> anyhow::Result<Vec<(Sides, Scores)>> {
    let titles: HashMap<Uuid, String> =
        product::Entity::find().all(db.conn()).await?.into_iter().map(|p| (p.id, p.title)).collect();
    for title in judgements.values().flat_map(HashMap::keys) {
        if !titles.values().any(|t| t == title) {
            bail!("the judged product {title:?} is not in the catalog");
        }
    }
    let criteria = ProductCriteria::public();
    let mut results = Vec::new();
    for sides in [Sides::Lexical, Sides::Vector, Sides::Hybrid] {
        let (mut ndcg_sum, mut recall_sum) = (0.0, 0.0);
        for (query, grades) in judgements {
            let outcome = service::search(db, search, query, &criteria, sides, None)
                .await
                .map_err(crate::error::AppError::into_anyhow)?;
            let ranking: Vec<String> =
                outcome.hits.iter().take(CUTOFF).filter_map(|hit| titles.get(&hit.id).cloned()).collect();
            ndcg_sum += ndcg(&ranking, grades);
            recall_sum += recall(&ranking, grades);
        }
        let n = judgements.len() as f64;
        results.push((sides, Scores { ndcg: ndcg_sum / n, recall: recall_sum / n }));
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grades(pairs: &[(&str, u8)]) -> HashMap<String, u8> {
        pairs.iter().map(|(t, g)| ((*t).to_owned(), *g)).collect()
    }

    #[test]
    fn perfect_and_reversed_rankings() {
        let judged = grades(&[("a", 3), ("b", 1), ("c", 0)]);
        let ranking = |titles: &[&str]| titles.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>();
        assert!((ndcg(&ranking(&["a", "b", "c"]), &judged) - 1.0).abs() < 1e-9);
        let reversed = ndcg(&ranking(&["c", "b", "a"]), &judged);
        // DCG = 1/log2(3) + 7/log2(4); ideal = 7 + 1/log2(3).
        let expected = (1.0 / 3f64.log2() + 7.0 / 2.0) / (7.0 + 1.0 / 3f64.log2());
        assert!((reversed - expected).abs() < 1e-9, "{reversed} vs {expected}");
        assert!((recall(&ranking(&["b", "x"]), &judged) - 0.5).abs() < 1e-9);
        assert_eq!(ndcg(&ranking(&["x"]), &grades(&[("x", 0)])), 0.0);
    }
}
