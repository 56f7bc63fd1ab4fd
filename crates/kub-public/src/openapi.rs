//! `GET /openapi.json`: each public service's OpenAPI 3 document, generated from its handlers
//! (`#[utoipa::path]`) plus the operational routes every service shares.

use std::sync::Arc;

use axum::{Json, Router, extract::State, routing::get};
use kub_http::errors::ErrorBody;
use utoipa::{OpenApi, openapi};

#[derive(OpenApi)]
#[openapi(
    paths(
        kub_http::probes::alive,
        kub_http::metrics::metrics_endpoint,
        crate::network::network,
        openapi_json
    ),
    components(schemas(ErrorBody))
)]
struct SharedRoutes;

/// The service's own document completed with the shared routes, served at `/openapi.json`.
pub fn openapi_routes(mut api: openapi::OpenApi) -> Router {
    api.merge(SharedRoutes::openapi());
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .with_state(Arc::new(api))
}

/// `GET /openapi.json`
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "This document.")))]
async fn openapi_json(State(api): State<Arc<openapi::OpenApi>>) -> Json<openapi::OpenApi> {
    Json(api.as_ref().clone())
}
