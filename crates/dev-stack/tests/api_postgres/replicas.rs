//! What only several replicas on one database can break: two users-api racing for one email,
//! two tasks-api writing one user's tasks while a reader pages through them. (A replica
//! SIGKILLed under 64 writers: `crates/tasks-api/tests/replicas.rs`, with real processes.)

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
};

use crate::support::*;
use dev_stack::{start_tasks_with, start_users_with};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_replicas_racing_for_one_email_create_it_once() {
    let app = spawn_stack().await;
    let config = app
        .config
        .users_config(&app.stack.auth.addr.to_string())
        .unwrap();
    let second = start_users_with(loopback(), &config).await.unwrap();
    let replicas = [app.stack.users.url(), second.url()];
    // Under the per-address signup limit (10 a minute on each replica).
    for n in 0..8 {
        let email = format!("race{n}@test.com");
        let racing: Vec<_> = replicas
            .iter()
            .map(|base| {
                let request = app
                    .http
                    .post(format!("{base}/signup"))
                    .json(&json!({ "email": email, "password": PASSWORD }));
                tokio::spawn(async move { request.send().await.unwrap().status() })
            })
            .collect();
        let mut statuses = Vec::new();
        for signup in racing {
            statuses.push(signup.await.unwrap());
        }
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::CREATED, StatusCode::CONFLICT],
            "{email}"
        );
        for base in &replicas {
            let login = app
                .http
                .post(format!("{base}/login"))
                .json(&json!({ "email": email, "password": PASSWORD }))
                .send()
                .await
                .unwrap();
            assert_eq!(
                login.status(),
                StatusCode::OK,
                "{email} logs in through {base}"
            );
        }
    }
    second.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tasks_replicas_share_tasks_and_the_cursor_holds_while_both_write() {
    let app = spawn_stack().await;
    let mut config = app
        .config
        .tasks_config(&app.stack.auth.addr.to_string())
        .unwrap();
    // One user writes 100 tasks at once; TASK_LIMIT_PER_USER has its own tests.
    config.task_limit_per_user = tasks_api::RateLimit::Off;
    let first = start_tasks_with(loopback(), &config).await.unwrap();
    let second = start_tasks_with(loopback(), &config).await.unwrap();
    let replicas = vec![first.url(), second.url()];
    let token = app.token_for("writer@test.com").await;

    let through_first = app
        .http
        .post(format!("{}/tasks", replicas[0]))
        .bearer_auth(&token)
        .json(&json!({ "title": "through the first", "text": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(through_first.status(), StatusCode::CREATED);
    let listed = app
        .http
        .get(format!("{}/tasks", replicas[1]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        titles(&body(listed).await),
        ["through the first"],
        "the other replica lists it"
    );

    // 4 writers, each alternating between the replicas, while a reader walks the pages.
    let acked = Arc::new(Mutex::new(vec![
        ids(&walk(&app.http, &replicas, &token, 7).await)[0],
    ]));
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let (http, replicas, token, acked) = (
                app.http.clone(),
                replicas.clone(),
                token.clone(),
                acked.clone(),
            );
            tokio::spawn(async move {
                for n in 0..25 {
                    let base = &replicas[(writer + n) % 2];
                    let response = http
                        .post(format!("{base}/tasks"))
                        .bearer_auth(&token)
                        .json(&json!({ "title": format!("w{writer}-{n}"), "text": "x" }))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), StatusCode::CREATED);
                    let id = body(response).await["createdTask"]["id"].as_u64().unwrap();
                    acked.lock().unwrap().push(id);
                }
            })
        })
        .collect();
    let mut walks = 0;
    while writers.iter().any(|writer| !writer.is_finished()) {
        let acked_before: BTreeSet<u64> = acked.lock().unwrap().iter().copied().collect();
        let seen = ids(&walk(&app.http, &replicas, &token, 7).await);
        assert!(
            seen.windows(2).all(|pair| pair[0] < pair[1]),
            "ids increase: {seen:?}"
        );
        let seen: BTreeSet<u64> = seen.into_iter().collect();
        let missed: Vec<_> = acked_before.difference(&seen).collect();
        assert!(
            missed.is_empty(),
            "a walk missed tasks stored before it began: {missed:?}"
        );
        walks += 1;
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let all: Vec<u64> = ids(&walk(&app.http, &replicas, &token, 7).await);
    let mut expected = acked.lock().unwrap().clone();
    expected.sort_unstable();
    assert_eq!(all, expected, "every task once, in id order");
    assert_eq!(all.len(), 101);
    eprintln!(
        "cursor under two writing replicas: {walks} concurrent walks, 101 tasks, none missed"
    );
    first.stop().await.unwrap();
    second.stop().await.unwrap();
}
