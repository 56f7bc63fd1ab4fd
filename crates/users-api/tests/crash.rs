//! Crash safety for signups: users-api is SIGKILLed at a random moment under 64 concurrent
//! signups, 20 times on the same folder, then stopped by SIGTERM under load; every signup that
//! got a 201 is in the file exactly once (see test_support::crash).

use std::{sync::Arc, time::Duration};

use serde_json::json;
use test_support::{
    auth::{spawn_auth_with, users_api_key},
    crash::CrashTest,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_signup_is_lost_across_sigkill() {
    // Crash safety, not overload: auth queues every hash (64 writers), users-api throttles none.
    let hashing = auth_api::HashingSettings {
        queue_size: 1024,
        max_wait: Duration::from_secs(10),
    };
    let (auth, _) = spawn_auth_with(&hashing).await;
    let data = tempfile::tempdir().unwrap();
    let folder = data.path().join("users");
    let test = CrashTest {
        binary: env!("CARGO_BIN_EXE_users-api"),
        vars: vec![
            ("AUTH_ADDRESS", auth.addr.to_string()),
            ("AUTH_API_KEY", users_api_key().into()),
            ("USERS_FOLDER", folder.display().to_string()),
            ("SIGNUP_LIMIT_PER_ADDRESS", "off".into()),
            ("SIGNUP_LIMIT_PER_ACCOUNT", "off".into()),
        ],
        file: folder.join("users.jsonl"),
        field: "email",
        name: |n| format!("user-{n}@test.com"),
        request: Arc::new(|client, base_url, n| {
            client
                .post(format!("{base_url}/signup"))
                .json(&json!({ "email": format!("user-{n}@test.com"), "password": "testers" }))
        }),
        rounds: 20,
        writers: 64,
        kill_between: (Duration::from_millis(100), Duration::from_millis(600)),
        // Each signup waits for an argon2 hash: 64 at once on 2 cores can outlast the 2.5 s
        // call to auth, and 503 is then the honest answer (nothing stored, nothing promised).
        during_shutdown: &[201, 503],
    };
    let acknowledged = test.run().await;
    eprintln!(
        "crash safety (users): 20 SIGKILL rounds + 1 SIGTERM, {acknowledged} acknowledged signups, 0 lost"
    );
    auth.stop().await.unwrap();
}
