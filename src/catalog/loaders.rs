//! DataLoaders: the one way the catalog's relation fields are loaded.
//!
//! Each loader answers a whole batch of keys with one `WHERE … IN (…)` statement. Every operation
//! gets its own set (installed by [`PerOperation`] for HTTP and sockets alike), with a cache that
//! lives as long as the operation, so a row is read at most once per operation and never served
//! stale to the next one.
//!
//! A DataLoader batches the keys asked for within its short delay; a large page can outlast it
//! and split into several batches. Pages of products therefore hand the loaders all their keys at
//! once through [`CatalogLoaders::prime`], which makes a page of 100 products with vendor,
//! category and images cost the same four statements as a page of 1; the relation fields then
//! find their rows in the cache.

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use async_graphql::extensions::ExtensionContext;
use async_graphql::{Request, ServerResult};
use entity::{category, product, product_image, vendor};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::db::Db;
use crate::error::AppError;
use crate::graphql::stage::Stage;

/// The catalog's loaders for one operation.
pub struct CatalogLoaders {
    /// Vendors by id.
    pub vendors: DataLoader<VendorLoader, HashMapCache>,
    /// Categories by id.
    pub categories: DataLoader<CategoryLoader, HashMapCache>,
    /// Direct children of categories, by parent id.
    pub children: DataLoader<CategoryChildrenLoader, HashMapCache>,
    /// Images of products, by product id.
    pub images: DataLoader<ProductImagesLoader, HashMapCache>,
    /// The first image of products (`images(first: 1)`), by product id: one row per product.
    pub main_images: DataLoader<MainImageLoader, HashMapCache>,
}

/// The relations of a product a selection asks for.
#[derive(Clone, Copy, Debug, Default)]
pub struct Relations {
    /// `vendor`.
    pub vendor: bool,
    /// `category`.
    pub category: bool,
    /// `images`.
    pub images: bool,
    /// `images` only ever as `images(first: 1)`.
    pub main_image_only: bool,
}

impl CatalogLoaders {
    /// Loaders over a store, with an empty cache.
    pub fn new(db: &Db) -> Self {
        Self {
            vendors: DataLoader::with_cache(VendorLoader(db.clone()), tokio::spawn, HashMapCache::default()),
            categories: DataLoader::with_cache(CategoryLoader(db.clone()), tokio::spawn, HashMapCache::default()),
            children: DataLoader::with_cache(CategoryChildrenLoader(db.clone()), tokio::spawn, HashMapCache::default()),
            images: DataLoader::with_cache(ProductImagesLoader(db.clone()), tokio::spawn, HashMapCache::default()),
            main_images: DataLoader::with_cache(MainImageLoader(db.clone()), tokio::spawn, HashMapCache::default()),
        }
    }

    /// Loads the `wanted` relations of a page of products into the cache, one statement per
    /// relation, so the relation fields that follow are answered from it.
    ///
    /// # Errors
    /// A store error.
    pub async fn prime(&self, products: &[product::Model], wanted: Relations) -> Result<(), AppError> {
        let vendors = async {
            if wanted.vendor {
                self.vendors.load_many(products.iter().map(|p| p.vendor_id)).await?;
            }
            Ok::<_, AppError>(())
        };
        let categories = async {
            if wanted.category {
                self.categories.load_many(products.iter().map(|p| p.category_id)).await?;
            }
            Ok::<_, AppError>(())
        };
        let images = async {
            if wanted.images && wanted.main_image_only {
                self.main_images.load_many(products.iter().map(|p| p.id)).await?;
            } else if wanted.images {
                self.images.load_many(products.iter().map(|p| p.id)).await?;
            }
            Ok::<_, AppError>(())
        };
        tokio::try_join!(vendors, categories, images)?;
        Ok(())
    }
}

/// Installs a fresh [`CatalogLoaders`] into every operation, whatever its entry point.
#[derive(Clone, Copy)]
pub struct PerOperation;

#[async_trait::async_trait]
impl Stage for PerOperation {
    async fn prepare(&self, ctx: &ExtensionContext<'_>, request: Request) -> ServerResult<Request> {
        Ok(match ctx.data_opt::<Db>() {
            Some(db) => request.data(CatalogLoaders::new(db)),
            None => request,
        })
    }
}

/// Loads vendors by id.
pub struct VendorLoader(Db);

impl Loader<Uuid> for VendorLoader {
    type Value = vendor::Model;
    type Error = AppError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows =
            vendor::Entity::find().filter(vendor::Column::Id.is_in(keys.iter().copied())).all(self.0.conn()).await?;
        Ok(rows.into_iter().map(|row| (row.id, row)).collect())
    }
}

/// Loads categories by id.
pub struct CategoryLoader(Db);

impl Loader<Uuid> for CategoryLoader {
    type Value = category::Model;
    type Error = AppError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = category::Entity::find()
            .filter(category::Column::Id.is_in(keys.iter().copied()))
            .all(self.0.conn())
            .await?;
        Ok(rows.into_iter().map(|row| (row.id, row)).collect())
    }
}

/// Loads the direct children of categories, in display order; a leaf has an empty list, so the
/// cache remembers it too.
pub struct CategoryChildrenLoader(Db);

impl Loader<Uuid> for CategoryChildrenLoader {
    type Value = Vec<category::Model>;
    type Error = AppError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = category::Entity::find()
            .filter(category::Column::ParentId.is_in(keys.iter().copied()))
            .order_by_asc(category::Column::Position)
            .order_by_asc(category::Column::Name)
            .all(self.0.conn())
            .await?;
        let mut children: HashMap<Uuid, Vec<category::Model>> = keys.iter().map(|key| (*key, Vec::new())).collect();
        for row in rows {
            if let Some(parent) = row.parent_id {
                children.entry(parent).or_default().push(row);
            }
        }
        Ok(children)
    }
}

/// Loads the images of products, in display order; a product without images has an empty list.
pub struct ProductImagesLoader(Db);

impl Loader<Uuid> for ProductImagesLoader {
    type Value = Vec<product_image::Model>;
    type Error = AppError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = product_image::Entity::find()
            .filter(product_image::Column::ProductId.is_in(keys.iter().copied()))
            .order_by_asc(product_image::Column::ProductId)
            .order_by_asc(product_image::Column::Position)
            .all(self.0.conn())
            .await?;
        let mut images: HashMap<Uuid, Vec<product_image::Model>> = keys.iter().map(|key| (*key, Vec::new())).collect();
        for row in rows {
            images.entry(row.product_id).or_default().push(row);
        }
        Ok(images)
    }
}

/// Loads the first image (lowest position) of products: one row per product, however many
/// images each has, for listings that show a main image.
pub struct MainImageLoader(Db);

impl Loader<Uuid> for MainImageLoader {
    type Value = product_image::Model;
    type Error = AppError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = product_image::Entity::find()
            .filter(product_image::Column::ProductId.is_in(keys.iter().copied()))
            .filter(Expr::cust(
                r#""product_images"."position" = (SELECT MIN("first"."position") FROM "product_images" AS "first" WHERE "first"."product_id" = "product_images"."product_id")"#,
            ))
            .all(self.0.conn())
            .await?;
        Ok(rows.into_iter().map(|row| (row.product_id, row)).collect())
    }
}
