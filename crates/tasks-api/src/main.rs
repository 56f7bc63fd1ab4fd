//! tasks-api's start-up, step by step.

use std::process::ExitCode;

use kub_http::{
    serve::{healthcheck, serve, shutdown_signal},
    settings::{Command, parse_or_exit, startup_failed},
    telemetry,
};
use tasks_api::{AppState, Config, SERVICE, router};

#[tokio::main]
async fn main() -> ExitCode {
    // 1. Settings: flags and environment (`tasks-api --help`); one line and exit 1 if wrong.
    let config: Config = parse_or_exit();
    if let Some(Command::Healthcheck) = config.command {
        return healthcheck(config.port);
    }
    // 2. Logs, and traces if OTEL_EXPORTER_OTLP_ENDPOINT is set.
    let traces = telemetry::init(SERVICE, &config.serve);
    config.serve.pod.log_starting(SERVICE);
    // 3. Where auth is, and the store: one line and exit 1 if either fails. A database may
    //    take a while to answer; SIGTERM meanwhile stops at once (as PID 1 in a container, the
    //    kernel would otherwise ignore it).
    let state = tokio::select! {
        opened = AppState::open(&config) => match opened {
            Ok(state) => state,
            Err(error) => return startup_failed(SERVICE, &error),
        },
        () = shutdown_signal() => return ExitCode::SUCCESS,
    };
    // 4. Serve until SIGTERM, then drain (connections capped, slow and idle ones closed).
    let metrics = state.metrics.clone();
    let exit = serve(SERVICE, config.port, &config.serve, &metrics, router(state)).await;
    // 5. The last spans out, if traces are on (at most 2 s).
    traces.shutdown().await;
    exit
}
