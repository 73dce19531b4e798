//! Liveness and readiness probes.

use poem::http::StatusCode;
use poem::web::{Data, Json};
use poem::{IntoResponse, handler};
use serde_json::json;

use std::sync::Arc;

use crate::db::Db;
use crate::events::EventBus;

/// The process is alive.
#[handler]
pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Longest a readiness check waits for the store.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// The process can serve: its store answers, within half a second (503 otherwise). When the
/// event bus is down the process still serves queries and mutations, so it stays ready, as
/// `"status": "degraded"` with `"events": "down"`: subscriptions hear nothing until it is back.
#[handler]
pub async fn readyz(Data(db): Data<&Db>, Data(bus): Data<&Arc<dyn EventBus>>) -> impl IntoResponse {
    let answered = tokio::time::timeout(READY_TIMEOUT, db.ping()).await;
    match answered.unwrap_or_else(|_| Err(anyhow::anyhow!("the database did not answer within {READY_TIMEOUT:?}"))) {
        Ok(()) if bus.connected() => Json(json!({ "status": "ready", "events": "up" })).into_response(),
        Ok(()) => Json(json!({ "status": "degraded", "events": "down" })).into_response(),
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), "readiness check failed");
            Json(json!({ "status": "unavailable" })).with_status(StatusCode::SERVICE_UNAVAILABLE).into_response()
        }
    }
}
