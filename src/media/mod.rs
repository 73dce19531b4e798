//! Media: product images uploaded by the browser straight to storage, checked before they reach a
//! product, and served in the sizes a storefront renders.
//!
//! The flow (docs/MEDIA.md): `createUpload` records the intent and hands out a signed `PUT` URL;
//! the browser puts the file; `confirmUpload` reads the object back, sniffs its type from its
//! bytes, refuses what is too large or not an image, rewrites it without metadata, and attaches
//! it; a worker then makes its WebP variants. Storage is never called inside a transaction:
//! objects that no row owns are listed in `media_deletions` and removed after the commit, or by
//! the sweep after a crash.

pub mod demo;
pub mod graphql;
pub mod http;
pub mod local;
pub mod picture;
pub mod s3;
pub mod service;
pub mod store;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use self::local::LocalStore;
use self::picture::Bounds;
use self::store::MediaStore;
use crate::config::{MediaSettings, MediaStoreSettings};
use crate::error::{AppError, AppResult, ErrorCode};

/// `Cache-Control` of stored objects: their keys are never reused, so they never change.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// How long image work waits for a free slot before the request is told to retry.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

/// The media port, its settings, and the bound on concurrent image work.
#[derive(Clone)]
pub struct Media {
    store: Arc<dyn MediaStore>,
    local: Option<Arc<LocalStore>>,
    settings: Arc<MediaSettings>,
    public_base: Arc<str>,
    work: Arc<Semaphore>,
    wake: Arc<Notify>,
}

impl Media {
    /// The adapter the settings choose. `app_base` is where the app itself serves `/media`
    /// (`http://host:port/media`), used when `media.public_base_url` is empty.
    ///
    /// # Errors
    /// When the local folder cannot be created.
    pub async fn from_settings(settings: &MediaSettings, app_base: &str) -> anyhow::Result<Self> {
        let public_base = match settings.public_base_url.trim_end_matches('/') {
            "" => app_base.trim_end_matches('/'),
            base => base,
        };
        let (store, local): (Arc<dyn MediaStore>, _) = match &settings.store {
            MediaStoreSettings::Local { dir } => {
                let key = match settings.signing_secret.expose() {
                    "" => crate::identity::tokens::opaque_token("media_").into_bytes(),
                    key => key.as_bytes().to_vec(),
                };
                let local = Arc::new(LocalStore::open(dir, public_base, key).context("media.store.dir")?);
                (local.clone(), Some(local))
            }
            MediaStoreSettings::S3 {
                bucket,
                region,
                endpoint,
                path_style,
                public_endpoint,
                access_key_id,
                secret_access_key,
            } => {
                let credentials = match (access_key_id, secret_access_key) {
                    (Some(id), Some(secret)) => Some((id, secret)),
                    (None, None) => None,
                    _ => anyhow::bail!(
                        "set both media.store.access_key_id and media.store.secret_access_key, or neither"
                    ),
                };
                let location = s3::S3Location {
                    bucket,
                    region,
                    endpoint: endpoint.as_deref(),
                    path_style: *path_style,
                    public_endpoint: public_endpoint.as_deref(),
                    credentials,
                };
                (Arc::new(s3::S3Store::connect(location).await), None)
            }
        };
        let workers = match settings.max_concurrent_processing {
            0 => std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            n => n,
        };
        Ok(Self {
            store,
            local,
            settings: Arc::new(settings.clone()),
            public_base: public_base.into(),
            work: Arc::new(Semaphore::new(workers)),
            wake: Arc::default(),
        })
    }

    /// The public URL of the object under `key`.
    pub fn public_url(&self, key: &str) -> String {
        format!("{}/{key}", self.public_base)
    }

    /// The storage adapter.
    pub fn store(&self) -> &Arc<dyn MediaStore> {
        &self.store
    }

    /// The local store, when that is the adapter (it answers signed uploads itself).
    pub fn local(&self) -> Option<&Arc<LocalStore>> {
        self.local.as_ref()
    }

    /// The media settings.
    pub fn settings(&self) -> &MediaSettings {
        &self.settings
    }

    fn bounds(&self) -> Bounds {
        Bounds { max_pixels: self.settings.max_pixels, max_dimension: self.settings.max_dimension }
    }

    /// Runs CPU-bound image work on the blocking pool, at most `max_concurrent_processing` at
    /// once; a caller that waits too long for a slot gets `THROTTLED`.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
        let permit = self.slot().await?;
        Self::run_in(permit, work).await
    }

    /// A slot for image work, taken before the image is read into memory, so the bytes held at
    /// once are bounded too.
    async fn slot(&self) -> AppResult<OwnedSemaphorePermit> {
        tokio::time::timeout(QUEUE_TIMEOUT, Arc::clone(&self.work).acquire_owned())
            .await
            .map_err(|_| AppError::new(ErrorCode::Throttled, "the server is busy processing images; retry shortly"))?
            .map_err(AppError::internal)
    }

    /// Runs image work on the blocking pool in a slot already taken.
    async fn run_in<T: Send + 'static>(
        permit: OwnedSemaphorePermit,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let done = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await;
        done.map_err(AppError::internal)
    }

    /// Tells the variant worker there is work.
    fn wake_worker(&self) {
        self.wake.notify_one();
    }
}
