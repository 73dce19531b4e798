//! The lexical side: PostgreSQL full-text search or SQLite FTS5, with the catalog filter in the
//! same statement so every candidate already passes it.
//!
//! Every word must match for the first results; when that leaves less than a page, the
//! products matching any of the words follow (ranked by the same weighted score, so those
//! matching more words and better fields come first), and a query with one word that matches
//! nothing still finds what the others name.

use entity::product;
use sea_orm::sea_query::{Alias, Expr, Order, Query, SelectStatement, SimpleExpr};
use sea_orm::{Condition, ConnectionTrait, DatabaseBackend};
use uuid::Uuid;

use super::bm25::{self, CorpusStats};
use super::query::TextQuery;
use crate::db::Db;
use crate::error::AppResult;

/// Column weights of SQLite's bm25: title, brand, category, details, description (the same
/// order of importance as PostgreSQL's A, B, B, C, D weights).
const BM25: &str = r#"bm25("product_fts", 10.0, 4.0, 4.0, 2.0, 1.0)"#;

/// A lexical match: the product and its title (an exact title match ranks first).
#[derive(Clone, Debug)]
pub struct LexicalHit {
    /// The product.
    pub id: Uuid,
    /// Its title.
    pub title: String,
}

/// Below this many products matching every word, the products matching any word follow.
pub const FULL_PAGE: usize = 24;

/// `query` without its groups no product holds (see [`groups_found`]), or `None` when no
/// product holds any: the query that is ranked, and answers the same.
///
/// # Errors
/// When the store fails.
pub async fn kept(db: &Db, corpus: &CorpusStats, query: &TextQuery) -> AppResult<Option<TextQuery>> {
    let found = groups_found(db, corpus, query).await?;
    Ok(found.contains(&true).then(|| query.keeping(&found)))
}

/// The best `limit` products for `query` among those passing `condition`, best first: those
/// matching every word, then, when they are fewer than [`FULL_PAGE`], those matching any. Every
/// word is taken as it is: [`kept`] leaves out first those no product holds.
///
/// # Errors
/// When the store fails.
pub async fn ranked(
    db: &Db,
    corpus: &CorpusStats,
    query: &TextQuery,
    condition: Condition,
    limit: u64,
) -> AppResult<Vec<LexicalHit>> {
    let mut hits = search_all_words(db, corpus, query, condition.clone(), limit).await?;
    let short = hits.len() < FULL_PAGE && (hits.len() as u64) < limit;
    if let Some(relaxed) = query.relaxed().filter(|_| short) {
        let seen: std::collections::HashSet<Uuid> = hits.iter().map(|h| h.id).collect();
        let more = search_all_words(db, corpus, &relaxed, condition, limit).await?;
        let room = usize::try_from(limit).unwrap_or(usize::MAX).saturating_sub(hits.len());
        hits.extend(more.into_iter().filter(|h| !seen.contains(&h.id)).take(room));
    }
    Ok(hits)
}

/// Whether any product holds each group of `query` (whatever the filter), so the groups no
/// product holds (a word the catalog never uses) are left out before ranking: the products
/// matching all the other words come first, instead of none matching all and every product
/// matching any word being ranked. A query of one group is not probed: it is its own answer.
/// On PostgreSQL the groups' lexemes are counted (`CorpusStats::count`, kept while not zero);
/// on SQLite FTS5 looks for one match of each.
async fn groups_found(db: &Db, corpus: &CorpusStats, query: &TextQuery) -> AppResult<Vec<bool>> {
    let groups = query.each_group();
    if groups.len() < 2 {
        return Ok(vec![true; groups.len()]);
    }
    let backend = db.backend();
    let probes: Vec<SimpleExpr> = match backend {
        DatabaseBackend::Postgres => groups.iter().map(|group| tsquery(group, "{}::text")).collect(),
        _ => groups
            .iter()
            .map(|group| {
                let probe = "EXISTS (SELECT 1 FROM product_fts WHERE product_fts MATCH ?)";
                Expr::cust_with_values(probe, [group.to_fts5()])
            })
            .collect(),
    };
    let mut select = Query::select();
    select.exprs(probes);
    let row = db.conn().query_one(&select).await?;
    let Some(row) = row else { return Ok(vec![true; groups.len()]) };
    if backend != DatabaseBackend::Postgres {
        return (0..groups.len()).map(|i| Ok(row.try_get_by_index::<bool>(i)?)).collect();
    }
    let terms: Vec<Vec<bm25::Term>> = (0..groups.len())
        .map(|i| Ok(bm25::terms_of_tsquery(&row.try_get_by_index::<String>(i)?)))
        .collect::<AppResult<_>>()?;
    let every: Vec<bm25::Term> = terms.iter().flatten().cloned().collect();
    let held: std::collections::HashSet<&bm25::Term> =
        every.iter().zip(corpus.count(db, &every).await?).filter(|(_, n)| *n > 0).map(|(term, _)| term).collect();
    // A group of words the configuration ignores has no terms: it cannot be judged.
    Ok(terms.iter().map(|group| group.is_empty() || group.iter().any(|term| held.contains(term))).collect())
}

/// The best `limit` products matching every group of `query` and `condition`, best first. On
/// PostgreSQL the matches come in the index's rank order and are ranked again with BM25 (see
/// [`super::bm25`]); SQLite's FTS5 ranks with BM25 itself.
///
/// # Errors
/// When the store fails.
pub async fn search_all_words(
    db: &Db,
    corpus: &CorpusStats,
    query: &TextQuery,
    condition: Condition,
    limit: u64,
) -> AppResult<Vec<LexicalHit>> {
    if db.backend() == DatabaseBackend::Sqlite {
        // The best matches from FTS5 alone, then the filter: exact whenever a page's worth of
        // them passes (every passing match outside them ranks below), else the whole plan.
        let first = limit.saturating_mul(FTS_FIRST);
        let (hits, read) = sqlite_first_matches(db, query, condition.clone(), limit, first).await?;
        if hits.len() as u64 >= limit || read < first {
            return Ok(hits);
        }
    }
    let mut select = Query::select();
    select
        .column((product::Entity, product::Column::Id))
        .column((product::Entity, product::Column::Title))
        .from(product::Entity)
        .cond_where(condition);
    let ranked = db.ranked_full_text().await?;
    matching(&mut select, db.backend(), ranked, query);
    if !ranked {
        // A second sort key would keep the index from returning rows in rank order.
        select.order_by((product::Entity, product::Column::Id), Order::Asc);
    }
    select.limit(limit);
    if db.backend() != DatabaseBackend::Postgres {
        return hits_of(&db.conn().query_all(&select).await?);
    }
    select
        .expr_as(Expr::cust(r#""products"."search_vector"::text"#), Alias::new("terms"))
        .expr_as(tsquery(query, "{}::text"), Alias::new("query"));
    let rows = db.conn().query_all(&select).await?;
    let hits = hits_of(&rows)?;
    let Some(first) = rows.first() else { return Ok(hits) };
    let (terms, average_length) =
        corpus.weigh(db, bm25::terms_of_tsquery(&first.try_get::<String>("", "query")?)).await?;
    let mut scored = Vec::with_capacity(rows.len());
    for (row, hit) in rows.iter().zip(hits) {
        let document = bm25::Document::parse(&row.try_get::<String>("", "terms")?);
        scored.push((document.score(&terms, average_length), hit));
    }
    // A stable sort: the index's order decides between equal scores.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    Ok(scored.into_iter().map(|(_, hit)| hit).collect())
}

/// The hits of rows holding `id` and `title`, in their order.
fn hits_of(rows: &[sea_orm::QueryResult]) -> AppResult<Vec<LexicalHit>> {
    rows.iter().map(|row| Ok(LexicalHit { id: row.try_get("", "id")?, title: row.try_get("", "title")? })).collect()
}

/// How many of the best FTS5 matches, per hit wanted, are read before the catalog filter.
const FTS_FIRST: u64 = 4;

/// The best `limit` products passing `condition` among the `first` best FTS5 matches of
/// `query`, with how many matches were read (fewer than `first`: there are no more). FTS5
/// ranks on its own table, without a join per match.
async fn sqlite_first_matches(
    db: &Db,
    query: &TextQuery,
    condition: Condition,
    limit: u64,
    first: u64,
) -> AppResult<(Vec<LexicalHit>, u64)> {
    let mut best = Query::select();
    best.expr_as(Expr::cust(r#""product_fts"."rowid""#), Alias::new("row_id"))
        .expr_as(Expr::cust(BM25), Alias::new("score"))
        .from(Alias::new("product_fts"))
        .and_where(Expr::cust_with_values(r#""product_fts" MATCH ?"#, [query.to_fts5()]))
        .order_by(Alias::new("score"), Order::Asc)
        .limit(first);
    let mut read = Query::select();
    read.expr(Expr::cust("COUNT(*)")).from_subquery(best.clone(), Alias::new("best"));
    let mut select = Query::select();
    select
        .column((product::Entity, product::Column::Id))
        .column((product::Entity, product::Column::Title))
        .from_subquery(best, Alias::new("best"))
        .inner_join(
            Alias::new("product_search_rows"),
            Expr::cust(r#""product_search_rows"."row_id" = "best"."row_id""#),
        )
        .inner_join(product::Entity, Expr::cust(r#""products"."id" = "product_search_rows"."product_id""#))
        .cond_where(condition)
        .order_by((Alias::new("best"), Alias::new("score")), Order::Asc)
        .order_by((product::Entity, product::Column::Id), Order::Asc)
        .limit(limit);
    let rows = db.conn().query_all(&select).await?;
    let hits = hits_of(&rows)?;
    if hits.len() as u64 >= limit {
        return Ok((hits, first));
    }
    let count: i64 = db.conn().query_one(&read).await?.map_or(Ok(0), |row| row.try_get_by_index(0))?;
    Ok((hits, u64::try_from(count).unwrap_or(0)))
}

/// `query` as a PostgreSQL `tsquery`, written into `sql` at its `{}`.
///
/// The word being typed matches as a prefix of its stem or of itself as typed: the `english`
/// configuration stems "zephy" to "zephi", which does not begin "zephyr", so the word as typed
/// (the `simple` configuration) is asked for too, beside the query's other words.
fn tsquery(query: &TextQuery, sql: &str) -> SimpleExpr {
    let (template, values) = match query.typed_word() {
        None => ("to_tsquery('english', $1)", vec![query.to_tsquery()]),
        Some((word, None)) => {
            ("(to_tsquery('english', $1) || to_tsquery('simple', $2))", vec![query.to_tsquery(), format!("'{word}':*")])
        }
        Some((word, Some(others))) => (
            "(to_tsquery('english', $1) || (to_tsquery('english', $2) && to_tsquery('simple', $3)))",
            vec![query.to_tsquery(), others.to_tsquery(), format!("'{word}':*")],
        ),
    };
    Expr::cust_with_values(sql.replacen("{}", template, 1), values)
}

/// Restricts `select` (over `products`) to the products matching `query`, best first. With
/// `ranked`, PostgreSQL's RUM index returns the matches in rank order (its `<=>` distance is
/// the inverse of the same weighted rank), so a `LIMIT` stops reading early.
fn matching(select: &mut SelectStatement, backend: DatabaseBackend, ranked: bool, query: &TextQuery) {
    match backend {
        DatabaseBackend::Postgres => {
            let (rank, order) = if ranked {
                (r#""products"."search_vector" <=> {}"#, Order::Asc)
            } else {
                (r#"ts_rank("products"."search_vector", {})"#, Order::Desc)
            };
            select
                .and_where(tsquery(query, r#""products"."search_vector" @@ {}"#))
                .order_by_expr(tsquery(query, rank), order);
        }
        _ => {
            select
                .inner_join(
                    Alias::new("product_search_rows"),
                    Expr::cust(r#""product_search_rows"."product_id" = "products"."id""#),
                )
                .inner_join(
                    Alias::new("product_fts"),
                    Expr::cust(r#""product_fts"."rowid" = "product_search_rows"."row_id""#),
                )
                .and_where(Expr::cust_with_values(r#""product_fts" MATCH ?"#, [query.to_fts5()]))
                .order_by_expr(Expr::cust(BM25), Order::Asc);
        }
    }
}
