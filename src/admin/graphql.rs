//! `adminDashboard`: the console's key figures for a period, a currency and optionally a vendor.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject, Subscription};
use chrono::{DateTime, Datelike, Duration, Utc};
use futures_util::{FutureExt, Stream, StreamExt};
use uuid::Uuid;

use super::kpis::{self, Bucket, Inventory, RankBy, Ranked, Sales, Scope};
use crate::catalog::loaders::CatalogLoaders;
use crate::catalog::types::{Category, Product, Vendor};
use crate::config::EventSettings;
use crate::db::Db;
use crate::error::AppError;
use crate::events::Hub;
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::scalars::Money;
use crate::graphql::state::State;
use crate::identity::guards::{Require, viewer};
use crate::identity::viewer::Permission;
use crate::money::Currency;

/// Longest period a dashboard covers.
const MAX_DAYS: i64 = 366;
/// Rows in each ranking.
const TOP: u64 = 5;
/// Products in the low-stock list.
const LOW_STOCK_ROWS: u64 = 10;

/// A period given by name, ending now.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeriodPreset {
    /// The last 7 × 24 hours.
    Last7Days,
    /// The last 30 × 24 hours.
    Last30Days,
    /// The last 90 × 24 hours.
    Last90Days,
    /// The last 365 × 24 hours.
    Last365Days,
}

/// The period of a dashboard: a `preset`, or `from` and `to`. Neither is `LAST_30_DAYS`.
#[derive(InputObject, Default, Clone)]
pub struct DashboardPeriod {
    /// A named period ending now.
    pub preset: Option<PeriodPreset>,
    /// Start, inclusive.
    pub from: Option<DateTime<Utc>>,
    /// End, exclusive; at most 366 days after `from`.
    pub to: Option<DateTime<Utc>>,
}

impl DashboardPeriod {
    fn resolve(&self, now: DateTime<Utc>) -> Result<(DateTime<Utc>, DateTime<Utc>), AppError> {
        let days = |n| Ok((now - Duration::days(n), now));
        match (self.preset, self.from, self.to) {
            (Some(PeriodPreset::Last7Days), None, None) => days(7),
            (Some(PeriodPreset::Last30Days), None, None) | (None, None, None) => days(30),
            (Some(PeriodPreset::Last90Days), None, None) => days(90),
            (Some(PeriodPreset::Last365Days), None, None) => days(365),
            (None, Some(from), Some(to)) if from < to && to - from <= Duration::days(MAX_DAYS) => Ok((from, to)),
            (None, Some(_), Some(_)) => {
                Err(AppError::bad_input(format!("`from` must come before `to`, at most {MAX_DAYS} days apart")))
            }
            _ => Err(AppError::bad_input("give a `preset`, or both `from` and `to`")),
        }
    }
}

/// Buckets of the time series.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granularity {
    /// Calendar days, UTC.
    Day,
    /// Weeks from Monday, UTC.
    Week,
}

/// Admin queries.
#[derive(Default)]
pub struct AdminQuery;

/// Who may read which vendor's dashboard: a vendor its own, staff any or all.
fn dashboard_vendor(ctx: &Context<'_>, vendor_id: Option<ID>) -> Result<Option<Uuid>> {
    let viewer = viewer(ctx);
    Ok(match viewer.vendor_id() {
        Some(own) if !viewer.can(Permission::AnalyticsRead) => Some(own),
        _ => vendor_id.map(|id| GlobalId::parse_as(&id, NodeType::Vendor)).transpose()?,
    })
}

/// A dashboard's request, resolved again against the clock for each live update.
struct DashboardRequest {
    period: DashboardPeriod,
    currency: Currency,
    vendor: Option<Uuid>,
}

impl DashboardRequest {
    fn new(
        ctx: &Context<'_>,
        period: Option<DashboardPeriod>,
        currency_code: &str,
        vendor_id: Option<ID>,
    ) -> Result<Self> {
        let request = Self {
            period: period.unwrap_or_default(),
            currency: Currency::parse(currency_code)?,
            vendor: dashboard_vendor(ctx, vendor_id)?,
        };
        request.at(crate::db::now())?;
        Ok(request)
    }

    fn at(&self, now: DateTime<Utc>) -> Result<AdminDashboard, AppError> {
        let (from, to) = self.period.resolve(now)?;
        Ok(AdminDashboard {
            from,
            to,
            currency: self.currency,
            vendor: self.vendor,
            sales: tokio::sync::OnceCell::new(),
        })
    }
}

/// Admin subscriptions.
#[derive(Default)]
pub struct AdminSubscription;

#[Subscription]
impl AdminSubscription {
    /// A fresh `adminDashboard` for the same arguments whenever an order or the stock in scope
    /// changed, at most once per `events.dashboard_interval_ms` (5 s), never when nothing did.
    #[graphql(guard = "Require::new(Permission::AnalyticsRead).or(Require::new(Permission::CatalogWriteOwn))")]
    async fn dashboard_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The period; the last 30 days when omitted.")] period: Option<DashboardPeriod>,
        currency_code: String,
        vendor_id: Option<ID>,
    ) -> Result<impl Stream<Item = AdminDashboard>> {
        let request = Arc::new(DashboardRequest::new(ctx, period, &currency_code, vendor_id)?);
        let interval =
            Duration::milliseconds(i64::try_from(ctx.state::<EventSettings>()?.dashboard_interval_ms).unwrap_or(5_000));
        let interval = interval.to_std().unwrap_or(std::time::Duration::from_secs(5));
        let vendor = request.vendor;
        let changes = ctx.state::<Hub>()?.subscribe().filter(move |event| {
            let in_scope = vendor.is_none_or(|v| event.audience.vendor_ids.contains(&v));
            futures_util::future::ready(in_scope)
        });
        let state = (Box::pin(changes), None::<tokio::time::Instant>);
        Ok(futures_util::stream::unfold(state, move |(mut changes, last)| {
            let request = Arc::clone(&request);
            async move {
                changes.next().await?;
                if let Some(last) = last {
                    tokio::time::sleep_until(last + interval).await;
                }
                // Whatever else changed meanwhile is in this update too.
                while let Some(Some(_)) = changes.next().now_or_never() {}
                let dashboard = request.at(crate::db::now()).ok()?;
                Some((dashboard, (changes, Some(tokio::time::Instant::now()))))
            }
        }))
    }
}

#[Object]
impl AdminQuery {
    /// Key figures for a period in one currency (figures are never summed across currencies),
    /// each beside the equal-length period before it. Staff see the whole shop or one vendor
    /// (`vendorId`); a vendor always sees its own figures, whatever it asks. Definitions in
    /// docs/ADMIN.md.
    #[graphql(guard = "Require::new(Permission::AnalyticsRead).or(Require::new(Permission::CatalogWriteOwn))")]
    async fn admin_dashboard(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The period; the last 30 days when omitted.")] period: Option<DashboardPeriod>,
        currency_code: String,
        vendor_id: Option<ID>,
    ) -> Result<AdminDashboard> {
        Ok(DashboardRequest::new(ctx, period, &currency_code, vendor_id)?.at(crate::db::now())?)
    }
}

/// A dashboard's parameters; each figure is computed when selected.
pub struct AdminDashboard {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    currency: Currency,
    vendor: Option<Uuid>,
    sales: tokio::sync::OnceCell<(Sales, Sales)>,
}

impl AdminDashboard {
    fn scope(&self) -> Scope<'_> {
        Scope { from: self.from, to: self.to, currency: self.currency.code(), vendor: self.vendor }
    }

    fn money(&self, minor: i64) -> Money {
        Money(crate::money::Money::from_minor(minor, self.currency))
    }

    /// This period's and the previous period's sales, read once however many figures use them.
    async fn sales(&self, ctx: &Context<'_>) -> Result<(Sales, Sales)> {
        let db = ctx.state::<Db>()?;
        let sales = self
            .sales
            .get_or_try_init(|| async {
                let (scope, previous) = (self.scope(), self.scope().previous());
                tokio::try_join!(kpis::sales(db, &scope), kpis::sales(db, &previous))
            })
            .await?;
        Ok(*sales)
    }

    /// An amount of this period beside the previous one's.
    fn money_figure(&self, (now, before): (Sales, Sales), figure: impl Fn(&Sales) -> i64) -> MoneyFigure {
        let (current, previous) = (figure(&now), figure(&before));
        MoneyFigure {
            current: self.money(current),
            previous: self.money(previous),
            change: change(current as f64, previous as f64),
        }
    }

    fn ranked<T>(rows: Vec<Ranked>, entity: impl Fn(Uuid) -> Option<T>) -> Vec<(T, Ranked)> {
        rows.into_iter().filter_map(|row| entity(row.id).map(|e| (e, row))).collect()
    }
}

/// A count of this period beside the previous one's.
fn count_figure((now, before): (Sales, Sales), figure: impl Fn(&Sales) -> i64) -> CountFigure {
    let (current, previous) = (figure(&now), figure(&before));
    CountFigure { current, previous, change: change(current as f64, previous as f64) }
}

/// The relative change from `previous` to `current`; null when `previous` is 0.
fn change(current: f64, previous: f64) -> Option<f64> {
    (previous != 0.0).then(|| (current - previous) / previous)
}

/// An amount, beside the previous period's.
#[derive(SimpleObject)]
pub struct MoneyFigure {
    /// This period.
    pub current: Money,
    /// The equal-length period before.
    pub previous: Money,
    /// `(current - previous) / previous`; null when the previous figure is zero.
    pub change: Option<f64>,
}

/// A count, beside the previous period's.
#[derive(SimpleObject)]
pub struct CountFigure {
    /// This period.
    pub current: i64,
    /// The equal-length period before.
    pub previous: i64,
    /// `(current - previous) / previous`; null when the previous figure is zero.
    pub change: Option<f64>,
}

/// A ratio between 0 and 1, beside the previous period's; null when undefined.
#[derive(SimpleObject)]
pub struct RatioFigure {
    /// This period.
    pub current: Option<f64>,
    /// The equal-length period before.
    pub previous: Option<f64>,
}

/// The value of the stock on sale now.
#[derive(SimpleObject)]
pub struct InventoryValue {
    /// Units in stock of products on sale.
    pub units: i64,
    /// At their recorded cost; products without one count nothing.
    pub at_cost: Money,
    /// At their price.
    pub at_price: Money,
}

/// A category's sales in the period.
#[derive(SimpleObject)]
pub struct CategorySales {
    /// The category.
    pub category: Category,
    /// Its revenue.
    pub revenue: Money,
    /// Units sold.
    pub units: i64,
}

/// A vendor's sales in the period.
#[derive(SimpleObject)]
pub struct VendorSales {
    /// The vendor.
    pub vendor: Vendor,
    /// Its revenue.
    pub revenue: Money,
    /// Units sold.
    pub units: i64,
}

/// A product's sales in the period.
#[derive(SimpleObject)]
pub struct ProductSales {
    /// The product.
    pub product: Product,
    /// Its revenue.
    pub revenue: Money,
    /// Units sold.
    pub units: i64,
}

/// One bucket of the time series.
#[derive(SimpleObject)]
pub struct SeriesPoint {
    /// The bucket's first day (UTC), `YYYY-MM-DD`.
    pub start: String,
    /// Revenue in the bucket.
    pub revenue: Money,
    /// Orders paid in the bucket.
    pub orders: i64,
}

#[Object]
impl AdminDashboard {
    /// Start of the period, inclusive.
    async fn from(&self) -> DateTime<Utc> {
        self.from
    }

    /// End of the period, exclusive.
    async fn to(&self) -> DateTime<Utc> {
        self.to
    }

    /// The vendor the figures are limited to, if any.
    async fn vendor_id(&self) -> Option<ID> {
        self.vendor.map(|id| GlobalId::encode(NodeType::Vendor, id))
    }

    /// Sum of the lines of the orders paid in the period.
    async fn revenue(&self, ctx: &Context<'_>) -> Result<MoneyFigure> {
        Ok(self.money_figure(self.sales(ctx).await?, |s| s.revenue))
    }

    /// Orders paid in the period.
    async fn orders(&self, ctx: &Context<'_>) -> Result<CountFigure> {
        Ok(count_figure(self.sales(ctx).await?, |s| s.orders))
    }

    /// Revenue per order, rounded half up to the minor unit.
    async fn average_order_value(&self, ctx: &Context<'_>) -> Result<MoneyFigure> {
        let average = |s: &Sales| if s.orders == 0 { 0 } else { (2 * s.revenue + s.orders) / (2 * s.orders) };
        Ok(self.money_figure(self.sales(ctx).await?, average))
    }

    /// Units sold in the period.
    async fn units_sold(&self, ctx: &Context<'_>) -> Result<CountFigure> {
        Ok(count_figure(self.sales(ctx).await?, |s| s.units))
    }

    /// Line totals of the orders refunded in the period.
    async fn refunds(&self, ctx: &Context<'_>) -> Result<MoneyFigure> {
        Ok(self.money_figure(self.sales(ctx).await?, |s| s.refunds))
    }

    /// Units sold ÷ (units sold + units on sale now); null when both are zero. The previous
    /// period's uses the same stock on sale now.
    async fn sell_through(&self, ctx: &Context<'_>) -> Result<RatioFigure> {
        let (now, before) = self.sales(ctx).await?;
        let stock = kpis::inventory(ctx.state::<Db>()?, &self.scope()).await?.units;
        let ratio = |sold: i64| (sold + stock > 0).then(|| sold as f64 / (sold + stock) as f64);
        Ok(RatioFigure { current: ratio(now.units), previous: ratio(before.units) })
    }

    /// The stock on sale now, at cost and at price.
    async fn inventory_value(&self, ctx: &Context<'_>) -> Result<InventoryValue> {
        let Inventory { units, at_cost, at_price } = kpis::inventory(ctx.state::<Db>()?, &self.scope()).await?;
        Ok(InventoryValue { units, at_cost: self.money(at_cost), at_price: self.money(at_price) })
    }

    /// The five categories with the most revenue.
    async fn top_categories(&self, ctx: &Context<'_>) -> Result<Vec<CategorySales>> {
        let db = ctx.state::<Db>()?;
        let rows = kpis::top(db, &self.scope(), RankBy::Category, TOP).await?;
        let found = ctx.state::<CatalogLoaders>()?.categories.load_many(rows.iter().map(|r| r.id)).await?;
        Ok(Self::ranked(rows, |id| found.get(&id).cloned())
            .into_iter()
            .map(|(c, r)| CategorySales { category: Category(c), revenue: self.money(r.revenue), units: r.units })
            .collect())
    }

    /// The five vendors with the most revenue.
    async fn top_vendors(&self, ctx: &Context<'_>) -> Result<Vec<VendorSales>> {
        let db = ctx.state::<Db>()?;
        let rows = kpis::top(db, &self.scope(), RankBy::Vendor, TOP).await?;
        let found = ctx.state::<CatalogLoaders>()?.vendors.load_many(rows.iter().map(|r| r.id)).await?;
        Ok(Self::ranked(rows, |id| found.get(&id).cloned())
            .into_iter()
            .map(|(v, r)| VendorSales { vendor: Vendor(v), revenue: self.money(r.revenue), units: r.units })
            .collect())
    }

    /// The five products with the most revenue.
    async fn top_products(&self, ctx: &Context<'_>) -> Result<Vec<ProductSales>> {
        let db = ctx.state::<Db>()?;
        let rows = kpis::top(db, &self.scope(), RankBy::Product, TOP).await?;
        let found = crate::catalog::service::products_by_ids(db, rows.iter().map(|r| r.id).collect()).await?;
        Ok(Self::ranked(rows, |id| found.get(&id).cloned())
            .into_iter()
            .map(|(p, r)| ProductSales { product: Product::from(p), revenue: self.money(r.revenue), units: r.units })
            .collect())
    }

    /// Revenue and orders per day or week (by default days for periods up to 62 days), every
    /// bucket of the period present, empty ones with zero.
    async fn series(&self, ctx: &Context<'_>, granularity: Option<Granularity>) -> Result<Vec<SeriesPoint>> {
        let bucket = match granularity {
            Some(Granularity::Day) => Bucket::Day,
            Some(Granularity::Week) => Bucket::Week,
            None if self.to - self.from <= Duration::days(62) => Bucket::Day,
            None => Bucket::Week,
        };
        let found = kpis::series(ctx.state::<Db>()?, &self.scope(), bucket).await?;
        let step = if bucket == Bucket::Day { Duration::days(1) } else { Duration::weeks(1) };
        let first_day = self.from.date_naive();
        let mut day = match bucket {
            Bucket::Day => first_day,
            Bucket::Week => first_day - Duration::days(i64::from(first_day.weekday().num_days_from_monday())),
        };
        let last = (self.to - Duration::microseconds(1)).date_naive();
        let mut points = Vec::new();
        while day <= last {
            let key = day.format("%Y-%m-%d").to_string();
            let (revenue, orders) = found
                .iter()
                .find(|(start, _, _)| *start == key)
                .map_or((0, 0), |(_, revenue, orders)| (*revenue, *orders));
            points.push(SeriesPoint { start: key, revenue: self.money(revenue), orders });
            day += step;
        }
        Ok(points)
    }

    /// Products on sale with few units left (not one-of-a-kind pieces), fewest first.
    async fn low_stock(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 2, validator(minimum = 0, maximum = 1000))] at_most: i32,
    ) -> Result<Vec<Product>> {
        let rows = crate::catalog::service::low_stock(ctx.state::<Db>()?, self.vendor, at_most, LOW_STOCK_ROWS).await?;
        Ok(rows.into_iter().map(Product::from).collect())
    }
}
