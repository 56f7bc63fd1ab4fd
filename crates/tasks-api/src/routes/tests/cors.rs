//! CORS for the tasks page served from another origin (dev-stack's page on port 3000).

use axum::http::{Method, StatusCode, header, header::HeaderValue};
use test_support::oneshot::{from_origin, preflight, request, send};

use super::TestApp;

const PAGE: &str = "http://localhost:3000";

#[tokio::test]
async fn only_the_allowed_origins_get_cors_headers_and_preflights_need_no_token() {
    let app = TestApp::spawn_with(|config| {
        config.cors.cors_origins = vec![HeaderValue::from_static(PAGE)];
    })
    .await;
    let allowed = send(&app.router, preflight("/tasks", PAGE)).await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert_eq!(
        allowed.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some(PAGE)
    );
    let headers = allowed
        .header(header::ACCESS_CONTROL_ALLOW_HEADERS)
        .unwrap();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );

    let foreign = send(&app.router, preflight("/tasks", "http://evil.example")).await;
    assert_eq!(foreign.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), None);

    let listed = request(Method::GET, "/tasks", None, Some(&app.token("u1")));
    let answer = send(&app.router, from_origin(listed, PAGE)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some(PAGE)
    );
    let exposed = answer
        .header(header::ACCESS_CONTROL_EXPOSE_HEADERS)
        .unwrap();
    assert!(
        exposed.contains("x-request-id"),
        "the page reads the request id: {exposed}"
    );
}

#[tokio::test]
async fn no_origin_is_allowed_by_default() {
    let app = TestApp::spawn().await;
    let answer = send(&app.router, preflight("/tasks", PAGE)).await;
    assert_eq!(answer.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), None);
}
