//! The real tasks-api binary: start-up errors, the `healthcheck` subcommand images use,
//! and a clean exit on SIGTERM.

use std::time::Duration;
use test_support::{
    command, exited_cleanly, free_port, http_status, run, single_error_line, terminate,
    wait_until_ok, wait_with_deadline,
};

const BINARY: &str = env!("CARGO_BIN_EXE_tasks-api");
/// Auth is never called in these tests; any valid key will do.
const KEY: &str = "tasks-api-key-0123456789abcdef012345";

#[test]
fn no_auth_address_is_one_line_naming_both_variables() {
    let output = run(BINARY, &[]);
    assert_eq!(output.status.code(), Some(1));
    let line = single_error_line(&output);
    assert!(
        line.contains("AUTH_ADDRESS") && line.contains("AUTH_SERVICE_SERVICE_HOST"),
        "{line}"
    );
}

#[test]
fn serves_with_the_kubernetes_variables_answers_healthcheck_and_exits_0_on_sigterm() {
    let folder = tempfile::tempdir().unwrap();
    let tasks_folder = folder.path().join("tasks");
    let port = free_port().to_string();
    let vars = [
        ("PORT", port.as_str()),
        ("AUTH_SERVICE_SERVICE_HOST", "127.0.0.1"),
        ("AUTH_SERVICE_SERVICE_PORT", "9"),
        ("AUTH_API_KEY", KEY),
        ("TASKS_FOLDER", tasks_folder.to_str().unwrap()),
        ("LOG_FORMAT", "json"),
    ];
    let child = command(BINARY, &vars).spawn().unwrap();
    wait_until_ok(port.parse().unwrap(), "/readyz");
    assert!(
        tasks_folder.join("tasks.jsonl").exists(),
        "TASKS_FOLDER is created"
    );

    let probe = command(BINARY, &[("PORT", port.as_str())])
        .arg("healthcheck")
        .output()
        .unwrap();
    assert!(
        probe.status.success(),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );

    terminate(&child);
    let output = wait_with_deadline(child, Duration::from_secs(10));
    assert!(exited_cleanly(output.status), "{:?}", output.status);
    let logs = String::from_utf8_lossy(&output.stdout);
    let first = logs.lines().next().unwrap();
    let parsed: serde_json::Value =
        serde_json::from_str(first).unwrap_or_else(|_| panic!("LOG_FORMAT=json: {first}"));
    assert!(parsed["level"].is_string());
    assert!(
        logs.contains("AUTH_SERVICE_SERVICE_HOST"),
        "the log names the source that won"
    );
    assert!(!logs.contains(KEY), "the key is never logged");
    assert!(logs.contains("SIGTERM"));

    let after = command(BINARY, &[("PORT", port.as_str())])
        .arg("healthcheck")
        .output()
        .unwrap();
    assert_eq!(
        after.status.code(),
        Some(1),
        "nothing is listening any more"
    );
}

#[test]
fn with_a_shutdown_delay_it_serves_on_but_answers_not_ready_before_it_stops() {
    let folder = tempfile::tempdir().unwrap();
    let port = free_port();
    let port_text = port.to_string();
    let vars = [
        ("PORT", port_text.as_str()),
        ("AUTH_ADDRESS", "127.0.0.1:9"),
        ("AUTH_API_KEY", KEY),
        ("TASKS_FOLDER", folder.path().to_str().unwrap()),
        ("SHUTDOWN_DELAY", "2s"),
    ];
    let child = command(BINARY, &vars).spawn().unwrap();
    wait_until_ok(port, "/readyz");

    let signalled = std::time::Instant::now();
    terminate(&child);
    let mut readiness = http_status(port, "/readyz");
    while readiness == Some(200) && signalled.elapsed() < Duration::from_secs(1) {
        readiness = http_status(port, "/readyz");
    }
    assert_eq!(readiness, Some(503), "not ready once SIGTERM arrived");
    assert_eq!(
        http_status(port, "/healthz"),
        Some(200),
        "still serving while draining"
    );

    let output = wait_with_deadline(child, Duration::from_secs(10));
    assert!(exited_cleanly(output.status), "{:?}", output.status);
    assert!(
        signalled.elapsed() >= Duration::from_secs(2),
        "the listener stayed open for SHUTDOWN_DELAY"
    );
    assert_eq!(http_status(port, "/healthz"), None, "then it is closed");
}

#[test]
fn sigterm_while_waiting_for_the_database_stops_at_once() {
    let nothing_listens = free_port();
    let url = format!("postgres://kub:secret@127.0.0.1:{nothing_listens}/kub");
    let child = command(
        env!("CARGO_BIN_EXE_tasks-api"),
        &[
            ("PORT", &free_port().to_string()),
            ("AUTH_ADDRESS", "127.0.0.1:9"),
            ("AUTH_API_KEY", KEY),
            ("DATABASE_URL", &url),
        ],
    )
    .spawn()
    .unwrap();
    // The first attempt gives up after DATABASE_TIMEOUT (2 s) and logs that it retries.
    std::thread::sleep(Duration::from_millis(3000));
    terminate(&child);
    let output = wait_with_deadline(child, Duration::from_secs(3));
    assert!(exited_cleanly(output.status), "{:?}", output.status);
    let log = String::from_utf8_lossy(&output.stdout);
    assert!(log.contains("not reachable yet"), "it was waiting: {log}");
    assert!(!log.contains("secret"), "no password in the log: {log}");
}
