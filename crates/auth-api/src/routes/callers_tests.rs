//! Who may call auth-api, in-process (`oneshot`): no key or an unknown one is a 401 with a
//! challenge, another caller's route a 403, both before the body is read or anything hashed;
//! a previous key still works during a rotation; the probes need no key.

use axum::{
    Router,
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use kub_auth_wire::{
    HASHED_PASSWORD_ROUTE, TOKEN_ROUTE, VERIFY_TOKEN_ROUTE, caller::CALLER_CHALLENGE,
};
use serde_json::{Value, json};
use test_support::oneshot::{Answer, request, send};

use super::tests::{SECRET, TASKS_KEY, USERS_KEY, state_with};
use crate::{AppState, CallerSettings, TokenSettings, router};

const CALLER_ROUTES: [&str; 3] = [HASHED_PASSWORD_ROUTE, TOKEN_ROUTE, VERIFY_TOKEN_ROUTE];

fn state() -> AppState {
    state_with(
        &TokenSettings::with_secret(SECRET),
        &CallerSettings::with_keys(USERS_KEY, TASKS_KEY),
    )
}

/// A body each route would act on (hash, check, verify) if it got that far.
fn body_for(route: &str) -> Value {
    match route {
        HASHED_PASSWORD_ROUTE => json!({ "password": "testers" }),
        TOKEN_ROUTE => json!({
            "userId": "victim",
            "password": "x",
            "hashedPassword": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aoW3/K6HpRandF6ARS7krI5Une+cyQiOclMG2+qa80o",
        }),
        _ => json!({ "token": "a.b.c" }),
    }
}

/// POSTs `route`'s body with `Authorization` set to `authorization`, if any.
async fn call(app: &Router, route: &str, authorization: Option<&str>) -> Answer {
    let mut request = request(Method::POST, route, Some(&body_for(route)), None);
    if let Some(value) = authorization {
        let value = value.parse().unwrap();
        request.headers_mut().insert(header::AUTHORIZATION, value);
    }
    send(app, request).await
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

fn expect_unknown_caller(answer: &Answer) {
    let message = answer.expect_error(StatusCode::UNAUTHORIZED);
    assert!(message.contains("not known to auth"), "{message}");
    assert_eq!(
        answer.header(header::WWW_AUTHENTICATE),
        Some(CALLER_CHALLENGE)
    );
}

#[tokio::test]
async fn no_key_is_a_401_with_a_challenge_on_every_caller_route() {
    let state = state();
    let app = router(state.clone());
    for route in CALLER_ROUTES {
        expect_unknown_caller(&call(&app, route, None).await);
    }
    assert_eq!(state.hasher.jobs_submitted(), 0, "nothing was hashed");
}

#[tokio::test]
async fn an_unknown_or_malformed_key_is_a_401() {
    let app = router(state());
    let near_miss = format!("{}x", &USERS_KEY[..USERS_KEY.len() - 1]);
    let refused = [
        bearer(&near_miss),
        bearer("0123456789abcdef0123456789abcdef0123456789"),
        bearer(SECRET),
        bearer(""),
        format!("Basic {USERS_KEY}"),
        USERS_KEY.to_owned(),
        format!("Bearer{USERS_KEY}"),
    ];
    for authorization in &refused {
        for route in CALLER_ROUTES {
            let answer = call(&app, route, Some(authorization)).await;
            expect_unknown_caller(&answer);
        }
    }
}

#[tokio::test]
async fn tasks_api_may_not_hash_or_get_tokens_and_nothing_is_hashed() {
    let state = state();
    let app = router(state.clone());
    for route in [HASHED_PASSWORD_ROUTE, TOKEN_ROUTE] {
        let answer = call(&app, route, Some(&bearer(TASKS_KEY))).await;
        let message = answer.expect_error(StatusCode::FORBIDDEN);
        assert_eq!(message, format!("tasks-api may not call {route}."));
        assert_eq!(answer.header(header::WWW_AUTHENTICATE), None);
    }
    assert_eq!(state.hasher.jobs_submitted(), 0, "nothing was hashed");
    // The control: users-api's call of the same body is hashed.
    let answer = call(&app, HASHED_PASSWORD_ROUTE, Some(&bearer(USERS_KEY))).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert_eq!(state.hasher.jobs_submitted(), 1);
}

#[tokio::test]
async fn users_api_may_not_verify_tokens() {
    let state = state();
    let token = state.tokens.issue("user-42").unwrap();
    let app = router(state);
    let verify = |key: &'static str| {
        let app = app.clone();
        let token = token.clone();
        async move {
            let body = json!({ "token": token });
            let request = request(Method::POST, VERIFY_TOKEN_ROUTE, Some(&body), Some(key));
            send(&app, request).await
        }
    };
    let message = verify(USERS_KEY).await.expect_error(StatusCode::FORBIDDEN);
    assert_eq!(message, "users-api may not call /verify-token.");
    assert_eq!(verify(TASKS_KEY).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_refused_caller_is_answered_before_its_body_is_read() {
    let app = router(state());
    for route in CALLER_ROUTES {
        let request = Request::builder()
            .method(Method::POST)
            .uri(route)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"password":"#))
            .unwrap();
        expect_unknown_caller(&send(&app, request).await);
    }
}

#[tokio::test]
async fn during_a_rotation_the_previous_key_of_each_caller_still_works() {
    let (users_old, tasks_old) = (format!("{USERS_KEY}-old"), format!("{TASKS_KEY}-old"));
    let settings = CallerSettings {
        users_api_key_previous: Some(users_old.clone()),
        tasks_api_key_previous: Some(tasks_old.clone()),
        ..CallerSettings::with_keys(USERS_KEY, TASKS_KEY)
    };
    let state = state_with(&TokenSettings::with_secret(SECRET), &settings);
    let token = state.tokens.issue("user-42").unwrap();
    let app = router(state);
    for key in [USERS_KEY, users_old.as_str()] {
        let answer = call(&app, HASHED_PASSWORD_ROUTE, Some(&bearer(key))).await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    }
    for key in [TASKS_KEY, tasks_old.as_str()] {
        let body = json!({ "token": token });
        let request = request(Method::POST, VERIFY_TOKEN_ROUTE, Some(&body), Some(key));
        let answer = send(&app, request).await;
        assert_eq!(
            answer.body,
            json!({ "message": "Valid token.", "uid": "user-42" })
        );
    }
    // Each previous key is still only its own caller's.
    let answer = call(&app, TOKEN_ROUTE, Some(&bearer(&tasks_old))).await;
    answer.expect_error(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_caller_whose_key_is_unset_does_not_exist() {
    // Stage 2 of the lesson: auth inside the users Pod, no tasks-api.
    let settings = CallerSettings {
        tasks_api_key: None,
        ..CallerSettings::with_keys(USERS_KEY, TASKS_KEY)
    };
    let app = router(state_with(&TokenSettings::with_secret(SECRET), &settings));
    expect_unknown_caller(&call(&app, VERIFY_TOKEN_ROUTE, Some(&bearer(TASKS_KEY))).await);
    let answer = call(&app, HASHED_PASSWORD_ROUTE, Some(&bearer(USERS_KEY))).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn the_probes_need_no_key() {
    let app = router(state());
    for path in ["/healthz", "/readyz"] {
        let answer = send(&app, request(Method::GET, path, None, None)).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
    }
}
