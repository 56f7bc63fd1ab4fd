//! What a flood meets: rate limits per address and per account (429 with `Retry-After`), the
//! password policy, trusted proxies, and auth's full hashing queue passed on as a 503. What a
//! stranger guessing a password cannot do: lock its owner out.

use axum::http::{Method, StatusCode, header::RETRY_AFTER};
use serde_json::json;
use test_support::{
    auth::spawn_auth_with,
    oneshot::{Answer, request, send},
};

use super::{PASSWORD, TestApp};

fn limit(text: &str) -> crate::RateLimit {
    text.parse().unwrap()
}

/// Asserts a JSON 429 with a `Retry-After` of at least a second; returns the message.
fn expect_throttled(answer: &Answer) -> String {
    let message = answer.expect_error(StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = answer.headers[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1, "{retry_after}");
    message
}

/// What the metrics port would serve.
async fn metrics(app: &TestApp) -> String {
    app.metrics.render()
}

#[tokio::test]
async fn one_address_guessing_gets_429_while_other_addresses_log_in() {
    let app = TestApp::spawn_with(|config| {
        config.rate_limits.login_per_address = limit("3/min");
    })
    .await;
    app.token_for("ana@test.com").await; // one login from the test client's address
    for _ in 0..2 {
        let guess = app.post("/login", "ana@test.com", "wrong-guess").await;
        guess.expect_error(StatusCode::UNAUTHORIZED);
    }
    let message = expect_throttled(&app.post("/login", "ana@test.com", PASSWORD).await);
    assert!(
        message.starts_with("Too many login attempts from your address; try again in "),
        "{message}"
    );
    let elsewhere = app
        .post_from("127.0.0.2", "/login", "ana@test.com", PASSWORD)
        .await;
    assert_eq!(elsewhere.status, StatusCode::OK, "{:?}", elsewhere.body);
    assert!(
        metrics(&app)
            .await
            .contains(r#"http_requests_throttled_total{reason="per_address",route="/login"} 1"#),
        "{}",
        metrics(&app).await
    );
}

/// The issue's sequence, with the default limits: a stranger's wrong passwords for a victim's
/// email, from one address, until they get 429; then the owner, from another network, logs in.
#[tokio::test]
async fn a_strangers_wrong_passwords_never_lock_the_owner_out() {
    let app = TestApp::spawn().await;
    app.token_for("victim@test.com").await;
    let attacker = "203.0.113.7";
    let mut wrong = 0;
    let refusal = loop {
        let guess = app
            .post_from(attacker, "/login", "victim@test.com", "wrong-guess")
            .await;
        if guess.status != StatusCode::UNAUTHORIZED {
            break guess;
        }
        wrong += 1;
        assert!(wrong < 20, "the attacker was never throttled");
    };
    assert!(wrong >= 3, "{wrong}");
    let message = expect_throttled(&refusal);
    assert!(
        message.starts_with("Too many failed logins for this email from your network;"),
        "{message}"
    );
    // The owner logs in, again and again: right passwords are never counted against them.
    for _ in 0..wrong + 2 {
        let owner = app
            .post_from("198.51.100.7", "/login", "victim@test.com", PASSWORD)
            .await;
        assert_eq!(owner.status, StatusCode::OK, "{:?}", owner.body);
    }
    for password in ["wrong-guess", PASSWORD] {
        let again = app
            .post_from(attacker, "/login", "victim@test.com", password)
            .await;
        expect_throttled(&again);
    }
    let counted =
        r#"http_requests_throttled_total{reason="per_account_and_address",route="/login"} 3"#;
    assert!(
        metrics(&app).await.contains(counted),
        "{}",
        metrics(&app).await
    );
}

#[tokio::test]
async fn failed_logins_from_many_networks_meet_the_account_wide_cap() {
    let app = TestApp::spawn_with(|config| {
        config.rate_limits.login_per_account = limit("2/min");
    })
    .await;
    app.token_for("ana@test.com").await;
    for network in ["203.0.113.7", "198.51.100.7"] {
        app.post_from(network, "/login", "ana@test.com", "wrong-guess")
            .await
            .expect_error(StatusCode::UNAUTHORIZED);
    }
    let third = app
        .post_from("192.0.2.7", "/login", "Ana@Test.com", PASSWORD)
        .await;
    let message = expect_throttled(&third);
    assert!(
        message.starts_with("Too many failed logins for this email;"),
        "{message}"
    );
    // Unknown emails are limited the same way: the answer tells nothing about who exists.
    for _ in 0..2 {
        app.post("/login", "nobody@test.com", PASSWORD).await;
    }
    let unknown = app.post("/login", "nobody@test.com", PASSWORD).await;
    assert!(expect_throttled(&unknown).contains("for this email"));
    app.token_for("bob@test.com").await;
}

#[tokio::test]
async fn a_signup_burst_from_one_address_is_throttled_after_its_default_allowance() {
    let app = TestApp::spawn().await;
    let mut statuses = Vec::new();
    for n in 0..12 {
        let email = format!("burst{n}@test.com");
        statuses.push(app.post("/signup", &email, PASSWORD).await);
    }
    let created = statuses
        .iter()
        .filter(|a| a.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 10, "SIGNUP_LIMIT_PER_ADDRESS defaults to 10/min");
    for refused in &statuses[10..] {
        assert!(expect_throttled(refused).contains("signups from your address"));
    }
    assert_eq!(app.user_count(), 10);
}

#[tokio::test]
async fn signup_needs_a_minimum_length_that_the_lessons_password_meets() {
    let app = TestApp::spawn().await;
    let lesson = app.post("/signup", "test@test.com", "tester").await;
    assert_eq!(lesson.status, StatusCode::CREATED, "{:?}", lesson.body);
    let short = app.post("/signup", "short@test.com", "teste").await;
    let message = short.expect_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(message, "The password must be at least 6 characters.");
    let stricter = TestApp::spawn_with(|config| config.min_password_length = 10).await;
    let message = stricter
        .post("/signup", "test@test.com", "tester")
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(message, "The password must be at least 10 characters.");
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_allowance() {
    let app = TestApp::spawn_with(|config| {
        config.rate_limits.login_per_address = limit("1/min");
        config.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let login_via_proxy = |client: &'static str| {
        let body = json!({ "email": "nobody@test.com", "password": PASSWORD });
        let mut request = request(Method::POST, "/login", Some(&body), None);
        request
            .headers_mut()
            .insert("x-forwarded-for", client.parse().unwrap());
        send(&app.router, request)
    };
    login_via_proxy("198.51.100.1")
        .await
        .expect_error(StatusCode::UNAUTHORIZED);
    login_via_proxy("198.51.100.2")
        .await
        .expect_error(StatusCode::UNAUTHORIZED);
    expect_throttled(&login_via_proxy("198.51.100.1").await);
}

/// auth with one hashing thread's worth of queue: most of a burst of logins is turned away by
/// auth at once, and users-api passes its 503 and `Retry-After` on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_hashing_queue_in_auth_is_an_immediate_503_with_retry_after() {
    let hashing = auth_api::HashingSettings {
        queue_size: 1,
        ..Default::default()
    };
    let (auth, _) = spawn_auth_with(&hashing).await;
    let app = TestApp::configured(&auth.addr.to_string(), Some(auth), |config| {
        config.rate_limits.login_per_address = limit("off");
        config.rate_limits.login_per_account = limit("off");
    })
    .await;
    let mut logins = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let router = app.router.clone();
        let body = json!({ "email": "nobody@test.com", "password": PASSWORD });
        logins.spawn(async move {
            send(&router, request(Method::POST, "/login", Some(&body), None)).await
        });
    }
    let answers = logins.join_all().await;
    let shed: Vec<_> = answers
        .iter()
        .filter(|a| a.status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(
        !shed.is_empty(),
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    for answer in &shed {
        let message = answer.expect_error(StatusCode::SERVICE_UNAVAILABLE);
        assert!(message.starts_with("Too many passwords"), "{message}");
        assert_eq!(answer.headers[RETRY_AFTER], "1");
    }
    let counted = format!(
        r#"http_requests_shed_total{{reason="auth_overloaded",route="/login"}} {}"#,
        shed.len()
    );
    assert!(
        metrics(&app).await.contains(&counted),
        "{}",
        metrics(&app).await
    );
}
