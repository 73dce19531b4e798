//! Vendors, the category tree, products and their images.

use sea_orm_migration::prelude::*;

use crate::columns::{id, optional_text, text, timestamp};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Vendors {
    Table,
    Id,
    Slug,
    Name,
    Description,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Categories {
    Table,
    Id,
    ParentId,
    Slug,
    Name,
    Path,
    Position,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    Id,
    VendorId,
    CategoryId,
    Slug,
    Sku,
    Title,
    Description,
    Brand,
    Size,
    Colour,
    Material,
    Condition,
    Era,
    Attributes,
    PriceMinor,
    Currency,
    Stock,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ProductImages {
    Table,
    Id,
    ProductId,
    Url,
    AltText,
    Position,
    CreatedAt,
}

fn index(name: &str, table: impl IntoTableRef, cols: Vec<DynIden>) -> IndexCreateStatement {
    let mut statement = Index::create().name(name).table(table).to_owned();
    for col in cols {
        statement.col(col);
    }
    statement
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Vendors::Table)
                    .col(id(Vendors::Id))
                    .col(text(Vendors::Slug, 120).unique_key())
                    .col(text(Vendors::Name, 200))
                    .col(ColumnDef::new(Vendors::Description).text().not_null())
                    .col(timestamp(Vendors::CreatedAt))
                    .col(timestamp(Vendors::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Categories::Table)
                    .col(id(Categories::Id))
                    .col(ColumnDef::new(Categories::ParentId).uuid().null())
                    .col(text(Categories::Slug, 120).unique_key())
                    .col(text(Categories::Name, 200))
                    .col(text(Categories::Path, 1000))
                    .col(ColumnDef::new(Categories::Position).integer().not_null().default(0))
                    .col(timestamp(Categories::CreatedAt))
                    .col(timestamp(Categories::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_categories_parent")
                            .from(Categories::Table, Categories::ParentId)
                            .to(Categories::Table, Categories::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Products::Table)
                    .col(id(Products::Id))
                    .col(ColumnDef::new(Products::VendorId).uuid().not_null())
                    .col(ColumnDef::new(Products::CategoryId).uuid().not_null())
                    .col(text(Products::Slug, 200).unique_key())
                    .col(text(Products::Sku, 64).unique_key())
                    .col(text(Products::Title, 200))
                    .col(ColumnDef::new(Products::Description).text().not_null())
                    .col(optional_text(Products::Brand, 100))
                    .col(optional_text(Products::Size, 40))
                    .col(optional_text(Products::Colour, 60))
                    .col(optional_text(Products::Material, 100))
                    .col(optional_text(Products::Condition, 16))
                    .col(optional_text(Products::Era, 40))
                    .col(ColumnDef::new(Products::Attributes).json_binary().not_null())
                    .col(
                        ColumnDef::new(Products::PriceMinor)
                            .big_integer()
                            .not_null()
                            .check(Expr::col(Products::PriceMinor).gte(0)),
                    )
                    .col(text(Products::Currency, 3))
                    .col(ColumnDef::new(Products::Stock).integer().not_null().check(Expr::col(Products::Stock).gte(0)))
                    .col(
                        text(Products::Status, 16).check(
                            Expr::col(Products::Status).is_in(["DRAFT", "ACTIVE", "RESERVED", "SOLD", "ARCHIVED"]),
                        ),
                    )
                    .col(timestamp(Products::CreatedAt))
                    .col(timestamp(Products::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_products_vendor")
                            .from(Products::Table, Products::VendorId)
                            .to(Vendors::Table, Vendors::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_products_category")
                            .from(Products::Table, Products::CategoryId)
                            .to(Categories::Table, Categories::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProductImages::Table)
                    .col(id(ProductImages::Id))
                    .col(ColumnDef::new(ProductImages::ProductId).uuid().not_null())
                    .col(text(ProductImages::Url, 2048))
                    .col(text(ProductImages::AltText, 300))
                    .col(ColumnDef::new(ProductImages::Position).integer().not_null())
                    .col(timestamp(ProductImages::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_product_images_product")
                            .from(ProductImages::Table, ProductImages::ProductId)
                            .to(Products::Table, Products::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        // Keyset pagination walks these indexes: one per sort order, each ending in the id
        // that breaks ties.
        let indexes = [
            index(
                "idx_categories_parent",
                Categories::Table,
                vec![Categories::ParentId.into_iden(), Categories::Position.into_iden()],
            ),
            index(
                "idx_products_created",
                Products::Table,
                vec![Products::CreatedAt.into_iden(), Products::Id.into_iden()],
            ),
            index(
                "idx_products_price",
                Products::Table,
                vec![Products::PriceMinor.into_iden(), Products::Id.into_iden()],
            ),
            index("idx_products_title", Products::Table, vec![Products::Title.into_iden(), Products::Id.into_iden()]),
            index("idx_products_vendor", Products::Table, vec![Products::VendorId.into_iden()]),
            index("idx_products_category", Products::Table, vec![Products::CategoryId.into_iden()]),
            index("idx_products_brand", Products::Table, vec![Products::Brand.into_iden()]),
            index(
                "idx_product_images_product",
                ProductImages::Table,
                vec![ProductImages::ProductId.into_iden(), ProductImages::Position.into_iden()],
            ),
        ];
        for statement in indexes {
            manager.create_index(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ProductImages::Table.into_iden(),
            Products::Table.into_iden(),
            Categories::Table.into_iden(),
            Vendors::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
