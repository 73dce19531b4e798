//! The S3 media store, through `aws-sdk-s3`: AWS S3, Cloudflare R2 or any S3-compatible server.
//!
//! Uploads are presigned `PUT` URLs whose signature covers the content type and length, so the
//! store itself refuses a body of another type or size. Objects are read by the public through
//! `media.public_base_url` (a CDN or a public bucket), or through the app's `/media/` route.

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;

use super::store::{MediaStore, SignedPut, StoredObject};
use crate::config::Secret;

/// How long one call to the store may take before it fails.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// A bucket of an S3-compatible store.
pub struct S3Store {
    client: Client,
    signer: Client,
    bucket: String,
}

/// Where the bucket is and how to sign in to it.
pub struct S3Location<'a> {
    /// The bucket.
    pub bucket: &'a str,
    /// The region (`auto` for R2).
    pub region: &'a str,
    /// Endpoint URL for stores other than AWS.
    pub endpoint: Option<&'a str>,
    /// Address the bucket in the path rather than the host name.
    pub path_style: bool,
    /// The endpoint browsers reach, when it differs from `endpoint`: upload URLs are signed
    /// for it.
    pub public_endpoint: Option<&'a str>,
    /// Access key id and secret; `None`: the usual AWS credential chain.
    pub credentials: Option<(&'a Secret, &'a Secret)>,
}

impl S3Store {
    /// A client of the bucket. Nothing is called yet.
    pub async fn connect(location: S3Location<'_>) -> Self {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .operation_timeout(OPERATION_TIMEOUT)
            .build();
        let mut shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(Region::new(location.region.to_owned()))
            .timeout_config(timeouts);
        if let Some((id, secret)) = location.credentials {
            shared = shared.credentials_provider(Credentials::new(
                id.expose(),
                secret.expose(),
                None,
                None,
                "aeternum-settings",
            ));
        }
        let shared = shared.load().await;
        // Browsers cannot compute the SDK's default checksums for a presigned PUT, and not every
        // S3-compatible store knows them: send and check them only where S3 requires them.
        let client = |endpoint: Option<&str>| {
            let mut config = aws_sdk_s3::config::Builder::from(&shared)
                .force_path_style(location.path_style)
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
            if let Some(endpoint) = endpoint {
                config = config.endpoint_url(endpoint);
            }
            Client::from_conf(config.build())
        };
        Self {
            client: client(location.endpoint),
            signer: client(location.public_endpoint.or(location.endpoint)),
            bucket: location.bucket.to_owned(),
        }
    }

    /// The SDK client, for tools and tests that manage buckets.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait]
impl MediaStore for S3Store {
    async fn sign_put(
        &self,
        key: &str,
        content_type: &str,
        byte_size: u64,
        expires_in: Duration,
    ) -> anyhow::Result<SignedPut> {
        let presigned = self
            .signer
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(i64::try_from(byte_size).context("upload too large")?)
            .presigned(PresigningConfig::expires_in(expires_in)?)
            .await
            .context("cannot presign the upload")?;
        let headers = presigned.headers().map(|(name, value)| (name.to_owned(), value.to_owned())).collect();
        Ok(SignedPut { url: presigned.uri().to_owned(), headers })
    }

    async fn size(&self, key: &str) -> anyhow::Result<Option<u64>> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(head) => Ok(Some(head.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0))),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context(format!("HEAD {key} failed"))),
        }
    }

    async fn read(&self, key: &str, max_bytes: u64) -> anyhow::Result<Option<StoredObject>> {
        let object = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(object) => object,
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => return Ok(None),
            Err(e) => return Err(anyhow::Error::new(e).context(format!("GET {key} failed"))),
        };
        let declared = object.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        anyhow::ensure!(declared <= max_bytes, "the object is larger than {max_bytes} bytes");
        let content_type = object.content_type().unwrap_or("application/octet-stream").to_owned();
        let etag = object.e_tag().map(str::to_owned);
        let bytes = object.body.collect().await.with_context(|| format!("reading {key} failed"))?.to_vec();
        anyhow::ensure!(bytes.len() as u64 <= max_bytes, "the object is larger than {max_bytes} bytes");
        Ok(Some(StoredObject { bytes, content_type, etag }))
    }

    async fn write(&self, key: &str, content_type: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .cache_control(super::IMMUTABLE)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .with_context(|| format!("PUT {key} failed"))?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self.client.delete_object().bucket(&self.bucket).key(key).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(()),
            Err(e) => Err(anyhow::Error::new(e).context(format!("DELETE {key} failed"))),
        }
    }

    fn name(&self) -> &'static str {
        "s3"
    }
}
