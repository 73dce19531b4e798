//! Product search in the database:
//!
//! - full-text: on PostgreSQL a weighted `tsvector` column (title A; brand and category B; size,
//!   colour, material, era, condition and attributes C; description D) kept by a trigger and
//!   indexed with GIN; on SQLite an FTS5 table (Porter stemming, prefix indexes) kept in step by
//!   triggers, its rows tied to products through `product_search_rows`;
//! - `search_outbox`: every product insert, delete, or change that matters to search (text,
//!   category, vendor, price, status, in or out of stock) queues the product in the same
//!   transaction, so the vector index can never miss a write;
//! - `product_embeddings`: the vectors (little-endian `f32`s) and the hash of the text they were
//!   computed from;
//! - `search_queries`: search analytics.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::columns::{text, timestamp};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SearchOutbox {
    Table,
    Id,
    ProductId,
    EnqueuedAt,
}

#[derive(DeriveIden)]
enum ProductEmbeddings {
    Table,
    ProductId,
    Model,
    ContentHash,
    Vector,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SearchQueries {
    Table,
    Id,
    Query,
    Filters,
    Hits,
    LatencyMs,
    Mode,
    Degraded,
    SearchedAt,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    Id,
}

/// Whether an UPDATE of `products` matters to search (shared by both stores' triggers; SQLite
/// spells `IS DISTINCT FROM` as `IS NOT`).
fn search_relevant_change(distinct: &str) -> String {
    let columns = [
        "title",
        "description",
        "brand",
        "size",
        "colour",
        "material",
        "era",
        "condition",
        "attributes",
        "category_id",
        "vendor_id",
        "price_minor",
        "currency",
        "status",
    ];
    let mut parts: Vec<String> = columns.iter().map(|c| format!("NEW.{c} {distinct} OLD.{c}")).collect();
    parts.push(format!("(NEW.stock > 0) {distinct} (OLD.stock > 0)"));
    parts.join(" OR ")
}

fn postgres_up() -> String {
    let changed = search_relevant_change("IS DISTINCT FROM");
    format!(
        r#"
ALTER TABLE products ADD COLUMN search_vector tsvector NOT NULL DEFAULT ''::tsvector;

CREATE FUNCTION aeternum_product_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector('english', NEW.title), 'A') ||
        setweight(to_tsvector('english', coalesce(NEW.brand, '') || ' ' ||
            coalesce((SELECT name FROM categories WHERE id = NEW.category_id), '')), 'B') ||
        setweight(to_tsvector('english', concat_ws(' ', NEW.size, NEW.colour, NEW.material, NEW.era,
            NEW.condition, (SELECT string_agg(value, ' ') FROM jsonb_each_text(NEW.attributes)))), 'C') ||
        setweight(to_tsvector('english', NEW.description), 'D');
    RETURN NEW;
END
$$;

CREATE TRIGGER products_search_vector
    BEFORE INSERT OR UPDATE OF title, brand, category_id, size, colour, material, era, condition, attributes, description
    ON products FOR EACH ROW EXECUTE FUNCTION aeternum_product_search_vector();

CREATE INDEX products_search_vector_idx ON products USING GIN (search_vector);

CREATE FUNCTION aeternum_enqueue_product_search() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO search_outbox (product_id, enqueued_at) VALUES (OLD.id, clock_timestamp());
    ELSIF TG_OP = 'INSERT' OR {changed} THEN
        INSERT INTO search_outbox (product_id, enqueued_at) VALUES (NEW.id, clock_timestamp());
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER products_search_outbox AFTER INSERT OR UPDATE OR DELETE ON products
    FOR EACH ROW EXECUTE FUNCTION aeternum_enqueue_product_search();

CREATE FUNCTION aeternum_category_search() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE products SET category_id = category_id WHERE category_id = NEW.id;
    INSERT INTO search_outbox (product_id, enqueued_at)
        SELECT id, clock_timestamp() FROM products WHERE category_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER categories_search AFTER UPDATE OF name, path ON categories
    FOR EACH ROW WHEN (NEW.name IS DISTINCT FROM OLD.name OR NEW.path IS DISTINCT FROM OLD.path)
    EXECUTE FUNCTION aeternum_category_search();

UPDATE products SET title = title;
INSERT INTO search_outbox (product_id, enqueued_at) SELECT id, clock_timestamp() FROM products;
"#
    )
}

const POSTGRES_DOWN: &str = r#"
DROP TRIGGER IF EXISTS categories_search ON categories;
DROP TRIGGER IF EXISTS products_search_outbox ON products;
DROP TRIGGER IF EXISTS products_search_vector ON products;
DROP FUNCTION IF EXISTS aeternum_category_search();
DROP FUNCTION IF EXISTS aeternum_enqueue_product_search();
DROP FUNCTION IF EXISTS aeternum_product_search_vector();
DROP INDEX IF EXISTS products_search_vector_idx;
ALTER TABLE products DROP COLUMN IF EXISTS search_vector;
"#;

/// The FTS5 columns of a product row `P` (NEW or a table alias).
fn fts_values(p: &str) -> String {
    format!(
        "{p}.title, coalesce({p}.brand, ''), coalesce((SELECT name FROM categories WHERE id = {p}.category_id), ''), \
         concat_ws(' ', {p}.size, {p}.colour, {p}.material, {p}.era, {p}.condition, \
                   (SELECT group_concat(value, ' ') FROM json_each({p}.attributes))), \
         {p}.description"
    )
}

fn sqlite_up() -> Vec<String> {
    let now = "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')";
    let row_of = |p: &str| format!("(SELECT row_id FROM product_search_rows WHERE product_id = {p}.id)");
    let changed = search_relevant_change("IS NOT");
    vec![
        "CREATE TABLE product_search_rows (row_id INTEGER PRIMARY KEY, product_id uuid_text NOT NULL UNIQUE)"
            .to_owned(),
        "CREATE VIRTUAL TABLE product_fts USING fts5(title, brand, category, details, description, \
         tokenize = 'porter unicode61 remove_diacritics 2', prefix = '2 3')"
            .to_owned(),
        format!(
            "CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN
                INSERT INTO product_search_rows (product_id) VALUES (NEW.id);
                INSERT INTO product_fts (rowid, title, brand, category, details, description)
                    VALUES ({row}, {values});
             END",
            row = row_of("NEW"),
            values = fts_values("NEW")
        ),
        format!(
            "CREATE TRIGGER products_fts_update
             AFTER UPDATE OF title, brand, category_id, size, colour, material, era, condition, attributes, description
             ON products BEGIN
                DELETE FROM product_fts WHERE rowid = {row};
                INSERT INTO product_fts (rowid, title, brand, category, details, description)
                    VALUES ({row}, {values});
             END",
            row = row_of("NEW"),
            values = fts_values("NEW")
        ),
        format!(
            "CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN
                DELETE FROM product_fts WHERE rowid = {row};
                DELETE FROM product_search_rows WHERE product_id = OLD.id;
                INSERT INTO search_outbox (product_id, enqueued_at) VALUES (OLD.id, {now});
             END",
            row = row_of("OLD")
        ),
        format!(
            "CREATE TRIGGER products_search_outbox_insert AFTER INSERT ON products BEGIN
                INSERT INTO search_outbox (product_id, enqueued_at) VALUES (NEW.id, {now});
             END"
        ),
        format!(
            "CREATE TRIGGER products_search_outbox_update AFTER UPDATE ON products WHEN {changed} BEGIN
                INSERT INTO search_outbox (product_id, enqueued_at) VALUES (NEW.id, {now});
             END"
        ),
        format!(
            "CREATE TRIGGER categories_search AFTER UPDATE OF name, path ON categories
             WHEN NEW.name IS NOT OLD.name OR NEW.path IS NOT OLD.path BEGIN
                UPDATE product_fts SET category = NEW.name WHERE rowid IN
                    (SELECT r.row_id FROM product_search_rows r JOIN products p ON p.id = r.product_id
                     WHERE p.category_id = NEW.id);
                INSERT INTO search_outbox (product_id, enqueued_at)
                    SELECT id, {now} FROM products WHERE category_id = NEW.id;
             END"
        ),
        "INSERT INTO product_search_rows (product_id) SELECT id FROM products ORDER BY created_at, id".to_owned(),
        format!(
            "INSERT INTO product_fts (rowid, title, brand, category, details, description)
             SELECT r.row_id, {values} FROM products p JOIN product_search_rows r ON r.product_id = p.id",
            values = fts_values("p")
        ),
        format!("INSERT INTO search_outbox (product_id, enqueued_at) SELECT id, {now} FROM products"),
    ]
}

const SQLITE_DOWN: &str = r#"
DROP TRIGGER IF EXISTS categories_search;
DROP TRIGGER IF EXISTS products_search_outbox_update;
DROP TRIGGER IF EXISTS products_search_outbox_insert;
DROP TRIGGER IF EXISTS products_fts_delete;
DROP TRIGGER IF EXISTS products_fts_update;
DROP TRIGGER IF EXISTS products_fts_insert;
DROP TABLE IF EXISTS product_fts;
DROP TABLE IF EXISTS product_search_rows;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SearchOutbox::Table)
                    .col(ColumnDef::new(SearchOutbox::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(SearchOutbox::ProductId).uuid().not_null())
                    .col(timestamp(SearchOutbox::EnqueuedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProductEmbeddings::Table)
                    .col(ColumnDef::new(ProductEmbeddings::ProductId).uuid().not_null().primary_key())
                    .col(text(ProductEmbeddings::Model, 100))
                    .col(text(ProductEmbeddings::ContentHash, 64))
                    .col(ColumnDef::new(ProductEmbeddings::Vector).blob().not_null())
                    .col(timestamp(ProductEmbeddings::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProductEmbeddings::Table, ProductEmbeddings::ProductId)
                            .to(Products::Table, Products::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("product_embeddings_content_idx")
                    .table(ProductEmbeddings::Table)
                    .col(ProductEmbeddings::Model)
                    .col(ProductEmbeddings::ContentHash)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SearchQueries::Table)
                    .col(ColumnDef::new(SearchQueries::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(text(SearchQueries::Query, 200))
                    .col(ColumnDef::new(SearchQueries::Filters).json_binary().not_null())
                    .col(ColumnDef::new(SearchQueries::Hits).integer().not_null())
                    .col(ColumnDef::new(SearchQueries::LatencyMs).double().not_null())
                    .col(text(SearchQueries::Mode, 16))
                    .col(ColumnDef::new(SearchQueries::Degraded).boolean().not_null())
                    .col(timestamp(SearchQueries::SearchedAt))
                    .to_owned(),
            )
            .await?;
        for (name, column) in
            [("search_queries_at_idx", SearchQueries::SearchedAt), ("search_queries_query_idx", SearchQueries::Query)]
        {
            manager.create_index(Index::create().name(name).table(SearchQueries::Table).col(column).to_owned()).await?;
        }

        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared(&postgres_up()).await?;
            }
            DatabaseBackend::Sqlite => {
                for statement in sqlite_up() {
                    db.execute_unprepared(&statement).await?;
                }
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
        for table in ["search_queries", "product_embeddings", "search_outbox"] {
            manager.drop_table(Table::drop().table(Alias::new(table)).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
