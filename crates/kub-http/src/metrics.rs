//! `GET /metrics` in Prometheus text format, on its own port (`METRICS_PORT`, never the
//! public one): requests by route and status, latency histograms, calls to auth, how many
//! records and bytes each store holds beside its budget, requests turned away to protect the
//! service (throttled, shed) and open connections. One registry per service instance, so
//! in-process tests with three services keep their numbers apart.

use std::{sync::Arc, time::Instant};

use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::errors::{method_not_allowed, route_not_found};

type StoredSource = Arc<dyn Fn() -> Stored + Send + Sync>;

/// What a store holds, read at every scrape.
pub struct Stored {
    pub records: usize,
    /// Bytes of the store's file.
    pub bytes: u64,
    /// The most bytes the file may grow to, when it has a budget.
    pub budget_bytes: Option<u64>,
}

/// Marks a response as a request turned away to protect the service; [`track_requests`]
/// counts it by route and reason. Error enums put it in their response's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnedAway {
    /// Over a rate limit (429): `http_requests_throttled_total`.
    Throttled(&'static str),
    /// Dropped because the service is overloaded (503): `http_requests_shed_total`.
    Shed(&'static str),
}

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    auth_call_seconds: HistogramVec,
    auth_call_failures: IntCounterVec,
    stored: IntGaugeVec,
    stored_bytes: IntGaugeVec,
    stored_budget_bytes: IntGaugeVec,
    throttled: IntCounterVec,
    shed: IntCounterVec,
    connections_open: IntGauge,
    connections_refused: IntCounterVec,
    stored_sources: Arc<std::sync::Mutex<Vec<(&'static str, StoredSource)>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route, method and status.",
            ),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let request_seconds = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer, by route and method.",
            ),
            &["route", "method"],
        )
        .expect("valid metric");
        let auth_call_seconds = HistogramVec::new(
            HistogramOpts::new("auth_call_duration_seconds", "Calls to auth-api, by route."),
            &["call"],
        )
        .expect("valid metric");
        let auth_call_failures = IntCounterVec::new(
            Opts::new(
                "auth_call_failures_total",
                "Calls to auth-api that failed, by route and reason.",
            ),
            &["call", "reason"],
        )
        .expect("valid metric");
        let stored = IntGaugeVec::new(
            Opts::new("stored_records", "Records in the store."),
            &["kind"],
        )
        .expect("valid metric");
        let stored_bytes = IntGaugeVec::new(
            Opts::new("store_bytes", "Bytes of the store's file."),
            &["kind"],
        )
        .expect("valid metric");
        let stored_budget_bytes = IntGaugeVec::new(
            Opts::new(
                "store_budget_bytes",
                "The most bytes the store's file may grow to (absent: no budget).",
            ),
            &["kind"],
        )
        .expect("valid metric");
        let throttled = IntCounterVec::new(
            Opts::new(
                "http_requests_throttled_total",
                "Requests answered 429 by a rate limit, by route and reason.",
            ),
            &["route", "reason"],
        )
        .expect("valid metric");
        let shed = IntCounterVec::new(
            Opts::new(
                "http_requests_shed_total",
                "Requests answered 503 at once because the service was overloaded, by route and reason.",
            ),
            &["route", "reason"],
        )
        .expect("valid metric");
        let connections_open = IntGauge::new("http_connections_open", "Open client connections.")
            .expect("valid metric");
        let connections_refused = IntCounterVec::new(
            Opts::new(
                "http_connections_refused_total",
                "Connections refused at accept, over the per-address or the total cap.",
            ),
            &["reason"],
        )
        .expect("valid metric");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(request_seconds.clone()),
            Box::new(auth_call_seconds.clone()),
            Box::new(auth_call_failures.clone()),
            Box::new(stored.clone()),
            Box::new(stored_bytes.clone()),
            Box::new(stored_budget_bytes.clone()),
            Box::new(throttled.clone()),
            Box::new(shed.clone()),
            Box::new(connections_open.clone()),
            Box::new(connections_refused.clone()),
        ] {
            registry.register(collector).expect("unique metric names");
        }
        Self {
            registry,
            requests,
            request_seconds,
            auth_call_seconds,
            auth_call_failures,
            stored,
            stored_bytes,
            stored_budget_bytes,
            throttled,
            shed,
            connections_open,
            connections_refused,
            stored_sources: Arc::default(),
        }
    }

    /// Reports `stored()` as `stored_records`, `store_bytes` and `store_budget_bytes`
    /// (label `kind`) at every scrape.
    pub fn track_stored(
        &self,
        kind: &'static str,
        stored: impl Fn() -> Stored + Send + Sync + 'static,
    ) {
        self.stored_sources
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((kind, Arc::new(stored)));
    }

    pub fn observe_auth_call(&self, call: &str, seconds: f64, failure: Option<&str>) {
        self.auth_call_seconds
            .with_label_values(&[call])
            .observe(seconds);
        if let Some(reason) = failure {
            self.auth_call_failures
                .with_label_values(&[call, reason])
                .inc();
        }
    }

    pub fn connections_open(&self, delta: i64) {
        self.connections_open.add(delta);
    }

    pub fn connection_refused(&self, reason: &str) {
        self.connections_refused.with_label_values(&[reason]).inc();
    }

    pub fn render(&self) -> String {
        let sources = self
            .stored_sources
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        for (kind, source) in sources {
            let stored = source();
            self.stored
                .with_label_values(&[kind])
                .set(gauge(stored.records as u64));
            self.stored_bytes
                .with_label_values(&[kind])
                .set(gauge(stored.bytes));
            if let Some(budget) = stored.budget_bytes {
                self.stored_budget_bytes
                    .with_label_values(&[kind])
                    .set(gauge(budget));
            }
        }
        let mut text = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut text);
        String::from_utf8(text).unwrap_or_default()
    }
}

/// Counts and times every request. Unmatched paths share one label, so a scan of random URLs
/// cannot blow up the number of series.
pub async fn track_requests(
    State(metrics): State<Metrics>,
    request: Request,
    next: Next,
) -> Response {
    // Both clones are cheap: MatchedPath holds an Arc<str>, standard methods hold no data.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let method = request.method().clone();
    let method = method.as_str();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics
        .request_seconds
        .with_label_values(&[route, method])
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .with_label_values(&[route, method, response.status().as_str()])
        .inc();
    match response.extensions().get::<TurnedAway>() {
        Some(TurnedAway::Throttled(reason)) => {
            metrics.throttled.with_label_values(&[route, reason]).inc();
        }
        Some(TurnedAway::Shed(reason)) => metrics.shed.with_label_values(&[route, reason]).inc(),
        None => {}
    }
    response
}

/// What the metrics port serves: `GET /metrics`, and JSON 404/405 for anything else.
pub fn metrics_router(metrics: Metrics) -> Router {
    Router::new()
        .route("/metrics", get(metrics_endpoint))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(metrics)
}

/// `GET /metrics`, in Prometheus text format.
pub async fn metrics_endpoint(State(metrics): State<Metrics>) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render(),
    )
        .into_response()
}
