//! The dashboard's figures, each computed by the store in one aggregate query: no rows are
//! loaded into the process to be added up. Both stores run the same SQL but for the date
//! buckets of the time series.
//!
//! Definitions (also in docs/ADMIN.md): a *sale* is an order line of an order paid within the
//! period (`orders.paid_at`), whatever happened to the order later; revenue is the sum of those
//! lines' totals, in one currency; refunds are the line totals of orders refunded within the
//! period (`closed_at`). A vendor's figures count its own lines and products only.
//!
//! Sales are read from the `sales` table (each line of a paid order with its `paid_at`, kept by
//! triggers), whose index on (currency, paid_at) covers every column the figures read: a figure
//! is a range scan of the period's sales, never a join of all order lines to their orders.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, QueryResult, Statement, Value};
use uuid::Uuid;

use crate::db::Db;
use crate::error::{AppError, AppResult};

/// What the figures are about.
#[derive(Clone, Copy, Debug)]
pub struct Scope<'a> {
    /// Start, inclusive.
    pub from: DateTime<Utc>,
    /// End, exclusive.
    pub to: DateTime<Utc>,
    /// ISO 4217 code: figures are never summed across currencies.
    pub currency: &'a str,
    /// One vendor's lines and products only.
    pub vendor: Option<Uuid>,
}

impl Scope<'_> {
    /// The equal-length period just before this one.
    #[must_use]
    pub fn previous(&self) -> Self {
        Self { from: self.from - (self.to - self.from), to: self.from, ..*self }
    }
}

/// Sales within a period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sales {
    /// Sum of the sold lines' totals, in minor units.
    pub revenue: i64,
    /// Orders with at least one sold line.
    pub orders: i64,
    /// Units sold.
    pub units: i64,
    /// Line totals of orders refunded within the period.
    pub refunds: i64,
}

/// Stock on sale now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Inventory {
    /// Units in stock of products on sale.
    pub units: i64,
    /// Those units at their recorded cost (products without one count nothing).
    pub at_cost: i64,
    /// Those units at their price.
    pub at_price: i64,
}

/// One row of a ranking: what, its revenue and units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ranked {
    /// The category, vendor or product.
    pub id: Uuid,
    /// Revenue in minor units.
    pub revenue: i64,
    /// Units sold.
    pub units: i64,
}

/// What a ranking groups by.
#[derive(Clone, Copy, Debug)]
pub enum RankBy {
    /// The product's category.
    Category,
    /// The selling vendor.
    Vendor,
    /// The product.
    Product,
}

/// Time series buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    /// Calendar days (UTC).
    Day,
    /// Weeks starting on Monday (UTC).
    Week,
}

/// A statement whose `?` placeholders are renumbered for PostgreSQL.
fn statement(backend: DatabaseBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DatabaseBackend::Postgres => {
            let mut numbered = String::with_capacity(sql.len() + 8);
            let mut n = 0;
            for c in sql.chars() {
                if c == '?' {
                    n += 1;
                    numbered.push_str(&format!("${n}"));
                } else {
                    numbered.push(c);
                }
            }
            numbered
        }
        _ => sql.to_owned(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// The lines sold in `scope`, as `s`.
const SOLD: &str = "FROM sales s WHERE s.paid_at >= ? AND s.paid_at < ? AND s.currency = ?";

/// The values of a period's bounds and currency, in that order.
fn sold_values(scope: &Scope<'_>) -> Vec<Value> {
    vec![scope.from.into(), scope.to.into(), scope.currency.into()]
}

/// `AND ol.vendor_id = ?` for a vendor's scope.
fn vendor_clause(scope: &Scope<'_>, column: &str, values: &mut Vec<Value>) -> String {
    match scope.vendor {
        Some(vendor) => {
            values.push(vendor.into());
            format!(" AND {column} = ?")
        }
        None => String::new(),
    }
}

async fn one(db: &Db, sql: &str, values: Vec<Value>) -> AppResult<QueryResult> {
    let conn = db.conn();
    conn.query_one_raw(statement(conn.get_database_backend(), sql, values))
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("an aggregate returned no row")))
}

fn int(row: &QueryResult, column: &str) -> AppResult<i64> {
    Ok(row.try_get::<i64>("", column)?)
}

/// How to count the orders paid in a scope: the whole shop's on `orders` (one row per order,
/// and every paid order has lines in its currency), a vendor's (those with a line of its own)
/// on its sales.
struct PaidOrders {
    /// The count, as an SQL expression.
    count: &'static str,
    /// `FROM … WHERE …` of the scope.
    from: String,
    /// The rows' payment time, as an SQL expression (to group by).
    paid_at: &'static str,
    values: Vec<Value>,
}

impl PaidOrders {
    fn of(scope: &Scope<'_>) -> Self {
        let mut values = sold_values(scope);
        match scope.vendor {
            None => Self {
                count: "COUNT(*)",
                from: "FROM orders o WHERE o.paid_at >= ? AND o.paid_at < ? AND o.currency = ?".to_owned(),
                paid_at: "o.paid_at",
                values,
            },
            Some(_) => {
                let vendor = vendor_clause(scope, "s.vendor_id", &mut values);
                Self {
                    count: "COUNT(DISTINCT s.order_id)",
                    from: format!("{SOLD}{vendor}"),
                    paid_at: "s.paid_at",
                    values,
                }
            }
        }
    }
}

/// Revenue, orders, units and refunds of a period.
///
/// # Errors
/// When the store fails.
pub async fn sales(db: &Db, scope: &Scope<'_>) -> AppResult<Sales> {
    let mut values = sold_values(scope);
    let vendor = vendor_clause(scope, "s.vendor_id", &mut values);
    let sold = one(
        db,
        &format!(
            "SELECT CAST(COALESCE(SUM(s.line_total_minor), 0) AS BIGINT) AS revenue,
                    CAST(COALESCE(SUM(s.quantity), 0) AS BIGINT) AS units {SOLD}{vendor}"
        ),
        values,
    )
    .await?;
    let paid = PaidOrders::of(scope);
    let orders =
        one(db, &format!("SELECT CAST({} AS BIGINT) AS orders {}", paid.count, paid.from), paid.values).await?;
    // Few orders are refunded: their lines are reached through the orders, by `closed_at`.
    let mut values = sold_values(scope);
    let vendor = vendor_clause(scope, "ol.vendor_id", &mut values);
    let refunded = one(
        db,
        &format!(
            "SELECT CAST(COALESCE(SUM(ol.line_total_minor), 0) AS BIGINT) AS refunds
             FROM order_lines ol JOIN orders o ON o.id = ol.order_id
             WHERE o.status = 'REFUNDED' AND o.closed_at >= ? AND o.closed_at < ? AND ol.currency = ?{vendor}"
        ),
        values,
    )
    .await?;
    Ok(Sales {
        revenue: int(&sold, "revenue")?,
        orders: int(&orders, "orders")?,
        units: int(&sold, "units")?,
        refunds: int(&refunded, "refunds")?,
    })
}

/// Units and value of the stock on sale now.
///
/// # Errors
/// When the store fails.
pub async fn inventory(db: &Db, scope: &Scope<'_>) -> AppResult<Inventory> {
    let mut values: Vec<Value> = vec![scope.currency.into()];
    let vendor = vendor_clause(scope, "vendor_id", &mut values);
    let row = one(
        db,
        &format!(
            "SELECT CAST(COALESCE(SUM(stock), 0) AS BIGINT) AS units,
                    CAST(COALESCE(SUM(stock * COALESCE(cost_minor, 0)), 0) AS BIGINT) AS at_cost,
                    CAST(COALESCE(SUM(stock * price_minor), 0) AS BIGINT) AS at_price
             FROM products WHERE status = 'ACTIVE' AND stock > 0 AND currency = ?{vendor}"
        ),
        values,
    )
    .await?;
    Ok(Inventory { units: int(&row, "units")?, at_cost: int(&row, "at_cost")?, at_price: int(&row, "at_price")? })
}

/// The `limit` categories, vendors or products with the most revenue in a period.
///
/// # Errors
/// When the store fails.
pub async fn top(db: &Db, scope: &Scope<'_>, by: RankBy, limit: u64) -> AppResult<Vec<Ranked>> {
    // A category is the product's as it is now, read by primary key for each sale.
    let (key, join) = match by {
        RankBy::Category => ("p.category_id", " JOIN products p ON p.id = s.product_id"),
        RankBy::Vendor => ("s.vendor_id", ""),
        RankBy::Product => ("s.product_id", ""),
    };
    let mut values = sold_values(scope);
    let vendor = vendor_clause(scope, "s.vendor_id", &mut values);
    values.push(i64::try_from(limit).unwrap_or(10).into());
    let sql = format!(
        "SELECT {key} AS id, CAST(SUM(s.line_total_minor) AS BIGINT) AS revenue,
                CAST(SUM(s.quantity) AS BIGINT) AS units
         FROM sales s{join}
         WHERE s.paid_at >= ? AND s.paid_at < ? AND s.currency = ?{vendor}
         GROUP BY {key} ORDER BY revenue DESC, {key} LIMIT ?"
    );
    let conn = db.conn();
    let rows = conn.query_all_raw(statement(conn.get_database_backend(), &sql, values)).await?;
    rows.iter()
        .map(|row| Ok(Ranked { id: row.try_get("", "id")?, revenue: int(row, "revenue")?, units: int(row, "units")? }))
        .collect()
}

/// The SQL of the bucket holding the moment `column` (grouped on), and of its first day as
/// `YYYY-MM-DD` (UTC) from the grouped `bucket`: PostgreSQL formats once per bucket, not once
/// per sale.
fn bucket_of(backend: DatabaseBackend, bucket: Bucket, column: &str) -> (String, &'static str) {
    let unit = match bucket {
        Bucket::Day => "day",
        Bucket::Week => "week",
    };
    match (backend, bucket) {
        (DatabaseBackend::Postgres, _) => {
            (format!("date_trunc('{unit}', {column} AT TIME ZONE 'UTC')"), "to_char(t.bucket, 'YYYY-MM-DD')")
        }
        (_, Bucket::Day) => (format!("date({column})"), "t.bucket"),
        (_, Bucket::Week) => (format!("date({column}, '-6 days', 'weekday 1')"), "t.bucket"),
    }
}

/// Revenue and orders per bucket of a period, as (bucket start as `YYYY-MM-DD`, revenue,
/// orders), for the buckets that have sales; the caller fills the gaps.
///
/// # Errors
/// When the store fails.
pub async fn series(db: &Db, scope: &Scope<'_>, bucket: Bucket) -> AppResult<Vec<(String, i64, i64)>> {
    let conn = db.conn();
    let backend = conn.get_database_backend();
    let (sold_bucket, start) = bucket_of(backend, bucket, "s.paid_at");
    let mut values = sold_values(scope);
    let vendor = vendor_clause(scope, "s.vendor_id", &mut values);
    let parts = match scope.vendor {
        // A vendor's orders are counted on its own sales, in the same pass.
        Some(_) => format!(
            "SELECT {sold_bucket} AS bucket, SUM(s.line_total_minor) AS revenue, COUNT(DISTINCT s.order_id) AS orders
             {SOLD}{vendor} GROUP BY {sold_bucket}"
        ),
        None => {
            let paid = PaidOrders::of(scope);
            let (paid_bucket, _) = bucket_of(backend, bucket, paid.paid_at);
            values.extend(paid.values);
            format!(
                "SELECT {sold_bucket} AS bucket, SUM(s.line_total_minor) AS revenue, 0 AS orders
                 {SOLD} GROUP BY {sold_bucket}
                 UNION ALL
                 SELECT {paid_bucket} AS bucket, 0 AS revenue, {count} AS orders {from} GROUP BY {paid_bucket}",
                count = paid.count,
                from = paid.from,
            )
        }
    };
    let sql = format!(
        "SELECT {start} AS bucket, CAST(SUM(t.revenue) AS BIGINT) AS revenue, CAST(SUM(t.orders) AS BIGINT) AS orders
         FROM ({parts}) t GROUP BY t.bucket ORDER BY t.bucket"
    );
    let rows = conn.query_all_raw(statement(backend, &sql, values)).await?;
    rows.iter()
        .map(|row| Ok((row.try_get::<String>("", "bucket")?, int(row, "revenue")?, int(row, "orders")?)))
        .collect()
}
