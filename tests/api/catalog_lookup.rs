//! Single lookups, the category tree, `node`, and the cost of relation fields.

use aeternum::graphql::ids::{GlobalId, NodeType};
use serde_json::{Value, json};

use crate::fixtures;
use entity::Role;

use crate::helpers::{Credential, Store, TestApp, error_codes};

async fn the_demo_catalog_answers_the_readme_query(store: Store) {
    let app = TestApp::spawn(store).await;
    app.load_demo().await;
    let data = app
        .data(
            "{ products(first: 5) { edges { node { title price { amount currencyCode } vendor { name } } } } }",
            json!({}),
        )
        .await;
    let edges = data["products"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 5);
    for edge in edges {
        let node = &edge["node"];
        assert!(!node["title"].as_str().unwrap().is_empty());
        let amount = node["price"]["amount"].as_str().unwrap();
        assert!(amount.split_once('.').is_some_and(|(_, cents)| cents.len() == 2), "{amount}");
        assert_eq!(node["price"]["currencyCode"], "EUR");
        assert!(!node["vendor"]["name"].as_str().unwrap().is_empty());
    }

    let data = app
        .data(
            "{ products { totalCount } categories { slug children { slug } } vendor(slug: \"kyoto-closet\") { name } }",
            json!({}),
        )
        .await;
    assert!(data["products"]["totalCount"].as_u64().unwrap() >= 300);
    let roots = data["categories"].as_array().unwrap();
    let leaves: usize = roots.iter().map(|r| r["children"].as_array().unwrap().len()).sum();
    assert!(leaves >= 12, "{leaves} leaf categories");
    assert_eq!(data["vendor"]["name"], "Kyoto Closet");

    // Loading again changes nothing.
    app.load_demo().await;
    let again = app.data("{ products { totalCount } }", json!({})).await;
    assert_eq!(again["products"]["totalCount"], data["products"]["totalCount"]);
}

const PRODUCT_FIELDS: &str = "id slug sku title brand condition era status available stock
    attributes { name value } price { amount currencyCode minorUnits }
    vendor { id slug } category { id slug parent { slug } ancestors { slug } } images { url altText position }";

async fn products_are_found_by_id_slug_and_node(store: Store) {
    let app = TestApp::spawn(store).await;
    let c = fixtures::catalog(&app.db).await;
    let product = &c.products[0];
    let id = GlobalId::encode(NodeType::Product, product.id).0;

    let by_id =
        app.data(&format!("query($id: ID) {{ product(id: $id) {{ {PRODUCT_FIELDS} }} }}"), json!({ "id": id })).await;
    let by_slug = app
        .data(
            &format!("query($s: String) {{ product(slug: $s) {{ {PRODUCT_FIELDS} }} }}"),
            json!({ "s": product.slug }),
        )
        .await;
    assert_eq!(by_id["product"], by_slug["product"]);
    let p = &by_id["product"];
    assert_eq!(p["id"], id);
    assert_eq!(p["sku"], product.sku);
    assert_eq!(p["price"], json!({ "amount": "50.00", "currencyCode": "EUR", "minorUnits": 5000 }));
    assert_eq!(p["attributes"], json!([{ "name": "pattern", "value": "solid" }]));
    assert_eq!(p["vendor"]["slug"], "alpha");
    assert_eq!(p["category"]["slug"], "dresses");
    assert_eq!(p["category"]["parent"]["slug"], "clothing");
    assert_eq!(p["category"]["ancestors"], json!([{ "slug": "clothing" }]));
    assert_eq!(
        p["images"],
        json!([{ "url": "https://images.example.com/0/0.jpg", "altText": "Piece 0", "position": 0 }])
    );

    let node = app.data("query($id: ID!) { node(id: $id) { id ... on Product { sku } } }", json!({ "id": id })).await;
    assert_eq!(node["node"], json!({ "id": id, "sku": product.sku }));
    let vendor_id = GlobalId::encode(NodeType::Vendor, c.vendors[1].id).0;
    let node =
        app.data("query($id: ID!) { node(id: $id) { ... on Vendor { slug } } }", json!({ "id": vendor_id })).await;
    assert_eq!(node["node"]["slug"], "beta");
    let category_id = GlobalId::encode(NodeType::Category, c.clothing.id).0;
    let node = app
        .data(
            "query($id: ID!) { node(id: $id) { ... on Category { slug children { slug } } } }",
            json!({ "id": category_id }),
        )
        .await;
    assert_eq!(node["node"], json!({ "slug": "clothing", "children": [{ "slug": "coats" }, { "slug": "dresses" }] }));
}

async fn drafts_stay_private(store: Store) {
    let app = TestApp::spawn(store).await;
    let c = fixtures::catalog(&app.db).await;
    let draft = c.products.iter().find(|p| p.status == entity::ProductStatus::Draft).unwrap();
    let response = app.graphql("query($s: String) { product(slug: $s) { id } }", json!({ "s": draft.slug })).await;
    assert_eq!(error_codes(&response), ["NOT_FOUND"]);
    let id = GlobalId::encode(NodeType::Product, draft.id).0;
    let response = app.graphql("query($id: ID!) { node(id: $id) { id } }", json!({ "id": id })).await;
    assert_eq!(error_codes(&response), ["NOT_FOUND"]);
    let response = app.graphql("{ products(filter: { statuses: [DRAFT] }) { edges { cursor } } }", json!({})).await;
    assert_eq!(error_codes(&response), ["UNAUTHENTICATED"], "drafts need a vendor or staff account");

    // Its own vendor and staff see it by id, slug and node; another vendor does not.
    let other_vendor = c.vendors.iter().find(|v| v.id != draft.vendor_id).unwrap();
    let password = "velvet-archive-1997";
    for (email, role, vendor) in [
        ("own@example.com", Role::Vendor, Some(draft.vendor_id)),
        ("other@example.com", Role::Vendor, Some(other_vendor.id)),
        ("staff@example.com", Role::Staff, None),
    ] {
        aeternum::identity::service::create_user(&app.db, email, password, "V", role, vendor).await.unwrap();
    }
    let by_id = "query($id: ID!) { product(id: $id) { slug } node(id: $id) { id } }";
    for (email, sees) in [("own@example.com", true), ("staff@example.com", true), ("other@example.com", false)] {
        let bearer = Credential::Bearer(app.sign_in(email, password).await.0);
        let response = app.graphql_as(&bearer, by_id, json!({ "id": id })).await;
        let slug =
            app.graphql_as(&bearer, "query($s: String) { product(slug: $s) { id } }", json!({ "s": draft.slug }));
        if sees {
            assert_eq!(response["data"]["product"]["slug"], draft.slug.as_str(), "{email}: {response}");
            assert_eq!(response["data"]["node"]["id"], id.as_str());
            assert!(slug.await.get("errors").is_none(), "{email}");
        } else {
            assert_eq!(error_codes(&response), ["NOT_FOUND", "NOT_FOUND"], "{email}: {response}");
            assert_eq!(error_codes(&slug.await), ["NOT_FOUND"]);
        }
    }
}

const LISTING: &str = "query($n: Int) { products(first: $n) { edges { node {
    title price { amount } vendor { name } category { name } images(first: 1) { url } } } } }";

async fn statements(app: &TestApp, query: &str, variables: Value) -> (u64, usize) {
    let before = app.db.statement_count();
    let data = app.data(query, variables).await;
    let count = data["products"]["edges"].as_array().unwrap().len();
    (app.db.statement_count() - before, count)
}

async fn a_listing_costs_the_same_statements_for_5_and_50_products(store: Store) {
    // The pool counts every statement: keep the event relay's polling out of the count.
    let app = TestApp::spawn_with(store, |s| s.events.relay_interval_ms = 3_600_000).await;
    app.load_demo().await;
    let (five, n5) = statements(&app, LISTING, json!({ "n": 5 })).await;
    let (fifty, n50) = statements(&app, LISTING, json!({ "n": 50 })).await;
    assert_eq!((n5, n50), (5, 50));
    assert_eq!(five, fifty, "relation fields are batched, not loaded per product");
    assert_eq!(fifty, 4, "products, vendors, categories, images: one statement each");
}

async fn a_renamed_vendor_shows_in_the_next_listing(store: Store) {
    // The loaders cache rows for one operation only: the listing after a rename must not be
    // answered from the listing before it.
    let app = TestApp::spawn(store).await;
    let c = fixtures::catalog(&app.db).await;
    let password = "velvet-archive-1997";
    aeternum::identity::service::create_user(&app.db, "staff@example.com", password, "S", Role::Staff, None)
        .await
        .unwrap();
    let (token, _) = app.sign_in("staff@example.com", password).await;
    let vendor_names = |data: Value| -> Vec<String> {
        let edges = data["products"]["edges"].as_array().unwrap().clone();
        edges.iter().map(|e| e["node"]["vendor"]["name"].as_str().unwrap().to_owned()).collect()
    };
    let before = vendor_names(app.data(LISTING, json!({ "n": 50 })).await);
    let vendor = c.vendors.first().unwrap();
    assert!(before.contains(&vendor.name), "{before:?}");
    let id = GlobalId::encode(NodeType::Vendor, vendor.id).0;
    let renamed = app
        .graphql_as(
            &Credential::Bearer(token),
            "mutation($v: ID!) { updateVendor(id: $v, name: \"Maison Renamed\") { name } }",
            json!({ "v": id }),
        )
        .await;
    assert_eq!(renamed["data"]["updateVendor"]["name"], "Maison Renamed", "{renamed}");
    let after = vendor_names(app.data(LISTING, json!({ "n": 50 })).await);
    assert!(after.contains(&"Maison Renamed".to_owned()) && !after.contains(&vendor.name), "{after:?}");
}

/// `images(first: 1)` is read as one row per product: the main image, the same as the head of
/// the full list.
async fn a_listing_of_main_images_shows_each_products_first_image(store: Store) {
    let app = TestApp::spawn(store).await;
    app.load_demo().await;
    let all = app.data("{ products(first: 50) { nodes { id images { url } } } }", json!({})).await;
    let main = app.data("{ products(first: 50) { nodes { id images(first: 1) { url } } } }", json!({})).await;
    let (all, main) = (all["products"]["nodes"].as_array().unwrap(), main["products"]["nodes"].as_array().unwrap());
    assert_eq!(all.len(), 50);
    assert!(all.iter().any(|p| p["images"].as_array().unwrap().len() > 1), "products with several images");
    for (full, first) in all.iter().zip(main) {
        assert_eq!(full["id"], first["id"]);
        let full = full["images"].as_array().unwrap();
        let first = first["images"].as_array().unwrap();
        assert_eq!(first.len(), full.len().min(1));
        assert_eq!(first.first(), full.first(), "the lowest position");
    }
}

store_tests!(
    a_listing_of_main_images_shows_each_products_first_image,
    a_renamed_vendor_shows_in_the_next_listing,
    the_demo_catalog_answers_the_readme_query,
    products_are_found_by_id_slug_and_node,
    drafts_stay_private,
    a_listing_costs_the_same_statements_for_5_and_50_products,
);
