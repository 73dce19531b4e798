//! The order life cycle and what it leaves behind: legal transitions only, per-vendor
//! fulfilment, the exact ledger and audit rows of a product's life, the locked sale price of a
//! one-of-a-kind piece, and the expiry of unpaid orders.

use aeternum::catalog::editing::{ProductPatch, update_product};
use aeternum::graphql::ids::NodeType;
use aeternum::money::{Currency, Money};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::Store;
use crate::shop::{As, Shop, gid};

store_tests!(
    a_product_life_leaves_the_exact_ledger_and_audit_rows,
    a_sold_piece_keeps_its_sale_price_and_a_refund_puts_it_back,
    orders_move_only_along_legal_transitions_and_vendors_ship_their_part,
    unpaid_orders_expire_and_release_their_stock,
    bad_stock_changes_are_refused_and_write_nothing,
);

const HISTORY: &str = "query($p: ID!) { product(id: $p) {
    stockMovements(first: 50) { delta stockAfter reason note }
    auditTrail(first: 50) { oldStatus newStatus oldPriceMinor newPriceMinor oldStock newStock } } }";

async fn place(shop: &Shop, who: &As, product: &entity::product::Model, quantity: i32, key: &str) -> String {
    let cart = shop.cart_of(who).await;
    let added = shop.add(who, &cart, product, quantity).await;
    assert!(added.get("errors").is_none(), "{added:#}");
    let placed = shop.checkout(who, &cart, key).await;
    placed["data"]["checkout"]["id"].as_str().unwrap_or_else(|| panic!("{placed:#}")).to_owned()
}

fn audit(old: Option<(&str, i64, i32)>, new: (&str, i64, i32)) -> Value {
    json!({
        "oldStatus": old.map(|o| o.0), "newStatus": new.0,
        "oldPriceMinor": old.map(|o| o.1), "newPriceMinor": new.1,
        "oldStock": old.map(|o| o.2), "newStock": new.2,
    })
}

async fn a_product_life_leaves_the_exact_ledger_and_audit_rows(store: Store) {
    let shop = Shop::open(store).await;
    let customer = As::user(&shop.customer);
    let staff = As::user(&shop.staff);
    let product = gid(NodeType::Product, shop.multi.id);

    let reprice = ProductPatch {
        price: Some(Money::from_minor(3_000, Currency::parse("EUR").unwrap())),
        ..ProductPatch::default()
    };
    update_product(&shop.app.db, shop.multi.id, reprice, None).await.unwrap();
    let first = place(&shop, &customer, &shop.multi, 2, "life-0001").await;
    shop.ok(
        &customer,
        "mutation($o: ID!) { cancelOrder(id: $o, reason: \"changed my mind\") { status } }",
        json!({ "o": first }),
    )
    .await;
    let restocked = shop
        .ok(
            &staff,
            "mutation($p: ID!) { adjustStock(productId: $p, delta: 3, reason: RESTOCK, note: \"delivery\") { stock } }",
            json!({ "p": product }),
        )
        .await;
    assert_eq!(restocked["adjustStock"]["stock"], 8);
    let second = place(&shop, &customer, &shop.multi, 1, "life-0002").await;
    let paid = shop.pay(&customer, &second, "test_card", "pay-life-0002").await;
    assert_eq!(paid["data"]["payOrder"]["status"], "CAPTURED", "{paid:#}");
    let refunded = shop
        .ok(
            &staff,
            "mutation($o: ID!) { refundOrder(id: $o, reason: \"damaged\") { status payments { status } } }",
            json!({ "o": second }),
        )
        .await;
    assert_eq!(refunded["refundOrder"], json!({ "status": "REFUNDED", "payments": [{ "status": "REFUNDED" }] }));

    let history = shop.ok(&staff, HISTORY, json!({ "p": product })).await;
    assert_eq!(
        history["product"]["stockMovements"],
        json!([
            { "delta": 5, "stockAfter": 5, "reason": "RESTOCK", "note": "opening stock" },
            { "delta": -2, "stockAfter": 3, "reason": "SALE", "note": "" },
            { "delta": 2, "stockAfter": 5, "reason": "CANCEL", "note": "changed my mind" },
            { "delta": 3, "stockAfter": 8, "reason": "RESTOCK", "note": "delivery" },
            { "delta": -1, "stockAfter": 7, "reason": "SALE", "note": "" },
            { "delta": 1, "stockAfter": 8, "reason": "REFUND", "note": "damaged" },
        ])
    );
    let active = "ACTIVE";
    assert_eq!(
        history["product"]["auditTrail"],
        json!([
            audit(None, (active, 2_500, 5)),
            audit(Some((active, 2_500, 5)), (active, 3_000, 5)),
            audit(Some((active, 3_000, 5)), (active, 3_000, 3)),
            audit(Some((active, 3_000, 3)), (active, 3_000, 5)),
            audit(Some((active, 3_000, 5)), (active, 3_000, 8)),
            audit(Some((active, 3_000, 8)), (active, 3_000, 7)),
            audit(Some((active, 3_000, 7)), (active, 3_000, 8)),
        ])
    );

    // The ledger and the trail are append-only at the database.
    let conn = shop.app.db.conn();
    for sql in ["UPDATE stock_movements SET delta = 0", "DELETE FROM product_audit"] {
        let refused = conn.execute_raw(Statement::from_string(conn.get_database_backend(), sql)).await;
        assert!(format!("{:?}", refused.expect_err("refused")).contains("append-only"), "{sql}");
    }
    // Customers and other vendors cannot read them.
    let hidden = shop.call(&customer, HISTORY, json!({ "p": product })).await;
    assert_eq!(hidden["data"]["product"]["stockMovements"], Value::Null);
    assert_eq!(hidden["errors"][0]["extensions"]["code"], "FORBIDDEN");
}

async fn a_sold_piece_keeps_its_sale_price_and_a_refund_puts_it_back(store: Store) {
    let shop = Shop::open(store).await;
    let customer = As::user(&shop.customer);
    let staff = As::user(&shop.staff);
    let product = gid(NodeType::Product, shop.unique.id);
    let order = place(&shop, &customer, &shop.unique, 1, "sold-0001").await;
    assert_eq!(shop.product(shop.unique.id).await.status, entity::ProductStatus::Reserved);
    shop.pay(&customer, &order, "test_card", "pay-sold-0001").await;
    let sold = shop.product(shop.unique.id).await;
    assert_eq!((sold.status, sold.sold_price_minor), (entity::ProductStatus::Sold, Some(10_000)));

    let edit = shop
        .ok(&staff, "mutation($p: ID!) { updateProduct(id: $p, input: { price: { amount: \"150\", currencyCode: \"EUR\" } }) { price { amount } soldPrice { amount } status } }", json!({ "p": product }))
        .await;
    assert_eq!(
        edit["updateProduct"],
        json!({ "price": { "amount": "150.00" }, "soldPrice": { "amount": "100.00" }, "status": "SOLD" })
    );
    let conn = shop.app.db.conn();
    let tamper = conn
        .execute_raw(Statement::from_string(
            conn.get_database_backend(),
            "UPDATE products SET sold_price_minor = 1 WHERE status = 'SOLD'",
        ))
        .await;
    assert!(format!("{:?}", tamper.expect_err("refused")).contains("locked"));
    let relist = shop
        .call(
            &staff,
            "mutation($p: ID!) { updateProduct(id: $p, input: { status: ACTIVE }) { status } }",
            json!({ "p": product }),
        )
        .await;
    assert_eq!(relist["errors"][0]["extensions"]["code"], "CONFLICT", "a sold piece's status belongs to its order");

    let refunded = shop.ok(&staff, "mutation($o: ID!) { refundOrder(id: $o) { status } }", json!({ "o": order })).await;
    assert_eq!(refunded["refundOrder"]["status"], "REFUNDED");
    let back = shop.product(shop.unique.id).await;
    assert_eq!((back.status, back.stock, back.sold_price_minor), (entity::ProductStatus::Active, 1, None));
    let line = shop
        .ok(&staff, "query($o: ID!) { order(id: $o) { lines { unitPrice { amount } } } }", json!({ "o": order }))
        .await;
    assert_eq!(line["order"]["lines"][0]["unitPrice"]["amount"], "100.00", "the order keeps what was paid");
}

async fn orders_move_only_along_legal_transitions_and_vendors_ship_their_part(store: Store) {
    let shop = Shop::open(store).await;
    let customer = As::user(&shop.customer);
    let staff = As::user(&shop.staff);
    let vendor = As::user(&shop.vendor);
    let cart = shop.cart_of(&customer).await;
    shop.add(&customer, &cart, &shop.unique, 1).await;
    shop.add(&customer, &cart, &shop.multi, 1).await;
    let placed = shop.checkout(&customer, &cart, "legal-0001").await;
    let order = placed["data"]["checkout"]["id"].as_str().unwrap().to_owned();
    let o = json!({ "o": order });

    for (who, mutation, code) in [
        (&staff, "mutation($o: ID!) { completeOrder(id: $o) { status } }", "CONFLICT"),
        (&staff, "mutation($o: ID!) { refundOrder(id: $o) { status } }", "CONFLICT"),
        (&customer, "mutation($o: ID!) { refundOrder(id: $o) { status } }", "FORBIDDEN"),
    ] {
        assert_eq!(shop.refused(who, mutation, o.clone()).await.0, code, "{mutation}");
    }
    let own = shop.ok(&vendor, "{ fulfilments(first: 10) { edges { node { id status lines { sku } shippingAddress { city } orderStatus } } } }", json!({})).await;
    let edges = own["fulfilments"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1, "a vendor sees only its own part");
    assert_eq!(edges[0]["node"]["lines"], json!([{ "sku": "FX-0001" }]));
    assert_eq!(edges[0]["node"]["shippingAddress"]["city"], "Paris");
    let own_part = edges[0]["node"]["id"].as_str().unwrap().to_owned();
    let ship = "mutation($f: ID!) { shipFulfilment(id: $f, trackingNumber: \"TRK-1\") { status trackingNumber } }";
    assert_eq!(shop.refused(&vendor, ship, json!({ "f": own_part })).await.0, "CONFLICT", "unpaid orders do not ship");
    assert_eq!(shop.refused(&vendor, "query($o: ID!) { order(id: $o) { id } }", o.clone()).await.0, "NOT_FOUND");

    shop.pay(&customer, &order, "test_card", "pay-legal-0001").await;
    let all = shop.ok(&staff, "{ fulfilments(first: 10) { edges { node { id vendorId } } } }", json!({})).await;
    let other_part =
        all["fulfilments"]["edges"].as_array().unwrap().iter().find(|e| e["node"]["id"] != own_part.as_str()).unwrap()
            ["node"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    assert_eq!(shop.refused(&vendor, ship, json!({ "f": other_part })).await.0, "NOT_FOUND", "another vendor's part");
    let long = shop
        .call(
            &vendor,
            "mutation($f: ID!, $t: String) { shipFulfilment(id: $f, trackingNumber: $t) { status } }",
            json!({ "f": own_part, "t": "T".repeat(101) }),
        )
        .await;
    assert_eq!(long["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "tracking numbers are bounded");
    let reason = shop
        .call(
            &staff,
            "mutation($o: ID!, $r: String!) { cancelOrder(id: $o, reason: $r) { status } }",
            json!({ "o": order, "r": "r".repeat(301) }),
        )
        .await;
    assert_eq!(reason["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "reasons are bounded");
    let shipped = shop.ok(&vendor, ship, json!({ "f": own_part })).await;
    assert_eq!(shipped["shipFulfilment"], json!({ "status": "FULFILLED", "trackingNumber": "TRK-1" }));
    assert_eq!(shop.refused(&vendor, ship, json!({ "f": own_part })).await.0, "CONFLICT", "shipped once");
    let status = shop.ok(&customer, "query($o: ID!) { order(id: $o) { status } }", o.clone()).await;
    assert_eq!(status["order"]["status"], "PAID", "one part still to ship");
    shop.ok(&staff, ship, json!({ "f": other_part })).await;
    let status = shop.ok(&customer, "query($o: ID!) { order(id: $o) { status } }", o.clone()).await;
    assert_eq!(status["order"]["status"], "FULFILLED");
    assert_eq!(
        shop.refused(&staff, "mutation($o: ID!) { cancelOrder(id: $o) { status } }", o.clone()).await.0,
        "CONFLICT"
    );
    let done = shop.ok(&staff, "mutation($o: ID!) { completeOrder(id: $o) { status } }", o.clone()).await;
    assert_eq!(done["completeOrder"]["status"], "COMPLETED");
    assert_eq!(
        shop.refused(&staff, "mutation($o: ID!) { completeOrder(id: $o) { status } }", o.clone()).await.0,
        "CONFLICT"
    );
    let refunded = shop.ok(&staff, "mutation($o: ID!) { refundOrder(id: $o) { status } }", o.clone()).await;
    assert_eq!(refunded["refundOrder"]["status"], "REFUNDED");
    assert_eq!(
        shop.refused(&staff, "mutation($o: ID!) { refundOrder(id: $o) { status } }", o).await.0,
        "CONFLICT",
        "refunded once"
    );
    assert_eq!(shop.product(shop.multi.id).await.stock, 5, "the refund returned the unit");
}

async fn unpaid_orders_expire_and_release_their_stock(store: Store) {
    let shop = Shop::open_with(store, |s| {
        s.orders.unpaid_ttl_seconds = 0;
        s.orders.expiry_sweep_seconds = 1;
    })
    .await;
    let customer = As::user(&shop.customer);
    let order = place(&shop, &customer, &shop.unique, 1, "expire-0001").await;
    let mut status = Value::Null;
    for _ in 0..100 {
        let read = shop.ok(&customer, "query($o: ID!) { order(id: $o) { status } }", json!({ "o": order })).await;
        status = read["order"]["status"].clone();
        if status == "CANCELLED" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, "CANCELLED", "the sweeper cancels an unpaid order past its time");
    let back = shop.product(shop.unique.id).await;
    assert_eq!((back.status, back.stock), (entity::ProductStatus::Active, 1));
    let late = shop.pay(&customer, &order, "test_card", "pay-expire-0001").await;
    assert_eq!(late["errors"][0]["extensions"]["code"], "CONFLICT", "an expired order cannot be paid");
    assert_eq!(shop.count("stock_movements WHERE reason = 'CANCEL'").await, 1, "released exactly once");
}

async fn bad_stock_changes_are_refused_and_write_nothing(store: Store) {
    let shop = Shop::open(store).await;
    let staff = As::user(&shop.staff);
    let adjust = "mutation($p: ID!, $d: Int!, $r: MovementReason!, $n: String!) {
        adjustStock(productId: $p, delta: $d, reason: $r, note: $n) { stock } }";
    let multi = gid(NodeType::Product, shop.multi.id);
    let unique = gid(NodeType::Product, shop.unique.id);
    let long_note = "n".repeat(301);
    for (product, delta, reason, note, code) in [
        (&multi, 0, "RESTOCK", "", "BAD_USER_INPUT"),
        (&multi, 100_001, "RESTOCK", "", "BAD_USER_INPUT"),
        (&multi, 1, "SALE", "", "BAD_USER_INPUT"),
        (&multi, 1, "RESTOCK", long_note.as_str(), "BAD_USER_INPUT"),
        (&multi, -6, "ADJUSTMENT", "", "OUT_OF_STOCK"),
        (&unique, 1, "RESTOCK", "", "BAD_USER_INPUT"),
    ] {
        let (got, message) =
            shop.refused(&staff, adjust, json!({ "p": product, "d": delta, "r": reason, "n": note })).await;
        assert_eq!(got, code, "{delta} {reason}: {message}");
    }
    assert_eq!((shop.product(shop.multi.id).await.stock, shop.product(shop.unique.id).await.stock), (5, 1));
    assert_eq!(shop.count("stock_movements").await, 3, "only the three opening rows");
    assert_eq!(shop.count("product_audit").await, 3, "only the three creations");
}
