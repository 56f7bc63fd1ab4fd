//! What every service runs behind, and the `main` all three binaries share.

use std::{
    error::Error,
    future::Future,
    io,
    net::{Ipv4Addr, SocketAddr},
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::Body,
    error_handling::HandleErrorLayer,
    extract::{DefaultBodyLimit, State},
    http::{HeaderName, HeaderValue, Request, StatusCode, header::CONNECTION},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tower::{BoxError, ServiceBuilder};
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::{Level, Span};

use crate::{
    config::{Lookup, PodIdentity, listen_port, process_env, shutdown_delay},
    error::{error_response, method_not_allowed, route_not_found},
    metrics::{Metrics, metrics_endpoint, track_requests},
    network::{NetworkInfo, network_routes},
    openapi::openapi_routes,
    telemetry,
};

pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Largest request body any route accepts; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest a request may take end to end; longer ones get 503.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Adds what every service needs around its routes: `GET /healthz` and `GET /metrics`,
/// JSON 404/405, a request id (kept from the caller or generated, echoed in the response),
/// one log span per request carrying that id, request metrics, a timeout and a body limit.
pub fn with_common_layers(router: Router, metrics: Metrics) -> Router {
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    router
        .route("/healthz", get(alive))
        .merge(
            Router::new()
                .route("/metrics", get(metrics_endpoint))
                .with_state(metrics.clone()),
        )
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(middleware::from_fn_with_state(metrics, track_requests))
                .layer(HandleErrorLayer::new(request_timed_out))
                .timeout(REQUEST_TIMEOUT)
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
}

/// A public service (users, tasks): its documented routes, plus `GET /network`,
/// `GET /openapi.json` (its document completed with the shared routes) and the common layers.
pub fn public_service(
    (routes, api): (Router, utoipa::openapi::OpenApi),
    network: NetworkInfo,
    metrics: Metrics,
) -> Router {
    let routes = routes
        .merge(network_routes(network))
        .merge(openapi_routes(api));
    with_common_layers(routes, metrics)
}

/// The path only: query strings and headers (tokens!) stay out of logs.
fn request_span(request: &Request<Body>) -> Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|id| id.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id)
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

/// A service serving in the background until [`RunningServer::stop`]; what tests and the
/// dev stack use.
pub struct RunningServer {
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

impl RunningServer {
    pub async fn start(addr: SocketAddr, router: Router) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Self { addr, stop, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Graceful: in-flight requests finish first.
    pub async fn stop(self) -> io::Result<()> {
        let _ = self.stop.send(());
        self.task.await.map_err(io::Error::other)?
    }
}

/// `main` for every service binary:
/// - `<binary> healthcheck` GETs its own `/healthz` (images have no curl) and exits 0 or 1;
/// - otherwise: logs, configuration from the environment (one clear line on stderr and
///   exit 1 when it is wrong), serve on `0.0.0.0:$PORT`, exit 0 after SIGTERM/SIGINT once
///   in-flight requests are done.
pub fn run_main<F, Fut>(service: &'static str, default_port: u16, build: F) -> ExitCode
where
    F: FnOnce(Lookup<'static>) -> Fut,
    Fut: Future<Output = Result<Router, Box<dyn Error>>>,
{
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{service}: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let (port, drain) = match listen_port(&process_env, default_port)
            .and_then(|port| Ok((port, shutdown_delay(&process_env)?)))
        {
            Ok(settings) => settings,
            Err(error) => {
                eprintln!("{service}: {error}");
                return ExitCode::FAILURE;
            }
        };
        let args: Vec<String> = std::env::args().skip(1).collect();
        match args.as_slice() {
            [] => {}
            [command] if command == "healthcheck" => return healthcheck(port).await,
            _ => {
                eprintln!("usage: {service} [healthcheck]");
                return ExitCode::from(2);
            }
        }
        telemetry::init(&process_env);
        let pod = PodIdentity::from_env(&process_env);
        tracing::info!(
            pod_name = pod.pod_name.as_deref().unwrap_or("-"),
            pod_namespace = pod.pod_namespace.as_deref().unwrap_or("-"),
            pod_ip = pod.pod_ip.as_deref().unwrap_or("-"),
            node_name = pod.node_name.as_deref().unwrap_or("-"),
            "{service} starting"
        );
        let router = match build(&process_env).await {
            Ok(router) => router,
            Err(error) => {
                eprintln!("{service}: {error}");
                return ExitCode::FAILURE;
            }
        };
        match serve_until_signal(service, port, router, drain).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("{service}: {error}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Serves until SIGTERM/SIGINT, then drains: for `drain`, `/readyz` answers 503 while every
/// other route keeps serving (with `Connection: close`, so keep-alive clients reconnect
/// elsewhere); only then does the listener close and in-flight requests finish.
///
/// Why wait: Kubernetes removes a terminating Pod from its Service's endpoints at the same
/// moment it sends SIGTERM, and kube-proxy on every node needs a moment to stop routing new
/// connections to it. A process that closes its listener at once refuses those connections.
async fn serve_until_signal(
    service: &str,
    port: u16,
    router: Router,
    drain: Duration,
) -> io::Result<()> {
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    let listener = TcpListener::bind(addr).await.map_err(|error| {
        io::Error::new(error.kind(), format!("cannot listen on {addr}: {error}"))
    })?;
    tracing::info!(%addr, ?drain, "{service} listening");
    let draining = Arc::new(AtomicBool::new(false));
    let router = router.layer(middleware::from_fn_with_state(
        draining.clone(),
        refuse_readiness_while_draining,
    ));
    let shutdown = async move {
        shutdown_signal().await;
        if !drain.is_zero() {
            draining.store(true, Ordering::Relaxed);
            tracing::info!(
                ?drain,
                "not ready; serving on while the Pod leaves its Services"
            );
            tokio::time::sleep(drain).await;
        }
        tracing::info!("closing the listener, finishing in-flight requests");
    };
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!("{service} stopped");
    Ok(())
}

async fn refuse_readiness_while_draining(
    State(draining): State<Arc<AtomicBool>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    if !draining.load(Ordering::Relaxed) {
        return next.run(request).await;
    }
    let mut response = if request.uri().path() == "/readyz" {
        error_response(StatusCode::SERVICE_UNAVAILABLE, "Not ready: shutting down.")
    } else {
        next.run(request).await
    };
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Resolves on SIGTERM (what Kubernetes and Docker send) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}

async fn healthcheck(port: u16) -> ExitCode {
    let url = format!("http://127.0.0.1:{port}/healthz");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build();
    let status = match client {
        Ok(client) => client
            .get(&url)
            .send()
            .await
            .map(|response| response.status()),
        Err(error) => Err(error),
    };
    match status {
        Ok(status) if status.is_success() => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("{url} answered {status}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("{url}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `GET /healthz`: the process is up and serving.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Liveness: the process is up (`{\"status\":\"ok\"}`).")))]
pub async fn alive() -> Response {
    axum::Json(serde_json::json!({ "status": "ok" })).into_response()
}

/// `GET /readyz` answer: 200 `{"status":"ready"}`, or 503 `{"message": why}`.
pub fn readiness(outcome: Result<(), String>) -> Response {
    match outcome {
        Ok(()) => axum::Json(serde_json::json!({ "status": "ready" })).into_response(),
        Err(why) => error_response(StatusCode::SERVICE_UNAVAILABLE, format!("Not ready: {why}")),
    }
}
