//! The three binaries as containers see them: image, port, the variables each reads.

use clap::CommandFactory;

/// One binary of the workspace, as a container of a Pod sees it.
#[derive(Debug, Clone, Copy)]
pub struct Binary {
    /// The binary's (and crate's) name: `crates/<name>/`.
    pub name: &'static str,
    /// The image the manifests run it from (`Dockerfile.<x>` builds `kub-network-<x>:latest`).
    pub image: &'static str,
    /// The port it listens on when `PORT` is unset (`DEFAULT_PORT` in its lib.rs).
    pub default_port: u16,
    /// Every environment variable it reads: those of its settings (its clap `Config`).
    pub reads: fn() -> Vec<String>,
    /// The variable naming its store's folder, if it has a store.
    pub folder_var: Option<&'static str>,
    /// Whether it calls auth (and so needs `AUTH_ADDRESS` or the injected `AUTH_SERVICE_*`).
    pub calls_auth: bool,
    /// The variable auth-api reads this caller's key as (the caller sends its [`AUTH_API_KEY`]).
    pub caller_key: Option<&'static str>,
}

pub const BINARIES: [Binary; 3] = [
    Binary {
        name: "auth-api",
        image: "kub-network-auth:latest",
        default_port: auth_api::DEFAULT_PORT,
        reads: || env_names::<auth_api::Config>(),
        folder_var: None,
        calls_auth: false,
        caller_key: None,
    },
    Binary {
        name: "users-api",
        image: "kub-network-users:latest",
        default_port: users_api::DEFAULT_PORT,
        reads: || env_names::<users_api::Config>(),
        folder_var: Some("USERS_FOLDER"),
        calls_auth: true,
        caller_key: Some("USERS_API_KEY"),
    },
    Binary {
        name: "tasks-api",
        image: "kub-network-tasks:latest",
        default_port: tasks_api::DEFAULT_PORT,
        reads: || env_names::<tasks_api::Config>(),
        folder_var: Some("TASKS_FOLDER"),
        calls_auth: true,
        caller_key: Some("TASKS_API_KEY"),
    },
];

/// The key a caller of auth sends it on every call, from a Secret only it and auth are given.
pub const AUTH_API_KEY: &str = "AUTH_API_KEY";

/// The suffix of a variable holding the secret before the current one, during a rotation:
/// `USERS_API_KEY_PREVIOUS`, and the Secret key `AUTH_API_KEY_PREVIOUS` it comes from.
pub const PREVIOUS: &str = "_PREVIOUS";

/// auth-api's signing secret, and the one before it (verifies only) during a rotation.
pub const JWT_SECRETS: (&str, &str) = ("JWT_SECRET", "JWT_PREVIOUS_SECRET");

/// The port of `GET /metrics`, apart from the service's own (`METRICS_PORT`, every binary).
pub const METRICS_PORT: (&str, u16) = ("METRICS_PORT", kub_http::settings::DEFAULT_METRICS_PORT);

/// The namespace label that lets a namespace's Pods (Prometheus) reach `GET /metrics`
/// through the NetworkPolicies: `kubectl label namespace monitoring kub-network/metrics-scraper=true`.
pub const SCRAPER_NAMESPACE_LABEL: (&str, &str) = ("kub-network/metrics-scraper", "true");

/// The variable naming users-api's proxies, whose `X-Forwarded-For` it believes.
pub const TRUSTED_PROXIES: &str = "TRUSTED_PROXIES";

/// The name of the Service whose injected `<NAME>_SERVICE_HOST/_PORT` users and tasks read.
pub const AUTH_SERVICE_NAME: &str = "auth-service";

pub fn binary_for_image(image: &str) -> Option<&'static Binary> {
    BINARIES.iter().find(|binary| binary.image == image)
}

/// The environment variables a binary's settings read, from its clap definition.
pub fn env_names<C: CommandFactory>() -> Vec<String> {
    C::command()
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|env| env.to_string_lossy().into_owned())
        .collect()
}

/// An image the manifests run that is none of the binaries: the frontend's nginx
/// (Dockerfile.frontend), as its configuration (frontend/nginx/) sees its environment.
#[derive(Debug, Clone, Copy)]
pub struct Proxy {
    pub name: &'static str,
    pub image: &'static str,
    /// The port nginx listens on (`listen` in frontend/nginx/default.conf.template).
    pub port: u16,
    /// The path both probes GET: the page.
    pub probe_path: &'static str,
    /// What it proxies to: each variable names `host[:port]` (port 80 when none) of a Service
    /// that must deliver to `binary`; `default` is the image's value (Dockerfile.frontend's ENV).
    pub upstreams: &'static [Upstream],
}

/// One variable of a [`Proxy`] naming where a binary is.
#[derive(Debug, Clone, Copy)]
pub struct Upstream {
    pub var: &'static str,
    pub default: &'static str,
    pub binary: &'static str,
}

/// The tasks page behind nginx: /api/users/ and /api/tasks/ go to users-api and tasks-api.
pub const FRONTEND: Proxy = Proxy {
    name: "frontend",
    image: "kub-network-frontend:latest",
    port: 8080,
    probe_path: "/",
    upstreams: &[
        Upstream {
            var: "USERS_ADDRESS",
            default: "users-service.default:8080",
            binary: "users-api",
        },
        Upstream {
            var: "TASKS_ADDRESS",
            default: "tasks-service.default:8000",
            binary: "tasks-api",
        },
    ],
};

pub const PROXIES: [Proxy; 1] = [FRONTEND];

pub fn proxy_for_image(image: &str) -> Option<&'static Proxy> {
    PROXIES.iter().find(|proxy| proxy.image == image)
}

/// A database image the manifests run beside the binaries (stage 5 on), as its clients and the
/// checks see it.
#[derive(Debug, Clone, Copy)]
pub struct Database {
    pub name: &'static str,
    pub image: &'static str,
    /// The port it listens on.
    pub port: u16,
    /// The variables its entrypoint reads.
    pub reads: &'static [&'static str],
    /// The variable naming the user its first start creates, and that user when unset.
    pub user_var: (&'static str, &'static str),
    /// The variable naming the database its first start creates (the user's name when unset).
    pub database_var: &'static str,
    /// The variable holding that user's password.
    pub password_var: &'static str,
    /// The variable naming its data folder, and that folder when unset.
    pub data_var: (&'static str, &'static str),
    /// The URL schemes of its clients' `DATABASE_URL`.
    pub schemes: &'static [&'static str],
}

/// Docker's official PostgreSQL image, as `docker-entrypoint.sh` reads its environment.
pub const POSTGRES: Database = Database {
    name: "postgres",
    image: "postgres:15-bookworm",
    port: 5432,
    reads: &[
        "POSTGRES_USER",
        "POSTGRES_PASSWORD",
        "POSTGRES_PASSWORD_FILE",
        "POSTGRES_DB",
        "POSTGRES_INITDB_ARGS",
        "POSTGRES_HOST_AUTH_METHOD",
        "PGDATA",
        // Read by the role script its first start runs (scripts/postgres-service-roles.sh).
        "USERS_DB_PASSWORD",
        "TASKS_DB_PASSWORD",
    ],
    user_var: ("POSTGRES_USER", "postgres"),
    database_var: "POSTGRES_DB",
    password_var: "POSTGRES_PASSWORD",
    data_var: ("PGDATA", "/var/lib/postgresql/data"),
    schemes: &["postgres://", "postgresql://"],
};

pub const DATABASES: [Database; 1] = [POSTGRES];

/// The variable users-api and tasks-api read their database from; unset, they keep files.
pub const DATABASE_URL: &str = "DATABASE_URL";

pub fn database_for_image(image: &str) -> Option<&'static Database> {
    DATABASES.iter().find(|database| database.image == image)
}

/// A Gateway API implementation the manifests may run (stage 7's edge): an image none of ours,
/// which listens on the ports of its entry points and connects where the HTTPRoutes send it.
#[derive(Debug, Clone, Copy)]
pub struct GatewayImplementation {
    pub name: &'static str,
    /// The image's repository; any tag (the manifests pin one).
    pub repository: &'static str,
    /// The `controllerName` of the GatewayClasses it serves.
    pub controller_name: &'static str,
    /// How its arguments declare a listening port: `<prefix><name>.address=:<port>`
    /// (case-insensitive, as Traefik reads its flags).
    pub entry_point_prefix: &'static str,
}

/// Traefik 3 with its Kubernetes Gateway provider.
pub const TRAEFIK: GatewayImplementation = GatewayImplementation {
    name: "traefik",
    repository: "traefik",
    controller_name: "traefik.io/gateway-controller",
    entry_point_prefix: "--entrypoints.",
};

pub const GATEWAY_IMPLEMENTATIONS: [GatewayImplementation; 1] = [TRAEFIK];

pub fn gateway_for_image(image: &str) -> Option<&'static GatewayImplementation> {
    let repository = image
        .rsplit_once(':')
        .map_or(image, |(repository, _)| repository);
    GATEWAY_IMPLEMENTATIONS
        .iter()
        .find(|gateway| repository == gateway.repository)
}

/// The ports of the Kubernetes API server a Gateway implementation may call (it watches the
/// routes there): 443 (managed clusters), 6443 (kubeadm, the test bed), 8443 (minikube). The
/// API server is no Pod, so a NetworkPolicy can name it only by port or by address.
pub const API_SERVER_PORTS: [u16; 3] = [443, 6443, 8443];
