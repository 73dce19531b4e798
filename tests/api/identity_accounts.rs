//! Accounts and sessions: registration, sign-in, token rotation and reuse, resets, throttling,
//! partner keys, and refusing every token that is not ours.

use aeternum::identity::tokens::Claims;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entity::{Role, api_key, user};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::helpers::{Credential, Store, TEST_JWT_SECRET, TEST_KID, TestApp, error_codes};

const PASSWORD: &str = "velvet-archive-1997";
const REGISTER: &str = "mutation($e: String!, $p: String!, $n: String!) {
    register(email: $e, password: $p, displayName: $n) { accessToken refreshToken user { email role } } }";
const REFRESH: &str = "mutation($t: String) { refreshSession(refreshToken: $t) { accessToken refreshToken } }";
const ME: &str = "{ me { email displayName role } }";

async fn register(app: &TestApp, email: &str) -> Value {
    app.graphql(REGISTER, json!({ "e": email, "p": PASSWORD, "n": "Ada" })).await
}

async fn sessions_register_sign_in_rotate_and_end(store: Store) {
    let app = TestApp::spawn(store).await;
    let registered = register(&app, " Ada@Example.COM ").await;
    assert_eq!(registered["data"]["register"]["user"], json!({ "email": "ada@example.com", "role": "CUSTOMER" }));
    let access = registered["data"]["register"]["accessToken"].as_str().unwrap().to_owned();
    let me = app.graphql_as(&Credential::Bearer(access), ME, json!({})).await;
    assert_eq!(me["data"]["me"], json!({ "email": "ada@example.com", "displayName": "Ada", "role": "CUSTOMER" }));
    assert_eq!(app.data(ME, json!({})).await["me"], Value::Null, "anonymous");

    let (_, first) = app.sign_in("ada@example.com", PASSWORD).await;
    let rotated = app.data(REFRESH, json!({ "t": first })).await["refreshSession"].clone();
    let second = rotated["refreshToken"].as_str().unwrap().to_owned();
    assert_ne!(first, second, "refresh tokens rotate");
    let third =
        app.data(REFRESH, json!({ "t": second })).await["refreshSession"]["refreshToken"].as_str().unwrap().to_owned();

    // Reusing an old token revokes the family: even the newest token stops working.
    assert_eq!(error_codes(&app.graphql(REFRESH, json!({ "t": first })).await), ["UNAUTHENTICATED"]);
    assert_eq!(error_codes(&app.graphql(REFRESH, json!({ "t": third })).await), ["UNAUTHENTICATED"]);

    // Signing out ends that session.
    let (_, fresh) = app.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(
        app.data("mutation($t: String) { signOut(refreshToken: $t) }", json!({ "t": fresh })).await["signOut"],
        true
    );
    assert_eq!(error_codes(&app.graphql(REFRESH, json!({ "t": fresh })).await), ["UNAUTHENTICATED"]);
}

async fn cookie_sessions_refresh_from_the_cookie(store: Store) {
    let app = TestApp::spawn(store).await;
    register(&app, "ada@example.com").await;
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": "mutation { signIn(email: \"ada@example.com\", password: \"velvet-archive-1997\", cookie: true) { refreshToken } }" }))
        .send()
        .await
        .unwrap();
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.starts_with("aeternum_refresh=aer_"), "{set_cookie}");
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/graphql"] {
        assert!(set_cookie.contains(attribute), "{attribute} in {set_cookie}");
    }
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["signIn"]["refreshToken"], Value::Null, "the token is only in the cookie");

    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let refreshed: Value = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("cookie", cookie)
        .json(&json!({ "query": "mutation { refreshSession { accessToken refreshToken } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(refreshed["data"]["refreshSession"]["accessToken"].is_string(), "{refreshed}");
}

fn sign(header: &Header, claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(header, claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

async fn foreign_and_expired_tokens_are_refused(store: Store) {
    let app = TestApp::spawn(store).await;
    let registered = register(&app, "ada@example.com").await;
    let good = registered["data"]["register"]["accessToken"].as_str().unwrap().to_owned();
    let claims: Claims = {
        let payload = good.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    };
    let now = chrono::Utc::now().timestamp();
    let mut staff = serde_json::to_value(&claims).unwrap();
    staff["role"] = json!("ADMIN");
    let mut expired = serde_json::to_value(&claims).unwrap();
    expired["exp"] = json!(now - 60);
    let hs256 = Header { kid: Some(TEST_KID.into()), ..Header::new(Algorithm::HS256) };
    let (head, body, signature) = {
        let mut parts = good.split('.');
        (parts.next().unwrap().to_owned(), parts.next().unwrap().to_owned(), parts.next().unwrap().to_owned())
    };
    let header_json = |json: Value| URL_SAFE_NO_PAD.encode(json.to_string());
    let hmac_signature = |signing_input: &str| hmac_sha256_shim::sign(signing_input, TEST_JWT_SECRET);
    let rs256_header = header_json(json!({ "alg": "RS256", "typ": "JWT", "kid": TEST_KID }));
    let cases: Vec<(&str, String)> = vec![
        (
            "a forged role with the old signature",
            format!("{head}.{}.{signature}", URL_SAFE_NO_PAD.encode(staff.to_string())),
        ),
        ("expired", sign(&hs256, &expired, TEST_JWT_SECRET)),
        (
            "signed with another secret",
            sign(&hs256, &serde_json::to_value(&claims).unwrap(), "another-secret-of-more-than-32-bytes!!"),
        ),
        (
            "an unknown key id",
            sign(
                &Header { kid: Some("other".into()), ..hs256.clone() },
                &serde_json::to_value(&claims).unwrap(),
                TEST_JWT_SECRET,
            ),
        ),
        ("no key id", sign(&Header::new(Algorithm::HS256), &serde_json::to_value(&claims).unwrap(), TEST_JWT_SECRET)),
        (
            "HS512",
            sign(
                &Header { kid: Some(TEST_KID.into()), ..Header::new(Algorithm::HS512) },
                &serde_json::to_value(&claims).unwrap(),
                TEST_JWT_SECRET,
            ),
        ),
        ("alg none", format!("{}.{body}.", header_json(json!({ "alg": "none", "typ": "JWT", "kid": TEST_KID })))),
        ("RS256 header with an HMAC signature", {
            let input = format!("{rs256_header}.{body}");
            let sig = hmac_signature(&input);
            format!("{input}.{sig}")
        }),
        ("garbage", "not.a.token".to_owned()),
    ];
    for (name, token) in cases {
        let response = app
            .client
            .post(format!("{}/graphql", app.address))
            .bearer_auth(&token)
            .json(&json!({ "query": ME }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{name}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(error_codes(&body), ["UNAUTHENTICATED"], "{name}");
    }
    let ok = app.graphql_as(&Credential::Bearer(good), ME, json!({})).await;
    assert_eq!(ok["data"]["me"]["email"], "ada@example.com");
}

/// HMAC-SHA256 for hand-made tokens.
mod hmac_sha256_shim {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use sha2::{Digest, Sha256};

    pub fn sign(input: &str, secret: &str) -> String {
        let mut key = [0u8; 64];
        key[..secret.len()].copy_from_slice(secret.as_bytes());
        let pad = |byte: u8| key.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
        let inner = Sha256::new().chain_update(pad(0x36)).chain_update(input.as_bytes()).finalize();
        let outer = Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize();
        URL_SAFE_NO_PAD.encode(outer)
    }
}

async fn bad_registrations_are_refused_and_write_nothing(store: Store) {
    let app = TestApp::spawn(store).await;
    register(&app, "taken@example.com").await;
    let users = || async { user::Entity::find().count(app.db.conn()).await.unwrap() };
    let before = users().await;
    let long_name = "n".repeat(101);
    let cases = [
        ("weak password", "new@example.com", "short", "Bo", "BAD_USER_INPUT"),
        ("common password", "new@example.com", "password1234", "Bo", "BAD_USER_INPUT"),
        ("password containing the email", "bo@example.com", "bo-is-my-password", "Bo", "BAD_USER_INPUT"),
        ("malformed email", "not-an-email", PASSWORD, "Bo", "BAD_USER_INPUT"),
        ("duplicate email", "TAKEN@example.com", PASSWORD, "Bo", "CONFLICT"),
        ("oversized name", "new@example.com", PASSWORD, long_name.as_str(), "BAD_USER_INPUT"),
        ("empty name", "new@example.com", PASSWORD, "  ", "BAD_USER_INPUT"),
    ];
    for (name, email, password, display, code) in cases {
        let response = app.graphql(REGISTER, json!({ "e": email, "p": password, "n": display })).await;
        assert_eq!(error_codes(&response), [code], "{name}");
        let message = response["errors"][0]["message"].as_str().unwrap();
        assert!(!message.contains(password), "{name}: the password is not echoed");
        assert_eq!(users().await, before, "{name}: no account written");
    }
}

async fn sign_in_failures_look_alike_and_are_throttled(store: Store) {
    let app = TestApp::spawn(store).await;
    register(&app, "ada@example.com").await;
    let sign_in = |email: &'static str, password: &'static str| {
        let app = &app;
        async move {
            app.graphql(
                "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { accessToken } }",
                json!({ "e": email, "p": password }),
            )
            .await
        }
    };
    // The limits count failures: signing in often is not one.
    for _ in 0..7 {
        assert!(sign_in("ada@example.com", PASSWORD).await["data"]["signIn"]["accessToken"].is_string());
    }
    let unknown = sign_in("nobody@example.com", PASSWORD).await;
    let wrong = sign_in("ada@example.com", "wrong-password-123").await;
    assert_eq!(error_codes(&unknown), ["UNAUTHENTICATED"]);
    assert_eq!(unknown["errors"][0]["message"], wrong["errors"][0]["message"], "no hint which part was wrong");
    for _ in 0..4 {
        sign_in("ada@example.com", "wrong-password-123").await;
    }
    let throttled = sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(error_codes(&throttled), ["RATE_LIMITED"], "the right password is refused once throttled");

    aeternum::identity::service::create_user(&app.db, "root@example.com", PASSWORD, "Root", Role::Admin, None)
        .await
        .unwrap();
    let (admin, _) = app.sign_in("root@example.com", PASSWORD).await;
    let events = app
        .graphql_as(&Credential::Bearer(admin), "{ securityEvents(first: 50) { action subject ip } }", json!({}))
        .await;
    let actions: Vec<&str> =
        events["data"]["securityEvents"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "sign_in_failed").count(), 6);
    assert!(
        actions.contains(&"sign_in_throttled") && actions.contains(&"registered") && actions.contains(&"signed_in")
    );
    assert_eq!(events["data"]["securityEvents"][0]["ip"], "127.0.0.1");
}

async fn password_resets_are_single_use_and_end_sessions(store: Store) {
    let app = TestApp::spawn(store).await;
    register(&app, "ada@example.com").await;
    let (_, refresh) = app.sign_in("ada@example.com", PASSWORD).await;
    for email in ["ada@example.com", "nobody@example.com"] {
        let answer = app.data("mutation($e: String!) { requestPasswordReset(email: $e) }", json!({ "e": email })).await;
        assert_eq!(answer["requestPasswordReset"], true, "the same answer for {email}");
    }
    let messages = app.outbox.messages();
    assert_eq!(messages.len(), 1, "only the real account gets a message");
    let code = messages[0].body.split_whitespace().find(|w| w.starts_with("aep_")).unwrap().to_owned();

    const RESET: &str = "mutation($c: String!, $p: String!) { resetPassword(code: $c, newPassword: $p) }";
    let weak = app.graphql(RESET, json!({ "c": code, "p": "short" })).await;
    assert_eq!(error_codes(&weak), ["BAD_USER_INPUT"]);
    assert_eq!(app.data(RESET, json!({ "c": code, "p": "a-brand-new-passphrase" })).await["resetPassword"], true);
    assert_eq!(
        error_codes(&app.graphql(RESET, json!({ "c": code, "p": "another-new-passphrase" })).await),
        ["BAD_USER_INPUT"],
        "single use"
    );
    assert_eq!(
        error_codes(&app.graphql(REFRESH, json!({ "t": refresh })).await),
        ["UNAUTHENTICATED"],
        "old sessions ended"
    );
    app.sign_in("ada@example.com", "a-brand-new-passphrase").await;
}

async fn partner_keys_work_until_revoked(store: Store) {
    let app = TestApp::spawn(store).await;
    aeternum::identity::service::create_user(&app.db, "root@example.com", PASSWORD, "Root", Role::Admin, None)
        .await
        .unwrap();
    let (admin, _) = app.sign_in("root@example.com", PASSWORD).await;
    let admin = Credential::Bearer(admin);
    let created = app
        .graphql_as(&admin, "mutation { createPartner(slug: \"feedly\", name: \"Feedly\") { slug } }", json!({}))
        .await;
    assert_eq!(created["data"]["createPartner"]["slug"], "feedly", "{created}");
    let issued = app
        .graphql_as(&admin, "mutation { issueApiKey(partner: \"feedly\", name: \"production\", scopes: [\"catalog:read\"]) { key apiKey { id prefix scopes } } }", json!({}))
        .await;
    let key = issued["data"]["issueApiKey"]["key"].as_str().unwrap().to_owned();
    let id = issued["data"]["issueApiKey"]["apiKey"]["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with(issued["data"]["issueApiKey"]["apiKey"]["prefix"].as_str().unwrap()));

    let stored = api_key::Entity::find().all(app.db.conn()).await.unwrap();
    assert!(stored.iter().all(|k| k.key_hash != key && !k.key_hash.contains(&key[4..])), "the key is stored hashed");

    const FIRST: &str = "query First { products(first: 1) { edges { cursor } } }";
    let registered = app
        .graphql_as(
            &admin,
            "mutation($m: JSON!) { registerPartnerManifest(partner: \"feedly\", manifest: $m) { version active } }",
            json!({ "m": crate::helpers::manifest_of(&[FIRST]) }),
        )
        .await;
    assert_eq!(registered["data"]["registerPartnerManifest"], json!({ "version": 1, "active": true }), "{registered}");
    let partner = Credential::ApiKey(key.clone());
    let listing = app.graphql_as(&partner, FIRST, json!({})).await;
    assert!(listing.get("errors").is_none(), "{listing}");
    let keys = app.graphql_as(&admin, "{ apiKeys { lastUsedAt revokedAt } }", json!({})).await;
    let used = keys["data"]["apiKeys"][0]["lastUsedAt"].clone();
    assert!(used.is_string());
    // Used again within the minute, the key is not written again.
    app.graphql_as(&partner, FIRST, json!({})).await;
    let again = app.graphql_as(&admin, "{ apiKeys { lastUsedAt } }", json!({})).await;
    assert_eq!(again["data"]["apiKeys"][0]["lastUsedAt"], used, "kept to the minute");

    app.graphql_as(&admin, "mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }", json!({ "id": id })).await;
    let refused = app.graphql_as(&partner, FIRST, json!({})).await;
    assert_eq!(error_codes(&refused), ["UNAUTHENTICATED"], "a revoked key stops at once");
}

store_tests!(
    sessions_register_sign_in_rotate_and_end,
    cookie_sessions_refresh_from_the_cookie,
    foreign_and_expired_tokens_are_refused,
    bad_registrations_are_refused_and_write_nothing,
    sign_in_failures_look_alike_and_are_throttled,
    password_resets_are_single_use_and_end_sessions,
    partner_keys_work_until_revoked,
);
