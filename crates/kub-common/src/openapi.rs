//! `GET /openapi.json`: each public service's OpenAPI 3 document, generated from its handlers
//! (`#[utoipa::path]`) plus the operational routes every service shares.

use std::sync::Arc;

use axum::{Json, Router, extract::State, routing::get};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        self,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use crate::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    paths(crate::server::alive, crate::metrics::metrics_endpoint, crate::network::network, openapi_json),
    components(schemas(ErrorBody)),
    modifiers(&BearerToken)
)]
struct SharedRoutes;

/// The `bearer` security scheme tasks' routes refer to.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, api: &mut openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .build();
        api.components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

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
