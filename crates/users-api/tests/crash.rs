//! Crash safety for signups: users-api is SIGKILLed at a random moment under 64 concurrent
//! signups, restarted on the same folder, and every signup that got a 201 must be in the file
//! exactly once, and the file must load.

use std::{fs, path::Path, time::Duration};

use auth_api::{AppState, Config};
use kub_common::{server::RunningServer, testing::*};
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_users-api");
const ROUNDS: u64 = 20;
const WRITERS: usize = 64;

fn stored_emails(folder: &Path) -> Vec<String> {
    fs::read_to_string(folder.join("users.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .map(|user| user["email"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_signup_is_lost_across_sigkill() {
    let auth_config = Config {
        jwt_secret: "0123456789abcdef0123456789abcdef".into(),
        token_ttl: Duration::from_secs(600),
    };
    let auth = RunningServer::start(
        "127.0.0.1:0".parse().unwrap(),
        auth_api::router(AppState::new(&auth_config)),
    )
    .await
    .unwrap();
    let auth_address = auth.addr.to_string();
    let data = tempfile::tempdir().unwrap();
    let folder = data.path().join("users");
    let folder_str = folder.to_str().unwrap().to_owned();
    let mut jitter = Jitter::from_env_or_clock();
    let mut acked_total = Vec::new();
    let email = |n: u64| format!("user-{n}@test.com");

    for round in 0..=ROUNDS {
        let port = free_port();
        let vars = [
            ("PORT", port.to_string()),
            ("AUTH_ADDRESS", auth_address.clone()),
            ("USERS_FOLDER", folder_str.clone()),
        ];
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let child = command(BINARY, &vars).spawn().unwrap();
        wait_until_ok(port, "/readyz");
        assert_each_once(&acked_total, &stored_emails(&folder), email);
        if round == ROUNDS {
            terminate(&child);
            assert!(exited_cleanly(
                wait_with_deadline(child, Duration::from_secs(10)).status
            ));
            break;
        }
        let url = format!("http://127.0.0.1:{port}/signup");
        let kill_after = jitter.between(Duration::from_millis(100), Duration::from_millis(600));
        let acked = acknowledged_before_sigkill(
            child,
            WRITERS,
            round * 1_000_000,
            kill_after,
            move |client, n| {
                client
                    .post(&url)
                    .json(&json!({ "email": email(n), "password": "testers" }))
            },
        )
        .await;
        acked_total.extend(acked);
    }
    eprintln!(
        "crash safety (users): {ROUNDS} SIGKILL rounds, {} acknowledged signups, 0 lost",
        acked_total.len()
    );
    auth.stop().await.unwrap();
}
