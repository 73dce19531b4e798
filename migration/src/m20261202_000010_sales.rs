//! `sales`: one row per line of a paid order, with the moment it was paid, kept by triggers.
//!
//! The dashboard's figures are about lines of orders paid within a period. Read from
//! `order_lines`, every figure joined all lines to their orders to learn when each was paid,
//! scanning the whole table whatever the period. `sales` holds each line of a paid order with
//! its order's `paid_at`, and a covering index on (currency, paid_at) makes every figure a range
//! scan of the period's sales alone.
//!
//! A line becomes a sale when its order is paid (`orders.paid_at` set) or, for an order written
//! already paid (a loaded history), when the line is written; the primary key keeps it one
//! sale. Should `paid_at` ever change or be cleared, the order's sales follow: the table is
//! always exactly the lines of paid orders with their orders' `paid_at`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::columns::{text, timestamp};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Sales {
    Table,
    LineId,
    OrderId,
    PaidAt,
    Currency,
    VendorId,
    ProductId,
    Quantity,
    LineTotalMinor,
}

const COLUMNS: &str = "line_id, order_id, paid_at, currency, vendor_id, product_id, quantity, line_total_minor";

const POSTGRES_UP: &str = r"
CREATE FUNCTION aeternum_order_paid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.paid_at IS NULL THEN
        DELETE FROM sales WHERE order_id = NEW.id;
    ELSIF OLD.paid_at IS NULL THEN
        INSERT INTO sales (line_id, order_id, paid_at, currency, vendor_id, product_id, quantity, line_total_minor)
        SELECT l.id, l.order_id, NEW.paid_at, l.currency, l.vendor_id, l.product_id, l.quantity, l.line_total_minor
        FROM order_lines l WHERE l.order_id = NEW.id
        ON CONFLICT (line_id) DO NOTHING;
    ELSE
        UPDATE sales SET paid_at = NEW.paid_at WHERE order_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER orders_sales AFTER UPDATE OF paid_at ON orders
    FOR EACH ROW WHEN (OLD.paid_at IS DISTINCT FROM NEW.paid_at)
    EXECUTE FUNCTION aeternum_order_paid();

CREATE FUNCTION aeternum_line_of_paid_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sales (line_id, order_id, paid_at, currency, vendor_id, product_id, quantity, line_total_minor)
    SELECT NEW.id, NEW.order_id, o.paid_at, NEW.currency, NEW.vendor_id, NEW.product_id, NEW.quantity,
           NEW.line_total_minor
    FROM orders o WHERE o.id = NEW.order_id AND o.paid_at IS NOT NULL
    ON CONFLICT (line_id) DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER order_lines_sales AFTER INSERT ON order_lines
    FOR EACH ROW EXECUTE FUNCTION aeternum_line_of_paid_order();

CREATE INDEX sales_period_idx ON sales (currency, paid_at)
    INCLUDE (vendor_id, product_id, order_id, quantity, line_total_minor);
CREATE INDEX sales_order_idx ON sales (order_id);
";

const POSTGRES_DOWN: &str = r"
DROP TRIGGER IF EXISTS order_lines_sales ON order_lines;
DROP TRIGGER IF EXISTS orders_sales ON orders;
DROP FUNCTION IF EXISTS aeternum_line_of_paid_order();
DROP FUNCTION IF EXISTS aeternum_order_paid();
";

const SQLITE_UP: [&str; 6] = [
    "CREATE TRIGGER orders_sales_paid AFTER UPDATE OF paid_at ON orders
     WHEN OLD.paid_at IS NULL AND NEW.paid_at IS NOT NULL BEGIN
        INSERT OR IGNORE INTO sales (line_id, order_id, paid_at, currency, vendor_id, product_id, quantity, line_total_minor)
        SELECT l.id, l.order_id, NEW.paid_at, l.currency, l.vendor_id, l.product_id, l.quantity, l.line_total_minor
        FROM order_lines l WHERE l.order_id = NEW.id;
     END",
    "CREATE TRIGGER orders_sales_repaid AFTER UPDATE OF paid_at ON orders
     WHEN OLD.paid_at IS NOT NULL AND NEW.paid_at IS NOT NULL AND OLD.paid_at IS NOT NEW.paid_at BEGIN
        UPDATE sales SET paid_at = NEW.paid_at WHERE order_id = NEW.id;
     END",
    "CREATE TRIGGER orders_sales_unpaid AFTER UPDATE OF paid_at ON orders
     WHEN OLD.paid_at IS NOT NULL AND NEW.paid_at IS NULL BEGIN
        DELETE FROM sales WHERE order_id = NEW.id;
     END",
    "CREATE TRIGGER order_lines_sales AFTER INSERT ON order_lines BEGIN
        INSERT OR IGNORE INTO sales (line_id, order_id, paid_at, currency, vendor_id, product_id, quantity, line_total_minor)
        SELECT NEW.id, NEW.order_id, o.paid_at, NEW.currency, NEW.vendor_id, NEW.product_id, NEW.quantity,
               NEW.line_total_minor
        FROM orders o WHERE o.id = NEW.order_id AND o.paid_at IS NOT NULL;
     END",
    // No INCLUDE in SQLite: the same columns as trailing keys make the index covering.
    "CREATE INDEX sales_period_idx ON sales
        (currency, paid_at, vendor_id, product_id, order_id, quantity, line_total_minor)",
    "CREATE INDEX sales_order_idx ON sales (order_id)",
];

const SQLITE_DOWN: &str = r"
DROP TRIGGER IF EXISTS order_lines_sales;
DROP TRIGGER IF EXISTS orders_sales_unpaid;
DROP TRIGGER IF EXISTS orders_sales_repaid;
DROP TRIGGER IF EXISTS orders_sales_paid;
";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Sales::Table)
                    .col(ColumnDef::new(Sales::LineId).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Sales::OrderId).uuid().not_null())
                    .col(timestamp(Sales::PaidAt))
                    .col(text(Sales::Currency, 3))
                    .col(ColumnDef::new(Sales::VendorId).uuid().not_null())
                    .col(ColumnDef::new(Sales::ProductId).uuid().not_null())
                    .col(ColumnDef::new(Sales::Quantity).integer().not_null())
                    .col(ColumnDef::new(Sales::LineTotalMinor).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared(POSTGRES_UP).await?;
            }
            DatabaseBackend::Sqlite => {
                for statement in SQLITE_UP {
                    db.execute_unprepared(statement).await?;
                }
            }
            _ => return Err(DbErr::Migration("only SQLite and PostgreSQL are supported".to_owned())),
        }
        // The lines of orders paid before this migration.
        db.execute_unprepared(&format!(
            "INSERT INTO sales ({COLUMNS})
             SELECT l.id, l.order_id, o.paid_at, l.currency, l.vendor_id, l.product_id, l.quantity, l.line_total_minor
             FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.paid_at IS NOT NULL"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => db.execute_unprepared(POSTGRES_DOWN).await?,
            DatabaseBackend::Sqlite => db.execute_unprepared(SQLITE_DOWN).await?,
            _ => return Ok(()),
        };
        manager.drop_table(Table::drop().table(Sales::Table).if_exists().to_owned()).await?;
        Ok(())
    }
}
