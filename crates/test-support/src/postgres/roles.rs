//! The services' roles on a test server, made by production's own script.

use std::{
    fs,
    io::Read,
    process::Command,
    sync::{Mutex, PoisonError},
};

use super::PostgresServer;

/// The database's initialisation script that makes one role per service (production's own).
const SERVICE_ROLES_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../scripts/postgres-service-roles.sh"
);

/// A database as production has it: the services' roles own their schemas.
pub struct ServiceDatabase {
    pub name: String,
    /// users-api's `DATABASE_URL`: role `users_api`, with its password.
    pub users_url: String,
    /// tasks-api's `DATABASE_URL`: role `tasks_api`, with its password.
    pub tasks_url: String,
}

impl PostgresServer {
    /// A new database whose services' roles own their schemas (see [`Self::run_service_roles`]).
    pub fn create_service_database(&self) -> ServiceDatabase {
        let url = self.create_database();
        self.run_service_roles(url.rsplit('/').next().expect("a database name"))
    }

    /// Makes the services' roles in `database` as the postgres image's first start makes them:
    /// `scripts/postgres-service-roles.sh`, as the superuser. Roles belong to the whole
    /// server, so every such database shares `users_api` and `tasks_api`.
    pub fn run_service_roles(&self, database: &str) -> ServiceDatabase {
        // Two scripts at once would race to create the same role.
        static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
        let mut path = std::ffi::OsString::from(self.bin.as_os_str());
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_default());
        let output = Command::new("bash")
            .arg(SERVICE_ROLES_SCRIPT)
            .env("PATH", path)
            .env("PGHOST", "127.0.0.1")
            .env("PGPORT", self.port.to_string())
            .env("POSTGRES_USER", "postgres")
            .env("POSTGRES_DB", database)
            .env("USERS_DB_PASSWORD", &self.users_password)
            .env("TASKS_DB_PASSWORD", &self.tasks_password)
            .output()
            .expect("bash runs");
        assert!(
            output.status.success(),
            "{SERVICE_ROLES_SCRIPT}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let role_url = |role: &str, password: &str| {
            format!(
                "postgres://{role}:{password}@127.0.0.1:{}/{database}",
                self.port
            )
        };
        ServiceDatabase {
            name: database.to_owned(),
            users_url: role_url("users_api", &self.users_password),
            tasks_url: role_url("tasks_api", &self.tasks_password),
        }
    }
}

/// 24 random bytes, hex: URL-safe, as the README's `openssl rand -hex 24`.
pub(super) fn random_password() -> String {
    let mut bytes = [0u8; 24];
    fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .expect("the OS random source");
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
