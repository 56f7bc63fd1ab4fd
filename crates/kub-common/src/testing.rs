//! Helpers for tests that run a service's real binary (feature `testing`).

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

/// The binary with an empty environment plus `vars`: exactly what a container would get.
pub fn command(binary: &str, vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(binary);
    command.env_clear().envs(vars.iter().copied());
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
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
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

/// Drives `writers` concurrent clients, each sending `request(client, n)` with a fresh `n`
/// from `first_n` upwards, until the server is SIGKILLed after `kill_after`. Returns every
/// `n` that got a 201: the writes the server promised to keep.
pub async fn acknowledged_before_sigkill<F>(
    mut child: Child,
    writers: usize,
    first_n: u64,
    kill_after: Duration,
    request: F,
) -> Vec<u64>
where
    F: Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    use std::sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let request = Arc::new(request);
    let next = Arc::new(AtomicU64::new(first_n));
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..writers)
        .map(|_| {
            let (client, request, next, stop, acked) = (
                client.clone(),
                request.clone(),
                next.clone(),
                stop.clone(),
                acked.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    match request(&client, n).send().await {
                        Ok(response) if response.status() == 201 => acked.lock().unwrap().push(n),
                        Ok(response) => panic!("write {n} answered {}", response.status()),
                        Err(_) => break, // the server is gone
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(kill_after).await;
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("writer");
    }
    acked.lock().unwrap().clone()
}

/// A small deterministic generator, seeded from the clock and printed, so a failing round
/// can be replayed with `CRASH_SEED`.
pub struct Jitter(u64);

impl Jitter {
    pub fn from_env_or_clock() -> Self {
        let seed = std::env::var("CRASH_SEED")
            .ok()
            .and_then(|seed| seed.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |elapsed| elapsed.as_nanos() as u64)
            });
        eprintln!("CRASH_SEED={seed}");
        Self(seed | 1)
    }

    /// A duration in `[min, max)`.
    pub fn between(&mut self, min: Duration, max: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let span = (max - min).as_millis() as u64;
        min + Duration::from_millis(self.0 % span.max(1))
    }
}

/// Every `n` acknowledged appears exactly once in `values` (e.g. titles parsed from the file),
/// and no value appears twice; panics naming what was lost or duplicated.
pub fn assert_each_once(acked: &[u64], values: &[String], name: impl Fn(u64) -> String) {
    let mut counts = std::collections::HashMap::<&str, usize>::new();
    for value in values {
        *counts.entry(value.as_str()).or_default() += 1;
    }
    if let Some((value, count)) = counts.iter().find(|(_, count)| **count > 1) {
        panic!("{value} is stored {count} times");
    }
    let lost: Vec<u64> = acked
        .iter()
        .copied()
        .filter(|n| !counts.contains_key(name(*n).as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost: {lost:?}",
        lost.len()
    );
}
