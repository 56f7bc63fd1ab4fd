//! auth-api's routes, called in-process (`oneshot`) by the caller each route serves:
//! hashing, issuing and verifying tokens, the probes, and every error each route answers,
//! always JSON `{"message": …}`. Who may call: `callers_tests.rs`.
//! Each argon2 hash takes tens of milliseconds, so only a few tests hash.

use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use kub_auth_wire::{HASHED_PASSWORD_ROUTE, MAX_PASSWORD_BYTES, TOKEN_ROUTE, VERIFY_TOKEN_ROUTE};
use kub_http::layers::MAX_BODY_BYTES;
use serde_json::{Value, json};
use test_support::oneshot::{Answer, request, send};

use crate::{AppState, CallerSettings, TokenSettings, router};

pub(super) const SECRET: &str = "0123456789abcdef0123456789abcdef";
const OTHER_SECRET: &str = "fedcba9876543210fedcba9876543210";
pub(super) const USERS_KEY: &str = "users-api-key-0123456789abcdef012345";
pub(super) const TASKS_KEY: &str = "tasks-api-key-0123456789abcdef012345";

/// auth with `secret`, serving users-api and tasks-api by their keys.
pub(super) fn state_with(tokens: &TokenSettings, callers: &CallerSettings) -> AppState {
    let callers = callers.callers().expect("valid caller keys");
    AppState::new(tokens, &Default::default())
        .expect("a 32-byte secret")
        .with_callers(callers)
}

fn state(secret: &str) -> AppState {
    let callers = CallerSettings::with_keys(USERS_KEY, TASKS_KEY);
    state_with(&TokenSettings::with_secret(secret), &callers)
}

fn app() -> Router {
    router(state(SECRET))
}

/// The key of the caller `path` serves.
fn key_for(path: &str) -> &'static str {
    if path == VERIFY_TOKEN_ROUTE {
        TASKS_KEY
    } else {
        USERS_KEY
    }
}

async fn post(app: &Router, path: &str, body: &Value) -> Answer {
    send(
        app,
        request(Method::POST, path, Some(body), Some(key_for(path))),
    )
    .await
}

async fn get(app: &Router, path: &str) -> Answer {
    send(app, request(Method::GET, path, None, None)).await
}

/// A POST with `body` sent as is, with the given content type (or none).
async fn post_raw(app: &Router, path: &str, content_type: Option<&str>, body: &str) -> Answer {
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {}", key_for(path)));
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    send(app, builder.body(Body::from(body.to_owned())).unwrap()).await
}

/// The hash `POST /hashed-password` gives for `password`.
async fn hashed(app: &Router, password: &str) -> String {
    let answer = post(app, HASHED_PASSWORD_ROUTE, &json!({ "password": password })).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    answer.body["hashedPassword"].as_str().unwrap().to_owned()
}

async fn token(app: &Router, user_id: &str, password: &str, hashed_password: &str) -> Answer {
    let body =
        json!({ "userId": user_id, "password": password, "hashedPassword": hashed_password });
    post(app, TOKEN_ROUTE, &body).await
}

async fn verify(app: &Router, token: &str) -> Answer {
    post(app, VERIFY_TOKEN_ROUTE, &json!({ "token": token })).await
}

#[tokio::test]
async fn hashing_a_password_answers_only_an_argon2id_phc_string() {
    let app = app();
    let answer = post(
        &app,
        HASHED_PASSWORD_ROUTE,
        &json!({ "password": "testers" }),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert_eq!(answer.body.as_object().unwrap().len(), 1, "{}", answer.body);
    let hash = answer.body["hashedPassword"].as_str().unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains("testers"), "{hash}");
}

#[tokio::test]
async fn a_blank_password_is_not_hashed() {
    let app = app();
    for blank in ["", "   ", "\t\n"] {
        let answer = post(&app, HASHED_PASSWORD_ROUTE, &json!({ "password": blank })).await;
        let message = answer.expect_error(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(message, "password must not be blank.");
    }
}

#[tokio::test]
async fn a_password_is_limited_in_bytes_not_characters() {
    let app = app();
    // 513 two-byte characters: fewer characters than the limit, more bytes.
    let over = "é".repeat(MAX_PASSWORD_BYTES / 2 + 1);
    assert!(over.chars().count() < MAX_PASSWORD_BYTES);
    let answer = post(&app, HASHED_PASSWORD_ROUTE, &json!({ "password": over })).await;
    let message = answer.expect_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        message,
        format!("password must be at most {MAX_PASSWORD_BYTES} bytes.")
    );
    // Exactly the limit is fine.
    let hash = hashed(&app, &"x".repeat(MAX_PASSWORD_BYTES)).await;
    assert!(hash.starts_with("$argon2id$"), "{hash}");
}

#[tokio::test]
async fn unknown_fields_are_refused_on_every_route() {
    let app = app();
    let bodies = [
        (
            HASHED_PASSWORD_ROUTE,
            json!({ "password": "testers", "salt": "x" }),
        ),
        (
            TOKEN_ROUTE,
            json!({ "userId": "u1", "password": "p", "hashedPassword": "h", "admin": true }),
        ),
        (VERIFY_TOKEN_ROUTE, json!({ "token": "t", "uid": "u1" })),
    ];
    for (route, body) in bodies {
        let message = post(&app, route, &body)
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(message.contains("unknown field"), "{route}: {message}");
    }
}

#[tokio::test]
async fn a_missing_or_mistyped_field_is_a_422() {
    let app = app();
    for body in [
        json!({}),
        json!({ "password": 42 }),
        json!({ "password": null }),
    ] {
        post(&app, HASHED_PASSWORD_ROUTE, &body)
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY);
    }
    let no_hash = json!({ "userId": "u1", "password": "testers" });
    let message = post(&app, TOKEN_ROUTE, &no_hash)
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("hashedPassword"), "{message}");
}

#[tokio::test]
async fn malformed_json_is_a_400() {
    let app = app();
    for body in [r#"{"password":"#, "not json", ""] {
        post_raw(&app, HASHED_PASSWORD_ROUTE, Some("application/json"), body)
            .await
            .expect_error(StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn a_body_without_a_json_content_type_is_a_415() {
    let app = app();
    let body = r#"{"password":"testers"}"#;
    for content_type in [None, Some("text/plain")] {
        let message = post_raw(&app, HASHED_PASSWORD_ROUTE, content_type, body)
            .await
            .expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(message.contains("application/json"), "{message}");
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413() {
    let app = app();
    let huge = json!({ "password": "x".repeat(MAX_BODY_BYTES) });
    post(&app, HASHED_PASSWORD_ROUTE, &huge)
        .await
        .expect_error(StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn the_right_password_gets_a_token_that_verifies_to_the_same_user_id() {
    let app = app();
    let hash = hashed(&app, "testers").await;
    let created = token(&app, "user-42", "testers", &hash).await;
    assert_eq!(created.status, StatusCode::OK, "{:?}", created.body);
    assert_eq!(created.body["message"], "Token created.");
    assert_eq!(
        created.body.as_object().unwrap().len(),
        2,
        "{}",
        created.body
    );
    let jwt = created.body["token"].as_str().unwrap();
    assert_eq!(jwt.split('.').count(), 3, "{jwt}");
    let verified = verify(&app, jwt).await;
    assert_eq!(verified.status, StatusCode::OK, "{:?}", verified.body);
    assert_eq!(
        verified.body,
        json!({ "message": "Valid token.", "uid": "user-42" })
    );
}

#[tokio::test]
async fn a_wrong_password_is_a_401() {
    let app = app();
    let hash = hashed(&app, "testers").await;
    let message = token(&app, "user-42", "testers_hash", &hash)
        .await
        .expect_error(StatusCode::UNAUTHORIZED);
    assert_eq!(message, "Passwords do not match.");
}

#[tokio::test]
async fn a_blank_padded_or_long_user_id_is_refused_even_with_the_right_password() {
    let app = app();
    let hash = hashed(&app, "testers").await;
    let long = "u".repeat(129);
    for bad in ["", "  ", " user-42", "user-42\n", long.as_str()] {
        let message = token(&app, bad, "testers", &hash)
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            message,
            "userId must be 1 to 128 bytes, without surrounding spaces."
        );
    }
    let longest = "u".repeat(128);
    assert_eq!(
        token(&app, &longest, "testers", &hash).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_hashed_password_that_is_not_one_of_ours_is_a_422() {
    let app = app();
    // The second one would cost 4 GiB of memory to check: its parameters are not ours.
    let costly = "$argon2id$v=19$m=4194304,t=2,p=1$X21nnMKNO3elHOMBOworlA$aoW3/K6HpRandF6ARS7krI5Une+cyQiOclMG2+qa80o";
    for not_ours in ["testers_hash", costly, "", "$argon2id$"] {
        let message = token(&app, "user-42", "testers", not_ours)
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            message,
            "hashedPassword is not an argon2id PHC string from this service."
        );
    }
}

#[tokio::test]
async fn a_blank_or_too_long_password_is_refused_by_token_too() {
    let app = app();
    let blank = token(&app, "user-42", " ", "testers_hash").await;
    let message = blank.expect_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(message, "password must not be blank.");
    let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
    let message = token(&app, "user-42", &long, "testers_hash")
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        message,
        format!("password must be at most {MAX_PASSWORD_BYTES} bytes.")
    );
}

#[tokio::test]
async fn a_garbage_or_tampered_token_is_a_401() {
    let state = state(SECRET);
    let genuine = state.tokens.issue("user-42").unwrap();
    let app = router(state);
    assert_eq!(verify(&app, &genuine).await.status, StatusCode::OK);
    let (unsigned, signature) = genuine.rsplit_once('.').unwrap();
    let first = if signature.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("{unsigned}.{first}{}", &signature[1..]);
    for token in [tampered.as_str(), unsigned, "abc", "a.b.c", ""] {
        let message = verify(&app, token)
            .await
            .expect_error(StatusCode::UNAUTHORIZED);
        assert_eq!(message, "Token invalid.", "{token}");
    }
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_a_401() {
    let app = app();
    let ours = state(SECRET).tokens.issue("user-42").unwrap();
    let theirs = state(OTHER_SECRET).tokens.issue("user-42").unwrap();
    assert_eq!(verify(&app, &ours).await.status, StatusCode::OK);
    let message = verify(&app, &theirs)
        .await
        .expect_error(StatusCode::UNAUTHORIZED);
    assert_eq!(message, "Token invalid.");
}

#[tokio::test]
async fn readyz_says_ready_and_healthz_says_ok() {
    let app = app();
    let ready = get(&app, "/readyz").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body, json!({ "status": "ready" }));
    let alive = get(&app, "/healthz").await;
    assert_eq!(alive.status, StatusCode::OK);
    assert_eq!(alive.body, json!({ "status": "ok" }));
}

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let app = app();
    for path in ["/nowhere", "/token/extra", "/hashed-passwords"] {
        let message = get(&app, path).await.expect_error(StatusCode::NOT_FOUND);
        assert_eq!(message, format!("No route for {path}."));
    }
    post(&app, "/signup", &json!({}))
        .await
        .expect_error(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_wrong_method_is_a_json_405() {
    let app = app();
    for route in [TOKEN_ROUTE, HASHED_PASSWORD_ROUTE, VERIFY_TOKEN_ROUTE] {
        get(&app, route)
            .await
            .expect_error(StatusCode::METHOD_NOT_ALLOWED);
    }
    post(&app, "/readyz", &json!({}))
        .await
        .expect_error(StatusCode::METHOD_NOT_ALLOWED);
}
