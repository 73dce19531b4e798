//! Starting the application against a fresh store, and talking to it.

use std::sync::Arc;

use aeternum::Application;
use aeternum::config::{JwtKey, Secret, Settings};
use aeternum::db::Db;
use aeternum::identity::mailer::Outbox;
use sea_orm::sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// Runs each named `async fn name(store: Store)` once per store.
macro_rules! store_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Store::Sqlite).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Store::Postgres).await
                }
            )+
        }
    };
}

/// The key id and secret that sign access tokens in tests.
pub const TEST_KID: &str = "test-key";
pub const TEST_JWT_SECRET: &str = "a-test-only-secret-of-more-than-32-bytes";

/// How a request authenticates.
pub enum Credential {
    Anonymous,
    Bearer(String),
    ApiKey(String),
}

impl Credential {
    /// `request`, carrying the credential.
    pub fn on(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Self::Anonymous => request,
            Self::Bearer(token) => request.bearer_auth(token),
            Self::ApiKey(key) => request.header("x-api-key", key),
        }
    }
}

/// Which relational store a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    Sqlite,
    Postgres,
}

/// Rows of a table (or of `table WHERE …`) in `db`, counted directly.
pub async fn count_rows(db: &Db, table: &str) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let conn = db.conn();
    let sql = format!("SELECT COUNT(*) AS n FROM {table}");
    let row = conn.query_one_raw(Statement::from_string(conn.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// A running application with its own database.
pub struct TestApp {
    pub address: String,
    pub db: Db,
    pub outbox: Arc<Outbox>,
    pub payments: aeternum::payment::Payments,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    stopped: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// The store's URL, for a second replica on the same store.
    pub database_url: String,
    /// The media port (a folder of this test's own unless the test chose another store).
    pub media: aeternum::media::Media,
    _sqlite_dir: Option<tempfile::TempDir>,
    _media_dir: tempfile::TempDir,
}

impl TestApp {
    /// A client that opens a connection of its own for every request, for uploads: a store that
    /// refuses an upload before reading its body closes the connection afterwards, and a pooled
    /// client can send the next request on it before it sees the close (`IncompleteMessage`).
    pub fn uploader(&self) -> reqwest::Client {
        reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap()
    }

    pub async fn spawn(store: Store) -> Self {
        Self::spawn_with(store, |_| {}).await
    }

    pub async fn spawn_with(store: Store, configure: impl FnOnce(&mut Settings)) -> Self {
        Self::spawn_with_provider(store, configure, None).await
    }

    /// Like [`TestApp::spawn_with`], with a payment provider of the test's own.
    pub async fn spawn_with_provider(
        store: Store,
        configure: impl FnOnce(&mut Settings),
        provider: Option<Arc<dyn aeternum::payment::provider::PaymentProvider>>,
    ) -> Self {
        let mut settings =
            Settings { bind: "127.0.0.1:0".parse().unwrap(), shutdown_grace_seconds: 5, ..Settings::default() };
        // Many tests share one PostgreSQL cluster; SQLite keeps its default pool, sized to the cores.
        if store == Store::Postgres {
            settings.database.max_connections = Some(8);
        }
        settings.auth.jwt_keys = vec![JwtKey { kid: TEST_KID.into(), secret: Secret::new(TEST_JWT_SECRET) }];
        let (url, sqlite_dir) = fresh_database(store).await;
        settings.database.url = Secret::new(url.clone());
        // Most tests need no vectors; search tests turn the model on with `with_model`.
        settings.search.embedder = aeternum::config::EmbedderSettings::None;
        settings.search.sync_interval_ms = 20;
        settings.search.analytics_flush_ms = 20;
        let media_dir = tempfile::tempdir().unwrap();
        settings.media.store =
            aeternum::config::MediaStoreSettings::Local { dir: media_dir.path().display().to_string() };
        configure(&mut settings);

        let mut app = Application::build(settings).await.expect("the application starts");
        if let Some(provider) = provider {
            app.set_payment_provider(provider);
        }
        let payments = app.payments();
        let address = format!("http://{}", app.address());
        let db = app.db().clone();
        let outbox = app.outbox();
        let media = app.media();
        let (shutdown, stop) = oneshot::channel::<()>();
        let stopped = tokio::spawn(app.run_until_stopped(async {
            let _ = stop.await;
        }));
        Self {
            address,
            db,
            outbox,
            payments,
            client: reqwest::Client::new(),
            shutdown: Some(shutdown),
            stopped: Some(stopped),
            database_url: url,
            media,
            _sqlite_dir: sqlite_dir,
            _media_dir: media_dir,
        }
    }

    /// Another server on this one's store (a second replica), configured by `configure`.
    pub async fn replica(&self, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let url = self.database_url.clone();
        let store = if url.starts_with("sqlite:") { Store::Sqlite } else { Store::Postgres };
        let mut replica = Self::spawn_with(store, |s| {
            s.database.url = Secret::new(url.clone());
            configure(s);
        })
        .await;
        replica.database_url = url;
        replica
    }

    /// Asks the server to stop and waits until it has.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        self.stopped.take().unwrap().await?
    }

    /// POSTs a GraphQL request and returns the whole JSON response.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.post(&Credential::Anonymous, &[], query, variables).await
    }

    /// POSTs a GraphQL request with a credential and returns the whole JSON response.
    pub async fn graphql_as(&self, credential: &Credential, query: &str, variables: Value) -> Value {
        self.post(credential, &[], query, variables).await
    }

    /// POSTs a GraphQL request with extra headers and returns the whole JSON response.
    pub async fn graphql_with(&self, headers: &[(&str, &str)], query: &str, variables: Value) -> Value {
        self.post(&Credential::Anonymous, headers, query, variables).await
    }

    /// The one way the tests POST to `/graphql`.
    async fn post(&self, credential: &Credential, headers: &[(&str, &str)], query: &str, variables: Value) -> Value {
        let mut request = credential.on(self
            .client
            .post(format!("{}/graphql", self.address))
            .json(&json!({ "query": query, "variables": variables })));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("the request is sent").json().await.expect("the response is JSON")
    }

    /// Rows of a table, counted directly.
    pub async fn count_rows(&self, table: &str) -> i64 {
        count_rows(&self.db, table).await
    }

    /// Signs in through the API and returns the access and refresh tokens.
    pub async fn sign_in(&self, email: &str, password: &str) -> (String, String) {
        let data = self
            .data(
                "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { accessToken refreshToken } }",
                json!({ "e": email, "p": password }),
            )
            .await;
        (
            data["signIn"]["accessToken"].as_str().unwrap().to_owned(),
            data["signIn"]["refreshToken"].as_str().unwrap().to_owned(),
        )
    }

    /// POSTs a GraphQL request that must succeed and returns its `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let response = self.graphql(query, variables).await;
        assert!(response.get("errors").is_none(), "unexpected errors: {response:#}");
        response["data"].clone()
    }

    /// A pool of the test's own on the app's store, for counting statements: the server's
    /// background work runs statements of its own on the app's, which would blur the count.
    pub async fn own_pool(&self) -> Db {
        let settings = aeternum::config::DatabaseSettings {
            url: Secret::new(self.database_url.clone()),
            max_connections: Some(2),
            acquire_timeout_seconds: 5,
        };
        Db::connect(&settings).await.unwrap()
    }

    /// Loads the demo catalog.
    pub async fn load_demo(&self) {
        aeternum::seed::demo::load(&self.db).await.expect("the demo catalog loads");
    }
}

/// Search settings with the in-process embedding model (fetched by scripts/test).
pub fn with_model(settings: &mut Settings) {
    settings.search.embedder = aeternum::config::EmbedderSettings::Local {
        model_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/models/all-minilm-l6-v2").into(),
    };
}

/// The URL of a new database of this test's own, and the folder holding it for SQLite (deleted
/// on drop). A PostgreSQL one is cloned from a migrated template, so its migrations are
/// already applied; a SQLite one is empty.
pub async fn fresh_database(store: Store) -> (String, Option<tempfile::TempDir>) {
    match store {
        Store::Sqlite => empty_database(store).await,
        Store::Postgres => (create_postgres_database(Some(&migrated_template().await)).await, None),
    }
}

/// Like [`fresh_database`], but empty on both stores: for tests of migrating itself.
pub async fn empty_database(store: Store) -> (String, Option<tempfile::TempDir>) {
    match store {
        Store::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            (format!("sqlite://{}/test.db?mode=rwc", dir.path().display()), Some(dir))
        }
        Store::Postgres => (create_postgres_database(None).await, None),
    }
}

/// The codes of a response's errors.
pub fn error_codes(response: &Value) -> Vec<String> {
    response["errors"]
        .as_array()
        .map(|errors| errors.iter().map(|e| e["extensions"]["code"].as_str().unwrap_or("<none>").to_owned()).collect())
        .unwrap_or_default()
}

/// The URL of the test Redis, which `scripts/test` starts.
pub fn test_redis_url() -> String {
    std::env::var("AETERNUM_TEST_REDIS_URL")
        .expect("AETERNUM_TEST_REDIS_URL must name the test Redis; scripts/test sets it up")
}

/// Settings of a new, empty bucket of this test's own on the test S3 server, which
/// `scripts/test` starts.
pub async fn test_s3_bucket() -> aeternum::config::MediaStoreSettings {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| panic!("{name} must be set; scripts/test starts the test S3 server"))
    };
    let (endpoint, access, secret) =
        (var("AETERNUM_TEST_S3_URL"), var("AETERNUM_TEST_S3_ACCESS_KEY"), var("AETERNUM_TEST_S3_SECRET_KEY"));
    let bucket = format!("aeternum-test-{}", uuid::Uuid::now_v7().simple());
    let store = aeternum::media::s3::S3Store::connect(aeternum::media::s3::S3Location {
        bucket: &bucket,
        region: "us-east-1",
        endpoint: Some(&endpoint),
        path_style: true,
        public_endpoint: None,
        credentials: Some((&Secret::new(access.clone()), &Secret::new(secret.clone()))),
    })
    .await;
    store.client().create_bucket().bucket(&bucket).send().await.expect("the test bucket is created");
    aeternum::config::MediaStoreSettings::S3 {
        bucket,
        region: "us-east-1".into(),
        endpoint: Some(endpoint),
        path_style: true,
        public_endpoint: None,
        access_key_id: Some(Secret::new(access)),
        secret_access_key: Some(Secret::new(secret)),
    }
}

fn postgres_admin_url() -> String {
    std::env::var("AETERNUM_TEST_DATABASE_URL").expect(
        "AETERNUM_TEST_DATABASE_URL must name a PostgreSQL server for the postgres tests; scripts/test sets it up",
    )
}

/// The URL of database `name` on the test server.
fn postgres_url(name: &str) -> String {
    let admin_url = postgres_admin_url();
    let (server, _) = admin_url.rsplit_once('/').expect("the URL ends with a database name");
    format!("{server}/{name}")
}

/// Creates a database on the PostgreSQL server named by `AETERNUM_TEST_DATABASE_URL`, empty or
/// as a copy of `template`, and returns its URL.
async fn create_postgres_database(template: Option<&str>) -> String {
    let name = format!("aeternum_test_{}", uuid::Uuid::now_v7().simple());
    let mut admin = PgConnection::connect(&postgres_admin_url()).await.expect("the PostgreSQL test server answers");
    let create = match template {
        Some(template) => format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""),
        None => format!("CREATE DATABASE \"{name}\""),
    };
    admin.execute(AssertSqlSafe(create)).await.expect("the test database is created");
    admin.close().await.ok();
    postgres_url(&name)
}

/// The name of a database holding every migration and nothing else, built once per server and
/// set of migrations: its name carries a fingerprint of the migrations' sources, and test
/// processes take turns (an advisory lock) so only the first one builds it.
async fn migrated_template() -> String {
    use std::hash::{Hash, Hasher};
    let mut sources: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migration/src"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    sources.sort();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for path in sources {
        std::fs::read(path).unwrap().hash(&mut hasher);
    }
    let name = format!("aeternum_template_{:016x}", hasher.finish());

    let mut admin = PgConnection::connect(&postgres_admin_url()).await.expect("the PostgreSQL test server answers");
    admin.execute("SELECT pg_advisory_lock(7281)").await.unwrap();
    let exists = sea_orm::sqlx::query("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut admin)
        .await
        .unwrap()
        .is_some();
    if !exists {
        let building = format!("{name}_building");
        admin.execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{building}\""))).await.unwrap();
        admin.execute(AssertSqlSafe(format!("CREATE DATABASE \"{building}\""))).await.unwrap();
        let mut settings = Settings::default().database;
        settings.url = Secret::new(postgres_url(&building));
        let db = Db::connect(&settings).await.unwrap();
        db.migrate().await.unwrap();
        db.conn().clone().close().await.unwrap();
        admin.execute(AssertSqlSafe(format!("ALTER DATABASE \"{building}\" RENAME TO \"{name}\""))).await.unwrap();
    }
    admin.close().await.ok();
    name
}

/// A WebSocket to `/graphql` speaking graphql-transport-ws, with extra upgrade headers.
pub async fn socket(app: &TestApp, headers: &[(&str, &str)]) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("{}/graphql", app.address.replace("http://", "ws://")).into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
    for (name, value) in headers {
        request
            .headers_mut()
            .insert(reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request).await.map(|(socket, _)| socket)
}

pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text message of a socket as JSON, or the close frame's code as `{"close": code}`.
pub async fn next_message(socket: &mut Socket) -> Value {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let next = tokio::time::timeout(std::time::Duration::from_secs(20), socket.next()).await;
        match next.expect("the server answers in time") {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(frame))) => return json!({ "close": frame.map(|f| u16::from(f.code)) }),
            Some(Ok(other)) => panic!("unexpected frame {other:?}"),
            Some(Err(_)) | None => return json!({ "close": null }),
        }
    }
}

/// Sends one JSON message on a socket.
pub async fn send_json(socket: &mut Socket, message: Value) {
    use futures_util::SinkExt;
    socket.send(tokio_tungstenite::tungstenite::Message::text(message.to_string())).await.unwrap();
}

/// The name of the operation `body` holds (`query Name …`).
pub fn operation_name(body: &str) -> &str {
    let name = body.split_whitespace().nth(1).unwrap_or_default();
    name.split(['(', '{']).next().unwrap_or_default()
}

/// An Apollo persisted-query manifest of `bodies`.
pub fn manifest_of(bodies: &[&str]) -> Value {
    let operations: Vec<Value> = bodies
        .iter()
        .map(|body| {
            let kind = body.split_whitespace().next().unwrap_or_default();
            let id = aeternum::digest::sha256_hex(body);
            json!({ "id": id, "name": operation_name(body), "type": kind, "body": body })
        })
        .collect();
    json!({ "format": "apollo-persisted-query-manifest", "version": 1, "operations": operations })
}

/// `documentId` of an operation.
pub fn document_id(body: &str) -> String {
    format!("sha256:{}", aeternum::digest::sha256_hex(body))
}

/// Creates partner `slug` with a key for each set of scopes, and registers and activates a
/// manifest of `bodies` (as the admin mutation does); the keys, in order.
pub async fn partner(app: &TestApp, slug: &str, keys: &[&[&str]], bodies: &[&str]) -> Vec<Credential> {
    use aeternum::identity::viewer::ClientInfo;
    use aeternum::partner::{manifest, service};
    let client = ClientInfo::default();
    let actor = service::Actor { id: None, client: &client };
    let partner = service::create(&app.db, &actor, slug, slug).await.unwrap();
    let mut credentials = Vec::new();
    for scopes in keys {
        let scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        let (key, _) =
            aeternum::identity::keys::issue(&app.db, &client, uuid::Uuid::now_v7(), partner.id, "key", scopes)
                .await
                .unwrap();
        credentials.push(Credential::ApiKey(key));
    }
    let check = aeternum::schema::partners::SchemaCheck::new(&Settings::default());
    let manifest = manifest::read(manifest_of(bodies)).unwrap();
    if let Err(error) = service::register(&app.db, &check, &actor, &partner, manifest, true).await {
        panic!("the manifest is refused: {}", error.message());
    }
    credentials
}

impl TestApp {
    /// POSTs `body` as it is, with a credential; the status and the JSON answer.
    pub async fn post_json(&self, credential: &Credential, body: Value) -> (reqwest::StatusCode, Value) {
        let request = credential.on(self.client.post(format!("{}/graphql", self.address)).json(&body));
        let response = request.send().await.expect("the request is sent");
        (response.status(), response.json().await.expect("the response is JSON"))
    }

    /// Runs a registered operation by its `documentId`, as a partner does.
    pub async fn run_document(&self, credential: &Credential, body: &str, variables: Value) -> Value {
        self.post_json(credential, json!({ "documentId": document_id(body), "variables": variables })).await.1
    }
}
