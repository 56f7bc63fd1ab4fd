//! What every backend promises, over real HTTP (run on the files by `tests/api/`, on
//! PostgreSQL by `tests/api_postgres/`): an email is registered once, each user sees only
//! their own tasks, pages walk them by cursor, the per-user cap holds, and a restart keeps
//! everything.

use crate::support::*;
use dev_stack::{Stack, start_tasks_with, start_users_with};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn an_email_is_registered_once_and_only_its_password_logs_in() {
    let app = spawn_stack().await;
    assert_eq!(
        app.signup("test@test.com", PASSWORD).await.status(),
        StatusCode::CREATED
    );
    expect_error(
        app.signup("test@test.com", "another password").await,
        StatusCode::CONFLICT,
    )
    .await;
    expect_error(
        app.login("test@test.com", "another password").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    expect_error(
        app.login("nobody@test.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    expect_error(
        app.signup("not-an-email", PASSWORD).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        app.login("test@test.com", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn each_user_sees_only_their_own_tasks() {
    let app = spawn_stack().await;
    let ana = app.token_for("ana@test.com").await;
    let bob = app.token_for("bob@test.com").await;
    for (token, title) in [(&ana, "ana 1"), (&bob, "bob 1"), (&ana, "ana 2")] {
        let response = app.post_task(token, title, "x").await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let listed = body(app.get_tasks(&ana, "").await).await;
    assert_eq!(titles(&listed), ["ana 1", "ana 2"]);
    let listed = body(app.get_tasks(&bob, "").await).await;
    assert_eq!(titles(&listed), ["bob 1"]);
    let carol = app.token_for("carol@test.com").await;
    let listed = body(app.get_tasks(&carol, "").await).await;
    assert_eq!(listed["tasks"], json!([]));
    assert_eq!(listed["nextAfter"], Value::Null);
}

#[tokio::test]
async fn pages_walk_a_users_tasks_oldest_first_by_cursor() {
    let app = spawn_stack().await;
    let token = app.token_for("pager@test.com").await;
    let other = app.token_for("other@test.com").await;
    for n in 1..=5 {
        app.post_task(&token, &format!("task {n}"), "x").await;
        app.post_task(&other, "not mine", "x").await;
    }
    let tasks = walk(&app.http, &[app.tasks("")], &token, 2).await;
    let walked: Vec<&str> = tasks
        .iter()
        .map(|task| task["title"].as_str().unwrap())
        .collect();
    let ids = ids(&tasks);
    assert_eq!(walked, ["task 1", "task 2", "task 3", "task 4", "task 5"]);
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
    let last = body(app.get_tasks(&token, &format!("?after={}", ids[4])).await).await;
    assert_eq!(last["tasks"], json!([]));
    for bad in ["?limit=0", "?limit=101", "?after=-1", "?after=abc"] {
        expect_error(app.get_tasks(&token, bad).await, StatusCode::BAD_REQUEST).await;
    }
}

#[tokio::test]
async fn no_user_stores_more_than_the_cap_and_bad_tasks_store_nothing() {
    let app = spawn_stack().await;
    let token = app.token_for("capped@test.com").await;
    let Stack { auth, users, tasks } = app.stack;
    tasks.stop().await.unwrap();
    let mut config = app.config.tasks_config(&auth.addr.to_string()).unwrap();
    config.max_tasks_per_user = 3;
    let tasks = restart(|| start_tasks_with(loopback(), &config)).await;
    let app = TestStack {
        stack: Stack { auth, users, tasks },
        ..app
    };

    let mut racing = tokio::task::JoinSet::new();
    for n in 0..6 {
        let request = app
            .http
            .post(app.tasks("/tasks"))
            .bearer_auth(&token)
            .json(&json!({ "title": format!("race {n}"), "text": "x" }));
        racing.spawn(async move { request.send().await.unwrap().status() });
    }
    let stored = racing.join_all().await;
    let created = stored
        .iter()
        .filter(|status| **status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 3, "{stored:?}");
    assert!(
        stored
            .iter()
            .all(|status| *status == StatusCode::CREATED || *status == StatusCode::CONFLICT)
    );
    expect_error(
        app.post_task(&token, " ", "x").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let listed = body(app.get_tasks(&token, "").await).await;
    assert_eq!(listed["tasks"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn restarting_users_and_tasks_on_the_same_storage_keeps_everything() {
    let app = spawn_stack().await;
    let token = app.token_for("test@test.com").await;
    let first = body(app.post_task(&token, "survives", "restarts").await).await;
    let first_id = first["createdTask"]["id"].as_u64().unwrap();

    let Stack { auth, users, tasks } = app.stack;
    users.stop().await.unwrap();
    tasks.stop().await.unwrap();
    let auth_address = auth.addr.to_string();
    let users_config = app.config.users_config(&auth_address).unwrap();
    let tasks_config = app.config.tasks_config(&auth_address).unwrap();
    let users = restart(|| start_users_with(loopback(), &users_config)).await;
    let tasks = restart(|| start_tasks_with(loopback(), &tasks_config)).await;
    let app = TestStack {
        stack: Stack { auth, users, tasks },
        ..app
    };

    let response = app.login("test@test.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK, "the user is still there");
    expect_error(
        app.signup("test@test.com", PASSWORD).await,
        StatusCode::CONFLICT,
    )
    .await;
    let listed = body(app.get_tasks(&token, "").await).await;
    assert_eq!(titles(&listed), ["survives"]);
    let next = body(app.post_task(&token, "after restart", "x").await).await;
    assert!(
        next["createdTask"]["id"].as_u64().unwrap() > first_id,
        "ids continue after a restart"
    );
}
