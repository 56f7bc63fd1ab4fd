//! The real users-api binary: how it refuses to start without a way to find auth.

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
        "SHUTDOWN_DELAY",
        "POD_NAME",
    ] {
        assert!(
            help.contains(&format!("[env: {var}")),
            "{var} missing from --help"
        );
    }
}
