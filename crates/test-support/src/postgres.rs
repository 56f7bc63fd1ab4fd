//! A real PostgreSQL server for the tests, never a mock: `initdb` into a temporary folder,
//! `postgres` on a free loopback port, a new database per test (a few seconds per server).
//!
//! The server binaries are found through `PG_BINDIR`, `pg_config --bindir`, or Debian's
//! `/usr/lib/postgresql/<version>/bin` (package `postgresql`). PostgreSQL refuses to run as
//! root, so under root the server runs as `nobody`.
//!
//! The superuser `postgres` connects without a password (the tests' own psql and URLs); every
//! other role needs its password, as in production. [`PostgresServer::create_service_database`]
//! makes the services' roles with production's own script, `scripts/postgres-service-roles.sh`.

use std::{
    fs,
    os::unix::{
        fs::{MetadataExt, PermissionsExt, chown},
        process::CommandExt,
    },
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        OnceLock,
        atomic::{AtomicU32, Ordering},
    },
    thread::sleep,
    time::{Duration, Instant},
};

use tempfile::TempDir;

use crate::process::free_port;

mod roles;

pub use roles::ServiceDatabase;
use roles::random_password;

/// The uid/gid of `nobody` on Debian.
const NOBODY: u32 = 65534;

/// Who may connect, as the postgres image's `host all all all scram-sha-256`, but for the
/// tests' superuser.
const PG_HBA: &str = "\
host all postgres 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
";

pub struct PostgresServer {
    bin: PathBuf,
    port: u16,
    folder: TempDir,
    /// `-c name=value` settings beyond the defaults ([`Self::start_with_tls`]).
    settings: Vec<String>,
    /// The services' roles' passwords, made at random per server.
    users_password: String,
    tasks_password: String,
    process: Option<Child>,
    watchdog: Option<Child>,
}

impl PostgresServer {
    /// A new server, ready for connections.
    pub fn start() -> Self {
        Self::start_with(Vec::new(), |_| {})
    }

    /// A new server with `ssl=on`, presenting `certificate` (PEM, its chain included) with
    /// `key`. Plain connections are still accepted, as by default.
    pub fn start_with_tls(certificate: &Path, key: &Path) -> Self {
        let settings = [
            "ssl=on",
            "ssl_cert_file=server.crt",
            "ssl_key_file=server.key",
        ];
        Self::start_with(settings.map(str::to_owned).to_vec(), |data| {
            for (from, to) in [(certificate, "server.crt"), (key, "server.key")] {
                let to = data.join(to);
                fs::copy(from, &to).expect("copy the certificate");
                // The server refuses a key others may read.
                fs::set_permissions(&to, fs::Permissions::from_mode(0o600)).expect("chmod");
                if running_as_root() {
                    chown(&to, Some(NOBODY), Some(NOBODY)).expect("chown the certificate");
                }
            }
        })
    }

    fn start_with(settings: Vec<String>, prepare: impl FnOnce(&Path)) -> Self {
        let bin = bin_dir();
        let folder = tempfile::Builder::new()
            .prefix("kub-postgres-")
            .tempdir()
            .expect("a temporary folder");
        if running_as_root() {
            chown(folder.path(), Some(NOBODY), Some(NOBODY)).expect("chown to nobody");
        }
        let initdb = as_server_user(Command::new(bin.join("initdb")))
            .args([
                "--auth=trust",
                "--username=postgres",
                "--no-sync",
                "--no-instructions",
            ])
            .arg("--pgdata")
            .arg(folder.path().join("data"))
            .output()
            .expect("initdb runs");
        assert!(
            initdb.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        let data = folder.path().join("data");
        fs::write(data.join("pg_hba.conf"), PG_HBA).expect("write pg_hba.conf");
        prepare(&data);
        let mut server = Self {
            bin,
            port: free_port(),
            folder,
            settings,
            users_password: random_password(),
            tasks_password: random_password(),
            process: None,
            watchdog: None,
        };
        server.resume();
        server
    }

    /// Starts the stopped server again, on the same port with the same data.
    pub fn resume(&mut self) {
        assert!(self.process.is_none(), "the server is running");
        let log = fs::File::create(self.log_path()).expect("the server log");
        if running_as_root() {
            chown(self.log_path(), Some(NOBODY), Some(NOBODY)).expect("chown the log");
        }
        let child = as_server_user(Command::new(self.bin.join("postgres")))
            .arg("-D")
            .arg(self.folder.path().join("data"))
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "unix_socket_directories="])
            .args(["-c", "max_connections=300"])
            // The tests kill services, never the server: its own crash safety is not theirs
            // to prove, and fsync on every commit would only slow them down.
            .args(["-c", "fsync=off"])
            .args(self.settings.iter().flat_map(|setting| ["-c", setting]))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log"))
            .stderr(log)
            .spawn()
            .expect("postgres starts");
        self.watchdog = Some(watch_over(child.id(), self.folder.path()));
        self.process = Some(child);
        self.wait_until_ready();
    }

    /// Fast shutdown (SIGINT: clients are disconnected, nothing committed is lost); returns
    /// when the server has exited and its port is closed.
    pub fn stop(&mut self) {
        let mut child = self.process.take().expect("the server is running");
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        child.wait().expect("postgres exits");
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.wait();
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL to `database` on this server.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A new, empty database; its URL.
    pub fn create_database(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(1);
        let name = format!(
            "test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    /// Runs `sql` in `database` with psql; returns the rows, one line each (columns joined
    /// by `|`).
    pub fn psql(&self, database: &str, sql: &str) -> Vec<String> {
        let output = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
            .output()
            .expect("psql runs");
        assert!(
            output.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .is_ok_and(|status| status.success());
            if ready {
                return;
            }
            let exited = self
                .process
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten());
            if exited.is_some() {
                break;
            }
            sleep(Duration::from_millis(50));
        }
        panic!(
            "postgres did not start: {}",
            fs::read_to_string(self.log_path()).unwrap_or_default()
        );
    }

    fn log_path(&self) -> PathBuf {
        self.folder.path().join("server.log")
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        if self.process.is_some() {
            self.stop();
        }
    }
}

/// One server for the whole test binary (each test takes its own database with
/// [`fresh_database`]); it stops when the test binary exits.
pub fn shared() -> &'static PostgresServer {
    static SERVER: OnceLock<PostgresServer> = OnceLock::new();
    SERVER.get_or_init(PostgresServer::start)
}

/// A new database on the [`shared`] server; its URL.
pub fn fresh_database() -> String {
    shared().create_database()
}

/// A static is never dropped: a small shell watches this test process and stops the server
/// (and removes its folder) once the process is gone, however it ended. It ends by itself
/// when the server stops first.
fn watch_over(server_pid: u32, folder: &Path) -> Child {
    let script = r#"while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done
kill -0 "$1" 2>/dev/null && exit 0
kill -INT "$2" 2>/dev/null; sleep 3; kill -KILL "$2" 2>/dev/null; rm -rf "$3""#;
    Command::new("sh")
        .args(["-c", script, "watchdog"])
        .arg(std::process::id().to_string())
        .arg(server_pid.to_string())
        .arg(folder)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the watchdog starts")
}

fn running_as_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|proc| proc.uid() == 0)
}

fn as_server_user(mut command: Command) -> Command {
    if running_as_root() {
        command.uid(NOBODY).gid(NOBODY);
    }
    command
}

fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PG_BINDIR") {
        return dir.into();
    }
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    let debian = fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|versions| {
            versions
                .filter_map(Result::ok)
                .map(|version| version.path().join("bin"))
                .filter(|bin| bin.join("postgres").exists())
                .max()
        });
    from_pg_config
        .filter(|bin| bin.join("postgres").exists())
        .or(debian)
        .expect(
            "PostgreSQL's server binaries were not found: install Debian's `postgresql` package \
             or set PG_BINDIR",
        )
}
