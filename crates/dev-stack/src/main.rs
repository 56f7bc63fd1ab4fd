//! `cargo run -p dev-stack`: auth, users and tasks on loopback with a generated secret and
//! a temporary data folder (or `DEV_STACK_DATA`, kept between runs).

use std::{net::Ipv4Addr, process::ExitCode};

use dev_stack::{Stack, StackConfig, generate_secret};
use kub_common::config::{port_var, process_env, read};

const USERS_PORT: u16 = 8080;
const TASKS_PORT: u16 = 8000;
const AUTH_PORT: u16 = 8081;

#[tokio::main]
async fn main() -> ExitCode {
    kub_common::telemetry::init(&process_env);
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("dev-stack: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), dev_stack::BoxError> {
    let env = &process_env;
    let temporary = tempfile::tempdir()?;
    let data_dir =
        read(env, "DEV_STACK_DATA").map_or_else(|| temporary.path().to_owned(), Into::into);
    let config = StackConfig {
        ip: Ipv4Addr::LOCALHOST.into(),
        auth_port: port_var(env, "AUTH_PORT", AUTH_PORT)?,
        users_port: port_var(env, "USERS_PORT", USERS_PORT)?,
        tasks_port: port_var(env, "TASKS_PORT", TASKS_PORT)?,
        data_dir,
        jwt_secret: read(env, "JWT_SECRET").unwrap_or_else(generate_secret),
        token_ttl: auth_api::DEFAULT_TOKEN_TTL,
    };
    let stack = Stack::start(&config).await?;
    let (users, tasks) = (stack.users.url(), stack.tasks.url());
    println!(
        r#"
kub-network dev stack (Ctrl-C to stop)
  auth-api   {auth}  (internal; users and tasks reach it through AUTH_ADDRESS={auth_addr})
  users-api  {users}
  tasks-api  {tasks}
  data       {data}

Try:
  curl -i -X POST {users}/signup -H 'Content-Type: application/json' -d '{{"email":"test@test.com","password":"testers"}}'
  TOKEN=$(curl -s -X POST {users}/login -H 'Content-Type: application/json' -d '{{"email":"test@test.com","password":"testers"}}' | sed -E 's/.*"token":"([^"]+)".*/\1/')
  curl -i -X POST {tasks}/tasks -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{{"title":"A dummy task","text":"Do it!"}}'
  curl -i {tasks}/tasks -H "Authorization: Bearer $TOKEN"
"#,
        auth = stack.auth.url(),
        auth_addr = stack.auth.addr,
        data = config.data_dir.display(),
    );
    kub_common::server::shutdown_signal().await;
    stack.stop().await?;
    Ok(())
}
