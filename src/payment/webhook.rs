//! `POST /webhooks/payments`: events from the payment provider.
//!
//! Each request carries `Aeternum-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` where the
//! HMAC is keyed with `payments.webhook_secret` over `"<t>.<raw body>"`. A request whose
//! signature does not match, or whose timestamp is further than the tolerance from now, is
//! refused with 401 and changes nothing; a replayed event id is acknowledged and ignored.
//! Refusals have the service's one error shape: `{"errors": [{"message", "extensions": {"code"}}]}`.

use hmac::{Hmac, Mac};
use poem::http::StatusCode;
use poem::web::{Data, Json};
use poem::{Body, IntoResponse, Request, Response, handler};
use sha2::Sha256;

use super::Payments;
use super::service::{self, EventOutcome, ProviderEvent};
use crate::db::Db;
use crate::error::ErrorCode;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "aeternum-signature";

/// Largest webhook body accepted.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why a webhook was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No header, or one that does not parse.
    Malformed,
    /// The timestamp is outside the tolerance: a replay or a badly set clock.
    Stale,
    /// The HMAC does not match.
    BadSignature,
}

/// Checks a signature header against the raw body at time `now` (unix seconds).
///
/// # Errors
/// The [`Refusal`] reason.
pub fn verify(secret: &str, header: Option<&str>, body: &[u8], now: i64, tolerance: u64) -> Result<(), Refusal> {
    let header = header.ok_or(Refusal::Malformed)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", hex)) => signatures.push(decode_hex(hex).ok_or(Refusal::Malformed)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(Refusal::Malformed)?;
    if signatures.is_empty() {
        return Err(Refusal::Malformed);
    }
    if now.abs_diff(timestamp) > tolerance {
        return Err(Refusal::Stale);
    }
    for signature in signatures {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| Refusal::BadSignature)?;
        mac.update(format!("{timestamp}.").as_bytes());
        mac.update(body);
        // `verify_slice` compares in constant time.
        if mac.verify_slice(&signature).is_ok() {
            return Ok(());
        }
    }
    Err(Refusal::BadSignature)
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) || hex.len() > 128 {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

/// A refusal in the service's one error shape, as GraphQL errors are.
fn refuse(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    (status, Json(crate::error::error_body(code, message))).into_response()
}

/// Receives one provider event.
#[handler]
pub async fn receive(req: &Request, body: Body, Data(db): Data<&Db>, Data(payments): Data<&Payments>) -> Response {
    let Ok(body) = body.into_bytes_limit(MAX_BODY_BYTES).await else {
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge, "the webhook body is too large");
    };
    let header = req.headers().get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    let now = chrono::Utc::now().timestamp();
    match verify(payments.webhook_secret.expose(), header, &body, now, payments.tolerance_seconds) {
        Ok(()) => {}
        Err(refusal) => {
            tracing::warn!(?refusal, "payment webhook refused");
            let message = match refusal {
                Refusal::Malformed => "missing or malformed Aeternum-Signature header",
                Refusal::Stale => "the signed timestamp is too old or in the future",
                Refusal::BadSignature => "the signature does not match",
            };
            return refuse(StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated, message);
        }
    }
    let Ok(event) = serde_json::from_slice::<ProviderEvent>(&body) else {
        return refuse(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, "the body is not a payment event");
    };
    match service::apply_event(db, payments, &event).await {
        Ok(outcome) => {
            let status = match outcome {
                EventOutcome::Applied => "applied",
                EventOutcome::Duplicate => "duplicate",
                EventOutcome::Ignored => "ignored",
            };
            Json(serde_json::json!({ "status": status })).into_response()
        }
        Err(error) => {
            let status = match error.code() {
                ErrorCode::NotFound => StatusCode::NOT_FOUND,
                ErrorCode::BadUserInput => StatusCode::BAD_REQUEST,
                ErrorCode::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            if status == StatusCode::INTERNAL_SERVER_ERROR {
                tracing::error!(?error, "payment webhook failed");
            }
            refuse(status, error.code(), error.message())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(secret: &str, t: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        format!("t={t},v1={hex}")
    }

    #[test]
    fn accepts_a_fresh_valid_signature() {
        let h = header("s3cret", 1_000, b"{}");
        assert_eq!(verify("s3cret", Some(&h), b"{}", 1_100, 300), Ok(()));
    }

    #[test]
    fn refuses_tampering_staleness_and_garbage() {
        let h = header("s3cret", 1_000, b"{}");
        assert_eq!(verify("s3cret", Some(&h), b"{ }", 1_000, 300), Err(Refusal::BadSignature));
        assert_eq!(verify("other", Some(&h), b"{}", 1_000, 300), Err(Refusal::BadSignature));
        assert_eq!(verify("s3cret", Some(&h), b"{}", 1_301, 300), Err(Refusal::Stale));
        assert_eq!(verify("s3cret", None, b"{}", 1_000, 300), Err(Refusal::Malformed));
        assert_eq!(verify("s3cret", Some("t=1000,v1=zz"), b"{}", 1_000, 300), Err(Refusal::Malformed));
        assert_eq!(verify("s3cret", Some("v1=00"), b"{}", 1_000, 300), Err(Refusal::Malformed));
    }
}
