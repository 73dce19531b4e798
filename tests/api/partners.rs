//! Partner API keys: each scope opens its root fields and nothing else, on every kind of
//! operation, before anything runs; checked when an operation is registered, and again when it
//! runs.

use aeternum::graphql::ids::NodeType;
use aeternum::schema::partners::REACHES;
use async_graphql::parser::types::OperationType;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Credential, Store, document_id, error_codes, next_message, partner, send_json, socket};
use crate::shop::{Shop, gid};

store_tests!(each_scope_opens_its_fields_and_nothing_else, registration_refuses_what_the_keys_could_never_run);

const PRODUCTS: &str = "query Products { products(first: 5) { totalCount } }";
const ORDERS: &str = "query Orders { orders(first: 5) { edges { node { id total { amount } } } } }";
const ORDER: &str = "query Order($o: ID!) { order(id: $o) { id status } }";
const MIXED: &str = "query Mixed { products(first: 1) { totalCount } order(id: \"x\") { id } }";
const PRIVATE: &str = "query Private($p: ID!) { product(id: $p) { title costPrice { amount } } }";
const PLACED: &str = "subscription Placed { orderPlaced { eventId } }";
const TYPENAME: &str = "query Typename { __typename }";

async fn each_scope_opens_its_fields_and_nothing_else(store: Store) {
    let shop = Shop::open(store).await;
    let (cart, guest) = shop.guest_cart().await;
    shop.add(&guest, &cart, &shop.multi, 1).await;
    let placed = shop.checkout(&guest, &cart, "partner-0001").await["data"]["checkout"]["id"].clone();

    let scopes: [&[&str]; 4] = [&["catalog:read"], &["orders:read"], &["catalog:read", "orders:read"], &[]];
    let operations = [PRODUCTS, ORDERS, ORDER, MIXED, PRIVATE, PLACED, TYPENAME];
    let [catalog, orders, both, none] =
        <[Credential; 4]>::try_from(partner(&shop.app, "feedly", &scopes, &operations).await)
            .unwrap_or_else(|_| unreachable!());
    let call = async |who: &Credential, body: &str, variables: Value| shop.app.run_document(who, body, variables).await;

    // catalog:read: the catalog, not the orders, even through a registered operation.
    assert_eq!(call(&catalog, PRODUCTS, json!({})).await["data"]["products"]["totalCount"], 3);
    let refused = call(&catalog, ORDERS, json!({})).await;
    assert_eq!(error_codes(&refused), ["FORBIDDEN"], "{refused}");
    assert!(refused["errors"][0]["message"].as_str().is_some_and(|m| m.contains("`orders`")), "{refused}");
    assert!(refused.get("data").is_none_or(Value::is_null), "nothing ran: {refused}");
    assert_eq!(
        error_codes(&call(&catalog, MIXED, json!({})).await),
        ["FORBIDDEN"],
        "one closed field refuses it whole"
    );

    // orders:read: every order, as staff read them; not the catalog.
    let listed = call(&orders, ORDERS, json!({})).await;
    assert_eq!(listed["data"]["orders"]["edges"][0]["node"]["id"], placed, "{listed}");
    let read = call(&orders, ORDER, json!({ "o": placed })).await;
    assert_eq!(read["data"]["order"]["status"], "PENDING_PAYMENT", "{read}");
    assert_eq!(error_codes(&call(&orders, PRODUCTS, json!({})).await), ["FORBIDDEN"]);

    // Both scopes open both; none opens the private side of the catalog.
    assert!(call(&both, PRODUCTS, json!({})).await.get("errors").is_none());
    assert!(call(&both, ORDERS, json!({})).await.get("errors").is_none());
    let product = gid(NodeType::Product, shop.multi.id);
    let private = call(&both, PRIVATE, json!({ "p": product })).await;
    assert_eq!(error_codes(&private), ["FORBIDDEN"], "no scope opens the private side of the catalog: {private}");

    // Accounts, carts, writes and the console cannot be registered, so a key cannot run them.
    let carts = shop.count("carts").await;
    for closed in [
        "{ me { id } }",
        "{ adminDashboard(currencyCode: \"EUR\") { from } }",
        "{ apiKeys { id } }",
        "mutation { openCart { token } }",
    ] {
        let (status, answer) = shop.app.post_json(&both, json!({ "query": closed })).await;
        assert_eq!(
            (status, error_codes(&answer)),
            (StatusCode::FORBIDDEN, vec!["PERSISTED_QUERY_REQUIRED".to_owned()])
        );
        assert!(answer.get("data").is_none(), "{closed}: {answer}");
    }
    assert_eq!(shop.count("carts").await, carts, "the refused mutation wrote nothing");

    // The same over a socket signed in with the key: a registered subscription the scope does
    // not open is refused, a document of its own is refused before that.
    let Credential::ApiKey(catalog_key) = &catalog else { unreachable!() };
    let mut ws = socket(&shop.app, &[]).await.unwrap();
    send_json(&mut ws, json!({ "type": "connection_init", "payload": { "apiKey": catalog_key } })).await;
    assert_eq!(next_message(&mut ws).await["type"], "connection_ack");
    send_json(&mut ws, json!({ "id": "1", "type": "subscribe", "payload": { "documentId": document_id(PLACED) } }))
        .await;
    let answer = next_message(&mut ws).await;
    assert_eq!(answer["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN", "{answer}");
    assert_eq!(next_message(&mut ws).await, json!({ "id": "1", "type": "complete" }));
    let own = json!({ "query": "subscription { orderPlaced { eventId } }" });
    send_json(&mut ws, json!({ "id": "2", "type": "subscribe", "payload": own })).await;
    let answer = next_message(&mut ws).await;
    assert_eq!(
        (&answer["type"], &answer["payload"][0]["extensions"]["code"]),
        (&json!("error"), &json!("PERSISTED_QUERY_REQUIRED")),
        "{answer}"
    );

    // A key without scopes reaches nothing but the schema's own fields.
    assert_eq!(error_codes(&call(&none, PRODUCTS, json!({})).await), ["FORBIDDEN"]);
    assert_eq!(call(&none, TYPENAME, json!({})).await["data"]["__typename"], "Query");
}

async fn registration_refuses_what_the_keys_could_never_run(store: Store) {
    use aeternum::identity::viewer::ClientInfo;
    use aeternum::partner::{manifest, service};
    let shop = Shop::open(store).await;
    let check = aeternum::schema::partners::SchemaCheck::new(&aeternum::config::Settings::default());
    let client = ClientInfo::default();
    let actor = service::Actor { id: None, client: &client };

    // A partner whose keys read the catalog cannot register an operation reading orders,
    // accounts or carts: the whole manifest is refused, naming the operation and the field.
    partner(&shop.app, "catalogue", &[&["catalog:read"]], &[PRODUCTS]).await;
    let catalogue = service::by_slug(&shop.app.db, "catalogue").await.unwrap();
    let versions = shop.count("partner_manifests").await;
    for (body, field) in
        [(ORDERS, "orders"), ("query Me { me { id } }", "me"), ("mutation Open { openCart { token } }", "openCart")]
    {
        let manifest = manifest::read(crate::helpers::manifest_of(&[PRODUCTS, body])).unwrap();
        let refused = service::register(&shop.app.db, &check, &actor, &catalogue, manifest, true).await.err().unwrap();
        assert_eq!(refused.code().as_str(), "BAD_USER_INPUT");
        let message = refused.message();
        assert!(message.contains(&format!("`{field}`")) && message.contains("catalog:read"), "{message}");
    }
    assert_eq!(shop.count("partner_manifests").await, versions, "nothing was registered");

    // Registered while a key held orders:read, an operation is checked again when it runs: once
    // that key is revoked, the catalog key still cannot read orders.
    let keys = partner(&shop.app, "lapsed", &[&["catalog:read"], &["orders:read"]], &[PRODUCTS, ORDERS]).await;
    let lapsed = service::by_slug(&shop.app.db, "lapsed").await.unwrap();
    assert!(shop.app.run_document(&keys[1], ORDERS, json!({})).await.get("errors").is_none());
    let orders_key = aeternum::identity::keys::of_partner(&shop.app.db, lapsed.id).await.unwrap();
    let orders_key = orders_key.iter().find(|k| k.scopes.to_string().contains("orders")).unwrap();
    aeternum::identity::keys::revoke(&shop.app.db, &client, uuid::Uuid::now_v7(), orders_key.id).await.unwrap();
    assert_eq!(error_codes(&shop.app.run_document(&keys[0], ORDERS, json!({})).await), ["FORBIDDEN"]);
    assert_eq!(error_codes(&shop.app.run_document(&keys[1], ORDERS, json!({})).await), ["UNAUTHENTICATED"]);
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
