//! users-api: the lesson's `POST /signup` and `POST /login`, with the passwords hashed and
//! checked by auth-api.
//!
//! It finds auth through `AUTH_ADDRESS` or Kubernetes' service variables; users live in an
//! append-only JSON-lines file in `USERS_FOLDER`, under a byte budget (`STORE_BUDGET`; memory
//! holds only an index), or in PostgreSQL when `DATABASE_URL` is set (`src/users.rs`).
//!
//! A route's handler is in `src/routes.rs`, its error answers in `src/error.rs`, its tests in
//! `src/routes/tests.rs`.

mod client_address;
mod config;
mod domain;
mod error;
mod routes;
mod throttle;
mod users;

use std::{error::Error, sync::Arc};

use kub_http::metrics::Metrics;
use kub_public::{auth_client::AuthClient, cors::CorsSettings, network::NetworkInfo};

pub use client_address::{ClientAddress, TrustedProxies, TrustedProxy};
pub use config::{Config, DEFAULT_MIN_PASSWORD_LENGTH};
pub use domain::{Credentials, Email, MAX_EMAIL_CHARS, MAX_PASSWORD_BYTES, Password};
pub use error::UsersError;
pub use routes::router;
pub use throttle::{RateLimit, RateLimitSettings, Throttle};
pub use users::{User, UserStore, Users};

pub const SERVICE: &str = "users-api";
pub const DEFAULT_PORT: u16 = 8080;
pub const DEFAULT_FOLDER: &str = "users";
pub const USERS_FILE: &str = "users.jsonl";

#[derive(Clone)]
pub struct AppState {
    pub auth: AuthClient,
    pub metrics: Metrics,
    pub network: NetworkInfo,
    /// The origins whose pages may call from a browser (`CORS_ORIGINS`).
    pub cors: CorsSettings,
    pub users: UserStore,
    pub throttle: Arc<Throttle>,
    pub trusted_proxies: TrustedProxies,
    pub min_password_length: usize,
}

impl AppState {
    /// Finds auth (one clear error if it cannot) and opens the store (the file, or the
    /// database when `DATABASE_URL` is set).
    pub async fn open(config: &Config) -> Result<Self, Box<dyn Error + Send + Sync>> {
        let address = config.auth.resolve()?;
        let metrics = Metrics::new();
        let users = UserStore::open(config).await?;
        users.track(&metrics);
        let trusted_proxies = TrustedProxies::resolve(&config.trusted_proxies).await;
        let auth = AuthClient::new(SERVICE, &address, metrics.clone());
        let network = NetworkInfo {
            service: SERVICE,
            auth: auth.clone(),
            pod: config.serve.pod.clone(),
            served: config.network.network_route,
        };
        tracing::info!(
            rate_limits = ?config.rate_limits,
            trusted_proxies = ?config.trusted_proxies,
            min_password_length = config.min_password_length,
            "abuse limits"
        );
        Ok(Self {
            auth,
            metrics,
            network,
            cors: config.cors.clone(),
            users,
            throttle: Arc::new(Throttle::new(&config.rate_limits)),
            trusted_proxies,
            min_password_length: config.min_password_length,
        })
    }
}
