//! tasks-api's routes, called in-process (`oneshot`), with a real auth-api on a free port
//! checking the tokens.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use auth_api::TokenKeys;
use axum::{
    Router,
    body::Body,
    http::{HeaderValue, Method, Request, StatusCode, header},
};
use kub_http::serve::RunningServer;
use serde_json::{Value, json};
use tempfile::TempDir;
use test_support::{
    auth::{TEST_SECRET, spawn_auth},
    oneshot::{Answer, request, send},
};

use crate::{
    AppState, Config, MAX_TEXT_CHARS, MAX_TITLE_CHARS, TASKS_FILE, TaskStore, Tasks, router,
};

/// tasks-api's router wired to a running auth-api, its tasks in a temporary folder.
struct TestApp {
    router: Router,
    metrics: kub_http::metrics::Metrics,
    auth: auth_api::AppState,
    _auth_server: RunningServer,
    data: TempDir,
}

impl TestApp {
    async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// With settings changed from the defaults by `configure`.
    async fn spawn_with(configure: impl FnOnce(&mut Config)) -> Self {
        let (auth_server, auth) = spawn_auth().await;
        let data = tempfile::tempdir().unwrap();
        let mut config = Config::wired(&auth_server.addr.to_string(), data.path().join("tasks"));
        configure(&mut config);
        let state = AppState::open(&config).await.unwrap();
        Self {
            router: router(state.clone()),
            metrics: state.metrics,
            auth,
            _auth_server: auth_server,
            data,
        }
    }

    /// A token auth-api issued for `user`.
    fn token(&self, user: &str) -> String {
        self.auth.tokens.issue(user).unwrap()
    }

    async fn post_task(&self, token: &str, title: &str, text: &str) -> Answer {
        self.post_json(token, &json!({ "title": title, "text": text }))
            .await
    }

    async fn post_json(&self, token: &str, body: &Value) -> Answer {
        let request = request(Method::POST, "/tasks", Some(body), Some(token));
        send(&self.router, request).await
    }

    /// `POST /tasks` as u1, with any content type (or none) and any body bytes.
    async fn post_raw(&self, content_type: Option<&str>, body: Body) -> Answer {
        let mut builder = Request::post("/tasks").header(
            header::AUTHORIZATION,
            format!("Bearer {}", self.token("u1")),
        );
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        send(&self.router, builder.body(body).unwrap()).await
    }

    async fn get_tasks(&self, token: &str, query: &str) -> Answer {
        let path = format!("/tasks{query}");
        send(&self.router, request(Method::GET, &path, None, Some(token))).await
    }

    async fn readyz(&self) -> Answer {
        send(&self.router, request(Method::GET, "/readyz", None, None)).await
    }
}

/// tasks-api's router and state, auth at `auth_address`, tasks in `data`.
async fn open(auth_address: &str, data: &TempDir) -> (Router, AppState) {
    let config = Config::wired(auth_address, data.path().join("tasks"));
    let state = AppState::open(&config).await.unwrap();
    (router(state.clone()), state)
}

fn titles(body: &Value) -> Vec<String> {
    body["tasks"]
        .as_array()
        .unwrap_or_else(|| panic!("no tasks in {body}"))
        .iter()
        .map(|task| task["title"].as_str().unwrap().to_owned())
        .collect()
}

/// A JSON 401 `{"message": …}` that tells the client to send a bearer token.
fn expect_unauthorized(answer: &Answer) {
    answer.expect_error(StatusCode::UNAUTHORIZED);
    let challenge = answer.headers.get(header::WWW_AUTHENTICATE);
    assert_eq!(challenge.map(HeaderValue::as_bytes), Some(&b"Bearer"[..]));
}

#[tokio::test]
async fn a_stored_task_is_answered_201_and_listed_back_with_200() {
    let app = TestApp::spawn().await;
    let token = app.token("u1");
    let empty = app.get_tasks(&token, "").await;
    assert_eq!(empty.status, StatusCode::OK);
    let nothing = json!({ "message": "Tasks loaded.", "tasks": [], "nextAfter": null });
    assert_eq!(empty.body, nothing);

    let created = app.post_task(&token, "A dummy task", "Do it!").await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["message"], "Task stored.");
    let task = &created.body["createdTask"];
    assert_eq!(task["title"], "A dummy task");
    assert_eq!(task["text"], "Do it!");
    assert!(task["id"].is_u64());
    assert!(task["createdAt"].as_str().unwrap().ends_with('Z'));
    assert!(task.get("owner").is_none(), "the owner stays private");

    let listed = app.get_tasks(&token, "").await;
    assert_eq!(listed.status, StatusCode::OK);
    let one = json!({ "message": "Tasks loaded.", "tasks": [task], "nextAfter": null });
    assert_eq!(listed.body, one);
}

#[tokio::test]
async fn readyz_is_ready_only_while_the_tasks_folder_takes_a_write() {
    let app = TestApp::spawn().await;
    let ready = app.readyz().await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body, json!({ "status": "ready" }));

    // A folder where the probe file goes: its write fails even for root.
    let probe = Path::new(TASKS_FILE).with_extension("probe");
    let blocker = app.data.path().join("tasks").join(probe);
    std::fs::create_dir(&blocker).unwrap();
    let message = app
        .readyz()
        .await
        .expect_error(StatusCode::SERVICE_UNAVAILABLE);
    assert!(message.starts_with("Not ready"), "{message}");

    std::fs::remove_dir(&blocker).unwrap();
    assert_eq!(app.readyz().await.status, StatusCode::OK);
}

#[tokio::test]
async fn tasks_refuse_missing_malformed_and_forged_tokens() {
    let app = TestApp::spawn().await;
    let token = app.token("u1");
    let tampered = {
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[2] = parts[2].chars().rev().collect();
        parts.join(".")
    };
    let alg_none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1MSIsImlzcyI6Imt1Yi1uZXR3b3JrLWF1dGgiLCJpYXQiOjAsImV4cCI6OTk5OTk5OTk5OX0.";
    let other_key = TokenKeys::new(
        b"not-the-secret-auth-signs-with!!",
        Duration::from_secs(600),
    )
    .issue("u1")
    .unwrap();
    let headers = [
        None,
        Some("abc".to_owned()),
        Some(format!("Basic {token}")),
        Some("Bearer".to_owned()),
        Some(format!("Bearer {token} {token}")),
        Some("Bearer abc".to_owned()),
        Some(format!("Bearer {tampered}")),
        Some(format!("Bearer {alg_none}")),
        Some(format!("Bearer {other_key}")),
    ];
    let body = json!({ "title": "t", "text": "x" });
    for authorization in &headers {
        for method in [Method::GET, Method::POST] {
            let mut request = request(method, "/tasks", Some(&body), None);
            if let Some(value) = authorization {
                let value = HeaderValue::from_str(value).unwrap();
                request.headers_mut().insert(header::AUTHORIZATION, value);
            }
            expect_unauthorized(&send(&app.router, request).await);
        }
    }
    let listed = app.get_tasks(&token, "").await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(titles(&listed.body).is_empty(), "{}", listed.body);
}

#[tokio::test]
async fn an_expired_token_is_refused_with_401() {
    let app = TestApp::spawn().await;
    let fresh = TokenKeys::new(TEST_SECRET.as_bytes(), Duration::from_secs(600));
    let fresh = fresh.issue("u1").unwrap();
    assert_eq!(app.get_tasks(&fresh, "").await.status, StatusCode::OK);

    let expired = TokenKeys::new(TEST_SECRET.as_bytes(), Duration::ZERO);
    let expired = expired.issue("u1").unwrap();
    // Valid to the end of the second it was issued in (auth allows no leeway).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    expect_unauthorized(&app.get_tasks(&expired, "").await);
    expect_unauthorized(&app.post_task(&expired, "t", "x").await);
}

#[tokio::test]
async fn each_user_sees_only_their_own_tasks() {
    let app = TestApp::spawn().await;
    let ana = app.token("ana");
    let bob = app.token("bob");
    app.post_task(&ana, "ana 1", "x").await;
    app.post_task(&bob, "bob 1", "x").await;
    app.post_task(&ana, "ana 2", "x").await;
    assert_eq!(
        titles(&app.get_tasks(&ana, "").await.body),
        ["ana 1", "ana 2"]
    );
    assert_eq!(titles(&app.get_tasks(&bob, "").await.body), ["bob 1"]);
}

#[tokio::test]
async fn tasks_are_paginated_oldest_first_by_cursor() {
    let app = TestApp::spawn().await;
    let token = app.token("u1");
    for n in 1..=25 {
        let created = app.post_task(&token, &format!("task {n}"), "x").await;
        assert_eq!(created.status, StatusCode::CREATED);
    }
    let first = app.get_tasks(&token, "").await.body;
    let expected: Vec<String> = (1..=20).map(|n| format!("task {n}")).collect();
    assert_eq!(
        titles(&first),
        expected,
        "default page size 20, newest last"
    );
    let cursor = first["nextAfter"].as_u64().unwrap();

    let second = app
        .get_tasks(&token, &format!("?after={cursor}"))
        .await
        .body;
    let expected: Vec<String> = (21..=25).map(|n| format!("task {n}")).collect();
    assert_eq!(titles(&second), expected);
    assert!(second["nextAfter"].is_null());

    let small = app.get_tasks(&token, "?limit=3").await.body;
    assert_eq!(titles(&small), ["task 1", "task 2", "task 3"]);

    for query in [
        "?limit=0",
        "?limit=101",
        "?limit=abc",
        "?after=-1",
        "?after=x",
    ] {
        let answer = app.get_tasks(&token, query).await;
        answer.expect_error(StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn task_bodies_are_checked() {
    let app = TestApp::spawn().await;
    let token = app.token("u1");
    for body in [
        json!({ "title": "t" }),
        json!({ "text": "x" }),
        json!({ "title": "", "text": "x" }),
        json!({ "title": "t", "text": " " }),
        json!({ "title": 1, "text": "x" }),
        json!({ "title": "x".repeat(MAX_TITLE_CHARS + 1), "text": "x" }),
        json!({ "title": "t", "text": "x".repeat(MAX_TEXT_CHARS + 1) }),
        json!({ "title": "t", "text": "x", "done": true }),
    ] {
        let answer = app.post_json(&token, &body).await;
        answer.expect_error(StatusCode::UNPROCESSABLE_ENTITY);
    }
    let unicode = "שלום 👋 عربى — «ok»";
    let text = "'; DROP TABLE tasks; -- ../../etc/passwd";
    let created = app.post_task(&token, unicode, text).await;
    assert_eq!(created.body["createdTask"]["title"], unicode);
    let listed = app.get_tasks(&token, "").await;
    assert_eq!(listed.body["tasks"][0]["text"], text);

    let longest = "é".repeat(MAX_TITLE_CHARS);
    let created = app.post_task(&token, &longest, "x").await;
    assert_eq!(created.status, StatusCode::CREATED, "a limit in characters");
}

#[tokio::test]
async fn protocol_errors_are_answered_as_json_messages() {
    let app = TestApp::spawn().await;
    let (json, plain) = (Some("application/json"), Some("text/plain"));
    let task = r#"{"title":"t","text":"x"}"#;
    let unknown_field = r#"{"title":"t","text":"x","done":true}"#;
    let huge = json!({ "title": "t", "text": "a".repeat(64 * 1024) }).to_string();
    let bodies: [(Option<&str>, Body, StatusCode); 7] = [
        (json, "{,}".into(), StatusCode::BAD_REQUEST),
        (json, vec![0xff, 0xfe, 0x00].into(), StatusCode::BAD_REQUEST),
        (plain, task.into(), StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (None, task.into(), StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (json, huge.into(), StatusCode::PAYLOAD_TOO_LARGE),
        (json, "[1, 2]".into(), StatusCode::UNPROCESSABLE_ENTITY),
        (json, unknown_field.into(), StatusCode::UNPROCESSABLE_ENTITY),
    ];
    for (content_type, body, status) in bodies {
        app.post_raw(content_type, body).await.expect_error(status);
    }

    let token = app.token("u1");
    for (method, path) in [
        (Method::DELETE, "/tasks"),
        (Method::PUT, "/tasks"),
        (Method::POST, "/readyz"),
    ] {
        let answer = send(&app.router, request(method, path, None, Some(&token))).await;
        answer.expect_error(StatusCode::METHOD_NOT_ALLOWED);
    }
    let answer = send(&app.router, request(Method::GET, "/nope", None, None)).await;
    answer.expect_error(StatusCode::NOT_FOUND);
    assert!(titles(&app.get_tasks(&token, "").await.body).is_empty());
}

#[tokio::test]
async fn an_unreachable_auth_answers_503_within_3_seconds() {
    // A port nothing listens on any more.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = dead.local_addr().unwrap().to_string();
    drop(dead);
    let data = tempfile::tempdir().unwrap();
    let (router, state) = open(&address, &data).await;

    let body = json!({ "title": "t", "text": "x" });
    for (method, body) in [(Method::GET, None), (Method::POST, Some(&body))] {
        let started = Instant::now();
        let answer = send(&router, request(method, "/tasks", body, Some("a.b.c"))).await;
        let took = started.elapsed();
        let message = answer.expect_error(StatusCode::SERVICE_UNAVAILABLE);
        assert!(message.contains("auth service is unavailable"), "{message}");
        assert!(took < Duration::from_secs(3), "took {took:?}");
    }
    let TaskStore::File(store) = &state.tasks else {
        panic!("the router tests keep tasks in a file");
    };
    assert_eq!(store.read(Tasks::len), 0, "nothing stored");
}

mod cors;
mod limits;
