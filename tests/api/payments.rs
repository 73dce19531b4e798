//! Payments: the test provider's outcomes, idempotent payOrder, and the signed webhook
//! (verified, replay-safe, idempotent).

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::Store;
use crate::shop::{As, Shop, WEBHOOK_SECRET};

store_tests!(
    declined_failed_and_timed_out_payments_are_recorded_and_retryable,
    pay_order_is_idempotent,
    a_signed_webhook_pays_the_order_once,
    bad_signatures_and_old_timestamps_are_refused,
);

pub async fn pending_order(shop: &Shop, who: &As, key: &str) -> String {
    let cart = shop.cart_of(who).await;
    shop.add(who, &cart, &shop.unique, 1).await;
    let placed = shop.checkout(who, &cart, key).await;
    placed["data"]["checkout"]["id"].as_str().unwrap_or_else(|| panic!("{placed:#}")).to_owned()
}

/// A pending order of `who` with a PENDING asynchronous payment, and the payment's reference.
pub async fn pending_async_payment(shop: &Shop, who: &As, key: &str) -> (String, String) {
    let order = pending_order(shop, who, key).await;
    let pending = shop.pay(who, &order, "test_async", &format!("{key}-pay")).await;
    assert_eq!(pending["data"]["payOrder"]["status"], "PENDING", "{pending:#}");
    let reference = pending["data"]["payOrder"]["reference"].as_str().unwrap().to_owned();
    (order, reference)
}

pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

pub async fn webhook(shop: &Shop, signature: Option<String>, body: &str) -> (u16, Value) {
    let mut request = shop
        .app
        .client
        .post(format!("{}/webhooks/payments", shop.app.address))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header("aeternum-signature", signature);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

pub async fn status(shop: &Shop, who: &As, order: &str) -> Value {
    let read =
        shop.ok(who, "query($o: ID!) { order(id: $o) { status payments { status } } }", json!({ "o": order })).await;
    read["order"].clone()
}

async fn declined_failed_and_timed_out_payments_are_recorded_and_retryable(store: Store) {
    let shop = Shop::open_with(store, |s| s.payments.timeout_ms = 300).await;
    let customer = As::user(&shop.customer);
    let order = pending_order(&shop, &customer, "declined-0001").await;
    for (method, key) in [("test_declined", "pay-0001"), ("test_unavailable", "pay-0002"), ("test_timeout", "pay-0003")]
    {
        let response = shop.pay(&customer, &order, method, key).await;
        assert_eq!(response["errors"][0]["extensions"]["code"], "PAYMENT_FAILED", "{method}: {response:#}");
        let message = response["errors"][0]["message"].as_str().unwrap();
        assert!(!message.contains("insufficient funds") && !message.contains("outage"), "no provider words: {message}");
    }
    assert_eq!(
        status(&shop, &customer, &order).await,
        json!({ "status": "PENDING_PAYMENT", "payments": [{ "status": "FAILED" }, { "status": "FAILED" }, { "status": "FAILED" }] }),
        "every failed attempt is kept and the order still waits"
    );
    let paid = shop.pay(&customer, &order, "test_card", "pay-0004").await;
    assert_eq!(paid["data"]["payOrder"]["status"], "CAPTURED");
    assert_eq!(status(&shop, &customer, &order).await["status"], "PAID");
    let again = shop.pay(&customer, &order, "test_card", "pay-0005").await;
    assert_eq!(again["errors"][0]["extensions"]["code"], "CONFLICT", "a paid order is not paid twice");
    let bad = shop.pay(&customer, &order, "test_card", "k").await;
    assert_eq!(bad["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let stranger = shop.pay(&As::default(), &order, "test_card", "pay-0006").await;
    assert_eq!(stranger["errors"][0]["extensions"]["code"], "NOT_FOUND");
}

async fn pay_order_is_idempotent(store: Store) {
    let shop = Shop::open(store).await;
    let customer = As::user(&shop.customer);
    let order = pending_order(&shop, &customer, "idem-pay-0001").await;
    let first = shop.pay(&customer, &order, "test_card", "same-key-0001").await;
    let second = shop.pay(&customer, &order, "test_card", "same-key-0001").await;
    assert_eq!(first["data"]["payOrder"], second["data"]["payOrder"], "{second:#}");
    assert_eq!(shop.count("payments").await, 1);
    assert_eq!(first["data"]["payOrder"]["amount"]["amount"], "100.00");
}

async fn a_signed_webhook_pays_the_order_once(store: Store) {
    let shop = Shop::open(store).await;
    let customer = As::user(&shop.customer);
    let order = pending_order(&shop, &customer, "async-0001").await;
    let pending = shop.pay(&customer, &order, "test_async", "async-pay-0001").await;
    assert_eq!(pending["data"]["payOrder"]["status"], "PENDING");
    assert_eq!(status(&shop, &customer, &order).await["status"], "PENDING_PAYMENT");
    let reference = pending["data"]["payOrder"]["reference"].as_str().unwrap().to_owned();

    let body = json!({ "id": "evt_0001", "type": "payment.succeeded", "reference": reference }).to_string();
    let now = chrono::Utc::now().timestamp();
    let (code, answer) = webhook(&shop, Some(signature(WEBHOOK_SECRET, now, &body)), &body).await;
    assert_eq!((code, answer), (200, json!({ "status": "applied" })));
    assert_eq!(
        status(&shop, &customer, &order).await,
        json!({ "status": "PAID", "payments": [{ "status": "CAPTURED" }] })
    );
    assert_eq!(shop.product(shop.unique.id).await.status, entity::ProductStatus::Sold);

    // The same event again (a provider retry) changes nothing.
    let (code, answer) = webhook(&shop, Some(signature(WEBHOOK_SECRET, now, &body)), &body).await;
    assert_eq!((code, answer), (200, json!({ "status": "duplicate" })));
    assert_eq!(shop.count("payment_events").await, 1);
    assert_eq!(shop.count("product_audit").await, 5, "3 creations, the reservation and the sale: no repeat");

    let unknown = json!({ "id": "evt_0002", "type": "payment.succeeded", "reference": "nope" }).to_string();
    let (code, _) = webhook(&shop, Some(signature(WEBHOOK_SECRET, now, &unknown)), &unknown).await;
    assert_eq!(code, 404);
    assert_eq!(shop.count("payment_events").await, 1, "an event for an unknown payment is not recorded");
}

async fn bad_signatures_and_old_timestamps_are_refused(store: Store) {
    let shop = Shop::open(store).await;
    let customer = As::user(&shop.customer);
    let (order, reference) = pending_async_payment(&shop, &customer, "forged-0001").await;
    let body = json!({ "id": "evt_forged", "type": "payment.succeeded", "reference": reference }).to_string();
    let now = chrono::Utc::now().timestamp();
    let tampered = body.replace("evt_forged", "evt_forgex");
    for (signature, body) in [
        (None, body.clone()),
        (Some("t=1,v1=zz".to_owned()), body.clone()),
        (Some(signature("wrong-secret", now, &body)), body.clone()),
        (Some(signature(WEBHOOK_SECRET, now, &body)), tampered),
        (Some(signature(WEBHOOK_SECRET, now - 301, &body)), body.clone()),
        (Some(signature(WEBHOOK_SECRET, now + 3_600, &body)), body.clone()),
    ] {
        let (code, answer) = webhook(&shop, signature, &body).await;
        assert_eq!(code, 401, "{answer}");
        assert_eq!(answer["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    }
    assert_eq!(status(&shop, &customer, &order).await["status"], "PENDING_PAYMENT");
    assert_eq!(shop.count("payment_events").await, 0);
    let (code, _) = webhook(&shop, Some(signature(WEBHOOK_SECRET, now, "not json")), "not json").await;
    assert_eq!(code, 400);
    let huge = "x".repeat(65 * 1024);
    let (code, answer) = webhook(&shop, Some(signature(WEBHOOK_SECRET, now, &huge)), &huge).await;
    assert_eq!((code, answer["errors"][0]["extensions"]["code"].as_str()), (413, Some("PAYLOAD_TOO_LARGE")));
}
