//! What every backend promises, over real HTTP (run on the files by `tests/api/`, on
//! PostgreSQL by `tests/api_postgres/`): an email is registered once, however it is written,
//! each user sees only their own tasks, pages walk them by cursor, the per-user cap and byte
//! quota hold, and a restart keeps everything.

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

#[tokio::test]
async fn one_address_is_one_account_however_unicode_writes_it() {
    let app = spawn_stack().await;
    let (composed, decomposed) = ("jos\u{e9}@test.com", "jose\u{301}@test.com");
    assert_eq!(
        app.signup(decomposed, PASSWORD).await.status(),
        StatusCode::CREATED
    );
    expect_error(app.signup(composed, PASSWORD).await, StatusCode::CONFLICT).await;
    assert_eq!(
        app.signup("user@b\u{fc}cher.de", PASSWORD).await.status(),
        StatusCode::CREATED
    );
    expect_error(
        app.signup("user@xn--bcher-kva.de", PASSWORD).await,
        StatusCode::CONFLICT,
    )
    .await;
    for email in [
        composed,
        decomposed,
        "user@xn--bcher-kva.de",
        "User@B\u{dc}cher.de",
    ] {
        let response = app.login(email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "{email:?}");
    }
}

/// A user stored by a version that only trimmed and lower-cased emails (`josé` decomposed, the
/// domain in Unicode) logs in as they signed up, and the address cannot be taken again. In the
/// file, any form of the address finds them (the index reads stored emails in their canonical
/// form); PostgreSQL looks for the canonical form, then the form as typed.
#[tokio::test]
async fn a_user_stored_before_emails_were_normalized_still_logs_in() {
    const LEGACY: &str = "jose\u{301}@b\u{fc}cher.de";
    let app = spawn_stack().await;
    app.token_for("seed@test.com").await;
    let in_the_file = app.config.database_url.is_none();
    let app = match app.config.database_url.clone() {
        Some(url) => {
            let database = url.rsplit('/').next().unwrap().split('?').next().unwrap();
            test_support::postgres::shared().psql(
                database,
                &format!(
                    "INSERT INTO users.users (id, email, password_hash) SELECT gen_random_uuid(), \
                     '{LEGACY}', password_hash FROM users.users WHERE email = 'seed@test.com'"
                ),
            );
            app
        }
        None => {
            let Stack { auth, users, tasks } = app.stack;
            users.stop().await.unwrap();
            let file = app.data.path().join("users").join(users_api::USERS_FILE);
            let seed: Value =
                serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            let legacy = json!({
                "id": "8d1c6a4e-5b0a-4f0e-9a53-2b3c1d0e7f11",
                "email": LEGACY,
                "passwordHash": seed["passwordHash"],
                "createdAt": seed["createdAt"],
            });
            let mut lines = std::fs::OpenOptions::new()
                .append(true)
                .open(&file)
                .unwrap();
            std::io::Write::write_all(&mut lines, format!("{legacy}\n").as_bytes()).unwrap();
            let config = app.config.users_config(&auth.addr.to_string()).unwrap();
            let users = restart(|| start_users_with(loopback(), &config)).await;
            TestStack {
                stack: Stack { auth, users, tasks },
                ..app
            }
        }
    };
    assert_eq!(app.login(LEGACY, PASSWORD).await.status(), StatusCode::OK);
    expect_error(app.signup(LEGACY, PASSWORD).await, StatusCode::CONFLICT).await;
    if in_the_file {
        for email in ["jos\u{e9}@b\u{fc}cher.de", "jos\u{e9}@xn--bcher-kva.de"] {
            assert_eq!(
                app.login(email, PASSWORD).await.status(),
                StatusCode::OK,
                "{email:?}"
            );
            expect_error(app.signup(email, PASSWORD).await, StatusCode::CONFLICT).await;
        }
    }
}

/// The byte quota counts a task as stored: 10,000 control characters are 10,000 characters,
/// a tenth of this quota, but 60,000 bytes once JSON-escaped (`\u0001`), so a second such task
/// does not fit. The same count on both backends.
#[tokio::test]
async fn a_task_of_control_characters_counts_against_the_byte_quota_as_stored() {
    const QUOTA: u64 = 100_000;
    let app = spawn_stack().await;
    let token = app.token_for("quota@test.com").await;
    let other = app.token_for("other@test.com").await;
    let Stack { auth, users, tasks } = app.stack;
    tasks.stop().await.unwrap();
    let mut config = app.config.tasks_config(&auth.addr.to_string()).unwrap();
    config.max_bytes_per_user = QUOTA;
    let tasks = restart(|| start_tasks_with(loopback(), &config)).await;
    let app = TestStack {
        stack: Stack { auth, users, tasks },
        ..app
    };

    let text = "\u{1}".repeat(tasks_api::MAX_TEXT_CHARS);
    // A stored line: 93 bytes (the id counted at 20 digits) around three JSON strings, the
    // owner being a user id of 36 characters.
    let stored = 93 + 38 + json!("escaped").to_string().len() + json!(text).to_string().len();
    assert!(stored > 60_000, "{stored}");
    let first = app.post_task(&token, "escaped", &text).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let message = expect_error(
        app.post_task(&token, "escaped", &text).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(
        message,
        format!(
            "This task takes {stored} bytes as stored, and your tasks already take {stored} of the {QUOTA} bytes one user may store."
        )
    );
    let small = app.post_task(&token, "small", "fits in what is left").await;
    assert_eq!(small.status(), StatusCode::CREATED);
    assert_eq!(
        app.post_task(&other, "escaped", &text).await.status(),
        StatusCode::CREATED
    );
    let listed = body(app.get_tasks(&token, "").await).await;
    assert_eq!(titles(&listed), ["escaped", "small"]);
}
