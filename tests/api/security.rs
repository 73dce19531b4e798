//! Attacks that must neither take the service down nor get past a limit: nesting bombs on every
//! transport, parallel password guesses, sockets that skip the request context, stale sessions.

use std::time::Duration;

use entity::Role;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::helpers::{Credential, Store, TestApp, error_codes, next_message, send_json, socket};

store_tests!(
    only_a_trusted_proxy_names_the_client,
    deeply_nested_documents_are_refused_on_every_transport_and_the_server_stays_up,
    the_standard_introspection_query_is_answered,
    parallel_sign_ins_are_throttled_exactly_and_hashing_memory_stays_bounded,
    password_resets_and_password_changes_are_throttled,
    a_socket_runs_with_the_viewer_and_address_of_its_connection,
    sockets_are_capped_timed_out_and_size_limited,
    a_demoted_or_deleted_account_loses_its_access_token_at_once,
    racing_uses_of_one_refresh_token_leave_no_valid_session,
    concurrent_writers_on_every_path_queue_instead_of_failing,
    slow_clients_are_cut_off_and_readiness_answers_quickly_when_the_store_is_gone,
    password_checks_beyond_the_hashing_threads_wait_briefly_then_are_throttled,
    an_exhausted_pool_answers_503_service_unavailable_then_recovers,
);

const PASSWORD: &str = "velvet-archive-1997";

/// The three shapes of a bomb `levels` deep (the process used to die at about 2,000).
fn bombs(levels: usize) -> [(&'static str, String); 3] {
    [
        (
            "lists",
            format!(
                "{{ products(filter: {{brands: {}\"a\"{}}}) {{ totalCount }} }}",
                "[".repeat(levels),
                "]".repeat(levels)
            ),
        ),
        (
            "objects",
            format!("{{ products(filter: {}1{}) {{ totalCount }} }}", "{a: ".repeat(levels), "}".repeat(levels)),
        ),
        ("selections", format!("{}totalCount{}", "{ products ".repeat(levels), " }".repeat(levels))),
    ]
}

/// Creates an account with the test password.
async fn account(app: &TestApp, email: &str, role: Role) {
    aeternum::identity::service::create_user(&app.db, email, PASSWORD, "Tester", role, None).await.unwrap();
}

async fn alive(app: &TestApp) {
    assert_eq!(app.data("{ __typename }", json!({})).await, json!({ "__typename": "Query" }), "the server is up");
}

async fn deeply_nested_documents_are_refused_on_every_transport_and_the_server_stays_up(store: Store) {
    let app = TestApp::spawn(store).await;
    // An HTTP client library builds URLs of at most 64 KiB, which 2,500 levels fit (past the old
    // breaking point); 10,000 levels go over a raw socket.
    for (shape, query) in bombs(2_500) {
        let got = app.client.get(format!("{}/graphql", app.address)).query(&[("query", &query)]).send().await.unwrap();
        let got: Value = got.json().await.unwrap();
        assert_eq!(error_codes(&got), ["BAD_REQUEST"], "GET {shape}");
    }
    for (shape, query) in bombs(10_000) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = app.address.trim_start_matches("http://").to_owned();
        let mut raw = tokio::net::TcpStream::connect(&address).await.unwrap();
        let encoded: String = query.split(' ').collect::<Vec<_>>().join("%20");
        let request = format!("GET /graphql?query={encoded} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        raw.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(20), raw.read_to_end(&mut answer)).await.unwrap().unwrap();
        let answer = String::from_utf8_lossy(&answer);
        let status: u16 = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        assert!((400..500).contains(&status) || answer.contains("BAD_REQUEST"), "raw GET {shape}: {status}");
        alive(&app).await;
    }
    for (shape, query) in bombs(10_000) {
        let posted = app.graphql(&query, json!({})).await;
        assert_eq!(error_codes(&posted), ["BAD_REQUEST"], "POST {shape}");
        assert!(posted.get("data").is_none(), "nothing was executed");

        let mut ws = socket(&app, &[]).await.unwrap();
        send_json(&mut ws, json!({ "type": "connection_init" })).await;
        assert_eq!(next_message(&mut ws).await["type"], "connection_ack");
        send_json(&mut ws, json!({ "id": "1", "type": "subscribe", "payload": { "query": query } })).await;
        let answer = next_message(&mut ws).await;
        assert_eq!(answer["type"], "error", "socket {shape}: {answer}");
        assert_eq!(answer["payload"][0]["extensions"]["code"], "BAD_REQUEST", "socket {shape}");
        alive(&app).await;
    }
    // A fragment bomb: 2^40 selections once expanded, a few hundred bytes written.
    let mut bomb = String::from("{ ...F0 }");
    for i in 0..40 {
        bomb.push_str(&format!(" fragment F{i} on Query {{ ...F{n} ...F{n} }}", n = i + 1));
    }
    bomb.push_str(" fragment F40 on Query { __typename }");
    assert_eq!(error_codes(&app.graphql(&bomb, json!({})).await), ["QUERY_TOO_COMPLEX"]);
    let deep = format!("{}__typename{}", "{ node(id: \"x\") { ... on Product { vendor ".repeat(8), " } } }".repeat(8));
    assert_eq!(error_codes(&app.graphql(&deep, json!({})).await), ["QUERY_TOO_DEEP"]);
    alive(&app).await;
}

/// The introspection query GraphiQL and code generators send (graphql-js `getIntrospectionQuery`).
const INTROSPECTION: &str = "query IntrospectionQuery { __schema { queryType { name } mutationType { name }
  subscriptionType { name } types { ...FullType } directives { name description locations args { ...InputValue } } } }
fragment FullType on __Type { kind name description fields(includeDeprecated: true) { name description
  args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason } inputFields { ...InputValue }
  interfaces { ...TypeRef } enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef } }
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }";

async fn the_standard_introspection_query_is_answered(store: Store) {
    let app = TestApp::spawn(store).await;
    let answer = app.data(INTROSPECTION, json!({})).await;
    assert_eq!(answer["__schema"]["queryType"]["name"], "Query");
    let closed = TestApp::spawn_with(store, |s| s.graphql.introspection = false).await;
    let refused = closed.graphql(INTROSPECTION, json!({})).await;
    assert!(refused["data"]["__schema"].is_null() || refused.get("errors").is_some(), "{refused}");
    assert_eq!(closed.data("{ __typename }", json!({})).await["__typename"], "Query");
}

/// The process's peak resident memory, in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> Value {
    app.graphql(
        "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { accessToken } }",
        json!({ "e": email, "p": password }),
    )
    .await
}

async fn parallel_sign_ins_are_throttled_exactly_and_hashing_memory_stays_bounded(store: Store) {
    let app = TestApp::spawn(store).await;
    account(&app, "ada@example.com", Role::Customer).await;
    let guesses =
        futures_util::future::join_all((0..40).map(|_| sign_in(&app, "ada@example.com", "wrong-guess-00000")));
    let answers = guesses.await;
    let codes: Vec<String> = answers.iter().flat_map(error_codes).collect();
    let checked = codes.iter().filter(|c| *c == "UNAUTHENTICATED").count();
    assert_eq!(checked + codes.iter().filter(|c| *c == "RATE_LIMITED").count(), 40, "{codes:?}");
    assert!(checked <= 5, "at most the account limit of 5 guesses were checked, not {checked}");
    let mut total = checked;
    while error_codes(&sign_in(&app, "ada@example.com", "wrong-guess-00000").await) == ["UNAUTHENTICATED"] {
        total += 1;
    }
    assert_eq!(total, 5, "exactly 5 guesses are ever checked in the window");
    assert_eq!(error_codes(&sign_in(&app, "ada@example.com", PASSWORD).await), ["RATE_LIMITED"]);

    // Sixty parallel checks on distinct accounts (limits out of the way): memory stays bounded.
    let open = TestApp::spawn_with(store, |s| {
        s.auth.max_failed_sign_ins_per_ip = 1_000;
        s.auth.password_hash_queue_ms = 60_000;
    })
    .await;
    sign_in(&open, "warm-up@example.com", "wrong-guess-00000").await;
    let before = peak_rss_kib();
    let emails: Vec<String> = (0..60).map(|i| format!("guest{i}@example.com")).collect();
    let answers = futures_util::future::join_all(emails.iter().map(|e| sign_in(&open, e, "wrong-guess-00000"))).await;
    assert!(answers.iter().all(|a| error_codes(a) == ["UNAUTHENTICATED"]), "every guess was checked and refused");
    let grown_mib = (peak_rss_kib() - before) / 1024;
    assert!(grown_mib < 400, "60 argon2 runs of 19 MiB would take 1.1 GiB at once; the peak grew {grown_mib} MiB");
}

async fn password_resets_and_password_changes_are_throttled(store: Store) {
    let app = TestApp::spawn(store).await;
    account(&app, "ada@example.com", Role::Customer).await;
    let reset = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    let answers =
        futures_util::future::join_all((0..20).map(|_| app.graphql(reset, json!({ "e": "ada@example.com" })))).await;
    let refused = answers.iter().filter(|a| error_codes(a) == ["RATE_LIMITED"]).count();
    assert_eq!(app.outbox.messages().len(), 20 - refused);
    assert!(
        app.outbox.messages().len() <= 3,
        "at most 3 codes per account and window, not {}",
        app.outbox.messages().len()
    );

    let (access, _) = app.sign_in("ada@example.com", PASSWORD).await;
    let change =
        "mutation($c: String!) { changePassword(currentPassword: $c, newPassword: \"another-long-passphrase\") }";
    let bearer = Credential::Bearer(access);
    let mut codes = Vec::new();
    for i in 0..7 {
        let guess = app.graphql_as(&bearer, change, json!({ "c": format!("guess-number-{i}") })).await;
        codes.extend(error_codes(&guess));
    }
    assert_eq!(codes, ["BAD_USER_INPUT"; 5].iter().chain(&["RATE_LIMITED"; 2]).copied().collect::<Vec<_>>());
    let right = app.graphql_as(&bearer, change, json!({ "c": PASSWORD })).await;
    assert_eq!(error_codes(&right), ["RATE_LIMITED"], "the right password is refused once throttled");
}

async fn a_socket_runs_with_the_viewer_and_address_of_its_connection(store: Store) {
    let app = TestApp::spawn(store).await;
    account(&app, "ada@example.com", Role::Admin).await;
    let (access, _) = app.sign_in("ada@example.com", PASSWORD).await;
    let mut ws = socket(&app, &[]).await.unwrap();
    send_json(
        &mut ws,
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {access}") } }),
    )
    .await;
    assert_eq!(next_message(&mut ws).await["type"], "connection_ack");
    send_json(&mut ws, json!({ "id": "me", "type": "subscribe", "payload": { "query": "{ me { email } }" } })).await;
    assert_eq!(next_message(&mut ws).await["payload"]["data"]["me"]["email"], "ada@example.com");
    assert_eq!(next_message(&mut ws).await["type"], "complete");

    // Sign-ins over the socket count against the same per-address limit as HTTP.
    let limited = TestApp::spawn_with(store, |s| s.auth.max_failed_sign_ins_per_ip = 3).await;
    let mut ws = socket(&limited, &[]).await.unwrap();
    send_json(&mut ws, json!({ "type": "connection_init" })).await;
    assert_eq!(next_message(&mut ws).await["type"], "connection_ack");
    let mut codes = Vec::new();
    for i in 0..5 {
        let query = format!(
            "mutation {{ signIn(email: \"user{i}@example.com\", password: \"wrong-guess-00000\") {{ accessToken }} }}"
        );
        send_json(&mut ws, json!({ "id": format!("s{i}"), "type": "subscribe", "payload": { "query": query } })).await;
        let answer = next_message(&mut ws).await;
        codes.push(answer["payload"]["errors"][0]["extensions"]["code"].as_str().unwrap_or_default().to_owned());
        next_message(&mut ws).await; // complete
    }
    assert_eq!(codes, ["UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED", "RATE_LIMITED", "RATE_LIMITED"]);
    let over_http = sign_in(&limited, "someone@example.com", "wrong-guess-00000").await;
    assert_eq!(error_codes(&over_http), ["RATE_LIMITED"], "the socket's guesses count for HTTP too");
    let events: Vec<(String, Option<String>)> = {
        use sea_orm::EntityTrait;
        entity::security_event::Entity::find()
            .all(limited.db.conn())
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.action, e.ip))
            .collect()
    };
    assert!(events.iter().all(|(_, ip)| ip.as_deref() == Some("127.0.0.1")), "audited with the address: {events:?}");

    // A bad token in connection_init is refused, as over HTTP.
    let mut ws = socket(&app, &[]).await.unwrap();
    send_json(&mut ws, json!({ "type": "connection_init", "payload": { "accessToken": "forged" } })).await;
    assert!(next_message(&mut ws).await["close"].is_number(), "closed");
}

async fn sockets_are_capped_timed_out_and_size_limited(store: Store) {
    let app = TestApp::spawn_with(store, |s| {
        s.websocket.init_timeout_ms = 300;
        s.websocket.max_connections_per_ip = 3;
        s.graphql.max_body_bytes = 16 * 1024;
    })
    .await;
    let mut silent = socket(&app, &[]).await.unwrap();
    assert_eq!(next_message(&mut silent).await, json!({ "close": 4408 }), "no connection_init in time");

    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(socket(&app, &[]).await.unwrap());
    }
    let refused = socket(&app, &[]).await;
    assert!(
        matches!(&refused, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 429),
        "a fourth socket from one address is refused: {refused:?}"
    );
    drop(open);
    tokio::time::sleep(Duration::from_millis(100)).await;

    let mut ws = socket(&app, &[]).await.unwrap();
    send_json(&mut ws, json!({ "type": "connection_init" })).await;
    assert_eq!(next_message(&mut ws).await["type"], "connection_ack");
    let huge = format!("{{ __typename }} # {}", "x".repeat(32 * 1024));
    send_json(&mut ws, json!({ "id": "1", "type": "subscribe", "payload": { "query": huge } })).await;
    let after = next_message(&mut ws).await;
    assert!(after.get("close").is_some(), "a message over the body limit ends the socket: {after}");

    let foreign = socket(&app, &[("origin", "https://evil.example")]).await;
    assert!(matches!(&foreign, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 403));
    let own = format!("http://{}", app.address.trim_start_matches("http://"));
    assert!(socket(&app, &[("origin", &own)]).await.is_ok(), "the server's own origin may connect");
    alive(&app).await;
}

async fn a_demoted_or_deleted_account_loses_its_access_token_at_once(store: Store) {
    let app = TestApp::spawn(store).await;
    account(&app, "root@example.com", Role::Admin).await;
    account(&app, "staff@example.com", Role::Staff).await;
    let (root, _) = app.sign_in("root@example.com", PASSWORD).await;
    let (staff, _) = app.sign_in("staff@example.com", PASSWORD).await;
    let staff_id =
        app.graphql_as(&Credential::Bearer(staff.clone()), "{ me { id } }", json!({})).await["data"]["me"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let read = "query($u: ID!) { user(id: $u) { email } }";
    let before = app.graphql_as(&Credential::Bearer(staff.clone()), read, json!({ "u": staff_id })).await;
    assert_eq!(before["data"]["user"]["email"], "staff@example.com");
    let demote = "mutation($u: ID!) { setUserRole(userId: $u, role: CUSTOMER) { role } }";
    let demoted = app.graphql_as(&Credential::Bearer(root.clone()), demote, json!({ "u": staff_id })).await;
    assert_eq!(demoted["data"]["setUserRole"]["role"], "CUSTOMER");
    let after = app.graphql_as(&Credential::Bearer(staff), read, json!({ "u": staff_id })).await;
    assert_eq!(error_codes(&after), ["UNAUTHENTICATED"], "the old STAFF token is refused: {after}");

    // A password change ends the access tokens issued before it, and a new sign-in works.
    let (before_change, _) = app.sign_in("staff@example.com", PASSWORD).await;
    let change = "mutation { changePassword(currentPassword: \"velvet-archive-1997\", newPassword: \"a-brand-new-passphrase\") }";
    let changed = app.graphql_as(&Credential::Bearer(before_change.clone()), change, json!({})).await;
    assert_eq!(changed["data"]["changePassword"], true, "{changed}");
    let stale = app.graphql_as(&Credential::Bearer(before_change), "{ me { email } }", json!({})).await;
    assert_eq!(error_codes(&stale), ["UNAUTHENTICATED"]);
    let (fresh, _) = app.sign_in("staff@example.com", "a-brand-new-passphrase").await;
    let me = app.graphql_as(&Credential::Bearer(fresh), "{ me { email } }", json!({})).await;
    assert_eq!(me["data"]["me"]["email"], "staff@example.com");

    // A validly signed token of an account that no longer exists.
    use sea_orm::ConnectionTrait;
    app.db.conn().execute_unprepared("DELETE FROM refresh_tokens").await.unwrap();
    app.db.conn().execute_unprepared("DELETE FROM security_events").await.unwrap();
    app.db.conn().execute_unprepared("DELETE FROM users WHERE email = 'root@example.com'").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await; // past the account cache
    let keys = app.graphql_as(&Credential::Bearer(root), "{ apiKeys { name } }", json!({})).await;
    assert_eq!(error_codes(&keys), ["UNAUTHENTICATED"], "{keys}");
}

async fn racing_uses_of_one_refresh_token_leave_no_valid_session(store: Store) {
    let app = TestApp::spawn(store).await;
    account(&app, "ada@example.com", Role::Customer).await;
    let refresh = "mutation($t: String) { refreshSession(refreshToken: $t) { refreshToken } }";
    for _ in 0..5 {
        let (_, token) = app.sign_in("ada@example.com", PASSWORD).await;
        let uses = futures_util::future::join_all((0..4).map(|_| app.graphql(refresh, json!({ "t": token })))).await;
        let winners: Vec<String> = uses
            .iter()
            .filter_map(|u| u["data"]["refreshSession"]["refreshToken"].as_str().map(str::to_owned))
            .collect();
        assert!(winners.len() <= 1, "exactly one use may win: {uses:?}");
        for winner in winners {
            let reused = app.graphql(refresh, json!({ "t": winner })).await;
            assert_eq!(error_codes(&reused), ["UNAUTHENTICATED"], "the reuse revoked the winner's session too");
        }
    }
}

async fn concurrent_writers_on_every_path_queue_instead_of_failing(store: Store) {
    let shop = crate::shop::Shop::open(store).await;
    let staff = crate::shop::As::user(&shop.staff);
    let create = "mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }";
    let vendor = crate::shop::gid(aeternum::graphql::ids::NodeType::Vendor, shop.unique.vendor_id);
    let category = crate::shop::gid(aeternum::graphql::ids::NodeType::Category, shop.unique.category_id);
    let writes = (0..12).map(|i| {
        let input = json!({ "vendorId": vendor, "categoryId": category, "title": format!("Piece {i}"),
            "sku": format!("CONC-{i}"), "price": { "amount": "10.00", "currencyCode": "EUR" }, "stock": 1 });
        shop.call(&staff, create, json!({ "i": input }))
    });
    let registrations = (0..4).map(|i| {
        shop.app.graphql(
            "mutation($e: String!) { register(email: $e, password: \"velvet-archive-1997\", displayName: \"C\") { accessToken } }",
            json!({ "e": format!("c{i}@example.com") }),
        )
    });
    let guest = crate::shop::As::default();
    let carts = (0..6).map(|_| shop.call(&guest, "mutation { openCart { token } }", json!({})));
    let multi = crate::shop::gid(aeternum::graphql::ids::NodeType::Product, shop.multi.id);
    let dollars = crate::shop::gid(aeternum::graphql::ids::NodeType::Product, shop.dollars.id);
    let edits = (0..6).map(|i| {
        let (id, query) = if i % 2 == 0 {
            (&multi, "mutation($p: ID!, $t: String!) { updateProduct(id: $p, input: { title: $t }) { id } }")
        } else {
            (&dollars, "mutation($p: ID!) { adjustStock(productId: $p, delta: 1, reason: RESTOCK) { stock } }")
        };
        shop.call(&staff, query, json!({ "p": id, "t": format!("Retitled {i}") }))
    });
    let customer = crate::shop::As::user(&shop.customer);
    let customer_cart = shop.cart_of(&customer).await;
    let lines = (0..4).map(|_| {
        shop.call(
            &customer,
            "mutation($c: ID!, $p: ID!) { addToCart(cartId: $c, productId: $p, quantity: 1) { itemCount } }",
            json!({ "c": customer_cart, "p": dollars }),
        )
    });
    let sign_ins = (0..3).map(|_| {
        shop.app.graphql(
            "mutation { signIn(email: \"staff@example.com\", password: \"shop-passphrase-2026\") { accessToken } }",
            json!({}),
        )
    });
    let (products, accounts, carts, edits, lines, sign_ins) = tokio::join!(
        futures_util::future::join_all(writes),
        futures_util::future::join_all(registrations),
        futures_util::future::join_all(carts),
        futures_util::future::join_all(edits),
        futures_util::future::join_all(lines),
        futures_util::future::join_all(sign_ins)
    );
    for answer in products.iter().chain(&accounts).chain(&carts).chain(&edits).chain(&lines).chain(&sign_ins) {
        assert!(answer.get("errors").is_none(), "a concurrent write failed: {answer:#}");
    }
    assert_eq!(shop.count("products").await, 3 + 12);
    assert_eq!(shop.product(shop.dollars.id).await.stock, 10 + 3, "every stock change counted once");
}

async fn slow_clients_are_cut_off_and_readiness_answers_quickly_when_the_store_is_gone(store: Store) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(store, |s| s.http.request_read_timeout_seconds = 1).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the half-sent request is cut off, not held open");
    assert!(started.elapsed() < Duration::from_secs(10));
    alive(&app).await;

    // A keep-alive connection survives between requests within the limit.
    let client = reqwest::Client::new();
    for _ in 0..2 {
        let ok = client.get(format!("{}/healthz", app.address)).send().await.unwrap();
        assert_eq!(ok.status(), 200);
    }

    app.db.clone().close().await;
    let ready = tokio::time::timeout(Duration::from_secs(5), app.client.get(format!("{}/readyz", app.address)).send())
        .await
        .expect("readiness answers within its bound")
        .unwrap();
    assert_eq!(ready.status(), 503);
}

async fn password_checks_beyond_the_hashing_threads_wait_briefly_then_are_throttled(store: Store) {
    // The hashing limits are per process; this test's first application sets them.
    let app = TestApp::spawn_with(store, |s| {
        s.auth.max_concurrent_password_hashes = 1;
        s.auth.password_hash_queue_ms = 1;
        s.auth.max_failed_sign_ins_per_ip = 1_000;
    })
    .await;
    let emails: Vec<String> = (0..12).map(|i| format!("queue{i}@example.com")).collect();
    let answers = futures_util::future::join_all(emails.iter().map(|e| sign_in(&app, e, "wrong-guess-00000"))).await;
    let codes: Vec<String> = answers.iter().flat_map(error_codes).collect();
    assert!(codes.iter().all(|c| c == "UNAUTHENTICATED" || c == "THROTTLED"), "{codes:?}");
    assert!(codes.iter().any(|c| c == "THROTTLED"), "past the queue, password checks are refused: {codes:?}");
    assert!(codes.iter().any(|c| c == "UNAUTHENTICATED"), "the ones that got a turn were checked: {codes:?}");
    alive(&app).await;
}

async fn an_exhausted_pool_answers_503_service_unavailable_then_recovers(store: Store) {
    use sea_orm::TransactionTrait;
    let app = TestApp::spawn_with(store, |s| {
        s.database.max_connections = Some(1);
        s.database.acquire_timeout_seconds = 1;
    })
    .await;
    let held = app.db.conn().begin().await.unwrap(); // the pool's only connection
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": "{ categories { name } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_codes(&body), ["SERVICE_UNAVAILABLE"], "{body}");
    held.rollback().await.unwrap();
    alive(&app).await;
}

/// Where an order was placed from, as the checkout recorded it, when a guest checks out through
/// a peer at 127.0.0.1 that sends `X-Forwarded-For: forwarded`.
async fn placed_from(store: Store, trusted: &[&str], forwarded: &str) -> Option<String> {
    let trusted: Vec<String> = trusted.iter().map(|t| (*t).to_owned()).collect();
    let shop = crate::shop::Shop::open_with(store, move |s| s.http.trusted_proxies = trusted).await;
    let (cart, guest) = shop.guest_cart().await;
    shop.add(&guest, &cart, &shop.multi, 1).await;
    let token = guest.cart_token.clone().unwrap();
    let checkout = "mutation($c: ID!, $a: AddressInput!) {
        checkout(cartId: $c, shippingAddress: $a, idempotencyKey: \"proxy-0001\", email: \"g@example.com\") { id } }";
    let headers = [("x-cart-token", token.as_str()), ("x-forwarded-for", forwarded)];
    let placed = shop.app.graphql_with(&headers, checkout, json!({ "c": cart, "a": crate::shop::address() })).await;
    assert!(placed["data"]["checkout"]["id"].is_string(), "{placed}");
    let order = entity::order::Entity::find().one(shop.app.db.conn()).await.unwrap().unwrap();
    order.placed_from
}

async fn only_a_trusted_proxy_names_the_client(store: Store) {
    // No trusted proxy: whatever the header says, the peer is the client.
    assert_eq!(placed_from(store, &[], "198.51.100.7").await.as_deref(), Some("127.0.0.1"));
    // Behind a trusted load balancer, the address it saw; a client's own entries on the left of
    // the header are not believed.
    assert_eq!(placed_from(store, &["127.0.0.0/8"], "198.51.100.7").await.as_deref(), Some("198.51.100.7"));
    assert_eq!(placed_from(store, &["127.0.0.1"], "6.6.6.6, 198.51.100.7").await.as_deref(), Some("198.51.100.7"));
}
