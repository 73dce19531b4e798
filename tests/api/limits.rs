//! Cost buckets: every answer reports its cost; a caller whose bucket cannot pay is refused
//! before anything runs, with 429 and `Retry-After`; each caller has a bucket of its own.

use aeternum::config::{CostBucket, Settings};
use entity::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Credential, Store, TestApp, error_codes};

store_tests!(a_bucket_pays_until_empty_then_refuses_before_anything_runs, every_caller_has_a_bucket_of_its_own);

const PASSWORD: &str = "a-long-enough-passphrase";
const LISTING: &str = "query Listing { products(first: 10) { edges { node { id title } } } }";

fn small_buckets(s: &mut Settings) {
    let bucket = CostBucket { capacity: 100, restore_per_second: 1 };
    (s.limits.partner, s.limits.user, s.limits.anonymous) = (bucket, bucket, bucket);
}

/// POSTs as `who` and returns the status, the `Retry-After` header and the answer.
async fn send(app: &TestApp, who: &Credential, query: &str) -> (StatusCode, Option<String>, Value) {
    let request = who.on(app.client.post(format!("{}/graphql", app.address)).json(&json!({ "query": query })));
    let response = request.send().await.unwrap();
    let retry = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (response.status(), retry, response.json().await.unwrap())
}

async fn a_bucket_pays_until_empty_then_refuses_before_anything_runs(store: Store) {
    let app = TestApp::spawn_with(store, small_buckets).await;
    let (status, _, first) = send(&app, &Credential::Anonymous, LISTING).await;
    assert_eq!(status, StatusCode::OK);
    let cost = first["extensions"]["cost"].clone();
    let requested = cost["requestedQueryCost"].as_u64().unwrap();
    assert!(requested > 1, "{cost}");
    assert_eq!(cost["actualQueryCost"], 2, "an empty listing answers `products` and its empty `edges`: {cost}");
    assert_eq!(
        cost["throttleStatus"],
        json!({ "maximumAvailable": 100, "currentlyAvailable": 100 - requested, "restoreRate": 1 })
    );

    let mut paid = 1;
    let refused = loop {
        let (status, retry, answer) = send(&app, &Credential::Anonymous, LISTING).await;
        if status != StatusCode::OK {
            break (status, retry, answer);
        }
        paid += 1;
        assert!(paid <= 100, "the bucket never ran dry");
    };
    // A point a second may have come back meanwhile, never a whole operation more.
    assert!((100 / requested..=100 / requested + 1).contains(&paid), "{paid} operations of {requested} from 100");
    let (status, retry, answer) = refused;
    assert_eq!((status, error_codes(&answer)), (StatusCode::TOO_MANY_REQUESTS, vec!["THROTTLED".to_owned()]));
    assert!(retry.as_deref().and_then(|r| r.parse::<u64>().ok()).is_some_and(|r| (1..=100).contains(&r)), "{retry:?}");
    assert!(answer["data"].is_null(), "nothing ran: {answer}");
    assert_eq!(answer["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"], 0);

    // Drained to the last point by cheap reads, a mutation is refused and writes nothing.
    while send(&app, &Credential::Anonymous, "{ categories { name } }").await.0 == StatusCode::OK {}
    let carts = app.count_rows("carts").await;
    let (status, _, _) = send(&app, &Credential::Anonymous, "mutation { openCart { token } }").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.count_rows("carts").await, carts);

    // An operation larger than the whole bucket can never run.
    let big = "{ products(first: 100) { edges { node { id title slug } } } }";
    let (_, _, answer) = send(&app, &Credential::Anonymous, big).await;
    assert_eq!(error_codes(&answer), ["MAX_COST_EXCEEDED"], "{answer}");
}

async fn every_caller_has_a_bucket_of_its_own(store: Store) {
    let app = TestApp::spawn_with(store, small_buckets).await;
    aeternum::identity::service::create_user(&app.db, "ada@example.com", PASSWORD, "Ada", Role::Customer, None)
        .await
        .unwrap();
    let ada = Credential::Bearer(app.sign_in("ada@example.com", PASSWORD).await.0);
    let partner = crate::helpers::partner(&app, "feedly", &[&["catalog:read"]], &[LISTING]).await.remove(0);

    while send(&app, &Credential::Anonymous, LISTING).await.0 == StatusCode::OK {}
    // The address's bucket is empty; the account and the key, from the same address, are not.
    for who in [&ada, &partner] {
        let (status, _, answer) = send(&app, who, LISTING).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert!(answer["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"].as_u64() < Some(100));
    }

    // Switched off, nothing is refused and the cost is still reported.
    let free = TestApp::spawn_with(store, |s| {
        small_buckets(s);
        s.limits.enabled = false;
    })
    .await;
    for _ in 0..30 {
        let (status, _, answer) = send(&free, &Credential::Anonymous, LISTING).await;
        assert_eq!(status, StatusCode::OK);
        assert!(answer["extensions"]["cost"]["requestedQueryCost"].is_u64(), "the cost is still reported: {answer}");
        assert!(answer["extensions"]["cost"].get("throttleStatus").is_none(), "no bucket was charged: {answer}");
    }
}
