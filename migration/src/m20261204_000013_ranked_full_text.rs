//! PostgreSQL: a RUM index over `products.search_vector`, which returns full-text matches
//! already ordered by rank, so the best few hundred of a common word's matches are read
//! without ranking every one of them. It needs the `rum` extension (Debian:
//! `postgresql-NN-rum`) and the right to create it; without either, nothing is created and
//! full-text search keeps the GIN index and ranks every match. SQLite has nothing to do.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The extension when it is installed and may be created, then the index when the extension is
/// there; an error of either leaves a notice, not a failed migration.
const UP: &str = r"
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'rum')
        AND EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'rum') THEN
        BEGIN
            CREATE EXTENSION rum;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'the rum extension may not be created here: full-text search ranks with GIN';
        END;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'rum') THEN
        CREATE INDEX IF NOT EXISTS products_search_rum_idx ON products USING rum (search_vector rum_tsvector_ops);
    END IF;
END
$$;
";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager.get_connection().execute_unprepared(UP).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            // The extension stays: other databases' objects may use it.
            manager.get_connection().execute_unprepared("DROP INDEX IF EXISTS products_search_rum_idx").await?;
        }
        Ok(())
    }
}
