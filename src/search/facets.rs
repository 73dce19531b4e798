//! Facet counts over the products a search matched: categories, vendors, brands, sizes,
//! conditions and price buckets, in one query.

use std::collections::BTreeMap;

use entity::product;
use sea_orm::{ActiveEnum, ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::db::Db;
use crate::error::AppResult;

/// Facet counts over a set of products.
#[derive(Clone, Debug, Default)]
pub struct Facets {
    /// Products per category id.
    pub categories: Vec<(Uuid, u64)>,
    /// Products per vendor id.
    pub vendors: Vec<(Uuid, u64)>,
    /// Products per brand.
    pub brands: Vec<(String, u64)>,
    /// Products per size.
    pub sizes: Vec<(String, u64)>,
    /// Products per condition.
    pub conditions: Vec<(entity::ProductCondition, u64)>,
    /// Products per price bucket: currency, inclusive lower bound and exclusive upper bound in
    /// minor units (none for the last bucket).
    pub prices: Vec<(String, i64, Option<i64>, u64)>,
}

/// Price bucket edges in major units.
const PRICE_EDGES: [i64; 7] = [0, 50, 100, 250, 500, 1_000, 2_500];

/// Counts facets over the products `ids`, most frequent first (ties by value).
///
/// # Errors
/// When the store fails.
pub async fn facets(db: &Db, ids: &[Uuid]) -> AppResult<Facets> {
    type Row = (Uuid, Uuid, Option<String>, Option<String>, Option<entity::ProductCondition>, String, i64);
    let mut rows: Vec<Row> = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(1_000) {
        let found: Vec<Row> = product::Entity::find()
            .select_only()
            .columns([
                product::Column::CategoryId,
                product::Column::VendorId,
                product::Column::Brand,
                product::Column::Size,
                product::Column::Condition,
                product::Column::Currency,
                product::Column::PriceMinor,
            ])
            .filter(product::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db.conn())
            .await?;
        rows.extend(found);
    }
    let mut prices: Vec<(String, i64, Option<i64>, u64)> = counted(rows.iter().map(|r| price_bucket(&r.5, r.6)))
        .into_iter()
        .map(|((currency, low, high), n)| (currency, low, high, n))
        .collect();
    prices.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    Ok(Facets {
        categories: counted(rows.iter().map(|r| r.0)),
        vendors: counted(rows.iter().map(|r| r.1)),
        brands: counted(rows.iter().filter_map(|r| r.2.clone())),
        sizes: counted(rows.iter().filter_map(|r| r.3.clone())),
        conditions: counted(rows.iter().filter_map(|r| r.4.map(|c| c.to_value())))
            .into_iter()
            .filter_map(|(value, n)| entity::ProductCondition::try_from_value(&value).ok().map(|c| (c, n)))
            .collect(),
        prices,
    })
}

/// Values with how often they occur, most frequent first (ties by value).
fn counted<K: Ord>(values: impl Iterator<Item = K>) -> Vec<(K, u64)> {
    let mut counts: BTreeMap<K, u64> = BTreeMap::new();
    for value in values {
        *counts.entry(value).or_default() += 1;
    }
    let mut counts: Vec<(K, u64)> = counts.into_iter().collect();
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    counts
}

/// The price bucket of an amount: currency, lower bound (inclusive) and upper bound
/// (exclusive, none for the last bucket) in minor units.
fn price_bucket(currency: &str, minor: i64) -> (String, i64, Option<i64>) {
    let unit = crate::money::Currency::parse(currency).map_or(100, |c| 10i64.pow(u32::from(c.exponent())));
    let major = minor / unit;
    let index = PRICE_EDGES.iter().rposition(|edge| major >= *edge).unwrap_or(0);
    (currency.to_owned(), PRICE_EDGES[index] * unit, PRICE_EDGES.get(index + 1).map(|edge| edge * unit))
}
