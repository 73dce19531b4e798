//! The access matrix: every guarded field and mutation, as every kind of caller.
//!
//! The matrix is data: adding a guarded field means adding a row. A row lists the principals
//! allowed; every other principal must be refused with `UNAUTHENTICATED` (anonymous) or
//! `FORBIDDEN` (anyone identified), and a refused field must leave the rest of the response intact.

use aeternum::catalog::editing;
use aeternum::graphql::ids::{GlobalId, NodeType};
use aeternum::identity::service::create_user;
use entity::Role;
use serde_json::json;

use crate::fixtures;
use crate::helpers::{Credential, Store, TestApp, error_codes};

const PASSWORD: &str = "matrix-passphrase-42";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anonymous,
    Customer,
    OtherCustomer,
    Vendor,
    OtherVendor,
    Staff,
    Admin,
    Partner,
}

use Who::*;

const EVERYONE: [Who; 8] = [Anonymous, Customer, OtherCustomer, Vendor, OtherVendor, Staff, Admin, Partner];
const SIGNED_IN: &[Who] = &[Customer, OtherCustomer, Vendor, OtherVendor, Staff, Admin];
const OWNER_AND_STAFF: &[Who] = &[Vendor, Staff, Admin];
const STAFF: &[Who] = &[Staff, Admin];
const ADMIN: &[Who] = &[Admin];
const VENDORS_AND_STAFF: &[Who] = &[Vendor, OtherVendor, Staff, Admin];

struct Row {
    name: &'static str,
    query: &'static str,
    allowed: &'static [Who],
    /// For field guards: the path of a sibling that must still be there when the field is refused.
    intact: Option<&'static [&'static str]>,
}

const ROWS: &[Row] = &[
    Row {
        name: "Product.costPrice",
        query: "query($p: ID) { product(id: $p) { title costPrice { amount } } }",
        allowed: OWNER_AND_STAFF,
        intact: Some(&["product", "title"]),
    },
    Row {
        name: "Product.internalNotes",
        query: "query($p: ID) { product(id: $p) { title internalNotes } }",
        allowed: OWNER_AND_STAFF,
        intact: Some(&["product", "title"]),
    },
    Row {
        name: "Product.stockMovements",
        query: "query($p: ID) { product(id: $p) { title stockMovements { delta } } }",
        allowed: OWNER_AND_STAFF,
        intact: Some(&["product", "title"]),
    },
    Row {
        name: "Product.auditTrail",
        query: "query($p: ID) { product(id: $p) { title auditTrail { newStatus } } }",
        allowed: OWNER_AND_STAFF,
        intact: Some(&["product", "title"]),
    },
    Row {
        name: "adjustStock of the vendor's product",
        query: "mutation($p: ID!) { adjustStock(productId: $p, delta: 1, reason: RESTOCK) { stock } }",
        allowed: OWNER_AND_STAFF,
        intact: None,
    },
    Row { name: "orders", query: "{ orders { edges { cursor } } }", allowed: SIGNED_IN, intact: None },
    Row { name: "myCart", query: "{ myCart { itemCount } }", allowed: SIGNED_IN, intact: None },
    Row {
        name: "adminDashboard",
        query: "{ adminDashboard(currencyCode: \"EUR\") { orders { current } } }",
        allowed: VENDORS_AND_STAFF,
        intact: None,
    },
    Row {
        name: "fulfilments",
        query: "{ fulfilments { edges { cursor } } }",
        allowed: VENDORS_AND_STAFF,
        intact: None,
    },
    Row {
        name: "refundOrder",
        query: "mutation($o: ID!) { refundOrder(id: $o) { status } }",
        allowed: STAFF,
        intact: None,
    },
    Row {
        name: "completeOrder",
        query: "mutation($o: ID!) { completeOrder(id: $o) { status } }",
        allowed: STAFF,
        intact: None,
    },
    Row {
        name: "products listing drafts of one vendor",
        query: "query($v: ID!) { products(filter: { vendorIds: [$v], statuses: [DRAFT] }) { edges { cursor } } }",
        allowed: OWNER_AND_STAFF,
        intact: None,
    },
    Row {
        name: "user(id) with email",
        query: "query($u: ID!) { user(id: $u) { displayName email } }",
        allowed: STAFF,
        intact: None,
    },
    Row {
        name: "createProduct for the vendor",
        query: "mutation($v: ID!, $c: ID!, $sku: String!) { createProduct(input: {
            vendorId: $v, categoryId: $c, sku: $sku, title: \"Matrix coat\", price: { amount: \"120\", currencyCode: \"EUR\" } }) { id } }",
        allowed: OWNER_AND_STAFF,
        intact: None,
    },
    Row {
        name: "updateProduct of the vendor's product",
        query: "mutation($p: ID!) { updateProduct(id: $p, input: { description: \"Edited\" }) { id } }",
        allowed: OWNER_AND_STAFF,
        intact: None,
    },
    Row {
        name: "archiveProduct of the vendor's product",
        query: "mutation($q: ID!) { archiveProduct(id: $q) { status } }",
        allowed: OWNER_AND_STAFF,
        intact: None,
    },
    Row {
        name: "createVendor",
        query: "mutation($slug: String!) { createVendor(slug: $slug, name: \"Matrix\") { id } }",
        allowed: STAFF,
        intact: None,
    },
    Row {
        name: "updateVendor",
        query: "mutation($v: ID!) { updateVendor(id: $v, description: \"Edited\") { id } }",
        allowed: STAFF,
        intact: None,
    },
    Row {
        name: "updateCategory",
        query: "mutation($c: ID!) { updateCategory(id: $c, position: 3) { id } }",
        allowed: STAFF,
        intact: None,
    },
    Row {
        name: "createCategory",
        query: "mutation($slug: String!) { createCategory(slug: $slug, name: \"Matrix\") { id } }",
        allowed: STAFF,
        intact: None,
    },
    Row {
        name: "setUserRole",
        query: "mutation($u: ID!) { setUserRole(userId: $u, role: CUSTOMER) { role } }",
        allowed: ADMIN,
        intact: None,
    },
    Row {
        name: "issueApiKey",
        query: "mutation { issueApiKey(partner: \"matrix\", name: \"Matrix\", scopes: []) { key } }",
        allowed: ADMIN,
        intact: None,
    },
    Row { name: "apiKeys", query: "{ apiKeys { prefix } }", allowed: ADMIN, intact: None },
    Row { name: "partners", query: "{ partners { slug } }", allowed: ADMIN, intact: None },
    Row { name: "partner", query: "{ partner(slug: \"matrix\") { slug } }", allowed: ADMIN, intact: None },
    Row {
        name: "createPartner",
        query: "mutation($slug: String!) { createPartner(slug: $slug, name: \"Matrix\") { id } }",
        allowed: ADMIN,
        intact: None,
    },
    Row {
        name: "registerPartnerManifest",
        query: "mutation { registerPartnerManifest(partner: \"matrix\", activate: false, manifest: { format: \"apollo-persisted-query-manifest\", version: 1, operations: [] }) { version } }",
        allowed: ADMIN,
        intact: None,
    },
    Row {
        name: "activatePartnerManifest",
        query: "mutation { activatePartnerManifest(partner: \"matrix\", version: 1) { slug } }",
        allowed: ADMIN,
        intact: None,
    },
    Row { name: "securityEvents", query: "{ securityEvents(first: 5) { action } }", allowed: ADMIN, intact: None },
    Row {
        name: "searchAnalytics",
        query: "{ searchAnalytics { topQueries { query } zeroResultQueries { query } } }",
        allowed: STAFF,
        intact: None,
    },
    Row { name: "searchIndexStatus", query: "{ searchIndexStatus { pending indexed } }", allowed: STAFF, intact: None },
    Row {
        name: "blockedSearchSuggestions",
        query: "{ blockedSearchSuggestions { phrase } }",
        allowed: STAFF,
        intact: None,
    },
    Row {
        name: "blockSearchSuggestion",
        query: "mutation { blockSearchSuggestion(phrase: \"matrix\") { phrase } }",
        allowed: STAFF,
        intact: None,
    },
    Row {
        name: "unblockSearchSuggestion",
        query: "mutation { unblockSearchSuggestion(phrase: \"matrix\") }",
        allowed: STAFF,
        intact: None,
    },
    Row {
        name: "changePassword (wrong current password: refused past the guard)",
        query: "mutation { changePassword(currentPassword: \"not-the-password\", newPassword: \"another-long-passphrase\") }",
        allowed: SIGNED_IN,
        intact: None,
    },
];

async fn credentials(app: &TestApp, vendor: uuid::Uuid, other_vendor: uuid::Uuid) -> Vec<(Who, Credential)> {
    let accounts = [
        (Customer, "customer@example.com", Role::Customer, None),
        (OtherCustomer, "other@example.com", Role::Customer, None),
        (Vendor, "vendor@example.com", Role::Vendor, Some(vendor)),
        (OtherVendor, "rival@example.com", Role::Vendor, Some(other_vendor)),
        (Staff, "staff@example.com", Role::Staff, None),
        (Admin, "admin@example.com", Role::Admin, None),
    ];
    let mut credentials = vec![(Anonymous, Credential::Anonymous)];
    for (who, email, role, vendor_id) in accounts {
        create_user(&app.db, email, PASSWORD, "Matrix", role, vendor_id).await.unwrap();
        credentials.push((who, Credential::Bearer(app.sign_in(email, PASSWORD).await.0)));
    }
    let mut registrable = Vec::new();
    for row in ROWS {
        if registrable_by_catalog_key(row).await {
            registrable.push(as_named_operation(row.query));
        }
    }
    let bodies: Vec<&str> = registrable.iter().map(String::as_str).collect();
    let key = crate::helpers::partner(app, "matrix", &[&["catalog:read"]], &bodies).await.remove(0);
    credentials.push((Partner, key));
    credentials
}

/// A row's query as a named operation, as a partner's manifest holds it.
fn as_named_operation(query: &str) -> String {
    match query.strip_prefix('{') {
        Some(rest) => format!("query Matrix {{{rest}"),
        None => query.replacen("query", "query Matrix", 1).replacen("mutation", "mutation Matrix", 1),
    }
}

/// Whether a manifest of a `catalog:read` partner may hold the row's operation (its root fields
/// are open to the scope); the partner runs those, and is refused the others before they run.
async fn registrable_by_catalog_key(row: &Row) -> bool {
    use aeternum::partner::manifest::{Operation, OperationCheck};
    let body = as_named_operation(row.query);
    let kind = body.split_whitespace().next().unwrap_or_default().parse().unwrap();
    let operation = Operation { id: aeternum::digest::sha256_hex(&body), name: "Matrix".into(), kind, body };
    let check = aeternum::schema::partners::SchemaCheck::new(&aeternum::config::Settings::default());
    check.refusal(&operation, &[aeternum::identity::viewer::Scope::CatalogRead]).await.is_none()
}

async fn every_principal_gets_exactly_its_access(store: Store) {
    let app = TestApp::spawn(store).await;
    let vendor = fixtures::vendor(&app.db, "alpha").await;
    let rival = fixtures::vendor(&app.db, "beta").await;
    let category = fixtures::category(&app.db, "misc", None).await;
    let mut product = fixtures::new_product(1, vendor.id, category.id);
    product.cost = Some(crate::fixtures::eur(4_000));
    product.internal_notes = "Bought at the Drouot auction".into();
    let product = editing::create_product(&app.db, product).await.unwrap();
    let to_archive = editing::create_product(&app.db, fixtures::new_product(2, vendor.id, category.id)).await.unwrap();
    let credentials = credentials(&app, vendor.id, rival.id).await;
    let customer = entity::user::Entity::find_by_email("customer@example.com", &app.db).await;

    for (index, row) in ROWS.iter().enumerate() {
        for (n, (who, credential)) in credentials.iter().enumerate() {
            let variables = json!({
                "p": GlobalId::encode(NodeType::Product, product.id).0,
                "q": GlobalId::encode(NodeType::Product, to_archive.id).0,
                "v": GlobalId::encode(NodeType::Vendor, vendor.id).0,
                "c": GlobalId::encode(NodeType::Category, category.id).0,
                "u": GlobalId::encode(NodeType::User, customer).0,
                "o": GlobalId::encode(NodeType::Order, uuid::Uuid::now_v7()).0,
                "sku": format!("MX-{index}-{n}"),
                "slug": format!("matrix-{index}-{n}"),
            });
            // A partner runs its manifest's operations only; the others are refused before they
            // run, whatever they are.
            let partner_runs = *who == Partner && registrable_by_catalog_key(row).await;
            let query = if partner_runs { as_named_operation(row.query) } else { row.query.to_owned() };
            let response = app.graphql_as(credential, &query, variables).await;
            let codes = error_codes(&response);
            let refused = codes.iter().any(|c| c == "FORBIDDEN" || c == "UNAUTHENTICATED");
            if *who == Partner && !partner_runs {
                assert_eq!(codes, ["PERSISTED_QUERY_REQUIRED"], "{}: {response:#}", row.name);
            } else if row.allowed.contains(who) {
                assert!(!refused, "{}: {who:?} must be allowed: {response:#}", row.name);
            } else {
                let expected = if *who == Anonymous { "UNAUTHENTICATED" } else { "FORBIDDEN" };
                assert!(codes.iter().any(|c| c == expected), "{}: {who:?} must get {expected}: {response:#}", row.name);
                if let Some(path) = row.intact {
                    let sibling = path.iter().fold(&response["data"], |value, key| &value[*key]);
                    assert!(
                        sibling.is_string(),
                        "{}: {who:?}: the rest of the response is intact: {response:#}",
                        row.name
                    );
                }
            }
        }
    }
    assert!(EVERYONE.iter().all(|who| credentials.iter().any(|(w, _)| w == who)), "every principal is exercised");
}

trait FindByEmail {
    async fn find_by_email(email: &str, app_db: &aeternum::db::Db) -> uuid::Uuid;
}

impl FindByEmail for entity::user::Entity {
    async fn find_by_email(email: &str, db: &aeternum::db::Db) -> uuid::Uuid {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        entity::user::Entity::find()
            .filter(entity::user::Column::Email.eq(email))
            .one(db.conn())
            .await
            .unwrap()
            .unwrap()
            .id
    }
}

async fn a_role_change_applies_and_users_see_their_own_email(store: Store) {
    let app = TestApp::spawn(store).await;
    let vendor = fixtures::vendor(&app.db, "alpha").await;
    create_user(&app.db, "admin@example.com", PASSWORD, "Admin", Role::Admin, None).await.unwrap();
    create_user(&app.db, "ada@example.com", PASSWORD, "Ada", Role::Customer, None).await.unwrap();
    let (admin, _) = app.sign_in("admin@example.com", PASSWORD).await;
    let (ada, ada_refresh) = app.sign_in("ada@example.com", PASSWORD).await;
    let me = app.graphql_as(&Credential::Bearer(ada), "{ me { email role } }", json!({})).await;
    assert_eq!(me["data"]["me"], json!({ "email": "ada@example.com", "role": "CUSTOMER" }));

    let ada_id = entity::user::Entity::find_by_email("ada@example.com", &app.db).await;
    let promoted = app
        .graphql_as(
            &Credential::Bearer(admin.clone()),
            "mutation($u: ID!, $v: ID) { setUserRole(userId: $u, role: VENDOR, vendorId: $v) { role vendorId } }",
            json!({ "u": GlobalId::encode(NodeType::User, ada_id).0, "v": GlobalId::encode(NodeType::Vendor, vendor.id).0 }),
        )
        .await;
    assert_eq!(promoted["data"]["setUserRole"]["role"], "VENDOR", "{promoted}");
    let stale = app
        .graphql(
            "mutation($t: String) { refreshSession(refreshToken: $t) { accessToken } }",
            json!({ "t": ada_refresh }),
        )
        .await;
    assert_eq!(error_codes(&stale), ["UNAUTHENTICATED"], "a role change ends the account's sessions");
    let (ada, _) = app.sign_in("ada@example.com", PASSWORD).await;
    let me = app.graphql_as(&Credential::Bearer(ada), "{ me { role vendorId } }", json!({})).await;
    assert_eq!(me["data"]["me"]["role"], "VENDOR");

    let inconsistent = app
        .graphql_as(
            &Credential::Bearer(admin),
            "mutation($u: ID!) { setUserRole(userId: $u, role: VENDOR) { role } }",
            json!({ "u": GlobalId::encode(NodeType::User, ada_id).0 }),
        )
        .await;
    assert_eq!(error_codes(&inconsistent), ["BAD_USER_INPUT"], "a vendor account needs its vendor");
}

store_tests!(every_principal_gets_exactly_its_access, a_role_change_applies_and_users_see_their_own_email);
