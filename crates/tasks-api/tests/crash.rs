//! Crash safety with real processes and real signals: tasks-api is SIGKILLed at a random
//! moment under 64 concurrent writers, 20 times on the same folder, then stopped by SIGTERM
//! under load; every task that got a 201 is in the file exactly once (see test_support::crash).

use std::{sync::Arc, time::Duration};

use serde_json::json;
use test_support::{
    auth::{spawn_auth, tasks_api_key},
    crash::CrashTest,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_task_is_lost_across_sigkill_and_sigterm() {
    let (auth, state) = spawn_auth().await;
    let token = state.tokens.issue("crash-tester").unwrap();
    let data = tempfile::tempdir().unwrap();
    let folder = data.path().join("tasks");
    let test = CrashTest {
        binary: env!("CARGO_BIN_EXE_tasks-api"),
        vars: vec![
            ("AUTH_ADDRESS", auth.addr.to_string()),
            ("AUTH_API_KEY", tasks_api_key().into()),
            ("TASKS_FOLDER", folder.display().to_string()),
            // One user writes every task here; the per-user limits have their own tests.
            ("MAX_TASKS_PER_USER", "10000000".into()),
            ("MAX_BYTES_PER_USER", "1Ti".into()),
            ("TASK_LIMIT_PER_USER", "off".into()),
        ],
        file: folder.join("tasks.jsonl"),
        field: "title",
        name: |n| format!("task-{n}"),
        request: Arc::new(move |client, base_url, n| {
            client
                .post(format!("{base_url}/tasks"))
                .bearer_auth(&token)
                .json(&json!({ "title": format!("task-{n}"), "text": "x" }))
        }),
        rounds: 20,
        writers: 64,
        kill_between: (Duration::from_millis(50), Duration::from_millis(400)),
        during_shutdown: &[201],
    };
    let acknowledged = test.run().await;
    eprintln!(
        "crash safety (tasks): 20 SIGKILL rounds + 1 SIGTERM, {acknowledged} acknowledged writes, 0 lost"
    );
    auth.stop().await.unwrap();
}
