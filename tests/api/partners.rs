//! Partner API keys: each scope opens its root fields and nothing else, on every kind of
//! operation, before anything runs.

use aeternum::graphql::ids::NodeType;
use aeternum::identity::viewer::ClientInfo;
use aeternum::schema::partners::REACHES;
use async_graphql::parser::types::OperationType;
use serde_json::{Value, json};

use crate::helpers::{Credential, Store, error_codes, next_message, send_json, socket};
use crate::shop::{Shop, gid};

store_tests!(each_scope_opens_its_fields_and_nothing_else);

async fn key(shop: &Shop, scopes: &[&str]) -> Credential {
    let scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
    let (key, _) =
        aeternum::identity::keys::issue(&shop.app.db, &ClientInfo::default(), uuid::Uuid::now_v7(), "Partner", scopes)
            .await
            .unwrap();
    Credential::ApiKey(key)
}

async fn each_scope_opens_its_fields_and_nothing_else(store: Store) {
    let shop = Shop::open(store).await;
    let (cart, guest) = shop.guest_cart().await;
    shop.add(&guest, &cart, &shop.multi, 1).await;
    let placed = shop.checkout(&guest, &cart, "partner-0001").await["data"]["checkout"]["id"].clone();

    let catalog = key(&shop, &["catalog:read"]).await;
    let orders = key(&shop, &["orders:read"]).await;
    let both = key(&shop, &["catalog:read", "orders:read"]).await;
    let none = key(&shop, &[]).await;

    let products = "{ products(first: 5) { totalCount } }";
    let order_list = "{ orders(first: 5) { edges { node { id total { amount } } } } }";
    let one_order = "query($o: ID!) { order(id: $o) { id status } }";
    let call = async |who: &Credential, query: &str, variables: Value| shop.app.graphql_as(who, query, variables).await;

    // catalog:read: the catalog, not the orders.
    assert_eq!(call(&catalog, products, json!({})).await["data"]["products"]["totalCount"], 3);
    let refused = call(&catalog, order_list, json!({})).await;
    assert_eq!(error_codes(&refused), ["FORBIDDEN"], "{refused}");
    assert!(refused["errors"][0]["message"].as_str().is_some_and(|m| m.contains("`orders`")), "{refused}");
    assert!(refused.get("data").is_none_or(Value::is_null), "nothing ran: {refused}");
    let mixed = call(&catalog, "{ products(first: 1) { totalCount } order(id: \"x\") { id } }", json!({})).await;
    assert_eq!(error_codes(&mixed), ["FORBIDDEN"], "one closed field refuses the whole operation");

    // orders:read: every order, as staff read them; not the catalog.
    let listed = call(&orders, order_list, json!({})).await;
    assert_eq!(listed["data"]["orders"]["edges"][0]["node"]["id"], placed, "{listed}");
    let read = call(&orders, one_order, json!({ "o": placed })).await;
    assert_eq!(read["data"]["order"]["status"], "PENDING_PAYMENT", "{read}");
    assert_eq!(error_codes(&call(&orders, products, json!({})).await), ["FORBIDDEN"]);

    // Both scopes open both; nothing opens accounts, carts, writes or the console.
    assert!(call(&both, products, json!({})).await.get("errors").is_none());
    assert!(call(&both, order_list, json!({})).await.get("errors").is_none());
    let carts = shop.count("carts").await;
    for closed in [
        "{ me { id } }",
        "{ adminDashboard(currencyCode: \"EUR\") { from } }",
        "{ apiKeys { id } }",
        "mutation { openCart { token } }",
    ] {
        assert_eq!(error_codes(&call(&both, closed, json!({})).await), ["FORBIDDEN"], "{closed}");
    }
    assert_eq!(shop.count("carts").await, carts, "the refused mutation wrote nothing");
    let product = gid(NodeType::Product, shop.multi.id);
    let private =
        call(&both, "query($p: ID!) { product(id: $p) { title costPrice { amount } } }", json!({ "p": product }));
    assert_eq!(error_codes(&private.await), ["FORBIDDEN"], "no scope opens the private side of the catalog");

    // The same over a socket signed in with the key.
    let Credential::ApiKey(catalog_key) = &catalog else { unreachable!() };
    let mut ws = socket(&shop.app, &[]).await.unwrap();
    send_json(&mut ws, json!({ "type": "connection_init", "payload": { "apiKey": catalog_key } })).await;
    assert_eq!(next_message(&mut ws).await["type"], "connection_ack");
    let subscribe =
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { orderPlaced { eventId } }" } });
    send_json(&mut ws, subscribe).await;
    let answer = next_message(&mut ws).await;
    assert_eq!(answer["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN", "{answer}");
    assert_eq!(next_message(&mut ws).await, json!({ "id": "1", "type": "complete" }));

    // A key without scopes reaches nothing but the schema's own fields.
    assert_eq!(error_codes(&call(&none, products, json!({})).await), ["FORBIDDEN"]);
    assert_eq!(call(&none, "{ __typename }", json!({})).await["data"]["__typename"], "Query");
}

/// Every root field the scopes name exists in the schema: a renamed field cannot silently close,
/// and a field missing from the table is closed to partners (tested above).
#[test]
fn the_scope_table_names_real_root_fields() {
    let sdl = aeternum::schema::sdl();
    for (kind, field, _) in REACHES {
        let root = match kind {
            OperationType::Query => "Query",
            OperationType::Mutation => "Mutation",
            OperationType::Subscription => "Subscription",
        };
        let start = sdl.find(&format!("\ntype {root} {{")).unwrap();
        let block = &sdl[start..start + sdl[start..].find("\n}").unwrap()];
        assert!(
            block.contains(&format!("\n\t{field}(")) || block.contains(&format!("\n\t{field}:")),
            "{root}.{field} is in the schema"
        );
    }
}
