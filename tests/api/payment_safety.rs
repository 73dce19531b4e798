//! Money never moves twice: one payment in flight and one capture per order, successes that no
//! order can keep are refunded, and refunds are recorded before the provider is called and
//! finished by a retry when anything fails in between.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aeternum::graphql::ids::{GlobalId, NodeType};
use aeternum::payment::provider::{Charge, ChargeRequest, PaymentProvider, ProviderError};
use aeternum::payment::refunds;
use aeternum::payment::test_provider::TestProvider;
use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DatabaseBackend};
use serde_json::json;

use crate::helpers::Store;
use crate::payments::{pending_async_payment, pending_order, signature, status, webhook};
use crate::shop::{As, Shop, WEBHOOK_SECRET};

store_tests!(
    a_second_payment_while_one_is_pending_is_refused_and_a_late_success_is_refunded,
    a_success_for_a_cancelled_order_is_refunded_and_audited,
    a_refund_the_provider_accepted_but_did_not_confirm_is_finished_by_the_retry,
    a_refund_whose_outcome_the_store_refused_is_finished_once_by_the_retry,
    the_sweeper_leaves_a_just_recorded_refund_to_its_sender,
);

/// The test provider, except that the first `lose` refund answers are lost after the refund was
/// made: the provider paid back, the caller sees a failure.
struct LosingRefunds {
    inner: TestProvider,
    lose: AtomicUsize,
    refund_calls: AtomicUsize,
}

impl LosingRefunds {
    fn new(lose: usize) -> Arc<Self> {
        Arc::new(Self {
            inner: TestProvider::default(),
            lose: AtomicUsize::new(lose),
            refund_calls: AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl PaymentProvider for LosingRefunds {
    fn name(&self) -> &'static str {
        "test"
    }
    async fn authorise(&self, request: &ChargeRequest) -> Result<Charge, ProviderError> {
        self.inner.authorise(request).await
    }
    async fn capture(&self, reference: &str, amount_minor: i64) -> Result<(), ProviderError> {
        self.inner.capture(reference, amount_minor).await
    }
    async fn refund(&self, reference: &str, amount_minor: i64, key: &str) -> Result<(), ProviderError> {
        self.refund_calls.fetch_add(1, Ordering::SeqCst);
        self.inner.refund(reference, amount_minor, key).await?;
        if self.lose.load(Ordering::SeqCst) > 0 {
            self.lose.fetch_sub(1, Ordering::SeqCst);
            return Err(ProviderError::Unavailable("connection reset after the refund".into()));
        }
        Ok(())
    }
}

async fn succeed(shop: &Shop, event: &str, reference: &str) -> (u16, serde_json::Value) {
    let body = json!({ "id": event, "type": "payment.succeeded", "reference": reference }).to_string();
    webhook(shop, Some(signature(WEBHOOK_SECRET, chrono::Utc::now().timestamp(), &body)), &body).await
}

async fn payment_statuses(shop: &Shop, order: &str) -> Vec<String> {
    let staff = As::user(&shop.staff);
    let order = status(shop, &staff, order).await;
    order["payments"].as_array().unwrap().iter().map(|p| p["status"].as_str().unwrap().to_owned()).collect()
}

async fn a_second_payment_while_one_is_pending_is_refused_and_a_late_success_is_refunded(store: Store) {
    let shop = Shop::open(store).await;
    let customer = As::user(&shop.customer);
    let (order, reference) = pending_async_payment(&shop, &customer, "double-0001").await;
    for (method, key) in [("test_card", "double-pay-0002"), ("test_async", "double-pay-0003")] {
        let second = shop.pay(&customer, &order, method, key).await;
        assert_eq!(second["errors"][0]["extensions"]["code"], "CONFLICT", "{method}: {second:#}");
    }
    let by_staff = shop.pay(&As::user(&shop.staff), &order, "test_card", "staff-pay-0001").await;
    assert_eq!(by_staff["errors"][0]["extensions"]["code"], "FORBIDDEN", "staff read orders but only buyers pay");
    assert_eq!(shop.count("payments").await, 1, "the refused attempts wrote nothing");

    // The pending payment fails; a card payment then pays the order.
    let failed = json!({ "id": "evt_f", "type": "payment.failed", "reference": reference, "failure": "3DS abandoned" })
        .to_string();
    webhook(&shop, Some(signature(WEBHOOK_SECRET, chrono::Utc::now().timestamp(), &failed)), &failed).await;
    let paid = shop.pay(&customer, &order, "test_card", "double-pay-0004").await;
    assert_eq!(paid["data"]["payOrder"]["status"], "CAPTURED", "{paid:#}");

    // The provider changes its mind about the first one: that money goes back.
    let (code, _) = succeed(&shop, "evt_late", &reference).await;
    assert_eq!(code, 200);
    assert_eq!(payment_statuses(&shop, &order).await, ["REFUNDED", "CAPTURED"], "one capture, the other paid back");
    assert_eq!(status(&shop, &customer, &order).await["status"], "PAID");
    let captured = shop.count("payments WHERE status = 'CAPTURED'").await;
    assert_eq!(captured, 1);
}

async fn a_success_for_a_cancelled_order_is_refunded_and_audited(store: Store) {
    let shop = Shop::open(store).await;
    let customer = As::user(&shop.customer);
    let (order, reference) = pending_async_payment(&shop, &customer, "cancelled-0001").await;
    let cancelled =
        shop.ok(&customer, "mutation($o: ID!) { cancelOrder(id: $o) { status } }", json!({ "o": order })).await;
    assert_eq!(cancelled["cancelOrder"]["status"], "CANCELLED");
    assert_eq!(payment_statuses(&shop, &order).await, ["VOIDED"], "the payment in flight is given up");

    let (code, answer) = succeed(&shop, "evt_after_cancel", &reference).await;
    assert_eq!((code, answer), (200, json!({ "status": "applied" })));
    assert_eq!(payment_statuses(&shop, &order).await, ["REFUNDED"], "never left captured on a cancelled order");
    assert_eq!(status(&shop, &customer, &order).await["status"], "CANCELLED");
    assert_eq!(shop.product(shop.unique.id).await.status, entity::ProductStatus::Active, "stock stays released");
    assert_eq!(shop.count("security_events WHERE action = 'payment_auto_refunded'").await, 1);
    let (code, answer) = succeed(&shop, "evt_after_cancel_2", &reference).await;
    assert_eq!((code, answer["status"].as_str()), (200, Some("ignored")), "a repeated success refunds nothing more");
}

async fn paid_order(shop: &Shop, key: &str) -> String {
    let customer = As::user(&shop.customer);
    let order = pending_order(shop, &customer, key).await;
    let paid = shop.pay(&customer, &order, "test_card", &format!("{key}-pay")).await;
    assert_eq!(paid["data"]["payOrder"]["status"], "CAPTURED", "{paid:#}");
    order
}

async fn a_refund_the_provider_accepted_but_did_not_confirm_is_finished_by_the_retry(store: Store) {
    let provider = LosingRefunds::new(1);
    let shop = Shop::open_with_provider(store, |_| {}, Some(provider.clone())).await;
    let staff = As::user(&shop.staff);
    let order = paid_order(&shop, "lost-0001").await;
    let refunded = shop
        .ok(&staff, "mutation($o: ID!) { refundOrder(id: $o) { status payments { status } } }", json!({ "o": order }))
        .await;
    assert_eq!(
        refunded["refundOrder"],
        json!({ "status": "REFUNDED", "payments": [{ "status": "REFUND_PENDING" }] }),
        "the order's state and the refund intent are kept though the provider's answer was lost"
    );
    assert_eq!(shop.product(shop.unique.id).await.status, entity::ProductStatus::Active, "stock came back");

    let payment = only_payment_id(&shop).await;
    assert!(refunds::send(&shop.app.db, &shop.app.payments, payment).await.unwrap(), "the retry completes it");
    assert_eq!(payment_statuses(&shop, &order).await, ["REFUNDED"]);
    assert_eq!(provider.refund_calls.load(Ordering::SeqCst), 2, "asked twice, with the same idempotency key");
    assert_eq!(provider.inner.refunded_charges(), 1, "paid back once");
    assert_eq!(shop.count("stock_movements WHERE reason = 'REFUND'").await, 1, "stock returned once");
}

async fn the_sweeper_leaves_a_just_recorded_refund_to_its_sender(store: Store) {
    let provider = LosingRefunds::new(0);
    let shop = Shop::open_with_provider(store, |_| {}, Some(provider.clone())).await;
    let order = paid_order(&shop, "swept-0001").await;
    let order_id = GlobalId::parse_as(&order, NodeType::Order).unwrap();
    // The refund is recorded and committed; its sender has not called the provider yet.
    let due = refunds::schedule(shop.app.db.conn(), order_id).await.unwrap();
    assert_eq!(due.len(), 1);
    let swept = refunds::retry_due(&shop.app.db, &shop.app.payments, 10).await.unwrap();
    assert_eq!(swept, 0, "a sweep in the window between commit and send does not take it");
    assert_eq!(provider.refund_calls.load(Ordering::SeqCst), 0, "so the provider is asked by one sender");
    assert!(refunds::send(&shop.app.db, &shop.app.payments, due[0]).await.unwrap(), "its sender sends it");
    assert_eq!(provider.refund_calls.load(Ordering::SeqCst), 1);
}

async fn only_payment_id(shop: &Shop) -> uuid::Uuid {
    use sea_orm::EntityTrait;
    let payments = entity::payment::Entity::find().all(shop.app.db.conn()).await.unwrap();
    assert_eq!(payments.len(), 1);
    payments[0].id
}

/// Makes the store refuse to mark payments REFUNDED, like a crash between the provider's answer
/// and the write that records it.
async fn refuse_refunded_writes(shop: &Shop, refuse: bool) {
    let conn = shop.app.db.conn();
    let statements: &[&str] = match (conn.get_database_backend(), refuse) {
        (DatabaseBackend::Sqlite, true) => &["CREATE TRIGGER refuse_refunded BEFORE UPDATE OF status ON payments \
             WHEN NEW.status = 'REFUNDED' BEGIN SELECT RAISE(ABORT, 'store unavailable'); END"],
        (DatabaseBackend::Sqlite, false) => &["DROP TRIGGER refuse_refunded"],
        (_, true) => &[
            "CREATE FUNCTION refuse_refunded() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN IF NEW.status = 'REFUNDED' THEN RAISE EXCEPTION 'store unavailable'; END IF; RETURN NEW; END $$",
            "CREATE TRIGGER refuse_refunded BEFORE UPDATE ON payments FOR EACH ROW EXECUTE FUNCTION refuse_refunded()",
        ],
        (_, false) => &["DROP TRIGGER refuse_refunded ON payments", "DROP FUNCTION refuse_refunded()"],
    };
    for statement in statements {
        conn.execute_unprepared(statement).await.unwrap();
    }
}

async fn a_refund_whose_outcome_the_store_refused_is_finished_once_by_the_retry(store: Store) {
    let provider = LosingRefunds::new(0);
    let shop = Shop::open_with_provider(store, |_| {}, Some(provider.clone())).await;
    let staff = As::user(&shop.staff);
    let order = paid_order(&shop, "crash-0001").await;
    refuse_refunded_writes(&shop, true).await;
    let cancelled = shop
        .ok(&staff, "mutation($o: ID!) { cancelOrder(id: $o) { status payments { status } } }", json!({ "o": order }))
        .await;
    assert_eq!(
        cancelled["cancelOrder"],
        json!({ "status": "CANCELLED", "payments": [{ "status": "REFUND_PENDING" }] })
    );
    assert_eq!(provider.inner.refunded_charges(), 1, "the provider paid back");
    refuse_refunded_writes(&shop, false).await;

    let payment = only_payment_id(&shop).await;
    assert!(refunds::send(&shop.app.db, &shop.app.payments, payment).await.unwrap());
    assert_eq!(payment_statuses(&shop, &order).await, ["REFUNDED"]);
    assert_eq!(provider.inner.refunded_charges(), 1, "the retry paid nothing more");
    assert!(refunds::send(&shop.app.db, &shop.app.payments, payment).await.unwrap(), "a further retry is a no-op");
    assert_eq!(provider.refund_calls.load(Ordering::SeqCst), 2);
    assert_eq!(shop.count("stock_movements WHERE reason = 'CANCEL'").await, 1, "stock returned once");
    assert_eq!(shop.product(shop.unique.id).await.status, entity::ProductStatus::Active);
}
