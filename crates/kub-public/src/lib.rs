//! What the two public services, users-api and tasks-api, share: finding auth the lesson's
//! three ways, calling it, and the routes that show how (`GET /network`, `GET /openapi.json`).
//!
//! - [`auth_address`]: `AUTH_ADDRESS`, or the `AUTH_SERVICE_SERVICE_HOST` Kubernetes injects.
//! - [`cors`]: `CORS_ORIGINS`, the pages of other origins that may call from a browser.
//! - [`auth_client`]: the typed client, with a base URL and short timeouts.
//! - [`network`]: `GET /network`: how this service found auth, and where this Pod runs
//!   (`NETWORK_ROUTE=false` turns it off).
//! - [`openapi`]: `GET /openapi.json`, the service's routes plus the shared ones.
//! - [`track_store`]: the store's records, bytes and budget in `GET /metrics` (on the metrics
//!   port).

pub mod auth_address;
pub mod auth_client;
mod call_span;
pub mod cors;
pub mod network;
pub mod openapi;

use axum::Router;
use kub_http::{
    layers::with_common_layers,
    metrics::{Metrics, Stored},
};
use kub_store::{Collection, JsonLinesStore};

use crate::{
    cors::CorsSettings,
    network::{NetworkInfo, network_routes},
    openapi::openapi_routes,
};

/// A public service: its documented routes, plus `GET /network` (unless `NETWORK_ROUTE=false`),
/// `GET /openapi.json` (its document completed with the shared routes), the common layers and,
/// outermost, CORS for the allowed origins (a preflight is answered before anything else looks
/// at the request).
pub fn public_service(
    (routes, api): (Router, utoipa::openapi::OpenApi),
    network: NetworkInfo,
    metrics: Metrics,
    cors: &CorsSettings,
) -> Router {
    let network_served = network.served;
    let routes = routes
        .merge(network_routes(network))
        .merge(openapi_routes(api, network_served));
    let service = with_common_layers(routes, metrics);
    match cors.layer() {
        Some(cors) => service.layer(cors),
        None => service,
    }
}

/// Reports `store` at every scrape: its records (as `records` counts them), its file's bytes
/// and its budget, under the label `kind`.
pub fn track_store<C: Collection>(
    metrics: &Metrics,
    kind: &'static str,
    store: &JsonLinesStore<C>,
    records: fn(&C) -> usize,
) {
    let store = store.clone();
    metrics.track_stored(kind, move || {
        let usage = store.usage();
        Stored {
            records: store.read(records),
            bytes: usage.bytes,
            budget_bytes: usage.budget,
        }
    });
}

#[cfg(test)]
mod tests;
