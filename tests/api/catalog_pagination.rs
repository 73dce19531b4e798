//! Keyset pagination: every product exactly once, in order, both ways, even under writes.

use std::collections::HashSet;

use aeternum::catalog::editing;
use serde_json::{Value, json};

use crate::fixtures;
use crate::helpers::{Store, TestApp};

const PAGE: &str = r#"
query Page($first: Int, $after: String, $last: Int, $before: String, $sort: ProductSort) {
  products(first: $first, after: $after, last: $last, before: $before, sort: $sort) {
    edges { cursor node { id title price { minorUnits } createdAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"#;

const SORTS: [&str; 5] = ["NEWEST", "PRICE_ASC", "PRICE_DESC", "TITLE_ASC", "TITLE_DESC"];

async fn page(app: &TestApp, variables: Value) -> Value {
    app.data(PAGE, variables).await["products"].clone()
}

fn nodes(connection: &Value) -> Vec<Value> {
    connection["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect()
}

async fn walk_forward(app: &TestApp, sort: &str, size: i32) -> Vec<Value> {
    let (mut seen, mut after) = (Vec::new(), Value::Null);
    for _ in 0..100 {
        let connection = page(app, json!({ "first": size, "after": after, "sort": sort })).await;
        seen.extend(nodes(&connection));
        assert_eq!(connection["pageInfo"]["hasPreviousPage"], json!(!after.is_null()));
        if connection["pageInfo"]["hasNextPage"] == json!(false) {
            return seen;
        }
        after = connection["pageInfo"]["endCursor"].clone();
    }
    panic!("the walk did not end");
}

async fn walk_backward(app: &TestApp, sort: &str, size: i32) -> Vec<Value> {
    let (mut pages, mut before) = (Vec::new(), Value::Null);
    for _ in 0..100 {
        let connection = page(app, json!({ "last": size, "before": before, "sort": sort })).await;
        pages.push(nodes(&connection));
        assert_eq!(connection["pageInfo"]["hasNextPage"], json!(!before.is_null()));
        if connection["pageInfo"]["hasPreviousPage"] == json!(false) {
            return pages.into_iter().rev().flatten().collect();
        }
        before = connection["pageInfo"]["startCursor"].clone();
    }
    panic!("the walk did not end");
}

fn ids(nodes: &[Value]) -> Vec<String> {
    nodes.iter().map(|n| n["id"].as_str().unwrap().to_owned()).collect()
}

/// Checks that consecutive nodes respect the sort key (ties are allowed).
fn assert_sorted(nodes: &[Value], sort: &str) {
    for pair in nodes.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let ordered = match sort {
            "NEWEST" => a["createdAt"].as_str() >= b["createdAt"].as_str(),
            "PRICE_ASC" => a["price"]["minorUnits"].as_i64() <= b["price"]["minorUnits"].as_i64(),
            "PRICE_DESC" => a["price"]["minorUnits"].as_i64() >= b["price"]["minorUnits"].as_i64(),
            "TITLE_ASC" => a["title"].as_str() <= b["title"].as_str(),
            _ => a["title"].as_str() >= b["title"].as_str(),
        };
        assert!(ordered, "{sort}: {a} before {b}");
    }
}

async fn every_product_once_in_every_order_both_ways(store: Store) {
    let app = TestApp::spawn(store).await;
    let catalog = fixtures::catalog(&app.db).await;
    let public = catalog.public().count();
    for sort in SORTS {
        let forward = walk_forward(&app, sort, 7).await;
        let forward_ids = ids(&forward);
        assert_eq!(forward_ids.len(), public, "{sort}: every public product");
        assert_eq!(forward_ids.iter().collect::<HashSet<_>>().len(), public, "{sort}: no duplicates");
        assert_sorted(&forward, sort);
        let backward = walk_backward(&app, sort, 6).await;
        assert_eq!(ids(&backward), forward_ids, "{sort}: backward walk gives the same order");
    }
}

async fn pages_stay_exact_while_products_are_inserted(store: Store) {
    let app = TestApp::spawn(store).await;
    let catalog = fixtures::catalog(&app.db).await;
    let original: HashSet<String> = ids(&walk_forward(&app, "NEWEST", 100).await).into_iter().collect();
    let mut extra = 1_000;
    for sort in ["NEWEST", "PRICE_ASC", "TITLE_DESC"] {
        let (mut seen, mut after) = (Vec::new(), Value::Null);
        loop {
            let connection = page(&app, json!({ "first": 4, "after": after, "sort": sort })).await;
            seen.extend(ids(&nodes(&connection)));
            // Products arrive between every two pages, on both sides of the cursor.
            for price in [1_000, 99_000] {
                let mut new = fixtures::new_product(extra, catalog.vendors[0].id, catalog.bags.id);
                new.price = crate::fixtures::eur(price);
                new.title = format!("Piece {}", extra % 8);
                editing::create_product(&app.db, new).await.unwrap();
                extra += 1;
            }
            if connection["pageInfo"]["hasNextPage"] == json!(false) {
                break;
            }
            after = connection["pageInfo"]["endCursor"].clone();
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{sort}: no product is returned twice");
        let missing: Vec<_> = original.iter().filter(|id| !unique.contains(id)).collect();
        assert!(missing.is_empty(), "{sort}: products present from the start were skipped: {missing:?}");
    }
}

async fn an_empty_page_and_the_last_page_are_reported(store: Store) {
    let app = TestApp::spawn(store).await;
    let empty = page(&app, json!({ "first": 10 })).await;
    assert_eq!(empty["edges"], json!([]));
    assert_eq!(empty["pageInfo"]["hasNextPage"], json!(false));
    assert_eq!(empty["pageInfo"]["endCursor"], Value::Null);

    let catalog = fixtures::catalog(&app.db).await;
    let all = page(&app, json!({ "first": 100 })).await;
    assert_eq!(nodes(&all).len(), catalog.public().count());
    assert_eq!(all["pageInfo"]["hasNextPage"], json!(false));
    let none = page(&app, json!({ "first": 0 })).await;
    assert_eq!(none["edges"], json!([]));
    assert_eq!(none["pageInfo"]["hasNextPage"], json!(true));
}

store_tests!(
    every_product_once_in_every_order_both_ways,
    pages_stay_exact_while_products_are_inserted,
    an_empty_page_and_the_last_page_are_reported,
);
