//! The media storage port: where image objects live, and how a browser is let in to put one.

use std::time::Duration;

use async_trait::async_trait;

/// How a browser puts one object straight into storage: `PUT url` with `headers`, nothing else.
#[derive(Clone, Debug)]
pub struct SignedPut {
    /// The signed URL.
    pub url: String,
    /// Headers the request must carry exactly as given (they are bound into the signature).
    pub headers: Vec<(String, String)>,
}

/// A stored object, or a byte range of one, read back.
#[derive(Clone, Debug)]
pub struct StoredObject {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The content type it was stored with.
    pub content_type: String,
    /// The store's entity tag, quoted.
    pub etag: Option<String>,
}

/// Where media objects are kept. Keys are `/`-separated paths of `[A-Za-z0-9._-]` segments.
#[async_trait]
pub trait MediaStore: Send + Sync {
    /// A URL that lets a browser `PUT` exactly one object under `key`, of this content type and
    /// this many bytes, until `expires_in` has passed; any other type or size is refused.
    async fn sign_put(
        &self,
        key: &str,
        content_type: &str,
        byte_size: u64,
        expires_in: Duration,
    ) -> anyhow::Result<SignedPut>;

    /// The size of the object under `key`, or `None` when there is none.
    async fn size(&self, key: &str) -> anyhow::Result<Option<u64>>;

    /// The object under `key`, or `None` when there is none. Objects larger than `max_bytes`
    /// are an error.
    async fn read(&self, key: &str, max_bytes: u64) -> anyhow::Result<Option<StoredObject>>;

    /// Stores `bytes` under `key`, replacing what was there.
    async fn write(&self, key: &str, content_type: &str, bytes: Vec<u8>) -> anyhow::Result<()>;

    /// Deletes the object under `key`; deleting what is not there succeeds.
    async fn delete(&self, key: &str) -> anyhow::Result<()>;

    /// The adapter's name, for logs and readiness.
    fn name(&self) -> &'static str;
}

/// Whether `key` is a key this service would make: relative, `/`-separated, each segment of
/// `[A-Za-z0-9._-]`, none of them `.` or `..`.
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 300
        && key.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

/// The content type of an object by its key's extension.
pub fn content_type_of(key: &str) -> &'static str {
    match key.rsplit_once('.').map(|(_, ext)| ext) {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("avif") => "image/avif",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_plain_relative_paths() {
        assert!(is_valid_key("images/0190/abc/w320.webp"));
        assert!(is_valid_key("uploads/0190-ab"));
        for bad in ["", "/etc/passwd", "a//b", "../x", "a/../b", "a/./b", "a b", "a\\b", "é"] {
            assert!(!is_valid_key(bad), "{bad:?} must be refused");
        }
    }
}
