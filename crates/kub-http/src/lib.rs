//! What all three services run on: the middleware around every route, JSON errors, probes,
//! metrics, logs, settings from flags and the environment, and a draining shutdown.
//!
//! - [`layers`]: request ids, one log span per request, metrics, timeout, body limit, and the
//!   JSON 404/405 every router gets ([`layers::with_common_layers`]).
//! - [`errors`]: the `{"message": …}` body, and extractors whose rejections use it.
//! - [`probes`]: `GET /healthz` and the `GET /readyz` answer.
//! - [`request_id`]: the `x-request-id` header, kept or made, and forwarded.
//! - [`metrics`]: `GET /metrics` in Prometheus text format, on its own port.
//! - [`settings`]: the flags every binary shares (each with its environment variable), and
//!   one-line start-up errors.
//! - [`telemetry`]: human or JSON logs; [`traces`]: OpenTelemetry spans over OTLP, and the
//!   W3C trace context in and out.
//! - [`serve`]: serving until SIGTERM, then draining; the `healthcheck` subcommand.
//! - [`accept`]: the accept loop under it: header-read and idle timeouts, connection caps, the
//!   open-file limit; [`connections`]: the caps, per client address and in total; [`heads`]:
//!   each request head's deadline and size.

pub mod accept;
pub mod connections;
pub mod errors;
pub mod heads;
pub mod layers;
pub mod metrics;
pub mod probes;
pub mod rate_limit;
pub mod request_id;
pub mod serve;
pub mod settings;
pub mod telemetry;
pub mod traces;
