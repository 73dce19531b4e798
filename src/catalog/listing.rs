//! Keyset-paginated product listings.
//!
//! Every sort order is a key column plus the id as tie-breaker, walked through an index. A page
//! is read with `WHERE (key, id) > (cursor key, cursor id)` (or `<`, by direction) and `LIMIT n + 1`,
//! never `OFFSET`, so pages stay stable while products are inserted and cost the same at page
//! 1 and page 10,000.

use async_graphql::Enum;
use chrono::{DateTime, Utc};
use entity::product;
use sea_orm::ExprTrait;
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{Condition, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;

use super::filter::ProductCriteria;
use super::service;
use crate::db::Db;
use crate::error::AppResult;
use crate::graphql::pagination::{Cursor, Direction, Page, PageRequest, malformed_cursor};

/// Orders in which products can be listed.
#[derive(Enum, Clone, Copy, Debug, Default, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum ProductSort {
    /// Most recently created first.
    #[default]
    Newest,
    /// Cheapest first (compares minor units; filter by one currency for a meaningful order).
    PriceAsc,
    /// Most expensive first.
    PriceDesc,
    /// By title, A to Z.
    TitleAsc,
    /// By title, Z to A.
    TitleDesc,
}

impl ProductSort {
    /// The name written into cursors: the GraphQL value's.
    pub fn name(self) -> &'static str {
        self.into()
    }

    fn column(self) -> product::Column {
        match self {
            Self::Newest => product::Column::CreatedAt,
            Self::PriceAsc | Self::PriceDesc => product::Column::PriceMinor,
            Self::TitleAsc | Self::TitleDesc => product::Column::Title,
        }
    }

    fn ascending(self) -> bool {
        matches!(self, Self::PriceAsc | Self::TitleAsc)
    }

    /// The cursor of a product in this order.
    pub fn cursor(self, product: &product::Model) -> Cursor {
        let key = match self {
            Self::Newest => json!(product.created_at.to_rfc3339()),
            Self::PriceAsc | Self::PriceDesc => json!(product.price_minor),
            Self::TitleAsc | Self::TitleDesc => json!(product.title),
        };
        Cursor::new(self.name(), key, product.id)
    }

    /// The cursor's key as a SQL value of this order's column.
    fn key_value(self, cursor: &Cursor) -> AppResult<SimpleExpr> {
        let malformed = malformed_cursor;
        Ok(match self {
            Self::Newest => {
                let text = cursor.key.as_str().ok_or_else(malformed)?;
                let time = DateTime::parse_from_rfc3339(text).map_err(|_| malformed())?.with_timezone(&Utc);
                Expr::value(time)
            }
            Self::PriceAsc | Self::PriceDesc => Expr::value(cursor.key.as_i64().ok_or_else(malformed)?),
            Self::TitleAsc | Self::TitleDesc => Expr::value(cursor.key.as_str().ok_or_else(malformed)?.to_owned()),
        })
    }
}

/// Lists one page of the products matching `criteria`, in `sort` order.
///
/// Costs one SQL statement, plus one to look up the category when filtering by category.
///
/// # Errors
/// `BAD_USER_INPUT` for a cursor of another shape, `NOT_FOUND` for an unknown category filter,
/// `INTERNAL` when the store fails.
#[tracing::instrument(skip_all, fields(sort = sort.name(), limit = page.limit), err(Debug, level = "debug"))]
pub async fn list_products(
    db: &Db,
    criteria: &ProductCriteria,
    sort: ProductSort,
    page: &PageRequest,
) -> AppResult<Page<product::Model>> {
    let forward = page.direction == Direction::Forward;
    // Reading backward walks the index the other way, then restores the requested order.
    let ascending = sort.ascending() == forward;
    let order = if ascending { Order::Asc } else { Order::Desc };

    let mut condition = condition(db, criteria).await?;
    if let Some(cursor) = &page.cursor {
        condition = condition.add(after_cursor(sort, cursor, ascending)?);
    }
    let products = product::Entity::find()
        .filter(condition)
        .order_by(sort.column(), order.clone())
        .order_by(product::Column::Id, order)
        .limit(page.fetch_limit())
        .all(db.conn())
        .await?;
    Ok(Page::from_overfetch(products, page))
}

/// Counts the products matching `criteria`.
///
/// # Errors
/// `NOT_FOUND` for an unknown category filter, `INTERNAL` when the store fails.
pub async fn count_products(db: &Db, criteria: &ProductCriteria) -> AppResult<u64> {
    Ok(product::Entity::find().filter(condition(db, criteria).await?).count(db.conn()).await?)
}

/// The SQL condition selecting the products `criteria` matches (looking up the category's
/// materialised path when it filters by category).
///
/// # Errors
/// `NOT_FOUND` for an unknown category filter, `INTERNAL` when the store fails.
pub async fn condition(db: &Db, criteria: &ProductCriteria) -> AppResult<Condition> {
    let category_path = match criteria.category {
        Some(id) => Some(service::category_by_id(db, id).await?.path),
        None => None,
    };
    Ok(criteria.condition(db.backend(), category_path.as_deref()))
}

/// `(key, id) > (cursor key, cursor id)` when walking up the index, `<` when walking down.
///
/// Written as one row-value comparison, which both stores turn into a range of the `(key, id)`
/// index. The equivalent `key > k OR (key = k AND id > i)` is only a filter: the walk would start
/// at the first product and step over every earlier page's rows.
fn after_cursor(sort: ProductSort, cursor: &Cursor, ascending: bool) -> AppResult<Condition> {
    let row = Expr::tuple([Expr::col(sort.column()), Expr::col(product::Column::Id)]);
    let at = Expr::tuple([sort.key_value(cursor)?, Expr::value(cursor.id)]);
    Ok(Condition::all().add(if ascending { row.gt(at) } else { row.lt(at) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_name_their_order() {
        assert_eq!(ProductSort::PriceDesc.name(), "PRICE_DESC");
        assert!(ProductSort::TitleAsc.ascending());
        assert!(!ProductSort::Newest.ascending());
    }
}
