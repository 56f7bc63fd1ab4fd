//! What keeps the store within its volume: the byte budget (507, logins go on).

use axum::http::StatusCode;

use super::{PASSWORD, TestApp};

#[tokio::test]
async fn a_store_at_its_budget_answers_507_to_signups_and_everyone_stored_still_logs_in() {
    const BUDGET: u64 = 1_000;
    let app = TestApp::spawn_with(|config| config.store_budget = Some(BUDGET)).await;
    let mut stored = Vec::new();
    let refusal = loop {
        let email = format!("user{}@example.com", stored.len());
        let answer = app.post("/signup", &email, PASSWORD).await;
        if answer.status != StatusCode::CREATED {
            break answer;
        }
        stored.push(email);
        assert!(stored.len() < 20, "the budget never stopped a signup");
    };
    let message = refusal.expect_error(StatusCode::INSUFFICIENT_STORAGE);
    assert!(message.contains("size budget"), "{message}");
    let file = std::fs::metadata(app.data.path().join("users/users.jsonl")).unwrap();
    assert!(file.len() <= BUDGET, "{} bytes", file.len());
    for email in &stored {
        let login = app.post("/login", email, PASSWORD).await;
        assert_eq!(login.status, StatusCode::OK, "{email}");
    }
    app.post("/signup", &stored[0], PASSWORD)
        .await
        .expect_error(StatusCode::CONFLICT);
}
