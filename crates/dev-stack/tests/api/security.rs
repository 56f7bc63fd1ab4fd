//! Security promises over real HTTP: tokens expire and are bound to auth's issuer, audience
//! and secret (named by its `kid`); nothing secret reaches a log line, even at TRACE level.

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::{SystemTime, UNIX_EPOCH},
};

use crate::support::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `claims` signed with `secret`, under the `kid` given (auth's is `key_id` of its secret).
fn sign(claims: &Value, secret: &str, kid: Option<String>) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = kid;
    encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn tokens_are_refused_when_expired_foreign_or_confused_and_no_secret_is_logged() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let app = spawn_stack().await;
    let password = "correct-horse-battery-staple";
    assert_eq!(
        app.signup("secret@test.com", password).await.status(),
        StatusCode::CREATED
    );
    let response = app.login("secret@test.com", password).await;
    assert_eq!(response.status(), StatusCode::OK);
    let token = body(response).await["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.post_task(&token, "t", "x").await.status(),
        StatusCode::CREATED
    );
    assert_eq!(app.get_tasks(&token, "").await.status(), StatusCode::OK);
    let _ = app.login("secret@test.com", "wrong-password-123").await;

    let sub = token_subject(&token);
    let secret = &app.config.jwt_secret;
    let kid = Some(auth_api::key_id(secret.as_bytes()));
    let other_secret = "another-secret-another-secret-xx";
    let (iat, now) = (now() - 100, now());
    // What auth issues; each forgery below changes one thing.
    let genuine = json!({
        "sub": sub, "iss": auth_api::ISSUER, "aud": auth_api::AUDIENCE, "iat": iat, "exp": now + 600,
    });
    let changed = |key: &str, value: Value| {
        let mut claims = genuine.clone();
        claims[key] = value;
        claims
    };
    let mut without_aud = genuine.clone();
    without_aud.as_object_mut().unwrap().remove("aud");
    let refused = [
        sign(&changed("exp", json!(now - 1)), secret, kid.clone()),
        sign(&changed("iss", json!("someone-else")), secret, kid.clone()),
        sign(&changed("aud", json!("users-api")), secret, kid.clone()),
        sign(&without_aud, secret, kid.clone()),
        sign(&changed("sub", json!("")), secret, kid.clone()),
        sign(&changed("nbf", json!(now + 600)), secret, kid.clone()),
        // Another key, under its own kid, under ours, and under none.
        sign(
            &genuine,
            other_secret,
            Some(auth_api::key_id(other_secret.as_bytes())),
        ),
        sign(&genuine, other_secret, kid.clone()),
        sign(&genuine, secret, None),
        with_header(&token, r#"{"alg":"RS256","typ":"JWT"}"#),
        with_header(&token, r#"{"alg":"none","typ":"JWT"}"#),
        with_payload(&token, &changed("sub", json!("someone")).to_string()),
    ];
    for forged in &refused {
        expect_error(app.get_tasks(forged, "").await, StatusCode::UNAUTHORIZED).await;
    }
    let still_valid = sign(&genuine, secret, kid);
    assert_eq!(
        app.get_tasks(&still_valid, "").await.status(),
        StatusCode::OK,
        "the control case passes"
    );

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("/signup") && logs.contains("/verify-token"),
        "logs were captured"
    );
    for caller in ["users-api", "tasks-api"] {
        let span = format!(r#"caller{{caller="{caller}"}}"#);
        assert!(logs.contains(&span), "auth's lines name the caller: {span}");
    }
    for secret_text in [
        password,
        "wrong-password-123",
        token.as_str(),
        secret.as_str(),
        app.config.users_api_key.as_str(),
        app.config.tasks_api_key.as_str(),
    ] {
        assert!(
            !logs.contains(secret_text),
            "{secret_text:?} reached the logs"
        );
    }
    let signature = token.rsplit('.').next().unwrap();
    assert!(
        !logs.contains(signature),
        "a token signature reached the logs"
    );
}

fn token_subject(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let json = base64url_decode(payload);
    let claims: serde_json::Value = serde_json::from_slice(&json).unwrap();
    claims["sub"].as_str().unwrap().to_owned()
}

fn with_header(token: &str, header: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[0] = base64url_encode(header.as_bytes());
    parts.join(".")
}

fn with_payload(token: &str, payload: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = base64url_encode(payload.as_bytes());
    parts.join(".")
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn base64url_decode(text: &str) -> Vec<u8> {
    let values: Vec<u32> = text
        .bytes()
        .map(|c| ALPHABET.iter().position(|a| *a == c).unwrap() as u32)
        .collect();
    let mut out = Vec::new();
    for chunk in values.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, v)| acc | (v << (18 - 6 * i)));
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}
