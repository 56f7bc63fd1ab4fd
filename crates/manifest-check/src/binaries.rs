//! The three binaries as containers see them: image, port, the variables each reads.

/// One binary of the workspace, as a container of a Pod sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binary {
    /// The binary's (and crate's) name: `crates/<name>/`.
    pub name: &'static str,
    /// The image the manifests run it from (`Dockerfile.<x>` builds `kub-network-<x>:latest`).
    pub image: &'static str,
    /// The port it listens on when `PORT` is unset (`DEFAULT_PORT` in its lib.rs).
    pub default_port: u16,
    /// Every environment variable it reads. Each must appear as a string literal in
    /// `crates/<name>/src` or `crates/kub-common/src`; `tests/env_lists.rs` checks both ways.
    pub reads: &'static [&'static str],
    /// The variable naming its store's folder, if it has a store.
    pub folder_var: Option<&'static str>,
    /// Whether it calls auth (and so needs `AUTH_ADDRESS` or the injected `AUTH_SERVICE_*`).
    pub calls_auth: bool,
}

/// Read by all three: `kub_common::config::listen_port` (PORT), `PodIdentity::from_env`
/// (POD_*, NODE_NAME), `kub_common::telemetry::init` (RUST_LOG, LOG_FORMAT) and
/// `kub_common::config::shutdown_delay` (SHUTDOWN_DELAY).
const COMMON_VARS: [&str; 8] = [
    "PORT",
    "SHUTDOWN_DELAY",
    "LOG_FORMAT",
    "RUST_LOG",
    "POD_NAME",
    "POD_NAMESPACE",
    "POD_IP",
    "NODE_NAME",
];

/// auth-api: `auth_api::Config::from_env` (crates/auth-api/src/lib.rs) plus [`COMMON_VARS`].
const AUTH_VARS: &[&str] = &[
    COMMON_VARS[0],
    COMMON_VARS[1],
    COMMON_VARS[2],
    COMMON_VARS[3],
    COMMON_VARS[4],
    COMMON_VARS[5],
    COMMON_VARS[6],
    COMMON_VARS[7],
    "JWT_SECRET",
    "TOKEN_TTL",
];
/// users-api: `users_api::config_from_env` (USERS_FOLDER) and
/// `kub_common::config::resolve_auth_address` (AUTH_*), plus [`COMMON_VARS`].
const USERS_VARS: &[&str] = &[
    COMMON_VARS[0],
    COMMON_VARS[1],
    COMMON_VARS[2],
    COMMON_VARS[3],
    COMMON_VARS[4],
    COMMON_VARS[5],
    COMMON_VARS[6],
    COMMON_VARS[7],
    "USERS_FOLDER",
    "AUTH_ADDRESS",
    "AUTH_SERVICE_SERVICE_HOST",
    "AUTH_SERVICE_SERVICE_PORT",
];
/// tasks-api: `tasks_api::config_from_env` (TASKS_FOLDER) and
/// `kub_common::config::resolve_auth_address` (AUTH_*), plus [`COMMON_VARS`].
const TASKS_VARS: &[&str] = &[
    COMMON_VARS[0],
    COMMON_VARS[1],
    COMMON_VARS[2],
    COMMON_VARS[3],
    COMMON_VARS[4],
    COMMON_VARS[5],
    COMMON_VARS[6],
    COMMON_VARS[7],
    "TASKS_FOLDER",
    "AUTH_ADDRESS",
    "AUTH_SERVICE_SERVICE_HOST",
    "AUTH_SERVICE_SERVICE_PORT",
];

pub const BINARIES: [Binary; 3] = [
    Binary {
        name: "auth-api",
        image: "kub-network-auth:latest",
        default_port: auth_api::DEFAULT_PORT,
        reads: AUTH_VARS,
        folder_var: None,
        calls_auth: false,
    },
    Binary {
        name: "users-api",
        image: "kub-network-users:latest",
        default_port: users_api::DEFAULT_PORT,
        reads: USERS_VARS,
        folder_var: Some("USERS_FOLDER"),
        calls_auth: true,
    },
    Binary {
        name: "tasks-api",
        image: "kub-network-tasks:latest",
        default_port: tasks_api::DEFAULT_PORT,
        reads: TASKS_VARS,
        folder_var: Some("TASKS_FOLDER"),
        calls_auth: true,
    },
];

/// The name of the Service whose injected `<NAME>_SERVICE_HOST/_PORT` users and tasks read.
pub const AUTH_SERVICE_NAME: &str = "auth-service";

pub fn binary_for_image(image: &str) -> Option<&'static Binary> {
    BINARIES.iter().find(|binary| binary.image == image)
}
