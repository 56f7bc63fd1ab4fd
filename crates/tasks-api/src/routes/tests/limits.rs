//! What keeps one user, and the store as a whole, within bounds: the per-user cap and byte
//! quota (409), the per-user rate limit on new tasks (429), and the byte budget (507, reads go
//! on).

use std::{fs, str::FromStr};

use axum::http::{StatusCode, header::RETRY_AFTER};

use super::{TestApp, titles};
use crate::{MAX_TEXT_CHARS, RateLimit, TASKS_FILE};

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

    let text = app.metrics.render();
    for line in [
        format!("store_bytes{{kind=\"tasks\"}} {}", file.len()),
        format!("store_budget_bytes{{kind=\"tasks\"}} {BUDGET}"),
        format!("stored_records{{kind=\"tasks\"}} {}", stored.len()),
    ] {
        assert!(text.contains(&line), "no {line:?} in {text}");
    }
}

/// The largest text the API accepts, of control characters: 10,000 characters, 60,000 bytes
/// once JSON-escaped (`\u0001` each) in the stored line.
fn control_characters() -> String {
    "\u{1}".repeat(MAX_TEXT_CHARS)
}

#[tokio::test]
async fn the_byte_quota_counts_a_task_as_stored_json_escaping_included() {
    const QUOTA: u64 = 100_000;
    let app = TestApp::spawn_with(|config| config.max_bytes_per_user = QUOTA).await;
    let (ana, bob) = (app.token("ana"), app.token("bob"));
    let text = control_characters();
    let first = app.post_task(&ana, "escaped", &text).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    // Ten thousand characters are a tenth of the quota; stored, they take more than half.
    let message = app
        .post_task(&ana, "escaped", &text)
        .await
        .expect_error(StatusCode::CONFLICT);
    let line = fs::metadata(app.data.path().join("tasks").join(TASKS_FILE))
        .unwrap()
        .len();
    assert!(line > 60_000, "{line} bytes on disk");
    let counted = line + 19; // the id (1) counted as 20 digits
    assert_eq!(
        message,
        format!(
            "This task takes {counted} bytes as stored, and your tasks already take {counted} of the {QUOTA} bytes one user may store."
        )
    );
    let small = app.post_task(&ana, "small", "fits in what is left").await;
    assert_eq!(small.status, StatusCode::CREATED, "{:?}", small.body);
    let others = app.post_task(&bob, "escaped", &text).await;
    assert_eq!(
        others.status,
        StatusCode::CREATED,
        "others have their own quota"
    );
    assert_eq!(
        titles(&app.get_tasks(&ana, "").await.body),
        ["escaped", "small"]
    );
}

#[tokio::test]
async fn new_tasks_faster_than_the_users_limit_get_429_with_retry_after() {
    let app = TestApp::spawn_with(|config| {
        config.task_limit_per_user = RateLimit::from_str("3/min").unwrap();
    })
    .await;
    let (ana, bob) = (app.token("ana"), app.token("bob"));
    for n in 1..=3 {
        let created = app.post_task(&ana, &format!("task {n}"), "x").await;
        assert_eq!(created.status, StatusCode::CREATED);
    }
    let refused = app.post_task(&ana, "task 4", "x").await;
    let message = refused.expect_error(StatusCode::TOO_MANY_REQUESTS);
    assert!(
        message.starts_with("Too many new tasks from you; try again in "),
        "{message}"
    );
    let retry_after: u64 = refused.headers[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    assert_eq!(
        app.post_task(&bob, "mine", "x").await.status,
        StatusCode::CREATED
    );
    let listed = app.get_tasks(&ana, "").await;
    assert_eq!(
        titles(&listed.body),
        ["task 1", "task 2", "task 3"],
        "reads go on"
    );
    let counted = r#"http_requests_throttled_total{reason="per_user",route="/tasks"} 1"#;
    assert!(
        app.metrics.render().contains(counted),
        "{}",
        app.metrics.render()
    );
}
