//! Logs: human-readable by default, one JSON object per line with `LOG_FORMAT=json`, filtered
//! by `RUST_LOG` (default `info`). Traces: spans exported when `OTEL_*` ask for it
//! ([`crate::traces`]); `RUST_LOG` filters the logs only, so quieter logs keep whole traces.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::{
    EnvFilter, Layer, Registry, filter::Targets, layer::SubscriberExt, util::SubscriberInitExt,
};

use crate::{
    settings::{LogFormat, LogSettings, ServeSettings},
    traces::Traces,
};

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// Installs the global subscriber and starts exporting traces if configured; `main` keeps
/// what is returned until it has drained. A second call (as in tests) keeps the first
/// subscriber. A trace exporter that cannot be built is logged, and the service runs without.
pub fn init(service: &'static str, settings: &ServeSettings) -> Traces {
    let traces = Traces::start(service, &settings.traces, &settings.pod);
    let mut layers = vec![log_layer(&settings.log)];
    if let Some(tracer) = traces.as_ref().ok().and_then(Traces::tracer) {
        // Our spans and their events; not the exporter's own (it would trace itself).
        let spans = Targets::new()
            .with_default(LevelFilter::INFO)
            .with_target("opentelemetry", LevelFilter::OFF)
            .with_target("opentelemetry_sdk", LevelFilter::OFF)
            .with_target("opentelemetry_otlp", LevelFilter::OFF);
        layers.push(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(spans)
                .boxed(),
        );
    }
    let _already_set = tracing_subscriber::registry().with(layers).try_init();
    if EnvFilter::try_new(&settings.log.log_filter).is_err() {
        tracing::warn!(filter = %settings.log.log_filter, "RUST_LOG is not a valid filter; logging at info");
    }
    traces.unwrap_or_else(|error| {
        tracing::warn!(%error, "traces are off");
        Traces::default()
    })
}

fn log_layer(settings: &LogSettings) -> BoxedLayer {
    let filter =
        EnvFilter::try_new(&settings.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    match settings.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_filter(filter)
            .boxed(),
        LogFormat::Text => {
            // Colours only on a terminal: `docker logs` and log collectors get plain text.
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
            tracing_subscriber::fmt::layer()
                .with_ansi(ansi)
                .with_filter(filter)
                .boxed()
        }
    }
}
