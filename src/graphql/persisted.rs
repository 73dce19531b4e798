//! Automatic persisted queries, as Apollo clients speak them.
//!
//! A client sends `extensions.persistedQuery = {version: 1, sha256Hash}`. With the hash alone, a
//! known document runs and an unknown one is answered `PERSISTED_QUERY_NOT_FOUND` (HTTP 200, so
//! the client retries with the document); with the document too, the hash is checked against it
//! and the document runs and is kept for next time. Only documents that parsed and validated are
//! kept, so the store cannot be filled with garbage, and a document is kept as its parsed form
//! too (per process), so a persisted query is not parsed again on every call.
//!
//! Where the documents are kept is a port ([`QueryStore`]); the in-process store here is bounded
//! both in entries and in bytes and forgets the least recently used first.
//!
//! A partner's request is different ([`Allowed::Manifest`]): it runs only operations of its
//! partner's active manifest (trusted documents, read through the [`Safelist`] port), named by id
//! (`documentId: "sha256:<id>"` or the `persistedQuery` hash) or sent in full; anything else is
//! `PERSISTED_QUERY_REQUIRED` (HTTP 403), an id the manifest does not hold
//! `PERSISTED_QUERY_NOT_FOUND`, and nothing a partner sends is kept. The operation run carries a
//! [`Trusted`] mark, which the schema checks again (see [`crate::schema::partners`]).

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;
use async_graphql::parser::types::ExecutableDocument;
use lru::LruCache;
use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::config::PersistedQuerySettings;
use crate::digest::sha256_hex;
use crate::error::ErrorCode;
use crate::redis_connection::{RedisConnection, RedisConnections};

/// The key of the extension in a request's `extensions`.
pub const EXTENSION: &str = "persistedQuery";

/// Where persisted documents are kept: in this process, or shared by every replica.
#[async_trait::async_trait]
pub trait QueryStore: Send + Sync {
    /// The document with this hash, if kept.
    async fn get(&self, hash: &str) -> anyhow::Result<Option<Arc<str>>>;
    /// Keeps `document` under `hash`.
    async fn put(&self, hash: &str, document: Arc<str>) -> anyhow::Result<()>;
}

/// A bounded least-recently-used map: at most `max_entries` values, `max_bytes` in all.
struct Bounded<V> {
    entries: LruCache<String, (V, usize)>,
    bytes: usize,
    max_bytes: usize,
}

impl<V: Clone> Bounded<V> {
    fn new(max_entries: usize, max_bytes: usize) -> Self {
        let capacity = NonZeroUsize::new(max_entries.max(1)).unwrap_or(NonZeroUsize::MIN);
        Self { entries: LruCache::new(capacity), bytes: 0, max_bytes }
    }

    fn get(&mut self, key: &str) -> Option<V> {
        self.entries.get(key).map(|(value, _)| value.clone())
    }

    /// Keeps `value` (of `size` bytes), forgetting the least recently used until it fits; a value
    /// larger than the whole budget is not kept.
    fn put(&mut self, key: &str, value: V, size: usize) {
        if size > self.max_bytes {
            return;
        }
        if let Some((_, old)) = self.entries.pop(key) {
            self.bytes -= old;
        }
        while self.bytes + size > self.max_bytes {
            let Some((_, (_, old))) = self.entries.pop_lru() else { break };
            self.bytes -= old;
        }
        if let Some((_, (_, old))) = self.entries.push(key.to_owned(), (value, size)) {
            self.bytes -= old;
        }
        self.bytes += size;
    }
}

/// Persisted documents in this process (the embedded default).
pub struct InProcessQueries(Mutex<Bounded<Arc<str>>>);

impl InProcessQueries {
    /// A store of at most `max_entries` documents and `max_bytes` of text.
    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self(Mutex::new(Bounded::new(max_entries, max_bytes)))
    }
}

#[async_trait::async_trait]
impl QueryStore for InProcessQueries {
    async fn get(&self, hash: &str) -> anyhow::Result<Option<Arc<str>>> {
        Ok(self.0.lock().unwrap_or_else(PoisonError::into_inner).get(hash))
    }

    async fn put(&self, hash: &str, document: Arc<str>) -> anyhow::Result<()> {
        let size = document.len();
        self.0.lock().unwrap_or_else(PoisonError::into_inner).put(hash, document, size);
        Ok(())
    }
}

/// Persisted documents in Redis, shared by every replica: each under its hash with a TTL,
/// refreshed when registered again. A failing Redis is logged and treated as not knowing the
/// hash (the client then sends the document, which runs).
pub struct RedisQueries {
    redis: Arc<RedisConnection>,
    prefix: String,
    ttl_seconds: u64,
    max_document_bytes: usize,
}

/// Longest a persisted-query read or write may wait for Redis.
const REDIS_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

impl RedisQueries {
    /// A store on the shared connection `redis`.
    pub fn new(redis: Arc<RedisConnection>, prefix: &str, ttl_seconds: u64, max_document_bytes: usize) -> Self {
        Self { redis, prefix: prefix.to_owned(), ttl_seconds: ttl_seconds.max(1), max_document_bytes }
    }
}

#[async_trait::async_trait]
impl QueryStore for RedisQueries {
    async fn get(&self, hash: &str) -> anyhow::Result<Option<Arc<str>>> {
        let key = format!("{}{hash}", self.prefix);
        let text: Option<String> = self
            .redis
            .timed(REDIS_TIMEOUT, async {
                let mut connection = self.redis.get().await?;
                redis::AsyncCommands::get(&mut connection, key).await
            })
            .await?;
        Ok(text.map(Into::into))
    }

    async fn put(&self, hash: &str, document: Arc<str>) -> anyhow::Result<()> {
        if document.len() > self.max_document_bytes {
            return Ok(());
        }
        let key = format!("{}{hash}", self.prefix);
        self.redis
            .timed(REDIS_TIMEOUT, async {
                let mut connection = self.redis.get().await?;
                redis::AsyncCommands::set_ex::<_, _, ()>(&mut connection, key, document.as_ref(), self.ttl_seconds)
                    .await
            })
            .await
    }
}

/// Where a partner's registered operations are read: one operation of a manifest version, by id.
/// A version never changes, so what is read may be kept.
#[async_trait::async_trait]
pub trait Safelist: Send + Sync {
    /// The body of operation `id` of manifest version `manifest`, if it holds one.
    async fn operation(&self, manifest: Uuid, id: &str) -> anyhow::Result<Option<String>>;
}

/// Which documents a request may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allowed {
    /// Any document (which the schema then validates and guards).
    Any,
    /// Only the operations of this manifest version (a partner's active one); `None` runs nothing.
    Manifest(Option<Uuid>),
}

/// The mark of a document resolved from a partner's manifest: its hash.
#[derive(Clone, Debug)]
pub struct Trusted {
    /// SHA-256 of the document, lowercase hexadecimal.
    pub hash: String,
}

/// The `persistedQuery` extension of a request.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Extension {
    version: u32,
    sha256_hash: String,
}

/// A request's document once its `persistedQuery` extension is read.
pub enum Document {
    /// A document sent in full, without the extension.
    Sent(String),
    /// A document sent with its hash, which matched: to be kept once it validates.
    Registering {
        /// Its SHA-256, lowercase hexadecimal.
        hash: String,
        /// The document.
        text: String,
    },
    /// A kept document, with its parsed form when this process has it.
    Persisted {
        /// The document.
        text: Arc<str>,
        /// The document parsed, to run without parsing it again.
        parsed: Option<ExecutableDocument>,
    },
    /// An operation of a partner's manifest, with its parsed form when this process has it.
    Trusted {
        /// Its id: the SHA-256 of the document.
        hash: String,
        /// The document.
        text: Arc<str>,
        /// The document parsed, to run without parsing it again.
        parsed: Option<ExecutableDocument>,
    },
}

impl Document {
    /// The document's text.
    pub fn text(&self) -> &str {
        match self {
            Self::Sent(text) | Self::Registering { text, .. } => text,
            Self::Persisted { text, .. } | Self::Trusted { text, .. } => text,
        }
    }

    /// The GraphQL request running the document, parsed if it was, marked when trusted; and the
    /// hash and text to keep once it ran, for a document registering.
    pub fn into_request(self) -> (async_graphql::Request, Option<(String, String)>) {
        let parsed_request = |text: &str, parsed: Option<ExecutableDocument>| {
            let mut request = async_graphql::Request::new(text);
            if let Some(parsed) = parsed {
                request.set_parsed_query(parsed);
            }
            request
        };
        match self {
            Self::Sent(text) => (async_graphql::Request::new(text), None),
            Self::Registering { hash, text } => (async_graphql::Request::new(text.clone()), Some((hash, text))),
            Self::Persisted { text, parsed } => (parsed_request(&text, parsed), None),
            Self::Trusted { hash, text, parsed } => (parsed_request(&text, parsed).data(Trusted { hash }), None),
        }
    }
}

/// Why a request's persisted query was refused: its code and message.
#[derive(Debug)]
pub struct Refusal {
    /// `PERSISTED_QUERY_NOT_FOUND` and `PERSISTED_QUERY_NOT_SUPPORTED` are answered with HTTP 200
    /// (clients react to the code), `PERSISTED_QUERY_REQUIRED` with 403; anything else is a bad
    /// request.
    pub code: ErrorCode,
    /// What to tell the client.
    pub message: String,
}

impl Refusal {
    fn bad(message: impl Into<String>) -> Self {
        Self { code: ErrorCode::BadRequest, message: message.into() }
    }

    fn not_found() -> Self {
        Self { code: ErrorCode::PersistedQueryNotFound, message: "PersistedQueryNotFound".to_owned() }
    }

    /// The HTTP status of the refusal.
    pub fn status(&self) -> u16 {
        match self.code {
            ErrorCode::PersistedQueryNotFound | ErrorCode::PersistedQueryNotSupported => 200,
            ErrorCode::PersistedQueryRequired => 403,
            ErrorCode::ServiceUnavailable => 503,
            _ => 400,
        }
    }
}

/// Persisted queries: the store, partners' manifests, and this process's parsed documents and
/// manifest operations.
pub struct PersistedQueries {
    store: Option<Arc<dyn QueryStore>>,
    safelist: Arc<dyn Safelist>,
    parsed: Mutex<Bounded<ExecutableDocument>>,
    trusted: Mutex<Bounded<Arc<str>>>,
}

/// Parsed documents kept per process.
const PARSED_ENTRIES: usize = 1_000;
/// Manifest operations kept per process, and their bytes.
const TRUSTED_ENTRIES: usize = 4_096;
const TRUSTED_BYTES: usize = 8 * 1024 * 1024;

impl PersistedQueries {
    /// Persisted queries kept in `store` (`None` turns them off), partners' operations read from
    /// `safelist`.
    pub fn new(store: Option<Arc<dyn QueryStore>>, safelist: Arc<dyn Safelist>, max_parsed_bytes: usize) -> Self {
        Self {
            store,
            safelist,
            parsed: Mutex::new(Bounded::new(PARSED_ENTRIES, max_parsed_bytes)),
            trusted: Mutex::new(Bounded::new(TRUSTED_ENTRIES, TRUSTED_BYTES)),
        }
    }

    /// Persisted queries as configured: off, in this process, or in Redis (on the connection
    /// `redis` holds for its URL).
    ///
    /// # Errors
    /// When the Redis URL is not one.
    pub fn from_settings(
        settings: &PersistedQuerySettings,
        safelist: Arc<dyn Safelist>,
        redis: &mut RedisConnections,
    ) -> anyhow::Result<Self> {
        let store: Option<Arc<dyn QueryStore>> = match settings {
            PersistedQuerySettings::Off => None,
            PersistedQuerySettings::InProcess { max_entries, max_bytes } => {
                Some(Arc::new(InProcessQueries::new(*max_entries, *max_bytes)))
            }
            PersistedQuerySettings::Redis { url, ttl_seconds, max_document_bytes, key_prefix } => {
                let connection = redis.to(url.expose()).context("graphql.persisted_queries.url")?;
                Some(Arc::new(RedisQueries::new(connection, key_prefix, *ttl_seconds, *max_document_bytes)))
            }
        };
        // Parsed documents are several times their text: a budget of 4 MiB of text.
        Ok(Self::new(store, safelist, 4 * 1024 * 1024))
    }

    /// The request's document, from `query`, `documentId` and the `persistedQuery` extension
    /// (removed from `extensions`), among the documents `allowed`.
    ///
    /// # Errors
    /// A [`Refusal`] when the extension or id is malformed, of another version, its hash does
    /// not match the document, the hash is unknown, persisted queries are off, or (for a partner)
    /// the document is not in its manifest.
    pub async fn document(
        &self,
        allowed: Allowed,
        query: Option<String>,
        document_id: Option<String>,
        extensions: Option<&mut Map<String, Value>>,
    ) -> Result<Option<Document>, Refusal> {
        let query = query.filter(|q| !q.trim().is_empty());
        let extension = extensions.and_then(|e| e.remove(EXTENSION));
        let hash = match (document_id, extension) {
            (None, None) => None,
            (Some(id), extension) => {
                if query.is_some() || extension.is_some() {
                    return Err(Refusal::bad("send a `documentId` alone, without `query` or `persistedQuery`"));
                }
                let hash = id
                    .strip_prefix("sha256:")
                    .map(str::to_ascii_lowercase)
                    .filter(|hash| is_sha256_hex(hash))
                    .ok_or_else(|| Refusal::bad("`documentId` must be `sha256:` and 64 hexadecimal digits"))?;
                Some(hash)
            }
            (None, Some(extension)) => Some(extension_hash(extension)?),
        };
        if let (Some(hash), Some(text)) = (&hash, &query)
            && sha256_hex(text) != *hash
        {
            return Err(Refusal::bad("`sha256Hash` is not the SHA-256 of the query"));
        }
        if let Allowed::Manifest(manifest) = allowed {
            return self.trusted(manifest, hash, query).await;
        }
        let Some(hash) = hash else {
            return Ok(query.map(Document::Sent));
        };
        let Some(store) = &self.store else {
            return Err(Refusal {
                code: ErrorCode::PersistedQueryNotSupported,
                message: "persisted queries are not supported here; send the query".to_owned(),
            });
        };
        match query {
            Some(text) => Ok(Some(Document::Registering { hash, text })),
            None => self.kept(store.as_ref(), hash).await.map(Some),
        }
    }

    /// A partner's document: the operation of its manifest with this hash, or whose text was
    /// sent.
    async fn trusted(
        &self,
        manifest: Option<Uuid>,
        hash: Option<String>,
        query: Option<String>,
    ) -> Result<Option<Document>, Refusal> {
        let sent = query.is_some();
        let Some(hash) = hash.or_else(|| query.as_deref().map(sha256_hex)) else {
            return Ok(None);
        };
        let text = match manifest {
            Some(manifest) => self.operation(manifest, &hash).await?,
            None => None,
        };
        let Some(text) = text else {
            return Err(if sent {
                Refusal {
                    code: ErrorCode::PersistedQueryRequired,
                    message: "this operation is not in the partner's manifest; a partner key runs only registered operations, by id".to_owned(),
                }
            } else {
                Refusal::not_found()
            });
        };
        let parsed = self.parsed(&hash, &text);
        Ok(Some(Document::Trusted { hash, text, parsed }))
    }

    /// Operation `hash` of manifest version `manifest`, from this process's copy or the safelist.
    async fn operation(&self, manifest: Uuid, hash: &str) -> Result<Option<Arc<str>>, Refusal> {
        let key = format!("{manifest}:{hash}");
        if let Some(text) = self.trusted.lock().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return Ok(Some(text));
        }
        let read = self.safelist.operation(manifest, hash).await.map_err(|error| {
            tracing::warn!(?error, "cannot read a partner's manifest");
            Refusal { code: ErrorCode::ServiceUnavailable, message: "the store is busy; try again shortly".to_owned() }
        })?;
        Ok(read.map(|text| {
            let text: Arc<str> = text.into();
            self.trusted.lock().unwrap_or_else(PoisonError::into_inner).put(&key, Arc::clone(&text), text.len());
            text
        }))
    }

    /// The kept document with this hash, parsed when this process has parsed it before.
    async fn kept(&self, store: &dyn QueryStore, hash: String) -> Result<Document, Refusal> {
        let kept = store.get(&hash).await.unwrap_or_else(|error| {
            tracing::warn!(?error, "cannot read the persisted-query store");
            None
        });
        let Some(text) = kept else {
            return Err(Refusal::not_found());
        };
        let parsed = self.parsed(&hash, &text);
        Ok(Document::Persisted { text, parsed })
    }

    /// The document `text` (of SHA-256 `hash`) parsed: this process's copy, or parsed now and
    /// kept.
    fn parsed(&self, hash: &str, text: &str) -> Option<ExecutableDocument> {
        let parsed = self.parsed.lock().unwrap_or_else(PoisonError::into_inner).get(hash);
        parsed.or_else(|| self.remember_parsed(hash, text))
    }

    /// Keeps a registering document (its hash and text, from [`Document::into_request`]) once
    /// its first answer shows it parsed and validated: no error refused it before it ran. It is
    /// parsed again, for this process, when first run by its hash.
    pub async fn keep_if_it_ran(&self, (hash, text): (String, String), answer: &async_graphql::Response) {
        if answer.errors.iter().any(super::errors::refused_before_execution) {
            return;
        }
        if let Some(store) = &self.store
            && let Err(error) = store.put(&hash, text.into()).await
        {
            tracing::warn!(?error, "cannot write to the persisted-query store");
        }
    }

    fn remember_parsed(&self, hash: &str, text: &str) -> Option<ExecutableDocument> {
        let parsed = async_graphql::parser::parse_query(text).ok()?;
        self.parsed.lock().unwrap_or_else(PoisonError::into_inner).put(hash, parsed.clone(), text.len());
        Some(parsed)
    }
}

/// The hash named by a `persistedQuery` extension.
fn extension_hash(extension: Value) -> Result<String, Refusal> {
    let extension: Extension = serde_json::from_value(extension)
        .map_err(|_| Refusal::bad("`persistedQuery` must be `{version: 1, sha256Hash}`"))?;
    if extension.version != 1 {
        return Err(Refusal::bad(format!("persisted query version {} is not supported; use 1", extension.version)));
    }
    let hash = extension.sha256_hash.to_ascii_lowercase();
    if !is_sha256_hex(&hash) {
        return Err(Refusal::bad("`sha256Hash` must be 64 hexadecimal digits"));
    }
    Ok(hash)
}

/// Whether `hash` is a SHA-256 in lowercase hexadecimal.
fn is_sha256_hex(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounded_map_forgets_the_least_recently_used_to_fit_its_budgets() {
        let mut map = Bounded::new(3, 10);
        map.put("a", 1, 4);
        map.put("b", 2, 4);
        assert_eq!(map.get("a"), Some(1)); // a is now the most recently used
        map.put("c", 3, 4); // 12 bytes > 10: b goes
        assert_eq!((map.get("a"), map.get("b"), map.get("c")), (Some(1), None, Some(3)));
        map.put("d", 4, 11); // larger than the whole budget: not kept, nothing lost
        assert_eq!((map.get("d"), map.get("a")), (None, Some(1)));
        map.put("e", 5, 1);
        map.put("f", 6, 1); // 4 entries > 3: the least recent (c, then a was read) goes
        assert_eq!(map.entries.len(), 3);
        assert!(map.bytes <= 10);
        assert_eq!(map.get("c"), None);
    }
}
