//! Liveness and readiness probes.

use poem::http::StatusCode;
use poem::web::{Data, Json};
use poem::{IntoResponse, handler};
use serde_json::json;

use crate::db::Db;

/// The process is alive.
#[handler]
pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: its store answers.
#[handler]
pub async fn readyz(Data(db): Data<&Db>) -> impl IntoResponse {
    match db.ping().await {
        Ok(()) => Json(json!({ "status": "ready" })).into_response(),
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), "readiness check failed");
            Json(json!({ "status": "unavailable" })).with_status(StatusCode::SERVICE_UNAVAILABLE).into_response()
        }
    }
}
