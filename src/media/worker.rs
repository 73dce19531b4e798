//! The media worker: makes the WebP variants of newly attached images, and sweeps expired
//! uploads and objects listed for deletion. Both are retried from the store after a crash: an
//! image without variants has `variant_widths` NULL until they are made.

use std::time::Duration;

use entity::product_image;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::service::{self, variant_key};
use super::{Media, picture};
use crate::db::Db;
use crate::error::{AppError, AppResult};

/// Images given variants in one pass.
const BATCH: u64 = 8;
/// How often the worker looks for images without variants when nothing woke it.
const IDLE_LOOK: Duration = Duration::from_secs(5);

/// Starts the worker.
pub fn spawn(media: Media, db: Db) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let sweep_every = match media.settings().sweep_seconds {
            0 => None,
            seconds => Some(Duration::from_secs(seconds)),
        };
        let mut last_sweep = tokio::time::Instant::now();
        loop {
            match make_variants(&media, &db).await {
                Ok(made) if made >= BATCH as usize => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(error = %error.message(), "making image variants failed; retrying"),
            }
            if let Some(every) = sweep_every
                && last_sweep.elapsed() >= every
            {
                last_sweep = tokio::time::Instant::now();
                match service::sweep(&media, &db).await {
                    Ok(swept) if swept != service::Swept::default() => tracing::info!(?swept, "media swept"),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(error = %error.message(), "the media sweep failed"),
                }
            }
            let wait = sweep_every.map_or(IDLE_LOOK, |every| every.min(IDLE_LOOK));
            let _ = tokio::time::timeout(wait, media.wake.notified()).await;
        }
    })
}

/// Makes the variants of up to [`BATCH`] images that have none yet; returns how many images it
/// went through.
///
/// # Errors
/// When the relational store fails.
pub async fn make_variants(media: &Media, db: &Db) -> AppResult<usize> {
    let waiting = product_image::Entity::find()
        .filter(product_image::Column::ObjectKey.is_not_null())
        .filter(product_image::Column::VariantWidths.is_null())
        .order_by_asc(product_image::Column::Id)
        .limit(BATCH)
        .all(db.conn())
        .await?;
    let count = waiting.len();
    for image in waiting {
        let widths = match variants_of(media, &image).await {
            Ok(widths) => widths,
            Err(error) => {
                tracing::warn!(image = %image.id, error = format!("{error:#}"), "no variants for this image; the original is served");
                Vec::new()
            }
        };
        let listed = widths.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        let stored = product_image::Entity::update_many()
            .col_expr(product_image::Column::VariantWidths, Expr::value(listed))
            .filter(product_image::Column::Id.eq(image.id))
            .filter(product_image::Column::VariantWidths.is_null())
            .exec(db.conn())
            .await?;
        if stored.rows_affected == 0 {
            // Removed meanwhile: its variants would be stray objects.
            for key in service::objects_of(media, &image).into_iter().skip(1) {
                let _ = media.store().delete(&key).await;
            }
        }
    }
    Ok(count)
}

async fn variants_of(media: &Media, image: &product_image::Model) -> anyhow::Result<Vec<u32>> {
    let Some(original) = image.object_key.clone() else { return Ok(Vec::new()) };
    let format = picture::Format::from_content_type(super::store::content_type_of(&original))
        .ok_or_else(|| anyhow::anyhow!("the original {original} has no image extension"))?;
    let bounds = media.bounds();
    let max_bytes = bounds.max_pixels.saturating_mul(4).saturating_add(1 << 20);
    let slot = media.slot().await.map_err(AppError::into_anyhow)?;
    let object =
        media.store().read(&original, max_bytes).await?.ok_or_else(|| anyhow::anyhow!("{original} is missing"))?;
    let widths = media.settings().variant_widths.clone();
    let made = Media::run_in(slot, move || picture::variants(&object.bytes, format, &widths, bounds))
        .await
        .map_err(AppError::into_anyhow)??;
    let mut widths = Vec::with_capacity(made.len());
    for (width, bytes) in made {
        media.store().write(&variant_key(&original, width), "image/webp", bytes).await?;
        widths.push(width);
    }
    Ok(widths)
}
