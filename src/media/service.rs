//! The media use cases: create and confirm an upload, reorder and remove images, sweep.
//!
//! Every storage call happens outside a transaction. An object no row owns yet (a checked
//! original being written) or any more (a removed image, a refused upload) is listed in
//! `media_deletions` first; the transaction that takes ownership removes it from the list, and
//! whatever is still listed after a crash is deleted by the sweep.

use chrono::{DateTime, Utc};
use entity::{media_deletion, media_upload, product, product_image};
use sea_orm::ExprTrait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

use super::Media;
use super::picture::{self, Format, Refusal};
use crate::catalog::types::MAX_IMAGES_PER_PRODUCT;
use crate::db::{self, Db};
use crate::error::{AppError, AppResult, ErrorCode};

const PENDING: &str = "pending";
const CONFIRMED: &str = "confirmed";
const EXPIRED: &str = "expired";
const REJECTED: &str = "rejected";

/// Longest file name kept with an upload.
const MAX_FILENAME_CHARS: usize = 255;
/// Longest alternative text.
const MAX_ALT_CHARS: usize = 300;
/// How old a listed deletion must be before the sweep acts on it, so it never races a confirm
/// that is still writing its original.
const DELETION_GRACE_MINUTES: i64 = 10;

/// An upload to ask for.
pub struct NewUpload<'a> {
    /// The product the image is for.
    pub product_id: Uuid,
    /// The file's name (kept for the record; the type is judged from the bytes).
    pub filename: &'a str,
    /// The declared MIME type.
    pub content_type: &'a str,
    /// The declared size in bytes.
    pub byte_size: i64,
    /// Who asks.
    pub created_by: Option<Uuid>,
}

/// A created upload: where and how the browser puts the file.
pub struct CreatedUpload {
    /// The upload's id.
    pub id: Uuid,
    /// The signed URL.
    pub url: String,
    /// Headers the `PUT` must carry.
    pub headers: Vec<(String, String)>,
    /// When the URL stops working.
    pub expires_at: DateTime<Utc>,
}

/// Records an upload and signs a URL for it.
///
/// # Errors
/// `UNSUPPORTED_MEDIA_TYPE` for a type not accepted, `UPLOAD_TOO_LARGE` over the size limit,
/// `BAD_USER_INPUT` for an empty size or file name, `NOT_FOUND` for an unknown product,
/// `CONFLICT` when the product has no room for another image or too many uploads pending.
pub async fn create_upload(media: &Media, db: &Db, new: NewUpload<'_>) -> AppResult<CreatedUpload> {
    let settings = media.settings();
    let filename = new.filename.trim();
    if filename.is_empty() || filename.chars().count() > MAX_FILENAME_CHARS || filename.chars().any(char::is_control) {
        return Err(AppError::bad_input(format!(
            "filename must be 1 to {MAX_FILENAME_CHARS} characters without control characters"
        )));
    }
    let format = Format::from_content_type(new.content_type).ok_or_else(|| {
        AppError::new(
            ErrorCode::UnsupportedMediaType,
            "contentType must be one of image/jpeg, image/png, image/webp, image/avif",
        )
    })?;
    if new.byte_size <= 0 {
        return Err(AppError::bad_input("byteSize must be positive"));
    }
    if u64::try_from(new.byte_size).unwrap_or(u64::MAX) > settings.max_upload_bytes {
        return Err(AppError::new(
            ErrorCode::UploadTooLarge,
            format!("an image is at most {} bytes", settings.max_upload_bytes),
        ));
    }
    product::Entity::find_by_id(new.product_id).one(db.conn()).await?.ok_or_else(|| AppError::not_found("product"))?;
    let now = db::now();
    let pending = media_upload::Entity::find()
        .filter(media_upload::Column::ProductId.eq(new.product_id))
        .filter(media_upload::Column::Status.eq(PENDING))
        .filter(media_upload::Column::ExpiresAt.gt(now))
        .count(db.conn())
        .await?;
    if pending >= settings.max_pending_uploads_per_product {
        return Err(AppError::conflict(format!(
            "the product already has {pending} uploads waiting to be confirmed; confirm them or wait until they expire"
        )));
    }
    let images = image_count(db.conn(), new.product_id).await?;
    if images + pending >= MAX_IMAGES_PER_PRODUCT as u64 {
        return Err(AppError::conflict(format!("a product has at most {MAX_IMAGES_PER_PRODUCT} images")));
    }
    let id = Uuid::now_v7();
    let expires_in = std::time::Duration::from_secs(settings.upload_expiry_seconds);
    let expires_at =
        now + chrono::Duration::seconds(i64::try_from(settings.upload_expiry_seconds).unwrap_or(i64::MAX / 2));
    let key = format!("uploads/{}/{}", new.product_id, id.simple());
    media_upload::ActiveModel {
        id: Set(id),
        product_id: Set(new.product_id),
        object_key: Set(key.clone()),
        filename: Set(filename.to_owned()),
        content_type: Set(format.content_type().to_owned()),
        byte_size: Set(new.byte_size),
        status: Set(PENDING.to_owned()),
        created_by: Set(new.created_by),
        expires_at: Set(expires_at),
        created_at: Set(now),
    }
    .insert(db.conn())
    .await?;
    let size = u64::try_from(new.byte_size).unwrap_or_default();
    let signed =
        media.store().sign_put(&key, format.content_type(), size, expires_in).await.map_err(AppError::internal)?;
    Ok(CreatedUpload { id, url: signed.url, headers: signed.headers, expires_at })
}

/// The product an upload is for.
///
/// # Errors
/// `NOT_FOUND` for an unknown upload.
pub async fn upload_product(db: &Db, upload_id: Uuid) -> AppResult<Uuid> {
    let upload = media_upload::Entity::find_by_id(upload_id).one(db.conn()).await?;
    upload.map(|u| u.product_id).ok_or_else(|| AppError::not_found("upload"))
}

/// The product an image belongs to.
///
/// # Errors
/// `NOT_FOUND` for an unknown image.
pub async fn image_product(db: &Db, image_id: Uuid) -> AppResult<Uuid> {
    let image = product_image::Entity::find_by_id(image_id).one(db.conn()).await?;
    image.map(|i| i.product_id).ok_or_else(|| AppError::not_found("image"))
}

/// Checks the uploaded object and attaches it to the product at `position` (at the end when
/// `None`).
///
/// # Errors
/// `NOT_FOUND` (unknown upload), `CONFLICT` (already confirmed, or the product is full),
/// `UPLOAD_EXPIRED`, `UPLOAD_NOT_RECEIVED`, `UPLOAD_TOO_LARGE`, `UNSUPPORTED_MEDIA_TYPE`,
/// `IMAGE_TOO_LARGE`, `BAD_USER_INPUT` (alt text, position). A refused file is deleted and its
/// upload cannot be confirmed again.
pub async fn confirm_upload(
    media: &Media,
    db: &Db,
    upload_id: Uuid,
    alt: &str,
    position: Option<i32>,
) -> AppResult<product_image::Model> {
    if alt.chars().count() > MAX_ALT_CHARS {
        return Err(AppError::bad_input(format!("alt is at most {MAX_ALT_CHARS} characters")));
    }
    if position.is_some_and(|p| p < 0) {
        return Err(AppError::bad_input("position must be 0 or more"));
    }
    let upload = media_upload::Entity::find_by_id(upload_id)
        .one(db.conn())
        .await?
        .ok_or_else(|| AppError::not_found("upload"))?;
    match upload.status.as_str() {
        PENDING if upload.expires_at <= db::now() => return Err(expired()),
        PENDING => {}
        EXPIRED => return Err(expired()),
        REJECTED => return Err(AppError::conflict("this upload was refused; create a new one")),
        _ => return Err(AppError::conflict("this upload is already attached")),
    }
    let declared = u64::try_from(upload.byte_size).unwrap_or_default();
    let store = media.store();
    let size = store.size(&upload.object_key).await.map_err(AppError::internal)?;
    let checked = match size {
        None => return Err(AppError::new(ErrorCode::UploadNotReceived, "nothing was uploaded to this upload's URL")),
        Some(size) if size > declared => Err(AppError::new(
            ErrorCode::UploadTooLarge,
            format!("{size} bytes were uploaded, {declared} were declared"),
        )),
        Some(size) if size < declared => Err(AppError::new(
            ErrorCode::UploadNotReceived,
            format!("only {size} of the {declared} declared bytes were uploaded"),
        )),
        Some(_) => check_object(media, &upload).await,
    };
    let checked = match checked {
        Ok(checked) => checked,
        Err(refusal) => {
            reject(media, db, &upload).await?;
            return Err(refusal);
        }
    };

    let image_id = Uuid::now_v7();
    let original =
        format!("{IMAGES}{}/{}/original.{}", upload.product_id, image_id.simple(), checked.format.extension());
    list_for_deletion(db.conn(), std::slice::from_ref(&original)).await?;
    store.write(&original, checked.format.content_type(), checked.bytes).await.map_err(AppError::internal)?;

    let txn = db.begin_write().await?;
    if !settle(&txn, upload.id, CONFIRMED).await? {
        return Err(AppError::conflict("this upload is already attached"));
    }
    let count = image_count(&txn, upload.product_id).await?;
    if count >= MAX_IMAGES_PER_PRODUCT as u64 {
        return Err(AppError::conflict(format!("a product has at most {MAX_IMAGES_PER_PRODUCT} images")));
    }
    let count = i32::try_from(count).unwrap_or(i32::MAX);
    let position = position.map_or(count, |p| Ord::min(p, count));
    product_image::Entity::update_many()
        .col_expr(product_image::Column::Position, Expr::col(product_image::Column::Position).add(1))
        .filter(product_image::Column::ProductId.eq(upload.product_id))
        .filter(product_image::Column::Position.gte(position))
        .exec(&txn)
        .await?;
    let image = product_image::ActiveModel {
        id: Set(image_id),
        product_id: Set(upload.product_id),
        url: Set(media.public_url(&original)),
        alt_text: Set(alt.trim().to_owned()),
        position: Set(position),
        created_at: Set(db::now()),
        object_key: Set(Some(original.clone())),
        width: Set(i32::try_from(checked.width).ok()),
        height: Set(i32::try_from(checked.height).ok()),
        blur_hash: Set(checked.blur_hash),
        variant_widths: Set(None),
    }
    .insert(&txn)
    .await?;
    media_deletion::Entity::delete_by_id(original).exec(&txn).await?;
    list_for_deletion(&txn, std::slice::from_ref(&upload.object_key)).await?;
    txn.commit().await?;

    delete_now(media, db, vec![upload.object_key]).await;
    media.wake_worker();
    Ok(image)
}

fn expired() -> AppError {
    AppError::new(ErrorCode::UploadExpired, "this upload has expired; create a new one")
}

/// Reads the uploaded object and checks it on the blocking pool.
async fn check_object(media: &Media, upload: &media_upload::Model) -> AppResult<picture::Checked> {
    let declared = u64::try_from(upload.byte_size).unwrap_or_default();
    let slot = media.slot().await?;
    let object = media
        .store()
        .read(&upload.object_key, declared)
        .await
        .map_err(AppError::internal)?
        .ok_or_else(|| AppError::new(ErrorCode::UploadNotReceived, "nothing was uploaded to this upload's URL"))?;
    let format = Format::from_content_type(&upload.content_type)
        .ok_or_else(|| AppError::new(ErrorCode::UnsupportedMediaType, "the upload's type is not accepted"))?;
    let bounds = media.bounds();
    let checked = Media::run_in(slot, move || picture::check(&object.bytes, format, bounds)).await?;
    checked.map_err(|refusal| {
        let code = match refusal {
            Refusal::TooLarge { .. } => ErrorCode::ImageTooLarge,
            Refusal::NotAnImage | Refusal::Mismatch { .. } | Refusal::Unreadable(_) => ErrorCode::UnsupportedMediaType,
        };
        AppError::new(code, refusal.to_string())
    })
}

/// Marks a refused upload and deletes its object.
async fn reject(media: &Media, db: &Db, upload: &media_upload::Model) -> AppResult<()> {
    let txn = db.begin_write().await?;
    settle(&txn, upload.id, REJECTED).await?;
    list_for_deletion(&txn, std::slice::from_ref(&upload.object_key)).await?;
    txn.commit().await?;
    delete_now(media, db, vec![upload.object_key.clone()]).await;
    Ok(())
}

/// Puts the product's images in the order of `image_ids`, which must name each of them once.
///
/// # Errors
/// `BAD_USER_INPUT` when the list is not exactly the product's images.
pub async fn reorder_images(db: &Db, product_id: Uuid, image_ids: &[Uuid]) -> AppResult<()> {
    let txn = db.begin_write().await?;
    let images =
        product_image::Entity::find().filter(product_image::Column::ProductId.eq(product_id)).all(&txn).await?;
    let mut wanted = image_ids.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let mut present: Vec<Uuid> = images.iter().map(|i| i.id).collect();
    present.sort_unstable();
    if wanted.len() != image_ids.len() || wanted != present {
        return Err(AppError::bad_input("imageIds must name each of the product's images exactly once"));
    }
    for (position, id) in image_ids.iter().enumerate() {
        product_image::Entity::update_many()
            .col_expr(product_image::Column::Position, Expr::value(i32::try_from(position).unwrap_or(i32::MAX)))
            .filter(product_image::Column::Id.eq(*id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Removes an image from its product and deletes its objects. Returns the product's id.
///
/// # Errors
/// `NOT_FOUND` for an unknown image.
pub async fn remove_image(media: &Media, db: &Db, image_id: Uuid) -> AppResult<Uuid> {
    let txn = db.begin_write().await?;
    let image =
        product_image::Entity::find_by_id(image_id).one(&txn).await?.ok_or_else(|| AppError::not_found("image"))?;
    product_image::Entity::delete_by_id(image.id).exec(&txn).await?;
    product_image::Entity::update_many()
        .col_expr(product_image::Column::Position, Expr::col(product_image::Column::Position).sub(1))
        .filter(product_image::Column::ProductId.eq(image.product_id))
        .filter(product_image::Column::Position.gt(image.position))
        .exec(&txn)
        .await?;
    let keys = objects_of(media, &image);
    list_for_deletion(&txn, &keys).await?;
    txn.commit().await?;
    delete_now(media, db, keys).await;
    Ok(image.product_id)
}

/// Where uploaded images live, each in a folder of its own.
const IMAGES: &str = "images/";

/// Every object an image owns: its original and a variant per configured width. Images that
/// point at shared objects (the demo's placeholders) own none.
pub(super) fn objects_of(media: &Media, image: &product_image::Model) -> Vec<String> {
    let Some(original) = image.object_key.as_ref().filter(|key| key.starts_with(IMAGES)) else { return Vec::new() };
    let mut keys = vec![original.clone()];
    keys.extend(media.settings().variant_widths.iter().map(|w| variant_key(original, *w)));
    keys
}

/// The key of the WebP variant of `width` of the original under `original`, in its folder.
pub fn variant_key(original: &str, width: u32) -> String {
    let folder = original.rsplit_once('/').map_or("", |(folder, _)| folder);
    format!("{folder}/w{width}.webp")
}

/// Moves a pending upload to `status`; false when it was no longer pending (another request
/// settled it first).
async fn settle(conn: &impl ConnectionTrait, upload_id: Uuid, status: &str) -> AppResult<bool> {
    let settled = media_upload::Entity::update_many()
        .col_expr(media_upload::Column::Status, Expr::value(status))
        .filter(media_upload::Column::Id.eq(upload_id))
        .filter(media_upload::Column::Status.eq(PENDING))
        .exec(conn)
        .await?;
    Ok(settled.rows_affected == 1)
}

async fn image_count(conn: &impl ConnectionTrait, product_id: Uuid) -> AppResult<u64> {
    Ok(product_image::Entity::find().filter(product_image::Column::ProductId.eq(product_id)).count(conn).await?)
}

async fn list_for_deletion(conn: &impl ConnectionTrait, keys: &[String]) -> AppResult<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let now = db::now();
    let rows =
        keys.iter().map(|key| media_deletion::ActiveModel { object_key: Set(key.clone()), created_at: Set(now) });
    media_deletion::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([media_deletion::Column::ObjectKey])
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Deletes objects listed for deletion, then their listing; what fails stays listed for the
/// sweep.
async fn delete_now(media: &Media, db: &Db, keys: Vec<String>) {
    for key in keys {
        match media.store().delete(&key).await {
            Ok(()) => {
                if let Err(error) = media_deletion::Entity::delete_by_id(key.clone()).exec(db.conn()).await {
                    tracing::warn!(key, error = %error, "a deleted object stays listed; the sweep will retry");
                }
            }
            Err(error) => tracing::warn!(
                key,
                error = format!("{error:#}"),
                "deleting a media object failed; the sweep will retry"
            ),
        }
    }
}

/// What a sweep did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Uploads that expired unconfirmed.
    pub expired_uploads: u64,
    /// Objects deleted.
    pub deleted_objects: u64,
}

/// Expires uploads whose URL ran out unconfirmed, and deletes their objects and every object
/// listed for deletion for long enough.
///
/// # Errors
/// When the store fails.
pub async fn sweep(media: &Media, db: &Db) -> AppResult<Swept> {
    let now = db::now();
    let stale = media_upload::Entity::find()
        .filter(media_upload::Column::Status.eq(PENDING))
        .filter(media_upload::Column::ExpiresAt.lte(now))
        .order_by_asc(media_upload::Column::ExpiresAt)
        .paginate(db.conn(), 500)
        .fetch_page(0)
        .await?;
    let mut swept = Swept::default();
    let mut keys = Vec::new();
    for upload in stale {
        let txn = db.begin_write().await?;
        if settle(&txn, upload.id, EXPIRED).await? {
            list_for_deletion(&txn, std::slice::from_ref(&upload.object_key)).await?;
            keys.push(upload.object_key);
            swept.expired_uploads += 1;
        }
        txn.commit().await?;
    }
    let due = media_deletion::Entity::find()
        .filter(media_deletion::Column::CreatedAt.lte(now - chrono::Duration::minutes(DELETION_GRACE_MINUTES)))
        .order_by_asc(media_deletion::Column::CreatedAt)
        .paginate(db.conn(), 500)
        .fetch_page(0)
        .await?;
    keys.extend(due.into_iter().map(|d| d.object_key));
    let before = media_deletion::Entity::find().count(db.conn()).await?;
    delete_now(media, db, keys).await;
    let after = media_deletion::Entity::find().count(db.conn()).await?;
    swept.deleted_objects = before.saturating_sub(after);
    Ok(swept)
}
