//! Holds on one-of-a-kind pieces: a shopper who puts a unique piece in a cart holds it until
//! `held_until`; a lapsed hold is simply not a hold. `held_from` is the address that took it,
//! so holds can be bounded per address. A hold taken or released writes a `STOCK_CHANGED` event
//! (delta 0, with `held_until`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::columns::{optional_text, optional_timestamp};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Products {
    Table,
    HeldByCart,
    HeldUntil,
    HeldFrom,
}

const POSTGRES_UP: &str = r"
CREATE FUNCTION aeternum_hold_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (kind, subject, detail, created_at)
    VALUES ('STOCK_CHANGED', NEW.id,
            jsonb_build_object('delta', 0, 'level', NEW.stock, 'held_until', NEW.held_until)::text,
            clock_timestamp());
    RETURN NULL;
END
$$;

CREATE TRIGGER products_hold_events AFTER UPDATE OF held_by_cart ON products
    FOR EACH ROW WHEN (NEW.held_by_cart IS DISTINCT FROM OLD.held_by_cart)
    EXECUTE FUNCTION aeternum_hold_event();
";

const SQLITE_UP: &str = "
CREATE TRIGGER products_hold_events AFTER UPDATE OF held_by_cart ON products
WHEN NEW.held_by_cart IS NOT OLD.held_by_cart BEGIN
    INSERT INTO events (kind, subject, detail, created_at)
    VALUES ('STOCK_CHANGED', NEW.id, json_object('delta', 0, 'level', NEW.stock, 'held_until', NEW.held_until),
            strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'));
END";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            ColumnDef::new(Products::HeldByCart).uuid().null().take(),
            optional_timestamp(Products::HeldUntil),
            optional_text(Products::HeldFrom, 64),
        ] {
            manager.alter_table(Table::alter().table(Products::Table).add_column(column).to_owned()).await?;
        }
        for (name, column) in
            [("products_held_by_cart_idx", Products::HeldByCart), ("products_held_from_idx", Products::HeldFrom)]
        {
            manager.create_index(Index::create().name(name).table(Products::Table).col(column).to_owned()).await?;
        }
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => db.execute_unprepared(POSTGRES_UP).await?,
            DatabaseBackend::Sqlite => db.execute_unprepared(SQLITE_UP).await?,
            _ => return Err(DbErr::Migration("only SQLite and PostgreSQL are supported".to_owned())),
        };
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared("DROP TRIGGER IF EXISTS products_hold_events ON products; DROP FUNCTION IF EXISTS aeternum_hold_event();").await?
            }
            _ => db.execute_unprepared("DROP TRIGGER IF EXISTS products_hold_events").await?,
        };
        for name in ["products_held_by_cart_idx", "products_held_from_idx"] {
            manager.drop_index(Index::drop().name(name).table(Products::Table).to_owned()).await?;
        }
        for column in [Products::HeldByCart, Products::HeldUntil, Products::HeldFrom] {
            manager.alter_table(Table::alter().table(Products::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
