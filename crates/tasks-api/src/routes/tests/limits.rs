//! What keeps one user, and the store as a whole, within bounds: the per-user cap (409) and
//! the byte budget (507, reads go on).

use std::fs;

use axum::http::{Method, StatusCode};
use test_support::oneshot::{request, send};

use super::{TestApp, titles};
use crate::TASKS_FILE;

#[tokio::test]
async fn a_user_at_the_cap_gets_409_and_other_users_are_not_held_back() {
    let app = TestApp::spawn_with(|config| config.max_tasks_per_user = 3).await;
    let (ana, bob) = (app.token("ana"), app.token("bob"));
    for n in 1..=3 {
        let created = app.post_task(&ana, &format!("task {n}"), "x").await;
        assert_eq!(created.status, StatusCode::CREATED);
    }
    let message = app
        .post_task(&ana, "one too many", "x")
        .await
        .expect_error(StatusCode::CONFLICT);
    assert_eq!(
        message,
        "You already have 3 tasks, the most one user may store."
    );
    assert_eq!(
        app.post_task(&bob, "mine", "x").await.status,
        StatusCode::CREATED
    );
    let listed = app.get_tasks(&ana, "").await;
    assert_eq!(titles(&listed.body), ["task 1", "task 2", "task 3"]);
}

#[tokio::test]
async fn a_store_at_its_budget_answers_507_and_reads_metrics_and_readiness_go_on() {
    const BUDGET: u64 = 2_000;
    let app = TestApp::spawn_with(|config| config.store_budget = Some(BUDGET)).await;
    let token = app.token("ana");
    let mut stored = Vec::new();
    let refusal = loop {
        let title = format!("task {}", stored.len() + 1);
        let answer = app.post_task(&token, &title, "Fill the budget.").await;
        if answer.status != StatusCode::CREATED {
            break answer;
        }
        stored.push(title);
        assert!(stored.len() < 100, "the budget never stopped a write");
    };
    let message = refusal.expect_error(StatusCode::INSUFFICIENT_STORAGE);
    assert!(message.contains("size budget"), "{message}");

    let file = fs::metadata(app.data.path().join("tasks").join(TASKS_FILE)).unwrap();
    assert!(file.len() <= BUDGET, "{} bytes", file.len());
    let listed = app.get_tasks(&token, "?limit=100").await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(titles(&listed.body), stored);
    assert_eq!(
        app.readyz().await.status,
        StatusCode::OK,
        "still ready: reads work"
    );

    let metrics = send(&app.router, request(Method::GET, "/metrics", None, None)).await;
    let text = metrics.body.as_str().unwrap_or_default().to_owned();
    for line in [
        format!("store_bytes{{kind=\"tasks\"}} {}", file.len()),
        format!("store_budget_bytes{{kind=\"tasks\"}} {BUDGET}"),
        format!("stored_records{{kind=\"tasks\"}} {}", stored.len()),
    ] {
        assert!(text.contains(&line), "no {line:?} in {text}");
    }
}
