//! Live events: subscriptions over the WebSocket, filtered per subscriber, fed by the outbox.

use std::sync::Arc;

use aeternum::events::{Event, EventBus, Hub, InProcessBus, relay};
use aeternum::graphql::ids::NodeType;
use aeternum::inventory::service::{Movement, adjust_stock};
use entity::MovementReason;
use futures_util::StreamExt;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Socket, Store, TestApp, next_message, send_json, socket};
use crate::shop::{As, Shop, gid};

store_tests!(
    a_placed_order_reaches_staff_its_vendors_and_its_customer_only,
    stock_changes_reach_anyone_but_the_ledger_fields_only_the_vendor,
    a_guest_follows_its_own_order_and_nobody_else_can,
    events_the_bus_refused_are_published_later_in_order_and_once,
);

const PROBE: &str = "subscription($p: ID!) { stockChanged(productId: $p) { eventId } }";

/// A socket signed in with `token`, running `subscriptions` (id, query, variables) and a probe
/// on `probe`'s stock, which [`ready`] uses to know the subscriptions are live.
pub async fn subscriber(
    app: &TestApp,
    token: Option<&str>,
    probe: Uuid,
    subscriptions: &[(&str, &str, Value)],
) -> Socket {
    let mut ws = socket(app, &[]).await.unwrap();
    let payload = token.map_or(json!({}), |t| json!({ "accessToken": t }));
    send_json(&mut ws, json!({ "type": "connection_init", "payload": payload })).await;
    assert_eq!(next_message(&mut ws).await["type"], "connection_ack");
    for (id, query, variables) in subscriptions {
        let payload = json!({ "query": query, "variables": variables });
        send_json(&mut ws, json!({ "id": id, "type": "subscribe", "payload": payload })).await;
    }
    let payload = json!({ "query": PROBE, "variables": { "p": gid(NodeType::Product, probe) } });
    send_json(&mut ws, json!({ "id": "probe", "type": "subscribe", "payload": payload })).await;
    ws
}

/// Moves the probe's stock until every socket has seen it: their subscriptions are live.
pub async fn ready(app: &TestApp, probe: Uuid, sockets: &mut [&mut Socket]) {
    for socket in sockets.iter_mut() {
        loop {
            adjust_stock(&app.db, Movement::new(probe, 1, MovementReason::Adjustment)).await.unwrap();
            let probed = async {
                loop {
                    let message = next_message(socket).await;
                    assert_eq!(message["type"], "next", "{message}");
                    if message["id"] == "probe" {
                        return;
                    }
                }
            };
            if tokio::time::timeout(std::time::Duration::from_millis(500), probed).await.is_ok() {
                break;
            }
        }
    }
}

/// The next message of subscription `id`, past any probe.
pub async fn next_of(ws: &mut Socket, id: &str) -> Value {
    loop {
        let message = next_message(ws).await;
        if message["id"] != "probe" {
            assert_eq!(message["id"], id, "{message}");
            return message;
        }
    }
}

async fn a_placed_order_reaches_staff_its_vendors_and_its_customer_only(store: Store) {
    let shop = Shop::open(store).await;
    let query = "subscription { orderPlaced { orderId status previousStatus order { email } } }";
    let subscriptions = [("orders", query, json!({}))];
    let probe = shop.dollars.id;
    let mut staff = subscriber(&shop.app, Some(&shop.staff), probe, &subscriptions).await;
    let mut vendor = subscriber(&shop.app, Some(&shop.vendor), probe, &subscriptions).await;
    let mut customer = subscriber(&shop.app, Some(&shop.customer), probe, &subscriptions).await;
    ready(&shop.app, probe, &mut [&mut staff, &mut vendor, &mut customer]).await;

    // A guest buys from vendor 1: staff hear of it, vendor 0 and the customer do not.
    let (cart, guest) = shop.guest_cart().await;
    shop.add(&guest, &cart, &shop.multi, 1).await;
    let first = shop.checkout(&guest, &cart, "realtime-0001").await["data"]["checkout"]["id"].clone();
    // A guest buys from vendor 0: staff and vendor 0 hear of it.
    let (cart, guest) = shop.guest_cart().await;
    shop.add(&guest, &cart, &shop.unique, 1).await;
    let second = shop.checkout(&guest, &cart, "realtime-0002").await["data"]["checkout"]["id"].clone();
    // The customer buys from vendor 0: all three hear of it.
    let mine = As::user(&shop.customer);
    let cart = shop.cart_of(&mine).await;
    shop.add(&mine, &cart, &shop.dollars, 1).await;
    let third = shop.checkout(&mine, &cart, "realtime-0003").await["data"]["checkout"]["id"].clone();

    for expected in [&first, &second, &third] {
        let event = &next_of(&mut staff, "orders").await["payload"]["data"]["orderPlaced"];
        assert_eq!(&event["orderId"], expected);
        assert_eq!((event["status"].as_str(), &event["previousStatus"]), (Some("PENDING_PAYMENT"), &Value::Null));
        assert!(event["order"]["email"].is_string(), "staff read the order: {event}");
    }
    for expected in [&second, &third] {
        let event = &next_of(&mut vendor, "orders").await["payload"]["data"]["orderPlaced"];
        assert_eq!(&event["orderId"], expected, "vendor 0 hears of its own orders only");
        assert_eq!(event["order"], Value::Null, "a vendor reads its part, not the buyer's order");
    }
    let event = &next_of(&mut customer, "orders").await["payload"]["data"]["orderPlaced"];
    assert_eq!(event["orderId"], third, "the customer hears of its own order only");
    assert_eq!(event["order"]["email"], "ada@example.com");
}

async fn stock_changes_reach_anyone_but_the_ledger_fields_only_the_vendor(store: Store) {
    let shop = Shop::open(store).await;
    let mut draft = crate::fixtures::new_product(9, shop.unique.vendor_id, shop.unique.category_id);
    draft.status = entity::ProductStatus::Draft;
    draft.stock = 0; // no opening movement: the restock below is its only event
    let draft = aeternum::catalog::editing::create_product(&shop.app.db, draft).await.unwrap();
    let query = "subscription { stockChanged { productId level delta reason } }";
    let subscriptions = [("stock", query, json!({}))];
    let probe = shop.dollars.id;
    let mut anyone = subscriber(&shop.app, None, probe, &subscriptions).await;
    let mut vendor = subscriber(&shop.app, Some(&shop.vendor), probe, &subscriptions).await;
    ready(&shop.app, probe, &mut [&mut anyone, &mut vendor]).await;
    adjust_stock(&shop.app.db, Movement::new(draft.id, 2, MovementReason::Restock)).await.unwrap();
    adjust_stock(&shop.app.db, Movement::new(shop.multi.id, -1, MovementReason::Adjustment)).await.unwrap();

    let about = |message: &Value| message["payload"]["data"]["stockChanged"]["productId"].as_str().map(str::to_owned);
    let skip_probe = |message: &Value| about(message).as_deref() == Some(gid(NodeType::Product, probe).as_str());
    // Both also hear of the probe's movements on "stock": skip to the products under test.
    let first_for = async |ws: &mut Socket| loop {
        let message = next_of(ws, "stock").await;
        if !skip_probe(&message) {
            return message;
        }
    };
    let heard = first_for(&mut anyone).await;
    let event = &heard["payload"]["data"]["stockChanged"];
    assert_eq!(event["productId"], gid(NodeType::Product, shop.multi.id), "a draft's stock is not public: {heard}");
    assert_eq!((event["level"].as_i64(), &event["reason"]), (Some(4), &Value::Null));
    assert_eq!(heard["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{heard}");

    let draft_event = first_for(&mut vendor).await;
    let event = &draft_event["payload"]["data"]["stockChanged"];
    assert_eq!(event["productId"], gid(NodeType::Product, draft.id), "its vendor hears of its draft");
    assert_eq!((event["delta"].as_i64(), event["reason"].as_str()), (Some(2), Some("RESTOCK")));
    assert!(draft_event["payload"].get("errors").is_none(), "{draft_event}");
}

async fn a_guest_follows_its_own_order_and_nobody_else_can(store: Store) {
    let shop = Shop::open(store).await;
    let (cart, guest) = shop.guest_cart().await;
    shop.add(&guest, &cart, &shop.multi, 1).await;
    let order =
        shop.checkout(&guest, &cart, "follow-0001").await["data"]["checkout"]["id"].as_str().unwrap().to_owned();
    let query = "subscription($o: ID!) { orderStatusChanged(orderId: $o) { orderId status previousStatus } }";

    // Another customer may not follow it.
    let mut stranger = socket(&shop.app, &[]).await.unwrap();
    send_json(&mut stranger, json!({ "type": "connection_init", "payload": { "accessToken": shop.customer } })).await;
    assert_eq!(next_message(&mut stranger).await["type"], "connection_ack");
    let payload = json!({ "query": query, "variables": { "o": order } });
    send_json(&mut stranger, json!({ "id": "o", "type": "subscribe", "payload": payload })).await;
    let refused = next_message(&mut stranger).await;
    let errors = if refused["type"] == "error" { &refused["payload"] } else { &refused["payload"]["errors"] };
    assert_eq!(errors[0]["extensions"]["code"], "NOT_FOUND", "{refused}");

    // The guest, with its cart's token, hears the order cancelled.
    let mut ws = socket(&shop.app, &[]).await.unwrap();
    let token = guest.cart_token.clone().unwrap();
    send_json(&mut ws, json!({ "type": "connection_init", "payload": { "cartToken": token } })).await;
    assert_eq!(next_message(&mut ws).await["type"], "connection_ack");
    send_json(&mut ws, json!({ "id": "o", "type": "subscribe", "payload": payload })).await;
    let probe = shop.dollars.id;
    let payload = json!({ "query": PROBE, "variables": { "p": gid(NodeType::Product, probe) } });
    send_json(&mut ws, json!({ "id": "probe", "type": "subscribe", "payload": payload })).await;
    ready(&shop.app, probe, &mut [&mut ws]).await;
    shop.ok(&guest, "mutation($o: ID!) { cancelOrder(id: $o) { status } }", json!({ "o": order })).await;
    let event = &next_of(&mut ws, "o").await["payload"]["data"]["orderStatusChanged"];
    assert_eq!(event["orderId"], order);
    assert_eq!(
        (event["previousStatus"].as_str(), event["status"].as_str()),
        (Some("PENDING_PAYMENT"), Some("CANCELLED"))
    );
}

/// A bus that is down.
struct DownBus;

#[async_trait::async_trait]
impl EventBus for DownBus {
    async fn publish(&self, _: &[Arc<Event>]) -> anyhow::Result<()> {
        anyhow::bail!("the bus is down")
    }
}

async fn events_the_bus_refused_are_published_later_in_order_and_once(store: Store) {
    let app = TestApp::spawn_with(store, |s| s.events.relay_interval_ms = 3_600_000).await;
    let c = crate::fixtures::catalog(&app.db).await;
    // The server's own relay ran once at start; everything since waits in the outbox.
    let product = c.products.iter().find(|p| p.status == entity::ProductStatus::Active).unwrap();
    for _ in 0..3 {
        adjust_stock(&app.db, Movement::new(product.id, 1, MovementReason::Restock)).await.unwrap();
    }
    let unpublished = || async {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        entity::event::Entity::find()
            .filter(entity::event::Column::PublishedAt.is_null())
            .count(app.db.conn())
            .await
            .unwrap()
    };
    let waiting = unpublished().await;
    assert!(waiting >= 3, "the changes are in the outbox: {waiting}");

    assert!(relay::relay_once(&app.db, &DownBus).await.is_err());
    assert_eq!(unpublished().await, waiting, "nothing is marked published when the bus refuses");

    let hub = Hub::new(app.db.clone(), 16);
    let mut heard = Box::pin(hub.subscribe());
    let bus = InProcessBus::new(hub.clone());
    let mut published = 0;
    while unpublished().await > 0 {
        published += relay::relay_once(&app.db, &bus).await.unwrap();
    }
    assert_eq!(published as u64, waiting);
    // The relay publishing the same events again (a crash before marking them) changes nothing.
    let again: Vec<Arc<Event>> =
        relay::published_since(&app.db, 0, 10_000).await.unwrap().into_iter().map(Arc::new).collect();
    bus.publish(&again).await.unwrap();

    // More events than the hub buffers: the subscription catches up from the outbox.
    let mut ids = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout(std::time::Duration::from_millis(300), heard.next()).await {
        ids.push(event.id);
    }
    let all: Vec<i64> = again.iter().map(|event| event.id).collect();
    assert!(all.len() > 16, "more events than the buffer holds");
    assert_eq!(ids, all, "every event once, in order");
}
