//! The event outbox: what subscribers are told about, written in the transaction of the change.
//!
//! `events` gets a row, by trigger, for every order placed (`ORDER_PLACED`), every change of an
//! order's status (`ORDER_STATUS_CHANGED`, with `from` and `to`), every stock movement
//! (`STOCK_CHANGED`, with the delta, the level after it and the reason) and every product audit
//! row (`AUDIT_ENTRY_ADDED`, with its sequence). The growing id is the event's identity and its
//! order; `published_at` is set once the relay has handed the event to the event bus.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::columns::{optional_timestamp, text, timestamp};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    Kind,
    Subject,
    Detail,
    CreatedAt,
    PublishedAt,
}

const POSTGRES_UP: &str = r"
CREATE FUNCTION aeternum_order_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO events (kind, subject, detail, created_at)
        VALUES ('ORDER_PLACED', NEW.id, jsonb_build_object('status', NEW.status)::text, clock_timestamp());
    ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO events (kind, subject, detail, created_at)
        VALUES ('ORDER_STATUS_CHANGED', NEW.id,
                jsonb_build_object('from', OLD.status, 'to', NEW.status)::text, clock_timestamp());
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER orders_events AFTER INSERT OR UPDATE OF status ON orders
    FOR EACH ROW EXECUTE FUNCTION aeternum_order_event();

CREATE FUNCTION aeternum_stock_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (kind, subject, detail, created_at)
    VALUES ('STOCK_CHANGED', NEW.product_id,
            jsonb_build_object('delta', NEW.delta, 'level', NEW.stock_after, 'reason', NEW.reason)::text,
            clock_timestamp());
    RETURN NULL;
END
$$;

CREATE TRIGGER stock_movements_events AFTER INSERT ON stock_movements
    FOR EACH ROW EXECUTE FUNCTION aeternum_stock_event();

CREATE FUNCTION aeternum_audit_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (kind, subject, detail, created_at)
    VALUES ('AUDIT_ENTRY_ADDED', NEW.product_id, jsonb_build_object('sequence', NEW.id)::text, clock_timestamp());
    RETURN NULL;
END
$$;

CREATE TRIGGER product_audit_events AFTER INSERT ON product_audit
    FOR EACH ROW EXECUTE FUNCTION aeternum_audit_event();
";

const POSTGRES_DOWN: &str = r"
DROP TRIGGER IF EXISTS product_audit_events ON product_audit;
DROP TRIGGER IF EXISTS stock_movements_events ON stock_movements;
DROP TRIGGER IF EXISTS orders_events ON orders;
DROP FUNCTION IF EXISTS aeternum_audit_event();
DROP FUNCTION IF EXISTS aeternum_stock_event();
DROP FUNCTION IF EXISTS aeternum_order_event();
";

const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')";

fn sqlite_up() -> Vec<String> {
    vec![
        format!(
            "CREATE TRIGGER orders_events_insert AFTER INSERT ON orders BEGIN
                INSERT INTO events (kind, subject, detail, created_at)
                VALUES ('ORDER_PLACED', NEW.id, json_object('status', NEW.status), {NOW});
             END"
        ),
        format!(
            "CREATE TRIGGER orders_events_update AFTER UPDATE OF status ON orders
             WHEN NEW.status IS NOT OLD.status BEGIN
                INSERT INTO events (kind, subject, detail, created_at)
                VALUES ('ORDER_STATUS_CHANGED', NEW.id, json_object('from', OLD.status, 'to', NEW.status), {NOW});
             END"
        ),
        format!(
            "CREATE TRIGGER stock_movements_events AFTER INSERT ON stock_movements BEGIN
                INSERT INTO events (kind, subject, detail, created_at)
                VALUES ('STOCK_CHANGED', NEW.product_id,
                        json_object('delta', NEW.delta, 'level', NEW.stock_after, 'reason', NEW.reason), {NOW});
             END"
        ),
        format!(
            "CREATE TRIGGER product_audit_events AFTER INSERT ON product_audit BEGIN
                INSERT INTO events (kind, subject, detail, created_at)
                VALUES ('AUDIT_ENTRY_ADDED', NEW.product_id, json_object('sequence', NEW.id), {NOW});
             END"
        ),
    ]
}

const SQLITE_DOWN: &str = r"
DROP TRIGGER IF EXISTS product_audit_events;
DROP TRIGGER IF EXISTS stock_movements_events;
DROP TRIGGER IF EXISTS orders_events_update;
DROP TRIGGER IF EXISTS orders_events_insert;
";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(ColumnDef::new(Events::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(text(Events::Kind, 32))
                    .col(ColumnDef::new(Events::Subject).uuid().not_null())
                    .col(ColumnDef::new(Events::Detail).text().not_null())
                    .col(timestamp(Events::CreatedAt))
                    .col(optional_timestamp(Events::PublishedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("events_created_at_idx").table(Events::Table).col(Events::CreatedAt).to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared(POSTGRES_UP).await?;
                db.execute_unprepared("CREATE INDEX events_unpublished_idx ON events (id) WHERE published_at IS NULL")
                    .await?;
            }
            DatabaseBackend::Sqlite => {
                for statement in sqlite_up() {
                    db.execute_unprepared(&statement).await?;
                }
                db.execute_unprepared("CREATE INDEX events_unpublished_idx ON events (id) WHERE published_at IS NULL")
                    .await?;
            }
            _ => return Err(DbErr::Migration("only SQLite and PostgreSQL are supported".to_owned())),
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => db.execute_unprepared(POSTGRES_DOWN).await?,
            DatabaseBackend::Sqlite => db.execute_unprepared(SQLITE_DOWN).await?,
            _ => return Ok(()),
        };
        manager.drop_table(Table::drop().table(Events::Table).if_exists().to_owned()).await?;
        Ok(())
    }
}
