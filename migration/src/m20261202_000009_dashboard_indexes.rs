//! Indexes for the admin dashboard's aggregates: orders by the time they were paid and closed,
//! and a vendor's order lines by order.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Orders {
    Table,
    PaidAt,
    ClosedAt,
}

#[derive(DeriveIden)]
enum OrderLines {
    Table,
    VendorId,
    OrderId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create().name("idx_orders_paid_at").table(Orders::Table).col(Orders::PaidAt).to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_orders_closed_at").table(Orders::Table).col(Orders::ClosedAt).to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_order_lines_vendor_order")
                    .table(OrderLines::Table)
                    .col(OrderLines::VendorId)
                    .col(OrderLines::OrderId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            ("idx_order_lines_vendor_order", OrderLines::Table.into_iden()),
            ("idx_orders_closed_at", Orders::Table.into_iden()),
            ("idx_orders_paid_at", Orders::Table.into_iden()),
        ] {
            manager.drop_index(Index::drop().name(name).table(table).to_owned()).await?;
        }
        Ok(())
    }
}
