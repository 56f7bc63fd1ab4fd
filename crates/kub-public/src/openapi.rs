//! `GET /openapi.json`: each public service's OpenAPI 3 document, generated from its handlers
//! (`#[utoipa::path]`) plus the operational routes every service shares.

use std::sync::Arc;

use axum::{Json, Router, extract::State, routing::get};
use kub_http::errors::ErrorBody;
use utoipa::{OpenApi, openapi};

#[derive(OpenApi)]
#[openapi(
    paths(kub_http::probes::alive, crate::network::network, openapi_json),
    components(schemas(ErrorBody))
)]
struct SharedRoutes;

/// The service's own document completed with the shared routes (without `/network` when it
/// is not `served`), served at `/openapi.json`. `/metrics` is not among them: it is on the
/// metrics port, not this one.
pub fn openapi_routes(mut api: openapi::OpenApi, network_served: bool) -> Router {
    api.merge(SharedRoutes::openapi());
    if !network_served {
        api.paths.paths.remove("/network");
    }
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
