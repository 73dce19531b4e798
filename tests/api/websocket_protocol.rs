//! The graphql-transport-ws protocol, rule by rule, with a real WebSocket client.

use aeternum::graphql::ids::NodeType;
use aeternum::inventory::service::{Movement, adjust_stock};
use entity::MovementReason;
use serde_json::{Value, json};

use crate::helpers::{Socket, Store, TestApp, next_message, send_json, socket};
use crate::shop::{Shop, gid};

store_tests!(
    messages_out_of_turn_close_the_socket_with_the_protocols_codes,
    an_invalid_operation_gets_an_error_message_and_the_socket_stays_open,
    a_bad_credential_or_an_expired_token_closes_with_4403,
    a_session_ended_elsewhere_closes_the_socket,
    ping_complete_and_the_operation_cap,
);

async fn open(app: &TestApp, payload: Value) -> Socket {
    let mut ws = socket(app, &[]).await.unwrap();
    send_json(&mut ws, json!({ "type": "connection_init", "payload": payload })).await;
    assert_eq!(next_message(&mut ws).await["type"], "connection_ack");
    ws
}

fn subscribe(id: &str, query: &str) -> Value {
    json!({ "id": id, "type": "subscribe", "payload": { "query": query } })
}

async fn messages_out_of_turn_close_the_socket_with_the_protocols_codes(store: Store) {
    let app = TestApp::spawn(store).await;
    let stock = "subscription { stockChanged { level } }";

    let mut early = socket(&app, &[]).await.unwrap();
    send_json(&mut early, subscribe("1", stock)).await;
    assert_eq!(next_message(&mut early).await, json!({ "close": 4401 }), "subscribe before connection_ack");

    let mut unknown = open(&app, json!({})).await;
    send_json(&mut unknown, json!({ "type": "start", "id": "1" })).await;
    assert_eq!(next_message(&mut unknown).await, json!({ "close": 4400 }), "a message type of another protocol");

    let mut twice = open(&app, json!({})).await;
    send_json(&mut twice, json!({ "type": "connection_init" })).await;
    assert_eq!(next_message(&mut twice).await, json!({ "close": 4429 }), "a second connection_init");

    let mut duplicate = open(&app, json!({})).await;
    send_json(&mut duplicate, subscribe("same", stock)).await;
    send_json(&mut duplicate, subscribe("same", stock)).await;
    assert_eq!(next_message(&mut duplicate).await, json!({ "close": 4409 }), "an id already running");

    let mut garbage = open(&app, json!({})).await;
    use futures_util::SinkExt;
    garbage.send(tokio_tungstenite::tungstenite::Message::text("not json")).await.unwrap();
    assert_eq!(next_message(&mut garbage).await, json!({ "close": 4400 }), "not a message at all");
}

async fn an_invalid_operation_gets_an_error_message_and_the_socket_stays_open(store: Store) {
    let app = TestApp::spawn(store).await;
    let mut ws = open(&app, json!({})).await;
    send_json(&mut ws, subscribe("bad", "subscription { noSuchField }")).await;
    let answer = next_message(&mut ws).await;
    assert_eq!((answer["type"].as_str(), answer["id"].as_str()), (Some("error"), Some("bad")), "{answer}");
    assert_eq!(answer["payload"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{answer}");
    // Field errors of a valid operation are a result, not a refusal.
    send_json(&mut ws, subscribe("q", "{ product(slug: \"no-such-piece\") { id } }")).await;
    let answer = next_message(&mut ws).await;
    assert_eq!(answer["type"], "next", "{answer}");
    assert_eq!(answer["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND", "{answer}");
    assert_eq!(next_message(&mut ws).await, json!({ "id": "q", "type": "complete" }));
    // A subscription's malformed argument ends that subscription with the argument's error.
    let order_id = gid(NodeType::Order, uuid::Uuid::now_v7());
    for (id, query) in [
        ("garbage", "subscription { stockChanged(productId: \"not-an-id\") { level } }".to_owned()),
        ("wrong-type", format!("subscription {{ stockChanged(productId: \"{order_id}\") {{ level }} }}")),
        ("order", "subscription { orderStatusChanged(orderId: \"nope\") { status } }".to_owned()),
    ] {
        send_json(&mut ws, subscribe(id, &query)).await;
        let answer = next_message(&mut ws).await;
        assert_eq!((answer["type"].as_str(), answer["id"].as_str()), (Some("next"), Some(id)), "{answer}");
        assert_eq!(answer["payload"]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{id}: {answer}");
        assert_eq!(next_message(&mut ws).await, json!({ "id": id, "type": "complete" }));
    }
}

async fn a_bad_credential_or_an_expired_token_closes_with_4403(store: Store) {
    let shop = Shop::open_with(store, |s| s.auth.access_token_seconds = 2).await;
    let mut forged = socket(&shop.app, &[]).await.unwrap();
    send_json(&mut forged, json!({ "type": "connection_init", "payload": { "accessToken": "not-a-token" } })).await;
    assert_eq!(next_message(&mut forged).await, json!({ "close": 4403 }));

    // A fresh token: the socket streams until the token expires, then closes; it never keeps
    // streaming to an expired session.
    let (token, _) = shop.app.sign_in("ada@example.com", crate::shop::PASSWORD).await;
    let mut ws = open(&shop.app, json!({ "accessToken": token })).await;
    send_json(&mut ws, subscribe("orders", "subscription { orderPlaced { orderId } }")).await;
    let closed = loop {
        let message = next_message(&mut ws).await;
        if message.get("close").is_some() {
            break message;
        }
    };
    assert_eq!(closed, json!({ "close": 4403 }), "the access token expired");
}

async fn a_session_ended_elsewhere_closes_the_socket(store: Store) {
    let shop = Shop::open_with(store, |s| {
        s.websocket.session_check_seconds = 1;
        s.auth.account_cache_ms = 0;
    })
    .await;
    let mut ws = open(&shop.app, json!({ "accessToken": shop.customer })).await;
    send_json(&mut ws, subscribe("orders", "subscription { orderPlaced { orderId } }")).await;
    // Signing out everywhere (as a password change does) bumps the session version.
    use sea_orm::ConnectionTrait;
    let conn = shop.app.db.conn();
    let bump = "UPDATE users SET session_version = session_version + 1 WHERE email = 'ada@example.com'";
    conn.execute_unprepared(bump).await.unwrap();
    assert_eq!(next_message(&mut ws).await, json!({ "close": 4403 }), "the session ended");
}

async fn ping_complete_and_the_operation_cap(store: Store) {
    let shop = Shop::open_with(store, |s| s.websocket.max_operations_per_connection = 2).await;
    let mut ws = open(&shop.app, json!({})).await;
    send_json(&mut ws, json!({ "type": "ping", "payload": { "n": 1 } })).await;
    assert_eq!(next_message(&mut ws).await, json!({ "type": "pong", "payload": { "n": 1 } }));

    let product = gid(NodeType::Product, shop.multi.id);
    let query = format!("subscription {{ stockChanged(productId: \"{product}\") {{ level }} }}");
    send_json(&mut ws, subscribe("a", &query)).await;
    send_json(&mut ws, subscribe("b", &query)).await;
    send_json(&mut ws, subscribe("c", &query)).await;
    let refused = next_message(&mut ws).await;
    assert_eq!((refused["type"].as_str(), refused["id"].as_str()), (Some("error"), Some("c")), "{refused}");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "THROTTLED");

    // "a" completed by the client hears nothing more; "b" keeps going.
    send_json(&mut ws, json!({ "type": "complete", "id": "a" })).await;
    let mut levels = Vec::new();
    while levels.is_empty() {
        adjust_stock(&shop.app.db, Movement::new(shop.multi.id, 1, MovementReason::Adjustment)).await.unwrap();
        let heard = tokio::time::timeout(std::time::Duration::from_millis(500), next_message(&mut ws)).await;
        if let Ok(message) = heard {
            levels.push(message);
        }
    }
    assert_eq!(levels[0]["id"], "b", "a completed subscription is silent: {}", levels[0]);
}
