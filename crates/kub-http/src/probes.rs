//! The probes Kubernetes and Docker ask: `GET /healthz` (liveness: the process serves) and
//! the answer each service gives to `GET /readyz` (readiness: it can do its job right now).

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::errors::error_response;

/// `GET /healthz`: the process is up and serving.
#[cfg_attr(feature = "openapi", utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Liveness: the process is up (`{\"status\":\"ok\"}`)."))))]
pub async fn alive() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// `GET /readyz` answer: 200 `{"status":"ready"}`, or 503 `{"message": why}`.
pub fn readiness(outcome: Result<(), String>) -> Response {
    match outcome {
        Ok(()) => Json(json!({ "status": "ready" })).into_response(),
        Err(why) => error_response(StatusCode::SERVICE_UNAVAILABLE, format!("Not ready: {why}")),
    }
}
