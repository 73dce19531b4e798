//! The catalog's query root.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Object, Result};

use super::filter::{ProductCriteria, ProductFilter};
use super::listing::{self, ProductSort};
use super::service;
use entity::product;

use super::loaders::{CatalogLoaders, Relations};
use super::types::{Category, Product, Vendor};
use crate::db::Db;
use crate::error::AppError;
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::pagination::{PageLimits, PageRequest};
use crate::graphql::state::State;
use crate::identity::guards::viewer;

/// Catalog queries.
#[derive(Default)]
pub struct CatalogQuery;

/// A page of products.
pub type ProductConnection = Connection<String, Product, ProductConnectionTotals>;

/// Extra fields of a product connection.
pub struct ProductConnectionTotals {
    criteria: Arc<ProductCriteria>,
}

#[Object]
impl ProductConnectionTotals {
    /// How many products match the filter, across all pages. Costs one extra query; ask for it
    /// only when you show it.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(listing::count_products(ctx.state::<Db>()?, &self.criteria).await?)
    }
}

/// Products of a page, their selected relations loaded for the whole page at once (see
/// [`CatalogLoaders::prime`]).
pub(crate) async fn page_of_products(ctx: &Context<'_>, models: Vec<product::Model>) -> Result<Vec<Product>> {
    let look_ahead = ctx.look_ahead();
    let selects = |field: &str| {
        look_ahead.field("edges").field("node").field(field).exists() || look_ahead.field("nodes").field(field).exists()
    };
    let images = [look_ahead.field("edges").field("node").field("images"), look_ahead.field("nodes").field("images")];
    let main_image_only = images.iter().flat_map(|field| field.selection_fields()).all(|field| {
        field.arguments().is_ok_and(|arguments| {
            arguments.iter().any(|(name, value)| name.as_str() == "first" && *value == async_graphql::Value::from(1))
        })
    });
    let wanted = Relations {
        vendor: selects("vendor"),
        category: selects("category"),
        images: selects("images"),
        main_image_only,
    };
    ctx.state::<CatalogLoaders>()?.prime(&models, wanted).await?;
    Ok(models.into_iter().map(Product::from).collect())
}

#[Object]
impl CatalogQuery {
    /// Lists products as a cursor connection. Pass `first` (and `after`) to read forward or
    /// `last` (and `before`) to read backward; page size defaults to 20 and is at most 100.
    /// Drafts and archived products are never listed here.
    #[graphql(complexity = "crate::graphql::pagination::connection_complexity(first, last, child_complexity)")]
    async fn products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<ProductFilter>,
        #[graphql(desc = "Order of the listing; NEWEST when omitted.")] sort: Option<ProductSort>,
    ) -> Result<ProductConnection> {
        let sort = sort.unwrap_or_default();
        let db = ctx.state::<Db>()?;
        let limits = *ctx.state::<PageLimits>()?;
        let page = PageRequest::parse(first, after.as_deref(), last, before.as_deref(), sort.name(), limits)?;
        let criteria = Arc::new(match filter {
            Some(filter) => ProductCriteria::parse(filter, crate::identity::guards::viewer(ctx))?,
            None => ProductCriteria::public(),
        });
        let found = listing::list_products(db, &criteria, sort, &page).await?;
        let mut connection = Connection::with_additional_fields(
            found.has_previous_page,
            found.has_next_page,
            ProductConnectionTotals { criteria },
        );
        let products = page_of_products(ctx, found.items).await?;
        connection
            .edges
            .extend(products.into_iter().map(|product| Edge::new(sort.cursor(&product.model).encode(), product)));
        Ok(connection)
    }

    /// One product, by `id` or by `slug` (give exactly one).
    async fn product(&self, ctx: &Context<'_>, id: Option<ID>, slug: Option<String>) -> Result<Product> {
        let db = ctx.state::<Db>()?;
        let product = match (id, slug) {
            (Some(id), None) => {
                service::product_by_id(db, GlobalId::parse_as(&id, NodeType::Product)?, viewer(ctx)).await?
            }
            (None, Some(slug)) => service::product_by_slug(db, &slug, viewer(ctx)).await?,
            _ => return Err(AppError::bad_input("pass exactly one of `id` and `slug`").into()),
        };
        Ok(product.into())
    }

    /// The roots of the category tree, in display order (at most 500); walk down with `children`.
    async fn categories(&self, ctx: &Context<'_>) -> Result<Vec<Category>> {
        let roots = service::root_categories(ctx.state::<Db>()?).await?;
        Ok(roots.into_iter().map(Category).collect())
    }

    /// One category, by `id` or by `slug` (give exactly one).
    async fn category(&self, ctx: &Context<'_>, id: Option<ID>, slug: Option<String>) -> Result<Category> {
        let db = ctx.state::<Db>()?;
        let category = match (id, slug) {
            (Some(id), None) => service::category_by_id(db, GlobalId::parse_as(&id, NodeType::Category)?).await?,
            (None, Some(slug)) => service::category_by_slug(db, &slug).await?,
            _ => return Err(AppError::bad_input("pass exactly one of `id` and `slug`").into()),
        };
        Ok(category.into())
    }

    /// One vendor, by slug.
    async fn vendor(&self, ctx: &Context<'_>, slug: String) -> Result<Vendor> {
        Ok(service::vendor_by_slug(ctx.state::<Db>()?, &slug).await?.into())
    }
}
