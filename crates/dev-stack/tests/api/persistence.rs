//! The file store's own promises: a crash's torn line does not stop a restart, and damage
//! anywhere else stops start-up rather than losing records silently. (That restarts keep
//! everything, on either backend: `storage.rs`.)

use std::{fs, io::Write};

use crate::support::*;
use dev_stack::{start_tasks, start_tasks_with};
use reqwest::StatusCode;

#[tokio::test]
async fn a_torn_last_line_is_dropped_and_the_service_starts() {
    let app = spawn_stack().await;
    let token = app.token_for("test@test.com").await;
    app.post_task(&token, "whole", "x").await;
    let dev_stack::Stack { auth, users, tasks } = app.stack;
    tasks.stop().await.unwrap();

    let file = app.data.path().join("tasks/tasks.jsonl");
    fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap()
        .write_all(b"{\"id\":2,\"owner\":\"x\",\"title\":\"tor")
        .unwrap();

    let auth_address = auth.addr.to_string();
    let config = app.config.tasks_config(&auth_address).unwrap();
    let tasks = restart(|| start_tasks_with(loopback(), &config)).await;
    let app = TestStack {
        stack: dev_stack::Stack { auth, users, tasks },
        ..app
    };
    assert_eq!(
        titles(&body(app.get_tasks(&token, "").await).await),
        ["whole"]
    );
    assert_eq!(
        app.post_task(&token, "next", "x").await.status(),
        StatusCode::CREATED
    );
    let content = fs::read_to_string(&file).unwrap();
    assert!(content.ends_with('\n'));
    for line in content.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|_| panic!("damaged line {line:?}"));
    }
    assert_eq!(content.lines().count(), 2);
}

#[tokio::test]
async fn damage_in_the_middle_of_the_file_stops_start_up_with_the_line_number() {
    let folder = tempfile::tempdir().unwrap();
    fs::write(
        folder.path().join("tasks.jsonl"),
        "{\"id\":1,\"owner\":\"u\",\"title\":\"a\",\"text\":\"b\",\"createdAt\":\"x\"}\nnot json\n{\"id\":3,\"owner\":\"u\",\"title\":\"a\",\"text\":\"b\",\"createdAt\":\"x\"}\n",
    )
    .unwrap();
    let error = start_tasks(loopback(), "127.0.0.1:9", folder.path().to_owned())
        .await
        .err()
        .expect("a damaged store must not be served");
    assert!(error.to_string().contains("line 2"), "{error}");
}
