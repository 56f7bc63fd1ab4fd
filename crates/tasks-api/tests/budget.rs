//! The real tasks-api, with a small `STORE_BUDGET`, filled over HTTP by concurrent writers:
//! writes stop with 507 before the file passes the budget, and after a restart every task
//! that got a 201 is there, intact, and nothing else.

use std::{collections::BTreeSet, fs, process::Stdio, sync::Arc};

use serde_json::{Value, json};
use test_support::{
    auth::{spawn_auth, tasks_api_key},
    command, exited_cleanly, free_port, terminate, wait_until_ok, wait_with_deadline,
};

const BINARY: &str = env!("CARGO_BIN_EXE_tasks-api");
const BUDGET: u64 = 64 * 1024;
const WRITERS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_filling_the_budget_get_507_and_every_acknowledged_task_survives_a_restart() {
    let (auth, auth_state) = spawn_auth().await;
    let token = Arc::new(auth_state.tokens.issue("filler").unwrap());
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("tasks.jsonl");
    let auth_address = auth.addr.to_string();
    let start = || {
        let port = free_port();
        let vars = [
            ("PORT", port.to_string()),
            ("AUTH_ADDRESS", auth_address.clone()),
            ("AUTH_API_KEY", tasks_api_key().to_owned()),
            ("TASKS_FOLDER", folder.path().display().to_string()),
            ("STORE_BUDGET", "64Ki".to_owned()),
            // One user fills the budget as fast as it can; the per-user limits have their own tests.
            ("TASK_LIMIT_PER_USER", "off".to_owned()),
        ];
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        // Nobody reads its logs here: a full pipe would stall it.
        let child = command(BINARY, &vars)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_until_ok(port, "/readyz");
        (child, format!("http://127.0.0.1:{port}"))
    };
    let client = reqwest::Client::new();

    let (server, base_url) = start();
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (client, base_url, token) = (client.clone(), base_url.clone(), token.clone());
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for n in 0..2_000 {
                    let title = format!("writer {writer} task {n}");
                    let response = client
                        .post(format!("{base_url}/tasks"))
                        .bearer_auth(&*token)
                        .json(&json!({ "title": title, "text": "Filling the budget." }))
                        .send()
                        .await
                        .unwrap();
                    match response.status().as_u16() {
                        201 => acknowledged.push(title),
                        507 => {
                            let body: Value = response.json().await.unwrap();
                            assert!(body["message"].as_str().unwrap().contains("budget"));
                            return acknowledged;
                        }
                        other => panic!("{title}: {other}"),
                    }
                }
                panic!("writer {writer}: 2,000 writes and never a 507")
            })
        })
        .collect();
    let mut acknowledged = BTreeSet::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    let size = fs::metadata(&file).unwrap().len();
    assert!(size <= BUDGET, "the file has {size} bytes, past the budget");
    assert!(acknowledged.len() > 300, "{} stored", acknowledged.len());
    terminate(&server);
    assert!(exited_cleanly(
        wait_with_deadline(server, std::time::Duration::from_secs(20)).status
    ));

    let (server, base_url) = start();
    let mut listed = BTreeSet::new();
    let mut after = None;
    loop {
        let query = after.map_or(String::new(), |id: u64| format!("&after={id}"));
        let page: Value = client
            .get(format!("{base_url}/tasks?limit=100{query}"))
            .bearer_auth(&*token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for task in page["tasks"].as_array().unwrap() {
            assert_eq!(task["text"], "Filling the budget.");
            let title = task["title"].as_str().unwrap().to_owned();
            assert!(listed.insert(title), "a task is listed twice");
        }
        match page["nextAfter"].as_u64() {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(
        listed, acknowledged,
        "exactly the acknowledged tasks, intact"
    );
    let refused = client
        .post(format!("{base_url}/tasks"))
        .bearer_auth(&*token)
        .json(&json!({ "title": "after the restart", "text": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 507, "still at its budget after a restart");
    assert_eq!(fs::metadata(&file).unwrap().len(), size);
    terminate(&server);
    wait_with_deadline(server, std::time::Duration::from_secs(20));
    auth.stop().await.unwrap();
}
