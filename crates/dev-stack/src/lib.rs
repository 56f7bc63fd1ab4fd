//! The three services in one process, on loopback, wired as in compose (`AUTH_ADDRESS`):
//! `cargo run -p dev-stack`, and the black-box tests of the whole stack (`tests/api/`).
//!
//! The tests start each service on port 0 and talk real HTTP to it.

use std::{
    error::Error,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
    time::Duration,
};

mod page;

use auth_api::{CallerSettings, TokenSettings};
use axum::http::HeaderValue;
use kub_http::{metrics::Metrics, serve::RunningServer};
use kub_postgres::DatabaseSettings;
pub use page::PageTargets;
use page::page_router;

pub type BoxError = Box<dyn Error + Send + Sync>;

pub struct StackConfig {
    pub ip: IpAddr,
    /// 0 picks a free port.
    pub auth_port: u16,
    pub users_port: u16,
    pub tasks_port: u16,
    /// `users/` and `tasks/` are created inside it.
    pub data_dir: PathBuf,
    /// PostgreSQL for users and tasks instead of the folders (`DATABASE_URL`).
    pub database_url: Option<String>,
    /// Origins whose pages may call users and tasks from a browser (`CORS_ORIGINS`).
    pub cors_origins: Vec<HeaderValue>,
    pub jwt_secret: String,
    pub token_ttl: Duration,
    /// users-api's `AUTH_API_KEY`, auth's `USERS_API_KEY`.
    pub users_api_key: String,
    /// tasks-api's `AUTH_API_KEY`, auth's `TASKS_API_KEY`.
    pub tasks_api_key: String,
}

impl StackConfig {
    /// Every service on a free loopback port, data in `data_dir`, a fresh secret and fresh
    /// caller keys.
    pub fn ephemeral(data_dir: PathBuf) -> Self {
        Self {
            ip: Ipv4Addr::LOCALHOST.into(),
            auth_port: 0,
            users_port: 0,
            tasks_port: 0,
            data_dir,
            database_url: None,
            cors_origins: Vec::new(),
            jwt_secret: generate_secret(),
            token_ttl: auth_api::DEFAULT_TOKEN_TTL,
            users_api_key: generate_secret(),
            tasks_api_key: generate_secret(),
        }
    }

    /// users-api's settings in this stack, with auth at `auth_address`.
    pub fn users_config(&self, auth_address: &str) -> Result<users_api::Config, BoxError> {
        let mut config = users_api::Config::wired(auth_address, self.data_dir.join("users"));
        config.auth.auth_api_key = Some(self.users_api_key.as_str().into());
        config.database = self.database_settings()?;
        config.cors.cors_origins.clone_from(&self.cors_origins);
        Ok(config)
    }

    /// tasks-api's settings in this stack, with auth at `auth_address`.
    pub fn tasks_config(&self, auth_address: &str) -> Result<tasks_api::Config, BoxError> {
        let mut config = tasks_api::Config::wired(auth_address, self.data_dir.join("tasks"));
        config.auth.auth_api_key = Some(self.tasks_api_key.as_str().into());
        config.database = self.database_settings()?;
        config.cors.cors_origins.clone_from(&self.cors_origins);
        Ok(config)
    }

    fn database_settings(&self) -> Result<DatabaseSettings, BoxError> {
        match &self.database_url {
            Some(url) => Ok(DatabaseSettings::at(url)?),
            None => Ok(DatabaseSettings::default()),
        }
    }

    pub fn token_settings(&self) -> TokenSettings {
        TokenSettings {
            token_ttl: self.token_ttl,
            ..TokenSettings::with_secret(&self.jwt_secret)
        }
    }

    /// auth's callers: users-api and tasks-api, by this stack's keys.
    pub fn caller_settings(&self) -> CallerSettings {
        CallerSettings::with_keys(&self.users_api_key, &self.tasks_api_key)
    }
}

pub struct Stack {
    pub auth: RunningServer,
    pub users: RunningServer,
    pub tasks: RunningServer,
}

impl Stack {
    pub async fn start(config: &StackConfig) -> Result<Self, BoxError> {
        let auth = start_auth(
            SocketAddr::new(config.ip, config.auth_port),
            &config.token_settings(),
            &config.caller_settings(),
        )
        .await?;
        let auth_address = auth.addr.to_string();
        let users = start_users_with(
            SocketAddr::new(config.ip, config.users_port),
            &config.users_config(&auth_address)?,
        )
        .await?;
        let tasks = start_tasks_with(
            SocketAddr::new(config.ip, config.tasks_port),
            &config.tasks_config(&auth_address)?,
        )
        .await?;
        Ok(Self { auth, users, tasks })
    }

    pub async fn stop(self) -> Result<(), BoxError> {
        self.users.stop().await?;
        self.tasks.stop().await?;
        self.auth.stop().await?;
        Ok(())
    }
}

pub async fn start_auth(
    addr: SocketAddr,
    tokens: &TokenSettings,
    callers: &CallerSettings,
) -> Result<RunningServer, BoxError> {
    let callers = callers.callers()?;
    let state = auth_api::AppState::new(tokens, &Default::default())?.with_callers(callers);
    let metrics = state.metrics.clone();
    serve(addr, auth_api::router(state), &metrics).await
}

/// users-api with `AUTH_ADDRESS=<auth_address>` and `USERS_FOLDER=<folder>`, and the key
/// `Config::wired` gives it (which this crate's stacks do not know).
pub async fn start_users(
    addr: SocketAddr,
    auth_address: &str,
    folder: PathBuf,
) -> Result<RunningServer, BoxError> {
    start_users_with(addr, &users_api::Config::wired(auth_address, folder)).await
}

pub async fn start_users_with(
    addr: SocketAddr,
    config: &users_api::Config,
) -> Result<RunningServer, BoxError> {
    let state = users_api::AppState::open(config).await?;
    let metrics = state.metrics.clone();
    serve(addr, users_api::router(state), &metrics).await
}

/// tasks-api with `AUTH_ADDRESS=<auth_address>` and `TASKS_FOLDER=<folder>`, and the key
/// `Config::wired` gives it (which this crate's stacks do not know).
pub async fn start_tasks(
    addr: SocketAddr,
    auth_address: &str,
    folder: PathBuf,
) -> Result<RunningServer, BoxError> {
    start_tasks_with(addr, &tasks_api::Config::wired(auth_address, folder)).await
}

pub async fn start_tasks_with(
    addr: SocketAddr,
    config: &tasks_api::Config,
) -> Result<RunningServer, BoxError> {
    let state = tasks_api::AppState::open(config).await?;
    let metrics = state.metrics.clone();
    serve(addr, tasks_api::router(state), &metrics).await
}

/// `router` on `addr`, and its `GET /metrics` on a free port of the same address: three
/// services on one host cannot all have `METRICS_PORT`'s 9090 (`RunningServer::metrics_addr`
/// says which port each got).
async fn serve(
    addr: SocketAddr,
    router: axum::Router,
    metrics: &Metrics,
) -> Result<RunningServer, BoxError> {
    let metrics_addr = SocketAddr::new(addr.ip(), 0);
    Ok(RunningServer::start_service(addr, metrics_addr, router, metrics).await?)
}

/// The tasks page on `addr`, and the origins a browser sends for it (by its address, and as
/// `localhost`): what users and tasks must allow. Its requests go nowhere until
/// [`PageTargets::set`] names the services.
pub async fn start_page(
    addr: SocketAddr,
) -> Result<(RunningServer, PageTargets, Vec<HeaderValue>), BoxError> {
    let targets = PageTargets::default();
    let page = RunningServer::start(addr, page_router(targets.clone())).await?;
    let origins = [
        format!("http://{}", page.addr),
        format!("http://localhost:{}", page.addr.port()),
    ]
    .iter()
    .filter_map(|origin| HeaderValue::from_str(origin).ok())
    .collect();
    Ok((page, targets, origins))
}

/// 32 random bytes, hex-encoded: what `openssl rand -hex 32` gives.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
