//! auth-api's start-up, step by step.

use std::process::ExitCode;

use auth_api::{AppState, Config, SERVICE, router};
use kub_http::{
    serve::{healthcheck, serve},
    settings::{Command, parse_or_exit, startup_failed},
    telemetry,
};

/// Each argon2 hash allocates and frees 19 MiB. glibc's malloc kept those blocks (auth grew to
/// ~200 MiB under a login load); mimalloc gives them back to the OS.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // 1. Settings: flags and environment (`auth-api --help`); one line and exit 1 if wrong.
    let config: Config = parse_or_exit();
    if let Some(Command::Healthcheck) = config.command {
        return healthcheck(config.port);
    }
    // 2. Logs, and traces if OTEL_EXPORTER_OTLP_ENDPOINT is set.
    let traces = telemetry::init(SERVICE, &config.serve);
    config.serve.pod.log_starting(SERVICE);
    // 3. The signing keys, then the callers' keys: one line and exit 1 if one is unusable.
    let state = match AppState::new(&config.tokens, &config.hashing) {
        Ok(state) => state,
        Err(error) => return startup_failed(SERVICE, &error),
    };
    let state = match config.callers.callers() {
        Ok(callers) => state.with_callers(callers),
        Err(error) => return startup_failed(SERVICE, &error),
    };
    // 4. Serve until SIGTERM, then drain (connections capped, slow and idle ones closed).
    let metrics = state.metrics.clone();
    let exit = serve(SERVICE, config.port, &config.serve, &metrics, router(state)).await;
    // 5. The last spans out, if traces are on (at most 2 s).
    traces.shutdown().await;
    exit
}
