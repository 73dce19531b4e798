//! The few expressions that SQLite and PostgreSQL spell differently.
//!
//! Services build their queries with SeaQuery; where the two stores need different SQL, they
//! ask this module for the expression instead of writing it themselves.

use sea_orm::DatabaseBackend;
use sea_orm::sea_query::{Expr, SimpleExpr};

/// The text value of `key` in a JSON object column, or NULL when absent.
///
/// `key` is bound as a parameter, never spliced into the SQL.
pub fn json_text_field(backend: DatabaseBackend, column: &str, key: &str) -> SimpleExpr {
    match backend {
        DatabaseBackend::Postgres => Expr::cust_with_values(format!("\"{column}\" ->> $1"), [key]),
        _ => Expr::cust_with_values(format!("json_extract(\"{column}\", '$.\"' || ? || '\"')"), [key]),
    }
}
