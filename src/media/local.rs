//! The local media store: objects are files in a folder, served by the app under `/media/`, and
//! uploads go to the app itself at a URL signed with HMAC.
//!
//! A signed upload URL is the object's own URL with `expires` and `signature` query parameters;
//! the signature covers the key, the content type, the byte size and the expiry, so the `PUT`
//! must carry exactly the type and size it was signed for.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::store::{MediaStore, SignedPut, StoredObject, content_type_of, is_valid_key};

type HmacSha256 = Hmac<Sha256>;

/// Objects in a folder of this machine.
pub struct LocalStore {
    dir: PathBuf,
    base_url: String,
    mac: HmacSha256,
}

/// Why a `PUT` to a signed local URL is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PutRefusal {
    /// The signature does not match the key, type, size and expiry.
    #[error("the signature does not match")]
    BadSignature,
    /// The URL's time is up.
    #[error("the upload URL has expired")]
    Expired,
}

impl LocalStore {
    /// A store over `dir` (created when missing) whose objects are read at `base_url`
    /// (`http://host/media`), signing upload URLs with `key`.
    ///
    /// # Errors
    /// When the folder cannot be created.
    pub fn open(dir: impl Into<PathBuf>, base_url: &str, key: Vec<u8>) -> anyhow::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create the media folder {}", dir.display()))?;
        let mac = HmacSha256::new_from_slice(&key).context("invalid media signing key")?;
        Ok(Self { dir, base_url: base_url.trim_end_matches('/').to_owned(), mac })
    }

    /// The file holding `key`'s object, when `key` is a valid key.
    pub fn path_of(&self, key: &str) -> Option<PathBuf> {
        is_valid_key(key).then(|| self.dir.join(key))
    }

    fn signature(&self, key: &str, content_type: &str, byte_size: u64, expires: i64) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(format!("PUT\n{key}\n{content_type}\n{byte_size}\n{expires}").as_bytes());
        mac
    }

    /// Checks a `PUT` of `byte_size` bytes of `content_type` to `key` against the URL's
    /// `expires` and `signature`.
    ///
    /// # Errors
    /// When the signature does not cover exactly this request, or its time is up.
    pub fn verify_put(
        &self,
        key: &str,
        content_type: &str,
        byte_size: u64,
        expires: i64,
        signature: &str,
    ) -> Result<(), PutRefusal> {
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| PutRefusal::BadSignature)?;
        self.signature(key, content_type, byte_size, expires)
            .verify_slice(&signature)
            .map_err(|_| PutRefusal::BadSignature)?;
        if expires < chrono::Utc::now().timestamp() {
            return Err(PutRefusal::Expired);
        }
        Ok(())
    }
}

#[async_trait]
impl MediaStore for LocalStore {
    async fn sign_put(
        &self,
        key: &str,
        content_type: &str,
        byte_size: u64,
        expires_in: Duration,
    ) -> anyhow::Result<SignedPut> {
        let expires = chrono::Utc::now().timestamp() + i64::try_from(expires_in.as_secs()).unwrap_or(i64::MAX / 2);
        let signature =
            URL_SAFE_NO_PAD.encode(self.signature(key, content_type, byte_size, expires).finalize().into_bytes());
        Ok(SignedPut {
            url: format!("{}/{key}?expires={expires}&signature={signature}", self.base_url),
            headers: vec![
                ("Content-Type".to_owned(), content_type.to_owned()),
                ("Content-Length".to_owned(), byte_size.to_string()),
            ],
        })
    }

    async fn size(&self, key: &str) -> anyhow::Result<Option<u64>> {
        let path = self.path_of(key).context("invalid media key")?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot stat {}", path.display())),
        }
    }

    async fn read(&self, key: &str, max_bytes: u64) -> anyhow::Result<Option<StoredObject>> {
        let Some(size) = self.size(key).await? else { return Ok(None) };
        anyhow::ensure!(size <= max_bytes, "the object is larger than {max_bytes} bytes");
        let path = self.path_of(key).context("invalid media key")?;
        let bytes = match tokio::fs::read(&path).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        anyhow::ensure!(bytes.len() as u64 <= max_bytes, "the object is larger than {max_bytes} bytes");
        Ok(Some(StoredObject { bytes, content_type: content_type_of(key).to_owned(), etag: None }))
    }

    async fn write(&self, key: &str, _content_type: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        let path = self.path_of(key).context("invalid media key")?;
        write_atomically(&path, &bytes).await
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        let path = self.path_of(key).context("invalid media key")?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("cannot delete {}", path.display())),
        }
    }

    fn name(&self) -> &'static str {
        "local"
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a reader never sees half
/// an object.
pub async fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let partial = path.with_extension(format!("part-{}", uuid::Uuid::now_v7().simple()));
    tokio::fs::write(&partial, bytes).await.with_context(|| format!("cannot write {}", partial.display()))?;
    if let Err(e) = tokio::fs::rename(&partial, path).await {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(e).with_context(|| format!("cannot rename into {}", path.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> anyhow::Result<LocalStore> {
        LocalStore::open(std::env::temp_dir().join("aeternum-local-store-unit"), "http://h/media", b"k".to_vec())
    }

    fn signed(url: &str) -> (i64, String) {
        let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let mut expires = 0;
        let mut signature = String::new();
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("expires", v)) => expires = v.parse().unwrap_or(0),
                Some(("signature", v)) => signature = v.to_owned(),
                _ => {}
            }
        }
        (expires, signature)
    }

    #[tokio::test]
    async fn a_signature_binds_key_type_and_size() -> anyhow::Result<()> {
        let store = store()?;
        assert!(put_url_is_the_object_url(&store).await?);
        let put = store.sign_put("uploads/a", "image/png", 10, Duration::from_secs(60)).await?;
        let (expires, signature) = signed(&put.url);
        assert_eq!(store.verify_put("uploads/a", "image/png", 10, expires, &signature), Ok(()));
        for (key, kind, size) in
            [("uploads/b", "image/png", 10), ("uploads/a", "image/jpeg", 10), ("uploads/a", "image/png", 11)]
        {
            assert_eq!(store.verify_put(key, kind, size, expires, &signature), Err(PutRefusal::BadSignature));
        }
        assert_eq!(
            store.verify_put("uploads/a", "image/png", 10, expires + 1, &signature),
            Err(PutRefusal::BadSignature)
        );
        Ok(())
    }

    async fn put_url_is_the_object_url(store: &LocalStore) -> anyhow::Result<bool> {
        let put = store.sign_put("uploads/a", "image/png", 10, Duration::from_secs(60)).await?;
        Ok(put.url.starts_with("http://h/media/uploads/a?expires="))
    }

    #[tokio::test]
    async fn an_expired_signature_is_refused() -> anyhow::Result<()> {
        let store = store()?;
        let put = store.sign_put("uploads/a", "image/png", 10, Duration::ZERO).await?;
        let (expires, _) = signed(&put.url);
        let past = expires - 5;
        let stale = URL_SAFE_NO_PAD.encode(store.signature("uploads/a", "image/png", 10, past).finalize().into_bytes());
        assert_eq!(store.verify_put("uploads/a", "image/png", 10, past, &stale), Err(PutRefusal::Expired));
        Ok(())
    }
}
