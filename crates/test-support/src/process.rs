//! Running a service's real binary, as a container would: an empty environment plus the
//! variables given, signals, deadlines, and what it printed.

use std::{
    net::TcpListener,
    process::{Child, Command, ExitStatus, Output, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

/// The binary with an empty environment plus `vars`: exactly what a container would get; and,
/// unless `vars` names one, a free `METRICS_PORT` (tests run many binaries at once, and the
/// default 9090 is one port).
pub fn command(binary: &str, vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("METRICS_PORT", free_port().to_string())
        .envs(vars.iter().copied());
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

/// Runs to completion (within 20 s) and returns what it printed.
pub fn run(binary: &str, vars: &[(&str, &str)]) -> Output {
    let child = command(binary, vars).spawn().expect("the binary starts");
    wait_with_deadline(child, Duration::from_secs(20))
}

/// Waits until `GET http://127.0.0.1:<port><path>` answers 200.
pub fn wait_until_ok(port: u16, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if http_status(port, path) == Some(200) {
            return;
        }
        sleep(Duration::from_millis(50));
    }
    panic!("127.0.0.1:{port}{path} never answered 200");
}

/// The status of a plain `GET`, or `None` if nothing answers.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    kub_http::serve::status_of_get(port, path, Duration::from_secs(5)).ok()
}

/// Sends SIGTERM, as Kubernetes and Docker do.
pub fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

pub fn wait_with_deadline(mut child: Child, deadline: Duration) -> Output {
    let started = Instant::now();
    loop {
        if let Some(_status) = child.try_wait().expect("try_wait") {
            return child.wait_with_output().expect("output");
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("output");
            panic!(
                "still running after {deadline:?}; stderr: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        sleep(Duration::from_millis(20));
    }
}

/// The one line a failed start-up printed, checked to be exactly one line.
pub fn single_error_line(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    assert_eq!(stderr.lines().count(), 1, "one clear line, got: {stderr:?}");
    stderr
}

pub fn exited_cleanly(status: ExitStatus) -> bool {
    status.code() == Some(0)
}
