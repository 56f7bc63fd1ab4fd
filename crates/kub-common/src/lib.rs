//! What the kub-network services truly share.
//!
//! - [`config`]: reading settings from the environment, and finding the auth service
//!   (`AUTH_ADDRESS`, or the `AUTH_SERVICE_SERVICE_HOST` Kubernetes injects).
//! - [`telemetry`]: structured logs (`LOG_FORMAT`, `RUST_LOG`).
//! - [`server`]: the middleware every service runs behind, graceful shutdown and the
//!   `main` every binary shares.
//! - [`error`]: the JSON `{"message": …}` error body and extractors whose rejections use it.
//! - [`store`]: the fsync'd append-only JSON-lines store behind users and tasks.
//! - [`metrics`], [`network`]: `GET /metrics` and `GET /network`.
//! - [`auth_client`]: the typed HTTP client users-api and tasks-api use to reach auth-api.

pub mod auth_client;
pub mod auth_wire;
pub mod config;
pub mod error;
pub mod metrics;
pub mod network;
pub mod openapi;
pub mod server;
pub mod store;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
