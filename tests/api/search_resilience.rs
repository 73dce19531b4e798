//! Search keeps answering when one side is down, and the HTTP embedder adapter works against an
//! OpenAI-compatible endpoint.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aeternum::config::{EmbedderSettings, VectorIndexSettings};
use aeternum::search::embedder::{Embedder, LocalEmbedder};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{EndpointExt, Request, Response, Route, Server, post};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::{Credential, Store, TestApp, error_codes, with_model};
use crate::search::{indexed, search, shelf, titles, unindexed_shelf};

#[derive(Clone, Copy, PartialEq)]
enum Provider {
    Working,
    Hanging,
}

/// An OpenAI-compatible embeddings endpoint on a free port, answering with the local model's
/// vectors (or never answering). Returns its base URL and the requests it saw.
async fn provider(behaviour: Provider) -> (String, Arc<Mutex<Vec<(Option<String>, Value)>>>) {
    let model = Arc::new(
        LocalEmbedder::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/models/all-minilm-l6-v2")))
            .unwrap(),
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let endpoint = poem::endpoint::make(move |request: Request| {
        let (model, log) = (model.clone(), log.clone());
        async move {
            let authorization = request.header("authorization").map(str::to_owned);
            let body: Value = request.into_body().into_json().await.unwrap();
            log.lock().unwrap().push((authorization, body.clone()));
            if behaviour == Provider::Hanging {
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
            let texts: Vec<String> =
                body["input"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect();
            let vectors = model.embed(&texts).await.unwrap();
            // Reversed, to prove the adapter orders by `index`.
            let data: Vec<Value> = vectors
                .into_iter()
                .enumerate()
                .rev()
                .map(|(index, v)| json!({ "object": "embedding", "index": index, "embedding": v }))
                .collect();
            Response::builder()
                .content_type("application/json")
                .body(json!({ "object": "list", "data": data }).to_string())
        }
    });
    let route = Route::new().at("/v1/embeddings", post(endpoint)).map_to_response();
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.unwrap();
    let address = acceptor.local_addr()[0].as_socket_addr().copied().unwrap();
    tokio::spawn(Server::new_with_acceptor(acceptor).run(route));
    (format!("http://{address}"), seen)
}

async fn the_http_embedder_serves_hybrid_search(store: Store) {
    let (url, seen) = provider(Provider::Working).await;
    let app = TestApp::spawn_with(store, |s| {
        s.search.embedder = http_embedder(&format!("{url}/"), "minilm-over-http");
        if let EmbedderSettings::Http { api_key, .. } = &mut s.search.embedder {
            *api_key = Some(aeternum::config::Secret::new("sk-test"));
        }
    })
    .await;
    shelf(&app).await;
    let found = search(&app, "gown", json!({})).await;
    assert_eq!(titles(&found)[0], "Red Silk Evening Dress", "{found:#}");
    assert_eq!(found["mode"], "HYBRID");
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .all(|(auth, body)| auth.as_deref() == Some("Bearer sk-test") && body["model"] == "minilm-over-http")
    );
    assert!(seen.iter().any(|(_, body)| body["input"] == json!(["gown"])), "the query was embedded by the provider");
    app.stop().await.unwrap();
}

async fn an_unreachable_embedder_degrades_to_lexical(store: Store) {
    let app = TestApp::spawn_with(store, |s| {
        s.search.embedder = http_embedder("http://127.0.0.1:1", "absent");
    })
    .await;
    unindexed_shelf(&app).await;
    let found = search(&app, "boots", json!({})).await;
    assert_eq!((found["mode"].clone(), found["degraded"].clone()), (json!("LEXICAL"), json!(true)), "{found:#}");
    assert_eq!(found["notices"], json!(["vector search failed"]), "no internal address reaches the client: {found:#}");
    let mut found = titles(&found);
    found.sort();
    assert_eq!(found, ["Leather Chelsea Boots", "Suede Ankle Boots"]);
    let nothing = search(&app, "gown", json!({})).await;
    assert_eq!((nothing["totalCount"].clone(), nothing["degraded"].clone()), (json!(0), json!(true)));
    app.stop().await.unwrap();
}

async fn a_hanging_embedder_times_out_to_lexical(store: Store) {
    let (url, _) = provider(Provider::Hanging).await;
    let app = TestApp::spawn_with(store, |s| {
        s.search.embedder = http_embedder(&url, "slow");
        s.search.timeout_ms = 300;
    })
    .await;
    unindexed_shelf(&app).await;
    let found = search(&app, "silk", json!({})).await;
    assert_eq!((found["mode"].clone(), found["degraded"].clone()), (json!("LEXICAL"), json!(true)), "{found:#}");
    assert_eq!(found["notices"], json!(["vector search timed out after 300 ms"]));
    assert_eq!(found["totalCount"], 2);
    app.stop().await.unwrap();
}

async fn an_unreachable_vector_index_degrades_to_lexical(store: Store) {
    let app = TestApp::spawn_with(store, |s| {
        with_model(s);
        s.search.vector_index = VectorIndexSettings::Qdrant {
            url: "http://127.0.0.1:1".into(),
            collection: "aeternum_products".into(),
            api_key: None,
        };
    })
    .await;
    unindexed_shelf(&app).await;
    let found = search(&app, "black wool coat", json!({})).await;
    assert_eq!((found["mode"].clone(), found["degraded"].clone()), (json!("LEXICAL"), json!(true)), "{found:#}");
    assert_eq!(titles(&found)[0], "Black Wool Coat");
    app.stop().await.unwrap();
}

async fn a_broken_full_text_side_answers_from_vectors(store: Store) {
    let app = TestApp::spawn_with(store, with_model).await;
    shelf(&app).await;
    indexed(&app.db).await;
    let break_it = match store {
        Store::Sqlite => "ALTER TABLE product_fts RENAME TO product_fts_gone",
        Store::Postgres => "ALTER TABLE products RENAME COLUMN search_vector TO search_vector_gone",
    };
    app.db.conn().execute_unprepared(break_it).await.unwrap();
    let found = search(&app, "gown", json!({})).await;
    assert_eq!((found["mode"].clone(), found["degraded"].clone()), (json!("VECTOR"), json!(true)), "{found:#}");
    assert_eq!(found["notices"], json!(["full-text search failed"]));
    assert_eq!(titles(&found)[0], "Red Silk Evening Dress");
    app.stop().await.unwrap();
}

async fn without_a_model_search_is_lexical_and_says_so(store: Store) {
    let app = TestApp::spawn(store).await;
    unindexed_shelf(&app).await;
    let found = search(&app, "boots", json!({})).await;
    assert_eq!((found["mode"].clone(), found["degraded"].clone()), (json!("LEXICAL"), json!(false)));
    assert_eq!(found["notices"], json!(["vector search is not configured: lexical results only"]));
    assert_eq!(found["totalCount"], 2);
    let similar = app.graphql("{ products(first: 1) { edges { node { id } } } }", json!({})).await["data"]["products"]
        ["edges"][0]["node"]["id"]
        .clone();
    let response =
        app.graphql("query ($id: ID!) { similar(productId: $id) { similarity } }", json!({ "id": similar })).await;
    assert_eq!(response["data"]["similar"], json!([]));
    app.stop().await.unwrap();
}

async fn a_provider_of_other_dimensions_is_refused_and_search_degrades(store: Store) {
    let (url, _) = provider(Provider::Working).await;
    let app = TestApp::spawn_with(store, |s| {
        s.search.embedder =
            EmbedderSettings::Http { url, model: "minilm-over-http".into(), api_key: None, dimensions: 1536 };
    })
    .await;
    unindexed_shelf(&app).await;
    let found = search(&app, "boots", json!({})).await;
    assert_eq!((found["mode"].clone(), found["degraded"].clone()), (json!("LEXICAL"), json!(true)), "{found:#}");
    assert_eq!(found["notices"], json!(["vector search failed"]), "the cause is logged, not shown: {found:#}");
    app.stop().await.unwrap();
}

store_tests!(
    the_http_embedder_serves_hybrid_search,
    a_provider_of_other_dimensions_is_refused_and_search_degrades,
    an_unreachable_embedder_degrades_to_lexical,
    a_hanging_embedder_times_out_to_lexical,
    an_unreachable_vector_index_degrades_to_lexical,
    a_broken_full_text_side_answers_from_vectors,
    without_a_model_search_is_lexical_and_says_so,
    a_hanging_vector_index_fails_similar_and_status_within_the_search_timeout,
);

/// A server that takes connections and never answers.
async fn hanging_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{address}")
}

async fn a_hanging_vector_index_fails_similar_and_status_within_the_search_timeout(store: Store) {
    let (embedder, _) = provider(Provider::Working).await;
    let qdrant = hanging_server().await;
    let app = TestApp::spawn_with(store, |s| {
        s.search.embedder = http_embedder(&embedder, "minilm-over-http");
        s.search.vector_index =
            VectorIndexSettings::Qdrant { url: qdrant.clone(), collection: "aeternum_products".into(), api_key: None };
        s.search.timeout_ms = 300;
    })
    .await;
    unindexed_shelf(&app).await;
    let id =
        app.graphql("{ products(first: 1) { edges { node { id } } } }", json!({})).await["data"]["products"]["edges"]
            [0]["node"]["id"]
            .clone();
    let started = std::time::Instant::now();
    let similar = app.graphql("query ($id: ID!) { similar(productId: $id) { similarity } }", json!({ "id": id })).await;
    assert_eq!(error_codes(&similar), ["SERVICE_UNAVAILABLE"], "{similar}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "bounded, not the client's own timeout and retry");

    aeternum::identity::service::create_user(
        &app.db,
        "staff@example.com",
        "correct horse battery staple",
        "S",
        entity::Role::Staff,
        None,
    )
    .await
    .unwrap();
    let staff = Credential::Bearer(app.sign_in("staff@example.com", "correct horse battery staple").await.0);
    let status = app.graphql_as(&staff, "{ searchIndexStatus { indexed } }", json!({})).await;
    assert_eq!(error_codes(&status), ["SERVICE_UNAVAILABLE"], "{status}");
    app.stop().await.unwrap();
}

/// Settings of an HTTP embedder at `url` serving `model`, with 384 dimensions and no key.
fn http_embedder(url: &str, model: &str) -> EmbedderSettings {
    EmbedderSettings::Http { url: url.to_owned(), model: model.to_owned(), api_key: None, dimensions: 384 }
}
