//! Carts: guest and customer carts, server-side totals, flagged lines, bounds, ownership, and
//! the merge at sign-in.

use aeternum::catalog::editing::{ProductPatch, update_product};
use aeternum::graphql::ids::NodeType;
use aeternum::money::{Currency, Money};
use serde_json::json;

use crate::helpers::Store;
use crate::shop::{As, CART, PASSWORD, Shop, gid};

store_tests!(
    a_guest_cart_adds_changes_removes_and_clears,
    totals_are_per_currency_and_problems_are_flagged,
    bad_quantities_and_foreign_carts_are_refused,
    a_guest_cart_merges_into_the_customer_cart_at_sign_in,
);

async fn a_guest_cart_adds_changes_removes_and_clears(store: Store) {
    let shop = Shop::open(store).await;
    let (cart, guest) = shop.guest_cart().await;
    let added = shop.add(&guest, &cart, &shop.multi, 2).await;
    assert_eq!(added["data"]["addToCart"]["itemCount"], 2);
    assert_eq!(added["data"]["addToCart"]["totals"], json!([{ "amount": "50.00", "currencyCode": "EUR" }]));
    let again = shop.add(&guest, &cart, &shop.multi, 1).await;
    assert_eq!(again["data"]["addToCart"]["lines"][0]["quantity"], 3, "adding again adds up");

    let set = shop
        .ok(
            &guest,
            &format!(
                "mutation($c: ID!, $p: ID!) {{ updateCartLine(cartId: $c, productId: $p, quantity: 1) {{ {CART} }} }}"
            ),
            json!({ "c": cart, "p": gid(NodeType::Product, shop.multi.id) }),
        )
        .await;
    assert_eq!(set["updateCartLine"]["lines"][0]["lineTotal"]["amount"], "25.00");
    shop.add(&guest, &cart, &shop.unique, 1).await;
    let removed = shop
        .ok(
            &guest,
            "mutation($c: ID!, $p: ID!) { removeFromCart(cartId: $c, productId: $p) { itemCount lines { product { sku } } } }",
            json!({ "c": cart, "p": gid(NodeType::Product, shop.multi.id) }),
        )
        .await;
    assert_eq!(removed["removeFromCart"], json!({ "itemCount": 1, "lines": [{ "product": { "sku": "FX-0001" } }] }));

    let read =
        shop.ok(&guest, "query($c: ID!) { cart(id: $c) { itemCount readyForCheckout } }", json!({ "c": cart })).await;
    assert_eq!(read["cart"], json!({ "itemCount": 1, "readyForCheckout": true }), "the cart persists");
    let cleared = shop
        .ok(
            &guest,
            "mutation($c: ID!) { clearCart(cartId: $c) { itemCount lines { quantity } } }",
            json!({ "c": cart }),
        )
        .await;
    assert_eq!(cleared["clearCart"], json!({ "itemCount": 0, "lines": [] }));
}

async fn totals_are_per_currency_and_problems_are_flagged(store: Store) {
    let shop = Shop::open(store).await;
    let customer = As::user(&shop.customer);
    let cart = shop.cart_of(&customer).await;
    shop.add(&customer, &cart, &shop.multi, 2).await;
    shop.add(&customer, &cart, &shop.unique, 1).await;
    let mixed = shop.add(&customer, &cart, &shop.dollars, 3).await;
    assert_eq!(
        mixed["data"]["addToCart"]["totals"],
        json!([{ "amount": "150.00", "currencyCode": "EUR" }, { "amount": "120.00", "currencyCode": "USD" }])
    );
    assert_eq!(mixed["data"]["addToCart"]["readyForCheckout"], false, "two currencies cannot be one order");

    // The piece is archived and the scarf repriced behind the shopper's back.
    let archive = ProductPatch { status: Some(entity::ProductStatus::Archived), ..ProductPatch::default() };
    update_product(&shop.app.db, shop.unique.id, archive, None).await.unwrap();
    let reprice = ProductPatch {
        price: Some(Money::from_minor(3_000, Currency::parse("EUR").unwrap())),
        ..ProductPatch::default()
    };
    update_product(&shop.app.db, shop.multi.id, reprice, None).await.unwrap();

    let read = shop.ok(&customer, &format!("{{ myCart {{ {CART} }} }}"), json!({})).await;
    let lines = &read["myCart"]["lines"];
    assert_eq!(lines.as_array().unwrap().len(), 3, "an unavailable line is flagged, not dropped");
    assert_eq!(lines[0]["problem"], "PRICE_CHANGED");
    assert_eq!(lines[0]["unitPrice"]["amount"], "30.00");
    assert_eq!(lines[0]["acceptedUnitPrice"]["amount"], "25.00");
    assert_eq!(lines[1]["problem"], "UNAVAILABLE");
    assert_eq!(lines[2]["problem"], serde_json::Value::Null);
    assert_eq!(
        read["myCart"]["totals"],
        json!([{ "amount": "60.00", "currencyCode": "EUR" }, { "amount": "120.00", "currencyCode": "USD" }]),
        "totals use current prices and leave unavailable lines out"
    );
    let accepted = shop
        .ok(&customer, "mutation($c: ID!) { acceptCartPrices(cartId: $c) { lines { problem } } }", json!({ "c": cart }))
        .await;
    assert_eq!(accepted["acceptCartPrices"]["lines"][0]["problem"], serde_json::Value::Null);
}

async fn bad_quantities_and_foreign_carts_are_refused(store: Store) {
    let shop = Shop::open(store).await;
    let (cart, guest) = shop.guest_cart().await;
    for quantity in [0, -1, 100, 1_000_000] {
        let response = shop.add(&guest, &cart, &shop.multi, quantity).await;
        assert_eq!(response["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "quantity {quantity}");
    }
    let response = shop.add(&guest, &cart, &shop.multi, 6).await;
    assert_eq!(response["errors"][0]["extensions"]["code"], "OUT_OF_STOCK", "five in stock");
    let response = shop.add(&guest, &cart, &shop.unique, 2).await;
    assert_eq!(response["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    shop.add(&guest, &cart, &shop.unique, 1).await;
    let response = shop.add(&guest, &cart, &shop.unique, 1).await;
    assert_eq!(response["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "one-of-a-kind: once per cart");
    let unknown = shop
        .call(
            &guest,
            "mutation($c: ID!, $p: ID!) { addToCart(cartId: $c, productId: $p) { itemCount } }",
            json!({ "c": cart, "p": gid(NodeType::Product, uuid::Uuid::now_v7()) }),
        )
        .await;
    assert_eq!(unknown["errors"][0]["extensions"]["code"], "NOT_FOUND");

    // Someone else's cart, without or with the wrong token, is not found; so is a customer's.
    let (_, other_guest) = shop.guest_cart().await;
    for who in [As::default(), other_guest, As::user(&shop.customer)] {
        let response = shop.add(&who, &cart, &shop.multi, 1).await;
        assert_eq!(response["errors"][0]["extensions"]["code"], "NOT_FOUND");
        let read = shop.call(&who, "query($c: ID!) { cart(id: $c) { id } }", json!({ "c": cart })).await;
        assert_eq!(read["errors"][0]["extensions"]["code"], "NOT_FOUND");
    }
    let mine = shop.cart_of(&As::user(&shop.customer)).await;
    let response = shop.add(&As::user(&shop.staff), &mine, &shop.multi, 1).await;
    assert_eq!(response["errors"][0]["extensions"]["code"], "NOT_FOUND");

    let read = shop.ok(&guest, "query($c: ID!) { cart(id: $c) { itemCount } }", json!({ "c": cart })).await;
    assert_eq!(read["cart"]["itemCount"], 1, "refused changes wrote nothing");
    assert_eq!(shop.count("cart_lines").await, 1);
}

async fn a_guest_cart_merges_into_the_customer_cart_at_sign_in(store: Store) {
    let shop = Shop::open(store).await;
    let customer = As::user(&shop.customer);
    let mine = shop.cart_of(&customer).await;
    shop.add(&customer, &mine, &shop.multi, 1).await;
    shop.add(&customer, &mine, &shop.unique, 1).await;

    let (guest_cart, guest) = shop.guest_cart().await;
    shop.add(&guest, &guest_cart, &shop.multi, 2).await;
    shop.add(&guest, &guest_cart, &shop.unique, 1).await;
    shop.add(&guest, &guest_cart, &shop.dollars, 4).await;

    let signed_in = shop
        .ok(
            &guest,
            "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { accessToken } }",
            json!({ "e": "ada@example.com", "p": PASSWORD }),
        )
        .await;
    let token = signed_in["signIn"]["accessToken"].as_str().unwrap();
    let merged = shop.ok(&As::user(token), "{ myCart { id lines { quantity product { sku } } } }", json!({})).await;
    assert_eq!(merged["myCart"]["id"], mine.as_str());
    assert_eq!(
        merged["myCart"]["lines"],
        json!([
            { "quantity": 3, "product": { "sku": "FX-0002" } },
            { "quantity": 1, "product": { "sku": "FX-0001" } },
            { "quantity": 4, "product": { "sku": "FX-0003" } },
        ]),
        "quantities add up, a one-of-a-kind piece stays single"
    );
    let gone = shop.call(&guest, "query($c: ID!) { cart(id: $c) { id } }", json!({ "c": guest_cart })).await;
    assert_eq!(gone["errors"][0]["extensions"]["code"], "NOT_FOUND", "the guest cart is merged away");
}
