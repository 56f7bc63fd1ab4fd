//! The real auth-api binary: start-up errors are one clear line, never a silent default, and
//! the callers it serves are the ones its settings name.

use serde_json::json;
use test_support::{
    command, free_port, run, single_error_line, terminate, wait_until_ok, wait_with_deadline,
};

const BINARY: &str = env!("CARGO_BIN_EXE_auth-api");
const SECRET: &str = "0123456789abcdef0123456789abcdef";
const USERS_KEY: &str = "users-api-key-0123456789abcdef012345";

#[test]
fn a_missing_secret_stops_start_up_with_one_line() {
    let output = run(BINARY, &[("USERS_API_KEY", USERS_KEY)]);
    assert!(!output.status.success());
    let line = single_error_line(&output);
    assert!(line.contains("JWT_SECRET"), "{line}");
    let output = run(
        BINARY,
        &[("JWT_SECRET", "   "), ("USERS_API_KEY", USERS_KEY)],
    );
    assert!(single_error_line(&output).contains("JWT_SECRET"));
}

#[test]
fn a_short_secret_or_bad_ttl_is_refused_and_not_echoed() {
    let output = run(
        BINARY,
        &[("JWT_SECRET", "secret"), ("USERS_API_KEY", USERS_KEY)],
    );
    assert!(!output.status.success());
    let line = single_error_line(&output);
    assert!(
        line.contains("at least 32") && !line.contains("\"secret\""),
        "{line}"
    );

    let output = run(BINARY, &[("JWT_SECRET", SECRET), ("TOKEN_TTL", "soon")]);
    assert!(single_error_line(&output).contains("TOKEN_TTL"));

    let vars = [
        ("JWT_SECRET", SECRET),
        ("JWT_PREVIOUS_SECRET", "old-secret"),
        ("USERS_API_KEY", USERS_KEY),
    ];
    let line = single_error_line(&run(BINARY, &vars));
    assert!(
        line.contains("JWT_PREVIOUS_SECRET") && !line.contains("old-secret"),
        "{line}"
    );
}

#[test]
fn without_a_caller_key_or_with_a_short_one_auth_does_not_start() {
    let output = run(BINARY, &[("JWT_SECRET", SECRET)]);
    assert_eq!(output.status.code(), Some(1));
    let line = single_error_line(&output);
    assert!(
        line.contains("USERS_API_KEY") && line.contains("TASKS_API_KEY"),
        "{line}"
    );
    let vars = [("JWT_SECRET", SECRET), ("TASKS_API_KEY", "tasks-key")];
    let line = single_error_line(&run(BINARY, &vars));
    assert!(
        line.contains("TASKS_API_KEY")
            && line.contains("at least 32")
            && !line.contains("tasks-key"),
        "{line}"
    );
}

/// The settings reach the router: the configured caller is served, a call without a key is
/// refused, and the probes stay open.
#[tokio::test]
async fn it_serves_the_configured_caller_only() {
    let port = free_port();
    let port_text = port.to_string();
    let vars = [
        ("PORT", port_text.as_str()),
        ("JWT_SECRET", SECRET),
        ("USERS_API_KEY", USERS_KEY),
    ];
    let child = command(BINARY, &vars).spawn().unwrap();
    wait_until_ok(port, "/readyz");
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/hashed-password");
    let body = json!({ "password": "testers" });
    let keyless = http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(keyless.status(), 401);
    assert!(keyless.headers().contains_key("www-authenticate"));
    let served = http
        .post(&url)
        .bearer_auth(USERS_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);

    terminate(&child);
    let output = wait_with_deadline(child, std::time::Duration::from_secs(10));
    let logs = String::from_utf8_lossy(&output.stdout);
    assert!(
        logs.contains(r#"callers=["users-api"]"#),
        "the callers are named: {logs}"
    );
    assert!(logs.contains("caller refused"), "so are refusals: {logs}");
    assert!(!logs.contains(USERS_KEY), "its key is not: {logs}");
}
