//! Carts, orders with their snapshot lines and per-vendor fulfilments, payments, the stock
//! movements ledger and the product audit trail. The triggers that guard them are in the next
//! migration.

use sea_orm_migration::prelude::*;

use crate::columns::{id, optional_text, optional_timestamp, text, timestamp};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Products {
    Table,
    Id,
    OneOfAKind,
    SoldPriceMinor,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Vendors {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Carts {
    Table,
    Id,
    UserId,
    TokenHash,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CartLines {
    Table,
    Id,
    CartId,
    ProductId,
    Quantity,
    UnitPriceMinor,
    Currency,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    UserId,
    CartId,
    IdempotencyKey,
    RequestHash,
    Status,
    Currency,
    SubtotalMinor,
    TaxMinor,
    TotalMinor,
    Email,
    ShipName,
    ShipLine1,
    ShipLine2,
    ShipCity,
    ShipRegion,
    ShipPostalCode,
    ShipCountry,
    ShipPhone,
    ExpiresAt,
    PaidAt,
    ClosedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Fulfilments {
    Table,
    Id,
    OrderId,
    VendorId,
    Status,
    TrackingNumber,
    FulfilledAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OrderLines {
    Table,
    Id,
    OrderId,
    FulfilmentId,
    ProductId,
    VendorId,
    VendorName,
    Sku,
    Title,
    Quantity,
    UnitPriceMinor,
    Currency,
    TaxMinor,
    LineTotalMinor,
    ImageUrl,
    Attributes,
    Position,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Id,
    OrderId,
    Provider,
    Reference,
    Status,
    AmountMinor,
    Currency,
    IdempotencyKey,
    Failure,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PaymentEvents {
    Table,
    Id,
    Provider,
    EventType,
    Reference,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum StockMovements {
    Table,
    Id,
    ProductId,
    Delta,
    StockAfter,
    Reason,
    OrderId,
    ActorId,
    Note,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProductAudit {
    Table,
    Id,
    ProductId,
    OldStatus,
    NewStatus,
    OldPriceMinor,
    NewPriceMinor,
    OldStock,
    NewStock,
    ChangedAt,
}

fn fk<A, B, C, D>(name: &str, from: (A, B), to: (C, D)) -> ForeignKeyCreateStatement
where
    A: IntoIden + 'static,
    B: IntoIden + 'static,
    C: IntoIden + 'static,
    D: IntoIden + 'static,
{
    ForeignKey::create().name(name).from(from.0, from.1).to(to.0, to.1).on_delete(ForeignKeyAction::Restrict).to_owned()
}

fn minor(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().take()
}

/// An append-only table's key: a growing integer, so rows read back in the order they were written.
fn serial(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().auto_increment().primary_key().take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Products::Table)
                    .add_column(ColumnDef::new(Products::OneOfAKind).boolean().not_null().default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Products::Table)
                    .add_column(ColumnDef::new(Products::SoldPriceMinor).big_integer().null())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Carts::Table)
                    .col(id(Carts::Id))
                    .col(ColumnDef::new(Carts::UserId).uuid().null().unique_key())
                    .col(optional_text(Carts::TokenHash, 64).unique_key())
                    .col(timestamp(Carts::CreatedAt))
                    .col(timestamp(Carts::UpdatedAt))
                    .foreign_key(
                        &mut fk("fk_carts_user", (Carts::Table, Carts::UserId), (Users::Table, Users::Id))
                            .on_delete(ForeignKeyAction::Cascade)
                            .to_owned(),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CartLines::Table)
                    .col(id(CartLines::Id))
                    .col(ColumnDef::new(CartLines::CartId).uuid().not_null())
                    .col(ColumnDef::new(CartLines::ProductId).uuid().not_null())
                    .col(
                        ColumnDef::new(CartLines::Quantity)
                            .integer()
                            .not_null()
                            .check(Expr::col(CartLines::Quantity).between(1, 99)),
                    )
                    .col(minor(CartLines::UnitPriceMinor))
                    .col(text(CartLines::Currency, 3))
                    .col(timestamp(CartLines::CreatedAt))
                    .col(timestamp(CartLines::UpdatedAt))
                    .foreign_key(
                        &mut fk("fk_cart_lines_cart", (CartLines::Table, CartLines::CartId), (Carts::Table, Carts::Id))
                            .on_delete(ForeignKeyAction::Cascade)
                            .to_owned(),
                    )
                    .foreign_key(&mut fk(
                        "fk_cart_lines_product",
                        (CartLines::Table, CartLines::ProductId),
                        (Products::Table, Products::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Orders::Table)
                    .col(id(Orders::Id))
                    .col(ColumnDef::new(Orders::UserId).uuid().null())
                    .col(ColumnDef::new(Orders::CartId).uuid().not_null())
                    .col(text(Orders::IdempotencyKey, 100))
                    .col(text(Orders::RequestHash, 64))
                    .col(text(Orders::Status, 20).check(Expr::col(Orders::Status).is_in([
                        "PENDING_PAYMENT",
                        "PAID",
                        "FULFILLED",
                        "COMPLETED",
                        "CANCELLED",
                        "REFUNDED",
                    ])))
                    .col(text(Orders::Currency, 3))
                    .col(minor(Orders::SubtotalMinor))
                    .col(minor(Orders::TaxMinor))
                    .col(minor(Orders::TotalMinor))
                    .col(text(Orders::Email, 254))
                    .col(text(Orders::ShipName, 200))
                    .col(text(Orders::ShipLine1, 200))
                    .col(optional_text(Orders::ShipLine2, 200))
                    .col(text(Orders::ShipCity, 100))
                    .col(optional_text(Orders::ShipRegion, 100))
                    .col(text(Orders::ShipPostalCode, 20))
                    .col(text(Orders::ShipCountry, 2))
                    .col(optional_text(Orders::ShipPhone, 32))
                    .col(timestamp(Orders::ExpiresAt))
                    .col(optional_timestamp(Orders::PaidAt))
                    .col(optional_timestamp(Orders::ClosedAt))
                    .col(timestamp(Orders::CreatedAt))
                    .col(timestamp(Orders::UpdatedAt))
                    .foreign_key(
                        &mut fk("fk_orders_user", (Orders::Table, Orders::UserId), (Users::Table, Users::Id))
                            .on_delete(ForeignKeyAction::SetNull)
                            .to_owned(),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Fulfilments::Table)
                    .col(id(Fulfilments::Id))
                    .col(ColumnDef::new(Fulfilments::OrderId).uuid().not_null())
                    .col(ColumnDef::new(Fulfilments::VendorId).uuid().not_null())
                    .col(text(Fulfilments::Status, 16).check(Expr::col(Fulfilments::Status).is_in([
                        "PENDING",
                        "FULFILLED",
                        "CANCELLED",
                    ])))
                    .col(optional_text(Fulfilments::TrackingNumber, 100))
                    .col(optional_timestamp(Fulfilments::FulfilledAt))
                    .col(timestamp(Fulfilments::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_fulfilments_order",
                        (Fulfilments::Table, Fulfilments::OrderId),
                        (Orders::Table, Orders::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_fulfilments_vendor",
                        (Fulfilments::Table, Fulfilments::VendorId),
                        (Vendors::Table, Vendors::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        // Snapshot lines: everything the order needs is copied, so no foreign key to products.
        manager
            .create_table(
                Table::create()
                    .table(OrderLines::Table)
                    .col(id(OrderLines::Id))
                    .col(ColumnDef::new(OrderLines::OrderId).uuid().not_null())
                    .col(ColumnDef::new(OrderLines::FulfilmentId).uuid().not_null())
                    .col(ColumnDef::new(OrderLines::ProductId).uuid().not_null())
                    .col(ColumnDef::new(OrderLines::VendorId).uuid().not_null())
                    .col(text(OrderLines::VendorName, 200))
                    .col(text(OrderLines::Sku, 64))
                    .col(text(OrderLines::Title, 200))
                    .col(ColumnDef::new(OrderLines::Quantity).integer().not_null())
                    .col(minor(OrderLines::UnitPriceMinor))
                    .col(text(OrderLines::Currency, 3))
                    .col(minor(OrderLines::TaxMinor))
                    .col(minor(OrderLines::LineTotalMinor))
                    .col(optional_text(OrderLines::ImageUrl, 2048))
                    .col(ColumnDef::new(OrderLines::Attributes).json_binary().not_null())
                    .col(ColumnDef::new(OrderLines::Position).integer().not_null())
                    .col(timestamp(OrderLines::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_order_lines_order",
                        (OrderLines::Table, OrderLines::OrderId),
                        (Orders::Table, Orders::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_order_lines_fulfilment",
                        (OrderLines::Table, OrderLines::FulfilmentId),
                        (Fulfilments::Table, Fulfilments::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Payments::Table)
                    .col(id(Payments::Id))
                    .col(ColumnDef::new(Payments::OrderId).uuid().not_null())
                    .col(text(Payments::Provider, 40))
                    .col(optional_text(Payments::Reference, 200).unique_key())
                    .col(
                        text(Payments::Status, 16)
                            .check(Expr::col(Payments::Status).is_in(["PENDING", "CAPTURED", "FAILED", "REFUNDED"])),
                    )
                    .col(minor(Payments::AmountMinor))
                    .col(text(Payments::Currency, 3))
                    .col(text(Payments::IdempotencyKey, 100))
                    .col(optional_text(Payments::Failure, 300))
                    .col(timestamp(Payments::CreatedAt))
                    .col(timestamp(Payments::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_payments_order",
                        (Payments::Table, Payments::OrderId),
                        (Orders::Table, Orders::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PaymentEvents::Table)
                    .col(text(PaymentEvents::Id, 200).primary_key())
                    .col(text(PaymentEvents::Provider, 40))
                    .col(text(PaymentEvents::EventType, 60))
                    .col(text(PaymentEvents::Reference, 200))
                    .col(timestamp(PaymentEvents::ReceivedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(StockMovements::Table)
                    .col(serial(StockMovements::Id))
                    .col(ColumnDef::new(StockMovements::ProductId).uuid().not_null())
                    .col(ColumnDef::new(StockMovements::Delta).integer().not_null())
                    .col(
                        ColumnDef::new(StockMovements::StockAfter)
                            .integer()
                            .not_null()
                            .check(Expr::col(StockMovements::StockAfter).gte(0)),
                    )
                    .col(text(StockMovements::Reason, 16).check(Expr::col(StockMovements::Reason).is_in([
                        "SALE",
                        "CANCEL",
                        "REFUND",
                        "RESTOCK",
                        "ADJUSTMENT",
                    ])))
                    .col(ColumnDef::new(StockMovements::OrderId).uuid().null())
                    .col(ColumnDef::new(StockMovements::ActorId).uuid().null())
                    .col(text(StockMovements::Note, 300))
                    .col(timestamp(StockMovements::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_stock_movements_product",
                        (StockMovements::Table, StockMovements::ProductId),
                        (Products::Table, Products::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProductAudit::Table)
                    .col(serial(ProductAudit::Id))
                    .col(ColumnDef::new(ProductAudit::ProductId).uuid().not_null())
                    .col(optional_text(ProductAudit::OldStatus, 16))
                    .col(text(ProductAudit::NewStatus, 16))
                    .col(ColumnDef::new(ProductAudit::OldPriceMinor).big_integer().null())
                    .col(minor(ProductAudit::NewPriceMinor))
                    .col(ColumnDef::new(ProductAudit::OldStock).integer().null())
                    .col(ColumnDef::new(ProductAudit::NewStock).integer().not_null())
                    .col(timestamp(ProductAudit::ChangedAt))
                    .to_owned(),
            )
            .await?;

        let indexes = [
            Index::create()
                .name("idx_cart_lines_cart_product")
                .table(CartLines::Table)
                .col(CartLines::CartId)
                .col(CartLines::ProductId)
                .unique()
                .to_owned(),
            Index::create()
                .name("idx_orders_idempotency")
                .table(Orders::Table)
                .col(Orders::CartId)
                .col(Orders::IdempotencyKey)
                .unique()
                .to_owned(),
            Index::create()
                .name("idx_orders_user_created")
                .table(Orders::Table)
                .col(Orders::UserId)
                .col(Orders::CreatedAt)
                .to_owned(),
            Index::create().name("idx_orders_created").table(Orders::Table).col(Orders::CreatedAt).to_owned(),
            Index::create()
                .name("idx_orders_status_expires")
                .table(Orders::Table)
                .col(Orders::Status)
                .col(Orders::ExpiresAt)
                .to_owned(),
            Index::create()
                .name("idx_fulfilments_order_vendor")
                .table(Fulfilments::Table)
                .col(Fulfilments::OrderId)
                .col(Fulfilments::VendorId)
                .unique()
                .to_owned(),
            Index::create()
                .name("idx_fulfilments_vendor")
                .table(Fulfilments::Table)
                .col(Fulfilments::VendorId)
                .col(Fulfilments::CreatedAt)
                .to_owned(),
            Index::create()
                .name("idx_order_lines_order")
                .table(OrderLines::Table)
                .col(OrderLines::OrderId)
                .col(OrderLines::Position)
                .to_owned(),
            Index::create()
                .name("idx_payments_idempotency")
                .table(Payments::Table)
                .col(Payments::OrderId)
                .col(Payments::IdempotencyKey)
                .unique()
                .to_owned(),
            Index::create()
                .name("idx_stock_movements_product")
                .table(StockMovements::Table)
                .col(StockMovements::ProductId)
                .col(StockMovements::Id)
                .to_owned(),
            Index::create()
                .name("idx_product_audit_product")
                .table(ProductAudit::Table)
                .col(ProductAudit::ProductId)
                .col(ProductAudit::Id)
                .to_owned(),
        ];
        for statement in indexes {
            manager.create_index(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ProductAudit::Table.into_iden(),
            StockMovements::Table.into_iden(),
            PaymentEvents::Table.into_iden(),
            Payments::Table.into_iden(),
            OrderLines::Table.into_iden(),
            Fulfilments::Table.into_iden(),
            Orders::Table.into_iden(),
            CartLines::Table.into_iden(),
            Carts::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        for column in [Products::SoldPriceMinor.into_iden(), Products::OneOfAKind.into_iden()] {
            manager.alter_table(Table::alter().table(Products::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
