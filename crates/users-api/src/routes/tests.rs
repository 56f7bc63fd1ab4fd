//! users-api's routes, called in-process (`oneshot`), with a real auth-api on a free port
//! hashing and checking the passwords.

use std::time::{Duration, Instant};

use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use kub_http::serve::RunningServer;
use serde_json::{Value, json};
use tempfile::TempDir;
use test_support::{
    auth::spawn_auth,
    oneshot::{Answer, from_client, request, send},
};

use crate::{AppState, Config, UserStore, Users, router};

const PASSWORD: &str = "testers";
const AUTH_UNAVAILABLE: &str = "The auth service is unavailable; try again shortly.";

/// users-api's router wired to an auth address, its users in a temporary folder.
struct TestApp {
    router: Router,
    users: UserStore,
    metrics: kub_http::metrics::Metrics,
    data: TempDir,
    _auth_server: Option<RunningServer>,
}

impl TestApp {
    /// Wired to a running auth-api.
    async fn spawn() -> Self {
        let (auth_server, _) = spawn_auth().await;
        Self::wired(&auth_server.addr.to_string(), Some(auth_server)).await
    }

    /// Wired to a loopback port nothing listens on (bound, then released).
    async fn without_auth() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        drop(listener);
        Self::wired(&address, None).await
    }

    /// Wired to a running auth-api, with settings changed from the defaults by `configure`.
    async fn spawn_with(configure: impl FnOnce(&mut Config)) -> Self {
        let (auth_server, _) = spawn_auth().await;
        Self::configured(&auth_server.addr.to_string(), Some(auth_server), configure).await
    }

    async fn wired(auth_address: &str, auth_server: Option<RunningServer>) -> Self {
        Self::configured(auth_address, auth_server, |_| {}).await
    }

    async fn configured(
        auth_address: &str,
        auth_server: Option<RunningServer>,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        let data = tempfile::tempdir().unwrap();
        let mut config = Config::wired(auth_address, data.path().join("users"));
        configure(&mut config);
        let state = AppState::open(&config).await.unwrap();
        Self {
            router: router(state.clone()),
            metrics: state.metrics.clone(),
            users: state.users,
            data,
            _auth_server: auth_server,
        }
    }

    async fn post(&self, path: &str, email: &str, password: &str) -> Answer {
        self.post_json(path, &json!({ "email": email, "password": password }))
            .await
    }

    async fn post_json(&self, path: &str, body: &Value) -> Answer {
        send(&self.router, request(Method::POST, path, Some(body), None)).await
    }

    /// [`TestApp::post`] from another client address.
    async fn post_from(&self, client: &str, path: &str, email: &str, password: &str) -> Answer {
        let body = json!({ "email": email, "password": password });
        let request = request(Method::POST, path, Some(&body), None);
        let client = format!("{client}:40000").parse().unwrap();
        send(&self.router, from_client(request, client)).await
    }

    /// A POST whose body and content type are exactly these.
    async fn post_raw(&self, path: &str, content_type: &str, body: impl Into<Body>) -> Answer {
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, content_type)
            .body(body.into())
            .unwrap();
        send(&self.router, request).await
    }

    async fn call(&self, method: Method, path: &str) -> Answer {
        send(&self.router, request(method, path, None, None)).await
    }

    /// Signs a new user up (with [`PASSWORD`]) and returns their token.
    async fn token_for(&self, email: &str) -> String {
        assert_eq!(
            self.post("/signup", email, PASSWORD).await.status,
            StatusCode::CREATED
        );
        let login = self.post("/login", email, PASSWORD).await;
        assert_eq!(login.status, StatusCode::OK);
        login.body["token"].as_str().unwrap().to_owned()
    }

    fn user_count(&self) -> usize {
        let UserStore::File(store) = &self.users else {
            panic!("the router tests keep users in a file");
        };
        store.read(Users::len)
    }
}

#[tokio::test]
async fn signup_then_login() {
    let app = TestApp::spawn().await;
    let created = app.post("/signup", "test@test.com", "testers").await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body, json!({ "message": "User created!" }));
    assert_eq!(app.user_count(), 1);
    let login = app.post("/login", "test@test.com", "testers").await;
    assert_eq!(login.status, StatusCode::OK);
    assert_eq!(login.body["token"].as_str().unwrap().split('.').count(), 3);
}

#[tokio::test]
async fn signup_refuses_bad_input_and_duplicates() {
    let app = TestApp::spawn().await;
    for body in [
        json!({ "email": "test@test.com" }),
        json!({ "password": "testers" }),
        json!({ "email": "", "password": "testers" }),
        json!({ "email": "test@test.com", "password": "   " }),
        json!({ "email": "not-an-email", "password": "testers" }),
        json!({ "email": 42, "password": "testers" }),
        json!({ "email": "test@test.com", "password": "testers", "admin": true }),
    ] {
        app.post_json("/signup", &body)
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY);
    }

    assert_eq!(
        app.post("/signup", "test@test.com", "testers").await.status,
        StatusCode::CREATED
    );
    let message = app
        .post("/signup", "test@test.com", "others")
        .await
        .expect_error(StatusCode::CONFLICT);
    assert!(message.contains("already exists"));
    app.post("/signup", " TEST@test.COM ", "xxxxxx")
        .await
        .expect_error(StatusCode::CONFLICT);
}

#[tokio::test]
async fn invalid_credentials_are_named_in_the_422_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let too_long_password = "x".repeat(crate::MAX_PASSWORD_BYTES + 1);
    let too_long_email = format!("{}@x.com", "a".repeat(crate::MAX_EMAIL_CHARS));
    let at_most = format!("at most {} bytes", crate::MAX_PASSWORD_BYTES);
    let cases = [
        ("", PASSWORD, "An email and password needs to be specified!"),
        (
            "test@test.com",
            " \t",
            "An email and password needs to be specified!",
        ),
        ("not-an-email", PASSWORD, "is not a valid email address."),
        (
            too_long_email.as_str(),
            PASSWORD,
            "is not a valid email address.",
        ),
        (
            "test@test.com",
            too_long_password.as_str(),
            at_most.as_str(),
        ),
    ];
    for path in ["/signup", "/login"] {
        for (email, password, expected) in cases {
            let message = app
                .post(path, email, password)
                .await
                .expect_error(StatusCode::UNPROCESSABLE_ENTITY);
            assert!(message.contains(expected), "{path} {email:?}: {message}");
        }
    }
    assert_eq!(app.user_count(), 0);
}

#[tokio::test]
async fn concurrent_signups_for_one_email_create_exactly_one_user() {
    let app = TestApp::spawn().await;
    let (first, second, third) = tokio::join!(
        app.post("/signup", "race@test.com", "aaaaaa"),
        app.post("/signup", "race@test.com", "bbbbbb"),
        app.post("/signup", "race@test.com", "cccccc"),
    );
    let mut statuses = [first.status, second.status, third.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [
            StatusCode::CREATED,
            StatusCode::CONFLICT,
            StatusCode::CONFLICT
        ]
    );
    assert_eq!(app.user_count(), 1);
}

#[tokio::test]
async fn login_does_not_tell_unknown_emails_from_wrong_passwords() {
    let app = TestApp::spawn().await;
    app.token_for("test@test.com").await;
    let wrong_password = app
        .post("/login", "test@test.com", "nope")
        .await
        .expect_error(StatusCode::UNAUTHORIZED);
    let unknown_email = app
        .post("/login", "nobody@test.com", "testers")
        .await
        .expect_error(StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_password, unknown_email);
    let seed_style = app
        .post("/login", "test@test.com", "testers_hash")
        .await
        .expect_error(StatusCode::UNAUTHORIZED);
    assert_eq!(
        seed_style, wrong_password,
        "the seed's dummy hash is no longer a password"
    );
    app.post_json("/login", &json!({ "email": "test@test.com" }))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn signup_and_login_answer_503_fast_when_auth_is_unreachable() {
    let app = TestApp::without_auth().await;
    for path in ["/signup", "/login"] {
        let started = Instant::now();
        let message = app
            .post(path, "test@test.com", PASSWORD)
            .await
            .expect_error(StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(message, AUTH_UNAVAILABLE, "{path}");
        let took = started.elapsed();
        assert!(took < Duration::from_secs(3), "{path} took {took:?}");
    }
    assert_eq!(app.user_count(), 0, "no user without a password hash");
    let ready = app.call(Method::GET, "/readyz").await;
    assert_eq!(
        ready.status,
        StatusCode::OK,
        "readiness is the folder's only"
    );
}

#[tokio::test]
async fn readyz_answers_ready_until_the_users_folder_cannot_take_writes() {
    let app = TestApp::spawn().await;
    let ready = app.call(Method::GET, "/readyz").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body, json!({ "status": "ready" }));

    std::fs::remove_dir_all(app.data.path().join("users")).unwrap();
    let message = app
        .call(Method::GET, "/readyz")
        .await
        .expect_error(StatusCode::SERVICE_UNAVAILABLE);
    assert!(message.starts_with("Not ready:"), "{message}");
}

#[tokio::test]
async fn unreadable_bodies_get_json_errors_and_store_nothing() {
    let app = TestApp::spawn().await;
    let valid = json!({ "email": "test@test.com", "password": PASSWORD }).to_string();
    // Valid credentials, padded with whitespace past the 64 KiB limit.
    let oversized = format!("{valid}{}", " ".repeat(64 * 1024));
    let unknown_field = json!({ "email": "test@test.com", "password": PASSWORD, "role": "x" });
    for path in ["/signup", "/login"] {
        app.post_raw(path, "application/json", "{,}")
            .await
            .expect_error(StatusCode::BAD_REQUEST);
        app.post_raw(path, "text/plain", valid.clone())
            .await
            .expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        app.post_raw(path, "application/json", oversized.clone())
            .await
            .expect_error(StatusCode::PAYLOAD_TOO_LARGE);
        let message = app
            .post_json(path, &unknown_field)
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(message.contains("role"), "{path}: {message}");
    }
    assert_eq!(app.user_count(), 0);
}

#[tokio::test]
async fn wrong_methods_get_a_json_405() {
    let app = TestApp::spawn().await;
    for (method, path) in [
        (Method::GET, "/signup"),
        (Method::PUT, "/signup"),
        (Method::DELETE, "/signup"),
        (Method::GET, "/login"),
        (Method::POST, "/readyz"),
    ] {
        app.call(method, path)
            .await
            .expect_error(StatusCode::METHOD_NOT_ALLOWED);
    }
}

mod abuse;
mod cors;
mod emails;
mod limits;
