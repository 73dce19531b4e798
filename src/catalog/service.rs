//! Catalog lookups: products, vendors and categories by id or slug, with the visibility rule.
//! The writes are in [`super::editing`]; other domains, the seeders and the mutations call
//! these two, and nothing else touches the catalog tables.

use std::collections::HashMap;

use entity::{category, product, vendor};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::filter::PUBLIC_STATUSES;
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::identity::viewer::{Permission, Viewer};

/// Most root categories returned by [`root_categories`].
pub const MAX_ROOT_CATEGORIES: u64 = 500;

/// A product the viewer may see, by id: a public one (ACTIVE, RESERVED, SOLD), or any of its own
/// vendor's for a VENDOR account, or any at all with `catalog:read:private` (staff).
///
/// # Errors
/// `NOT_FOUND` when absent or hidden from the viewer (a hidden product is not revealed).
pub async fn product_by_id(db: &Db, id: Uuid, viewer: &Viewer) -> AppResult<product::Model> {
    let found = product::Entity::find_by_id(id).one(db.conn()).await?;
    found.filter(|p| visible_to(p, viewer)).ok_or_else(|| AppError::not_found("product"))
}

/// A product the viewer may see, by slug; see [`product_by_id`].
///
/// # Errors
/// `NOT_FOUND` when absent or hidden from the viewer.
pub async fn product_by_slug(db: &Db, slug: &str, viewer: &Viewer) -> AppResult<product::Model> {
    let found = product::Entity::find().filter(product::Column::Slug.eq(slug)).one(db.conn()).await?;
    found.filter(|p| visible_to(p, viewer)).ok_or_else(|| AppError::not_found("product"))
}

/// Whether `viewer` may see `product` by its id or slug.
pub fn visible_to(product: &product::Model, viewer: &Viewer) -> bool {
    PUBLIC_STATUSES.contains(&product.status)
        || viewer.can(Permission::CatalogReadPrivate)
        || viewer.vendor_id() == Some(product.vendor_id)
}

/// A vendor by id.
///
/// # Errors
/// `NOT_FOUND` when absent.
pub async fn vendor_by_id(db: &Db, id: Uuid) -> AppResult<vendor::Model> {
    vendor::Entity::find_by_id(id).one(db.conn()).await?.ok_or_else(|| AppError::not_found("vendor"))
}

/// A vendor by slug.
///
/// # Errors
/// `NOT_FOUND` when absent.
pub async fn vendor_by_slug(db: &Db, slug: &str) -> AppResult<vendor::Model> {
    let found = vendor::Entity::find().filter(vendor::Column::Slug.eq(slug)).one(db.conn()).await?;
    found.ok_or_else(|| AppError::not_found("vendor"))
}

/// A category by id.
///
/// # Errors
/// `NOT_FOUND` when absent.
pub async fn category_by_id(db: &Db, id: Uuid) -> AppResult<category::Model> {
    category::Entity::find_by_id(id).one(db.conn()).await?.ok_or_else(|| AppError::not_found("category"))
}

/// A category by slug.
///
/// # Errors
/// `NOT_FOUND` when absent.
pub async fn category_by_slug(db: &Db, slug: &str) -> AppResult<category::Model> {
    let found = category::Entity::find().filter(category::Column::Slug.eq(slug)).one(db.conn()).await?;
    found.ok_or_else(|| AppError::not_found("category"))
}

/// The roots of the category tree, in display order.
///
/// # Errors
/// `INTERNAL` when the store fails.
pub async fn root_categories(db: &Db) -> AppResult<Vec<category::Model>> {
    Ok(category::Entity::find()
        .filter(category::Column::ParentId.is_null())
        .order_by_asc(category::Column::Position)
        .order_by_asc(category::Column::Name)
        .limit(MAX_ROOT_CATEGORIES)
        .all(db.conn())
        .await?)
}

/// A product by id whatever its status (for its vendor and staff).
///
/// # Errors
/// `NOT_FOUND` when absent.
pub async fn any_product_by_id(db: &Db, id: Uuid) -> AppResult<product::Model> {
    product::Entity::find_by_id(id).one(db.conn()).await?.ok_or_else(|| AppError::not_found("product"))
}

/// Products by id, whatever their status, for the ids that exist.
///
/// # Errors
/// When the store fails.
pub async fn products_by_ids(db: &Db, ids: Vec<Uuid>) -> AppResult<HashMap<Uuid, product::Model>> {
    let rows = product::Entity::find().filter(product::Column::Id.is_in(ids)).all(db.conn()).await?;
    Ok(rows.into_iter().map(|row| (row.id, row)).collect())
}

/// Products on sale (of one vendor, or all) that are not one-of-a-kind and have at most
/// `at_most` units left, fewest first, at most `limit`.
///
/// # Errors
/// When the store fails.
pub async fn low_stock(db: &Db, vendor: Option<Uuid>, at_most: i32, limit: u64) -> AppResult<Vec<product::Model>> {
    let mut query = product::Entity::find()
        .filter(product::Column::Status.eq(entity::ProductStatus::Active))
        .filter(product::Column::OneOfAKind.eq(false))
        .filter(product::Column::Stock.lte(at_most));
    if let Some(vendor) = vendor {
        query = query.filter(product::Column::VendorId.eq(vendor));
    }
    Ok(query.order_by_asc(product::Column::Stock).order_by_asc(product::Column::Id).limit(limit).all(db.conn()).await?)
}
