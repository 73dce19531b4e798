//! Hybrid search through the API, on both stores, with the real embedding model.

use std::time::Duration;

use aeternum::catalog::editing::{NewProduct, create_product};
use aeternum::db::Db;
use aeternum::graphql::ids::{GlobalId, NodeType};
use aeternum::identity::service::create_user;
use entity::{ProductCondition, ProductStatus, Role};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{category, new_product, vendor};
use crate::helpers::{Credential, Store, TestApp, error_codes, with_model};

pub const SEARCH: &str = r#"
query ($q: String!, $first: Int, $after: String, $filter: ProductFilter, $mode: SearchMode) {
  search(query: $q, first: $first, after: $after, filter: $filter, mode: $mode) {
    mode degraded notices totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor score lexicalRank vectorRank similarity node { id title } }
  }
}"#;

const FACETS: &str = r#"
query ($q: String!, $filter: ProductFilter, $mode: SearchMode) {
  search(query: $q, first: 100, filter: $filter, mode: $mode) {
    totalCount
    edges { node { id brand size condition vendor { slug } category { slug } } }
    facets {
      categories { category { slug } count }
      vendors { vendor { slug } count }
      brands { value count }
      sizes { value count }
      conditions { condition count }
      prices { min { amount currencyCode } max { amount } count }
    }
  }
}"#;

/// The small catalog the search tests look through.
pub struct Shelf {
    pub ids: Vec<(&'static str, Uuid)>,
    pub vendor_b: Uuid,
}

impl Shelf {
    pub fn id(&self, title: &str) -> Uuid {
        self.ids.iter().find(|(t, _)| *t == title).unwrap().1
    }

    pub fn gid(&self, title: &str) -> String {
        GlobalId::encode(NodeType::Product, self.id(title)).0
    }
}

struct Item {
    title: &'static str,
    description: &'static str,
    category: usize,
    brand: &'static str,
    size: &'static str,
    price: i64,
    vendor_b: bool,
    status: ProductStatus,
}

const ITEMS: [Item; 8] = [
    Item {
        title: "Black Wool Coat",
        description: "Single-breasted, knee length.",
        category: 0,
        brand: "Jil Sander",
        size: "M",
        price: 40_000,
        vendor_b: false,
        status: ProductStatus::Active,
    },
    Item {
        title: "Wool Coat in Black",
        description: "A black wool coat: black wool coat with black wool lining, the black wool coat for winter.",
        category: 0,
        brand: "Celine",
        size: "L",
        price: 30_000,
        vendor_b: false,
        status: ProductStatus::Active,
    },
    Item {
        title: "Red Silk Evening Dress",
        description: "Floor-length evening dress in red silk with a low back.",
        category: 1,
        brand: "Valentino",
        size: "S",
        price: 45_000,
        vendor_b: false,
        status: ProductStatus::Active,
    },
    Item {
        title: "Steel Claw Hammer",
        description: "A forged steel hammer for the workshop.",
        category: 3,
        brand: "Stanley",
        size: "One size",
        price: 2_500,
        vendor_b: true,
        status: ProductStatus::Active,
    },
    Item {
        title: "Leather Chelsea Boots",
        description: "Black leather boots with elastic sides.",
        category: 2,
        brand: "Chanel",
        size: "38",
        price: 60_000,
        vendor_b: false,
        status: ProductStatus::Active,
    },
    Item {
        title: "Suede Ankle Boots",
        description: "Brown suede boots with a block heel.",
        category: 2,
        brand: "Gucci",
        size: "39",
        price: 12_000,
        vendor_b: true,
        status: ProductStatus::Active,
    },
    Item {
        title: "Silk Scarf with Floral Print",
        description: "A square silk scarf printed with roses.",
        category: 4,
        brand: "Hermès",
        size: "One size",
        price: 25_000,
        vendor_b: true,
        status: ProductStatus::Active,
    },
    Item {
        title: "Hidden Silk Dress",
        description: "An unpublished silk evening dress.",
        category: 1,
        brand: "Valentino",
        size: "S",
        price: 45_000,
        vendor_b: false,
        status: ProductStatus::Draft,
    },
];

/// Writes the shelf and waits until the vector index holds it.
pub async fn shelf(app: &TestApp) -> Shelf {
    let shelf = unindexed_shelf(app).await;
    indexed(&app.db).await;
    shelf
}

/// Writes the shelf without waiting for the vector index.
pub async fn unindexed_shelf(app: &TestApp) -> Shelf {
    let db = &app.db;
    let (a, b) = (vendor(db, "atelier-a").await, vendor(db, "atelier-b").await);
    let clothing = category(db, "clothing", None).await;
    let categories = [
        category(db, "outerwear", Some(clothing.id)).await,
        category(db, "dresses", Some(clothing.id)).await,
        category(db, "boots", None).await,
        category(db, "tools", None).await,
        category(db, "scarves", Some(clothing.id)).await,
    ];
    let mut ids = Vec::new();
    for (n, item) in ITEMS.iter().enumerate() {
        let product = NewProduct {
            title: item.title.into(),
            description: item.description.into(),
            brand: Some(item.brand.into()),
            size: Some(item.size.into()),
            colour: None,
            material: None,
            era: None,
            attributes: vec![("made_in".into(), if item.vendor_b { "France" } else { "Italy" }.into())],
            condition: Some(if n % 2 == 0 { ProductCondition::Excellent } else { ProductCondition::Good }),
            price: crate::fixtures::eur(item.price),
            status: item.status,
            ..new_product(n, if item.vendor_b { b.id } else { a.id }, categories[item.category].id)
        };
        ids.push((item.title, create_product(db, product).await.unwrap().id));
    }
    Shelf { ids, vendor_b: b.id }
}

/// Waits until the outbox is empty (the sync worker applied every change).
pub async fn indexed(db: &Db) {
    for _ in 0..1_500 {
        if aeternum::search::indexer::pending(db).await.unwrap() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the search index did not catch up within 30 s");
}

pub async fn search(app: &TestApp, q: &str, variables: Value) -> Value {
    let mut vars = json!({ "q": q });
    vars.as_object_mut().unwrap().extend(variables.as_object().cloned().unwrap_or_default());
    app.data(SEARCH, vars).await["search"].clone()
}

pub fn titles(result: &Value) -> Vec<String> {
    result["edges"].as_array().unwrap().iter().map(|e| e["node"]["title"].as_str().unwrap().to_owned()).collect()
}

async fn exact_title_matches_rank_first(store: Store) {
    let app = TestApp::spawn_with(store, with_model).await;
    shelf(&app).await;
    // "Wool Coat in Black" repeats the words in its description; the exact title still wins.
    for mode in ["HYBRID", "LEXICAL"] {
        let found = search(&app, "black wool coat", json!({ "mode": mode })).await;
        assert_eq!(titles(&found)[0], "Black Wool Coat", "{mode}: {found:#}");
        assert!(titles(&found).contains(&"Wool Coat in Black".to_owned()));
        assert_eq!(found["mode"], mode);
        assert_eq!(found["degraded"], false);
    }
    // Prefixes while typing, stemming, and phrases.
    assert_eq!(titles(&search(&app, "chelsea bo", json!({})).await)[0], "Leather Chelsea Boots");
    let stemmed = search(&app, "dresses", json!({ "mode": "LEXICAL" })).await;
    assert_eq!(titles(&stemmed), ["Red Silk Evening Dress"], "drafts stay hidden: {stemmed:#}");
    let phrase = search(&app, "\"silk scarf\" ", json!({ "mode": "LEXICAL" })).await;
    assert_eq!(titles(&phrase), ["Silk Scarf with Floral Print"]);
    let excluded = search(&app, "boots -suede ", json!({ "mode": "LEXICAL" })).await;
    assert_eq!(titles(&excluded), ["Leather Chelsea Boots"]);
    let either = search(&app, "hammer or scarf ", json!({ "mode": "LEXICAL" })).await;
    let mut either = titles(&either);
    either.sort();
    assert_eq!(either, ["Silk Scarf with Floral Print", "Steel Claw Hammer"]);
    app.stop().await.unwrap();
}

async fn a_query_without_shared_words_is_found_through_vectors(store: Store) {
    let app = TestApp::spawn_with(store, with_model).await;
    shelf(&app).await;
    assert_eq!(search(&app, "gown", json!({ "mode": "LEXICAL" })).await["totalCount"], 0);
    let found = search(&app, "gown", json!({})).await;
    let first = &found["edges"][0];
    assert_eq!(first["node"]["title"], "Red Silk Evening Dress", "{found:#}");
    assert_eq!(first["lexicalRank"], Value::Null);
    assert_eq!(first["vectorRank"], 1);
    assert!(first["similarity"].as_f64().unwrap() > 0.3);
    assert!(!titles(&found).contains(&"Steel Claw Hammer".to_owned()), "{found:#}");
    assert!(!titles(&found).contains(&"Hidden Silk Dress".to_owned()), "drafts stay hidden");
    assert_eq!(found["mode"], "HYBRID");
    app.stop().await.unwrap();
}

async fn filters_apply_to_both_sides_and_facets_are_exact(store: Store) {
    let app = TestApp::spawn_with(store, with_model).await;
    let shelf = shelf(&app).await;
    let vendor_b = GlobalId::encode(NodeType::Vendor, shelf.vendor_b).0;
    let boots = search(&app, "boots", json!({ "filter": { "vendorIds": [vendor_b] } })).await;
    assert_eq!(titles(&boots)[0], "Suede Ankle Boots");
    assert!(!titles(&boots).contains(&"Leather Chelsea Boots".to_owned()));
    let silk = search(&app, "silk", json!({ "filter": { "brands": ["Hermès"] } })).await;
    assert_eq!(titles(&silk), ["Silk Scarf with Floral Print"], "the vector side is filtered too: {silk:#}");
    let cheap =
        search(&app, "footwear", json!({ "filter": { "price": { "currencyCode": "EUR", "maxAmount": "150.00" } } }))
            .await;
    assert!(titles(&cheap).iter().all(|t| t == "Suede Ankle Boots" || t == "Steel Claw Hammer"), "{cheap:#}");
    let italian =
        search(&app, "clothes", json!({ "filter": { "attributes": [{ "name": "made_in", "values": ["France"] }] } }))
            .await;
    assert!(
        titles(&italian)
            .iter()
            .all(|t| ["Steel Claw Hammer", "Suede Ankle Boots", "Silk Scarf with Floral Print"].contains(&t.as_str()))
    );
    let clothing = search(&app, "silk", json!({ "filter": { "categoryId": GlobalId::encode(NodeType::Category, category_id(&app.db, "dresses").await).0 } })).await;
    assert_eq!(titles(&clothing), ["Red Silk Evening Dress"]);

    // Facets of a lexical search, counted by hand.
    let response = app.graphql(FACETS, json!({ "q": "boots", "mode": "LEXICAL" })).await;
    let facets = &response["data"]["search"]["facets"];
    assert_eq!(response["data"]["search"]["totalCount"], 2);
    assert_eq!(facets["brands"], json!([{ "value": "Chanel", "count": 1 }, { "value": "Gucci", "count": 1 }]));
    assert_eq!(facets["categories"], json!([{ "category": { "slug": "boots" }, "count": 2 }]));
    assert_eq!(facets["vendors"].as_array().unwrap().len(), 2);
    assert_eq!(facets["sizes"], json!([{ "value": "38", "count": 1 }, { "value": "39", "count": 1 }]));
    assert_eq!(
        facets["prices"],
        json!([
            { "min": { "amount": "100.00", "currencyCode": "EUR" }, "max": { "amount": "250.00" }, "count": 1 },
            { "min": { "amount": "500.00", "currencyCode": "EUR" }, "max": { "amount": "1000.00" }, "count": 1 },
        ])
    );

    // Facets of a hybrid search equal the tally of every hit.
    let response = app.graphql(FACETS, json!({ "q": "silk clothing" })).await;
    let result = &response["data"]["search"];
    let edges = result["edges"].as_array().unwrap();
    assert_eq!(result["totalCount"].as_u64().unwrap() as usize, edges.len());
    let tally = |field: &str| edges.iter().filter(|e| !e["node"][field].is_null()).count() as u64;
    let sum = |facet: &str| {
        result["facets"][facet].as_array().unwrap().iter().map(|v| v["count"].as_u64().unwrap()).sum::<u64>()
    };
    assert_eq!(sum("brands"), tally("brand"));
    assert_eq!(sum("categories"), edges.len() as u64);
    assert_eq!(sum("prices"), edges.len() as u64);
    assert_eq!(sum("conditions"), tally("condition"));
    app.stop().await.unwrap();
}

async fn category_id(db: &Db, slug: &str) -> Uuid {
    aeternum::catalog::service::category_by_slug(db, slug).await.unwrap().id
}

async fn pages_return_each_hit_once(store: Store) {
    let app = TestApp::spawn_with(store, with_model).await;
    shelf(&app).await;
    let whole = search(&app, "silk clothing boots", json!({ "first": 100 })).await;
    let total = whole["totalCount"].as_u64().unwrap() as usize;
    assert!(total >= 4, "{whole:#}");
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = search(&app, "silk clothing boots", json!({ "first": 2, "after": after })).await;
        seen.extend(page["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].as_str().unwrap().to_owned()));
        assert_eq!(page["pageInfo"]["hasPreviousPage"], !after.is_null());
        if page["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    let expected: Vec<String> =
        whole["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(seen, expected, "pages in order, each hit once");
    let scores: Vec<f64> = whole["edges"].as_array().unwrap().iter().map(|e| e["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "best first: {scores:?}");
    app.stop().await.unwrap();
}

async fn product_writes_reach_the_index(store: Store) {
    let app = TestApp::spawn_with(store, with_model).await;
    let shelf = shelf(&app).await;
    // Archive the dress: it leaves both sides at once (the vector side is confirmed in SQL)…
    let dress = shelf.id("Red Silk Evening Dress");
    app.db
        .conn()
        .execute_raw(Statement::from_sql_and_values(
            app.db.backend(),
            if store == Store::Postgres {
                "UPDATE products SET status = 'ARCHIVED' WHERE id = $1"
            } else {
                "UPDATE products SET status = 'ARCHIVED' WHERE id = ?"
            },
            [dress.into()],
        ))
        .await
        .unwrap();
    assert!(!titles(&search(&app, "gown", json!({})).await).contains(&"Red Silk Evening Dress".to_owned()));
    // …and a retitled product is found by its new words on both sides once the worker ran.
    let hammer = shelf.id("Steel Claw Hammer");
    aeternum::catalog::editing::update_product(
        &app.db,
        hammer,
        aeternum::catalog::editing::ProductPatch { title: Some("Velvet Ball Gown".into()), ..Default::default() },
        None,
    )
    .await
    .unwrap();
    indexed(&app.db).await;
    let found = search(&app, "ballgown evening wear", json!({})).await;
    assert_eq!(titles(&found)[0], "Velvet Ball Gown", "{found:#}");
    let status = app
        .db
        .conn()
        .query_one_raw(Statement::from_string(app.db.backend(), "SELECT COUNT(*) AS n FROM product_embeddings"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.try_get::<i64>("", "n").unwrap(), 8, "one vector per product");
    app.stop().await.unwrap();
}

async fn similar_products_and_suggestions(store: Store) {
    let app = TestApp::spawn_with(store, |s| {
        with_model(s);
        s.search.suggestion_min_visitors = 2;
    })
    .await;
    let shelf = shelf(&app).await;
    let response = app
        .graphql(
            "query ($id: ID!) { similar(productId: $id, first: 3) { similarity product { title status } } }",
            json!({ "id": shelf.gid("Leather Chelsea Boots") }),
        )
        .await;
    let similar = response["data"]["similar"].as_array().unwrap().clone();
    assert_eq!(similar.len(), 3, "{response:#}");
    assert_eq!(similar[0]["product"]["title"], "Suede Ankle Boots");
    assert!(
        similar.iter().all(|s| s["product"]["title"] != "Leather Chelsea Boots" && s["product"]["status"] != "DRAFT")
    );
    let scores: Vec<f64> = similar.iter().map(|s| s["similarity"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]));

    create_user(&app.db, "admin@example.com", "correct horse battery staple", "Admin", Role::Admin, None)
        .await
        .unwrap();
    create_user(&app.db, "ada@example.com", "correct horse battery staple", "Ada", Role::Customer, None).await.unwrap();
    let admin = Credential::Bearer(app.sign_in("admin@example.com", "correct horse battery staple").await.0);
    let ada = Credential::Bearer(app.sign_in("ada@example.com", "correct horse battery staple").await.0);
    // Two visitors search for silk scarves; one anonymous visitor searches "silk evening" again
    // and again, even with a new cart token each time: still one visitor.
    for (who, q) in [(&admin, "Silk Scarf"), (&ada, "silk  scarf")] {
        let answer = app.graphql_as(who, SEARCH, json!({ "q": q })).await;
        assert!(answer.get("errors").is_none(), "{answer:#}");
    }
    for i in 0..5 {
        let token = format!("made-up-cart-token-{i}");
        let answer = app.graphql_with(&[("x-cart-token", &token)], SEARCH, json!({ "q": "silk evening" })).await;
        assert!(answer.get("errors").is_none(), "{answer:#}");
    }
    search(&app, "qwertyuiop", json!({ "mode": "LEXICAL" })).await;
    search(&app, "silk evening", json!({})).await;
    let suggest = |prefix: &str| {
        app.graphql("query ($p: String!) { searchSuggestions(prefix: $p, first: 4) }", json!({ "p": prefix }))
    };
    for _ in 0..100 {
        if suggest("sil").await["data"]["searchSuggestions"][0] == "silk scarf" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let suggestions = suggest("sil").await["data"]["searchSuggestions"].clone();
    assert_eq!(suggestions[0], "silk scarf", "an earlier successful query first: {suggestions}");
    let rest: Vec<&str> = suggestions.as_array().unwrap()[1..].iter().map(|s| s.as_str().unwrap()).collect();
    assert!(
        rest.contains(&"Silk Scarf with Floral Print") && rest.contains(&"Red Silk Evening Dress"),
        "{suggestions}"
    );
    assert!(!rest.contains(&"Hidden Silk Dress"));
    assert!(!rest.contains(&"silk evening"), "one visitor's repeated query is not suggested to others");
    assert!(!suggest("qwer").await["data"]["searchSuggestions"].as_array().unwrap().iter().any(|s| s == "qwertyuiop"));
    // Suggestions are kept only while the catalog is unchanged: a new product is suggested at once.
    assert_eq!(suggest("zeph").await["data"]["searchSuggestions"], json!([]));
    let (shop, tops) = (vendor(&app.db, "zephyr-shop").await, category(&app.db, "zephyr-tops", None).await);
    let blouse = NewProduct { title: "Zephyr Silk Blouse".into(), ..new_product(700, shop.id, tops.id) };
    create_product(&app.db, blouse).await.unwrap();
    assert_eq!(suggest("zeph").await["data"]["searchSuggestions"], json!(["Zephyr Silk Blouse"]));

    // Staff keep a phrase out of suggestions; shoppers may not.
    let block = "mutation ($p: String!) { blockSearchSuggestion(phrase: $p) { phrase } }";
    let refused = app.graphql_as(&ada, block, json!({ "p": "scarf" })).await;
    assert_eq!(error_codes(&refused), ["FORBIDDEN"]);
    let blocked = app.graphql_as(&admin, block, json!({ "p": "  SCARF " })).await;
    assert_eq!(blocked["data"]["blockSearchSuggestion"]["phrase"], "scarf", "{blocked:#}");
    let shown = suggest("sil").await["data"]["searchSuggestions"].clone();
    assert!(shown.as_array().unwrap().iter().all(|s| !s.as_str().unwrap().to_lowercase().contains("scarf")), "{shown}");
    let listed = app.graphql_as(&admin, "{ blockedSearchSuggestions { phrase } }", json!({})).await;
    assert_eq!(listed["data"]["blockedSearchSuggestions"], json!([{ "phrase": "scarf" }]));
    let blank = app.graphql_as(&admin, block, json!({ "p": "   " })).await;
    assert_eq!(error_codes(&blank), ["BAD_USER_INPUT"]);
    let unblock = "mutation ($p: String!) { unblockSearchSuggestion(phrase: $p) }";
    assert_eq!(app.graphql_as(&admin, unblock, json!({ "p": "Scarf" })).await["data"]["unblockSearchSuggestion"], true);
    assert_eq!(suggest("sil").await["data"]["searchSuggestions"][0], "silk scarf");

    // Analytics: admins see top and zero-result queries.
    let analytics = "{ searchAnalytics { topQueries { query searches averageHits } zeroResultQueries { query searches averageHits } } }";
    let response = app.graphql_as(&admin, analytics, json!({})).await;
    let top = &response["data"]["searchAnalytics"]["topQueries"];
    assert_eq!((&top[0]["query"], &top[0]["searches"]), (&json!("silk evening"), &json!(6)), "{response:#}");
    assert_eq!((&top[1]["query"], &top[1]["searches"]), (&json!("silk scarf"), &json!(2)), "{response:#}");
    assert_eq!(
        response["data"]["searchAnalytics"]["zeroResultQueries"],
        json!([{ "query": "qwertyuiop", "searches": 1, "averageHits": 0.0 }])
    );
    for (days, first) in [(0, 20), (367, 20), (30, 0), (30, 51)] {
        let response = app
            .graphql_as(
                &admin,
                "query ($d: Int, $n: Int) { searchAnalytics(days: $d, first: $n) { topQueries { query } } }",
                json!({ "d": days, "n": first }),
            )
            .await;
        assert_eq!(error_codes(&response), ["BAD_USER_INPUT"], "days {days}, first {first}: {response:#}");
    }
    let anonymous = app.graphql(analytics, json!({})).await;
    assert_eq!(anonymous["data"]["searchAnalytics"], Value::Null);
    assert_eq!(error_codes(&anonymous), ["UNAUTHENTICATED"]);
    app.stop().await.unwrap();
}

async fn bad_queries_are_refused_and_not_recorded(store: Store) {
    let app = TestApp::spawn_with(store, with_model).await;
    shelf(&app).await;
    let long = "a".repeat(201);
    let cases = [
        json!({ "q": "" }),
        json!({ "q": "-wool" }),
        json!({ "q": long }),
        json!({ "q": "dress", "first": 101 }),
        json!({ "q": "dress", "first": -1 }),
        json!({ "q": "dress", "after": "not-a-cursor" }),
        json!({ "q": "dress", "filter": { "price": { "currencyCode": "EUR", "minAmount": "9", "maxAmount": "1" } } }),
    ];
    for variables in cases {
        let response = app.graphql(SEARCH, variables.clone()).await;
        assert_eq!(error_codes(&response), ["BAD_USER_INPUT"], "{variables}: {response:#}");
        assert_eq!(response["data"], Value::Null);
    }
    let similar = app
        .graphql("query ($id: ID!) { similar(productId: $id, first: 0) { similarity } }", json!({ "id": "x" }))
        .await;
    assert_eq!(error_codes(&similar), ["BAD_USER_INPUT"]);
    // Input that would be syntax in either engine is only words.
    for hostile in
        ["'); DROP TABLE products; --", "dress\" OR 1=1 --", "NEAR(silk dress) * ^ : &|!<->", "silk:* & !wool"]
    {
        let found = search(&app, hostile, json!({})).await;
        assert_eq!(found["degraded"], false, "{hostile}: {found:#}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let recorded = app
        .db
        .conn()
        .query_one_raw(Statement::from_string(app.db.backend(), "SELECT COUNT(*) AS n FROM search_queries"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(recorded.try_get::<i64>("", "n").unwrap(), 4, "only the searches that ran are recorded");
    let products = app
        .db
        .conn()
        .query_one_raw(Statement::from_string(app.db.backend(), "SELECT COUNT(*) AS n FROM products"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(products.try_get::<i64>("", "n").unwrap(), 8);
    app.stop().await.unwrap();
}

async fn reindex_rebuilds_the_index_and_clears_the_outbox(store: Store) {
    // A lexical-only server leaves the outbox alone for a minute; reindex with the model here.
    let app = TestApp::spawn(store).await;
    unindexed_shelf(&app).await;
    assert_eq!(aeternum::search::indexer::pending(&app.db).await.unwrap(), 8);
    let mut settings = aeternum::config::Settings::default();
    with_model(&mut settings);
    let index = std::sync::Arc::new(aeternum::search::vector::MemoryIndex::default());
    let search = aeternum::search::Search::new(
        settings.search.clone(),
        aeternum::search::embedder::from_settings(&settings.search.embedder, settings.search.timeout_ms).unwrap(),
        Some(index.clone()),
        Default::default(),
    );
    let mut reported = Vec::new();
    let indexed =
        aeternum::search::indexer::reindex(&app.db, &search, |done, total| reported.push((done, total))).await.unwrap();
    assert_eq!(indexed, 8);
    assert_eq!(reported.last(), Some(&(8, 8)), "progress reaches the total");
    assert_eq!(aeternum::search::indexer::pending(&app.db).await.unwrap(), 0, "the outbox it covered is cleared");
    use aeternum::search::vector::VectorIndex;
    assert_eq!(index.count().await.unwrap(), 8);
    // A fresh embedded index is filled from the stored vectors, without the model running again.
    let reloaded = std::sync::Arc::new(aeternum::search::vector::MemoryIndex::default());
    let search = aeternum::search::Search::new(
        settings.search.clone(),
        aeternum::search::embedder::from_settings(&settings.search.embedder, settings.search.timeout_ms).unwrap(),
        Some(reloaded.clone()),
        Default::default(),
    );
    assert_eq!(aeternum::search::indexer::load(&app.db, &search).await.unwrap(), 8);
    assert_eq!(reloaded.count().await.unwrap(), 8);

    // An index that lost points (a Qdrant that came back empty) is refilled from the store.
    let stored: Vec<uuid::Uuid> =
        reloaded.search(&[0.0; 384], 3, &Default::default()).await.unwrap().into_iter().map(|h| h.0).collect();
    reloaded.remove(&stored).await.unwrap();
    assert_eq!(reloaded.count().await.unwrap(), 5);
    assert_eq!(aeternum::search::indexer::refill_if_short(&app.db, &search).await.unwrap(), Some(8));
    assert_eq!(reloaded.count().await.unwrap(), 8);
    assert!(!search.is_refilling());
    assert_eq!(
        aeternum::search::indexer::refill_if_short(&app.db, &search).await.unwrap(),
        None,
        "complete: left alone"
    );
    // A stored vector of another length is never loaded, so it does not count as missing (a
    // refill every minute would follow).
    let broken = stored[0];
    let statement = sea_orm::Statement::from_sql_and_values(
        app.db.backend(),
        match app.db.backend() {
            sea_orm::DatabaseBackend::Postgres => "UPDATE product_embeddings SET vector = $1 WHERE product_id = $2",
            _ => "UPDATE product_embeddings SET vector = ? WHERE product_id = ?",
        },
        [vec![0u8; 8].into(), broken.into()],
    );
    sea_orm::ConnectionTrait::execute_raw(app.db.conn(), statement).await.unwrap();
    reloaded.remove(&[broken]).await.unwrap();
    assert_eq!(aeternum::search::indexer::refill_if_short(&app.db, &search).await.unwrap(), None);
    app.stop().await.unwrap();
}

store_tests!(
    reindex_rebuilds_the_index_and_clears_the_outbox,
    exact_title_matches_rank_first,
    a_query_without_shared_words_is_found_through_vectors,
    filters_apply_to_both_sides_and_facets_are_exact,
    pages_return_each_hit_once,
    product_writes_reach_the_index,
    similar_products_and_suggestions,
    bad_queries_are_refused_and_not_recorded,
    a_word_that_matches_nothing_does_not_empty_the_page,
    a_filter_that_passes_few_of_many_matches_still_fills_the_page,
    a_rare_word_outranks_a_common_one_on_both_stores,
    a_repeated_query_is_answered_from_memory_until_the_catalog_changes,
    a_catalog_change_reaches_the_next_repeated_search,
    a_word_no_product_holds_is_left_out_and_the_rest_must_all_match,
    a_query_with_a_word_no_product_holds_is_answered_as_the_query_without_it,
);

/// A word no product holds is left out of the query: the products holding every other word
/// fill the page, instead of every product holding any word.
async fn a_word_no_product_holds_is_left_out_and_the_rest_must_all_match(store: Store) {
    let app = TestApp::spawn(store).await;
    let (db, shop) = (&app.db, vendor(&app.db, "atelier").await);
    let scarves = category(db, "scarves", None).await;
    let mut titles_made = Vec::new();
    for n in 0..30 {
        titles_made.push(format!("Black Wool Scarf {n}"));
    }
    for n in 0..6 {
        titles_made.push(format!("Black Silk Scarf {n}"));
        titles_made.push(format!("Grey Wool Scarf {n}"));
    }
    for (n, title) in titles_made.into_iter().enumerate() {
        let product = NewProduct {
            title,
            description: "A scarf.".into(),
            colour: None,
            material: None,
            ..new_product(n, shop.id, scarves.id)
        };
        create_product(db, product).await.unwrap();
    }

    let found = titles(&search(&app, "black wool zzyzx", json!({ "mode": "LEXICAL", "first": 100 })).await);
    assert_eq!(found.len(), 30, "{found:?}");
    assert!(found.iter().all(|t| t.starts_with("Black Wool")), "{found:?}");
    // When the others are too few for a page, the products holding any of them follow.
    let few = titles(&search(&app, "grey wool zzyzx", json!({ "mode": "LEXICAL", "first": 100 })).await);
    assert!(few[..6].iter().all(|t| t.starts_with("Grey Wool")), "{few:?}");
    assert!(few.len() > 6, "{few:?}");
    let nothing = search(&app, "zzyzx qwvrtp", json!({ "mode": "LEXICAL" })).await;
    assert_eq!(nothing["totalCount"], 0, "{nothing:#}");

    // That the word was held by nothing is not remembered: once a product holds it, it counts.
    let product = NewProduct { title: "Zzyzx Black Wool Scarf".into(), ..new_product(99, shop.id, scarves.id) };
    create_product(db, product).await.unwrap();
    let found = titles(&search(&app, "black wool zzyzx", json!({ "mode": "LEXICAL", "first": 100 })).await);
    assert_eq!(found[0], "Zzyzx Black Wool Scarf", "every word matches it now: {found:?}");
}

/// A repeated query and filter cost one small read (the catalog's search generation) instead
/// of ranking again, until a product change that matters to search moves the generation.
async fn a_repeated_query_is_answered_from_memory_until_the_catalog_changes(store: Store) {
    use aeternum::catalog::filter::ProductCriteria;
    use aeternum::search::bm25::CorpusStats;
    use aeternum::search::query::TextQuery;
    use aeternum::search::recent::RecentAnswers;

    let app = TestApp::spawn(store).await;
    app.load_demo().await;
    let db = app.own_pool().await;
    let (recent, corpus) = (RecentAnswers::new(Duration::from_secs(60)), CorpusStats::default());
    let query = TextQuery::parse("tote").unwrap();
    let condition = || ProductCriteria::public().condition(db.backend(), None);
    let ask = || recent.search(&db, &corpus, &query, "public", condition(), 200);

    let first = ask().await.unwrap();
    assert!(first.len() >= 5, "the demo catalog has totes: {first:?}");
    let before = db.statement_count();
    let again = ask().await.unwrap();
    assert_eq!(db.statement_count() - before, 1, "only the generation was read");
    assert_eq!(again.iter().map(|h| h.id).collect::<Vec<_>>(), first.iter().map(|h| h.id).collect::<Vec<_>>());

    let other = recent.search(&db, &corpus, &query, "another filter", condition(), 200);
    let before = db.statement_count();
    other.await.unwrap();
    assert!(db.statement_count() - before > 1, "another filter is ranked on its own");

    let (shop, bags) = (vendor(&db, "weekender").await, category(&db, "weekend-bags", None).await);
    let tote = NewProduct { title: "Weekend Tote".into(), ..new_product(900, shop.id, bags.id) };
    let tote = create_product(&db, tote).await.unwrap();
    let before = db.statement_count();
    let after = ask().await.unwrap();
    assert!(db.statement_count() - before > 1, "ranked again");
    assert!(after.iter().any(|h| h.id == tote.id), "the new tote is found: {after:?}");
}

async fn a_query_with_a_word_no_product_holds_is_answered_as_the_query_without_it(store: Store) {
    use aeternum::catalog::filter::ProductCriteria;
    use aeternum::search::bm25::CorpusStats;
    use aeternum::search::query::TextQuery;
    use aeternum::search::recent::RecentAnswers;

    let app = TestApp::spawn(store).await;
    app.load_demo().await;
    let db = app.own_pool().await;
    let (recent, corpus) = (RecentAnswers::new(Duration::from_secs(60)), CorpusStats::default());
    let condition = || ProductCriteria::public().condition(db.backend(), None);
    let ask = |text: &str| {
        let query = TextQuery::parse(text).unwrap();
        let recent = &recent;
        let (db, corpus) = (&db, &corpus);
        async move { recent.search(db, corpus, &query, "public", condition(), 200).await.unwrap() }
    };
    let ids = |hits: &[aeternum::search::lexical::LexicalHit]| hits.iter().map(|h| h.id).collect::<Vec<_>>();

    // Whole words (a trailing space): the last is not a prefix being typed.
    let asked = ask("black leather tote ").await;
    assert!(!asked.is_empty());
    let before = db.statement_count();
    let unknown = ask("black leather tote 4711 ").await;
    let spent = db.statement_count() - before;
    assert_eq!(ids(&unknown), ids(&asked), "the same answer");
    // The generation, then which words any product holds; nothing is ranked.
    assert!(spent <= 3, "{spent} statements");
    let before = db.statement_count();
    assert_eq!(ids(&ask("black leather tote 4711 ").await), ids(&asked));
    assert_eq!(db.statement_count() - before, 1, "asked again: only the generation");

    // Once a product holds the word, the query is ranked with it.
    let (shop, bags) = (vendor(&db, "weekender").await, category(&db, "weekend-bags", None).await);
    let tote = NewProduct { title: "Black Leather Tote 4711".into(), ..new_product(900, shop.id, bags.id) };
    let tote = create_product(&db, tote).await.unwrap();
    assert_eq!(ask("black leather tote 4711 ").await[0].id, tote.id);
}

/// Should the generation be unreadable (here its sequence renamed; in production a role
/// without SELECT on it), searches rank every time instead of failing or going stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_readable_generation_every_search_ranks_again() {
    let app = TestApp::spawn(Store::Postgres).await;
    app.load_demo().await;
    app.db.conn().execute_unprepared("ALTER SEQUENCE search_outbox_id_seq RENAME TO hidden_seq").await.unwrap();
    let lexical = json!({ "mode": "LEXICAL", "first": 100 });
    let first = titles(&search(&app, "tote", lexical.clone()).await);
    assert!(first.len() >= 5, "{first:?}");
    let (shop, bags) = (vendor(&app.db, "weekender").await, category(&app.db, "weekend-bags", None).await);
    let tote = NewProduct { title: "Weekend Tote".into(), ..new_product(900, shop.id, bags.id) };
    create_product(&app.db, tote).await.unwrap();
    let found = titles(&search(&app, "tote", lexical).await);
    assert_eq!(found.len(), first.len() + 1, "{found:?}");
}

/// Through the API, with the answer cache on (the default): a product archived or added
/// between two identical searches is gone from, or found by, the second at once.
async fn a_catalog_change_reaches_the_next_repeated_search(store: Store) {
    let app = TestApp::spawn(store).await;
    app.load_demo().await;
    assert!(aeternum::config::Settings::default().search.lexical_cache_seconds > 0, "the cache is on by default");
    let lexical = json!({ "mode": "LEXICAL", "first": 100 });
    let first = search(&app, "tote", lexical.clone()).await;
    assert_eq!(titles(&first), titles(&search(&app, "tote", lexical.clone()).await), "the same answer twice");
    let gone = GlobalId::parse_as(first["edges"][0]["node"]["id"].as_str().unwrap(), NodeType::Product).unwrap();
    let archive = entity::product::ActiveModel {
        id: sea_orm::Set(gone),
        status: sea_orm::Set(ProductStatus::Archived),
        ..Default::default()
    };
    sea_orm::ActiveModelTrait::update(archive, app.db.conn()).await.unwrap();
    let after = search(&app, "tote", lexical.clone()).await;
    let ids: Vec<&str> = after["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len() + 1, titles(&first).len(), "{after:#}");
    assert!(!ids.contains(&first["edges"][0]["node"]["id"].as_str().unwrap()), "the archived tote is gone");

    let (shop, bags) = (vendor(&app.db, "weekender").await, category(&app.db, "weekend-bags", None).await);
    let tote = NewProduct { title: "Weekend Tote".into(), ..new_product(900, shop.id, bags.id) };
    create_product(&app.db, tote).await.unwrap();
    let found = titles(&search(&app, "tote", lexical).await);
    assert!(found.contains(&"Weekend Tote".to_owned()), "{found:?}");
}

/// The full-text side reads a bounded number of the best matches before filtering; when the
/// filter passes too few of them, it reads them all.
async fn a_filter_that_passes_few_of_many_matches_still_fills_the_page(store: Store) {
    let app = TestApp::spawn_with(store, |s| s.search.candidates = 2).await;
    app.load_demo().await;
    let rows = sea_orm::ConnectionTrait::query_all_raw(
        app.db.conn(),
        sea_orm::Statement::from_string(
            app.db.backend(),
            "SELECT brand, COUNT(*) AS totes FROM products WHERE status = 'ACTIVE' AND LOWER(title) LIKE '%tote%' \
             AND brand IS NOT NULL GROUP BY brand",
        ),
    )
    .await
    .unwrap();
    assert!(rows.len() >= 3, "totes of several brands");
    for row in rows {
        let brand: String = row.try_get("", "brand").unwrap();
        let totes: i64 = row.try_get("", "totes").unwrap();
        let found =
            search(&app, "tote", json!({ "mode": "LEXICAL", "first": 2, "filter": { "brands": [brand] } })).await;
        let titles = titles(&found);
        assert!(titles.len() >= totes.min(2) as usize, "{brand}: {found:#}");
        let by_title = titles.iter().take(totes as usize).filter(|t| t.to_lowercase().contains("tote")).count();
        assert_eq!(by_title, titles.len().min(totes as usize), "{brand}: title matches first: {titles:?}");
    }
}

async fn a_word_that_matches_nothing_does_not_empty_the_page(store: Store) {
    let app = TestApp::spawn(store).await;
    app.load_demo().await;
    let totes = app.count_rows("products WHERE status = 'ACTIVE' AND LOWER(title) LIKE '%tote%'").await as usize;
    assert!(totes >= 5, "the demo catalog has totes: {totes}");
    assert_eq!(app.count_rows("products WHERE LOWER(title || description) LIKE '%designer%'").await, 0);

    // "designer" is in no product: the totes are found all the same, first.
    let found = search(&app, "designer tote", json!({ "mode": "LEXICAL", "first": 100 })).await;
    let titles = titles(&found);
    assert!(titles.len() >= totes, "{found:#}");
    assert!(titles[..totes].iter().all(|t| t.to_lowercase().contains("tote")), "{titles:?}");

    // When every word matches, those products come first, the rest after.
    let both = search(&app, "canvas tote", json!({ "mode": "LEXICAL", "first": 100 })).await;
    let titles = self::titles(&both);
    let with_both = app
        .count_rows("products WHERE status = 'ACTIVE' AND LOWER(title) LIKE '%tote%' AND LOWER(title) LIKE '%canvas%'")
        .await as usize;
    assert!(with_both > 0);
    let first: Vec<&String> = titles.iter().take(with_both).collect();
    assert!(first.iter().all(|t| t.to_lowercase().contains("tote")), "{first:?}");
    assert!(titles.len() > with_both, "products matching one of the words follow");

    // Stop words are not required, and a lone "or" is a word, not a refused operator.
    let long = search(&app, "a canvas tote for the beach ", json!({ "mode": "LEXICAL", "first": 100 })).await;
    let long = self::titles(&long);
    assert!(long.iter().take(with_both).all(|t| t.to_lowercase().contains("canvas")), "{long:?}");
    let or = app.graphql(SEARCH, json!({ "q": "or", "mode": "LEXICAL" })).await;
    assert!(or["errors"].is_null(), "{or}");
}

/// Both stores rank full-text matches with BM25: a word found in few products weighs more than
/// one found in most, however often the common one is repeated, and a short title beats a long
/// one holding the same word.
async fn a_rare_word_outranks_a_common_one_on_both_stores(store: Store) {
    let app = TestApp::spawn(store).await;
    let (db, shop) = (&app.db, vendor(&app.db, "atelier").await);
    let bags = category(db, "bags", None).await;
    let mut n = 0;
    let mut add = |title: &str, description: &str| {
        n += 1;
        NewProduct { title: title.into(), description: description.into(), ..new_product(n, shop.id, bags.id) }
    };
    let mut products = vec![add("Hermes Scarf Ring", "A ring for a scarf.")];
    for colour in ["Natural", "Olive", "Navy", "Sand", "Rust", "Stone"] {
        let text = "Canvas tote of heavy canvas, canvas straps and a canvas pocket.";
        products.push(add(&format!("{colour} Canvas Canvas Tote"), text));
    }
    products.push(add("Tote", "A bag."));
    products.push(add("Tote with Long Handles, Inner Pockets and a Zipped Compartment", "A bag."));
    for product in products {
        create_product(db, product).await.unwrap();
    }

    // No product has both words: each word's products follow, the rare word's first.
    let either = titles(&search(&app, "hermes canvas", json!({ "mode": "LEXICAL", "first": 20 })).await);
    assert_eq!(either.len(), 7, "{either:?}");
    assert_eq!(either[0], "Hermes Scarf Ring", "{either:?}");
    let short = titles(&search(&app, "tote", json!({ "mode": "LEXICAL", "first": 20 })).await);
    assert_eq!(short[0], "Tote", "{short:?}");
    app.stop().await.unwrap();
}

/// PostgreSQL reads full-text matches in rank order from the RUM index when the extension is
/// installed (`scripts/test-services` installs it), and ranks every GIN match without it: both
/// paths find the same products.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_full_text_uses_the_rum_index_and_finds_what_gin_finds() {
    let app = TestApp::spawn(Store::Postgres).await;
    app.load_demo().await;
    assert!(app.db.ranked_full_text().await.unwrap(), "migration 13 made the RUM index");
    let queries = ["tote", "black leather", "designer tote", "wool coat"];
    let mut ranked = Vec::new();
    for q in queries {
        let mut found = titles(&search(&app, q, json!({ "mode": "LEXICAL", "first": 100 })).await);
        assert!(!found.is_empty(), "{q}");
        found.sort();
        ranked.push(found);
    }

    sea_orm::ConnectionTrait::execute_unprepared(app.db.conn(), "DROP INDEX products_search_rum_idx").await.unwrap();
    let without = app.replica(|_| {}).await;
    assert!(!without.db.ranked_full_text().await.unwrap());
    for (q, ranked) in queries.into_iter().zip(ranked) {
        let mut found = titles(&search(&without, q, json!({ "mode": "LEXICAL", "first": 100 })).await);
        found.sort();
        assert_eq!(found, ranked, "{q}: the same products either way");
    }
}

/// A word being typed matches what begins with it as typed, not only what begins with its stem:
/// PostgreSQL's English stemmer makes "zephy" "zephi", which does not begin "Zephyr".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_word_being_typed_matches_before_its_stem_does() {
    let app = TestApp::spawn(Store::Postgres).await;
    let (shop, tops) = (vendor(&app.db, "atelier").await, category(&app.db, "tops", None).await);
    for (n, title) in [(1, "Zephyr Silk Blouse"), (2, "Zephyr Linen Shirt"), (3, "Berry Wool Scarf")] {
        create_product(&app.db, NewProduct { title: title.into(), ..new_product(n, shop.id, tops.id) }).await.unwrap();
    }
    let lexical = json!({ "mode": "LEXICAL" });
    for typed in ["zeph", "zephy", "zephyr"] {
        let mut found = titles(&search(&app, typed, lexical.clone()).await);
        found.sort();
        assert_eq!(found, ["Zephyr Linen Shirt", "Zephyr Silk Blouse"], "{typed}");
    }
    // Beside other words, and with an exclusion, the typed word still narrows.
    assert_eq!(titles(&search(&app, "silk zephy", lexical.clone()).await)[0], "Zephyr Silk Blouse");
    assert_eq!(titles(&search(&app, "-silk zephy", lexical.clone()).await), ["Zephyr Linen Shirt"]);
    // A whole word still matches through its stem ("berries" is stored as "berri").
    assert_eq!(titles(&search(&app, "berries", lexical.clone()).await), ["Berry Wool Scarf"]);
    let suggested = app.graphql("{ searchSuggestions(prefix: \"zephy\", first: 4) }", json!({})).await;
    let mut suggested: Vec<String> = serde_json::from_value(suggested["data"]["searchSuggestions"].clone()).unwrap();
    suggested.sort();
    assert_eq!(suggested, ["Zephyr Linen Shirt", "Zephyr Silk Blouse"]);
}

/// When BM25's corpus figures expire, one search reads them again while the others rank with
/// the old ones, rather than every concurrent search counting the catalog at once; a refresh
/// cut short (its search timed out) leaves the next search free to refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_corpus_figures_are_read_again_by_one_search_at_a_time() {
    use aeternum::search::bm25::{CorpusStats, Term};
    use std::future::Future;

    let app = TestApp::spawn(Store::Postgres).await;
    app.load_demo().await;
    let db = app.own_pool().await;
    let stats = CorpusStats::with_ttl(Duration::from_secs(600));
    let terms = || vec![Term { lexeme: "tote".to_owned(), prefix: false }];
    let (first, length) = stats.weigh(&db, terms()).await.unwrap();
    assert!(first[0].1 > 0.0 && length > 1.0, "idf {first:?}, average length {length}");

    stats.expire();
    let before = stats.refreshes();
    let searches = futures_util::future::join_all((0..8).map(|_| stats.weigh(&db, terms()))).await;
    assert_eq!(stats.refreshes() - before, 1, "one refresh for 8 searches, not 8");
    for weighed in searches {
        assert_eq!(weighed.unwrap(), (first.clone(), length), "the catalog did not change");
    }
    let before = stats.refreshes();
    stats.weigh(&db, terms()).await.unwrap();
    assert_eq!(stats.refreshes(), before, "fresh figures are used as they are");

    // A refresh dropped half-way releases its claim (on a loaded machine the one poll may
    // finish it; the next search then refreshes because the figures are expired again).
    stats.expire();
    {
        let mut cut_short = std::pin::pin!(stats.weigh(&db, terms()));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let _ = cut_short.as_mut().poll(&mut cx);
    }
    stats.expire();
    let before = stats.refreshes();
    stats.weigh(&db, terms()).await.unwrap();
    assert_eq!(stats.refreshes() - before, 1, "the next search refreshed the expired figures");
}
