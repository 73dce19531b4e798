//! Cost buckets: every answer reports its cost; a caller whose bucket cannot pay is refused
//! before anything runs, with 429 and `Retry-After`; each caller has a bucket of its own.

use aeternum::config::{CostBucket, LimiterSettings, Secret, Settings};
use entity::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Credential, Store, TestApp, error_codes};

store_tests!(
    a_bucket_pays_until_empty_then_refuses_before_anything_runs,
    every_caller_has_a_bucket_of_its_own,
    on_redis_two_replicas_share_each_bucket,
    with_redis_down_each_replica_still_limits,
    a_document_over_the_complexity_limit_is_refused_without_a_charge,
);

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

async fn a_document_over_the_complexity_limit_is_refused_without_a_charge(store: Store) {
    let app = TestApp::spawn_with(store, |s| {
        small_buckets(s);
        s.graphql.max_complexity = 50;
    })
    .await;
    let over = "{ products(first: 20) { edges { node { id title slug } } } }";
    for _ in 0..3 {
        let (status, _, answer) = send(&app, &Credential::Anonymous, over).await;
        assert_eq!(error_codes(&answer), ["QUERY_TOO_COMPLEX"], "{status} {answer}");
        assert!(answer["extensions"]["cost"].is_null(), "nothing charged, nothing reported: {answer}");
    }
    let (status, _, answer) = send(&app, &Credential::Anonymous, LISTING).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let requested = answer["extensions"]["cost"]["requestedQueryCost"].as_u64().unwrap();
    // A point a second refills meanwhile, but the bucket is never above its capacity.
    assert_eq!(answer["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"], 100 - requested, "{answer}");
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

/// Buckets in the Redis at `url`, under a prefix of this test's own.
fn on_redis(url: &str, prefix: &str) -> impl Fn(&mut Settings) + Clone + use<> {
    let (url, prefix) = (url.to_owned(), prefix.to_owned());
    move |s: &mut Settings| {
        small_buckets(s);
        s.limits.store =
            LimiterSettings::Redis { url: Secret::new(url.clone()), key_prefix: prefix.clone(), timeout_ms: 250 };
    }
}

async fn on_redis_two_replicas_share_each_bucket(store: Store) {
    let redis =
        on_redis(&crate::helpers::test_redis_url(), &format!("aeternum:test:{}:", uuid::Uuid::now_v7().simple()));
    let a = TestApp::spawn_with(store, redis.clone()).await;
    let b = a.replica(redis).await;

    // The address's bucket drained on A is empty on B too, and says so in the same terms.
    let mut paid = 0;
    while send(&a, &Credential::Anonymous, LISTING).await.0 == StatusCode::OK {
        paid += 1;
        assert!(paid < 100, "the bucket empties");
    }
    let (status, retry, answer) = send(&b, &Credential::Anonymous, LISTING).await;
    assert_eq!((status, error_codes(&answer)), (StatusCode::TOO_MANY_REQUESTS, vec!["THROTTLED".to_owned()]));
    assert!(retry.as_deref().is_some_and(|r| r.parse::<u64>().is_ok_and(|s| s >= 1)), "Retry-After: {retry:?}");
    assert_eq!(answer["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"], 0, "{answer}");

    // Sign-in attempts too: failures on A count on B.
    aeternum::identity::service::create_user(&a.db, "ada@example.com", PASSWORD, "Ada", Role::Customer, None)
        .await
        .unwrap();
    let sign_in = "mutation($p: String!) { signIn(email: \"ada@example.com\", password: $p) { accessToken } }";
    for _ in 0..5 {
        let failed = a.graphql(sign_in, json!({ "p": "not-the-password-at-all" })).await;
        assert_eq!(error_codes(&failed), ["UNAUTHENTICATED"], "{failed}");
    }
    let refused = b.graphql(sign_in, json!({ "p": PASSWORD })).await;
    assert_eq!(error_codes(&refused), ["RATE_LIMITED"], "the sixth attempt, on the other replica: {refused}");
}

async fn with_redis_down_each_replica_still_limits(store: Store) {
    // Nothing listens on the port: every take fails, and the in-process buckets stand in.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let app = TestApp::spawn_with(store, on_redis(&format!("redis://127.0.0.1:{port}"), "aeternum:test:")).await;
    let (status, _, first) = send(&app, &Credential::Anonymous, LISTING).await;
    assert_eq!(status, StatusCode::OK, "a fault of ours refuses no one: {first}");
    let mut paid = 1;
    while send(&app, &Credential::Anonymous, LISTING).await.0 == StatusCode::OK {
        paid += 1;
        assert!(paid < 100, "never an unthrottled free-for-all");
    }
    let (status, _, answer) = send(&app, &Credential::Anonymous, LISTING).await;
    assert_eq!((status, error_codes(&answer)), (StatusCode::TOO_MANY_REQUESTS, vec!["THROTTLED".to_owned()]));
}

/// The Redis buckets do the in-process arithmetic: the same answers, take for take.
#[tokio::test]
async fn redis_and_in_process_buckets_agree() {
    use aeternum::limiter::{InProcessLimiter, Limiter, Quota, RedisLimiter, Taken};
    let connection = std::sync::Arc::new(
        aeternum::redis_connection::RedisConnection::open(&crate::helpers::test_redis_url()).unwrap(),
    );
    let prefix = format!("aeternum:test:{}:", uuid::Uuid::now_v7().simple());
    let redis = RedisLimiter::new(connection, &prefix, std::time::Duration::from_secs(2));
    let local = InProcessLimiter::default();
    let quota = Quota::per_second(100, 10);
    for limiter in [&redis as &dyn Limiter, &local] {
        assert_eq!(limiter.take("ada", quota, 60).await, Taken::Granted { available: 40 });
        let Taken::Throttled { retry_after } = limiter.take("ada", quota, 60).await else {
            panic!("a second 60 does not fit in 40");
        };
        assert!(retry_after > std::time::Duration::from_millis(1_500), "{retry_after:?}");
        assert_eq!(limiter.take("ada", quota, 101).await, Taken::TooCostly);
        limiter.give_back("ada", quota, 60).await;
        assert!(matches!(limiter.take("ada", quota, 90).await, Taken::Granted { available: 0..=10 }));
        assert_eq!(limiter.take("grace", quota, 100).await, Taken::Granted { available: 0 });
    }
}
