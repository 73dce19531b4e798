//! Media: uploads on their way to a product, the stored image's facts, and the objects waiting to
//! be deleted from storage.
//!
//! An upload is the intent of one object: created when a signed URL is handed out, confirmed once
//! the object was checked and attached, or expired, after which the sweep deletes its object.
//! Deleting an image writes its objects to `media_deletions` in the same transaction, so the
//! storage calls happen after the commit and a crash in between is finished by the next sweep.

use sea_orm_migration::prelude::*;

use crate::columns::{id, optional_text, text, timestamp};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MediaUploads {
    Table,
    Id,
    ProductId,
    ObjectKey,
    Filename,
    ContentType,
    ByteSize,
    Status,
    CreatedBy,
    ExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MediaDeletions {
    Table,
    ObjectKey,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProductImages {
    Table,
    ObjectKey,
    Width,
    Height,
    BlurHash,
    VariantWidths,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MediaUploads::Table)
                    .col(id(MediaUploads::Id))
                    .col(ColumnDef::new(MediaUploads::ProductId).uuid().not_null())
                    .col(text(MediaUploads::ObjectKey, 300))
                    .col(text(MediaUploads::Filename, 255))
                    .col(text(MediaUploads::ContentType, 100))
                    .col(ColumnDef::new(MediaUploads::ByteSize).big_integer().not_null())
                    .col(text(MediaUploads::Status, 16))
                    .col(ColumnDef::new(MediaUploads::CreatedBy).uuid().null())
                    .col(timestamp(MediaUploads::ExpiresAt))
                    .col(timestamp(MediaUploads::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_media_uploads_status_expires")
                    .table(MediaUploads::Table)
                    .col(MediaUploads::Status)
                    .col(MediaUploads::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MediaDeletions::Table)
                    .col(ColumnDef::new(MediaDeletions::ObjectKey).string_len(300).not_null().primary_key())
                    .col(timestamp(MediaDeletions::CreatedAt))
                    .to_owned(),
            )
            .await?;
        // SQLite adds one column per statement.
        let columns = [
            optional_text(ProductImages::ObjectKey, 300),
            ColumnDef::new(ProductImages::Width).integer().null().take(),
            ColumnDef::new(ProductImages::Height).integer().null().take(),
            optional_text(ProductImages::BlurHash, 64),
            optional_text(ProductImages::VariantWidths, 64),
        ];
        for column in columns {
            manager.alter_table(Table::alter().table(ProductImages::Table).add_column(column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            ProductImages::ObjectKey,
            ProductImages::Width,
            ProductImages::Height,
            ProductImages::BlurHash,
            ProductImages::VariantWidths,
        ];
        for column in columns {
            manager.alter_table(Table::alter().table(ProductImages::Table).drop_column(column).to_owned()).await?;
        }
        manager.drop_table(Table::drop().table(MediaDeletions::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(MediaUploads::Table).to_owned()).await
    }
}
