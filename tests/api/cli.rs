//! The binary end to end: migrate, seed, serve, answer, and stop cleanly on SIGTERM.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::helpers::{Store, fresh_database};

fn aeternum(database_url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aeternum"));
    command.env("DATABASE_URL", database_url).env("AETERNUM_LOG__FORMAT", "json").env_remove("RUST_LOG");
    command
}

async fn the_binary_migrates_seeds_serves_and_stops_on_sigterm(store: Store) {
    let (url, _dir) = fresh_database(store).await;
    assert!(aeternum(&url).arg("migrate").status().await.unwrap().success());
    assert!(aeternum(&url).args(["seed", "--demo"]).status().await.unwrap().success());

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = aeternum(&url)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..200 {
        if client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "the server became ready");
    let body = json!({ "query": "{ products(first: 2) { edges { node { title } } } }" });
    let response: Value =
        client.post(format!("{base}/graphql")).json(&body).send().await.unwrap().json().await.unwrap();
    assert_eq!(response["data"]["products"]["edges"].as_array().map(Vec::len), Some(2));

    let pid = server.id().unwrap().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().await.unwrap().success());
    let status = tokio::time::timeout(Duration::from_secs(30), server.wait()).await.expect("stops").unwrap();
    assert!(status.success(), "a SIGTERM is a clean stop: {status}");

    let mut logs = String::new();
    server.stderr.take().unwrap().read_to_string(&mut logs).await.unwrap();
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
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = aeternum(&url)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("AETERNUM_LOG__FILTER", "debug")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}/graphql");
    for _ in 0..200 {
        if client.get(format!("http://127.0.0.1:{port}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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

    let pid = server.id().unwrap().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), server.wait()).await.expect("stops").unwrap();
    let mut logs = String::new();
    server.stderr.take().unwrap().read_to_string(&mut logs).await.unwrap();
    assert!(logs.lines().count() > 20, "debug logging was on");
    for secret in [password, wrong, "weakcanary", &access, &refresh, &second] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
}

store_tests!(the_binary_migrates_seeds_serves_and_stops_on_sigterm, passwords_and_tokens_never_reach_the_logs);
