//! Auth down or slow: users and tasks answer 503 JSON quickly, and heal by themselves.

use std::time::{Duration, Instant};

use crate::support::*;
use dev_stack::{start_auth, start_tasks, start_users};
use reqwest::StatusCode;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

/// The lesson promises an answer within 3 s when auth is unreachable.
const PROMISED: Duration = Duration::from_secs(3);

#[tokio::test]
async fn auth_down_gives_503_and_its_return_heals_without_restarts() {
    let app = spawn_stack().await;
    let token = app.token_for("test@test.com").await;
    let dev_stack::Stack { auth, users, tasks } = app.stack;
    let auth_addr = auth.addr;
    auth.stop().await.unwrap();
    let app = TestStack {
        stack: dev_stack::Stack {
            auth: start_auth(
                "127.0.0.1:0".parse().unwrap(),
                &app.config.token_settings(),
                &app.config.caller_settings(),
            )
            .await
            .unwrap(),
            users,
            tasks,
        },
        ..app
    };
    // The stack's users/tasks still point at the old, now closed, auth address.
    let started = Instant::now();
    expect_error(
        app.get_tasks(&token, "").await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    expect_error(
        app.post_task(&token, "t", "x").await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    expect_error(
        app.login("test@test.com", PASSWORD).await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    expect_error(
        app.signup("new@test.com", PASSWORD).await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    assert!(started.elapsed() < PROMISED, "took {:?}", started.elapsed());

    // auth comes back on its old address: the very next requests succeed.
    let revived = start_auth(
        auth_addr,
        &app.config.token_settings(),
        &app.config.caller_settings(),
    )
    .await
    .unwrap();
    assert_eq!(app.get_tasks(&token, "").await.status(), StatusCode::OK);
    assert_eq!(
        app.login("test@test.com", PASSWORD).await.status(),
        StatusCode::OK
    );
    revived.stop().await.unwrap();
}

#[tokio::test]
async fn an_auth_that_accepts_but_never_answers_gives_503_in_time() {
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = silent.local_addr().unwrap().to_string();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let data = tempfile::tempdir().unwrap();
    let tasks = start_tasks(
        "127.0.0.1:0".parse().unwrap(),
        &address,
        data.path().join("tasks"),
    )
    .await
    .unwrap();
    let users = start_users(
        "127.0.0.1:0".parse().unwrap(),
        &address,
        data.path().join("users"),
    )
    .await
    .unwrap();
    let http = client();

    let started = Instant::now();
    let response = http
        .get(format!("{}/tasks", tasks.url()))
        .bearer_auth("a.b.c")
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(
        started.elapsed() < PROMISED,
        "tasks took {:?}",
        started.elapsed()
    );

    let started = Instant::now();
    let response = http
        .post(format!("{}/signup", users.url()))
        .json(&serde_json::json!({ "email": "a@b.co", "password": "testers" }))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(
        started.elapsed() < PROMISED,
        "users took {:?}",
        started.elapsed()
    );
    held.abort();
}

#[tokio::test]
async fn the_request_id_travels_to_auth() {
    let fake_auth = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = fake_auth.local_addr().unwrap().to_string();
    let seen = tokio::spawn(async move {
        let (mut socket, _) = fake_auth.accept().await.unwrap();
        let mut request = vec![0; 4096];
        let read = socket.read(&mut request).await.unwrap();
        let body = r#"{"message":"Valid token.","uid":"u1"}"#;
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(response.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&request[..read]).to_lowercase()
    });
    let data = tempfile::tempdir().unwrap();
    let tasks = start_tasks(
        "127.0.0.1:0".parse().unwrap(),
        &address,
        data.path().to_owned(),
    )
    .await
    .unwrap();
    let response = client()
        .get(format!("{}/tasks", tasks.url()))
        .bearer_auth("a.b.c")
        .header("x-request-id", "follow-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let request = seen.await.unwrap();
    assert!(request.starts_with("post /verify-token "), "{request}");
    assert!(request.contains("x-request-id: follow-me-42"), "{request}");
}
