//! Logs: human-readable by default, one JSON object per line with `LOG_FORMAT=json`, filtered
//! by `RUST_LOG` (default `info`). Traces: spans exported when `OTEL_*` ask for it
//! ([`crate::traces`]); `RUST_LOG` filters the logs only, so quieter logs keep whole traces.

use opentelemetry_sdk::trace::SdkTracer;
use tracing::{Level, Metadata};
use tracing_subscriber::{
    EnvFilter, Layer, Registry, filter::filter_fn, layer::SubscriberExt, util::SubscriberInitExt,
};

use crate::{
    settings::{LogFormat, LogSettings, ServeSettings},
    traces::Traces,
};

pub type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// Installs the global subscriber and starts exporting traces if configured; `main` keeps
/// what is returned until it has drained. A second call (as in tests) keeps the first
/// subscriber. A trace exporter that cannot be built is logged, and the service runs without.
pub fn init(service: &'static str, settings: &ServeSettings) -> Traces {
    let traces = Traces::start(service, &settings.traces, &settings.pod);
    let mut layers = vec![log_layer(&settings.log)];
    if let Some(tracer) = traces.as_ref().ok().and_then(Traces::tracer) {
        layers.push(span_layer(tracer));
    }
    let _already_set = tracing_subscriber::registry().with(layers).try_init();
    if EnvFilter::try_new(&settings.log.log_filter).is_err() {
        tracing::warn!(filter = %settings.log.log_filter, "RUST_LOG is not a valid filter; logging at info");
    }
    match traces {
        Ok(traces) => {
            if let (Some(endpoint), true) = (settings.traces.traces_endpoint(), traces.is_on()) {
                let (protocol, sampler) = (
                    settings.traces.otel_exporter_otlp_protocol,
                    settings.traces.otel_traces_sampler,
                );
                tracing::info!(endpoint, ?protocol, ?sampler, "traces on");
            }
            traces
        }
        Err(error) => {
            tracing::warn!(%error, "traces are off");
            Traces::default()
        }
    }
}

/// The layer that turns our `tracing` spans into OpenTelemetry spans for `tracer`.
pub fn span_layer(tracer: SdkTracer) -> BoxedLayer {
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        // Each of these costs every request something, sampled or not (the spans are built
        // before the sampler decides): where in the code, which thread, busy and idle times,
        // the target, and an OpenTelemetry context swapped on every poll (our calls out read
        // the span's own context instead).
        .with_location(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        .with_target(false)
        .with_context_activation(false)
        .with_filter(filter_fn(exported))
        .boxed()
}

/// What becomes part of a trace: our spans at INFO and above, and only the events that say
/// something went wrong (WARN, ERROR); every other log line stays in the logs, which carry the
/// trace id. Never the exporter's own events (it would trace itself).
fn exported(metadata: &Metadata<'_>) -> bool {
    let level = if metadata.is_span() {
        Level::INFO
    } else {
        Level::WARN
    };
    *metadata.level() <= level && !metadata.target().starts_with("opentelemetry")
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
