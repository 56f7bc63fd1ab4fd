//! The real users-api binary: how it refuses to start without a way to find auth, or
//! without its key for it.

use test_support::{run, single_error_line};

const BINARY: &str = env!("CARGO_BIN_EXE_users-api");

#[test]
fn no_auth_address_is_one_line_naming_both_variables() {
    let folder = tempfile::tempdir().unwrap();
    let folder = folder.path().to_str().unwrap();
    let output = run(BINARY, &[("USERS_FOLDER", folder)]);
    assert_eq!(output.status.code(), Some(1));
    let line = single_error_line(&output);
    assert!(
        line.contains("AUTH_ADDRESS") && line.contains("AUTH_SERVICE_SERVICE_HOST"),
        "{line}"
    );
}

#[test]
fn a_missing_or_short_key_is_one_line_that_never_echoes_it() {
    let folder = tempfile::tempdir().unwrap();
    let folder = folder.path().to_str().unwrap();
    let vars = [("AUTH_ADDRESS", "auth"), ("USERS_FOLDER", folder)];
    let output = run(BINARY, &vars);
    assert_eq!(output.status.code(), Some(1));
    let line = single_error_line(&output);
    assert!(line.contains("AUTH_API_KEY is required"), "{line}");
    let short = [vars[0], vars[1], ("AUTH_API_KEY", "short-users-key")];
    let line = single_error_line(&run(BINARY, &short));
    assert!(
        line.contains("AUTH_API_KEY") && line.contains("at least 32"),
        "{line}"
    );
    assert!(!line.contains("short-users-key"), "{line}");
}

#[test]
fn an_unusable_address_or_port_is_named() {
    let output = run(BINARY, &[("AUTH_ADDRESS", "https://auth")]);
    assert!(single_error_line(&output).contains("AUTH_ADDRESS"));
    let output = run(BINARY, &[("AUTH_ADDRESS", "auth"), ("PORT", "http")]);
    assert!(single_error_line(&output).contains("PORT"));
}

#[test]
fn a_wrong_value_exits_1_and_an_unknown_argument_2() {
    let output = run(BINARY, &[("AUTH_ADDRESS", "auth"), ("PORT", "http")]);
    assert_eq!(output.status.code(), Some(1), "a configuration error");
    let output = std::process::Command::new(BINARY)
        .arg("--no-such-flag")
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "a usage error");
    assert!(single_error_line(&output).contains("--no-such-flag"));
}

#[test]
fn help_lists_every_setting_with_its_variable() {
    let output = std::process::Command::new(BINARY)
        .arg("--help")
        .env_clear()
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for var in [
        "PORT",
        "USERS_FOLDER",
        "AUTH_ADDRESS",
        "AUTH_SERVICE_SERVICE_HOST",
        "AUTH_API_KEY",
        "SHUTDOWN_DELAY",
        "POD_NAME",
    ] {
        assert!(
            help.contains(&format!("[env: {var}")),
            "{var} missing from --help"
        );
    }
}

/// A password the database URL tests put in `DATABASE_URL`, which must never be echoed.
const DATABASE_PASSWORD: &str = "hunter2-in-the-url";

#[test]
fn a_wrong_database_url_is_named_but_never_echoed() {
    let key = "users-api-key-0123456789abcdef0123456";
    let wrong = [
        format!("postgres://kub:{DATABASE_PASSWORD}@db:port/kub"),
        format!("postgres://kub@db/kub?ssl_mode=require&password={DATABASE_PASSWORD}"),
        format!("postgres://kub:{DATABASE_PASSWORD}@db/kub?sslmode=allow"),
    ];
    for url in &wrong {
        let vars = [
            ("AUTH_ADDRESS", "auth"),
            ("AUTH_API_KEY", key),
            ("DATABASE_URL", url),
        ];
        let output = run(BINARY, &vars);
        assert_eq!(output.status.code(), Some(1), "{url}");
        let line = single_error_line(&output);
        assert!(line.contains("--database-url"), "{line}");
        assert!(!line.contains(DATABASE_PASSWORD), "{line}");
    }
}

#[test]
fn a_password_parameter_is_masked_in_the_log_while_the_database_is_awaited() {
    let nothing_listens = test_support::free_port();
    let url =
        format!("postgres://kub@127.0.0.1:{nothing_listens}/kub?password={DATABASE_PASSWORD}");
    let port = test_support::free_port().to_string();
    let vars = [
        ("PORT", port.as_str()),
        ("AUTH_ADDRESS", "127.0.0.1:9"),
        ("AUTH_API_KEY", "users-api-key-0123456789abcdef0123456"),
        ("DATABASE_URL", url.as_str()),
    ];
    let child = test_support::command(BINARY, &vars).spawn().unwrap();
    // The first attempt gives up after DATABASE_TIMEOUT (2 s) and logs the URL as it retries.
    std::thread::sleep(std::time::Duration::from_millis(3000));
    test_support::terminate(&child);
    let output = test_support::wait_with_deadline(child, std::time::Duration::from_secs(3));
    let log = String::from_utf8_lossy(&output.stdout);
    assert!(log.contains("not reachable yet"), "it was waiting: {log}");
    assert!(log.contains("password=***"), "{log}");
    assert!(!log.contains(DATABASE_PASSWORD), "{log}");
    assert!(!String::from_utf8_lossy(&output.stderr).contains(DATABASE_PASSWORD));
}
