//! The lesson's walk-through across the three services, and what every service answers the
//! same way (protocol errors, probes, request ids), over real HTTP. Each route's own error
//! paths are tested beside it, in `crates/<service>/src/routes/tests.rs`.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn signup_login_then_store_and_load_tasks() {
    let app = spawn_stack().await;

    let response = app.signup("test@test.com", "testers").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(body(response).await, json!({ "message": "User created!" }));

    let response = app.login("test@test.com", "testers").await;
    assert_eq!(response.status(), StatusCode::OK);
    let token = body(response).await["token"].as_str().unwrap().to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT");

    let response = app.get_tasks(&token, "").await;
    assert_eq!(response.status(), StatusCode::OK);
    let listed = body(response).await;
    assert_eq!(listed["message"], "Tasks loaded.");
    assert_eq!(
        listed["tasks"],
        json!([]),
        "an empty list before the first POST, not an error"
    );

    let response = app.post_task(&token, "A dummy task", "Do it!").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created = body(response).await;
    assert_eq!(created["message"], "Task stored.");
    let task = &created["createdTask"];
    assert_eq!(task["title"], "A dummy task");
    assert_eq!(task["text"], "Do it!");
    assert!(task["id"].is_u64());
    assert!(task["createdAt"].as_str().unwrap().ends_with('Z'));
    assert!(task.get("owner").is_none());

    let listed = body(app.get_tasks(&token, "").await).await;
    assert_eq!(listed["tasks"], json!([task]));
}

#[tokio::test]
async fn every_service_answers_json_for_protocol_errors_and_probes() {
    let app = spawn_stack().await;
    let token = app.token_for("test@test.com").await;
    // Each with the credential it wants (auth: its caller's key; tasks: a user's token).
    let services = [
        (
            app.stack.auth.url(),
            "/hashed-password",
            app.config.users_api_key.clone(),
        ),
        (app.stack.users.url(), "/signup", token.clone()),
        (app.stack.tasks.url(), "/tasks", token),
    ];
    for (base, route, credential) in services {
        let http = &app.http;
        let url = format!("{base}{route}");
        expect_error(
            http.get(format!("{base}/nope")).send().await.unwrap(),
            StatusCode::NOT_FOUND,
        )
        .await;
        expect_error(
            http.delete(&url).send().await.unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
        )
        .await;
        let post = || {
            http.post(&url)
                .bearer_auth(&credential)
                .header("content-type", "application/json")
        };
        expect_error(
            post().body("{,}").send().await.unwrap(),
            StatusCode::BAD_REQUEST,
        )
        .await;
        expect_error(
            post().body("[1, 2]").send().await.unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        let huge = format!("{{\"password\":\"{}\"}}", "a".repeat(65 * 1024));
        expect_error(
            post().body(huge).send().await.unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
        )
        .await;
        expect_error(
            post().body(vec![0xff, 0xfe, 0x00]).send().await.unwrap(),
            StatusCode::BAD_REQUEST,
        )
        .await;

        for probe in ["/healthz", "/readyz"] {
            let response = http.get(format!("{base}{probe}")).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{base}{probe}");
        }
    }
}

#[tokio::test]
async fn request_ids_are_generated_or_kept_and_echoed() {
    let app = spawn_stack().await;
    let response = app.http.get(app.tasks("/healthz")).send().await.unwrap();
    let generated = response
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    let response = app
        .http
        .get(app.users("/nope"))
        .header("x-request-id", "trace-me-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers().get("x-request-id").unwrap(),
        "trace-me-1"
    );
}
