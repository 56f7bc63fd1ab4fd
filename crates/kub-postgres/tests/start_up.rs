//! Start-up against a real PostgreSQL server: replicas that start together migrate once, a
//! database that is still starting is waited for, and wrong settings fail at once.

use std::{
    fs,
    time::{Duration, Instant},
};

use kub_postgres::{ConnectError, Database, DatabaseSettings};
use sqlx::migrate::Migrator;
use test_support::postgres::{PostgresServer, shared};

/// A migrator whose one migration creates a table, leaked as services keep theirs in a static.
async fn migrator() -> &'static Migrator {
    let folder = tempfile::tempdir().unwrap();
    fs::write(
        folder.path().join("0001_create_things.sql"),
        "CREATE TABLE things (id bigint PRIMARY KEY);",
    )
    .unwrap();
    let migrator = Migrator::new(folder.path()).await.unwrap();
    Box::leak(Box::new(migrator))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_create_the_schema_and_migrate_once() {
    let server = shared();
    let url = server.create_database();
    let settings = DatabaseSettings::at(&url).unwrap();
    let migrator = migrator().await;
    let starting: Vec<_> = (0..6)
        .map(|_| {
            let settings = settings.clone();
            tokio::spawn(async move {
                Database::connect(&settings, "replica", "things", migrator).await
            })
        })
        .collect();
    for replica in starting {
        let database = replica.await.unwrap().expect("every replica starts");
        database.readiness().await.unwrap();
    }
    let database = url.rsplit('/').next().unwrap();
    let applied = server.psql(database, "SELECT version FROM things._sqlx_migrations");
    assert_eq!(applied, ["1"], "one migration, applied once");
    let tables = server.psql(
        database,
        "SELECT table_schema || '.' || table_name FROM information_schema.tables \
         WHERE table_name = 'things'",
    );
    assert_eq!(tables, ["things.things"], "in the service's own schema");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_still_starting_is_waited_for() {
    let mut server = tokio::task::spawn_blocking(PostgresServer::start)
        .await
        .unwrap();
    let settings = DatabaseSettings::at(&server.create_database()).unwrap();
    server = tokio::task::spawn_blocking(move || {
        server.stop();
        server
    })
    .await
    .unwrap();
    let migrator = migrator().await;
    let started = Instant::now();
    let connecting =
        tokio::spawn(
            async move { Database::connect(&settings, "early", "things", migrator).await },
        );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!connecting.is_finished(), "still waiting for the database");
    let _server = tokio::task::spawn_blocking(move || {
        server.resume();
        server
    })
    .await
    .unwrap();
    let database = connecting
        .await
        .unwrap()
        .expect("connected once the database was up");
    database.readiness().await.unwrap();
    eprintln!("waited {:?} for the database", started.elapsed());
}

#[tokio::test]
async fn wrong_settings_fail_at_once_without_showing_the_password() {
    let server = shared();
    let missing = format!(
        "postgres://postgres:hunter2@127.0.0.1:{}/no_such_database",
        server.port()
    );
    let settings = DatabaseSettings::at(&missing).unwrap();
    let started = Instant::now();
    let error = Database::connect(&settings, "wrong", "things", migrator().await)
        .await
        .err()
        .expect("no such database");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(error, ConnectError::Unusable { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("no_such_database"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}
