//! A product's audit trail: every change of its status, price or stock, written by database
//! triggers (see the migrations), so it holds whatever client writes to the store.

use async_graphql::SimpleObject;
use chrono::{DateTime, Utc};
use entity::product_audit;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::types::ProductStatus;
use crate::db::Db;
use crate::error::AppResult;
use crate::graphql::scalars::Long;

/// One change of a product's status, price or stock, written by the database itself.
#[derive(SimpleObject)]
pub struct AuditEntry {
    /// The row's position in the trail; pass it as `after` to read on.
    pub sequence: Long,
    /// Status before; null when the product was created.
    pub old_status: Option<ProductStatus>,
    /// Status after.
    pub new_status: Option<ProductStatus>,
    /// Price before, in minor units of the product's currency.
    pub old_price_minor: Option<Long>,
    /// Price after, in minor units.
    pub new_price_minor: Long,
    /// Stock before.
    pub old_stock: Option<i32>,
    /// Stock after.
    pub new_stock: i32,
    /// When.
    pub changed_at: DateTime<Utc>,
}

fn status(value: &str) -> Option<ProductStatus> {
    use sea_orm::ActiveEnum;
    entity::ProductStatus::try_from_value(&value.to_owned()).ok().map(Into::into)
}

impl From<product_audit::Model> for AuditEntry {
    fn from(row: product_audit::Model) -> Self {
        Self {
            sequence: Long(row.id),
            old_status: row.old_status.as_deref().and_then(status),
            new_status: status(&row.new_status),
            old_price_minor: row.old_price_minor.map(Long),
            new_price_minor: Long(row.new_price_minor),
            old_stock: row.old_stock,
            new_stock: row.new_stock,
            changed_at: row.changed_at,
        }
    }
}

/// A product's audit trail, oldest first, after the row `after` (exclusive).
///
/// # Errors
/// When the store fails.
pub async fn audit_trail(
    db: &Db,
    product_id: Uuid,
    after: Option<i64>,
    limit: u64,
) -> AppResult<Vec<product_audit::Model>> {
    Ok(product_audit::Entity::find()
        .filter(product_audit::Column::ProductId.eq(product_id))
        .filter(product_audit::Column::Id.gt(after.unwrap_or(0)))
        .order_by_asc(product_audit::Column::Id)
        .limit(limit)
        .all(db.conn())
        .await?)
}
