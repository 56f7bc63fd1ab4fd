//! The middleware around every service's routes, and the routes every service has.

use std::time::Duration;

use axum::{
    Router,
    body::Body,
    error_handling::HandleErrorLayer,
    extract::DefaultBodyLimit,
    extract::{ConnectInfo, MatchedPath},
    http::{HeaderName, Request, StatusCode},
    middleware,
    response::Response,
    routing::get,
};
use tower::{BoxError, ServiceBuilder};
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnResponse, OnResponse, TraceLayer},
};
use tracing::{Level, Span, field::Empty};

use crate::{
    errors::{error_response, method_not_allowed, route_not_found},
    metrics::{Metrics, track_requests},
    probes::alive,
    request_id::{REQUEST_ID_HEADER, drop_unacceptable},
    traces,
};

/// Largest request body any route accepts; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest a request may take end to end; longer ones get 503.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Adds what every service needs around its routes: `GET /healthz`, JSON 404/405, a request
/// id (kept from the caller when acceptable, else generated; echoed in the response), one log
/// span per request carrying that id (and, with traces on, the server span of the request's
/// trace, continuing the caller's `traceparent`), request metrics, a timeout and a body limit. `GET
/// /metrics` is not among them: it is served on its own port ([`crate::metrics::metrics_router`]).
pub fn with_common_layers(router: Router, metrics: Metrics) -> Router {
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    router
        .route("/healthz", get(alive))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .map_request(|mut request: Request<Body>| {
                    drop_unacceptable(request.headers_mut());
                    request
                })
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(RecordResponse(DefaultOnResponse::new().level(Level::INFO))),
                )
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(middleware::from_fn_with_state(metrics, track_requests))
                .layer(HandleErrorLayer::new(request_timed_out))
                .timeout(REQUEST_TIMEOUT)
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
}

/// The path only: query strings and headers (tokens!) stay out of logs and spans.
fn request_span(request: &Request<Body>) -> Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|id| id.to_str().ok())
        .unwrap_or("-");
    let method = request.method();
    let path = request.uri().path();
    if !traces::enabled() {
        return tracing::info_span!("request", %method, path, request_id);
    }
    // The span's name is the route's template (`GET /tasks`), never the path a client chose:
    // a name per path would let one client fill the trace store's index.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let peer = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip().to_string());
    let span = tracing::info_span!(
        "request",
        %method,
        path,
        request_id,
        trace_id = Empty,
        otel.name = format!("{method} {}", route.unwrap_or("(no route)")),
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = %method,
        http.route = route,
        http.response.status_code = Empty,
        url.path = path,
        url.scheme = "http",
        network.peer.address = peer,
    );
    let trace_id = traces::continue_trace(&span, request.headers());
    span.record("trace_id", trace_id);
    span
}

/// The answer's status on the span (with traces on), then tower-http's log line.
#[derive(Clone)]
struct RecordResponse(DefaultOnResponse);

impl<B> OnResponse<B> for RecordResponse {
    fn on_response(self, response: &Response<B>, latency: Duration, span: &Span) {
        if traces::enabled() {
            span.record("http.response.status_code", response.status().as_u16());
            if response.status().is_server_error() {
                span.record("otel.status_code", "ERROR");
            }
        }
        self.0.on_response(response, latency, span);
    }
}

async fn request_timed_out(error: BoxError) -> Response {
    if error.is::<tower::timeout::error::Elapsed>() {
        error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "The request took too long.",
        )
    } else {
        tracing::error!(%error, "middleware error");
        error_response(StatusCode::INTERNAL_SERVER_ERROR, "Internal error.")
    }
}

#[cfg(test)]
mod tests;
