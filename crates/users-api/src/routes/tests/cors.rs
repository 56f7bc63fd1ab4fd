//! CORS for the tasks page served from another origin: it signs up and logs in here.

use axum::http::{Method, StatusCode, header, header::HeaderValue};
use serde_json::json;
use test_support::oneshot::{from_origin, preflight, request, send};

use super::{PASSWORD, TestApp};

const PAGE: &str = "http://localhost:3000";

#[tokio::test]
async fn the_allowed_page_may_sign_up_and_log_in() {
    let app = TestApp::spawn_with(|config| {
        config.cors.cors_origins = vec![HeaderValue::from_static(PAGE)];
    })
    .await;
    for path in ["/signup", "/login"] {
        let answer = send(&app.router, preflight(path, PAGE)).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert_eq!(
            answer.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
            Some(PAGE)
        );
        let foreign = send(&app.router, preflight(path, "http://evil.example")).await;
        assert_eq!(foreign.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), None);
    }
    let body = json!({ "email": "page@test.com", "password": PASSWORD });
    let signup = request(Method::POST, "/signup", Some(&body), None);
    let answer = send(&app.router, from_origin(signup, PAGE)).await;
    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(
        answer.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some(PAGE)
    );
}

#[tokio::test]
async fn no_origin_is_allowed_by_default() {
    let app = TestApp::spawn().await;
    let answer = send(&app.router, preflight("/signup", PAGE)).await;
    assert_eq!(answer.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), None);
}
