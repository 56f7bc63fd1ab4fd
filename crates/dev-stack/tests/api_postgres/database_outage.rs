//! PostgreSQL stopped under running services: clear 503s in time and `/readyz` not ready;
//! started again: everything heals without restarting the services. This test has a server
//! of its own, since it stops it.

use std::time::{Duration, Instant};

use crate::support::*;
use dev_stack::{Stack, StackConfig};
use reqwest::StatusCode;
use test_support::postgres::PostgresServer;

/// The server, moved to a blocking thread for `change` (stopping or starting it waits).
async fn with_server(server: PostgresServer, change: fn(&mut PostgresServer)) -> PostgresServer {
    tokio::task::spawn_blocking(move || {
        let mut server = server;
        change(&mut server);
        server
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_database_gives_503_in_time_and_its_return_heals_without_restarts() {
    let server = tokio::task::spawn_blocking(PostgresServer::start)
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut config = StackConfig::ephemeral(data.path().to_owned());
    config.database_url = Some(server.create_database());
    let app = TestStack {
        stack: Stack::start(&config).await.unwrap(),
        config,
        data,
        http: client(),
    };
    let token = app.token_for("outage@test.com").await;
    app.post_task(&token, "before the outage", "x").await;

    let server = with_server(server, PostgresServer::stop).await;
    let started = Instant::now();
    expect_error(
        app.get_tasks(&token, "").await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    let answered_in = started.elapsed();
    assert!(
        answered_in < Duration::from_secs(3),
        "503 after {answered_in:?}"
    );
    expect_error(
        app.post_task(&token, "during", "x").await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    expect_error(
        app.login("outage@test.com", PASSWORD).await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    expect_error(
        app.signup("new@test.com", PASSWORD).await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    for ready in [app.users("/readyz"), app.tasks("/readyz")] {
        expect_error(
            app.http.get(&ready).send().await.unwrap(),
            StatusCode::SERVICE_UNAVAILABLE,
        )
        .await;
    }
    eprintln!("database stopped: GET /tasks answered 503 in {answered_in:?}");

    let _server = with_server(server, PostgresServer::resume).await;
    let resumed = Instant::now();
    while app.get_tasks(&token, "").await.status() != StatusCode::OK {
        assert!(
            resumed.elapsed() < Duration::from_secs(10),
            "not healed after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("database back: healed in {:?}", resumed.elapsed());
    let listed = body(app.get_tasks(&token, "").await).await;
    assert_eq!(
        titles(&listed),
        ["before the outage"],
        "nothing from the outage, nothing lost"
    );
    assert_eq!(
        app.post_task(&token, "after", "x").await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        app.login("outage@test.com", PASSWORD).await.status(),
        StatusCode::OK
    );
    for ready in [app.users("/readyz"), app.tasks("/readyz")] {
        assert_eq!(
            app.http.get(&ready).send().await.unwrap().status(),
            StatusCode::OK
        );
    }
}
