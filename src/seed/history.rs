//! Synthetic order history over the catalog as it is, for the admin dashboard's benchmark and for
//! trying the console on data that looks lived in.
//!
//! Orders are spread evenly over the last `days` days, each with a few lines of the catalog's
//! listed products, and end in the states real orders end in: most completed or shipped, some
//! paid and waiting, some refunded, some cancelled before payment. The rows are the ones checkout
//! writes (order, a part per vendor, snapshot lines), written with multi-row `INSERT`s; stock is
//! left as it is (the history is of units sold before the catalog's present stock) and no payment
//! rows are written. History is not news: the events its inserts raise are discarded, not
//! published.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use entity::{FulfilmentStatus, OrderStatus, ProductStatus, fulfilment, order, order_line, product, vendor};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use uuid::Uuid;

use super::Rng;
use crate::db::{self, Db};
use crate::error::AppError;

/// Orders written in one transaction.
const CHUNK: usize = 500;
/// Rows of one multi-row `INSERT` (18 columns: within both stores' bound on bound values).
const ROWS_PER_INSERT: usize = 1_000;

/// A listed product, as an order line snapshots it.
struct Listed {
    id: Uuid,
    vendor_id: Uuid,
    sku: String,
    title: String,
    price_minor: i64,
    currency: String,
}

/// Adds `count` orders of about `lines_per_order` lines each, placed over the last `days` days.
///
/// # Errors
/// When the catalog has no listed product, or the store fails.
pub async fn load(db: &Db, count: u64, lines_per_order: u32, days: u32) -> anyhow::Result<()> {
    let started = Instant::now();
    let listed = listed_products(db).await?;
    anyhow::ensure!(!listed.is_empty(), "the catalog has no listed product to sell: seed products first");
    let vendors: HashMap<Uuid, String> = vendor::Entity::find()
        .select_only()
        .columns([vendor::Column::Id, vendor::Column::Name])
        .into_tuple::<(Uuid, String)>()
        .all(db.conn())
        .await?
        .into_iter()
        .collect();
    let now = db::truncate_to_micros(db::now());
    let span_micros = i64::from(days.max(1)) * 86_400_000_000;
    let mut rng = Rng::new(count ^ 0x000D_0E25);
    let (mut written, mut lines_written) = (0_u64, 0_u64);
    while written < count {
        let chunk = usize::try_from((count - written).min(CHUNK as u64)).unwrap_or(CHUNK);
        let mut rows = Rows::default();
        for _ in 0..chunk {
            let placed = now - Duration::microseconds(1 + i64::try_from(rng.next_u64() % span_micros as u64)?);
            let lines = 1 + rng.below(2 * lines_per_order.max(1) as usize - 1);
            let picked: Vec<&Listed> = (0..lines).map(|_| rng.pick(&listed)).collect();
            rows.add_order(&mut rng, placed, now, &picked, &vendors)?;
        }
        lines_written += rows.lines.len() as u64;
        rows.write(db).await?;
        written += chunk as u64;
        if written % 10_000 < CHUNK as u64 {
            tracing::info!(written, total = count, "inserting synthetic orders");
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(orders = count, lines = lines_written, seconds, "synthetic order history loaded");
    Ok(())
}

async fn listed_products(db: &Db) -> anyhow::Result<Vec<Listed>> {
    let rows = product::Entity::find()
        .select_only()
        .columns([
            product::Column::Id,
            product::Column::VendorId,
            product::Column::Sku,
            product::Column::Title,
            product::Column::PriceMinor,
            product::Column::Currency,
        ])
        .filter(product::Column::Status.eq(ProductStatus::Active))
        .into_tuple::<(Uuid, Uuid, String, String, i64, String)>()
        .all(db.conn())
        .await
        .context("cannot read the catalog")?;
    Ok(rows
        .into_iter()
        .map(|(id, vendor_id, sku, title, price_minor, currency)| Listed {
            id,
            vendor_id,
            sku,
            title,
            price_minor,
            currency,
        })
        .collect())
}

/// How an order ended, drawn with the weights real shops see.
fn outcome(rng: &mut Rng) -> OrderStatus {
    match rng.below(100) {
        0..55 => OrderStatus::Completed,
        55..70 => OrderStatus::Fulfilled,
        70..85 => OrderStatus::Paid,
        85..92 => OrderStatus::Refunded,
        _ => OrderStatus::Cancelled,
    }
}

/// A chunk of orders with their parts and lines, to be written in one transaction.
#[derive(Default)]
struct Rows {
    orders: Vec<order::ActiveModel>,
    fulfilments: Vec<fulfilment::ActiveModel>,
    lines: Vec<order_line::ActiveModel>,
}

impl Rows {
    /// One order placed at `placed` of the `picked` products (one currency: the first's).
    fn add_order(
        &mut self,
        rng: &mut Rng,
        placed: DateTime<Utc>,
        now: DateTime<Utc>,
        picked: &[&Listed],
        vendors: &HashMap<Uuid, String>,
    ) -> anyhow::Result<()> {
        let currency = picked[0].currency.clone();
        let picked: Vec<&Listed> = picked.iter().copied().filter(|p| p.currency == currency).collect();
        let status = outcome(rng);
        // A later moment of the order's life, never in the future.
        let after = |rng: &mut Rng, hours: u64| {
            let micros = 1 + rng.next_u64() % (hours * 3_600_000_000);
            (placed + Duration::microseconds(i64::try_from(micros).unwrap_or(1))).min(now)
        };
        let paid_at = (status != OrderStatus::Cancelled).then(|| after(rng, 1));
        let closed_at = match status {
            OrderStatus::Cancelled => Some(after(rng, 2)),
            OrderStatus::Refunded => Some(after(rng, 24 * 14)),
            _ => None,
        };
        let (part_status, fulfilled_at) = match status {
            OrderStatus::Completed | OrderStatus::Fulfilled => (FulfilmentStatus::Fulfilled, Some(after(rng, 72))),
            OrderStatus::Cancelled | OrderStatus::Refunded => (FulfilmentStatus::Cancelled, None),
            _ => (FulfilmentStatus::Pending, None),
        };
        let id = uuid_at(placed);
        let mut parts: BTreeMap<Uuid, Uuid> = BTreeMap::new();
        for product in &picked {
            parts.entry(product.vendor_id).or_insert_with(|| uuid_at(placed));
        }
        self.fulfilments.extend(parts.iter().map(|(&vendor_id, &part)| fulfilment::ActiveModel {
            id: Set(part),
            order_id: Set(id),
            vendor_id: Set(vendor_id),
            status: Set(part_status),
            tracking_number: Set(fulfilled_at.map(|_| format!("SYN{}", rng.next_u64() % 1_000_000_000))),
            fulfilled_at: Set(fulfilled_at),
            created_at: Set(placed),
        }));
        let mut subtotal = 0_i64;
        for (position, product) in picked.iter().enumerate() {
            subtotal = crate::money::plus(subtotal, product.price_minor).map_err(AppError::into_anyhow)?;
            self.lines.push(order_line::ActiveModel {
                id: Set(uuid_at(placed)),
                order_id: Set(id),
                fulfilment_id: Set(parts[&product.vendor_id]),
                product_id: Set(product.id),
                vendor_id: Set(product.vendor_id),
                vendor_name: Set(vendors.get(&product.vendor_id).cloned().unwrap_or_default()),
                sku: Set(product.sku.clone()),
                title: Set(product.title.clone()),
                quantity: Set(1),
                unit_price_minor: Set(product.price_minor),
                currency: Set(currency.clone()),
                tax_minor: Set(0),
                line_total_minor: Set(product.price_minor),
                image_url: Set(None),
                attributes: Set(serde_json::json!({})),
                position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
                created_at: Set(placed),
            });
        }
        let number = rng.next_u64() % 1_000_000;
        self.orders.push(order::ActiveModel {
            id: Set(id),
            user_id: Set(None),
            cart_id: Set(uuid_at(placed)),
            idempotency_key: Set(format!("history-{id}")),
            request_hash: Set(String::new()),
            status: Set(status),
            currency: Set(currency),
            subtotal_minor: Set(subtotal),
            tax_minor: Set(0),
            total_minor: Set(subtotal),
            email: Set(format!("shopper{number}@example.com")),
            ship_name: Set(format!("Shopper {number}")),
            ship_line1: Set(format!("{} Rue du Commerce", 1 + number % 200)),
            ship_line2: Set(None),
            ship_city: Set("Paris".to_owned()),
            ship_region: Set(None),
            ship_postal_code: Set("75015".to_owned()),
            ship_country: Set("FR".to_owned()),
            ship_phone: Set(None),
            expires_at: Set(placed + Duration::hours(1)),
            placed_from: Set(None),
            paid_at: Set(paid_at),
            closed_at: Set(closed_at),
            created_at: Set(placed),
            updated_at: Set(closed_at.or(fulfilled_at).or(paid_at).unwrap_or(placed)),
        });
        Ok(())
    }

    /// Writes the chunk in one transaction, discarding the events its orders raised.
    async fn write(self, db: &Db) -> anyhow::Result<()> {
        let ids: Vec<Uuid> = self.orders.iter().filter_map(|o| o.id.try_as_ref().copied()).collect();
        let txn = db.begin_write().await?;
        order::Entity::insert_many(self.orders).exec_without_returning(&txn).await?;
        for rows in self.fulfilments.chunks(ROWS_PER_INSERT) {
            fulfilment::Entity::insert_many(rows.to_vec()).exec_without_returning(&txn).await?;
        }
        for rows in self.lines.chunks(ROWS_PER_INSERT) {
            order_line::Entity::insert_many(rows.to_vec()).exec_without_returning(&txn).await?;
        }
        db::outbox::discard_unpublished(&txn, &ids).await?;
        txn.commit().await?;
        Ok(())
    }
}

/// A UUIDv7 of the moment `at`, so the rows of old orders sort among themselves as they were
/// placed.
fn uuid_at(at: DateTime<Utc>) -> Uuid {
    let seconds = u64::try_from(at.timestamp()).unwrap_or(0);
    Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, seconds, at.timestamp_subsec_nanos()))
}
