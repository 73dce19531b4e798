//! Seeding: synthetic catalogs of any size load completely, in batches; synthetic order
//! histories are orders as checkout writes them; neither is announced to subscribers.

use aeternum::seed::synthetic::Texts;
use entity::{product, product_image};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::{Store, TestApp};
use crate::shop::{As, Shop};

/// The first column of the first row of `sql`, a count or a sum.
async fn scalar(app: &TestApp, sql: &str) -> i64 {
    let conn = app.db.conn();
    let row = conn.query_one_raw(Statement::from_string(conn.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn a_synthetic_catalog_loads_every_product_with_its_image(store: Store) {
    let app = TestApp::spawn(store).await;
    // Not a multiple of any batch size, so partial batches are exercised.
    aeternum::seed::synthetic::load(&app.db, 2_345, Texts::Shared).await.unwrap();
    aeternum::seed::synthetic::load(&app.db, 10, Texts::Shared).await.unwrap();
    assert_eq!(product::Entity::find().count(app.db.conn()).await.unwrap(), 2_355);
    assert_eq!(product_image::Entity::find().count(app.db.conn()).await.unwrap(), 2_355);
    let data = app
        .data("{ products(first: 3) { totalCount edges { node { vendor { name } images { url } } } } }", json!({}))
        .await;
    assert_eq!(data["products"]["totalCount"], 2_355);
}

async fn a_catalog_of_paragraphs_gives_every_product_a_description_of_its_own(store: Store) {
    let app = TestApp::spawn(store).await;
    aeternum::seed::synthetic::load(&app.db, 300, Texts::Paragraphs).await.unwrap();
    let products = product::Entity::find().all(app.db.conn()).await.unwrap();
    assert_eq!(products.len(), 300);
    let distinct: std::collections::HashSet<&str> = products.iter().map(|p| p.description.as_str()).collect();
    assert_eq!(distinct.len(), 300, "every description is the product's own");
    for product in &products {
        let words = product.description.split_whitespace().count();
        assert!((55..=90).contains(&words), "a paragraph, not a line: {words} words in {:?}", product.description);
        let brand = product.brand.as_deref().unwrap();
        assert!(product.description.contains(brand), "it describes its own product: {:?}", product.description);
    }
    // The first words differ between products, so the embedded start of each text is its own.
    let starts: std::collections::HashSet<String> =
        products.iter().map(|p| p.description.chars().take(150).collect()).collect();
    assert!(starts.len() > 250, "{} distinct starts of 300", starts.len());
}

async fn a_bulk_load_raises_no_events(store: Store) {
    let app = TestApp::spawn(store).await;
    aeternum::seed::synthetic::load(&app.db, 1_200, Texts::Shared).await.unwrap();
    // Every product got its opening stock and its first audit row, and nobody was told.
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM stock_movements").await, 1_200);
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM product_audit").await, 1_200);
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM events").await, 0);
}

async fn a_seeded_order_history_is_orders_as_checkout_writes_them(store: Store) {
    let shop = Shop::open(store).await;
    let app = &shop.app;
    aeternum::seed::synthetic::load(&app.db, 60, Texts::Shared).await.unwrap();
    let stock = "SELECT CAST(SUM(stock) AS BIGINT) FROM products";
    let stock_before = scalar(app, stock).await;
    let events_before = scalar(app, "SELECT COUNT(*) FROM events").await;
    aeternum::seed::history::load(&app.db, 700, 3, 20).await.unwrap();

    assert_eq!(scalar(app, "SELECT COUNT(*) FROM orders").await, 700);
    let lines = scalar(app, "SELECT COUNT(*) FROM order_lines").await;
    assert!((700..=700 * 5).contains(&lines), "{lines} lines for 700 orders of 1 to 5 lines");
    // Totals add up, every line ships in its vendor's part of its own order, one currency each.
    let wrong_totals = "SELECT COUNT(*) FROM orders o WHERE o.total_minor <> o.subtotal_minor + o.tax_minor
        OR o.subtotal_minor <> (SELECT SUM(l.line_total_minor) FROM order_lines l WHERE l.order_id = o.id)";
    assert_eq!(scalar(app, wrong_totals).await, 0);
    let misplaced = "SELECT COUNT(*) FROM order_lines l JOIN fulfilments f ON f.id = l.fulfilment_id
        JOIN orders o ON o.id = l.order_id
        WHERE f.order_id <> l.order_id OR f.vendor_id <> l.vendor_id OR l.currency <> o.currency";
    assert_eq!(scalar(app, misplaced).await, 0);
    // Cancelled orders were never paid; refunded and cancelled ones are closed; nothing is in
    // the future or older than the 20 days asked for.
    let incoherent = "SELECT COUNT(*) FROM orders WHERE (status = 'CANCELLED') = (paid_at IS NOT NULL)
        OR (status IN ('CANCELLED', 'REFUNDED')) <> (closed_at IS NOT NULL)
        OR status NOT IN ('PAID', 'FULFILLED', 'COMPLETED', 'CANCELLED', 'REFUNDED')";
    assert_eq!(scalar(app, incoherent).await, 0);
    // Every end state occurs in a history this long.
    assert_eq!(scalar(app, "SELECT COUNT(DISTINCT status) FROM orders").await, 5);
    // History is not news, and sold units are of the past: stock and the outbox are untouched.
    assert_eq!(scalar(app, stock).await, stock_before);
    assert_eq!(scalar(app, "SELECT COUNT(*) FROM events").await, events_before);

    // Staff read the orders through the API like any other, and the dashboard counts them.
    let staff = As::user(&shop.staff);
    let listed = shop
        .ok(
            &staff,
            "{ orders(first: 3) { edges { node { total { amount } lines { title vendorName } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["orders"]["edges"].as_array().map(Vec::len), Some(3), "{listed}");
    let first = &listed["orders"]["edges"][0]["node"];
    assert!(first["lines"].as_array().is_some_and(|lines| !lines.is_empty()), "{first}");
    let dashboard = shop
        .ok(
            &staff,
            "{ adminDashboard(period: { preset: LAST_30_DAYS }, currencyCode: \"EUR\") {
                orders { current } unitsSold { current } revenue { current { amount } } } }",
            json!({}),
        )
        .await;
    let paid = scalar(app, "SELECT COUNT(*) FROM orders WHERE paid_at IS NOT NULL AND currency = 'EUR'").await;
    assert_eq!(dashboard["adminDashboard"]["orders"]["current"], Value::from(paid));
    // The lines were written after their orders, already paid: each is a sale all the same.
    let sold =
        "FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.paid_at IS NOT NULL AND o.currency = 'EUR'";
    let units = scalar(app, &format!("SELECT CAST(SUM(l.quantity) AS BIGINT) {sold}")).await;
    let revenue = scalar(app, &format!("SELECT CAST(SUM(l.line_total_minor) AS BIGINT) {sold}")).await;
    assert_eq!(dashboard["adminDashboard"]["unitsSold"]["current"], Value::from(units));
    let amount = format!("{}.{:02}", revenue / 100, revenue % 100);
    assert_eq!(dashboard["adminDashboard"]["revenue"]["current"]["amount"], Value::from(amount));
}

async fn an_order_history_needs_a_listed_catalog(store: Store) {
    let app = TestApp::spawn(store).await;
    let error = aeternum::seed::history::load(&app.db, 10, 3, 30).await.unwrap_err();
    assert!(format!("{error}").contains("seed products first"), "{error}");
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM orders").await, 0);
}

store_tests!(
    a_synthetic_catalog_loads_every_product_with_its_image,
    a_catalog_of_paragraphs_gives_every_product_a_description_of_its_own,
    a_bulk_load_raises_no_events,
    a_seeded_order_history_is_orders_as_checkout_writes_them,
    an_order_history_needs_a_listed_catalog,
);
