//! Per-partner safelists: an admin registers a partner's operation manifest; the partner's keys
//! run those operations (by id, by hash, or in full) and nothing else; versions are activated and
//! rolled back; a manifest that is not right is refused with the reason and keeps nothing.

use aeternum::digest::sha256_hex;
use entity::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Credential, Store, TestApp, document_id, error_codes, manifest_of};

store_tests!(
    a_partner_runs_its_manifest_and_nothing_else,
    manifests_are_versioned_activated_and_rolled_back,
    a_manifest_that_is_not_right_is_refused_with_the_reason,
);

const PASSWORD: &str = "a-long-enough-passphrase";
const CATEGORIES: &str = "query Categories { categories { name } }";
const PRODUCT: &str = "query Product($slug: String!) { product(slug: $slug) { id } }";
const COUNT: &str = "query Count { products(first: 1) { totalCount } }";
const REGISTER: &str = "mutation($p: String!, $m: JSON!, $a: Boolean!) { registerPartnerManifest(partner: $p, manifest: $m, activate: $a) { version active operationCount } }";

/// An admin, a partner `slug` with a `catalog:read` key, and the manifest of `bodies` registered
/// through the API; the admin and the key.
async fn onboarded(app: &TestApp, slug: &str, bodies: &[&str]) -> (Credential, Credential) {
    let email = format!("admin-{slug}@example.com");
    aeternum::identity::service::create_user(&app.db, &email, PASSWORD, "Admin", Role::Admin, None).await.unwrap();
    let admin = Credential::Bearer(app.sign_in(&email, PASSWORD).await.0);
    let created = app
        .graphql_as(
            &admin,
            "mutation($s: String!) { createPartner(slug: $s, name: \"Feedly\") { slug } }",
            json!({ "s": slug }),
        )
        .await;
    assert_eq!(created["data"]["createPartner"]["slug"], slug, "{created}");
    let issued = app
        .graphql_as(
            &admin,
            "mutation($s: String!) { issueApiKey(partner: $s, name: \"production\", scopes: [\"catalog:read\"]) { key } }",
            json!({ "s": slug }),
        )
        .await;
    let key = Credential::ApiKey(issued["data"]["issueApiKey"]["key"].as_str().unwrap().to_owned());
    let registered = register(app, &admin, slug, manifest_of(bodies), true).await;
    assert_eq!(registered["data"]["registerPartnerManifest"]["active"], true, "{registered}");
    (admin, key)
}

async fn register(app: &TestApp, admin: &Credential, slug: &str, manifest: Value, activate: bool) -> Value {
    app.graphql_as(admin, REGISTER, json!({ "p": slug, "m": manifest, "a": activate })).await
}

fn persisted(body: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256_hex(body) } })
}

fn status_and_codes((status, answer): (StatusCode, Value)) -> (StatusCode, Vec<String>) {
    (status, error_codes(&answer))
}

async fn a_partner_runs_its_manifest_and_nothing_else(store: Store) {
    let app = TestApp::spawn(store).await;
    let (_, key) = onboarded(&app, "feedly", &[CATEGORIES, PRODUCT, COUNT]).await;

    // Every operation of the manifest runs: by `documentId`, by the persisted-query hash (also
    // over GET, what a CDN caches), and sent in full.
    let answer = app.run_document(&key, CATEGORIES, json!({})).await;
    assert!(answer["data"]["categories"].is_array(), "{answer}");
    let answer = app.run_document(&key, PRODUCT, json!({ "slug": "none" })).await;
    assert_eq!(error_codes(&answer), ["NOT_FOUND"], "it ran, with its variables: {answer}");
    let (status, answer) = app.post_json(&key, json!({ "extensions": persisted(COUNT) })).await;
    assert_eq!((status, &answer["data"]["products"]["totalCount"]), (StatusCode::OK, &json!(0)), "{answer}");
    let Credential::ApiKey(secret) = &key else { unreachable!() };
    let url = format!("{}/graphql", app.address);
    let extensions = persisted(CATEGORIES).to_string();
    let got =
        app.client.get(&url).header("x-api-key", secret).query(&[("extensions", extensions)]).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert!(got.json::<Value>().await.unwrap()["data"]["categories"].is_array());
    let answer = app.graphql_as(&key, COUNT, json!({})).await;
    assert_eq!(answer["data"]["products"]["totalCount"], 0, "sent in full, it is the registered operation: {answer}");

    // Anything else is refused before it runs: a document of its own (403), an id the manifest
    // does not hold (200, as Apollo clients expect), an operation with a hash it does not hold.
    let own = "query Categories { categories { name slug } }";
    let required = (StatusCode::FORBIDDEN, vec!["PERSISTED_QUERY_REQUIRED".to_owned()]);
    assert_eq!(status_and_codes(app.post_json(&key, json!({ "query": own })).await), required);
    let registering = json!({ "query": own, "extensions": persisted(own) });
    assert_eq!(status_and_codes(app.post_json(&key, registering).await), required);
    let not_found = (StatusCode::OK, vec!["PERSISTED_QUERY_NOT_FOUND".to_owned()]);
    assert_eq!(status_and_codes(app.post_json(&key, json!({ "documentId": document_id(own) })).await), not_found);
    assert_eq!(status_and_codes(app.post_json(&key, json!({ "extensions": persisted(own) })).await), not_found);
    // A partner registers nothing in the shared store of automatic persisted queries.
    let anonymous = app.post_json(&Credential::Anonymous, json!({ "extensions": persisted(own) })).await;
    assert_eq!(status_and_codes(anonymous), not_found);

    // A query another client made known is not one of the partner's.
    let kept = json!({ "query": own, "extensions": persisted(own) });
    assert!(app.post_json(&Credential::Anonymous, kept).await.1["data"]["categories"].is_array());
    assert_eq!(status_and_codes(app.post_json(&key, json!({ "extensions": persisted(own) })).await), not_found);

    // Nor is another partner's operation.
    let (_, other) = onboarded(&app, "other", &[own]).await;
    assert!(app.run_document(&other, own, json!({})).await["data"]["categories"].is_array());
    assert_eq!(status_and_codes(app.post_json(&key, json!({ "documentId": document_id(own) })).await), not_found);
    assert_eq!(error_codes(&app.run_document(&other, CATEGORIES, json!({})).await), ["PERSISTED_QUERY_NOT_FOUND"]);
}

async fn manifests_are_versioned_activated_and_rolled_back(store: Store) {
    let app = TestApp::spawn(store).await;
    let (admin, key) = onboarded(&app, "feedly", &[CATEGORIES, COUNT]).await;

    // Version 2 drops Count: only Count stops working.
    let second = register(&app, &admin, "feedly", manifest_of(&[CATEGORIES]), true).await;
    assert_eq!(second["data"]["registerPartnerManifest"], json!({ "version": 2, "active": true, "operationCount": 1 }));
    assert!(app.run_document(&key, CATEGORIES, json!({})).await["data"]["categories"].is_array());
    assert_eq!(error_codes(&app.run_document(&key, COUNT, json!({})).await), ["PERSISTED_QUERY_NOT_FOUND"]);
    assert_eq!(error_codes(&app.graphql_as(&key, COUNT, json!({})).await), ["PERSISTED_QUERY_REQUIRED"]);

    // Rolled back to version 1, Count works again.
    let activate = "mutation($v: Int!) { activatePartnerManifest(partner: \"feedly\", version: $v) { activeManifest { version } } }";
    let rolled = app.graphql_as(&admin, activate, json!({ "v": 1 })).await;
    assert_eq!(rolled["data"]["activatePartnerManifest"]["activeManifest"]["version"], 1, "{rolled}");
    assert_eq!(app.run_document(&key, COUNT, json!({})).await["data"]["products"]["totalCount"], 0);

    // A version registered without activating changes nothing until it is activated.
    let third = register(&app, &admin, "feedly", manifest_of(&[PRODUCT]), false).await;
    assert_eq!(third["data"]["registerPartnerManifest"], json!({ "version": 3, "active": false, "operationCount": 1 }));
    assert_eq!(
        error_codes(&app.run_document(&key, PRODUCT, json!({ "slug": "x" })).await),
        ["PERSISTED_QUERY_NOT_FOUND"]
    );
    assert_eq!(app.run_document(&key, COUNT, json!({})).await["data"]["products"]["totalCount"], 0);
    app.graphql_as(&admin, activate, json!({ "v": 3 })).await;
    assert_eq!(error_codes(&app.run_document(&key, PRODUCT, json!({ "slug": "x" })).await), ["NOT_FOUND"], "it runs");
    assert_eq!(error_codes(&app.run_document(&key, COUNT, json!({})).await), ["PERSISTED_QUERY_NOT_FOUND"]);

    // An unknown version is refused and changes nothing.
    assert_eq!(error_codes(&app.graphql_as(&admin, activate, json!({ "v": 9 })).await), ["NOT_FOUND"]);
    let listed = app
        .graphql_as(
            &admin,
            "{ partner(slug: \"feedly\") { manifests { version active operations { name type } } keys { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed["data"]["partner"]["manifests"],
        json!([
            { "version": 3, "active": true, "operations": [{ "name": "Product", "type": "QUERY" }] },
            { "version": 2, "active": false, "operations": [{ "name": "Categories", "type": "QUERY" }] },
            { "version": 1, "active": false, "operations": [{ "name": "Categories", "type": "QUERY" }, { "name": "Count", "type": "QUERY" }] },
        ]),
        "{listed}"
    );
    assert_eq!(listed["data"]["partner"]["keys"], json!([{ "name": "production" }]));
    let audit = app
        .graphql_as(
            &admin,
            "{ securityEvents(first: 10, action: \"partner_manifest_activated\") { subject } }",
            json!({}),
        )
        .await;
    assert_eq!(audit["data"]["securityEvents"].as_array().map(Vec::len), Some(2), "{audit}");
}

async fn a_manifest_that_is_not_right_is_refused_with_the_reason(store: Store) {
    let app = TestApp::spawn(store).await;
    let (admin, _) = onboarded(&app, "feedly", &[CATEGORIES]).await;
    let versions = app.count_rows("partner_manifests").await;
    let operations = app.count_rows("partner_operations").await;

    let entry =
        |id: &str, name: &str, kind: &str, body: &str| json!({ "id": id, "name": name, "type": kind, "body": body });
    let manifest = |operation: Value| {
        json!({ "format": "apollo-persisted-query-manifest", "version": 1, "operations": [
            { "id": sha256_hex(CATEGORIES), "name": "Categories", "type": "query", "body": CATEGORIES }, operation
        ] })
    };
    let body = |text: &str, name: &str, kind: &str| manifest(entry(&sha256_hex(text), name, kind, text));
    for (bad, reason) in [
        (json!({ "format": "relay", "version": 1, "operations": [] }), "apollo-persisted-query-manifest"),
        (json!({ "operations": "none" }), "not an operation manifest"),
        (manifest(entry(&"0".repeat(64), "Count", "query", COUNT)), "`id` is not the SHA-256"),
        (body("query Broken { categories {", "Broken", "query"), "does not parse"),
        (body("query Wrong { noSuchField }", "Wrong", "query"), "not valid"),
        (body("query Deep($x: Int) { categories { name } }", "Deep", "query"), "not valid"),
        (body("query Named { categories { name } }", "Other", "query"), "must be named `Other`"),
        (body("query Kind { categories { name } }", "Kind", "mutation"), "is a query, not a mutation"),
        (
            body("query A { categories { name } } query B { categories { slug } }", "A", "query"),
            "exactly one operation",
        ),
    ] {
        let answer = register(&app, &admin, "feedly", bad.clone(), true).await;
        assert_eq!(error_codes(&answer), ["BAD_USER_INPUT"], "{bad}: {answer}");
        let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(reason), "{bad}: `{message}` says {reason}");
    }
    let unknown = register(&app, &admin, "nobody", manifest_of(&[CATEGORIES]), true).await;
    assert_eq!(error_codes(&unknown), ["NOT_FOUND"]);

    // A partner needs a slug of its own, and a key a partner that exists.
    let partners = app.count_rows("partners").await;
    let create = "mutation($s: String!) { createPartner(slug: $s, name: \"Other\") { slug } }";
    for (slug, code) in [("Bad Slug", "BAD_USER_INPUT"), ("-dash", "BAD_USER_INPUT"), ("feedly", "CONFLICT")] {
        let answer = app.graphql_as(&admin, create, json!({ "s": slug })).await;
        assert_eq!(error_codes(&answer), [code], "{slug}: {answer}");
    }
    assert_eq!(app.count_rows("partners").await, partners, "no partner was created");
    let keys = app.count_rows("api_keys").await;
    let issue = "mutation { issueApiKey(partner: \"nobody\", name: \"x\", scopes: []) { key } }";
    assert_eq!(error_codes(&app.graphql_as(&admin, issue, json!({})).await), ["NOT_FOUND"]);
    assert_eq!(app.count_rows("api_keys").await, keys, "no key was issued");
    assert_eq!(app.count_rows("partner_manifests").await, versions, "nothing was registered");
    assert_eq!(app.count_rows("partner_operations").await, operations);
}
