//! `/media/{key}`: objects read by the public (`GET`, with `ETag`, `Cache-Control` and ranges),
//! and, for the local store, the signed `PUT` a browser uploads to.

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::middleware::Cors;
use poem::web::{Data, Path, Query, StaticFileRequest};
use poem::{Body, Endpoint, EndpointExt, FromRequest, IntoResponse, Request, Response, get, handler};
use serde::Deserialize;

use super::Media;
use super::local::PutRefusal;
use super::store::{content_type_of, is_valid_key};

/// The prefix of objects uploaded but not yet checked; never served.
const UNCHECKED: &str = "uploads/";

/// The `/media/*key` endpoint. Any origin may read and upload: an upload is authorised by its
/// signature, not by cookies.
pub fn endpoint() -> impl Endpoint {
    get(serve)
        .put(upload)
        .with(Cors::new().allow_methods([Method::GET, Method::HEAD, Method::PUT]).allow_header("content-type"))
}

fn not_found() -> Response {
    StatusCode::NOT_FOUND.into_response()
}

#[handler]
async fn serve(request: &Request, Path(key): Path<String>, Data(media): Data<&Media>) -> Response {
    if !is_valid_key(&key) || key.starts_with(UNCHECKED) {
        return not_found();
    }
    let response = match media.local() {
        Some(local) => {
            let Some(path) = local.path_of(&key) else { return not_found() };
            let Ok(files) = StaticFileRequest::from_request_without_body(request).await else {
                return StatusCode::BAD_REQUEST.into_response();
            };
            match files.create_response(&path, false, false) {
                Ok(file) => file.into_response(),
                Err(_) => return not_found(),
            }
        }
        None => match media.store().read(&key, media.settings().max_upload_bytes.saturating_mul(4)).await {
            Ok(Some(object)) => from_memory(request, object),
            Ok(None) => return not_found(),
            Err(error) => {
                tracing::warn!(key, error = format!("{error:#}"), "reading a media object failed");
                return StatusCode::BAD_GATEWAY.into_response();
            }
        },
    };
    let mut response = response;
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(super::IMMUTABLE));
        if let Ok(kind) = HeaderValue::from_str(content_type_of(&key)) {
            headers.insert(header::CONTENT_TYPE, kind);
        }
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    }
    response
}

/// An object read from a remote store, answered with its `ETag` and a single byte range.
fn from_memory(request: &Request, object: super::store::StoredObject) -> Response {
    let etag = object.etag.unwrap_or_else(|| {
        use sha2::Digest;
        format!("\"{}\"", crate::digest::hex(&sha2::Sha256::digest(&object.bytes)[..16]))
    });
    if request.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return Response::builder().status(StatusCode::NOT_MODIFIED).header(header::ETAG, etag).finish();
    }
    let total = object.bytes.len();
    let range = request.headers().get(header::RANGE).and_then(|v| v.to_str().ok()).map(|r| byte_range(r, total));
    let builder = Response::builder().header(header::ETAG, etag).header(header::ACCEPT_RANGES, "bytes");
    match range {
        None => builder.body(object.bytes),
        Some(Some((start, end))) => builder
            .status(StatusCode::PARTIAL_CONTENT)
            .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{total}"))
            .body(object.bytes[start..=end].to_vec()),
        Some(None) => Response::builder()
            .status(StatusCode::RANGE_NOT_SATISFIABLE)
            .header(header::CONTENT_RANGE, format!("bytes */{total}"))
            .finish(),
    }
}

/// The inclusive bounds of one `bytes=` range over `total` bytes, or `None` when unsatisfiable.
fn byte_range(header: &str, total: usize) -> Option<(usize, usize)> {
    let spec = header.strip_prefix("bytes=")?.trim();
    let (start, end) = spec.split_once('-')?;
    let last = total.checked_sub(1)?;
    match (start.trim(), end.trim()) {
        ("", suffix) => {
            let length: usize = suffix.parse().ok().filter(|&n| n > 0)?;
            Some((total.saturating_sub(length), last))
        }
        (start, "") => {
            let start: usize = start.parse().ok().filter(|&s| s <= last)?;
            Some((start, last))
        }
        (start, end) => {
            let (start, end): (usize, usize) = (start.parse().ok()?, end.parse().ok()?);
            (start <= end && start <= last).then_some((start, end.min(last)))
        }
    }
}

#[derive(Deserialize)]
struct Signed {
    expires: i64,
    signature: String,
}

#[handler]
async fn upload(
    request: &Request,
    Path(key): Path<String>,
    Query(signed): Query<Signed>,
    Data(media): Data<&Media>,
    body: Body,
) -> Response {
    let Some(local) = media.local() else { return StatusCode::METHOD_NOT_ALLOWED.into_response() };
    if !is_valid_key(&key) || !key.starts_with(UNCHECKED) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let header = |name| request.headers().get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    let content_type = header(header::CONTENT_TYPE).unwrap_or_default().to_owned();
    let Some(length) = header(header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok()) else {
        return StatusCode::LENGTH_REQUIRED.into_response();
    };
    match local.verify_put(&key, &content_type, length, signed.expires, &signed.signature) {
        Ok(()) => {}
        Err(refusal @ (PutRefusal::BadSignature | PutRefusal::Expired)) => {
            return (StatusCode::FORBIDDEN, refusal.to_string()).into_response();
        }
    }
    let Ok(limit) = usize::try_from(length) else { return StatusCode::PAYLOAD_TOO_LARGE.into_response() };
    let bytes = match body.into_bytes_limit(limit).await {
        Ok(bytes) if bytes.len() == limit => bytes,
        Ok(_) => return (StatusCode::BAD_REQUEST, "the body is shorter than its Content-Length").into_response(),
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "the body is larger than signed for").into_response(),
    };
    let Some(path) = local.path_of(&key) else { return StatusCode::FORBIDDEN.into_response() };
    match super::local::write_atomically(&path, &bytes).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(error) => {
            tracing::warn!(key, error = format!("{error:#}"), "storing an upload failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn byte_ranges_follow_rfc_9110() {
        assert_eq!(byte_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(byte_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(byte_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(byte_range("bytes=95-200", 100), Some((95, 99)));
        assert_eq!(byte_range("bytes=100-", 100), None);
        assert_eq!(byte_range("bytes=5-1", 100), None);
        assert_eq!(byte_range("bytes=0-1", 0), None);
        assert_eq!(byte_range("items=0-1", 100), None);
    }
}
