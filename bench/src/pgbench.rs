//! The listing's four statements run by `pgbench` on their own: what PostgreSQL alone does with
//! the SQL one listing page costs, beside what the server makes of it.
//!
//! The statements are those the server sends for the benchmark's listing query (logged with
//! `log_statement = 'all'`): the page of products, then one batch each for the vendors, the
//! categories and the main images of its 24 products. Their keys are the first page's, read
//! from the database, and pgbench runs them prepared (`-M prepared`), as the server does.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::Command;

/// Connections in the server's pool to PostgreSQL by default (`database.max_connections`): pgbench gets as
/// many, so both sides can keep PostgreSQL equally busy.
const SERVER_POOL: usize = 16;

const PAGE: &str = r#"SELECT "products"."id", "products"."vendor_id", "products"."category_id", "products"."slug", "products"."sku", "products"."title", "products"."description", "products"."brand", "products"."size", "products"."colour", "products"."material", "products"."condition", "products"."era", "products"."attributes", "products"."price_minor", "products"."currency", "products"."stock", "products"."status", "products"."created_at", "products"."updated_at", "products"."cost_minor", "products"."internal_notes", "products"."one_of_a_kind", "products"."sold_price_minor", "products"."held_by_cart", "products"."held_until", "products"."held_from" FROM "products" WHERE "products"."status" IN ('ACTIVE', 'RESERVED', 'SOLD') ORDER BY "products"."created_at" DESC, "products"."id" DESC LIMIT 25;"#;

/// Writes the pgbench script for the database's first listing page to `script`, runs it for
/// `seconds` and prints the command and its figure beside `listing_per_second` (the server's
/// listing pages per second).
///
/// # Errors
/// When `psql` or `pgbench` cannot run or fail.
pub async fn compare(database_url: &str, script: &Path, seconds: u64, listing_per_second: f64) -> anyhow::Result<()> {
    std::fs::write(script, statements(database_url).await?)
        .with_context(|| format!("cannot write {}", script.display()))?;
    let clients = SERVER_POOL.to_string();
    let seconds = seconds.to_string();
    let arguments = ["-n", "-M", "prepared", "-c", &clients, "-j", "2", "-T", &seconds, "-f"];
    println!(
        "pgbench     pgbench {} {} \"$DATABASE_URL\" (the listing's 4 statements, first page)",
        arguments.join(" "),
        script.display()
    );
    let output = Command::new("pgbench")
        .args(arguments)
        .arg(script)
        .arg(database_url)
        .output()
        .await
        .context("cannot run pgbench (it comes with PostgreSQL's packages)")?;
    if !output.status.success() {
        bail!("pgbench failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    let report = String::from_utf8_lossy(&output.stdout);
    let tps = report
        .lines()
        .find_map(|line| line.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse::<f64>().ok())
        .with_context(|| format!("no tps in pgbench's report:\n{report}"))?;
    println!(
        "pgbench     {tps:.1} pages/s from the database alone; the server serves {listing_per_second:.1} ({:.0} %)",
        100.0 * listing_per_second / tps
    );
    Ok(())
}

/// The four statements of the first listing page, with its keys written in.
async fn statements(database_url: &str) -> anyhow::Result<String> {
    let page = PAGE.trim_end_matches(';').replace("LIMIT 25", "LIMIT 24");
    let keys = psql(
        database_url,
        &format!(
            r#"SELECT string_agg(DISTINCT quote_literal(p.vendor_id), ', '), string_agg(DISTINCT quote_literal(p.category_id), ', '), string_agg(quote_literal(p.id), ', ') FROM ({page}) p"#
        ),
    )
    .await?;
    let [vendors, categories, products] = keys.trim().splitn(3, '|').collect::<Vec<_>>()[..] else {
        bail!("the catalog has no listed products");
    };
    Ok(format!(
        r#"{PAGE}
SELECT "vendors"."id", "vendors"."slug", "vendors"."name", "vendors"."description", "vendors"."created_at", "vendors"."updated_at" FROM "vendors" WHERE "vendors"."id" IN ({vendors});
SELECT "categories"."id", "categories"."parent_id", "categories"."slug", "categories"."name", "categories"."path", "categories"."position", "categories"."created_at", "categories"."updated_at" FROM "categories" WHERE "categories"."id" IN ({categories});
SELECT "product_images"."id", "product_images"."product_id", "product_images"."url", "product_images"."object_key", "product_images"."width", "product_images"."height", "product_images"."blur_hash", "product_images"."variant_widths", "product_images"."alt_text", "product_images"."position", "product_images"."created_at" FROM "product_images" WHERE "product_images"."product_id" IN ({products}) AND ("product_images"."position" = (SELECT MIN("first"."position") FROM "product_images" AS "first" WHERE "first"."product_id" = "product_images"."product_id"));
"#
    ))
}

/// One row of `sql`'s answer, its columns separated by `|`.
async fn psql(database_url: &str, sql: &str) -> anyhow::Result<String> {
    let run = Command::new("psql").args(["-X", "-A", "-t", "-q", "-c", sql]).arg(database_url).output();
    let output = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .context("psql did not answer within 30 s")?
        .context("cannot run psql")?;
    if !output.status.success() {
        bail!("psql failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
