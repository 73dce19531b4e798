//! Which adapter serves each port: one serde-tagged enum per port, whose `kind` picks the
//! adapter and whose variant holds only that adapter's settings.

use serde::{Deserialize, Serialize};

use super::Secret;

/// Which event bus carries published events to every replica, `events.bus.kind`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBusSettings {
    /// Within this process only: one replica (`AETERNUM_EVENTS__BUS__KIND=in_process`).
    InProcess,
    /// Redis pub/sub, for several replicas (`AETERNUM_EVENTS__BUS__KIND=redis`).
    Redis {
        /// `redis://[:password@]host:port[/db]`; the password is a secret.
        url: Secret,
        /// The pub/sub channel events travel on.
        #[serde(default = "default_events_channel")]
        channel: String,
    },
}

fn default_events_channel() -> String {
    "aeternum:events".to_owned()
}

/// Which payment provider takes payments, `payments.provider.kind`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum PaymentProviderSettings {
    /// The built-in provider, which takes no real money (`AETERNUM_PAYMENTS__PROVIDER__KIND=test`).
    Test,
}

/// Which embedder turns text into vectors, `search.embedder.kind`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum EmbedderSettings {
    /// The in-process all-MiniLM-L6-v2 model.
    Local {
        /// Folder holding the model's `config.json`, `tokenizer.json` and `model.safetensors`
        /// (`scripts/fetch-model` fills it).
        model_dir: String,
    },
    /// An OpenAI-compatible `POST {url}/v1/embeddings` endpoint (OpenAI, Ollama, vLLM, TEI).
    Http {
        /// Base URL, e.g. `https://api.openai.com` or `http://127.0.0.1:11434`.
        url: String,
        /// Model name sent with each request.
        model: String,
        /// Bearer token, if the endpoint needs one.
        #[serde(default)]
        api_key: Option<Secret>,
        /// Length of the endpoint's vectors (384 for all-MiniLM-L6-v2, 1536 for OpenAI's
        /// text-embedding-3-small); answers of another length are refused.
        #[serde(default = "default_dimensions")]
        dimensions: usize,
    },
    /// No embedder: search is lexical only.
    None,
}

fn default_dimensions() -> usize {
    384
}

/// Where product vectors live, `search.vector_index.kind`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum VectorIndexSettings {
    /// In process, persisted in the relational store; for one replica.
    Embedded {
        /// How neighbours are found: `hnsw` (default) or `exact`.
        #[serde(default)]
        method: EmbeddedMethod,
    },
    /// A Qdrant server.
    Qdrant {
        /// Qdrant's gRPC URL, e.g. `http://127.0.0.1:6334`.
        url: String,
        /// Collection holding the product vectors.
        #[serde(default = "default_collection")]
        collection: String,
        /// API key, if the server needs one.
        #[serde(default)]
        api_key: Option<Secret>,
    },
}

/// How the embedded index finds a query's neighbours, `search.vector_index.method`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbeddedMethod {
    /// An HNSW graph over int8 codes, candidates rescored with the exact vectors: milliseconds
    /// at 100,000 products, recall@10 above 0.98.
    #[default]
    Hnsw,
    /// Every vector compared with the query: exact, and fast enough for a few thousand products.
    Exact,
}

fn default_collection() -> String {
    "aeternum_products".to_owned()
}

/// Where the leaky buckets of costs and attempts are kept, `limits.store.kind`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LimiterSettings {
    /// In this process: each replica limits on its own (`AETERNUM_LIMITS__STORE__KIND=in_process`).
    #[default]
    InProcess,
    /// In Redis, shared by every replica; while Redis fails, each replica's own buckets stand in
    /// (`AETERNUM_LIMITS__STORE__KIND=redis`).
    Redis {
        /// `redis://[:password@]host:port[/db]`; the password is a secret. The same URL as
        /// `events.bus.url` shares one connection.
        url: Secret,
        /// Prefix of the keys.
        #[serde(default = "default_limiter_prefix")]
        key_prefix: String,
        /// Milliseconds a take waits for Redis before the in-process buckets stand in.
        #[serde(default = "default_limiter_timeout")]
        timeout_ms: u64,
    },
}

fn default_limiter_prefix() -> String {
    "aeternum:bucket:".to_owned()
}

fn default_limiter_timeout() -> u64 {
    250
}

/// Whether, and where, automatic persisted queries are kept, `graphql.persisted_queries.kind`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PersistedQuerySettings {
    /// Off: a request with a `persistedQuery` extension is answered
    /// `PERSISTED_QUERY_NOT_SUPPORTED` (`AETERNUM_GRAPHQL__PERSISTED_QUERIES__KIND=off`).
    Off,
    /// In this process, forgetting the least recently used beyond either bound
    /// (`AETERNUM_GRAPHQL__PERSISTED_QUERIES__KIND=in_process`).
    InProcess {
        /// Documents kept, at most.
        #[serde(default = "default_persisted_entries")]
        max_entries: usize,
        /// Bytes of document text kept, at most.
        #[serde(default = "default_persisted_bytes")]
        max_bytes: usize,
    },
    /// In Redis, shared by every replica (`AETERNUM_GRAPHQL__PERSISTED_QUERIES__KIND=redis`).
    Redis {
        /// `redis://[:password@]host:port[/db]`; the password is a secret. The same URL as
        /// `events.bus.url` shares one connection.
        url: Secret,
        /// Seconds a document is kept after it was last registered.
        #[serde(default = "default_persisted_ttl")]
        ttl_seconds: u64,
        /// Largest document kept, in bytes; a larger one runs but is not kept.
        #[serde(default = "default_persisted_document_bytes")]
        max_document_bytes: usize,
        /// Prefix of the keys.
        #[serde(default = "default_persisted_prefix")]
        key_prefix: String,
    },
}

fn default_persisted_ttl() -> u64 {
    7 * 24 * 3600
}

fn default_persisted_document_bytes() -> usize {
    64 * 1024
}

fn default_persisted_prefix() -> String {
    "aeternum:apq:".to_owned()
}

fn default_persisted_entries() -> usize {
    10_000
}

fn default_persisted_bytes() -> usize {
    32 * 1024 * 1024
}

impl Default for PersistedQuerySettings {
    fn default() -> Self {
        Self::InProcess { max_entries: default_persisted_entries(), max_bytes: default_persisted_bytes() }
    }
}

/// Where media objects (product images) are stored, `media.store.kind`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum MediaStoreSettings {
    /// A folder on this machine, served by the app under `/media/` (`AETERNUM_MEDIA__STORE__KIND=local`).
    Local {
        /// The folder; created when missing.
        dir: String,
    },
    /// AWS S3, Cloudflare R2 or any S3-compatible store (`AETERNUM_MEDIA__STORE__KIND=s3`).
    S3 {
        /// The bucket.
        bucket: String,
        /// The region (`auto` for R2).
        #[serde(default = "default_region")]
        region: String,
        /// Endpoint URL for stores other than AWS, e.g.
        /// `https://<account>.r2.cloudflarestorage.com` or `http://127.0.0.1:9000`.
        #[serde(default)]
        endpoint: Option<String>,
        /// Address buckets by path (`endpoint/bucket/key`) rather than by host name; most
        /// S3-compatible servers want this.
        #[serde(default)]
        path_style: bool,
        /// The endpoint browsers reach the store at, when it differs from `endpoint` (a store
        /// on a private network name, such as `http://minio:9000` in compose): upload URLs
        /// are signed for this one.
        #[serde(default)]
        public_endpoint: Option<String>,
        /// Access key id; unset: the usual AWS chain (environment, profile, web identity,
        /// instance or task role).
        #[serde(default)]
        access_key_id: Option<Secret>,
        /// Secret access key, set together with `access_key_id`.
        #[serde(default)]
        secret_access_key: Option<Secret>,
    },
}

fn default_region() -> String {
    "us-east-1".to_owned()
}
