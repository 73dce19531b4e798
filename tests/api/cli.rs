//! The binary end to end: migrate, seed, serve, answer, and stop cleanly on SIGTERM.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

use crate::helpers::{Store, count_rows, empty_database, fresh_database};

fn aeternum(database_url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aeternum"));
    command.env("DATABASE_URL", database_url).env("AETERNUM_LOG__FORMAT", "json").env_remove("RUST_LOG");
    command
}

/// The store the binary was pointed at, opened by the test.
async fn connect(url: &str) -> aeternum::db::Db {
    let mut settings = aeternum::config::Settings::default().database;
    settings.url = aeternum::config::Secret::new(url.to_owned());
    aeternum::db::Db::connect(&settings).await.unwrap()
}

/// A running server and the task collecting everything it logs (read as it comes, so a chatty
/// server never blocks on a full pipe).
struct Served {
    child: Child,
    logs: tokio::task::JoinHandle<String>,
}

/// Starts `aeternum serve` on a free port with the given log filter and waits until it is ready.
async fn serve(database_url: &str, log_filter: &str) -> (Served, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = aeternum(database_url)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("AETERNUM_LOG__FILTER", log_filter)
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let logs = tokio::spawn(async move {
        let mut logs = String::new();
        stderr.read_to_string(&mut logs).await.unwrap();
        logs
    });
    let server = Served { child, logs };
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            return (server, base);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not become ready");
}

/// Sends SIGTERM, waits for the exit, and returns the exit status and everything logged.
async fn stop_and_read_logs(mut server: Served) -> (ExitStatus, String) {
    let pid = server.child.id().unwrap().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().await.unwrap().success());
    let status = tokio::time::timeout(Duration::from_secs(30), server.child.wait()).await.expect("stops").unwrap();
    (status, server.logs.await.unwrap())
}

async fn the_binary_migrates_seeds_serves_and_stops_on_sigterm(store: Store) {
    let (url, _dir) = empty_database(store).await;
    assert!(aeternum(&url).arg("migrate").status().await.unwrap().success());
    assert!(aeternum(&url).args(["seed", "--demo"]).status().await.unwrap().success());

    let (server, base) = serve(&url, "info").await;
    let client = reqwest::Client::new();
    let body = json!({ "query": "{ products(first: 2) { edges { node { title } } } }" });
    let response: Value =
        client.post(format!("{base}/graphql")).json(&body).send().await.unwrap().json().await.unwrap();
    assert_eq!(response["data"]["products"]["edges"].as_array().map(Vec::len), Some(2));

    let (status, logs) = stop_and_read_logs(server).await;
    assert!(status.success(), "a SIGTERM is a clean stop: {status}");
    let lines: Vec<Value> = logs.lines().map(|l| serde_json::from_str(l).expect("every log line is JSON")).collect();
    assert!(lines.iter().any(|l| l["message"].as_str().is_some_and(|m| m.contains("shutdown signal received"))));
    let password = url
        .strip_prefix("postgres://")
        .and_then(|rest| rest.split_once('@'))
        .and_then(|(user, _)| user.split_once(':'));
    if let Some((_, password)) = password {
        assert!(!logs.contains(password), "the database password never reaches the logs");
    }
}

async fn passwords_and_tokens_never_reach_the_logs(store: Store) {
    let (url, _dir) = fresh_database(store).await;
    let (server, base) = serve(&url, "debug").await;
    let client = reqwest::Client::new();
    let base = format!("{base}/graphql");
    let post = |query: String| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            client.post(base).json(&json!({ "query": query })).send().await.unwrap().json::<Value>().await.unwrap()
        }
    };
    let password = "log-canary-passphrase-7731";
    let wrong = "wrong-canary-passphrase-4412";
    let registered = post(format!("mutation {{ register(email: \"logtest@example.com\", password: \"{password}\", displayName: \"C\") {{ accessToken refreshToken }} }}")).await;
    let access = registered["data"]["register"]["accessToken"].as_str().unwrap().to_owned();
    let refresh = registered["data"]["register"]["refreshToken"].as_str().unwrap().to_owned();
    post(format!("mutation {{ signIn(email: \"logtest@example.com\", password: \"{wrong}\") {{ accessToken }} }}"))
        .await;
    let rotated = post(format!("mutation {{ refreshSession(refreshToken: \"{refresh}\") {{ refreshToken }} }}")).await;
    let second = rotated["data"]["refreshSession"]["refreshToken"].as_str().unwrap().to_owned();
    post(format!("mutation {{ refreshSession(refreshToken: \"{refresh}\") {{ refreshToken }} }}")).await;
    let weak = post("mutation { register(email: \"weak@example.com\", password: \"weakcanary\", displayName: \"W\") { accessToken } }".into()).await;
    assert!(
        weak["errors"][0]["message"].as_str().is_some_and(|m| !m.contains("weakcanary")),
        "errors do not echo passwords"
    );
    client
        .post(&base)
        .bearer_auth(format!("{access}x"))
        .json(&json!({ "query": "{ me { email } }" }))
        .send()
        .await
        .unwrap();

    let (_, logs) = stop_and_read_logs(server).await;
    assert!(logs.lines().count() > 20, "debug logging was on");
    for secret in [password, wrong, "weakcanary", &access, &refresh, &second] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
}

/// Client mistakes (bad input, wrong passwords, lost checkout races, declined payments) are
/// logged below ERROR; ERROR is kept for our own faults.
async fn client_mistakes_are_not_logged_as_errors(store: Store) {
    let (url, _dir) = fresh_database(store).await;
    assert!(aeternum(&url).args(["seed", "--demo"]).status().await.unwrap().success());
    let (server, base) = serve(&url, "info").await;
    let client = reqwest::Client::new();
    let endpoint = format!("{base}/graphql");
    let call = |query: &str, variables: Value, cart: Option<String>| {
        let mut request = client.post(&endpoint).json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = cart {
            request = request.header("x-cart-token", token);
        }
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    for bad in ["{ nope }", "{ products(first: 1000) { totalCount } }", "{ product(id: \"x\") { id } }"] {
        assert!(call(bad, json!({}), None).await.get("errors").is_some());
    }
    call(
        "mutation { signIn(email: \"a@example.com\", password: \"wrong-password-1\") { accessToken } }",
        json!({}),
        None,
    )
    .await;
    let listing =
        call("{ products(first: 1, filter: { available: true }) { edges { node { id } } } }", json!({}), None).await;
    let product = listing["data"]["products"]["edges"][0]["node"]["id"].as_str().unwrap().to_owned();
    let mut carts = Vec::new();
    let mut adds = Vec::new();
    for _ in 0..4 {
        let opened = call("mutation { openCart { cart { id } token } }", json!({}), None).await;
        let (cart, token) =
            (opened["data"]["openCart"]["cart"]["id"].clone(), opened["data"]["openCart"]["token"].clone());
        let token = token.as_str().unwrap().to_owned();
        adds.push(
            call(
                "mutation($c: ID!, $p: ID!) { addToCart(cartId: $c, productId: $p, quantity: 1) { itemCount } }",
                json!({ "c": cart, "p": product }),
                Some(token.clone()),
            )
            .await,
        );
        carts.push((cart, token));
    }
    let checkout = "mutation($c: ID!, $k: String!) { checkout(cartId: $c, idempotencyKey: $k, email: \"g@example.com\",
        shippingAddress: { name: \"G\", line1: \"1 Rue\", city: \"Paris\", postalCode: \"75001\", country: \"FR\" }) { id } }";
    let races = carts.iter().enumerate().map(|(i, (cart, token))| {
        call(checkout, json!({ "c": cart, "k": format!("race-key-{i:04}") }), Some(token.clone()))
    });
    let answers = futures_util::future::join_all(races).await;
    // A unique piece is held by the first cart: the others are refused when adding it, or at
    // checkout when it is not a unique piece.
    assert!(
        adds.iter().chain(&answers).any(|a| a["errors"][0]["extensions"]["code"] == "OUT_OF_STOCK"),
        "{adds:?} {answers:?}"
    );

    let (_, logs) = stop_and_read_logs(server).await;
    let errors: Vec<&str> = logs.lines().filter(|l| l.contains("\"level\":\"ERROR\"")).collect();
    assert!(errors.is_empty(), "client mistakes were logged as errors: {errors:#?}");
}

async fn a_manifest_file_is_imported_for_a_partner_and_a_bad_one_refused(store: Store) {
    let (url, _dir) = empty_database(store).await;
    let dir = tempfile::tempdir().unwrap();
    let bodies = ["query Categories { categories { name } }", "query Count { products(first: 1) { totalCount } }"];
    let good = dir.path().join("manifest.json");
    std::fs::write(&good, crate::helpers::manifest_of(&bodies).to_string()).unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, crate::helpers::manifest_of(&["query Wrong { noSuchField }"]).to_string()).unwrap();

    let created = aeternum(&url).args(["partner", "create", "--slug", "feedly", "--name", "Feedly"]).status().await;
    assert!(created.unwrap().success());
    let db = connect(&url).await;
    let partner = aeternum::partner::service::by_slug(&db, "feedly").await.unwrap();
    let client = aeternum::identity::viewer::ClientInfo::default();
    let scopes = vec!["catalog:read".to_owned()];
    aeternum::identity::keys::issue(&db, &client, uuid::Uuid::now_v7(), partner.id, "production", scopes)
        .await
        .unwrap();
    let import = |file: &std::path::Path, extra: &[&str]| {
        let mut command = aeternum(&url);
        command.args(["partner", "manifest", "import", "--partner", "feedly"]).args(extra).arg(file);
        command.output()
    };
    let imported = import(&good, &[]).await.unwrap();
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));
    let refused = import(&bad, &[]).await.unwrap();
    assert!(!refused.status.success(), "an invalid manifest fails the command");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("operation `Wrong`") && stderr.contains("noSuchField"), "the reason is told: {stderr}");
    let staged = import(&good, &["--no-activate"]).await.unwrap();
    assert!(staged.status.success());
    let missing = import(&dir.path().join("none.json"), &[]).await.unwrap();
    assert!(!missing.status.success());

    let partner = aeternum::partner::service::by_slug(&db, "feedly").await.unwrap();
    let manifests = aeternum::partner::service::manifests(&db, partner.id).await.unwrap();
    let versions: Vec<_> =
        manifests.iter().map(|m| (m.version, m.operations, Some(m.id) == partner.active_manifest_id)).collect();
    assert_eq!(
        versions,
        [(2, 2, false), (1, 2, true)],
        "the refused file registered nothing; --no-activate kept 1 active"
    );
    let activated = aeternum(&url)
        .args(["partner", "manifest", "activate", "--partner", "feedly", "--version", "2"])
        .status()
        .await;
    assert!(activated.unwrap().success());
    let partner = aeternum::partner::service::by_slug(&db, "feedly").await.unwrap();
    assert_eq!(partner.active_manifest_id, Some(manifests[0].id));
}

/// `eval-search --database-url` scores on a database of the caller's, but only an empty one: it
/// never mixes the demo catalog into a real one.
async fn eval_search_refuses_a_database_that_holds_products(store: Store) {
    let (url, _dir) = empty_database(store).await;
    assert!(aeternum(&url).args(["seed", "--products", "3"]).status().await.unwrap().success());
    let refused = aeternum(&url).args(["eval-search", "--database-url", &url]).output().await.unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("needs an empty database"), "{stderr}");

    assert_eq!(count_rows(&connect(&url).await, "products").await, 3, "no demo product was added");
}

store_tests!(
    eval_search_refuses_a_database_that_holds_products,
    a_manifest_file_is_imported_for_a_partner_and_a_bad_one_refused,
    the_binary_migrates_seeds_serves_and_stops_on_sigterm,
    passwords_and_tokens_never_reach_the_logs,
    client_mistakes_are_not_logged_as_errors,
);
