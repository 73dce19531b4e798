//! Filters select exactly the matching products, in SQL, before pagination.

use std::collections::BTreeSet;

use aeternum::graphql::ids::{GlobalId, NodeType};
use entity::{ProductCondition, ProductStatus, product};
use serde_json::{Value, json};

use crate::fixtures::{self, Catalog};
use crate::helpers::{Store, TestApp};

const LIST: &str = r#"
query List($filter: ProductFilter, $first: Int) {
  products(first: $first, filter: $filter) { totalCount edges { node { id } } pageInfo { hasNextPage } }
}"#;

async fn matching(app: &TestApp, filter: Value) -> BTreeSet<String> {
    let connection = &app.data(LIST, json!({ "filter": filter, "first": 100 })).await["products"];
    let ids: BTreeSet<String> =
        connection["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(connection["totalCount"], json!(ids.len()), "totalCount agrees with the listing");
    ids
}

fn expected(catalog: &Catalog, keep: impl Fn(&product::Model) -> bool) -> BTreeSet<String> {
    catalog.public().filter(|p| keep(p)).map(|p| GlobalId::encode(NodeType::Product, p.id).0).collect()
}

fn id(node_type: NodeType, id: uuid::Uuid) -> String {
    GlobalId::encode(node_type, id).0
}

async fn each_filter_selects_exactly_its_products(store: Store) {
    let app = TestApp::spawn(store).await;
    let c = fixtures::catalog(&app.db).await;
    let in_clothing = [c.dresses.id, c.coats.id];
    let cases: Vec<(&str, Value, BTreeSet<String>)> = vec![
        (
            "a category includes its descendants",
            json!({ "categoryId": id(NodeType::Category, c.clothing.id) }),
            expected(&c, |p| in_clothing.contains(&p.category_id)),
        ),
        (
            "a leaf category",
            json!({ "categoryId": id(NodeType::Category, c.coats.id) }),
            expected(&c, |p| p.category_id == c.coats.id),
        ),
        (
            "vendors",
            json!({ "vendorIds": [id(NodeType::Vendor, c.vendors[0].id), id(NodeType::Vendor, c.vendors[2].id)] }),
            expected(&c, |p| p.vendor_id == c.vendors[0].id || p.vendor_id == c.vendors[2].id),
        ),
        (
            "an inclusive price range",
            json!({ "price": { "currencyCode": "EUR", "minAmount": "100", "maxAmount": "200.00" } }),
            expected(&c, |p| (10_000..=20_000).contains(&p.price_minor)),
        ),
        (
            "a price floor only",
            json!({ "price": { "currencyCode": "EUR", "minAmount": "250.5" } }),
            expected(&c, |p| p.price_minor >= 25_050),
        ),
        ("another currency", json!({ "price": { "currencyCode": "USD" } }), BTreeSet::new()),
        (
            "available now",
            json!({ "available": true }),
            expected(&c, |p| p.status == ProductStatus::Active && p.stock > 0),
        ),
        (
            "not available",
            json!({ "available": false }),
            expected(&c, |p| !(p.status == ProductStatus::Active && p.stock > 0)),
        ),
        (
            "statuses",
            json!({ "statuses": ["SOLD", "RESERVED"] }),
            expected(&c, |p| matches!(p.status, ProductStatus::Sold | ProductStatus::Reserved)),
        ),
        (
            "brands",
            json!({ "brands": ["Celine", "Dior"] }),
            expected(&c, |p| matches!(p.brand.as_deref(), Some("Celine" | "Dior"))),
        ),
        (
            "conditions",
            json!({ "conditions": ["GOOD"] }),
            expected(&c, |p| p.condition == Some(ProductCondition::Good)),
        ),
        (
            "free-form attributes",
            json!({ "attributes": [{ "name": "pattern", "values": ["check", "floral"] }] }),
            expected(&c, |p| p.attributes["pattern"] != json!("solid")),
        ),
        ("an unknown attribute", json!({ "attributes": [{ "name": "lining", "values": ["silk"] }] }), BTreeSet::new()),
        (
            "filters combine with AND",
            json!({ "categoryId": id(NodeType::Category, c.clothing.id), "brands": ["Prada"], "available": true }),
            expected(&c, |p| {
                in_clothing.contains(&p.category_id)
                    && p.brand.as_deref() == Some("Prada")
                    && p.status == ProductStatus::Active
                    && p.stock > 0
            }),
        ),
    ];
    for (name, filter, want) in cases {
        assert_eq!(matching(&app, filter).await, want, "{name}");
    }
    assert!(!expected(&c, |p| in_clothing.contains(&p.category_id)).is_empty(), "the fixture exercises the filters");
}

async fn filtered_pages_are_full(store: Store) {
    let app = TestApp::spawn(store).await;
    let c = fixtures::catalog(&app.db).await;
    let filter = json!({ "brands": ["Prada"] });
    let all = expected(&c, |p| p.brand.as_deref() == Some("Prada"));
    let first = &app.data(LIST, json!({ "filter": filter, "first": 3 })).await["products"];
    assert_eq!(first["edges"].as_array().unwrap().len(), 3.min(all.len()));
    assert_eq!(first["pageInfo"]["hasNextPage"], json!(all.len() > 3));
}

store_tests!(each_filter_selects_exactly_its_products, filtered_pages_are_full);
