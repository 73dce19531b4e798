//! The media mutations: `createUpload`, `confirmUpload`, `reorderImages`, `removeImage`. Each is
//! allowed to staff with `CATALOG_WRITE` and to the accounts of the product's vendor.

use async_graphql::{Context, Guard, GuardExt, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Media, service};
use crate::catalog::mutations::OwnsProduct;
use crate::catalog::service as catalog;
use crate::catalog::types::{Product, ProductImage};
use crate::db::Db;
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::state::State;
use crate::identity::Permission;
use crate::identity::guards::{Require, viewer};

/// Where and how the browser uploads one file, straight to storage.
#[derive(SimpleObject)]
pub struct MediaUpload {
    /// Pass it to `confirmUpload` once the file is uploaded.
    pub upload_id: ID,
    /// The signed URL to send the file's bytes to, as the request's whole body.
    pub url: String,
    /// Always `PUT`.
    pub method: String,
    /// Headers the request must carry exactly (the signature covers them); a browser sets
    /// `Content-Length` itself.
    pub headers: Vec<HttpHeader>,
    /// When the URL stops working; an upload not confirmed by then is deleted.
    pub expires_at: DateTime<Utc>,
}

/// An HTTP header.
#[derive(SimpleObject)]
pub struct HttpHeader {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// Media mutations.
#[derive(Default)]
pub struct MediaMutation;

/// Fails unless the viewer may edit the product `product_id`.
async fn may_edit(ctx: &Context<'_>, product_id: Uuid) -> Result<()> {
    Require::new(Permission::CatalogWrite).or(OwnsProduct::of(product_id)).check(ctx).await
}

async fn product(ctx: &Context<'_>, id: Uuid) -> Result<Product> {
    Ok(catalog::any_product_by_id(ctx.state::<Db>()?, id).await?.into())
}

#[Object]
impl MediaMutation {
    /// Starts an image upload for a product: returns a signed URL the browser `PUT`s the file
    /// to. The URL accepts exactly `contentType` (JPEG, PNG, WebP or AVIF) and `byteSize` bytes
    /// (at most `media.max_upload_bytes`, 15 MiB by default), until `expiresAt`. Then call
    /// `confirmUpload`.
    #[graphql(guard = "Require::new(Permission::CatalogWrite).or(OwnsProduct::new(&product_id))")]
    async fn create_upload(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        #[graphql(desc = "The file's name, kept for the record.", validator(max_length = 255))] filename: String,
        #[graphql(desc = "`image/jpeg`, `image/png`, `image/webp` or `image/avif`.", validator(max_length = 100))]
        content_type: String,
        #[graphql(desc = "The file's exact size in bytes.")] byte_size: i32,
    ) -> Result<MediaUpload> {
        let product_id = GlobalId::parse_as(&product_id, NodeType::Product)?;
        let new = service::NewUpload {
            product_id,
            filename: &filename,
            content_type: &content_type,
            byte_size: i64::from(byte_size),
            created_by: viewer(ctx).user_id(),
        };
        let created = service::create_upload(ctx.state::<Media>()?, ctx.state::<Db>()?, new).await?;
        Ok(MediaUpload {
            upload_id: GlobalId::encode(NodeType::Upload, created.id),
            url: created.url,
            method: "PUT".to_owned(),
            headers: created.headers.into_iter().map(|(name, value)| HttpHeader { name, value }).collect(),
            expires_at: created.expires_at,
        })
    }

    /// Checks an uploaded file and attaches it to its product: the object must exist with the
    /// declared size, and its bytes must be an image of the declared type within the size
    /// limits. It is stored without its metadata (EXIF location included); its WebP variants
    /// follow shortly. A refused file is deleted, and its upload cannot be confirmed again.
    async fn confirm_upload(
        &self,
        ctx: &Context<'_>,
        upload_id: ID,
        #[graphql(desc = "Alternative text, at most 300 characters.", validator(max_length = 300))] alt: Option<String>,
        #[graphql(desc = "Where among the product's images, from 0; at the end when omitted.")] position: Option<i32>,
    ) -> Result<ProductImage> {
        let upload_id = GlobalId::parse_as(&upload_id, NodeType::Upload)?;
        let db = ctx.state::<Db>()?;
        may_edit(ctx, service::upload_product(db, upload_id).await?).await?;
        let image =
            service::confirm_upload(ctx.state::<Media>()?, db, upload_id, alt.as_deref().unwrap_or_default(), position)
                .await?;
        Ok(image.into())
    }

    /// Puts a product's images in the given order; the list names each of them once.
    #[graphql(guard = "Require::new(Permission::CatalogWrite).or(OwnsProduct::new(&product_id))")]
    async fn reorder_images(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        #[graphql(validator(max_items = 20))] image_ids: Vec<ID>,
    ) -> Result<Product> {
        let product_id = GlobalId::parse_as(&product_id, NodeType::Product)?;
        let ids =
            image_ids.iter().map(|id| GlobalId::parse_as(id, NodeType::ProductImage)).collect::<Result<Vec<_>, _>>()?;
        service::reorder_images(ctx.state::<Db>()?, product_id, &ids).await?;
        product(ctx, product_id).await
    }

    /// Removes an image from its product and deletes its stored files.
    async fn remove_image(&self, ctx: &Context<'_>, image_id: ID) -> Result<Product> {
        let image_id = GlobalId::parse_as(&image_id, NodeType::ProductImage)?;
        let db = ctx.state::<Db>()?;
        may_edit(ctx, service::image_product(db, image_id).await?).await?;
        let product_id = service::remove_image(ctx.state::<Media>()?, db, image_id).await?;
        product(ctx, product_id).await
    }
}
