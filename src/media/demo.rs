//! The demo catalog's pictures: generated placeholders, written to media storage when missing so
//! a storefront on the demo shows an image for every product.

use super::{Media, picture};
use crate::error::AppError;
use crate::seed::demo::{PLACEHOLDER_SIZE, placeholders};

/// Writes every demo placeholder picture that storage does not hold yet; returns how many it
/// wrote.
///
/// # Errors
/// When storage fails or a picture cannot be encoded.
pub async fn ensure_placeholders(media: &Media) -> anyhow::Result<usize> {
    let mut written = 0;
    for placeholder in placeholders() {
        if media.store().size(&placeholder.key).await?.is_some() {
            continue;
        }
        let (width, height) = PLACEHOLDER_SIZE;
        let (rgb, view) = (placeholder.rgb, placeholder.view);
        let (bytes, _) = media
            .run(move || picture::placeholder(width, height, rgb, view))
            .await
            .map_err(AppError::into_anyhow)??;
        media.store().write(&placeholder.key, "image/webp", bytes).await?;
        written += 1;
    }
    if written > 0 {
        tracing::info!(written, "demo placeholder pictures written");
    }
    Ok(written)
}
