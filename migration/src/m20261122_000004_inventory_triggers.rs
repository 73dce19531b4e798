//! The database keeps inventory honest on its own, whatever client writes to it:
//!
//! - every insert of a product, and every change of its status, price or stock, writes a
//!   `product_audit` row with the old and new values;
//! - a product that becomes SOLD records its sale price in `sold_price_minor`, which then cannot
//!   change while it stays sold (later price edits do not touch it);
//! - a one-of-a-kind product never holds more than one unit;
//! - order lines, stock movements and the audit trail are append-only: updates and deletes raise.
//!
//! The same rules are written twice, in PL/pgSQL and in SQLite's trigger language.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const APPEND_ONLY: [&str; 3] = ["order_lines", "stock_movements", "product_audit"];

const POSTGRES_UP: &str = r#"
CREATE FUNCTION aeternum_audit_product() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO product_audit (product_id, old_status, new_status, old_price_minor, new_price_minor,
                                   old_stock, new_stock, changed_at)
        VALUES (NEW.id, NULL, NEW.status, NULL, NEW.price_minor, NULL, NEW.stock, clock_timestamp());
    ELSIF NEW.status IS DISTINCT FROM OLD.status
       OR NEW.price_minor IS DISTINCT FROM OLD.price_minor
       OR NEW.stock IS DISTINCT FROM OLD.stock THEN
        INSERT INTO product_audit (product_id, old_status, new_status, old_price_minor, new_price_minor,
                                   old_stock, new_stock, changed_at)
        VALUES (NEW.id, OLD.status, NEW.status, OLD.price_minor, NEW.price_minor, OLD.stock, NEW.stock,
                clock_timestamp());
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER products_audit AFTER INSERT OR UPDATE ON products
    FOR EACH ROW EXECUTE FUNCTION aeternum_audit_product();

CREATE FUNCTION aeternum_guard_product() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.one_of_a_kind AND NEW.stock > 1 THEN
        RAISE EXCEPTION 'a one-of-a-kind product holds at most one unit' USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.status <> 'SOLD' THEN
        NEW.sold_price_minor := NULL;
    ELSIF TG_OP = 'INSERT' OR OLD.status <> 'SOLD' OR OLD.sold_price_minor IS NULL THEN
        NEW.sold_price_minor := NEW.price_minor;
    ELSIF NEW.sold_price_minor IS DISTINCT FROM OLD.sold_price_minor THEN
        RAISE EXCEPTION 'the sale price of a sold product is locked' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER products_guard BEFORE INSERT OR UPDATE ON products
    FOR EACH ROW EXECUTE FUNCTION aeternum_guard_product();

CREATE FUNCTION aeternum_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'restrict_violation';
END
$$;
"#;

const POSTGRES_DOWN: &str = r#"
DROP TRIGGER IF EXISTS products_audit ON products;
DROP TRIGGER IF EXISTS products_guard ON products;
DROP FUNCTION IF EXISTS aeternum_audit_product();
DROP FUNCTION IF EXISTS aeternum_guard_product();
"#;

const SQLITE_UP: &str = r#"
CREATE TRIGGER products_audit_insert AFTER INSERT ON products
BEGIN
    INSERT INTO product_audit (product_id, old_status, new_status, old_price_minor, new_price_minor,
                               old_stock, new_stock, changed_at)
    VALUES (NEW.id, NULL, NEW.status, NULL, NEW.price_minor, NULL, NEW.stock,
            strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'));
END;

CREATE TRIGGER products_audit_update AFTER UPDATE OF status, price_minor, stock ON products
WHEN NEW.status IS NOT OLD.status OR NEW.price_minor IS NOT OLD.price_minor OR NEW.stock IS NOT OLD.stock
BEGIN
    INSERT INTO product_audit (product_id, old_status, new_status, old_price_minor, new_price_minor,
                               old_stock, new_stock, changed_at)
    VALUES (NEW.id, OLD.status, NEW.status, OLD.price_minor, NEW.price_minor, OLD.stock, NEW.stock,
            strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'));
END;

CREATE TRIGGER products_one_of_a_kind_insert BEFORE INSERT ON products
WHEN NEW.one_of_a_kind AND NEW.stock > 1
BEGIN
    SELECT RAISE(ABORT, 'a one-of-a-kind product holds at most one unit');
END;

CREATE TRIGGER products_one_of_a_kind_update BEFORE UPDATE OF stock, one_of_a_kind ON products
WHEN NEW.one_of_a_kind AND NEW.stock > 1
BEGIN
    SELECT RAISE(ABORT, 'a one-of-a-kind product holds at most one unit');
END;

CREATE TRIGGER products_sale_price_lock BEFORE UPDATE OF sold_price_minor ON products
WHEN OLD.status = 'SOLD' AND NEW.status = 'SOLD' AND OLD.sold_price_minor IS NOT NULL
     AND NEW.sold_price_minor IS NOT OLD.sold_price_minor
BEGIN
    SELECT RAISE(ABORT, 'the sale price of a sold product is locked');
END;

CREATE TRIGGER products_sold_insert AFTER INSERT ON products WHEN NEW.status = 'SOLD'
BEGIN
    UPDATE products SET sold_price_minor = NEW.price_minor WHERE id = NEW.id;
END;

CREATE TRIGGER products_sold AFTER UPDATE OF status ON products
WHEN NEW.status = 'SOLD' AND OLD.status IS NOT 'SOLD'
BEGIN
    UPDATE products SET sold_price_minor = NEW.price_minor WHERE id = NEW.id;
END;

CREATE TRIGGER products_unsold AFTER UPDATE OF status ON products
WHEN NEW.status IS NOT 'SOLD' AND OLD.status = 'SOLD'
BEGIN
    UPDATE products SET sold_price_minor = NULL WHERE id = NEW.id;
END;
"#;

const SQLITE_DOWN: [&str; 8] = [
    "products_audit_insert",
    "products_audit_update",
    "products_one_of_a_kind_insert",
    "products_one_of_a_kind_update",
    "products_sale_price_lock",
    "products_sold_insert",
    "products_sold",
    "products_unsold",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared(POSTGRES_UP).await?;
                for table in APPEND_ONLY {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} \
                         FOR EACH ROW EXECUTE FUNCTION aeternum_append_only();
                         CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} \
                         FOR EACH STATEMENT EXECUTE FUNCTION aeternum_append_only();"
                    ))
                    .await?;
                }
            }
            DatabaseBackend::Sqlite => {
                db.execute_unprepared(SQLITE_UP).await?;
                for table in APPEND_ONLY {
                    for operation in ["UPDATE", "DELETE"] {
                        db.execute_unprepared(&format!(
                            "CREATE TRIGGER {table}_no_{op} BEFORE {operation} ON {table} \
                             BEGIN SELECT RAISE(ABORT, '{table} is append-only: {operation} refused'); END;",
                            op = operation.to_lowercase()
                        ))
                        .await?;
                    }
                }
            }
            _ => return Err(DbErr::Migration("only SQLite and PostgreSQL are supported".to_owned())),
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                for table in APPEND_ONLY {
                    db.execute_unprepared(&format!(
                        "DROP TRIGGER IF EXISTS {table}_append_only ON {table};
                         DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};"
                    ))
                    .await?;
                }
                db.execute_unprepared(POSTGRES_DOWN).await?;
                db.execute_unprepared("DROP FUNCTION IF EXISTS aeternum_append_only();").await?;
            }
            DatabaseBackend::Sqlite => {
                let names = APPEND_ONLY.iter().flat_map(|t| [format!("{t}_no_update"), format!("{t}_no_delete")]);
                for name in SQLITE_DOWN.iter().map(|s| (*s).to_owned()).chain(names) {
                    db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {name};")).await?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}
