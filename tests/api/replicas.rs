//! Two replicas on one store and one Redis: events cross between them, and survive Redis
//! going away.

use std::time::Duration;

use aeternum::config::{EventBusSettings, Secret, Settings};
use aeternum::inventory::service::{Movement, adjust_stock};
use entity::MovementReason;
use serde_json::{Value, json};

use crate::helpers::{Store, TestApp};
use crate::realtime::{next_of, ready, subscriber};
use crate::shop::{As, Shop};

store_tests!(
    an_order_placed_on_one_replica_reaches_a_subscriber_of_the_other,
    delivery_resumes_after_redis_restarts_and_nothing_is_lost,
);

/// Settings for the Redis bus at `url`, on a channel of this test's own.
fn on_redis(url: &str, channel: &str) -> impl Fn(&mut Settings) + Clone + use<> {
    let (url, channel) = (url.to_owned(), channel.to_owned());
    move |s: &mut Settings| {
        s.events.bus = EventBusSettings::Redis { url: Secret::new(url.clone()), channel: channel.clone() }
    }
}

fn channel() -> String {
    format!("aeternum:test:{}", uuid::Uuid::now_v7().simple())
}

async fn readiness(app: &TestApp) -> Value {
    app.client.get(format!("{}/readyz", app.address)).send().await.unwrap().json().await.unwrap()
}

async fn an_order_placed_on_one_replica_reaches_a_subscriber_of_the_other(store: Store) {
    let url = crate::helpers::test_redis_url();
    let redis = on_redis(&url, &channel());
    let a = Shop::open_with(store, redis.clone()).await;
    // Replica B never relays on its own after starting: what it hears came through Redis.
    let b = a
        .app
        .replica(|s| {
            redis(s);
            s.events.relay_interval_ms = 3_600_000;
        })
        .await;
    let query = "subscription { orderPlaced { orderId order { email } } }";
    let probe = a.dollars.id;
    let mut staff_on_b = subscriber(&b, Some(&a.staff), probe, &[("orders", query, json!({}))]).await;
    ready(&a.app, probe, &mut [&mut staff_on_b]).await;

    let (cart, guest) = a.guest_cart().await;
    a.add(&guest, &cart, &a.multi, 1).await;
    let placed = a.checkout(&guest, &cart, "replica-0001").await["data"]["checkout"]["id"].clone();
    let heard = next_of(&mut staff_on_b, "orders").await;
    assert_eq!(heard["payload"]["data"]["orderPlaced"]["orderId"], placed, "{heard}");
    assert_eq!(heard["payload"]["data"]["orderPlaced"]["order"]["email"], "guest@example.com");
    assert_eq!(readiness(&a.app).await, json!({ "status": "ready", "events": "up" }));
}

/// A Redis server of this test's own, on a free loopback port.
struct PrivateRedis {
    port: u16,
    process: Option<tokio::process::Child>,
}

impl PrivateRedis {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut redis = Self { port, process: None };
        redis.restart().await;
        redis
    }

    async fn restart(&mut self) {
        let child = tokio::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string(), "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is installed (scripts/test-services installs it)");
        self.process = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the private Redis did not start");
    }

    async fn stop(&mut self) {
        if let Some(mut child) = self.process.take() {
            child.kill().await.unwrap();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

async fn delivery_resumes_after_redis_restarts_and_nothing_is_lost(store: Store) {
    let mut redis = PrivateRedis::start().await;
    let bus = on_redis(&redis.url(), "aeternum:events");
    let a = Shop::open_with(store, bus.clone()).await;
    let b = a
        .app
        .replica(|s| {
            bus(s);
            s.events.relay_interval_ms = 3_600_000;
        })
        .await;
    let product = aeternum::graphql::ids::GlobalId::encode(aeternum::graphql::ids::NodeType::Product, a.multi.id).0;
    let query = "subscription($p: ID!) { stockChanged(productId: $p) { level } }";
    let probe = a.dollars.id;
    let mut on_b = subscriber(&b, None, probe, &[("stock", query, json!({ "p": product }))]).await;
    ready(&a.app, probe, &mut [&mut on_b]).await;

    redis.stop().await;
    let mut degraded = false;
    for _ in 0..200 {
        if readiness(&a.app).await["events"] == "down" {
            degraded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(degraded, "readiness says the event bus is down");
    // Queries and mutations go on without Redis; their events wait in the outbox.
    for _ in 0..3 {
        adjust_stock(&a.app.db, Movement::new(a.multi.id, 1, MovementReason::Restock)).await.unwrap();
    }
    let listed = a.ok(&As::default(), "{ products(first: 5) { edges { node { stock } } } }", json!({})).await;
    assert!(listed["products"]["edges"].as_array().is_some_and(|e| !e.is_empty()));

    redis.restart().await;
    let mut levels = Vec::new();
    while levels.len() < 3 {
        let heard = next_of(&mut on_b, "stock").await;
        levels.push(heard["payload"]["data"]["stockChanged"]["level"].as_i64().unwrap());
    }
    assert_eq!(levels, [6, 7, 8], "every event written while Redis was away arrives, in order, once");
}
