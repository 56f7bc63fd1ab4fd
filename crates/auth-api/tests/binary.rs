//! The real auth-api binary: start-up errors are one clear line, never a silent default.

use test_support::{run, single_error_line};

const BINARY: &str = env!("CARGO_BIN_EXE_auth-api");

#[test]
fn a_missing_secret_stops_start_up_with_one_line() {
    let output = run(BINARY, &[]);
    assert!(!output.status.success());
    let line = single_error_line(&output);
    assert!(line.contains("JWT_SECRET"), "{line}");
    let output = run(BINARY, &[("JWT_SECRET", "   ")]);
    assert!(single_error_line(&output).contains("JWT_SECRET"));
}

#[test]
fn a_short_secret_or_bad_ttl_is_refused_and_not_echoed() {
    let output = run(BINARY, &[("JWT_SECRET", "secret")]);
    assert!(!output.status.success());
    let line = single_error_line(&output);
    assert!(
        line.contains("at least 32") && !line.contains("\"secret\""),
        "{line}"
    );

    let secret = "0123456789abcdef0123456789abcdef";
    let output = run(BINARY, &[("JWT_SECRET", secret), ("TOKEN_TTL", "soon")]);
    assert!(single_error_line(&output).contains("TOKEN_TTL"));
}
