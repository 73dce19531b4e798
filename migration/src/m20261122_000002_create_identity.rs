//! Accounts, refresh-token families, password resets, partner API keys, the security audit
//! log, and the private product fields that only a product's vendor and staff may read.

use sea_orm_migration::prelude::*;

use crate::columns::{id, optional_timestamp, timestamp};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    PasswordHash,
    Role,
    VendorId,
    DisplayName,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    UserId,
    FamilyId,
    TokenHash,
    ExpiresAt,
    CreatedAt,
    UsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum PasswordResets {
    Table,
    Id,
    UserId,
    TokenHash,
    ExpiresAt,
    CreatedAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    Name,
    Prefix,
    KeyHash,
    Scopes,
    CreatedBy,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum SecurityEvents {
    Table,
    Id,
    OccurredAt,
    Action,
    ActorId,
    Subject,
    Ip,
    Detail,
}

#[derive(DeriveIden)]
enum Vendors {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    CostMinor,
    InternalNotes,
}

fn owned_by_user(
    name: &str,
    table: impl IntoIden + 'static,
    column: impl IntoIden + 'static,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let vendor_role_matches = Expr::col(Users::Role)
            .eq("VENDOR")
            .and(Expr::col(Users::VendorId).is_not_null())
            .or(Expr::col(Users::Role).ne("VENDOR").and(Expr::col(Users::VendorId).is_null()));
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(id(Users::Id))
                    .col(ColumnDef::new(Users::Email).string_len(254).not_null().unique_key())
                    .col(ColumnDef::new(Users::PasswordHash).string_len(200).not_null())
                    .col(
                        ColumnDef::new(Users::Role)
                            .string_len(16)
                            .not_null()
                            .check(Expr::col(Users::Role).is_in(["CUSTOMER", "VENDOR", "STAFF", "ADMIN"])),
                    )
                    .col(ColumnDef::new(Users::VendorId).uuid().null())
                    .col(ColumnDef::new(Users::DisplayName).string_len(100).not_null())
                    .col(timestamp(Users::CreatedAt))
                    .col(timestamp(Users::UpdatedAt))
                    .check(vendor_role_matches)
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_users_vendor")
                            .from(Users::Table, Users::VendorId)
                            .to(Vendors::Table, Vendors::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(id(RefreshTokens::Id))
                    .col(ColumnDef::new(RefreshTokens::UserId).uuid().not_null())
                    .col(ColumnDef::new(RefreshTokens::FamilyId).uuid().not_null())
                    .col(ColumnDef::new(RefreshTokens::TokenHash).string_len(64).not_null().unique_key())
                    .col(timestamp(RefreshTokens::ExpiresAt))
                    .col(timestamp(RefreshTokens::CreatedAt))
                    .col(optional_timestamp(RefreshTokens::UsedAt))
                    .col(optional_timestamp(RefreshTokens::RevokedAt))
                    .foreign_key(&mut owned_by_user(
                        "fk_refresh_tokens_user",
                        RefreshTokens::Table,
                        RefreshTokens::UserId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PasswordResets::Table)
                    .col(id(PasswordResets::Id))
                    .col(ColumnDef::new(PasswordResets::UserId).uuid().not_null())
                    .col(ColumnDef::new(PasswordResets::TokenHash).string_len(64).not_null().unique_key())
                    .col(timestamp(PasswordResets::ExpiresAt))
                    .col(timestamp(PasswordResets::CreatedAt))
                    .col(optional_timestamp(PasswordResets::UsedAt))
                    .foreign_key(&mut owned_by_user(
                        "fk_password_resets_user",
                        PasswordResets::Table,
                        PasswordResets::UserId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(id(ApiKeys::Id))
                    .col(ColumnDef::new(ApiKeys::Name).string_len(100).not_null())
                    .col(ColumnDef::new(ApiKeys::Prefix).string_len(16).not_null().unique_key())
                    .col(ColumnDef::new(ApiKeys::KeyHash).string_len(64).not_null().unique_key())
                    .col(ColumnDef::new(ApiKeys::Scopes).json_binary().not_null())
                    .col(ColumnDef::new(ApiKeys::CreatedBy).uuid().null())
                    .col(timestamp(ApiKeys::CreatedAt))
                    .col(optional_timestamp(ApiKeys::LastUsedAt))
                    .col(optional_timestamp(ApiKeys::RevokedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SecurityEvents::Table)
                    .col(id(SecurityEvents::Id))
                    .col(timestamp(SecurityEvents::OccurredAt))
                    .col(ColumnDef::new(SecurityEvents::Action).string_len(40).not_null())
                    .col(ColumnDef::new(SecurityEvents::ActorId).uuid().null())
                    .col(ColumnDef::new(SecurityEvents::Subject).string_len(254).null())
                    .col(ColumnDef::new(SecurityEvents::Ip).string_len(64).null())
                    .col(ColumnDef::new(SecurityEvents::Detail).json_binary().not_null())
                    .to_owned(),
            )
            .await?;

        for statement in [
            Index::create()
                .name("idx_refresh_tokens_family")
                .table(RefreshTokens::Table)
                .col(RefreshTokens::FamilyId)
                .to_owned(),
            Index::create()
                .name("idx_refresh_tokens_user")
                .table(RefreshTokens::Table)
                .col(RefreshTokens::UserId)
                .to_owned(),
            Index::create()
                .name("idx_security_events_subject")
                .table(SecurityEvents::Table)
                .col(SecurityEvents::Action)
                .col(SecurityEvents::Subject)
                .col(SecurityEvents::OccurredAt)
                .to_owned(),
            Index::create()
                .name("idx_security_events_ip")
                .table(SecurityEvents::Table)
                .col(SecurityEvents::Action)
                .col(SecurityEvents::Ip)
                .col(SecurityEvents::OccurredAt)
                .to_owned(),
            Index::create()
                .name("idx_security_events_time")
                .table(SecurityEvents::Table)
                .col(SecurityEvents::OccurredAt)
                .col(SecurityEvents::Id)
                .to_owned(),
        ] {
            manager.create_index(statement).await?;
        }

        // SQLite adds one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(Products::Table)
                    .add_column(ColumnDef::new(Products::CostMinor).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Products::Table)
                    .add_column(ColumnDef::new(Products::InternalNotes).text().not_null().default(""))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Products::InternalNotes.into_iden(), Products::CostMinor.into_iden()] {
            manager.alter_table(Table::alter().table(Products::Table).drop_column(column).to_owned()).await?;
        }
        for table in [
            SecurityEvents::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            PasswordResets::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
