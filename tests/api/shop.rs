//! A small shop for the commerce tests: two vendors, products of both kinds, and accounts of
//! every role, with helpers that act as a shopper.

use aeternum::catalog::editing;
use aeternum::catalog::service;
use aeternum::graphql::ids::{GlobalId, NodeType};
use aeternum::identity::service::create_user;
use entity::{Role, product};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures;
use crate::helpers::{Store, TestApp, error_codes};

pub const PASSWORD: &str = "shop-passphrase-2026";

pub struct Shop {
    pub app: TestApp,
    /// One-of-a-kind, vendor 0, 100.00 EUR.
    pub unique: product::Model,
    /// Five units, vendor 1, 25.00 EUR.
    pub multi: product::Model,
    /// Ten units, vendor 0, 40.00 USD.
    pub dollars: product::Model,
    pub customer: String,
    pub staff: String,
    /// Signed in as vendor 0.
    pub vendor: String,
}

/// Who sends a request: a bearer token, a guest cart token, both or neither.
#[derive(Clone, Debug, Default)]
pub struct As {
    pub bearer: Option<String>,
    pub cart_token: Option<String>,
}

impl As {
    pub fn user(token: &str) -> Self {
        Self { bearer: Some(token.to_owned()), cart_token: None }
    }
    pub fn guest(cart_token: &str) -> Self {
        Self { bearer: None, cart_token: Some(cart_token.to_owned()) }
    }
}

pub fn gid(node: NodeType, id: Uuid) -> String {
    GlobalId::encode(node, id).0
}

pub const CART: &str = "id itemCount readyForCheckout totals { amount currencyCode }
    lines { quantity problem product { sku } unitPrice { amount } acceptedUnitPrice { amount } lineTotal { amount } }";

pub const ORDER: &str = "id status expiresAt total { amount currencyCode minorUnits } subtotal { amount } email
    shippingAddress { name line1 city postalCode country }
    lines { productId sku title quantity unitPrice { amount } lineTotal { amount } imageUrl vendorName attributes { name value } }
    fulfilments { id vendorId status lines { sku } subtotal { amount } }
    payments { status reference amount { amount } failure }";

pub fn address() -> Value {
    json!({ "name": "Ada Lovelace", "line1": "12 rue de Rivoli", "city": "Paris", "postalCode": "75004", "country": "FR" })
}

impl Shop {
    pub async fn open(store: Store) -> Self {
        Self::open_with(store, |_| {}).await
    }

    pub async fn open_with(store: Store, configure: impl FnOnce(&mut aeternum::config::Settings)) -> Self {
        Self::open_with_provider(store, configure, None).await
    }

    pub async fn open_with_provider(
        store: Store,
        configure: impl FnOnce(&mut aeternum::config::Settings),
        provider: Option<std::sync::Arc<dyn aeternum::payment::provider::PaymentProvider>>,
    ) -> Self {
        let app = TestApp::spawn_with_provider(
            store,
            |s| {
                s.payments.webhook_secret = aeternum::config::Secret::new(WEBHOOK_SECRET);
                configure(s)
            },
            provider,
        )
        .await;
        let db = &app.db;
        let vendors = [fixtures::vendor(db, "atelier").await, fixtures::vendor(db, "boutique").await];
        let category = fixtures::category(db, "dresses", None).await;
        let mut unique = fixtures::new_product(1, vendors[0].id, category.id);
        unique.title = "Silk evening dress".into();
        unique.one_of_a_kind = true;
        let mut multi = fixtures::new_product(2, vendors[1].id, category.id);
        multi.title = "Cotton scarf".into();
        multi.price = crate::fixtures::eur(2_500);
        multi.stock = 5;
        let mut dollars = fixtures::new_product(3, vendors[0].id, category.id);
        dollars.title = "Denim jacket".into();
        dollars.price = aeternum::money::Money::from_minor(4_000, aeternum::money::Currency::parse("USD").unwrap());
        dollars.stock = 10;
        let unique = editing::create_product(db, unique).await.unwrap();
        let multi = editing::create_product(db, multi).await.unwrap();
        let dollars = editing::create_product(db, dollars).await.unwrap();
        create_user(db, "ada@example.com", PASSWORD, "Ada", Role::Customer, None).await.unwrap();
        create_user(db, "staff@example.com", PASSWORD, "Staff", Role::Staff, None).await.unwrap();
        create_user(db, "vendor@example.com", PASSWORD, "Vendor", Role::Vendor, Some(vendors[0].id)).await.unwrap();
        let customer = app.sign_in("ada@example.com", PASSWORD).await.0;
        let staff = app.sign_in("staff@example.com", PASSWORD).await.0;
        let vendor = app.sign_in("vendor@example.com", PASSWORD).await.0;
        Self { app, unique, multi, dollars, customer, staff, vendor }
    }

    /// Sends a request as `who` and returns the whole response.
    pub async fn call(&self, who: &As, query: &str, variables: Value) -> Value {
        let bearer = who.bearer.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers = Vec::new();
        if let Some(bearer) = &bearer {
            headers.push(("authorization", bearer.as_str()));
        }
        if let Some(token) = &who.cart_token {
            headers.push(("x-cart-token", token.as_str()));
        }
        self.app.graphql_with(&headers, query, variables).await
    }

    /// Sends a request that must succeed and returns its `data`.
    pub async fn ok(&self, who: &As, query: &str, variables: Value) -> Value {
        let response = self.call(who, query, variables).await;
        assert!(response.get("errors").is_none(), "unexpected errors: {response:#}");
        response["data"].clone()
    }

    /// Sends a request that must fail with one error and returns its code and message.
    pub async fn refused(&self, who: &As, query: &str, variables: Value) -> (String, String) {
        let response = self.call(who, query, variables).await;
        let codes = error_codes(&response);
        assert_eq!(codes.len(), 1, "expected one error: {response:#}");
        (codes[0].clone(), response["errors"][0]["message"].as_str().unwrap_or_default().to_owned())
    }

    /// Opens a guest cart and returns its ID and token.
    pub async fn guest_cart(&self) -> (String, As) {
        let data = self.ok(&As::default(), "mutation { openCart { cart { id } token } }", json!({})).await;
        let token = data["openCart"]["token"].as_str().unwrap().to_owned();
        (data["openCart"]["cart"]["id"].as_str().unwrap().to_owned(), As::guest(&token))
    }

    /// The signed-in customer's cart ID.
    pub async fn cart_of(&self, who: &As) -> String {
        let data = self.ok(who, "mutation { openCart { cart { id } token } }", json!({})).await;
        assert!(data["openCart"]["token"].is_null());
        data["openCart"]["cart"]["id"].as_str().unwrap().to_owned()
    }

    pub async fn add(&self, who: &As, cart: &str, product: &product::Model, quantity: i32) -> Value {
        self.call(
            who,
            &format!("mutation($c: ID!, $p: ID!, $q: Int!) {{ addToCart(cartId: $c, productId: $p, quantity: $q) {{ {CART} }} }}"),
            json!({ "c": cart, "p": gid(NodeType::Product, product.id), "q": quantity }),
        )
        .await
    }

    pub async fn checkout(&self, who: &As, cart: &str, key: &str) -> Value {
        self.call(
            who,
            &format!(
                "mutation($c: ID!, $a: AddressInput!, $k: String!, $e: String) {{
                    checkout(cartId: $c, shippingAddress: $a, idempotencyKey: $k, email: $e) {{ {ORDER} }} }}"
            ),
            json!({ "c": cart, "a": address(), "k": key, "e": who.bearer.is_none().then_some("guest@example.com") }),
        )
        .await
    }

    pub async fn pay(&self, who: &As, order: &str, method: &str, key: &str) -> Value {
        self.call(
            who,
            "mutation($o: ID!, $m: String!, $k: String!) {
                payOrder(orderId: $o, paymentMethod: $m, idempotencyKey: $k) { status reference failure amount { amount } } }",
            json!({ "o": order, "m": method, "k": key }),
        )
        .await
    }

    /// The product as the database holds it now.
    pub async fn product(&self, id: Uuid) -> product::Model {
        service::any_product_by_id(&self.app.db, id).await.unwrap()
    }

    /// Rows of a table, counted directly.
    pub async fn count(&self, table: &str) -> i64 {
        self.app.count_rows(table).await
    }
}

pub const WEBHOOK_SECRET: &str = "whsec-test-only-0123456789abcdef";
