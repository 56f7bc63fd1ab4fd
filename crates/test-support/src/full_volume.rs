//! A store filled to the budget its Kubernetes manifest sets, and the memory a service needs
//! to start on it, against the memory limit that manifest sets.

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use kub_http::settings::parse_byte_size;
use serde_norway::Value;

use crate::process::{command, free_port, http_status};

/// What a Deployment in `kubernetes/` gives its one container.
#[derive(Debug)]
pub struct PodLimits {
    /// `STORE_BUDGET`, in bytes.
    pub store_budget: u64,
    /// `resources.limits.memory`, in bytes.
    pub memory_limit: u64,
}

impl PodLimits {
    /// Reads `kubernetes/<manifest>` (e.g. `tasks-deployment.yaml`).
    pub fn of(manifest: &str) -> Self {
        let path = repo_root().join("kubernetes").join(manifest);
        let text = std::fs::read_to_string(&path).expect("the manifest");
        let deployment: Value = serde_norway::from_str(&text).expect("YAML");
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        let budget = container["env"]
            .as_sequence()
            .and_then(|env| env.iter().find(|var| var["name"] == "STORE_BUDGET"))
            .and_then(|var| var["value"].as_str())
            .unwrap_or_else(|| panic!("{manifest} sets no STORE_BUDGET"));
        let memory = container["resources"]["limits"]["memory"]
            .as_str()
            .unwrap_or_else(|| panic!("{manifest} sets no memory limit"));
        Self {
            store_budget: parse_byte_size(budget).expect("a STORE_BUDGET size"),
            memory_limit: parse_byte_size(memory).expect("a memory quantity"),
        }
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Writes `line(1)`, `line(2)`, … (each ending in a newline) to `path` until the next one
/// would take the file past `budget`; returns how many were written.
pub fn fill(path: &Path, budget: u64, mut line: impl FnMut(u64) -> String) -> u64 {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).expect("create"));
    let (mut written, mut bytes) = (0, 0);
    loop {
        let next = line(written + 1);
        if bytes + next.len() as u64 > budget {
            break;
        }
        out.write_all(next.as_bytes()).expect("write");
        bytes += next.len() as u64;
        written += 1;
    }
    out.flush().expect("flush");
    written
}

/// A service started on a store, once ready.
pub struct Started {
    pub child: Child,
    /// From the process's start to `/readyz` answering 200.
    pub ready_after: Duration,
    /// The most memory it had resident on the way (`VmHWM`), in bytes.
    pub peak_rss: u64,
}

/// Starts `binary` with `vars` plus `PORT` and waits (up to 5 minutes: a debug build
/// indexes slowly) until it is ready.
pub fn start_until_ready(binary: &str, vars: &[(&str, &str)]) -> Started {
    let port = free_port();
    let port_var = port.to_string();
    let mut all = vec![("PORT", port_var.as_str())];
    all.extend_from_slice(vars);
    let started = Instant::now();
    let mut child = command(binary, &all)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    while http_status(port, "/readyz") != Some(200) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{binary} exited with {status} before it was ready");
        }
        assert!(started.elapsed() < Duration::from_secs(300), "never ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    let ready_after = started.elapsed();
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).expect("status");
    let peak_kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/<pid>/status");
    Started {
        child,
        ready_after,
        peak_rss: peak_kib * 1024,
    }
}

/// Starts `binary` on `folder` (given as its `folder_var`, e.g. `TASKS_FOLDER`) with the
/// manifest's `STORE_BUDGET`, then stops it; asserts its peak RSS on the way to ready was under
/// 80% of the manifest's memory limit, and prints the figures.
pub fn assert_starts_under_the_limit(
    binary: &str,
    folder_var: &str,
    folder: &Path,
    limits: &PodLimits,
    stored: &str,
) {
    let budget = limits.store_budget.to_string();
    let folder = folder.display().to_string();
    let started = start_until_ready(
        binary,
        &[
            (folder_var, &folder),
            ("STORE_BUDGET", &budget),
            ("AUTH_ADDRESS", "127.0.0.1:9"),
            // Any valid key: nothing calls auth on the way to ready.
            ("AUTH_API_KEY", crate::auth::users_api_key()),
        ],
    );
    crate::process::terminate(&started.child);
    let mib = |bytes: u64| bytes as f64 / f64::from(1 << 20);
    eprintln!(
        "full volume: {stored} in {:.0} MiB; ready after {:.2?} (debug build), peak RSS \
         {:.1} MiB of a {:.0} MiB limit",
        mib(limits.store_budget),
        started.ready_after,
        mib(started.peak_rss),
        mib(limits.memory_limit)
    );
    assert!(
        started.peak_rss < limits.memory_limit / 10 * 8,
        "peak RSS {:.1} MiB is not under 80% of the {:.0} MiB limit",
        mib(started.peak_rss),
        mib(limits.memory_limit)
    );
}
