//! The lesson's walk-through and every error path of the public contract, over real HTTP.

mod support;

use reqwest::StatusCode;
use serde_json::json;
use support::*;

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
        "empty before the first POST (the original answered 500)"
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
async fn signup_refuses_bad_input_and_duplicates() {
    let app = spawn_stack().await;
    let post = |body: serde_json::Value| app.http.post(app.users("/signup")).json(&body).send();

    for body in [
        json!({ "email": "test@test.com" }),
        json!({ "password": "testers" }),
        json!({ "email": "", "password": "testers" }),
        json!({ "email": "test@test.com", "password": "   " }),
        json!({ "email": "not-an-email", "password": "testers" }),
        json!({ "email": 42, "password": "testers" }),
        json!({ "email": "test@test.com", "password": "testers", "admin": true }),
    ] {
        expect_error(post(body).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    }

    assert_eq!(
        app.signup("test@test.com", "testers").await.status(),
        StatusCode::CREATED
    );
    let message = expect_error(
        app.signup("test@test.com", "other").await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(message.contains("already exists"));
    expect_error(
        app.signup(" TEST@test.COM ", "x").await,
        StatusCode::CONFLICT,
    )
    .await;
}

#[tokio::test]
async fn concurrent_signups_for_one_email_create_exactly_one_user() {
    let app = spawn_stack().await;
    let (first, second, third) = tokio::join!(
        app.signup("race@test.com", "a"),
        app.signup("race@test.com", "b"),
        app.signup("race@test.com", "c"),
    );
    let mut statuses = [first.status(), second.status(), third.status()];
    statuses.sort();
    assert_eq!(
        statuses,
        [
            StatusCode::CREATED,
            StatusCode::CONFLICT,
            StatusCode::CONFLICT
        ]
    );
}

#[tokio::test]
async fn login_does_not_tell_unknown_emails_from_wrong_passwords() {
    let app = spawn_stack().await;
    app.token_for("test@test.com").await;
    let wrong_password = expect_error(
        app.login("test@test.com", "nope").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let unknown_email = expect_error(
        app.login("nobody@test.com", "testers").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(wrong_password, unknown_email);
    let seed_style = expect_error(
        app.login("test@test.com", "testers_hash").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(
        seed_style, wrong_password,
        "the seed's dummy hash is no longer a password"
    );
    expect_error(
        app.http
            .post(app.users("/login"))
            .json(&json!({ "email": "test@test.com" }))
            .send()
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

#[tokio::test]
async fn tasks_refuse_missing_malformed_and_forged_tokens() {
    let app = spawn_stack().await;
    let token = app.token_for("test@test.com").await;
    let tampered = {
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[2] = parts[2].chars().rev().collect();
        parts.join(".")
    };
    let alg_none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1MSIsImlzcyI6Imt1Yi1uZXR3b3JrLWF1dGgiLCJpYXQiOjAsImV4cCI6OTk5OTk5OTk5OX0.";
    let headers = [
        None,
        Some("abc".to_owned()),
        Some(format!("Basic {token}")),
        Some("Bearer".to_owned()),
        Some(format!("Bearer {token} {token}")),
        Some("Bearer abc".to_owned()),
        Some(format!("Bearer {tampered}")),
        Some(format!("Bearer {alg_none}")),
    ];
    for header in headers {
        for method in [reqwest::Method::GET, reqwest::Method::POST] {
            let mut request = app.http.request(method.clone(), app.tasks("/tasks"));
            if let Some(value) = &header {
                request = request.header("authorization", value);
            }
            let response = request
                .json(&json!({ "title": "t", "text": "x" }))
                .send()
                .await
                .unwrap();
            expect_error(response, StatusCode::UNAUTHORIZED).await;
        }
    }
    assert!(
        body(app.get_tasks(&token, "").await).await["tasks"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn each_user_sees_only_their_own_tasks() {
    let app = spawn_stack().await;
    let ana = app.token_for("ana@test.com").await;
    let bob = app.token_for("bob@test.com").await;
    app.post_task(&ana, "ana 1", "x").await;
    app.post_task(&bob, "bob 1", "x").await;
    app.post_task(&ana, "ana 2", "x").await;
    assert_eq!(
        titles(&body(app.get_tasks(&ana, "").await).await),
        ["ana 1", "ana 2"]
    );
    assert_eq!(
        titles(&body(app.get_tasks(&bob, "").await).await),
        ["bob 1"]
    );
}

#[tokio::test]
async fn tasks_are_paginated_oldest_first_by_cursor() {
    let app = spawn_stack().await;
    let token = app.token_for("test@test.com").await;
    for n in 1..=25 {
        assert_eq!(
            app.post_task(&token, &format!("task {n}"), "x")
                .await
                .status(),
            StatusCode::CREATED
        );
    }
    let first = body(app.get_tasks(&token, "").await).await;
    let expected: Vec<String> = (1..=20).map(|n| format!("task {n}")).collect();
    assert_eq!(
        titles(&first),
        expected,
        "default page size 20, newest last"
    );
    let cursor = first["nextAfter"].as_u64().unwrap();

    let second = body(app.get_tasks(&token, &format!("?after={cursor}")).await).await;
    let expected: Vec<String> = (21..=25).map(|n| format!("task {n}")).collect();
    assert_eq!(titles(&second), expected);
    assert!(second["nextAfter"].is_null());

    let small = body(app.get_tasks(&token, "?limit=3").await).await;
    assert_eq!(titles(&small), ["task 1", "task 2", "task 3"]);

    for query in [
        "?limit=0",
        "?limit=101",
        "?limit=abc",
        "?after=-1",
        "?after=x",
    ] {
        expect_error(app.get_tasks(&token, query).await, StatusCode::BAD_REQUEST).await;
    }
}

#[tokio::test]
async fn task_bodies_are_checked() {
    let app = spawn_stack().await;
    let token = app.token_for("test@test.com").await;
    let post = |body: serde_json::Value| {
        app.http
            .post(app.tasks("/tasks"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    for body in [
        json!({ "title": "t" }),
        json!({ "text": "x" }),
        json!({ "title": "", "text": "x" }),
        json!({ "title": "t", "text": " " }),
        json!({ "title": 1, "text": "x" }),
        json!({ "title": "x".repeat(201), "text": "x" }),
        json!({ "title": "t", "text": "x", "done": true }),
    ] {
        expect_error(post(body).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let unicode = "שלום 👋 عربى — «ok»";
    let created = body(
        app.post_task(&token, unicode, "'; DROP TABLE tasks; -- ../../etc/passwd")
            .await,
    )
    .await;
    assert_eq!(created["createdTask"]["title"], unicode);
    let listed = body(app.get_tasks(&token, "").await).await;
    assert_eq!(
        listed["tasks"][0]["text"],
        "'; DROP TABLE tasks; -- ../../etc/passwd"
    );
}

#[tokio::test]
async fn every_service_answers_json_for_protocol_errors_and_probes() {
    let app = spawn_stack().await;
    let services = [
        (app.stack.auth.url(), "/hashed-password"),
        (app.stack.users.url(), "/signup"),
        (app.stack.tasks.url(), "/tasks"),
    ];
    let token = app.token_for("test@test.com").await;
    for (base, route) in services {
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
                .bearer_auth(&token)
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
