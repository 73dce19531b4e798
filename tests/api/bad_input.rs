//! Bad input gets a clear error with a stable code, and the rest of the service keeps working.

use aeternum::catalog::editing;
use aeternum::graphql::ids::{GlobalId, NodeType};
use aeternum::graphql::pagination::Cursor;
use aeternum::money::{Currency, Money};
use entity::{product, product_image};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::fixtures;
use crate::helpers::{Store, TestApp, error_codes};

fn deep_query(levels: usize) -> String {
    let mut query = "name".to_owned();
    for _ in 0..levels {
        query = format!("parent {{ {query} }}");
    }
    format!("{{ categories {{ {query} }} }}")
}

/// `aliases` listings of 100 products with six fields each: about 800 per listing.
fn complex_query(aliases: usize) -> String {
    let listings: Vec<String> = (0..aliases)
        .map(|n| format!("a{n}: products(first: 100) {{ edges {{ node {{ title slug sku brand size colour }} }} }}"))
        .collect();
    format!("{{ {} }}", listings.join(" "))
}

async fn bad_queries_get_clear_codes(store: Store) {
    let app = TestApp::spawn(store).await;
    let c = fixtures::catalog(&app.db).await;
    let product_id = GlobalId::encode(NodeType::Product, c.products[0].id).0;
    let unknown_id = GlobalId::encode(NodeType::Product, uuid::Uuid::now_v7()).0;
    let vendor_id = GlobalId::encode(NodeType::Vendor, c.vendors[0].id).0;
    let price_cursor = Cursor::new("PRICE_ASC", json!(100), c.products[0].id).encode();
    let forged_cursor = Cursor::new("NEWEST", json!(17), c.products[0].id).encode();
    let search_cursor = Cursor::new("SEARCH", json!(3), c.products[0].id).encode();
    let forged_rank = Cursor::new("SEARCH", json!("third"), c.products[0].id).encode();
    let many_brands: Vec<String> = (0..51).map(|n| format!("B{n}")).collect();

    let cases: Vec<(&str, String, Value, &str)> = vec![
        ("malformed cursor", "{ products(after: \"bm9wZQ\") { edges { cursor } } }".into(), json!({}), "BAD_USER_INPUT"),
        ("cursor of another sort", "query($c: String) { products(after: $c) { edges { cursor } } }".into(), json!({ "c": price_cursor }), "BAD_USER_INPUT"),
        ("forged cursor key", "query($c: String) { products(after: $c) { edges { cursor } } }".into(), json!({ "c": forged_cursor }), "BAD_USER_INPUT"),
        ("search cursor on a listing", "query($c: String) { products(after: $c) { edges { cursor } } }".into(), json!({ "c": search_cursor }), "BAD_USER_INPUT"),
        ("listing cursor on a search", "query($c: String) { search(query: \"tote\", after: $c) { edges { cursor } } }".into(), json!({ "c": price_cursor }), "BAD_USER_INPUT"),
        ("forged search rank", "query($c: String) { search(query: \"tote\", after: $c) { edges { cursor } } }".into(), json!({ "c": forged_rank }), "BAD_USER_INPUT"),
        ("page size over the limit", "{ products(first: 101) { edges { cursor } } }".into(), json!({}), "BAD_USER_INPUT"),
        ("negative page size", "{ products(last: -1) { edges { cursor } } }".into(), json!({}), "BAD_USER_INPUT"),
        ("first and last", "{ products(first: 2, last: 2) { edges { cursor } } }".into(), json!({}), "BAD_USER_INPUT"),
        ("unknown product ID", "query($id: ID) { product(id: $id) { title } }".into(), json!({ "id": unknown_id }), "NOT_FOUND"),
        ("unknown node ID", "query($id: ID!) { node(id: $id) { id } }".into(), json!({ "id": unknown_id }), "NOT_FOUND"),
        ("malformed ID", "{ product(id: \"42\") { title } }".into(), json!({}), "BAD_USER_INPUT"),
        ("ID of another type", "query($id: ID) { product(id: $id) { title } }".into(), json!({ "id": vendor_id }), "BAD_USER_INPUT"),
        ("both id and slug", "query($id: ID) { product(id: $id, slug: \"piece-0\") { title } }".into(), json!({ "id": product_id }), "BAD_USER_INPUT"),
        ("unknown slug", "{ vendor(slug: \"nobody\") { name } }".into(), json!({}), "NOT_FOUND"),
        ("unknown category filter", "query($id: ID) { products(filter: { categoryId: $id }) { edges { cursor } } }".into(), json!({ "id": GlobalId::encode(NodeType::Category, uuid::Uuid::now_v7()).0 }), "NOT_FOUND"),
        ("inverted price range", "{ products(filter: { price: { currencyCode: \"EUR\", minAmount: \"20\", maxAmount: \"10\" } }) { edges { cursor } } }".into(), json!({}), "BAD_USER_INPUT"),
        ("too precise amount", "{ products(filter: { price: { currencyCode: \"EUR\", minAmount: \"1.234\" } }) { edges { cursor } } }".into(), json!({}), "BAD_USER_INPUT"),
        ("unknown currency", "{ products(filter: { price: { currencyCode: \"ZZZ\" } }) { edges { cursor } } }".into(), json!({}), "BAD_USER_INPUT"),
        ("too many filter values", "query($b: [String!]) { products(filter: { brands: $b }) { edges { cursor } } }".into(), json!({ "b": many_brands }), "BAD_USER_INPUT"),
        ("bad attribute name", "{ products(filter: { attributes: [{ name: \"x') OR 1=1 --\", values: [\"a\"] }] }) { edges { cursor } } }".into(), json!({}), "BAD_USER_INPUT"),
        ("unknown enum value", "{ products(sort: CHEAPEST) { edges { cursor } } }".into(), json!({}), "GRAPHQL_VALIDATION_FAILED"),
        ("variable of the wrong type", "query($n: Int) { products(first: $n) { edges { cursor } } }".into(), json!({ "n": "ten" }), "GRAPHQL_VALIDATION_FAILED"),
        ("unknown field", "{ products { edges { node { price_in_cents } } } }".into(), json!({}), "GRAPHQL_VALIDATION_FAILED"),
        ("syntax error", "{ products(first: 2 { edges } }".into(), json!({}), "GRAPHQL_PARSE_FAILED"),
        ("too deep", deep_query(14), json!({}), "QUERY_TOO_DEEP"),
        ("too complex", complex_query(10), json!({}), "QUERY_TOO_COMPLEX"),
    ];
    for (name, query, variables, code) in cases {
        let response = app.graphql(&query, variables).await;
        let codes = error_codes(&response);
        assert!(!codes.is_empty() && codes.iter().all(|c| c == code), "{name}: expected {code}: {response:#}");
        let message = response["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty() && !message.contains("sqlx") && !message.contains("SELECT"), "{name}: {message}");
    }
    // Just under the limit is fine.
    let within = app.graphql(&complex_query(5), json!({})).await;
    assert!(within.get("errors").is_none(), "{within:#}");
    // The service still answers after all that.
    let data = app.data("{ products(first: 1) { edges { cursor } } }", json!({})).await;
    assert_eq!(data["products"]["edges"].as_array().unwrap().len(), 1);
}

async fn invalid_products_are_refused_and_nothing_is_written(store: Store) {
    let app = TestApp::spawn(store).await;
    let vendor = fixtures::vendor(&app.db, "solo").await;
    let category = fixtures::category(&app.db, "misc", None).await;
    let valid = || fixtures::new_product(1, vendor.id, category.id);
    editing::create_product(&app.db, valid()).await.unwrap();
    let count = || async {
        (
            product::Entity::find().count(app.db.conn()).await.unwrap(),
            product_image::Entity::find().count(app.db.conn()).await.unwrap(),
        )
    };
    let before = count().await;

    type Change = fn(&mut editing::NewProduct);
    let cases: Vec<(&str, Change, aeternum::ErrorCode)> = vec![
        ("bad slug", |p| p.slug = Some("Not A Slug".into()), aeternum::ErrorCode::BadUserInput),
        ("bad SKU", |p| p.sku = "lower".into(), aeternum::ErrorCode::BadUserInput),
        ("empty title", |p| p.title = "  ".into(), aeternum::ErrorCode::BadUserInput),
        ("oversized description", |p| p.description = "x".repeat(20_001), aeternum::ErrorCode::BadUserInput),
        ("negative price", |p| p.price = fixtures::eur(-1), aeternum::ErrorCode::BadUserInput),
        (
            "cost in another currency",
            |p| p.cost = Some(Money::from_minor(100, Currency::parse("USD").unwrap())),
            aeternum::ErrorCode::BadUserInput,
        ),
        ("created sold", |p| p.status = entity::ProductStatus::Sold, aeternum::ErrorCode::BadUserInput),
        ("created reserved", |p| p.status = entity::ProductStatus::Reserved, aeternum::ErrorCode::BadUserInput),
        ("negative stock", |p| p.stock = -1, aeternum::ErrorCode::BadUserInput),
        (
            "too many images",
            |p| p.images = vec![aeternum::catalog::editing::NewImage::at("/a.jpg", ""); 21],
            aeternum::ErrorCode::BadUserInput,
        ),
        ("unknown vendor", |p| p.vendor_id = uuid::Uuid::now_v7(), aeternum::ErrorCode::NotFound),
        (
            "duplicate slug",
            |p| {
                p.sku = "FX-9999".into();
            },
            aeternum::ErrorCode::Conflict,
        ),
        (
            "duplicate SKU",
            |p| {
                p.slug = Some("another-piece".into());
            },
            aeternum::ErrorCode::Conflict,
        ),
    ];
    for (name, change, code) in cases {
        let mut new = valid();
        change(&mut new);
        let error = editing::create_product(&app.db, new).await.expect_err(name);
        assert_eq!(error.code(), code, "{name}: {error:?}");
        assert_eq!(count().await, before, "{name}: nothing was written");
    }

    // Without a slug, one is derived from the title and SKU, by the service itself, so the
    // seeders and the command line get the same handle as the API.
    let unnamed = editing::NewProduct { slug: None, sku: "FX-0042".into(), title: "Silk Scarf".into(), ..valid() };
    assert_eq!(editing::create_product(&app.db, unnamed).await.unwrap().slug, "silk-scarf-fx-0042");
}

store_tests!(bad_queries_get_clear_codes, invalid_products_are_refused_and_nothing_is_written);
