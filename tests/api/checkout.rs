//! Checkout: the order and its snapshot lines, idempotency, and bad input that writes nothing.

use aeternum::catalog::editing::{ProductPatch, update_product};
use aeternum::money::{Currency, Money};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::helpers::Store;
use crate::responses::{Amount, Attribute, Order, typed};
use crate::shop::{As, ORDER, Shop, address, gid};
use aeternum::graphql::ids::NodeType;

store_tests!(
    checkout_writes_a_snapshot_split_per_vendor_and_takes_the_stock,
    order_lines_are_a_snapshot_the_catalog_cannot_change,
    the_same_idempotency_key_returns_the_same_order,
    bad_checkouts_are_refused_and_write_nothing,
    unpaid_holds_are_limited_per_visitor_account_and_address,
    amounts_past_the_largest_are_refused_and_nothing_is_written,
);

async fn amounts_past_the_largest_are_refused_and_nothing_is_written(store: Store) {
    let shop = Shop::open(store).await;
    let mut dear = crate::fixtures::new_product(9, shop.unique.vendor_id, shop.unique.category_id);
    dear.price = crate::fixtures::eur(aeternum::money::MAX_MINOR_UNITS);
    dear.stock = 5;
    let dear = aeternum::catalog::editing::create_product(&shop.app.db, dear).await.unwrap();
    let (cart, guest) = shop.guest_cart().await;
    let added = shop.add(&guest, &cart, &dear, 2).await;
    let codes = crate::helpers::error_codes(&added);
    assert!(codes.iter().all(|c| c == "BAD_USER_INPUT") && !codes.is_empty(), "the totals overflow: {added:#}");
    let placed = shop.checkout(&guest, &cart, "too-dear-0001").await;
    assert_eq!(crate::helpers::error_codes(&placed), ["BAD_USER_INPUT"], "{placed:#}");
    assert_eq!(shop.count("orders").await, 0);
    assert_eq!(shop.product(dear.id).await.stock, 5, "no stock was taken");
}

async fn unpaid_holds_are_limited_per_visitor_account_and_address(store: Store) {
    let shop = Shop::open_with(store, |s| {
        s.orders.max_unpaid_orders_per_visitor = 2;
        s.orders.max_unpaid_orders_per_ip = 3;
        s.orders.guest_unpaid_ttl_seconds = 300;
    })
    .await;
    // One guest cart holds at most two unpaid orders.
    let (cart, guest) = shop.guest_cart().await;
    let mut placed = Vec::new();
    for i in 0..3 {
        shop.add(&guest, &cart, &shop.multi, 1).await;
        placed.push(shop.checkout(&guest, &cart, &format!("hold-guest-{i:04}")).await);
    }
    assert!(placed[0]["data"]["checkout"]["id"].is_string() && placed[1]["data"]["checkout"]["id"].is_string());
    assert_eq!(placed[2]["errors"][0]["extensions"]["code"], "RATE_LIMITED", "{:#}", placed[2]);
    let expires = placed[0]["data"]["checkout"]["expiresAt"].as_str().map(str::to_owned);
    let expires = chrono::DateTime::parse_from_rfc3339(&expires.unwrap()).unwrap();
    let hold = expires.signed_duration_since(chrono::Utc::now()).num_seconds();
    assert!((200..=300).contains(&hold), "a guest's hold lasts the guest setting, not 30 minutes: {hold}s");

    // A new cart from the same address gets one more, then the address is at its limit.
    let (second, other) = shop.guest_cart().await;
    shop.add(&other, &second, &shop.dollars, 1).await;
    let third = shop.checkout(&other, &second, "hold-guest-0100").await;
    assert!(third["data"]["checkout"]["id"].is_string(), "{third:#}");
    let (fourth_cart, fourth) = shop.guest_cart().await;
    shop.add(&fourth, &fourth_cart, &shop.dollars, 1).await;
    let refused = shop.checkout(&fourth, &fourth_cart, "hold-guest-0200").await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    assert_eq!(shop.count("orders").await, 3, "nothing was written for the refused checkouts");
    assert_eq!(shop.product(shop.dollars.id).await.stock, 9, "and no stock was held");

    // Paying releases a slot: the limit counts unpaid orders only.
    let first = placed[0]["data"]["checkout"]["id"].as_str().unwrap();
    let paid = shop.pay(&guest, first, "test_card", "hold-pay-0001").await;
    assert_eq!(paid["data"]["payOrder"]["status"], "CAPTURED", "{paid:#}");
    let again = shop.checkout(&fourth, &fourth_cart, "hold-guest-0201").await;
    assert!(again["data"]["checkout"]["id"].is_string(), "{again:#}");
}

async fn checkout_writes_a_snapshot_split_per_vendor_and_takes_the_stock(store: Store) {
    let shop = Shop::open(store).await;
    let (cart, guest) = shop.guest_cart().await;
    shop.add(&guest, &cart, &shop.unique, 1).await;
    shop.add(&guest, &cart, &shop.multi, 2).await;
    let response = shop.checkout(&guest, &cart, "checkout-0001").await;
    let order: Order = typed(&response["data"]["checkout"]);
    assert_eq!(order.status, "PENDING_PAYMENT", "{response:#}");
    let euros = |amount: &str, minor| Amount {
        amount: amount.into(),
        currency_code: Some("EUR".into()),
        minor_units: Some(minor),
    };
    assert_eq!(order.total, euros("150.00", 15_000));
    assert_eq!(order.subtotal.amount, "150.00", "no shipping or tax yet");
    assert!(order.expires_at.is_some(), "an unpaid order holds its stock until a deadline");
    assert_eq!(order.email, "guest@example.com");
    let to = &order.shipping_address;
    assert_eq!(
        [to.name.as_str(), &to.line1, &to.city, &to.postal_code, &to.country],
        ["Ada Lovelace", "12 rue de Rivoli", "Paris", "75004", "FR"]
    );
    assert_eq!(order.lines.len(), 2);
    let dress = order.lines.iter().find(|l| l.sku == "FX-0001").unwrap();
    assert_eq!(dress.title, "Silk evening dress");
    assert_eq!(dress.product_id, gid(NodeType::Product, shop.unique.id));
    assert_eq!((dress.quantity, dress.unit_price.amount.as_str()), (1, "100.00"));
    let scarves = order.lines.iter().find(|l| l.sku != "FX-0001").unwrap();
    assert_eq!((scarves.quantity, scarves.line_total.amount.as_str()), (2, "50.00"));
    assert_eq!(dress.image_url.as_deref(), Some("https://images.example.com/1/0.jpg"));
    assert_eq!(dress.vendor_name, "Vendor atelier");
    let attribute = |name: &str, value: &str| Attribute { name: name.into(), value: value.into() };
    assert!(dress.attributes.contains(&attribute("brand", "Prada")));
    assert!(dress.attributes.contains(&attribute("condition", "VERY_GOOD")));
    assert_eq!(order.fulfilments.len(), 2, "one part per vendor");
    assert!(order.fulfilments.iter().all(|f| f.status == "PENDING" && f.lines.len() == 1));
    let part_of = |sku: &str| order.fulfilments.iter().find(|f| f.lines[0].sku == sku).unwrap();
    let (dress_part, scarf_part) = (part_of("FX-0001"), part_of(&scarves.sku));
    assert_ne!(dress_part.vendor_id, scarf_part.vendor_id);
    assert_ne!(dress_part.id, scarf_part.id);
    assert_eq!((dress_part.subtotal.amount.as_str(), scarf_part.subtotal.amount.as_str()), ("100.00", "50.00"));
    assert!(order.payments.is_empty(), "nothing is charged at checkout");

    let unique = shop.product(shop.unique.id).await;
    assert_eq!((unique.stock, unique.status), (0, entity::ProductStatus::Reserved));
    assert_eq!(shop.product(shop.multi.id).await.stock, 3);
    let cart_now = shop.ok(&guest, "query($c: ID!) { cart(id: $c) { itemCount } }", json!({ "c": cart })).await;
    assert_eq!(cart_now["cart"]["itemCount"], 0, "the cart is emptied");

    // The guest reads the order with the cart's token; nobody else can.
    let id = order.id.as_str();
    let read = shop.ok(&guest, "query($o: ID!) { order(id: $o) { status } }", json!({ "o": id })).await;
    assert_eq!(read["order"]["status"], "PENDING_PAYMENT");
    for who in [As::default(), As::user(&shop.customer), As::user(&shop.vendor)] {
        let response = shop.call(&who, "query($o: ID!) { order(id: $o) { status } }", json!({ "o": id })).await;
        assert_eq!(response["errors"][0]["extensions"]["code"], "NOT_FOUND");
    }
    let staff = shop.ok(&As::user(&shop.staff), "query($o: ID!) { order(id: $o) { email } }", json!({ "o": id })).await;
    assert_eq!(staff["order"]["email"], "guest@example.com");

    // A customer's order defaults to the account's email and is listed for them.
    let customer = As::user(&shop.customer);
    let mine = shop.cart_of(&customer).await;
    shop.add(&customer, &mine, &shop.dollars, 2).await;
    let placed = shop.checkout(&customer, &mine, "checkout-0002").await;
    assert_eq!(placed["data"]["checkout"]["email"], "ada@example.com");
    let listed = shop
        .ok(&customer, "{ orders(first: 10) { edges { node { total { amount currencyCode } } } } }", json!({}))
        .await;
    assert_eq!(
        listed["orders"]["edges"],
        json!([{ "node": { "total": { "amount": "80.00", "currencyCode": "USD" } } }])
    );
    let all = shop.ok(&As::user(&shop.staff), "{ orders(first: 10) { edges { cursor } } }", json!({})).await;
    assert_eq!(all["orders"]["edges"].as_array().unwrap().len(), 2, "staff see every order");
}

async fn order_lines_are_a_snapshot_the_catalog_cannot_change(store: Store) {
    let shop = Shop::open(store).await;
    let customer = As::user(&shop.customer);
    let cart = shop.cart_of(&customer).await;
    shop.add(&customer, &cart, &shop.multi, 1).await;
    let placed = shop.checkout(&customer, &cart, "snapshot-0001").await;
    let order_id = placed["data"]["checkout"]["id"].as_str().unwrap().to_owned();
    let before = placed["data"]["checkout"]["lines"].clone();

    let edit = ProductPatch {
        title: Some("Renamed scarf".into()),
        price: Some(Money::from_minor(9_900, Currency::parse("EUR").unwrap())),
        ..ProductPatch::default()
    };
    update_product(&shop.app.db, shop.multi.id, edit, None).await.unwrap();
    let archive = ProductPatch { status: Some(entity::ProductStatus::Archived), ..ProductPatch::default() };
    update_product(&shop.app.db, shop.multi.id, archive, None).await.unwrap();

    let after = shop
        .ok(&customer, &format!("query($o: ID!) {{ order(id: $o) {{ {ORDER} }} }}"), json!({ "o": order_id }))
        .await;
    assert_eq!(after["order"]["lines"], before, "catalog edits leave the order's lines as they were");
    assert_eq!(after["order"]["lines"][0]["title"], "Cotton scarf");

    let conn = shop.app.db.conn();
    let backend = conn.get_database_backend();
    for sql in ["UPDATE order_lines SET unit_price_minor = 1", "DELETE FROM order_lines"] {
        let refused = conn.execute_raw(Statement::from_string(backend, sql)).await;
        let message = format!("{:?}", refused.expect_err("the database refuses"));
        assert!(message.contains("append-only"), "{sql}: {message}");
    }
    assert_eq!(shop.count("order_lines").await, 1);
}

async fn the_same_idempotency_key_returns_the_same_order(store: Store) {
    let shop = Shop::open(store).await;
    let customer = As::user(&shop.customer);
    let cart = shop.cart_of(&customer).await;
    shop.add(&customer, &cart, &shop.multi, 2).await;
    let first = shop.checkout(&customer, &cart, "idem-key-0001").await;
    let again = shop.checkout(&customer, &cart, "idem-key-0001").await;
    assert_eq!(first["data"]["checkout"]["id"], again["data"]["checkout"]["id"], "{again:#}");
    assert_eq!(shop.count("orders").await, 1);
    assert_eq!(shop.product(shop.multi.id).await.stock, 3, "stock was taken once");

    let other_address =
        json!({ "name": "Someone Else", "line1": "1 Main St", "city": "Lyon", "postalCode": "69001", "country": "FR" });
    let conflict = shop
        .call(
            &customer,
            "mutation($c: ID!, $a: AddressInput!) { checkout(cartId: $c, shippingAddress: $a, idempotencyKey: \"idem-key-0001\") { id } }",
            json!({ "c": cart, "a": other_address }),
        )
        .await;
    assert_eq!(conflict["errors"][0]["extensions"]["code"], "CONFLICT");
    assert_eq!(shop.count("orders").await, 1);
}

async fn bad_checkouts_are_refused_and_write_nothing(store: Store) {
    let shop = Shop::open(store).await;
    let customer = As::user(&shop.customer);
    let cart = shop.cart_of(&customer).await;
    let checkout = "mutation($c: ID!, $a: AddressInput!, $k: String!, $e: String) {
        checkout(cartId: $c, shippingAddress: $a, idempotencyKey: $k, email: $e) { id } }";
    let expect = |code: &'static str, cart: &str, address: serde_json::Value, key: &str| {
        (code, json!({ "c": cart, "a": address, "k": key }))
    };

    let (code, _) = shop.refused(&customer, checkout, expect("", &cart, address(), "empty-cart-01").1).await;
    assert_eq!(code, "BAD_USER_INPUT", "an empty cart");

    shop.add(&customer, &cart, &shop.multi, 2).await;
    let mut cases = vec![
        expect("BAD_USER_INPUT", &cart, address(), "short"),
        expect(
            "BAD_USER_INPUT",
            &cart,
            json!({ "name": "", "line1": "x", "city": "y", "postalCode": "1", "country": "FR" }),
            "key-00000001",
        ),
        expect(
            "BAD_USER_INPUT",
            &cart,
            json!({ "name": "A", "line1": "x", "city": "y", "postalCode": "1", "country": "France" }),
            "key-00000002",
        ),
        expect("BAD_USER_INPUT", "not-an-id", address(), "key-00000003"),
    ];
    let (_, guest) = shop.guest_cart().await;
    for (code, variables) in cases.drain(..) {
        assert_eq!(shop.refused(&customer, checkout, variables).await.0, code);
    }
    let foreign = shop
        .refused(&guest, checkout, json!({ "c": cart, "a": address(), "k": "foreign-0001", "e": "x@example.com" }))
        .await;
    assert_eq!(foreign.0, "NOT_FOUND", "someone else's cart");
    let missing = shop
        .call(&customer, "mutation($c: ID!) { checkout(cartId: $c, shippingAddress: { name: \"A\" }, idempotencyKey: \"key-00000004\") { id } }", json!({ "c": cart }))
        .await;
    assert_eq!(missing["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "missing address fields");

    // Currencies mixed in one cart.
    shop.add(&customer, &cart, &shop.dollars, 1).await;
    let (code, message) =
        shop.refused(&customer, checkout, json!({ "c": cart, "a": address(), "k": "mixed-0001" })).await;
    assert_eq!((code.as_str(), message.contains("EUR, USD")), ("BAD_USER_INPUT", true), "{message}");
    shop.ok(
        &customer,
        "mutation($c: ID!, $p: ID!) { removeFromCart(cartId: $c, productId: $p) { itemCount } }",
        json!({ "c": cart, "p": crate::shop::gid(aeternum::graphql::ids::NodeType::Product, shop.dollars.id) }),
    )
    .await;

    // The price moved since the shopper accepted it.
    let reprice = ProductPatch {
        price: Some(Money::from_minor(2_600, Currency::parse("EUR").unwrap())),
        ..ProductPatch::default()
    };
    update_product(&shop.app.db, shop.multi.id, reprice, None).await.unwrap();
    let changed = shop.call(&customer, checkout, json!({ "c": cart, "a": address(), "k": "price-0001" })).await;
    assert_eq!(changed["errors"][0]["extensions"]["code"], "PRICE_CHANGED");
    assert_eq!(
        changed["errors"][0]["extensions"]["ids"][0],
        crate::shop::gid(aeternum::graphql::ids::NodeType::Product, shop.multi.id)
    );

    // Stock taken by someone else meanwhile.
    shop.ok(&customer, "mutation($c: ID!) { acceptCartPrices(cartId: $c) { itemCount } }", json!({ "c": cart })).await;
    let sold_elsewhere = ProductPatch { stock: Some(1), ..ProductPatch::default() };
    update_product(&shop.app.db, shop.multi.id, sold_elsewhere, None).await.unwrap();
    let short = shop.refused(&customer, checkout, json!({ "c": cart, "a": address(), "k": "stock-0001" })).await;
    assert_eq!(short.0, "OUT_OF_STOCK");

    assert_eq!(shop.count("orders").await, 0);
    assert_eq!(shop.count("order_lines").await, 0);
    assert_eq!(shop.count("fulfilments").await, 0);
    assert_eq!(shop.count("stock_movements WHERE reason = 'SALE'").await, 0);
    assert_eq!(shop.product(shop.multi.id).await.stock, 1);
    let still = shop.ok(&customer, "{ myCart { itemCount } }", json!({})).await;
    assert_eq!(still["myCart"]["itemCount"], 2, "the cart is kept");
}
