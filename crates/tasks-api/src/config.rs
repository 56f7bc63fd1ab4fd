//! tasks-api's settings: each a flag with its environment variable (`tasks-api --help`).

use std::{path::PathBuf, str::FromStr};

use clap::Parser;
use kub_http::settings::{Command, ServeSettings, parse_byte_size, parse_port};
use kub_postgres::DatabaseSettings;
use kub_public::{
    auth_address::{AuthAddressSettings, Caller},
    cors::CorsSettings,
    network::NetworkSettings,
};

use crate::{
    DEFAULT_FOLDER, DEFAULT_MAX_BYTES_PER_USER, DEFAULT_MAX_TASKS_PER_USER, DEFAULT_PORT,
    DEFAULT_TASK_LIMIT_PER_USER, throttle::RateLimit,
};

/// tasks-api: the lesson's GET /tasks and POST /tasks. Every request carries a bearer token
/// that auth-api verifies; each user sees only their own tasks.
#[derive(Debug, Clone, Parser)]
#[command(name = "tasks-api", version)]
pub struct Config {
    /// Port to listen on, on all interfaces.
    #[arg(long, env = "PORT", default_value_t = DEFAULT_PORT, value_parser = parse_port)]
    pub port: u16,
    /// Folder of tasks.jsonl, created if missing (relative to the working directory); unused
    /// when `DATABASE_URL` is set.
    #[arg(long = "tasks-folder", env = "TASKS_FOLDER", default_value = DEFAULT_FOLDER)]
    pub folder: PathBuf,
    /// Most bytes tasks.jsonl may grow to; a task that would pass it is refused with 507 and
    /// reads go on. Set it under the volume's limit (`200Mi`, `1Gi`, bytes); unset: no budget.
    #[arg(long, env = "STORE_BUDGET", value_parser = parse_byte_size)]
    pub store_budget: Option<u64>,
    /// Most tasks one user may store; more are refused with 409.
    #[arg(long, env = "MAX_TASKS_PER_USER", default_value_t = DEFAULT_MAX_TASKS_PER_USER,
        value_parser = clap::value_parser!(u64).range(1..))]
    pub max_tasks_per_user: u64,
    /// Most bytes one user's tasks may take as stored (a task's line in tasks.jsonl, JSON
    /// escaping included; the same count in PostgreSQL); a task past it is refused with 409.
    #[arg(long, env = "MAX_BYTES_PER_USER", default_value = DEFAULT_MAX_BYTES_PER_USER,
        value_parser = parse_byte_size)]
    pub max_bytes_per_user: u64,
    /// `POST /tasks` per user: `<count>/<s|min|h>` (a burst of `count`, then one every
    /// `period/count`) or `off`; over it: 429 with `Retry-After`.
    #[arg(long = "task-limit-per-user", env = "TASK_LIMIT_PER_USER", default_value = DEFAULT_TASK_LIMIT_PER_USER,
        value_parser = RateLimit::from_str)]
    pub task_limit_per_user: RateLimit,
    #[command(flatten)]
    pub database: DatabaseSettings,
    #[command(flatten)]
    pub cors: CorsSettings,
    #[command(flatten)]
    pub network: NetworkSettings,
    #[command(flatten)]
    pub auth: AuthAddressSettings,
    #[command(flatten)]
    pub serve: ServeSettings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Config {
    /// Auth at `auth_address` (as `AUTH_ADDRESS`), tasks in `folder`, defaults otherwise:
    /// how dev-stack and the tests run tasks-api.
    pub fn wired(auth_address: &str, folder: PathBuf) -> Self {
        Self {
            port: DEFAULT_PORT,
            folder,
            store_budget: None,
            max_tasks_per_user: DEFAULT_MAX_TASKS_PER_USER,
            max_bytes_per_user: parse_byte_size(DEFAULT_MAX_BYTES_PER_USER)
                .expect("a valid default"),
            task_limit_per_user: DEFAULT_TASK_LIMIT_PER_USER
                .parse()
                .expect("a valid default"),
            database: DatabaseSettings::default(),
            cors: CorsSettings::default(),
            network: NetworkSettings::default(),
            auth: AuthAddressSettings::at(auth_address, Caller::TasksApi),
            serve: ServeSettings::default(),
            command: None,
        }
    }
}
