//! Holds on one-of-a-kind pieces: the first cart holds the piece, others see it reserved until
//! the hold lapses, holds are bounded, and subscribers hear of them.

use aeternum::graphql::ids::NodeType;
use serde_json::{Value, json};

use crate::helpers::{Store, error_codes};
use crate::realtime::{next_of, ready, subscriber};
use crate::shop::{As, Shop, gid};

store_tests!(
    of_two_shoppers_racing_for_one_piece_exactly_one_holds_it,
    a_lapsed_hold_is_no_hold_and_the_holder_checks_out_within_its_hold,
    holds_are_bounded_per_guest,
    subscribers_hear_a_hold_taken_and_released,
);

const STATUS: &str = "query($p: ID!) { product(id: $p) { status heldUntil } }";

async fn seen_by_anyone(shop: &Shop, product: &entity::product::Model) -> Value {
    shop.ok(&As::default(), STATUS, json!({ "p": gid(NodeType::Product, product.id) })).await["product"].clone()
}

async fn of_two_shoppers_racing_for_one_piece_exactly_one_holds_it(store: Store) {
    let shop = Shop::open(store).await;
    for round in 0..3 {
        let (first_cart, first) = shop.guest_cart().await;
        let (second_cart, second) = shop.guest_cart().await;
        let (a, b) = tokio::join!(
            shop.add(&first, &first_cart, &shop.unique, 1),
            shop.add(&second, &second_cart, &shop.unique, 1)
        );
        let mut outcomes = [error_codes(&a), error_codes(&b)];
        outcomes.sort();
        assert_eq!(outcomes, [vec![], vec!["OUT_OF_STOCK".to_owned()]], "round {round}: {a} {b}");
        let seen = seen_by_anyone(&shop, &shop.unique).await;
        assert_eq!(seen["status"], "RESERVED", "{seen}");
        assert!(seen["heldUntil"].is_string(), "{seen}");
        // The winner lets go, for the next round.
        let (cart, winner) = if error_codes(&a).is_empty() { (first_cart, first) } else { (second_cart, second) };
        let removed =
            shop.call(&winner, "mutation($c: ID!) { clearCart(cartId: $c) { itemCount } }", json!({ "c": cart })).await;
        assert!(removed.get("errors").is_none(), "{removed}");
        assert_eq!(seen_by_anyone(&shop, &shop.unique).await, json!({ "status": "ACTIVE", "heldUntil": null }));
    }
}

async fn a_lapsed_hold_is_no_hold_and_the_holder_checks_out_within_its_hold(store: Store) {
    let shop = Shop::open(store).await;
    let (early_cart, early) = shop.guest_cart().await;
    assert!(error_codes(&shop.add(&early, &early_cart, &shop.unique, 1).await).is_empty());
    // The hold lapses (its time is moved into the past); nothing has to run for it to end.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let past = chrono::Utc::now() - chrono::Duration::seconds(1);
    entity::product::Entity::update_many()
        .col_expr(entity::product::Column::HeldUntil, Expr::value(past))
        .filter(entity::product::Column::Id.eq(shop.unique.id))
        .exec(shop.app.db.conn())
        .await
        .unwrap();
    assert_eq!(seen_by_anyone(&shop, &shop.unique).await, json!({ "status": "ACTIVE", "heldUntil": null }));

    // Another shopper takes it; the first one's checkout is refused and writes nothing.
    let (cart, late) = shop.guest_cart().await;
    assert!(error_codes(&shop.add(&late, &cart, &shop.unique, 1).await).is_empty());
    let orders = shop.count("orders").await;
    let refused = shop.checkout(&early, &early_cart, "lapsed-0001").await;
    assert_eq!(error_codes(&refused), ["OUT_OF_STOCK"], "{refused}");
    assert_eq!(shop.count("orders").await, orders, "nothing was written");

    // The holder checks out within its hold: the order reserves the piece and the hold ends.
    let placed = shop.checkout(&late, &cart, "held-0001").await;
    assert_eq!(placed["data"]["checkout"]["status"], "PENDING_PAYMENT", "{placed}");
    let product = shop.product(shop.unique.id).await;
    assert_eq!((product.status, product.held_by_cart), (entity::ProductStatus::Reserved, None));
}

async fn holds_are_bounded_per_guest(store: Store) {
    let shop = Shop::open(store).await;
    let mut pieces = Vec::new();
    for n in 0..3 {
        let mut piece = crate::fixtures::new_product(20 + n, shop.unique.vendor_id, shop.unique.category_id);
        piece.one_of_a_kind = true;
        pieces.push(aeternum::catalog::editing::create_product(&shop.app.db, piece).await.unwrap());
    }
    let (cart, guest) = shop.guest_cart().await;
    for piece in &pieces[..2] {
        assert!(error_codes(&shop.add(&guest, &cart, piece, 1).await).is_empty());
    }
    let third = shop.add(&guest, &cart, &pieces[2], 1).await;
    assert_eq!(error_codes(&third), ["RATE_LIMITED"], "a guest holds two pieces at most: {third}");
    assert_eq!(seen_by_anyone(&shop, &pieces[2]).await["status"], "ACTIVE", "the third piece stays on sale");
    // Several units of an ordinary product are not held.
    assert!(error_codes(&shop.add(&guest, &cart, &shop.multi, 2).await).is_empty());
}

async fn subscribers_hear_a_hold_taken_and_released(store: Store) {
    let shop = Shop::open(store).await;
    let query = "subscription($p: ID!) { stockChanged(productId: $p) { level heldUntil } }";
    let variables = json!({ "p": gid(NodeType::Product, shop.unique.id) });
    let probe = shop.dollars.id;
    let mut ws = subscriber(&shop.app, None, probe, &[("piece", query, variables)]).await;
    ready(&shop.app, probe, &mut [&mut ws]).await;

    let (cart, guest) = shop.guest_cart().await;
    shop.add(&guest, &cart, &shop.unique, 1).await;
    let held = next_of(&mut ws, "piece").await;
    let event = &held["payload"]["data"]["stockChanged"];
    assert_eq!(event["level"], 1, "{held}");
    assert!(event["heldUntil"].is_string(), "a hold taken says until when: {held}");

    shop.call(
        &guest,
        "mutation($c: ID!, $p: ID!) { removeFromCart(cartId: $c, productId: $p) { itemCount } }",
        json!({ "c": cart, "p": gid(NodeType::Product, shop.unique.id) }),
    )
    .await;
    let released = next_of(&mut ws, "piece").await;
    assert_eq!(released["payload"]["data"]["stockChanged"], json!({ "level": 1, "heldUntil": null }), "{released}");
}
