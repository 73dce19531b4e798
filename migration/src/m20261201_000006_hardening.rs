//! Guards for money and sessions:
//!
//! - `payments.status` gains `REFUND_PENDING` (a refund recorded, not yet confirmed by the
//!   provider) and `VOIDED` (given up before it completed);
//! - `payments`: at most one payment in flight (`PENDING`) and at most one `CAPTURED` per order,
//!   as partial unique indexes, so two concurrent attempts cannot both charge; `refund_attempts`
//!   and `retry_at` for refunds that are recorded first and sent to the provider after commit;
//! - `orders.placed_from`: the client address a checkout came from, so unpaid holds can be
//!   limited per address (indexed over unpaid orders only);
//! - `search_queries.visitor`: a keyed hash of who searched, so type-ahead suggestions can
//!   require several distinct visitors; `search_suggestion_blocks`: phrases staff keep out of
//!   suggestions;
//! - `users.session_version`: bumped by a role change, a password change or reset; access tokens
//!   carry the version they were issued under and are refused at once when it no longer matches,
//!   not when they expire.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{DatabaseBackend, Statement};

use crate::columns::{optional_text, optional_timestamp, text, timestamp};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Payments {
    Table,
    RefundAttempts,
    RetryAt,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    PlacedFrom,
}

#[derive(DeriveIden)]
enum SearchQueries {
    Table,
    Visitor,
}

#[derive(DeriveIden)]
enum SearchSuggestionBlocks {
    Table,
    Phrase,
    BlockedBy,
    BlockedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    SessionVersion,
}

const ONE_PENDING: &str =
    "CREATE UNIQUE INDEX idx_payments_one_pending ON payments (order_id) WHERE status = 'PENDING'";
const ONE_CAPTURE: &str =
    "CREATE UNIQUE INDEX idx_payments_one_capture ON payments (order_id) WHERE status = 'CAPTURED'";
const UNPAID_BY_ADDRESS: &str =
    "CREATE INDEX idx_orders_unpaid_by_address ON orders (placed_from) WHERE status = 'PENDING_PAYMENT'";
const UNPAID_BY_CART: &str =
    "CREATE INDEX idx_orders_unpaid_by_cart ON orders (cart_id) WHERE status = 'PENDING_PAYMENT'";
const REFUNDS_DUE: &str =
    "CREATE INDEX idx_payments_refunds_due ON payments (retry_at) WHERE status = 'REFUND_PENDING'";

const OLD_STATUSES: &str = "'PENDING', 'CAPTURED', 'FAILED', 'REFUNDED'";
const NEW_STATUSES: &str = "'PENDING', 'CAPTURED', 'FAILED', 'REFUNDED', 'REFUND_PENDING', 'VOIDED'";

/// Replaces the CHECK constraint on `payments.status` with one allowing `statuses`. PostgreSQL
/// alters the constraint; SQLite cannot, so the table is rebuilt from its own DDL with the new
/// list (nothing references `payments`, and its one index outside the DDL is recreated).
async fn allow_statuses(manager: &SchemaManager<'_>, from: &str, to: &str) -> Result<(), DbErr> {
    let db = manager.get_connection();
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => {
            let query = "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'payments'";
            let row = db
                .query_one_raw(Statement::from_string(DatabaseBackend::Sqlite, query))
                .await?
                .ok_or_else(|| DbErr::Migration("no payments table".into()))?;
            let ddl: String = row.try_get("", "sql")?;
            if !ddl.contains(from) {
                return Err(DbErr::Migration(format!("unexpected payments DDL: {ddl}")));
            }
            let columns = ddl.find('(').map(|at| &ddl[at..]).unwrap_or_default();
            let rebuilt = format!("CREATE TABLE payments_rebuilt {}", columns.replacen(from, to, 1));
            // One batch, so every step runs on the same pooled connection.
            db.execute_unprepared(&format!(
                "{rebuilt}; \
                 INSERT INTO payments_rebuilt SELECT * FROM payments; \
                 DROP TABLE payments; \
                 ALTER TABLE payments_rebuilt RENAME TO payments; \
                 CREATE UNIQUE INDEX idx_payments_idempotency ON payments (order_id, idempotency_key);"
            ))
            .await?;
        }
        _ => {
            db.execute_unprepared(&format!(
                "ALTER TABLE payments DROP CONSTRAINT payments_status_check, \
                 ADD CONSTRAINT payments_status_check CHECK (status IN ({to}))"
            ))
            .await?;
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        allow_statuses(manager, OLD_STATUSES, NEW_STATUSES).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Payments::Table)
                    .add_column(ColumnDef::new(Payments::RefundAttempts).integer().not_null().default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter().table(Payments::Table).add_column(optional_timestamp(Payments::RetryAt)).to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(ColumnDef::new(Users::SessionVersion).integer().not_null().default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter().table(Orders::Table).add_column(optional_text(Orders::PlacedFrom, 45)).to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SearchQueries::Table)
                    .add_column(optional_text(SearchQueries::Visitor, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SearchSuggestionBlocks::Table)
                    .col(text(SearchSuggestionBlocks::Phrase, 200).primary_key())
                    .col(ColumnDef::new(SearchSuggestionBlocks::BlockedBy).uuid().null())
                    .col(timestamp(SearchSuggestionBlocks::BlockedAt))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for statement in [ONE_PENDING, ONE_CAPTURE, REFUNDS_DUE, UNPAID_BY_ADDRESS, UNPAID_BY_CART] {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for index in [
            "idx_payments_one_pending",
            "idx_payments_one_capture",
            "idx_payments_refunds_due",
            "idx_orders_unpaid_by_address",
            "idx_orders_unpaid_by_cart",
        ] {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {index}")).await?;
        }
        manager.drop_table(Table::drop().table(SearchSuggestionBlocks::Table).to_owned()).await?;
        manager
            .alter_table(Table::alter().table(SearchQueries::Table).drop_column(SearchQueries::Visitor).to_owned())
            .await?;
        manager.alter_table(Table::alter().table(Orders::Table).drop_column(Orders::PlacedFrom).to_owned()).await?;
        manager.alter_table(Table::alter().table(Users::Table).drop_column(Users::SessionVersion).to_owned()).await?;
        manager.alter_table(Table::alter().table(Payments::Table).drop_column(Payments::RetryAt).to_owned()).await?;
        manager
            .alter_table(Table::alter().table(Payments::Table).drop_column(Payments::RefundAttempts).to_owned())
            .await?;
        allow_statuses(manager, NEW_STATUSES, OLD_STATUSES).await
    }
}
