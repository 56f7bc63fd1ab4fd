//! Crash safety with real processes and real signals: a service's binary is SIGKILLed at a
//! random moment under concurrent writers, again and again on the same folder; every write
//! that got a 201 must be in the file exactly once, and the file must load. Then a SIGTERM
//! under load, which must exit 0 after answering every write it accepted.

use std::{
    collections::HashMap,
    path::PathBuf,
    process::Child,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use serde_json::Value;

use crate::process::{
    command, exited_cleanly, free_port, terminate, wait_until_ok, wait_with_deadline,
};

/// Builds write number `n` against a service at `base_url`.
pub type MakeRequest = dyn Fn(&reqwest::Client, &str, u64) -> reqwest::RequestBuilder + Send + Sync;

pub struct CrashTest {
    pub binary: &'static str,
    /// The environment besides `PORT` (auth's address, the data folder).
    pub vars: Vec<(&'static str, String)>,
    /// The store's file, and the field of each line that names a write.
    pub file: PathBuf,
    pub field: &'static str,
    /// The value of `field` for write number `n`.
    pub name: fn(u64) -> String,
    pub request: Arc<MakeRequest>,
    pub rounds: u64,
    pub writers: usize,
    /// SIGKILL somewhere in this window after the writers start.
    pub kill_between: (Duration, Duration),
    /// What a write in flight at SIGTERM may answer: 201, and whatever else is an honest
    /// answer for this service under that load (never a lost write: only 201s count as kept).
    pub during_shutdown: &'static [u16],
}

impl CrashTest {
    /// Runs every SIGKILL round, then the SIGTERM round; returns how many writes were
    /// acknowledged (and found, each once).
    pub async fn run(&self) -> usize {
        let mut jitter = Jitter::from_env_or_clock();
        let mut acked_total = Vec::new();
        for round in 0..self.rounds {
            let (child, base_url) = self.start();
            assert_each_once(&acked_total, &self.stored(), self.name);
            let kill_after = jitter.between(self.kill_between.0, self.kill_between.1);
            let request = self.request.clone();
            let acked = acknowledged_before_sigkill(
                child,
                self.writers,
                round * 1_000_000,
                kill_after,
                move |client, n| request(client, &base_url, n),
            )
            .await;
            acked_total.extend(acked);
            assert_each_once(&acked_total, &self.stored(), self.name);
        }
        acked_total.extend(self.sigterm_under_load().await);
        assert_each_once(&acked_total, &self.stored(), self.name);
        acked_total.len()
    }

    fn start(&self) -> (Child, String) {
        let port = free_port().to_string();
        let mut vars: Vec<(&str, &str)> = vec![("PORT", &port)];
        vars.extend(self.vars.iter().map(|(key, value)| (*key, value.as_str())));
        let child = command(self.binary, &vars)
            .spawn()
            .expect("the binary starts");
        wait_until_ok(port.parse().expect("a port"), "/readyz");
        (child, format!("http://127.0.0.1:{port}"))
    }

    /// One more start proves the last SIGKILL left a loadable file; then SIGTERM while
    /// `writers` writes are in flight: exit 0, and every write answered is a 201.
    async fn sigterm_under_load(&self) -> Vec<u64> {
        const FIRST: u64 = 900_000_000;
        let (child, base_url) = self.start();
        let client = reqwest::Client::new();
        let in_flight: Vec<_> = (0..self.writers as u64)
            .map(|n| {
                let request = (self.request)(&client, &base_url, FIRST + n);
                tokio::spawn(async move {
                    request
                        .send()
                        .await
                        .ok()
                        .map(|response| response.status().as_u16())
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(5)).await;
        terminate(&child);
        let mut acked = Vec::new();
        for (n, request) in in_flight.into_iter().enumerate() {
            if let Some(status) = request.await.expect("a writer") {
                assert!(
                    self.during_shutdown.contains(&status),
                    "write {n} during shutdown answered {status}"
                );
                if status == 201 {
                    acked.push(FIRST + n as u64);
                }
            }
        }
        let output = wait_with_deadline(child, Duration::from_secs(10));
        assert!(
            exited_cleanly(output.status),
            "SIGTERM must exit 0: {:?}",
            output.status
        );
        acked
    }

    /// The `field` of every line of the file.
    fn stored(&self) -> Vec<String> {
        std::fs::read_to_string(&self.file)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .map(|record| record[self.field].as_str().expect("a name").to_owned())
            .collect()
    }
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

/// Every `n` acknowledged appears exactly once in `values` (e.g. titles read from the file),
/// and no value appears twice; panics naming what was lost or duplicated.
pub fn assert_each_once(acked: &[u64], values: &[String], name: impl Fn(u64) -> String) {
    let mut counts = HashMap::<&str, usize>::new();
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
