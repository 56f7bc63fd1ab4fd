//! The settings all three binaries share, as flags that each have an environment variable
//! (clap), and how a binary reads its settings: blank means unset, errors are one line.

use std::{fmt::Display, process::ExitCode, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::traces::TraceSettings;

/// The subcommand every binary has.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// GET this service's own /healthz and exit 0 if it answers 200, else 1 (images have no
    /// curl; Docker's HEALTHCHECK runs this).
    Healthcheck,
}

/// How a service runs: the metrics port, logs, Pod identity, shutdown.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Running")]
pub struct ServeSettings {
    /// Port of `GET /metrics`, on all interfaces, apart from the service's own port (which
    /// answers 404 for it): operations off the public path. Must differ from PORT.
    #[arg(long, env = "METRICS_PORT", default_value_t = DEFAULT_METRICS_PORT, value_parser = parse_port)]
    pub metrics_port: u16,
    /// After SIGTERM, keep serving this long, answering /readyz with 503, before closing the
    /// listener: the time Kubernetes needs to stop routing new connections here.
    #[arg(long, env = "SHUTDOWN_DELAY", default_value = "0", value_parser = parse_delay)]
    pub shutdown_delay: Duration,
    #[command(flatten)]
    pub connections: ConnectionSettings,
    #[command(flatten)]
    pub log: LogSettings,
    #[command(flatten)]
    pub traces: TraceSettings,
    #[command(flatten)]
    pub pod: PodIdentity,
}

pub const DEFAULT_METRICS_PORT: u16 = 9090;

impl Default for ServeSettings {
    fn default() -> Self {
        Self {
            metrics_port: DEFAULT_METRICS_PORT,
            shutdown_delay: Duration::ZERO,
            connections: ConnectionSettings::default(),
            log: LogSettings::default(),
            traces: TraceSettings::default(),
            pod: PodIdentity::default(),
        }
    }
}

/// What a client connection may take: time and bytes to send a request head, time to sit
/// idle, and how many may be open. Slow and idle clients hold a file descriptor and memory each.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Connections")]
pub struct ConnectionSettings {
    /// Each request head (request line and headers) must be complete within this time of its
    /// first byte (a new connection's first head: of the connection), or the connection is
    /// closed: slow or silent clients cannot hold it open, on the first request or any later one.
    #[arg(long, env = "HEADER_READ_TIMEOUT", default_value = DEFAULT_HEADER_READ_TIMEOUT, value_parser = parse_duration)]
    pub header_read_timeout: Duration,
    /// A keep-alive connection is closed when its next request head is not complete within
    /// this time after the previous answer. Keep it above the callers' pool idle timeouts.
    #[arg(long, env = "IDLE_TIMEOUT", default_value = DEFAULT_IDLE_TIMEOUT, value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// Most connections open at once; more are answered 503 and closed. Lowered at start-up
    /// to what the open-file limit allows.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS, value_parser = parse_count)]
    pub max_connections: usize,
    /// Most connections open at once from one client address (an IPv6 /64); more are
    /// answered 503 and closed. Behind a NAT or a Service without
    /// `externalTrafficPolicy: Local`, many clients share one address.
    #[arg(long, env = "MAX_CONNECTIONS_PER_ADDRESS", default_value_t = DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, value_parser = parse_count)]
    pub max_connections_per_address: usize,
    /// Largest request head (request line and headers: `8Ki`, `16Ki` or bytes); larger ones
    /// get 431 JSON. No connection ever buffers more than twice this: past that, hyper answers
    /// a bare 431 and closes it.
    #[arg(long, env = "MAX_HEADER_BYTES", default_value = DEFAULT_MAX_HEADER_BYTES, value_parser = parse_header_bytes)]
    pub max_header_bytes: usize,
    /// Most header lines in one request; more get 431 JSON (past twice this, a bare 431 from
    /// hyper, and the connection is closed).
    #[arg(long, env = "MAX_HEADERS", default_value_t = DEFAULT_MAX_HEADERS, value_parser = parse_count)]
    pub max_headers: usize,
}

/// Measured per connection: ~17 KiB idle, ~26 KiB holding an unfinished head at hyper's cap
/// (twice `MAX_HEADER_BYTES`, 16 KiB by default). So 4,096 take at most ~104 MiB, under a
/// 128Mi memory limit with the process's own ~15 MiB; a larger `MAX_HEADER_BYTES` needs fewer.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 256;
const DEFAULT_HEADER_READ_TIMEOUT: &str = "10s";
const DEFAULT_IDLE_TIMEOUT: &str = "75s";
const DEFAULT_MAX_HEADER_BYTES: &str = "8Ki";
pub const DEFAULT_MAX_HEADERS: usize = 64;

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            header_read_timeout: parse_duration(DEFAULT_HEADER_READ_TIMEOUT).expect("a duration"),
            idle_timeout: parse_duration(DEFAULT_IDLE_TIMEOUT).expect("a duration"),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            max_header_bytes: parse_header_bytes(DEFAULT_MAX_HEADER_BYTES).expect("a size"),
            max_headers: DEFAULT_MAX_HEADERS,
        }
    }
}

/// A request head size: at least 4 KiB (hyper's buffer, twice this, cannot be under 8 KiB),
/// at most 1 MiB.
pub fn parse_header_bytes(value: &str) -> Result<usize, String> {
    match parse_byte_size(value).map(usize::try_from) {
        Ok(Ok(bytes)) if (4 << 10..=1 << 20).contains(&bytes) => Ok(bytes),
        _ => Err("expected a size from `4Ki` to `1Mi`, such as `8Ki`, or bytes".into()),
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (colours only on a terminal).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Clone, Default, Args)]
pub struct LogSettings {
    /// Log line format.
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_enum,
        ignore_case = true,
        default_value_t
    )]
    pub log_format: LogFormat,
    /// Which logs to keep, e.g. `debug,hyper=info` (tracing's EnvFilter syntax).
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub log_filter: String,
}

/// Who this process is inside Kubernetes, from the downward-API variables the manifests
/// pass. Outside Kubernetes each is absent, and shown as absent, never invented.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
#[command(
    next_help_heading = "Kubernetes downward API (logged at start-up, shown by GET /network)"
)]
pub struct PodIdentity {
    #[arg(long, env = "POD_NAME")]
    pub pod_name: Option<String>,
    #[arg(long, env = "POD_NAMESPACE")]
    pub pod_namespace: Option<String>,
    #[arg(long, env = "POD_IP")]
    pub pod_ip: Option<String>,
    #[arg(long, env = "NODE_NAME")]
    pub node_name: Option<String>,
}

impl PodIdentity {
    /// The start-up log line: which service, and where it runs.
    pub fn log_starting(&self, service: &str) {
        tracing::info!(
            pod_name = self.pod_name.as_deref().unwrap_or("-"),
            pod_namespace = self.pod_namespace.as_deref().unwrap_or("-"),
            pod_ip = self.pod_ip.as_deref().unwrap_or("-"),
            node_name = self.node_name.as_deref().unwrap_or("-"),
            "{service} starting"
        );
    }
}

/// Reads `C` from the command line and the environment, the way every binary does:
/// - an environment variable set to a blank value counts as unset, as an `env:` entry with
///   `value: ""` in a manifest means "nothing here";
/// - `--help` and `--version` print and exit 0;
/// - a wrong value is one line on stderr, `<binary>: <what is wrong>`, and exit code 1 (a
///   configuration error, like every other start-up error); an unknown argument exits 2.
pub fn parse_or_exit<C: Parser>() -> C {
    let mut command = C::command();
    let blank: Vec<clap::Id> = command
        .get_arguments()
        .filter(|arg| {
            arg.get_env()
                .and_then(std::env::var_os)
                .is_some_and(|value| value.to_string_lossy().trim().is_empty())
        })
        .map(|arg| arg.get_id().clone())
        .collect();
    for id in blank {
        command = command.mut_arg(id, |arg| arg.env(None));
    }
    let name = command.get_name().to_owned();
    let parsed = command
        .try_get_matches()
        .and_then(|mut matches| C::from_arg_matches_mut(&mut matches));
    match parsed {
        Ok(config) => config,
        Err(error) if !error.use_stderr() => error.exit(),
        Err(error) => {
            let rendered = error.render().to_string();
            let first = rendered.lines().next().unwrap_or_default();
            eprintln!("{name}: {}", first.trim_start_matches("error: "));
            let wrong_value = matches!(
                error.kind(),
                clap::error::ErrorKind::InvalidValue | clap::error::ErrorKind::ValueValidation
            );
            std::process::exit(if wrong_value { 1 } else { 2 });
        }
    }
}

/// A start-up step failed: one line on stderr, exit code 1.
pub fn startup_failed(service: &str, error: &dyn Display) -> ExitCode {
    eprintln!("{service}: {error}");
    ExitCode::FAILURE
}

/// A TCP port, 1 to 65535.
pub fn parse_port(value: &str) -> Result<u16, String> {
    match value.trim().parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err("expected a port number from 1 to 65535".into()),
    }
}

/// A positive whole number.
pub fn parse_count(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(count) if count > 0 => Ok(count),
        _ => Err("expected a whole number above 0".into()),
    }
}

/// A positive duration written as `90s`, `15m`, `1h` or a bare number of seconds.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    match parse_delay(value) {
        Ok(duration) if !duration.is_zero() => Ok(duration),
        _ => Err("expected a positive duration such as `3600`, `90s`, `15m` or `1h`".into()),
    }
}

/// Like [`parse_duration`], and `0` too.
pub fn parse_delay(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    value
        .parse::<u64>()
        .map(Duration::from_secs)
        .or_else(|_| humantime::parse_duration(value))
        .map_err(|_| "expected a duration such as `0`, `5`, `90s` or `1m`".into())
}

/// A positive size in bytes, written as Kubernetes writes quantities: `200Mi`, `1Gi`, `500M`,
/// `64Ki` or a bare number of bytes.
pub fn parse_byte_size(value: &str) -> Result<u64, String> {
    const UNITS: [(&str, u64); 8] = [
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
    ];
    let value = value.trim();
    let (number, unit) = UNITS
        .iter()
        .find_map(|(suffix, unit)| Some((value.strip_suffix(suffix)?, *unit)))
        .unwrap_or((value, 1));
    match number.parse::<u64>().ok().and_then(|n| n.checked_mul(unit)) {
        Some(bytes) if bytes > 0 => Ok(bytes),
        _ => Err("expected a size such as `200Mi`, `1Gi`, `500M` or a number of bytes".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_parse_as_kubernetes_quantities_or_explain() {
        assert_eq!(parse_byte_size("200Mi"), Ok(200 << 20));
        assert_eq!(parse_byte_size("1Gi"), Ok(1 << 30));
        assert_eq!(parse_byte_size("64Ki"), Ok(64 << 10));
        assert_eq!(parse_byte_size("500M"), Ok(500_000_000));
        assert_eq!(parse_byte_size("4096"), Ok(4096));
        for bad in ["0", "0Mi", "", "Mi", "1.5Gi", "-1", "big", "20000000Ti"] {
            assert!(parse_byte_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ports_and_durations_parse_or_explain() {
        assert_eq!(parse_port("9000"), Ok(9000));
        for bad in ["0", "-1", "65536", "eighty"] {
            assert!(parse_port(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_duration("3600"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        for bad in ["0", "0s", "soon", "-5"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_delay("0"), Ok(Duration::ZERO));
        assert_eq!(parse_delay("5s"), Ok(Duration::from_secs(5)));
    }
}
