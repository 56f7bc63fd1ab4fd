//! Crash safety with real processes and real signals: tasks-api is SIGKILLed at a random
//! moment under 64 concurrent writers, restarted on the same folder, and every task that got
//! a 201 must be in the file exactly once (and the file must load). Then the same under
//! SIGTERM, which must also exit 0.

use std::{fs, path::Path, time::Duration};

use auth_api::{AppState, Config};
use kub_common::{server::RunningServer, testing::*};
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_tasks-api");
const ROUNDS: u64 = 20;
const WRITERS: usize = 64;

fn stored_titles(folder: &Path) -> Vec<String> {
    fs::read_to_string(folder.join("tasks.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .map(|task| task["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_task_is_lost_across_sigkill_and_sigterm() {
    let secret = "0123456789abcdef0123456789abcdef";
    let auth_config = Config {
        jwt_secret: secret.into(),
        token_ttl: Duration::from_secs(600),
    };
    let state = AppState::new(&auth_config);
    let token = state.tokens.issue("crash-tester").unwrap();
    let auth = RunningServer::start("127.0.0.1:0".parse().unwrap(), auth_api::router(state))
        .await
        .unwrap();
    let auth_address = auth.addr.to_string();
    let data = tempfile::tempdir().unwrap();
    let folder = data.path().join("tasks");
    let folder_str = folder.to_str().unwrap().to_owned();
    let mut jitter = Jitter::from_env_or_clock();
    let mut acked_total = Vec::new();

    let start = |port: &str| {
        command(
            BINARY,
            &[
                ("PORT", port),
                ("AUTH_ADDRESS", &auth_address),
                ("TASKS_FOLDER", &folder_str),
            ],
        )
        .spawn()
        .unwrap()
    };
    let title = |n: u64| format!("task-{n}");

    for round in 0..ROUNDS {
        let port = free_port();
        let child = start(&port.to_string());
        wait_until_ok(port, "/readyz");
        let url = format!("http://127.0.0.1:{port}/tasks");
        let token = token.clone();
        let kill_after = jitter.between(Duration::from_millis(50), Duration::from_millis(400));
        let acked = acknowledged_before_sigkill(
            child,
            WRITERS,
            round * 1_000_000,
            kill_after,
            move |client, n| {
                client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({ "title": title(n), "text": "x" }))
            },
        )
        .await;
        acked_total.extend(acked);
        assert_each_once(&acked_total, &stored_titles(&folder), title);
    }

    // One more start proves the last SIGKILL left a loadable file; then a SIGTERM under load.
    let port = free_port();
    let child = start(&port.to_string());
    wait_until_ok(port, "/readyz");
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/tasks");
    let in_flight: Vec<_> = (0..WRITERS as u64)
        .map(|n| {
            let request = client
                .post(&url)
                .bearer_auth(&token)
                .json(&json!({ "title": title(900_000_000 + n), "text": "x" }));
            tokio::spawn(async move {
                request
                    .send()
                    .await
                    .ok()
                    .map(|response| response.status().as_u16())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(5)).await;
    terminate(&child);
    let mut outcomes = Vec::new();
    for request in in_flight {
        outcomes.push(request.await.unwrap());
    }
    let output = wait_with_deadline(child, Duration::from_secs(10));
    assert!(
        exited_cleanly(output.status),
        "SIGTERM must exit 0: {:?}",
        output.status
    );
    for (n, status) in outcomes.iter().enumerate() {
        if let Some(status) = status {
            assert_eq!(*status, 201, "write {n} during shutdown");
            acked_total.push(900_000_000 + n as u64);
        }
    }
    assert_each_once(&acked_total, &stored_titles(&folder), title);
    eprintln!(
        "crash safety (tasks): {ROUNDS} SIGKILL rounds + 1 SIGTERM, {} acknowledged writes, 0 lost",
        acked_total.len()
    );
    auth.stop().await.unwrap();
}
