//! `sslmode` against real servers, one with `ssl=on` and a certificate for `localhost` from a
//! CA made here with openssl, one without TLS: what docs/operations.md promises for each mode.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
    time::{Duration, Instant},
};

use kub_postgres::{ConnectError, Database, DatabaseSettings};
use sqlx::migrate::Migrator;
use tempfile::TempDir;
use test_support::postgres::{PostgresServer, shared};

static MIGRATOR: Migrator = sqlx::migrate!("../tasks-api/migrations");

struct Tls {
    folder: TempDir,
    server: PostgresServer,
}

impl Tls {
    fn ca(&self) -> PathBuf {
        self.folder.path().join("ca.crt")
    }
    fn other_ca(&self) -> PathBuf {
        self.folder.path().join("other-ca.crt")
    }
    fn url(&self, host: &str, parameters: &str) -> String {
        let url = self.server.url("postgres").replace("127.0.0.1", host);
        format!("{url}?{parameters}")
    }
}

fn openssl(folder: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(folder)
        .output()
        .expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A CA, a server certificate it signs for `localhost` only (no IP address), and a second CA
/// that signed nothing; a server presenting that certificate.
fn tls_server() -> &'static Tls {
    static TLS: OnceLock<Tls> = OnceLock::new();
    TLS.get_or_init(|| {
        let folder = tempfile::tempdir().unwrap();
        let at = folder.path();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        for ca in ["ca", "other-ca"] {
            let (key, crt, subject) = (
                format!("{ca}.key"),
                format!("{ca}.crt"),
                format!("/CN={ca}"),
            );
            openssl(
                at,
                &[
                    &["req", "-x509"],
                    &ec[..],
                    &[
                        "-keyout", &key, "-out", &crt, "-days", "2", "-subj", &subject,
                    ],
                ]
                .concat(),
            );
        }
        openssl(
            at,
            &[
                &["req", "-new"],
                &ec[..],
                &[
                    "-keyout",
                    "server.key",
                    "-out",
                    "server.csr",
                    "-subj",
                    "/CN=localhost",
                ],
            ]
            .concat(),
        );
        std::fs::write(
            at.join("server.ext"),
            "subjectAltName = DNS:localhost\nbasicConstraints = CA:FALSE\n\
             extendedKeyUsage = serverAuth\n",
        )
        .unwrap();
        openssl(
            at,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.crt",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        );
        Tls {
            server: PostgresServer::start_with_tls(&at.join("server.crt"), &at.join("server.key")),
            folder,
        }
    })
}

async fn connect(url: &str) -> Result<Database, ConnectError> {
    let settings = DatabaseSettings::at(url).unwrap();
    Database::connect(&settings, "tls-test", "tasks", &MIGRATOR).await
}

async fn encrypted(url: &str) -> bool {
    let database = connect(url)
        .await
        .unwrap_or_else(|error| panic!("{url}: {error}"));
    database.is_encrypted().await.unwrap()
}

/// Refused at once (a certificate problem is not retried for a minute as an unreachable
/// server is); the message.
async fn refused(url: &str) -> String {
    let started = Instant::now();
    let error = connect(url)
        .await
        .err()
        .unwrap_or_else(|| panic!("{url} was accepted"));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{url}: {:?}",
        started.elapsed()
    );
    error.to_string()
}

#[tokio::test]
async fn require_and_prefer_encrypt_and_disable_does_not() {
    let tls = tls_server();
    assert!(encrypted(&tls.url("127.0.0.1", "sslmode=require")).await);
    assert!(encrypted(&tls.url("127.0.0.1", "sslmode=prefer")).await);
    assert!(
        encrypted(&tls.server.url("postgres")).await,
        "prefer is the default"
    );
    assert!(!encrypted(&tls.url("127.0.0.1", "sslmode=disable")).await);
}

#[tokio::test]
async fn require_against_a_server_without_tls_is_refused_and_prefer_falls_back() {
    let plain = shared().url("postgres");
    let message = refused(&format!("{plain}?sslmode=require")).await;
    assert!(message.contains("TLS"), "{message}");
    assert!(!encrypted(&format!("{plain}?sslmode=prefer")).await);
}

#[tokio::test]
async fn verify_full_checks_the_ca_and_the_host_name() {
    let tls = tls_server();
    let ca = tls.ca().display().to_string();
    let other = tls.other_ca().display().to_string();
    let verify = |host: &str, mode: &str, ca: &str| {
        tls.url(host, &format!("sslmode={mode}&sslrootcert={ca}"))
    };
    assert!(encrypted(&verify("localhost", "verify-full", &ca)).await);
    let message = refused(&verify("localhost", "verify-full", &other)).await;
    assert!(message.to_lowercase().contains("certificate"), "{message}");
    // The certificate names localhost, not 127.0.0.1. verify-ca should let that pass, but
    // sqlx 0.8.6 with rustls 0.23.46 checks the name for it too (its exemption matches an
    // error variant rustls no longer returns): stricter, never weaker. docs/operations.md says
    // so; if this starts to pass, say it no more.
    let message = refused(&verify("127.0.0.1", "verify-full", &ca)).await;
    assert!(message.contains("not valid for name"), "{message}");
    refused(&verify("127.0.0.1", "verify-ca", &ca)).await;
    // Without the CA the certificate is no one's the driver trusts (Mozilla's roots).
    refused(&tls.url("localhost", "sslmode=verify-full")).await;
    // As libpq does, `require` with a root certificate checks it (here: the wrong CA).
    refused(&verify("localhost", "require", &other)).await;
}
