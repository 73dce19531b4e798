//! Automatic persisted queries, as Apollo clients send them: over POST and GET, each refusal with
//! its code and status, and only valid documents kept.

use aeternum::digest::sha256_hex;
use reqwest::StatusCode;
use serde_json::{Value, json};

use aeternum::config::{PersistedQuerySettings, Secret, Settings};

use crate::helpers::{Store, TestApp, error_codes};

store_tests!(
    a_hash_unknown_then_registered_then_enough,
    refusals_have_their_codes_and_keep_nothing,
    get_runs_persisted_queries_but_never_mutations,
    switched_off_the_extension_is_answered_not_supported,
    a_kept_document_runs_by_its_document_id,
    a_query_registered_on_one_replica_runs_by_hash_on_the_other,
);

const QUERY: &str = "query Categories { categories { name } }";

fn extension(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

/// POSTs `body` and returns the status and the JSON answer.
async fn post(app: &TestApp, body: Value) -> (StatusCode, Value) {
    let response = app.client.post(format!("{}/graphql", app.address)).json(&body).send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

/// GETs `/graphql` with `params` and returns the status and the JSON answer.
async fn get(app: &TestApp, params: &[(&str, String)]) -> (StatusCode, Value) {
    let response = app.client.get(format!("{}/graphql", app.address)).query(params).send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn a_hash_unknown_then_registered_then_enough(store: Store) {
    let app = TestApp::spawn(store).await;
    let hash = sha256_hex(QUERY);

    // What an Apollo client does: the hash alone, then (told it is unknown) the hash and query.
    let (status, unknown) = post(&app, json!({ "extensions": extension(&hash) })).await;
    assert_eq!(status, StatusCode::OK, "Apollo clients read the code from a 200");
    assert_eq!(error_codes(&unknown), ["PERSISTED_QUERY_NOT_FOUND"]);
    assert_eq!(unknown["errors"][0]["message"], "PersistedQueryNotFound", "the message Apollo clients match on");

    let (status, registered) = post(&app, json!({ "query": QUERY, "extensions": extension(&hash) })).await;
    assert_eq!(status, StatusCode::OK);
    assert!(registered["data"]["categories"].is_array(), "{registered}");

    // From now on the hash is enough, with variables and operation name as usual; the hash may
    // come in upper case.
    for hash in [hash.clone(), hash.to_uppercase()] {
        let body = json!({ "extensions": extension(&hash), "operationName": "Categories", "variables": {} });
        let (status, answer) = post(&app, body).await;
        assert_eq!((status, &answer["data"]), (StatusCode::OK, &registered["data"]), "{answer}");
    }

    // A document with variables runs with each call's own.
    let search = "query One($slug: String!) { product(slug: $slug) { id } }";
    let search_hash = sha256_hex(search);
    let body = json!({ "query": search, "variables": { "slug": "none" }, "extensions": extension(&search_hash) });
    assert_eq!(error_codes(&post(&app, body).await.1), ["NOT_FOUND"], "a field error still keeps the document");
    let body = json!({ "variables": { "slug": "other" }, "extensions": extension(&search_hash) });
    assert_eq!(error_codes(&post(&app, body).await.1), ["NOT_FOUND"]);
    let body = json!({ "extensions": extension(&search_hash) });
    assert_eq!(error_codes(&post(&app, body).await.1), ["BAD_USER_INPUT"], "a missing variable");
}

async fn refusals_have_their_codes_and_keep_nothing(store: Store) {
    let app = TestApp::spawn(store).await;
    let hash = sha256_hex(QUERY);

    let mismatch = json!({ "query": "{ categories { slug } }", "extensions": extension(&hash) });
    let (status, answer) = post(&app, mismatch).await;
    assert_eq!((status, error_codes(&answer)), (StatusCode::BAD_REQUEST, vec!["BAD_REQUEST".to_owned()]));
    let (_, after) = post(&app, json!({ "extensions": extension(&hash) })).await;
    assert_eq!(error_codes(&after), ["PERSISTED_QUERY_NOT_FOUND"], "a mismatched hash registers nothing");

    for bad in [
        json!({ "persistedQuery": { "version": 2, "sha256Hash": hash } }),
        json!({ "persistedQuery": { "version": 1, "sha256Hash": "abc" } }),
        json!({ "persistedQuery": { "version": 1, "sha256Hash": "z".repeat(64) } }),
        json!({ "persistedQuery": "yes" }),
    ] {
        let (status, answer) = post(&app, json!({ "query": QUERY, "extensions": bad })).await;
        assert_eq!((status, error_codes(&answer)), (StatusCode::BAD_REQUEST, vec!["BAD_REQUEST".to_owned()]), "{bad}");
    }

    // A document that does not validate is answered as usual and not kept.
    let invalid = "{ noSuchField }";
    let body = json!({ "query": invalid, "extensions": extension(&sha256_hex(invalid)) });
    assert_eq!(error_codes(&post(&app, body).await.1), ["GRAPHQL_VALIDATION_FAILED"]);
    let (_, after) = post(&app, json!({ "extensions": extension(&sha256_hex(invalid)) })).await;
    assert_eq!(error_codes(&after), ["PERSISTED_QUERY_NOT_FOUND"], "an invalid document is not kept");

    let (status, answer) = post(&app, json!({ "extensions": {} })).await;
    assert_eq!((status, error_codes(&answer)), (StatusCode::BAD_REQUEST, vec!["BAD_REQUEST".to_owned()]), "no query");
}

async fn get_runs_persisted_queries_but_never_mutations(store: Store) {
    let app = TestApp::spawn(store).await;
    let hash = sha256_hex(QUERY);
    let extensions = extension(&hash).to_string();

    let (status, unknown) = get(&app, &[("extensions", extensions.clone())]).await;
    assert_eq!((status, error_codes(&unknown)), (StatusCode::OK, vec!["PERSISTED_QUERY_NOT_FOUND".to_owned()]));
    let (status, registered) = get(&app, &[("query", QUERY.to_owned()), ("extensions", extensions.clone())]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(registered["data"]["categories"].is_array(), "{registered}");
    // The hash alone in the URL: what a CDN caches.
    let (status, again) = get(&app, &[("extensions", extensions)]).await;
    assert_eq!((status, &again["data"]), (StatusCode::OK, &registered["data"]));

    // A mutation kept over POST still needs POST when called by its hash.
    let mutation = "mutation { openCart { token } }";
    let mutation_hash = sha256_hex(mutation);
    let (_, opened) = post(&app, json!({ "query": mutation, "extensions": extension(&mutation_hash) })).await;
    assert!(opened["data"]["openCart"]["token"].is_string(), "{opened}");
    let carts = app.count_rows("carts").await;
    let (status, refused) = get(&app, &[("extensions", extension(&mutation_hash).to_string())]).await;
    assert_eq!((status, error_codes(&refused)), (StatusCode::METHOD_NOT_ALLOWED, vec!["BAD_REQUEST".to_owned()]));
    assert_eq!(app.count_rows("carts").await, carts, "nothing ran");
}

async fn switched_off_the_extension_is_answered_not_supported(store: Store) {
    let app = TestApp::spawn_with(store, |s| {
        s.graphql.persisted_queries = PersistedQuerySettings::Off;
    })
    .await;
    let hash = sha256_hex(QUERY);
    for body in [json!({ "extensions": extension(&hash) }), json!({ "query": QUERY, "extensions": extension(&hash) })] {
        let (status, answer) = post(&app, body).await;
        assert_eq!((status, error_codes(&answer)), (StatusCode::OK, vec!["PERSISTED_QUERY_NOT_SUPPORTED".to_owned()]));
    }
    let (_, plain) = post(&app, json!({ "query": QUERY })).await;
    assert!(plain["data"]["categories"].is_array(), "a query sent in full runs as ever");
}

/// Persisted queries in the Redis at `url`, under a prefix of this test's own.
fn in_redis(url: &str, prefix: &str) -> impl Fn(&mut Settings) + Clone + use<> {
    let (url, prefix) = (url.to_owned(), prefix.to_owned());
    move |s: &mut Settings| {
        s.graphql.persisted_queries = PersistedQuerySettings::Redis {
            url: Secret::new(url.clone()),
            ttl_seconds: 60,
            max_document_bytes: 64 * 1024,
            key_prefix: prefix.clone(),
        };
    }
}

async fn a_query_registered_on_one_replica_runs_by_hash_on_the_other(store: Store) {
    let url = crate::helpers::test_redis_url();
    let redis = in_redis(&url, &format!("aeternum:test:{}:", uuid::Uuid::now_v7().simple()));
    let a = TestApp::spawn_with(store, redis.clone()).await;
    let b = a.replica(redis).await;
    let hash = sha256_hex(QUERY);

    let (_, unknown) = post(&b, json!({ "extensions": extension(&hash) })).await;
    assert_eq!(error_codes(&unknown), ["PERSISTED_QUERY_NOT_FOUND"]);
    let (_, registered) = post(&a, json!({ "query": QUERY, "extensions": extension(&hash) })).await;
    assert!(registered["data"]["categories"].is_array(), "{registered}");
    let (status, on_b) = post(&b, json!({ "extensions": extension(&hash) })).await;
    assert_eq!((status, &on_b["data"]), (StatusCode::OK, &registered["data"]), "B runs what A registered: {on_b}");

    // A Redis that cannot be reached knows no hash: clients send the query, which runs.
    let unreachable = in_redis("redis://127.0.0.1:1", "aeternum:test:");
    let lost = TestApp::spawn_with(store, unreachable).await;
    let (status, answer) = post(&lost, json!({ "extensions": extension(&hash) })).await;
    assert_eq!((status, error_codes(&answer)), (StatusCode::OK, vec!["PERSISTED_QUERY_NOT_FOUND".to_owned()]));
    let (_, full) = post(&lost, json!({ "query": QUERY, "extensions": extension(&hash) })).await;
    assert!(full["data"]["categories"].is_array(), "{full}");
}

async fn a_kept_document_runs_by_its_document_id(store: Store) {
    let app = TestApp::spawn(store).await;
    let hash = sha256_hex(QUERY);
    let id = format!("sha256:{hash}");
    let (status, unknown) = post(&app, json!({ "documentId": id })).await;
    assert_eq!((status, error_codes(&unknown)), (StatusCode::OK, vec!["PERSISTED_QUERY_NOT_FOUND".to_owned()]));

    let (_, registered) = post(&app, json!({ "query": QUERY, "extensions": extension(&hash) })).await;
    let (status, by_id) = post(&app, json!({ "documentId": id })).await;
    assert_eq!((status, &by_id["data"]), (StatusCode::OK, &registered["data"]), "{by_id}");
    let (status, by_get) = get(&app, &[("documentId", id.clone())]).await;
    assert_eq!((status, &by_get["data"]), (StatusCode::OK, &registered["data"]), "{by_get}");

    for bad in [
        json!({ "documentId": hash }),
        json!({ "documentId": "sha256:abc" }),
        json!({ "documentId": id, "query": QUERY }),
        json!({ "documentId": id, "extensions": extension(&hash) }),
    ] {
        let (status, answer) = post(&app, bad.clone()).await;
        assert_eq!((status, error_codes(&answer)), (StatusCode::BAD_REQUEST, vec!["BAD_REQUEST".to_owned()]), "{bad}");
    }
}
