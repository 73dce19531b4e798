//! Layered configuration: built-in defaults, then an optional `aeternum.toml`, then the
//! environment.
//!
//! `DATABASE_URL` chooses the relational store; every other setting is read from variables
//! prefixed `AETERNUM_`, with `__` separating sections (`AETERNUM_GRAPHQL__MAX_DEPTH=10`).
//! Values that may hold credentials are wrapped in [`Secret`] so they never reach a log line.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

mod adapters;
mod secret;

pub use adapters::{
    EmbeddedMethod, EmbedderSettings, EventBusSettings, LimiterSettings, MediaStoreSettings, PaymentProviderSettings,
    PersistedQuerySettings, VectorIndexSettings,
};
pub use secret::Secret;

/// The default relational store: a SQLite file under `./data/`.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/aeternum.db?mode=rwc";

/// Everything the service can be told.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    /// Address the HTTP server binds to.
    pub bind: SocketAddr,
    /// Relational store.
    pub database: DatabaseSettings,
    /// GraphQL limits.
    pub graphql: GraphqlSettings,
    /// GraphQL over WebSocket.
    pub websocket: WebsocketSettings,
    /// Connection timeouts.
    pub http: HttpSettings,
    /// Logging.
    pub log: LogSettings,
    /// Accounts, tokens and sign-in protection.
    pub auth: AuthSettings,
    /// Carts and orders.
    pub orders: OrderSettings,
    /// The payment provider and its webhooks.
    pub payments: PaymentSettings,
    /// Product search: embedder, vector index, fusion.
    pub search: SearchSettings,
    /// Live events: the outbox relay and the fan-out to subscriptions.
    pub events: EventSettings,
    /// Cost buckets: what each caller's operations may cost over time.
    pub limits: CostLimitSettings,
    /// Media storage and image uploads.
    pub media: MediaSettings,
    /// Apply pending migrations when `serve` starts.
    pub migrate_on_start: bool,
    /// Seconds in-flight requests get to finish after a shutdown signal.
    pub shutdown_grace_seconds: u64,
}

/// Leaky buckets of operation cost (docs/API.md), per partner key, per account and per
/// anonymous client address.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CostLimitSettings {
    /// Charge operations to the buckets; off, costs are still reported (without a bucket).
    pub enabled: bool,
    /// Where the buckets (these, and those of sign-in attempts) are kept.
    #[serde(default)]
    pub store: LimiterSettings,
    /// Each partner key's bucket.
    pub partner: CostBucket,
    /// Each signed-in account's bucket.
    pub user: CostBucket,
    /// Each anonymous client address's bucket.
    pub anonymous: CostBucket,
}

/// A bucket of cost points.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CostBucket {
    /// Points it holds when full: the most one operation may cost.
    pub capacity: u32,
    /// Points it refills each second.
    pub restore_per_second: u32,
}

/// Relational store settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DatabaseSettings {
    /// `sqlite://…` or `postgres://…`; read from `DATABASE_URL`.
    pub url: Secret,
    /// Largest number of pooled connections; unset, it follows the store (see
    /// [`DatabaseSettings::pool_size`]).
    #[serde(default)]
    pub max_connections: Option<u32>,
    /// Seconds to wait for a pooled connection before failing.
    pub acquire_timeout_seconds: u64,
}

/// Pooled connections to PostgreSQL when `database.max_connections` is unset.
pub const POSTGRES_POOL: u32 = 16;

impl DatabaseSettings {
    /// The pool's size: `max_connections` when set. Otherwise [`POSTGRES_POOL`] connections to
    /// PostgreSQL, and to SQLite two per core, at least 4: SQLite runs its queries in this
    /// process, so connections beyond the cores that run them add no throughput, while each
    /// keeps its own page cache and prepared statements (about 6 MiB apiece once a
    /// 100,000-product catalog is searched; see docs/BENCHMARKS.md).
    pub fn pool_size(&self) -> u32 {
        match self.max_connections {
            Some(size) => size,
            None if self.url.expose().starts_with("sqlite:") => {
                let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
                u32::try_from(2 * cores).unwrap_or(u32::MAX).max(4)
            }
            None => POSTGRES_POOL,
        }
    }
}

/// Limits that protect the GraphQL endpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GraphqlSettings {
    /// Page size used when a connection is asked for without `first` or `last`.
    pub default_page_size: u32,
    /// Largest `first` or `last` a connection accepts.
    pub max_page_size: u32,
    /// Deepest selection nesting accepted.
    pub max_depth: usize,
    /// Deepest bracket nesting (`{`, `[`, `(` together) a document may have; checked on the raw
    /// text before parsing, so a deeply nested literal is refused instead of exhausting the stack.
    pub max_nesting: usize,
    /// Deepest field nesting inside `__schema` and `__type`, which the depth limit does not cover
    /// (the standard introspection query is 13 levels deep).
    pub max_introspection_depth: usize,
    /// Answer introspection queries (GraphiQL and code generators need them). Turn off in
    /// production if the schema should not be browsable; the committed SDL stays the reference.
    pub introspection: bool,
    /// Largest query cost accepted (each field costs 1, lists multiply by their page size).
    pub max_complexity: usize,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Serve GraphiQL to browsers that ask for `/graphql`.
    pub graphiql: bool,
    /// Where GraphiQL's files (exact npm versions, checked by integrity hashes) are loaded from:
    /// a CDN serving npm packages, or a mirror of them such as `/static/npm` or
    /// `https://assets.example.com/npm`.
    pub graphiql_assets_url: String,
    /// Automatic persisted queries (`extensions.persistedQuery`): where they are kept, or off.
    pub persisted_queries: PersistedQuerySettings,
}

/// How long a connection may take to send a request, and stay open idle.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HttpSettings {
    /// Seconds from a request's first byte until the server answers: a client that sends its
    /// headers or body slowly is cut off after this.
    pub request_read_timeout_seconds: u64,
    /// Seconds a connection may stay open with no traffic either way (keep-alive and sockets).
    pub idle_timeout_seconds: u64,
    /// Load balancers and proxies (addresses or networks, `10.0.0.0/8`) whose `X-Forwarded-For`
    /// names the client; from any other peer the header is ignored. Empty: the peer is the client.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

/// Limits of GraphQL over WebSocket. A message may be as large as an HTTP body
/// (`graphql.max_body_bytes`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WebsocketSettings {
    /// Milliseconds a new socket has to send `connection_init` before it is closed (4408).
    pub init_timeout_ms: u64,
    /// Open sockets per instance.
    pub max_connections: usize,
    /// Open sockets per client address.
    pub max_connections_per_ip: usize,
    /// Operations (subscriptions included) one socket may run at once.
    pub max_operations_per_connection: usize,
    /// Seconds between checks that a socket's session is still valid (an account demoted,
    /// deleted or signed out everywhere closes it with 4403).
    pub session_check_seconds: u64,
    /// Browser origins (`https://shop.example.com`) that may open a socket; empty means the
    /// server's own origin only, `*` any. Clients that send no `Origin` are not browsers and are
    /// not checked.
    pub allowed_origins: Vec<String>,
}

/// Accounts, tokens and sign-in protection.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuthSettings {
    /// Keys that verify access tokens; set them in the environment, e.g.
    /// `AETERNUM_AUTH__JWT_KEYS='[{kid="2026-11",secret="…32+ bytes…"}]'`. Empty: a random
    /// per-process key (development only).
    pub jwt_keys: Vec<JwtKey>,
    /// The key that signs new tokens; the first key when unset.
    pub jwt_signing_kid: Option<String>,
    /// Lifetime of an access token, in seconds.
    pub access_token_seconds: u64,
    /// Lifetime of a refresh token, in days.
    pub refresh_token_days: u64,
    /// Lifetime of a password-reset token, in minutes.
    pub reset_token_minutes: u64,
    /// Mark cookies `Secure` (HTTPS only). Turn off only for plain-HTTP development.
    pub cookie_secure: bool,
    /// Failed sign-ins allowed per account within the window.
    pub max_failed_sign_ins_per_account: u64,
    /// Failed sign-ins allowed per client address within the window.
    pub max_failed_sign_ins_per_ip: u64,
    /// The throttling window, in minutes (sign-ins, password changes and reset requests).
    pub sign_in_window_minutes: u64,
    /// Password-reset requests allowed per email address within the window.
    pub max_password_resets_per_account: u64,
    /// Password-reset requests allowed per client address within the window.
    pub max_password_resets_per_ip: u64,
    /// Password hashes (argon2id, 19 MiB each) computed at once in this process; 0 means one per
    /// core.
    pub max_concurrent_password_hashes: usize,
    /// Milliseconds a request waits for its turn to hash before it is refused with `THROTTLED`.
    pub password_hash_queue_ms: u64,
    /// Milliseconds an account's role and session version are cached for checking access tokens
    /// (changes made through this replica apply at once; other replicas see them within this).
    pub account_cache_ms: u64,
}

/// Carts and orders.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OrderSettings {
    /// Seconds a customer's unpaid order holds its stock before it is cancelled.
    pub unpaid_ttl_seconds: u64,
    /// Seconds a guest's unpaid order holds its stock (shorter: a guest costs nothing to be).
    pub guest_unpaid_ttl_seconds: u64,
    /// Unpaid orders one account, or one guest cart, may hold at once.
    pub max_unpaid_orders_per_visitor: u64,
    /// Unpaid orders checkouts from one client address may hold at once.
    pub max_unpaid_orders_per_ip: u64,
    /// Seconds between two sweeps for expired unpaid orders (0 turns the sweeper off).
    pub expiry_sweep_seconds: u64,
    /// Most units of one product in one cart line.
    pub max_quantity_per_line: i32,
    /// Most lines in one cart.
    pub max_lines_per_cart: u64,
    /// Minutes a one-of-a-kind piece put in a cart is held for it.
    pub hold_minutes: u64,
    /// Pieces one guest cart may hold at once.
    pub max_holds_per_guest: u64,
    /// Pieces one account may hold at once.
    pub max_holds_per_account: u64,
    /// Pieces held from one client address at once.
    pub max_holds_per_ip: u64,
}

/// The payment provider and its webhooks.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PaymentSettings {
    /// Which provider takes payments.
    pub provider: PaymentProviderSettings,
    /// Shared secret that signs the provider's webhooks, e.g.
    /// `AETERNUM_PAYMENTS__WEBHOOK_SECRET`. Empty: a random per-process secret, so no webhook is
    /// accepted until one is set.
    pub webhook_secret: Secret,
    /// How old a webhook's signed timestamp may be, in seconds; older ones are refused as replays.
    pub webhook_tolerance_seconds: u64,
    /// Milliseconds a call to the provider may take before it counts as failed.
    pub timeout_ms: u64,
}

/// Live events. See docs/REALTIME.md.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EventSettings {
    /// Which event bus carries events between replicas.
    pub bus: EventBusSettings,
    /// Milliseconds between looks at the outbox for events to publish.
    pub relay_interval_ms: u64,
    /// Events buffered per subscription before it catches up from the outbox instead.
    pub feed_capacity: usize,
    /// Hours published events stay in the outbox (for subscriptions catching up).
    pub retention_hours: u64,
    /// Least milliseconds between two `dashboardChanged` updates of one subscription.
    pub dashboard_interval_ms: u64,
}

/// Product search. See docs/SEARCH.md.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchSettings {
    /// Which embedder turns text into vectors.
    pub embedder: EmbedderSettings,
    /// Where vectors live.
    pub vector_index: VectorIndexSettings,
    /// Weight of the lexical ranking in the fusion.
    pub lexical_weight: f64,
    /// Weight of the vector ranking in the fusion.
    pub vector_weight: f64,
    /// The reciprocal rank fusion constant `k` in `weight / (k + rank)`.
    pub rrf_k: f64,
    /// How many candidates each side contributes to the fusion; also the most hits one search
    /// can page through.
    pub candidates: usize,
    /// Least cosine similarity for a vector candidate to count as a match.
    pub min_similarity: f32,
    /// Milliseconds each side (embedding plus vector search, or the full-text query) may take
    /// before the search answers from the other side alone.
    pub timeout_ms: u64,
    /// Seconds a full-text answer may be served again to the same query and filter while the
    /// catalog has not changed (see `search::recent`); 0: every search ranks again.
    pub lexical_cache_seconds: u64,
    /// Milliseconds between two passes of the index-sync worker over the outbox.
    pub sync_interval_ms: u64,
    /// Milliseconds between two writes of buffered search analytics.
    pub analytics_flush_ms: u64,
    /// Distinct visitors who must have searched a query before it is suggested to others.
    pub suggestion_min_visitors: u64,
    /// Secret that pseudonymises visitors in search analytics, so distinct visitors can be
    /// counted without storing who they are. Set it in production so the count spans replicas
    /// and restarts; empty: a random key per process.
    pub visitor_key: Secret,
}

/// Media storage and image uploads. See docs/MEDIA.md.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MediaSettings {
    /// Where objects are stored.
    pub store: MediaStoreSettings,
    /// Base URL objects are read from, such as a CDN in front of the bucket
    /// (`https://cdn.example.com`); empty: the app serves them itself under
    /// `http://<bind address>/media` (set it when the app sits behind a proxy).
    pub public_base_url: String,
    /// Secret that signs upload URLs of the local store. Set it when several replicas share the
    /// folder; empty: a random key per process.
    pub signing_secret: Secret,
    /// Seconds a signed upload URL stays valid.
    pub upload_expiry_seconds: u64,
    /// Largest upload in bytes.
    pub max_upload_bytes: u64,
    /// Most pixels (width × height) an image may have; larger ones are refused before they are
    /// decoded.
    pub max_pixels: u64,
    /// Longest side an image may have, in pixels.
    pub max_dimension: u32,
    /// Widths of the WebP variants made of each image, narrowest first; none wider than the
    /// original.
    pub variant_widths: Vec<u32>,
    /// Images checked or resized at the same time; 0: one per core.
    pub max_concurrent_processing: usize,
    /// Uploads not yet confirmed that one product may have at once.
    pub max_pending_uploads_per_product: u64,
    /// Seconds between two sweeps of expired uploads and deleted images' objects; 0: never.
    pub sweep_seconds: u64,
}

/// A key that signs or verifies access tokens.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JwtKey {
    /// Key id, written into each token's `kid` header.
    pub kid: String,
    /// HMAC secret, at least 32 bytes.
    pub secret: Secret,
}

/// How logs are written.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogSettings {
    /// `pretty` for people, `json` for machines.
    pub format: LogFormat,
    /// A `tracing` filter such as `info,aeternum=debug`; `RUST_LOG` overrides it.
    pub filter: String,
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database: DatabaseSettings {
                url: Secret::new(DEFAULT_DATABASE_URL),
                max_connections: None,
                acquire_timeout_seconds: 5,
            },
            graphql: GraphqlSettings {
                default_page_size: 20,
                max_page_size: 100,
                max_depth: 12,
                max_nesting: 64,
                max_introspection_depth: 20,
                introspection: true,
                max_complexity: 5_000,
                max_body_bytes: 256 * 1024,
                graphiql: true,
                graphiql_assets_url: "https://unpkg.com".to_owned(),
                persisted_queries: PersistedQuerySettings::default(),
            },
            http: HttpSettings {
                request_read_timeout_seconds: 30,
                idle_timeout_seconds: 120,
                trusted_proxies: Vec::new(),
            },
            websocket: WebsocketSettings {
                init_timeout_ms: 10_000,
                max_connections: 1_000,
                max_connections_per_ip: 20,
                max_operations_per_connection: 100,
                session_check_seconds: 15,
                allowed_origins: Vec::new(),
            },
            log: LogSettings { format: LogFormat::Pretty, filter: "info".to_owned() },
            auth: AuthSettings {
                jwt_keys: Vec::new(),
                jwt_signing_kid: None,
                access_token_seconds: 15 * 60,
                refresh_token_days: 30,
                reset_token_minutes: 30,
                cookie_secure: true,
                max_failed_sign_ins_per_account: 5,
                max_failed_sign_ins_per_ip: 20,
                sign_in_window_minutes: 15,
                max_password_resets_per_account: 3,
                max_password_resets_per_ip: 10,
                max_concurrent_password_hashes: 0,
                password_hash_queue_ms: 5_000,
                account_cache_ms: 1_000,
            },
            orders: OrderSettings {
                unpaid_ttl_seconds: 30 * 60,
                guest_unpaid_ttl_seconds: 10 * 60,
                max_unpaid_orders_per_visitor: 3,
                max_unpaid_orders_per_ip: 10,
                expiry_sweep_seconds: 30,
                max_quantity_per_line: 99,
                max_lines_per_cart: 100,
                hold_minutes: 15,
                max_holds_per_guest: 2,
                max_holds_per_account: 5,
                max_holds_per_ip: 5,
            },
            payments: PaymentSettings {
                provider: PaymentProviderSettings::Test,
                webhook_secret: Secret::new(""),
                webhook_tolerance_seconds: 300,
                timeout_ms: 10_000,
            },
            search: SearchSettings {
                embedder: EmbedderSettings::Local { model_dir: "models/all-minilm-l6-v2".to_owned() },
                vector_index: VectorIndexSettings::Embedded { method: EmbeddedMethod::Hnsw },
                lexical_weight: 1.0,
                vector_weight: 1.0,
                rrf_k: 60.0,
                candidates: 200,
                min_similarity: 0.3,
                timeout_ms: 1_500,
                lexical_cache_seconds: 60,
                sync_interval_ms: 500,
                analytics_flush_ms: 1_000,
                suggestion_min_visitors: 5,
                visitor_key: Secret::new(""),
            },
            events: EventSettings {
                bus: EventBusSettings::InProcess,
                relay_interval_ms: 50,
                feed_capacity: 1024,
                retention_hours: 24,
                dashboard_interval_ms: 5_000,
            },
            limits: CostLimitSettings {
                enabled: true,
                store: LimiterSettings::InProcess,
                partner: CostBucket { capacity: 2_000, restore_per_second: 100 },
                user: CostBucket { capacity: 20_000, restore_per_second: 1_000 },
                anonymous: CostBucket { capacity: 20_000, restore_per_second: 1_000 },
            },
            media: MediaSettings {
                store: MediaStoreSettings::Local { dir: "data/media".to_owned() },
                public_base_url: String::new(),
                signing_secret: Secret::new(""),
                upload_expiry_seconds: 15 * 60,
                max_upload_bytes: 15 * 1024 * 1024,
                max_pixels: 40_000_000,
                max_dimension: 12_000,
                variant_widths: vec![320, 768, 1600],
                max_concurrent_processing: 0,
                max_pending_uploads_per_product: 10,
                sweep_seconds: 300,
            },
            migrate_on_start: true,
            shutdown_grace_seconds: 20,
        }
    }
}

impl Settings {
    /// Reads the layered configuration, with `aeternum.toml` looked up in `dir`.
    ///
    /// # Errors
    /// When the file or a variable holds a value of the wrong type.
    pub fn load_from(dir: &Path) -> anyhow::Result<Self> {
        Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(dir.join("aeternum.toml")))
            .merge(Env::prefixed("AETERNUM_").split("__"))
            .merge(Env::raw().only(&["DATABASE_URL"]).map(|_| "database.url".into()))
            .extract()
            .context("invalid configuration")
    }

    /// Reads the layered configuration from the working directory.
    ///
    /// # Errors
    /// See [`Settings::load_from`].
    pub fn load() -> anyhow::Result<Self> {
        Self::load_from(Path::new("."))
    }
}

#[cfg(test)]
mod tests;
