//! Partners and their safelists: a partner holds API keys and versions of an operation manifest,
//! one of which is active; a request with one of its keys runs only that manifest's operations.
//!
//! A manifest version is never changed once registered (a new version replaces it), so a
//! process may keep a version's operations as long as it likes. Every key issued before partners
//! existed becomes a partner of its own, named after the key, with its prefix as the slug.

use sea_orm_migration::prelude::*;

use crate::columns::{id, text, timestamp};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Partners {
    Table,
    Id,
    Slug,
    Name,
    ActiveManifestId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PartnerManifests {
    Table,
    Id,
    PartnerId,
    Version,
    Operations,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PartnerOperations {
    Table,
    ManifestId,
    Id,
    Name,
    Kind,
    Body,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    PartnerId,
}

/// Every existing key becomes a partner of its own, under the key's id.
const ADOPT_KEYS: &str = "INSERT INTO partners (id, slug, name, created_at) \
     SELECT id, prefix, name, created_at FROM api_keys";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Partners::Table)
                    .col(id(Partners::Id))
                    .col(ColumnDef::new(Partners::Slug).string_len(64).not_null().unique_key())
                    .col(text(Partners::Name, 100))
                    .col(ColumnDef::new(Partners::ActiveManifestId).uuid().null())
                    .col(timestamp(Partners::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PartnerManifests::Table)
                    .col(id(PartnerManifests::Id))
                    .col(ColumnDef::new(PartnerManifests::PartnerId).uuid().not_null())
                    .col(ColumnDef::new(PartnerManifests::Version).integer().not_null())
                    .col(ColumnDef::new(PartnerManifests::Operations).integer().not_null())
                    .col(ColumnDef::new(PartnerManifests::CreatedBy).uuid().null())
                    .col(timestamp(PartnerManifests::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_partner_manifests_partner")
                            .from(PartnerManifests::Table, PartnerManifests::PartnerId)
                            .to(Partners::Table, Partners::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_partner_manifests_version")
                    .table(PartnerManifests::Table)
                    .col(PartnerManifests::PartnerId)
                    .col(PartnerManifests::Version)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PartnerOperations::Table)
                    .col(ColumnDef::new(PartnerOperations::ManifestId).uuid().not_null())
                    .col(text(PartnerOperations::Id, 64))
                    .col(text(PartnerOperations::Name, 200))
                    .col(text(PartnerOperations::Kind, 16))
                    .col(ColumnDef::new(PartnerOperations::Body).text().not_null())
                    .primary_key(Index::create().col(PartnerOperations::ManifestId).col(PartnerOperations::Id))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_partner_operations_manifest")
                            .from(PartnerOperations::Table, PartnerOperations::ManifestId)
                            .to(PartnerManifests::Table, PartnerManifests::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ApiKeys::Table)
                    .add_column(ColumnDef::new(ApiKeys::PartnerId).uuid().null())
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(ADOPT_KEYS).await?;
        db.execute_unprepared("UPDATE api_keys SET partner_id = id").await?;
        manager
            .create_index(
                Index::create().name("idx_api_keys_partner").table(ApiKeys::Table).col(ApiKeys::PartnerId).to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("idx_api_keys_partner").table(ApiKeys::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(ApiKeys::Table).drop_column(ApiKeys::PartnerId).to_owned()).await?;
        manager.drop_table(Table::drop().table(PartnerOperations::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(PartnerManifests::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Partners::Table).to_owned()).await?;
        Ok(())
    }
}
