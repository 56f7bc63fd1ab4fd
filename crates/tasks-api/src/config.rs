//! tasks-api's settings: each a flag with its environment variable (`tasks-api --help`).

use std::path::PathBuf;

use clap::Parser;
use kub_http::settings::{Command, ServeSettings, parse_port};
use kub_public::auth_address::AuthAddressSettings;

use crate::{DEFAULT_FOLDER, DEFAULT_PORT};

/// tasks-api: the lesson's GET /tasks and POST /tasks. Every request carries a bearer token
/// that auth-api verifies; each user sees only their own tasks.
#[derive(Debug, Clone, Parser)]
#[command(name = "tasks-api", version)]
pub struct Config {
    /// Port to listen on, on all interfaces.
    #[arg(long, env = "PORT", default_value_t = DEFAULT_PORT, value_parser = parse_port)]
    pub port: u16,
    /// Folder of tasks.jsonl, created if missing (relative to the working directory).
    #[arg(long = "tasks-folder", env = "TASKS_FOLDER", default_value = DEFAULT_FOLDER)]
    pub folder: PathBuf,
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
            auth: AuthAddressSettings::at(auth_address),
            serve: ServeSettings::default(),
            command: None,
        }
    }
}
