//! An upload on its way to a product: the intent of one object in media storage.

use sea_orm::entity::prelude::*;

/// A row of `media_uploads`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "media_uploads")]
pub struct Model {
    /// UUIDv7 key, the `uploadId` of the API.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The product the image is for.
    pub product_id: Uuid,
    /// Where the browser puts the object.
    pub object_key: String,
    /// The file's name as the uploader gave it (kept for the record, never trusted).
    pub filename: String,
    /// The declared content type, bound into the signed URL.
    pub content_type: String,
    /// The declared size in bytes, bound into the signed URL.
    pub byte_size: i64,
    /// `pending`, `confirmed` or `expired`.
    pub status: String,
    /// The account that asked for the upload.
    pub created_by: Option<Uuid>,
    /// When the signed URL stops working.
    pub expires_at: DateTimeUtc,
    /// When the upload was created.
    pub created_at: DateTimeUtc,
}

/// An upload has no relations the code follows.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
