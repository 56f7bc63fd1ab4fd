//! Traces: OpenTelemetry spans sent over OTLP/HTTP, configured by the standard `OTEL_*`
//! variables, and W3C trace context (`traceparent`, `tracestate`) taken from callers and passed
//! on to auth, so one trace shows every hop of a request.
//!
//! Off unless an endpoint is set. Off, a request pays one load of a flag: no span attributes,
//! no header is parsed or written. On, spans wait in a bounded queue for a background thread
//! that exports them; a full queue drops spans, and a collector that is down or slow never
//! delays a request, start-up or shutdown (the last flush is given [`FLUSH_TIMEOUT`]).

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use axum::http::{HeaderMap, HeaderValue};
use clap::{ArgAction, Args, ValueEnum};
use opentelemetry::{
    KeyValue, global,
    propagation::Extractor,
    trace::{TraceContextExt, TracerProvider as _},
};
use opentelemetry_http::HeaderInjector;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::{
    Resource,
    propagation::TraceContextPropagator,
    trace::{Sampler, SdkTracerProvider, SpanExporter},
};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::settings::PodIdentity;

/// Longest the last export may take at shutdown, inside the drain.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported: what every hot path asks before doing any tracing work.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The standard OpenTelemetry SDK variables that this service reads (and their flags).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Traces (OpenTelemetry; off unless an endpoint is set)")]
pub struct TraceSettings {
    /// OTLP/HTTP base URL of a collector, e.g. `http://jaeger:4318`; spans go to
    /// `<url>/v1/traces`. Unset: no traces.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_parser = parse_http_url)]
    pub otel_exporter_otlp_endpoint: Option<String>,
    /// Full URL for spans, used as is (overrides the base URL above).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", value_parser = parse_http_url)]
    pub otel_exporter_otlp_traces_endpoint: Option<String>,
    /// How spans are encoded (gRPC is not built in).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_PROTOCOL", value_enum, default_value_t)]
    pub otel_exporter_otlp_protocol: OtlpProtocol,
    /// `service.name` of the spans (default: the binary's name, e.g. `tasks-api`).
    #[arg(long, env = "OTEL_SERVICE_NAME")]
    pub otel_service_name: Option<String>,
    /// Which traces to keep. The `parentbased_*` ones follow a caller's `traceparent`
    /// decision, so a client can ask for its requests to be traced; `traceidratio` does not.
    #[arg(long, env = "OTEL_TRACES_SAMPLER", value_enum, default_value_t)]
    pub otel_traces_sampler: SamplerName,
    /// The ratio of the `*traceidratio` samplers, from 0 to 1.
    #[arg(long, env = "OTEL_TRACES_SAMPLER_ARG", default_value_t = DEFAULT_SAMPLER_RATIO, value_parser = parse_ratio)]
    pub otel_traces_sampler_arg: f64,
    /// `true`: no traces whatever else is set.
    #[arg(long, env = "OTEL_SDK_DISABLED", default_value_t = false, action = ArgAction::Set, value_parser = parse_bool)]
    pub otel_sdk_disabled: bool,
}

const DEFAULT_SAMPLER_RATIO: f64 = 1.0;

impl Default for TraceSettings {
    fn default() -> Self {
        Self {
            otel_exporter_otlp_endpoint: None,
            otel_exporter_otlp_traces_endpoint: None,
            otel_exporter_otlp_protocol: OtlpProtocol::default(),
            otel_service_name: None,
            otel_traces_sampler: SamplerName::default(),
            otel_traces_sampler_arg: DEFAULT_SAMPLER_RATIO,
            otel_sdk_disabled: false,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum OtlpProtocol {
    #[default]
    #[value(name = "http/protobuf")]
    HttpProtobuf,
    #[value(name = "http/json")]
    HttpJson,
}

/// The sampler names of the OpenTelemetry specification.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum SamplerName {
    #[value(name = "always_on")]
    AlwaysOn,
    #[value(name = "always_off")]
    AlwaysOff,
    #[value(name = "traceidratio")]
    TraceIdRatio,
    #[default]
    #[value(name = "parentbased_always_on")]
    ParentBasedAlwaysOn,
    #[value(name = "parentbased_always_off")]
    ParentBasedAlwaysOff,
    #[value(name = "parentbased_traceidratio")]
    ParentBasedTraceIdRatio,
}

impl TraceSettings {
    /// Where spans go, or `None` when traces are off.
    pub fn traces_endpoint(&self) -> Option<String> {
        if self.otel_sdk_disabled {
            return None;
        }
        self.otel_exporter_otlp_traces_endpoint.clone().or_else(|| {
            let base = self.otel_exporter_otlp_endpoint.as_deref()?;
            Some(format!("{}/v1/traces", base.trim_end_matches('/')))
        })
    }

    fn sampler(&self) -> Sampler {
        let ratio = Sampler::TraceIdRatioBased(self.otel_traces_sampler_arg);
        match self.otel_traces_sampler {
            SamplerName::AlwaysOn => Sampler::AlwaysOn,
            SamplerName::AlwaysOff => Sampler::AlwaysOff,
            SamplerName::TraceIdRatio => ratio,
            SamplerName::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            SamplerName::ParentBasedAlwaysOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
            SamplerName::ParentBasedTraceIdRatio => Sampler::ParentBased(Box::new(ratio)),
        }
    }
}

/// The exporting side, held by `main` until the end: [`Traces::shutdown`] sends what is queued.
#[derive(Debug, Default)]
pub struct Traces {
    provider: Option<SdkTracerProvider>,
}

impl Traces {
    /// Starts exporting (when `settings` name an endpoint): the tracer provider, its background
    /// thread and the W3C propagator. `Err` only for an exporter that cannot be built.
    pub fn start(
        service: &'static str,
        settings: &TraceSettings,
        pod: &PodIdentity,
    ) -> Result<Self, String> {
        let Some(endpoint) = settings.traces_endpoint() else {
            return Ok(Self::default());
        };
        let protocol = match settings.otel_exporter_otlp_protocol {
            OtlpProtocol::HttpProtobuf => Protocol::HttpBinary,
            OtlpProtocol::HttpJson => Protocol::HttpJson,
        };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(endpoint)
            .with_protocol(protocol)
            .build()
            .map_err(|error| format!("OTLP exporter: {error}"))?;
        Ok(Self::with_exporter(service, settings, pod, exporter))
    }

    /// Exporting to `exporter` (an OTLP one, or a test's in-memory one) through the batch
    /// processor, whose queue (`OTEL_BSP_MAX_QUEUE_SIZE`, 2,048) drops spans when full.
    pub fn with_exporter(
        service: &'static str,
        settings: &TraceSettings,
        pod: &PodIdentity,
        exporter: impl SpanExporter + 'static,
    ) -> Self {
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_sampler(settings.sampler())
            .with_resource(resource(service, settings, pod))
            .build();
        global::set_text_map_propagator(TraceContextPropagator::new());
        ENABLED.store(true, Ordering::Relaxed);
        Self {
            provider: Some(provider),
        }
    }

    /// Whether spans are exported.
    pub fn is_on(&self) -> bool {
        self.provider.is_some()
    }

    /// Sends every finished span to the exporter now (tests read them after this).
    pub fn flush(&self) {
        if let Some(provider) = &self.provider {
            let _ = provider.force_flush();
        }
    }

    /// What `tracing_opentelemetry::layer().with_tracer(…)` needs, when exporting.
    pub fn tracer(&self) -> Option<opentelemetry_sdk::trace::SdkTracer> {
        let provider = self.provider.as_ref()?;
        Some(provider.tracer(env!("CARGO_PKG_NAME")))
    }

    /// Exports what is queued, waiting at most [`FLUSH_TIMEOUT`]; then no more spans are sent.
    pub async fn shutdown(self) {
        let Some(provider) = self.provider else {
            return;
        };
        ENABLED.store(false, Ordering::Relaxed);
        let flushed =
            tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(FLUSH_TIMEOUT))
                .await;
        if let Ok(Err(error)) = flushed {
            tracing::warn!(%error, "the last spans were not all exported");
        }
    }
}

/// `service.*` and the Pod's `k8s.*` from the downward API, beside `OTEL_RESOURCE_ATTRIBUTES`.
fn resource(service: &'static str, settings: &TraceSettings, pod: &PodIdentity) -> Resource {
    let name = settings.otel_service_name.clone().unwrap_or(service.into());
    let pod_attributes = [
        ("k8s.pod.name", &pod.pod_name),
        ("k8s.namespace.name", &pod.pod_namespace),
        ("k8s.node.name", &pod.node_name),
    ];
    Resource::builder()
        .with_service_name(name)
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .with_attributes(
            pod_attributes
                .into_iter()
                .filter_map(|(key, value)| value.clone().map(|value| KeyValue::new(key, value))),
        )
        .build()
}

/// Makes `span` a child of the caller's `traceparent` (if valid) and returns the trace id it
/// ends up in, for the logs. Only called when [`enabled`].
pub fn continue_trace(span: &Span, headers: &HeaderMap) -> String {
    let parent =
        global::get_text_map_propagator(|propagator| propagator.extract(&Inbound(headers)));
    if parent.span().span_context().is_valid() {
        // Fails only for a span that no layer records, which then has no trace either.
        let _ = span.set_parent(parent);
    }
    span.context().span().span_context().trace_id().to_string()
}

/// Longest `tracestate` passed on. The W3C specification asks for at least 512 characters;
/// one of 8 KiB would otherwise go to auth on every call and could push that request over
/// auth's own head limit (431, which the caller would see as a 503).
pub const MAX_TRACESTATE_BYTES: usize = 512;

/// A caller's headers as the propagator reads them: a `tracestate` over
/// [`MAX_TRACESTATE_BYTES`] is left out, as the specification allows.
struct Inbound<'a>(&'a HeaderMap);

impl Extractor for Inbound<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let value = self.0.get(key)?.to_str().ok()?;
        (key != "tracestate" || value.len() <= MAX_TRACESTATE_BYTES).then_some(value)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

/// The current span's context as `traceparent` and `tracestate` headers, for a call out.
pub fn outgoing_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    if enabled() {
        let context = Span::current().context();
        global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&context, &mut HeaderInjector(&mut headers));
        });
    }
    headers
}

/// `OTEL_EXPORTER_OTLP_*ENDPOINT`: an `http://` URL (the exporter has no TLS built in).
fn parse_http_url(value: &str) -> Result<String, String> {
    match HeaderValue::from_str(value) {
        Ok(_) if value.starts_with("http://") && value.len() > "http://".len() => {
            Ok(value.to_owned())
        }
        _ => Err("expected an http:// URL, such as `http://jaeger:4318`".into()),
    }
}

fn parse_ratio(value: &str) -> Result<f64, String> {
    match value.trim().parse::<f64>() {
        Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
        _ => Err("expected a ratio from 0 to 1, such as `0.01`".into()),
    }
}

/// `true` or `false`, in any case, as the specification says.
fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("expected `true` or `false`".into()),
    }
}

#[cfg(test)]
mod tests;
