//! Concurrent checkouts: the last unit goes to exactly one buyer, stock never goes negative,
//! and mixed carts racing for the same products finish without deadlock.

use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::Store;
use crate::shop::{As, Shop};

store_tests!(
    fifty_buyers_of_one_piece_make_exactly_one_order,
    mixed_carts_race_without_deadlock,
    concurrent_cart_changes_all_succeed,
);

/// The last unit of an ordinary product: any number of carts may want it (a unique piece would
/// be held by the first cart that takes it, see `holds.rs`).
async fn last_unit(shop: &Shop) -> entity::product::Model {
    let mut last = crate::fixtures::new_product(40, shop.unique.vendor_id, shop.unique.category_id);
    last.stock = 1;
    aeternum::catalog::editing::create_product(&shop.app.db, last).await.unwrap()
}

/// Opens `n` guest carts holding `products` (one unit each).
async fn carts(shop: &Shop, n: usize, products: &[&entity::product::Model]) -> Vec<(String, As)> {
    let mut carts = Vec::with_capacity(n);
    for _ in 0..n {
        let (cart, guest) = shop.guest_cart().await;
        for product in products {
            let added = shop.add(&guest, &cart, product, 1).await;
            assert!(added.get("errors").is_none(), "{added:#}");
        }
        carts.push((cart, guest));
    }
    carts
}

async fn fifty_buyers_of_one_piece_make_exactly_one_order(store: Store) {
    let shop = Shop::open(store).await;
    let piece = last_unit(&shop).await;
    let buyers = carts(&shop, 50, &[&piece]).await;
    let attempts = buyers.iter().enumerate().map(|(i, (cart, guest))| {
        let shop = &shop;
        async move { shop.checkout(guest, cart, &format!("race-{i:04}-key")).await }
    });
    let results = join_all(attempts).await;
    let won: Vec<_> = results.iter().filter(|r| r["data"]["checkout"]["id"].is_string()).collect();
    let lost: Vec<_> = results.iter().filter_map(|r| r["errors"][0]["extensions"]["code"].as_str()).collect();
    assert_eq!(won.len(), 1, "exactly one order: {:#}", json!(results.iter().take(3).collect::<Vec<_>>()));
    assert_eq!(lost, vec!["OUT_OF_STOCK"; 49], "every other buyer is told the piece is gone");
    let piece = shop.product(piece.id).await;
    assert_eq!(piece.stock, 0);
    assert_eq!(shop.count("orders").await, 1);
    assert_eq!(shop.count("stock_movements WHERE reason = 'SALE'").await, 1);
    assert_eq!(shop.count("stock_movements WHERE stock_after < 0").await, 0);
}

async fn mixed_carts_race_without_deadlock(store: Store) {
    let shop = Shop::open(store).await;
    // Ten carts want the five scarves; half of them also want the last unit, added before the
    // scarf in some carts and after it in others, so the carts cross over the same rows.
    let last = last_unit(&shop).await;
    let mut buyers = carts(&shop, 3, &[&last, &shop.multi]).await;
    buyers.extend(carts(&shop, 2, &[&shop.multi, &last]).await);
    buyers.extend(carts(&shop, 5, &[&shop.multi]).await);
    let attempts = buyers.iter().enumerate().map(|(i, (cart, guest))| {
        let shop = &shop;
        async move { shop.checkout(guest, cart, &format!("mixed-{i:04}-key")).await }
    });
    let results = join_all(attempts).await;
    let codes: Vec<_> = results.iter().filter_map(|r| r["errors"][0]["extensions"]["code"].as_str()).collect();
    assert!(codes.iter().all(|c| *c == "OUT_OF_STOCK"), "only clean refusals, no deadlock: {codes:?}");
    let orders = results.iter().filter(|r| r["data"]["checkout"]["id"].is_string()).count();
    let scarf = shop.product(shop.multi.id).await;
    let piece = shop.product(last.id).await;
    assert_eq!(orders, 5, "five scarves, five orders");
    assert_eq!(scarf.stock, 0);
    assert!(piece.stock == 0, "the piece went to one of the orders");
    assert_eq!(shop.count("orders").await, 5);
    assert_eq!(shop.count("stock_movements WHERE reason = 'SALE'").await, 6, "five scarves and one piece");
}

async fn concurrent_cart_changes_all_succeed(store: Store) {
    let shop = Shop::open(store).await;
    let mut guests = Vec::new();
    for _ in 0..30 {
        guests.push(shop.guest_cart().await);
    }
    // Reads before writes in one transaction would fail under contention on SQLite (a busy
    // snapshot); every cart change writes first, so all of these go through.
    let changes = guests.iter().map(|(cart, guest)| shop.add(guest, cart, &shop.dollars, 1));
    let results = join_all(changes).await;
    let failed: Vec<_> = results.iter().filter(|r| r.get("errors").is_some()).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(shop.count("cart_lines").await, 30);
}
