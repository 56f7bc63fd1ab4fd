//! Two tasks-api processes on one PostgreSQL database, 64 writers spread over both, and one
//! replica SIGKILLed mid-flight: every task that got a 201 is stored exactly once, and the
//! surviving replica lists them all.

use std::{fs::File, path::Path, process::Child, time::Duration};

use serde_json::json;
use test_support::{
    auth::{spawn_auth, tasks_api_key},
    command,
    crash::{Jitter, acknowledged_before_sigkill, assert_each_once},
    free_port,
    postgres::shared,
    wait_until_ok,
};

/// A tasks-api process; its log goes to `log` (a pipe nobody reads would fill up and stall it).
fn start_replica(vars: &[(&str, &str)], log: &Path) -> (Child, String) {
    let port = free_port().to_string();
    let mut all = vec![("PORT", port.as_str())];
    all.extend_from_slice(vars);
    let log = File::create(log).expect("a log file");
    let child = command(env!("CARGO_BIN_EXE_tasks-api"), &all)
        .stdout(log.try_clone().expect("the log"))
        .stderr(log)
        .spawn()
        .expect("tasks-api starts");
    wait_until_ok(port.parse().unwrap(), "/readyz");
    (child, format!("http://127.0.0.1:{port}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_under_64_writers_loses_no_acknowledged_task() {
    let (auth, state) = spawn_auth().await;
    let token = state.tokens.issue("replica-tester").unwrap();
    let server = shared();
    let database = server.create_database();
    let auth_address = auth.addr.to_string();
    let vars = [
        ("AUTH_ADDRESS", auth_address.as_str()),
        ("AUTH_API_KEY", tasks_api_key()),
        ("DATABASE_URL", database.as_str()),
        ("MAX_TASKS_PER_USER", "10000000"),
        ("MAX_BYTES_PER_USER", "1Ti"),
        ("TASK_LIMIT_PER_USER", "off"),
    ];
    let logs = tempfile::tempdir().unwrap();
    let (doomed, doomed_url) = start_replica(&vars, &logs.path().join("doomed.log"));
    let (mut survivor, survivor_url) = start_replica(&vars, &logs.path().join("survivor.log"));

    let replicas = [doomed_url, survivor_url.clone()];
    let kill_after =
        Jitter::from_env_or_clock().between(Duration::from_millis(300), Duration::from_millis(900));
    let acked = acknowledged_before_sigkill(doomed, 64, 0, kill_after, move |client, n| {
        client
            .post(format!("{}/tasks", replicas[(n % 2) as usize]))
            .bearer_auth(&token)
            .json(&json!({ "title": format!("task-{n}"), "text": "x" }))
    })
    .await;
    assert!(acked.len() > 64, "only {} writes acknowledged", acked.len());

    let database_name = database.rsplit('/').next().unwrap();
    let stored = server.psql(database_name, "SELECT title FROM tasks.tasks");
    assert_each_once(&acked, &stored, |n| format!("task-{n}"));

    let listed: serde_json::Value = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
        .get(format!("{survivor_url}/tasks?limit=100"))
        .bearer_auth(state.tokens.issue("replica-tester").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["message"], "Tasks loaded.",
        "the survivor still serves"
    );
    eprintln!(
        "replica SIGKILLed after {kill_after:?} under 64 writers: {} acknowledged, {} stored, 0 lost, 0 twice",
        acked.len(),
        stored.len()
    );
    survivor.kill().unwrap();
    survivor.wait().unwrap();
    auth.stop().await.unwrap();
}
