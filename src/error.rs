//! The one error shape of the service.
//!
//! An [`AppError`] has two faces: a stable [`ErrorCode`] and a message that go to the client in
//! the GraphQL error's `extensions.code`, and, for internal failures, a cause that is logged once
//! and never sent. Database errors therefore never reach a client as text.

use std::fmt;
use std::sync::Arc;

use async_graphql::ErrorExtensions;

/// The stable, documented codes a client sees in `extensions.code`.
///
/// The list is part of the API contract (see `docs/ERRORS.md`): codes are added, never renamed.
/// Each code is its variant's name in SCREAMING_SNAKE_CASE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// The input was understood but is not acceptable (bad cursor, page size, filter, ID…).
    BadUserInput,
    /// The thing asked for does not exist, or the caller may not know it exists.
    NotFound,
    /// The request needs a signed-in caller.
    Unauthenticated,
    /// The caller is known but not allowed to do this.
    Forbidden,
    /// The request conflicts with the current state (a duplicate, an illegal transition…).
    Conflict,
    /// Not enough stock to satisfy the request.
    OutOfStock,
    /// A price changed since the shopper accepted it; nothing was charged.
    PriceChanged,
    /// The payment provider declined the payment, failed, or did not answer in time.
    PaymentFailed,
    /// Too many requests; try again later.
    RateLimited,
    /// The server is at its limit for this kind of work (password checks, connections); retry
    /// shortly.
    Throttled,
    /// A store is out of connections, locked or not answering in time; retry shortly (HTTP 503
    /// with `Retry-After`).
    ServiceUnavailable,
    /// The GraphQL document could not be parsed.
    GraphqlParseFailed,
    /// The GraphQL document is not valid against the schema.
    GraphqlValidationFailed,
    /// The query is nested deeper than the configured limit.
    QueryTooDeep,
    /// The query costs more than the configured complexity limit.
    QueryTooComplex,
    /// The operation costs more than the caller's whole cost bucket holds: it can never run.
    MaxCostExceeded,
    /// The HTTP request is not a well-formed GraphQL request (bad JSON, wrong method…).
    BadRequest,
    /// The request body is larger than the configured limit.
    PayloadTooLarge,
    /// A persisted query's hash is not known here: send the query with its hash (HTTP 200).
    PersistedQueryNotFound,
    /// Persisted queries are switched off: send the query itself (HTTP 200).
    PersistedQueryNotSupported,
    /// A partner key runs only the operations of its partner's manifest, sent by id (HTTP 403).
    PersistedQueryRequired,
    /// The file is not an accepted image type (JPEG, PNG, WebP, AVIF), or its bytes are not the
    /// type it was declared as.
    UnsupportedMediaType,
    /// The upload is larger than the configured limit, or than the size it was declared with.
    UploadTooLarge,
    /// The upload's signed URL has expired; create a new upload.
    UploadExpired,
    /// Nothing was uploaded to the upload's URL (or not all of it).
    UploadNotReceived,
    /// The image's dimensions are over the limit (a decompression bomb is refused unread).
    ImageTooLarge,
    /// Something failed on our side; the cause is in the server's logs, not in the response.
    Internal,
}

impl ErrorCode {
    /// The code as it appears in `extensions.code`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error of a use case, ready to be shown to a client.
///
/// It deliberately does not implement `Display`: that keeps async-graphql's blanket
/// `From<impl Display>` away, so every conversion into a GraphQL error goes through
/// [`From<AppError>`], which attaches the code and logs internal causes.
#[derive(Clone)]
pub struct AppError {
    code: ErrorCode,
    message: String,
    cause: Option<Arc<anyhow::Error>>,
    ids: Vec<async_graphql::ID>,
}

/// The result of a use case.
pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// An error the client caused and can fix, with a message that says how.
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadUserInput, message)
    }

    /// The named thing does not exist.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, format!("{} not found", what.into()))
    }

    /// The caller is not allowed to do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// The request conflicts with the current state.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// An internal failure; `cause` is logged, never sent.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self {
            code: ErrorCode::Internal,
            message: "internal server error".to_owned(),
            cause: Some(Arc::new(cause.into())),
            ids: Vec::new(),
        }
    }

    /// An error with the given code and client-facing message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), cause: None, ids: Vec::new() }
    }

    /// Names the objects the error is about (the products out of stock…), sent to the client
    /// as `extensions.ids`.
    #[must_use]
    pub fn with_ids(mut self, ids: Vec<async_graphql::ID>) -> Self {
        self.ids = ids;
        self
    }

    /// The client-facing code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The client-facing message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// This error for a caller that reports rather than answers (the command line, a seeder):
    /// the code and message, over the internal cause when there is one.
    pub fn into_anyhow(self) -> anyhow::Error {
        let summary = format!("{}: {}", self.code.as_str(), self.message);
        match self.cause {
            Some(cause) => anyhow::anyhow!("{cause:#}").context(summary),
            None => anyhow::Error::msg(summary),
        }
    }
}

impl fmt::Debug for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("AppError");
        debug.field("code", &self.code).field("message", &self.message);
        if let Some(cause) = &self.cause {
            debug.field("cause", &format_args!("{cause:#}"));
        }
        debug.finish()
    }
}

/// The body of an error answered outside a GraphQL response (an HTTP request that is not a
/// GraphQL request, a refused socket upgrade, a webhook refusal): the same shape as GraphQL's
/// `errors` list, so clients read one shape everywhere.
pub fn error_body(code: ErrorCode, message: &str) -> serde_json::Value {
    serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code.as_str() } }] })
}

/// Maps a unique-constraint violation to `CONFLICT` with `message`, any other database error to
/// `INTERNAL`.
pub fn conflict_on_unique(message: &'static str) -> impl Fn(sea_orm::DbErr) -> AppError {
    move |error| match error.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => AppError::conflict(message),
        _ => error.into(),
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(error: sea_orm::DbErr) -> Self {
        if is_unavailable(&error) {
            tracing::warn!(error = %error, "the store is unavailable");
            return Self::new(ErrorCode::ServiceUnavailable, "the store is busy; try again shortly");
        }
        Self::internal(anyhow::Error::new(error).context("database operation failed"))
    }
}

/// Whether a store error means "not now" rather than "wrong": no pooled connection in time,
/// SQLite busy or locked, PostgreSQL out of connections, a lock or statement timeout.
fn is_unavailable(error: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    match error {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(RuntimeErr::SqlxError(sqlx))
        | DbErr::Exec(RuntimeErr::SqlxError(sqlx))
        | DbErr::Query(RuntimeErr::SqlxError(sqlx)) => match &**sqlx {
            sea_orm::sqlx::Error::PoolTimedOut | sea_orm::sqlx::Error::PoolClosed => true,
            sea_orm::sqlx::Error::Database(db) => {
                matches!(db.code().as_deref(), Some("5" | "6" | "517" | "261" | "262" | "53300" | "55P03" | "57014"))
            }
            _ => false,
        },
        _ => false,
    }
}

impl From<sea_orm::TransactionError<AppError>> for AppError {
    fn from(error: sea_orm::TransactionError<AppError>) -> Self {
        match error {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(app) => app,
        }
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(error: AppError) -> Self {
        if let Some(cause) = &error.cause {
            tracing::error!(error.code = %error.code, error.cause = format!("{cause:#}"), "request failed");
        }
        let code = error.code.as_str();
        let ids = error.ids;
        async_graphql::Error::new(error.message).extend_with(|_, ext| {
            ext.set("code", code);
            if !ids.is_empty() {
                ext.set("ids", async_graphql::Value::List(ids.into_iter().map(|id| id.0.into()).collect()));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_cause_from_clients() {
        let error = AppError::from(sea_orm::DbErr::Custom("password=hunter2 relation missing".into()));
        let gql: async_graphql::Error = error.into();
        assert_eq!(gql.message, "internal server error");
        let code = gql.extensions.as_ref().and_then(|e| e.get("code")).cloned();
        assert_eq!(code, Some(async_graphql::Value::from("INTERNAL")));
    }

    #[test]
    fn the_codes_are_the_documented_ones() {
        use strum::IntoEnumIterator;
        let codes: Vec<&str> = ErrorCode::iter().map(ErrorCode::as_str).collect();
        assert_eq!(
            codes,
            [
                "BAD_USER_INPUT",
                "NOT_FOUND",
                "UNAUTHENTICATED",
                "FORBIDDEN",
                "CONFLICT",
                "OUT_OF_STOCK",
                "PRICE_CHANGED",
                "PAYMENT_FAILED",
                "RATE_LIMITED",
                "THROTTLED",
                "SERVICE_UNAVAILABLE",
                "GRAPHQL_PARSE_FAILED",
                "GRAPHQL_VALIDATION_FAILED",
                "QUERY_TOO_DEEP",
                "QUERY_TOO_COMPLEX",
                "MAX_COST_EXCEEDED",
                "BAD_REQUEST",
                "PAYLOAD_TOO_LARGE",
                "PERSISTED_QUERY_NOT_FOUND",
                "PERSISTED_QUERY_NOT_SUPPORTED",
                "PERSISTED_QUERY_REQUIRED",
                "UNSUPPORTED_MEDIA_TYPE",
                "UPLOAD_TOO_LARGE",
                "UPLOAD_EXPIRED",
                "UPLOAD_NOT_RECEIVED",
                "IMAGE_TOO_LARGE",
                "INTERNAL",
            ]
        );
        let documented = include_str!("../docs/ERRORS.md");
        for code in codes {
            assert!(documented.contains(&format!("`{code}`")), "{code} is documented in docs/ERRORS.md");
        }
    }

    #[test]
    fn an_exhausted_pool_is_unavailable_not_internal() {
        let error = AppError::from(sea_orm::DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout));
        assert_eq!(error.code(), ErrorCode::ServiceUnavailable);
        let error = AppError::from(sea_orm::DbErr::Custom("boom".into()));
        assert_eq!(error.code(), ErrorCode::Internal);
    }

    #[test]
    fn user_errors_keep_their_message_and_code() {
        let gql: async_graphql::Error = AppError::bad_input("`first` must be at most 100").into();
        assert_eq!(gql.message, "`first` must be at most 100");
        let code = gql.extensions.as_ref().and_then(|e| e.get("code")).cloned();
        assert_eq!(code, Some(async_graphql::Value::from("BAD_USER_INPUT")));
    }
}
