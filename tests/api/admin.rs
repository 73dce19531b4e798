//! The admin dashboard: exact figures over a known set of orders, on both stores, scoped to a
//! vendor for vendors, and refused to others.

use aeternum::catalog::editing::{ProductPatch, update_product};
use aeternum::graphql::ids::NodeType;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};

use crate::helpers::{Store, error_codes};
use crate::shop::{As, Shop, gid};

store_tests!(
    the_dashboard_adds_up_a_known_set_of_orders,
    vendors_see_their_own_figures_and_customers_none,
    an_empty_period_is_zero_and_bad_periods_are_refused,
    the_dashboard_updates_live_when_an_order_is_paid,
);

const DASHBOARD: &str = "query($p: DashboardPeriod, $c: String!, $v: ID) {
    adminDashboard(period: $p, currencyCode: $c, vendorId: $v) {
        vendorId
        revenue { current { amount } previous { amount } change }
        orders { current previous change }
        averageOrderValue { current { amount } previous { amount } }
        unitsSold { current previous }
        refunds { current { amount } previous { amount } change }
        sellThrough { current previous }
        inventoryValue { units atCost { amount } atPrice { amount } }
        topVendors { vendor { name } revenue { amount } units }
        topProducts { product { sku } revenue { amount } units }
        topCategories { category { name } revenue { amount } units }
        series { start revenue { amount } orders }
        lowStock(atMost: 1) { sku stock }
    } }";

/// Places an order of `quantity` × `product` as a new guest and returns its id.
async fn order(shop: &Shop, product: &entity::product::Model, quantity: i32, key: &str) -> (String, As) {
    let (cart, guest) = shop.guest_cart().await;
    shop.add(&guest, &cart, product, quantity).await;
    let placed = shop.checkout(&guest, &cart, key).await;
    (placed["data"]["checkout"]["id"].as_str().unwrap_or_else(|| panic!("{placed}")).to_owned(), guest)
}

async fn paid(shop: &Shop, product: &entity::product::Model, quantity: i32, key: &str) -> String {
    let (id, guest) = order(shop, product, quantity, key).await;
    let payment = shop.pay(&guest, &id, "test_card", &format!("pay-{key}")).await;
    assert_eq!(payment["data"]["payOrder"]["status"], "CAPTURED", "{payment}");
    id
}

/// The known set: EUR sales of 50.00 (2 scarves) and 100.00 (the piece, then refunded) this
/// week, 25.00 (1 scarf) ten days ago, an unpaid scarf order, and a USD order of 120.00.
async fn known_orders(shop: &Shop) {
    let cost = ProductPatch { cost: Some(crate::fixtures::eur(1_000)), ..ProductPatch::default() };
    update_product(&shop.app.db, shop.multi.id, cost, None).await.unwrap();
    paid(shop, &shop.multi, 2, "kpi-0001").await;
    let piece = paid(shop, &shop.unique, 1, "kpi-0002").await;
    let staff = As::user(&shop.staff);
    shop.ok(&staff, "mutation($o: ID!) { refundOrder(id: $o, reason: \"test\") { status } }", json!({ "o": piece }))
        .await;
    let earlier = paid(shop, &shop.multi, 1, "kpi-0003").await;
    let earlier = aeternum::graphql::ids::GlobalId::parse_as(&async_graphql::ID(earlier), NodeType::Order).unwrap();
    entity::order::Entity::update_many()
        .col_expr(entity::order::Column::PaidAt, Expr::value(chrono::Utc::now() - chrono::Duration::days(10)))
        .filter(entity::order::Column::Id.eq(earlier))
        .exec(shop.app.db.conn())
        .await
        .unwrap();
    order(shop, &shop.multi, 1, "kpi-0004").await; // never paid
    let customer = As::user(&shop.customer);
    let cart = shop.cart_of(&customer).await;
    shop.add(&customer, &cart, &shop.dollars, 3).await;
    let usd = shop.checkout(&customer, &cart, "kpi-0005").await["data"]["checkout"]["id"].as_str().unwrap().to_owned();
    shop.pay(&customer, &usd, "test_card", "pay-kpi-0005").await;
}

fn week() -> Value {
    json!({ "preset": "LAST_7_DAYS" })
}

async fn the_dashboard_adds_up_a_known_set_of_orders(store: Store) {
    let shop = Shop::open(store).await;
    known_orders(&shop).await;
    let staff = As::user(&shop.staff);
    let d = shop.ok(&staff, DASHBOARD, json!({ "p": week(), "c": "EUR" })).await["adminDashboard"].clone();

    assert_eq!(d["vendorId"], Value::Null);
    assert_eq!(
        d["revenue"],
        json!({ "current": { "amount": "150.00" }, "previous": { "amount": "25.00" }, "change": 5.0 })
    );
    assert_eq!(d["orders"], json!({ "current": 2, "previous": 1, "change": 1.0 }));
    assert_eq!(d["averageOrderValue"], json!({ "current": { "amount": "75.00" }, "previous": { "amount": "25.00" } }));
    assert_eq!(d["unitsSold"], json!({ "current": 3, "previous": 1 }));
    assert_eq!(
        d["refunds"],
        json!({ "current": { "amount": "100.00" }, "previous": { "amount": "0.00" }, "change": null })
    );

    // On sale now, in EUR: what the store holds (the refunded piece is back on sale).
    let on_sale: Vec<entity::product::Model> = entity::product::Entity::find()
        .filter(entity::product::Column::Status.eq(entity::ProductStatus::Active))
        .filter(entity::product::Column::Currency.eq("EUR"))
        .all(shop.app.db.conn())
        .await
        .unwrap();
    let units: i64 = on_sale.iter().map(|p| i64::from(p.stock)).sum();
    let at_price: i64 = on_sale.iter().map(|p| i64::from(p.stock) * p.price_minor).sum();
    let at_cost: i64 = on_sale.iter().map(|p| i64::from(p.stock) * p.cost_minor.unwrap_or(0)).sum();
    let amount = |minor: i64| format!("{}.{:02}", minor / 100, minor % 100);
    assert_eq!(
        d["inventoryValue"],
        json!({ "units": units, "atCost": { "amount": amount(at_cost) }, "atPrice": { "amount": amount(at_price) } })
    );
    assert_eq!(d["sellThrough"]["current"].as_f64(), Some(3.0 / (3.0 + units as f64)));

    assert_eq!(
        d["topVendors"],
        json!([
            { "vendor": { "name": "Vendor atelier" }, "revenue": { "amount": "100.00" }, "units": 1 },
            { "vendor": { "name": "Vendor boutique" }, "revenue": { "amount": "50.00" }, "units": 2 },
        ])
    );
    assert_eq!(
        d["topProducts"][0],
        json!({ "product": { "sku": "FX-0001" }, "revenue": { "amount": "100.00" }, "units": 1 })
    );
    assert_eq!(
        d["topCategories"],
        json!([{ "category": { "name": "DRESSES" }, "revenue": { "amount": "150.00" }, "units": 3 }])
    );

    let series = d["series"].as_array().unwrap();
    assert_eq!(series.len(), 8, "every day of the period, today included: {series:?}");
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    for point in series {
        let expected = if point["start"] == today.as_str() { ("150.00", 2) } else { ("0.00", 0) };
        assert_eq!(
            (point["revenue"]["amount"].as_str().unwrap(), point["orders"].as_i64().unwrap()),
            expected,
            "{point}"
        );
    }
    assert_eq!(d["lowStock"], json!([{ "sku": "FX-0002", "stock": 1 }]), "the scarves are nearly gone");

    // Weeks start on Monday (UTC); over the last 30 days, this week's sales and the one paid
    // ten days ago fall in their own weeks, and every week of the period is listed.
    let weekly = "query($p: DashboardPeriod, $c: String!) {
        adminDashboard(period: $p, currencyCode: $c) { series(granularity: WEEK) { start revenue { amount } orders } } }";
    let month = json!({ "preset": "LAST_30_DAYS" });
    let weeks = shop.ok(&staff, weekly, json!({ "p": month, "c": "EUR" })).await["adminDashboard"]["series"].clone();
    let monday = |day: chrono::DateTime<chrono::Utc>| {
        let date = day.date_naive();
        (date - chrono::Duration::days(i64::from(chrono::Datelike::weekday(&date).num_days_from_monday())))
            .format("%Y-%m-%d")
            .to_string()
    };
    let now = chrono::Utc::now();
    let (this_week, that_week) = (monday(now), monday(now - chrono::Duration::days(10)));
    let weeks = weeks.as_array().unwrap();
    assert!((5..=6).contains(&weeks.len()), "30 days touch 5 or 6 weeks: {weeks:?}");
    assert_eq!(weeks.first().unwrap()["start"], monday(now - chrono::Duration::days(30)).as_str());
    for point in weeks {
        let start = point["start"].as_str().unwrap();
        let expected = match start {
            s if s == this_week && s == that_week => ("175.00", 3),
            s if s == this_week => ("150.00", 2),
            s if s == that_week => ("25.00", 1),
            _ => ("0.00", 0),
        };
        assert_eq!(
            (point["revenue"]["amount"].as_str().unwrap(), point["orders"].as_i64().unwrap()),
            expected,
            "{point}"
        );
    }

    // Another currency is another dashboard.
    let usd = shop.ok(&staff, DASHBOARD, json!({ "p": week(), "c": "USD" })).await["adminDashboard"].clone();
    assert_eq!(usd["revenue"]["current"]["amount"], "120.00");
    assert_eq!(usd["orders"]["current"], 1);
}

async fn vendors_see_their_own_figures_and_customers_none(store: Store) {
    let shop = Shop::open(store).await;
    known_orders(&shop).await;
    let other_vendor = gid(NodeType::Vendor, shop.multi.vendor_id);
    let own_vendor = gid(NodeType::Vendor, shop.unique.vendor_id);
    let vendor = As::user(&shop.vendor);
    let d = shop.ok(&vendor, DASHBOARD, json!({ "p": week(), "c": "EUR", "v": other_vendor })).await["adminDashboard"]
        .clone();
    assert_eq!(d["vendorId"], own_vendor.as_str(), "a vendor sees its own figures, whatever it asks");
    assert_eq!(d["revenue"]["current"]["amount"], "100.00");
    assert_eq!(d["topVendors"].as_array().map(Vec::len), Some(1));

    let staff = As::user(&shop.staff);
    let scoped = shop.ok(&staff, DASHBOARD, json!({ "p": week(), "c": "EUR", "v": other_vendor })).await;
    assert_eq!(scoped["adminDashboard"]["revenue"]["current"]["amount"], "50.00", "staff may look at one vendor");

    let customer = shop.call(&As::user(&shop.customer), DASHBOARD, json!({ "c": "EUR" })).await;
    assert_eq!(error_codes(&customer), ["FORBIDDEN"], "{customer}");
    let anonymous = shop.call(&As::default(), DASHBOARD, json!({ "c": "EUR" })).await;
    assert_eq!(error_codes(&anonymous), ["UNAUTHENTICATED"]);
}

async fn an_empty_period_is_zero_and_bad_periods_are_refused(store: Store) {
    let shop = Shop::open(store).await;
    known_orders(&shop).await;
    let staff = As::user(&shop.staff);
    let empty = json!({ "from": "2020-01-01T00:00:00Z", "to": "2020-01-08T00:00:00Z" });
    let d = shop.ok(&staff, DASHBOARD, json!({ "p": empty, "c": "EUR" })).await["adminDashboard"].clone();
    assert_eq!(
        d["revenue"],
        json!({ "current": { "amount": "0.00" }, "previous": { "amount": "0.00" }, "change": null })
    );
    assert_eq!(d["orders"]["current"], 0);
    assert_eq!(d["topProducts"], json!([]));
    assert_eq!(d["series"].as_array().map(Vec::len), Some(7));
    assert!(d["series"].as_array().unwrap().iter().all(|p| p["orders"] == 0));

    for (period, currency) in [
        (json!({ "from": "2020-01-08T00:00:00Z", "to": "2020-01-01T00:00:00Z" }), "EUR"),
        (json!({ "from": "2020-01-01T00:00:00Z", "to": "2022-01-01T00:00:00Z" }), "EUR"),
        (json!({ "preset": "LAST_7_DAYS", "from": "2020-01-01T00:00:00Z" }), "EUR"),
        (week(), "EURO"),
    ] {
        let refused = shop.call(&staff, DASHBOARD, json!({ "p": period, "c": currency })).await;
        assert_eq!(error_codes(&refused), ["BAD_USER_INPUT"], "{period} {currency}: {refused}");
    }
}

async fn the_dashboard_updates_live_when_an_order_is_paid(store: Store) {
    let shop = Shop::open_with(store, |s| s.events.dashboard_interval_ms = 200).await;
    let query = "subscription { dashboardChanged(currencyCode: \"EUR\") { orders { current } revenue { current { amount } } } }";
    let probe = shop.dollars.id;
    let mut ws = crate::realtime::subscriber(&shop.app, Some(&shop.staff), probe, &[("dash", query, json!({}))]).await;
    crate::realtime::ready(&shop.app, probe, &mut [&mut ws]).await;
    paid(&shop, &shop.multi, 2, "live-0001").await;
    loop {
        let update = crate::realtime::next_of(&mut ws, "dash").await;
        let figures = &update["payload"]["data"]["dashboardChanged"];
        assert!(update["payload"].get("errors").is_none(), "{update}");
        if figures["orders"]["current"] == 1 {
            assert_eq!(figures["revenue"]["current"]["amount"], "50.00");
            break;
        }
    }
    // A customer may not subscribe.
    let mut customer = crate::helpers::socket(&shop.app, &[]).await.unwrap();
    crate::helpers::send_json(
        &mut customer,
        json!({ "type": "connection_init", "payload": { "accessToken": shop.customer } }),
    )
    .await;
    assert_eq!(crate::helpers::next_message(&mut customer).await["type"], "connection_ack");
    crate::helpers::send_json(&mut customer, json!({ "id": "d", "type": "subscribe", "payload": { "query": query } }))
        .await;
    let refused = crate::helpers::next_message(&mut customer).await;
    assert_eq!(refused["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN", "{refused}");
}
