//! What is stored survives restarts, and a crash's torn line does not stop a restart.

use std::{fs, future::Future, io::Write, net::SocketAddr, time::Duration};

use crate::support::*;
use dev_stack::{start_tasks, start_users};
use kub_http::serve::RunningServer;
use kub_store::StoreError;
use reqwest::StatusCode;

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A stopped service's store lets go of its file lock when its writer thread ends, a moment
/// after `stop` returns; a restart in the same process retries until then.
async fn restart<F: Future<Output = Result<RunningServer, dev_stack::BoxError>>>(
    start: impl Fn() -> F,
) -> RunningServer {
    for _ in 0..200 {
        match start().await {
            Ok(server) => return server,
            Err(error) if matches!(error.downcast_ref(), Some(StoreError::Locked(_))) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(error) => panic!("{error}"),
        }
    }
    panic!("the store stayed locked after its service stopped");
}

#[tokio::test]
async fn restarting_users_and_tasks_on_the_same_folders_keeps_everything() {
    let app = spawn_stack().await;
    let token = app.token_for("test@test.com").await;
    app.post_task(&token, "survives", "restarts").await;

    let dev_stack::Stack { auth, users, tasks } = app.stack;
    users.stop().await.unwrap();
    tasks.stop().await.unwrap();
    let auth_address = auth.addr.to_string();
    let users =
        restart(|| start_users(loopback(), &auth_address, app.data.path().join("users"))).await;
    let tasks =
        restart(|| start_tasks(loopback(), &auth_address, app.data.path().join("tasks"))).await;
    let app = TestStack {
        stack: dev_stack::Stack { auth, users, tasks },
        ..app
    };

    let response = app.login("test@test.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK, "the user is still there");
    expect_error(
        app.signup("test@test.com", PASSWORD).await,
        StatusCode::CONFLICT,
    )
    .await;
    let listed = body(app.get_tasks(&token, "").await).await;
    assert_eq!(titles(&listed), ["survives"]);
    let next = body(app.post_task(&token, "after restart", "x").await).await;
    assert_eq!(next["createdTask"]["id"], 2, "ids continue after a restart");
}

#[tokio::test]
async fn a_torn_last_line_is_dropped_and_the_service_starts() {
    let app = spawn_stack().await;
    let token = app.token_for("test@test.com").await;
    app.post_task(&token, "whole", "x").await;
    let dev_stack::Stack { auth, users, tasks } = app.stack;
    tasks.stop().await.unwrap();

    let file = app.data.path().join("tasks/tasks.jsonl");
    fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap()
        .write_all(b"{\"id\":2,\"owner\":\"x\",\"title\":\"tor")
        .unwrap();

    let auth_address = auth.addr.to_string();
    let tasks =
        restart(|| start_tasks(loopback(), &auth_address, app.data.path().join("tasks"))).await;
    let app = TestStack {
        stack: dev_stack::Stack { auth, users, tasks },
        ..app
    };
    assert_eq!(
        titles(&body(app.get_tasks(&token, "").await).await),
        ["whole"]
    );
    assert_eq!(
        app.post_task(&token, "next", "x").await.status(),
        StatusCode::CREATED
    );
    let content = fs::read_to_string(&file).unwrap();
    assert!(content.ends_with('\n'));
    for line in content.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|_| panic!("damaged line {line:?}"));
    }
    assert_eq!(content.lines().count(), 2);
}

#[tokio::test]
async fn damage_in_the_middle_of_the_file_stops_start_up_with_the_line_number() {
    let folder = tempfile::tempdir().unwrap();
    fs::write(
        folder.path().join("tasks.jsonl"),
        "{\"id\":1,\"owner\":\"u\",\"title\":\"a\",\"text\":\"b\",\"createdAt\":\"x\"}\nnot json\n{\"id\":3,\"owner\":\"u\",\"title\":\"a\",\"text\":\"b\",\"createdAt\":\"x\"}\n",
    )
    .unwrap();
    let error = start_tasks(loopback(), "127.0.0.1:9", folder.path().to_owned())
        .await
        .err()
        .expect("a damaged store must not be served");
    assert!(error.to_string().contains("line 2"), "{error}");
}
