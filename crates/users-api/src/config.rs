//! users-api's settings: each a flag with its environment variable (`users-api --help`).

use std::path::PathBuf;

use clap::Parser;
use kub_http::settings::{Command, ServeSettings, parse_byte_size, parse_count, parse_port};
use kub_postgres::DatabaseSettings;
use kub_public::{
    auth_address::{AuthAddressSettings, Caller},
    cors::CorsSettings,
    network::NetworkSettings,
};

use crate::{
    DEFAULT_FOLDER, DEFAULT_PORT,
    client_address::{TrustedProxy, parse_trusted_proxy},
    throttle::RateLimitSettings,
};

pub const DEFAULT_MIN_PASSWORD_LENGTH: usize = 6;

/// users-api: the lesson's POST /signup and POST /login. Passwords are hashed and checked by
/// auth-api; users are kept in an append-only file, or in PostgreSQL with DATABASE_URL.
#[derive(Debug, Clone, Parser)]
#[command(name = "users-api", version)]
pub struct Config {
    /// Port to listen on, on all interfaces.
    #[arg(long, env = "PORT", default_value_t = DEFAULT_PORT, value_parser = parse_port)]
    pub port: u16,
    /// Folder of users.jsonl, created if missing (relative to the working directory); unused
    /// when `DATABASE_URL` is set.
    #[arg(long = "users-folder", env = "USERS_FOLDER", default_value = DEFAULT_FOLDER)]
    pub folder: PathBuf,
    /// Most bytes users.jsonl may grow to; a signup that would pass it is refused with 507 and
    /// logins go on. Set it under the volume's limit (`200Mi`, `1Gi`, bytes); unset: no budget.
    #[arg(long, env = "STORE_BUDGET", value_parser = parse_byte_size)]
    pub store_budget: Option<u64>,
    /// Shortest password a signup accepts, in characters (the lesson's example `tester` has
    /// 6). Logins are never refused for it: older accounts keep working.
    #[arg(long, env = "MIN_PASSWORD_LENGTH", default_value_t = DEFAULT_MIN_PASSWORD_LENGTH, value_parser = parse_count)]
    pub min_password_length: usize,
    #[command(flatten)]
    pub rate_limits: RateLimitSettings,
    /// Proxies whose `X-Forwarded-For` names the client, comma-separated CIDR ranges, addresses
    /// or host names (`10.0.0.0/8,192.168.1.1,frontend`; a name is resolved at start-up and
    /// every 10 s); unset: the TCP peer is the client.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_trusted_proxy)]
    pub trusted_proxies: Vec<TrustedProxy>,
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
    /// Auth at `auth_address` (as `AUTH_ADDRESS`), users in `folder`, defaults otherwise:
    /// how dev-stack and the tests run users-api.
    pub fn wired(auth_address: &str, folder: PathBuf) -> Self {
        Self {
            port: DEFAULT_PORT,
            folder,
            store_budget: None,
            min_password_length: DEFAULT_MIN_PASSWORD_LENGTH,
            rate_limits: RateLimitSettings::default(),
            trusted_proxies: Vec::new(),
            database: DatabaseSettings::default(),
            cors: CorsSettings::default(),
            network: NetworkSettings::default(),
            auth: AuthAddressSettings::at(auth_address, Caller::UsersApi),
            serve: ServeSettings::default(),
            command: None,
        }
    }
}
