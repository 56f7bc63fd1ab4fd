//! `cargo run -p dev-stack`: auth, users and tasks on loopback with a generated secret and
//! caller keys, and a temporary data folder (or `DEV_STACK_DATA`, kept between runs).

use std::{net::Ipv4Addr, path::PathBuf, process::ExitCode};

use clap::Parser;
use dev_stack::{Stack, StackConfig, generate_secret, start_page};
use kub_http::{
    serve::shutdown_signal,
    settings::{LogSettings, ServeSettings, parse_or_exit, parse_port},
    telemetry,
};

/// The three services on loopback, wired as in compose: users and tasks find auth through
/// AUTH_ADDRESS. Ctrl-C stops them.
#[derive(Parser)]
#[command(name = "dev-stack", version)]
struct Settings {
    /// users-api's port.
    #[arg(long, env = "USERS_PORT", default_value_t = 8080, value_parser = parse_port)]
    users_port: u16,
    /// tasks-api's port.
    #[arg(long, env = "TASKS_PORT", default_value_t = 8000, value_parser = parse_port)]
    tasks_port: u16,
    /// The tasks page's port (`frontend/`, calling users and tasks from the browser).
    #[arg(long, env = "PAGE_PORT", default_value_t = 3000, value_parser = parse_port)]
    page_port: u16,
    /// auth-api's port (not 80, which needs privileges on a dev machine).
    #[arg(long, env = "AUTH_PORT", default_value_t = 8081, value_parser = parse_port)]
    auth_port: u16,
    /// The token signing key; a fresh random one by default.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// A folder to keep users and tasks in between runs; a temporary one by default.
    #[arg(long, env = "DEV_STACK_DATA")]
    data: Option<PathBuf>,
    /// Keep users and tasks in this PostgreSQL instead (`postgres://user:password@host/db`).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    #[command(flatten)]
    log: LogSettings,
}

#[tokio::main]
async fn main() -> ExitCode {
    let settings: Settings = parse_or_exit();
    // Logs only: one process serving three services has no single `service.name` for traces.
    let serve = ServeSettings {
        log: settings.log.clone(),
        ..ServeSettings::default()
    };
    let _no_traces = telemetry::init("dev-stack", &serve);
    match run(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("dev-stack: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(settings: Settings) -> Result<(), dev_stack::BoxError> {
    let temporary = tempfile::tempdir()?;
    // The page first: its origin is what users and tasks must allow.
    let page_addr = (Ipv4Addr::LOCALHOST, settings.page_port).into();
    let (page, page_targets, cors_origins) = start_page(page_addr).await?;
    let config = StackConfig {
        ip: Ipv4Addr::LOCALHOST.into(),
        auth_port: settings.auth_port,
        users_port: settings.users_port,
        tasks_port: settings.tasks_port,
        data_dir: settings.data.unwrap_or_else(|| temporary.path().to_owned()),
        database_url: settings.database_url,
        cors_origins,
        jwt_secret: settings.jwt_secret.unwrap_or_else(generate_secret),
        token_ttl: auth_api::DEFAULT_TOKEN_TTL,
        users_api_key: generate_secret(),
        tasks_api_key: generate_secret(),
    };
    let stack = Stack::start(&config).await?;
    page_targets.set(stack.users.url(), stack.tasks.url());
    let (users, tasks) = (stack.users.url(), stack.tasks.url());
    println!(
        r#"
kub-network dev stack (Ctrl-C to stop)
  auth-api   {auth}  (internal; users and tasks reach it through AUTH_ADDRESS={auth_addr},
             each with its own generated AUTH_API_KEY)
  users-api  {users}
  tasks-api  {tasks}
  page       {page}  (open it in a browser; it calls users and tasks directly, CORS_ORIGINS)
  data       {data}
  /metrics   each on a port of its own (METRICS_PORT in a container; here a free one each):
             auth {auth_metrics}
             users {users_metrics}
             tasks {tasks_metrics}

Try:
  curl -i -X POST {users}/signup -H 'Content-Type: application/json' -d '{{"email":"test@test.com","password":"testers"}}'
  TOKEN=$(curl -s -X POST {users}/login -H 'Content-Type: application/json' -d '{{"email":"test@test.com","password":"testers"}}' | sed -E 's/.*"token":"([^"]+)".*/\1/')
  curl -i -X POST {tasks}/tasks -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{{"title":"A dummy task","text":"Do it!"}}'
  curl -i {tasks}/tasks -H "Authorization: Bearer $TOKEN"
"#,
        auth = stack.auth.url(),
        auth_addr = stack.auth.addr,
        page = page.url(),
        auth_metrics = stack.auth.metrics_url().unwrap_or_default(),
        users_metrics = stack.users.metrics_url().unwrap_or_default(),
        tasks_metrics = stack.tasks.metrics_url().unwrap_or_default(),
        data = match &config.database_url {
            Some(url) => kub_postgres::DatabaseUrl::parse(url)?.to_string(),
            None => config.data_dir.display().to_string(),
        },
    );
    shutdown_signal().await;
    stack.stop().await?;
    page.stop().await?;
    Ok(())
}
