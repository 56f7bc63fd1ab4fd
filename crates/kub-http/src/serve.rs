//! Serving until SIGTERM, then draining; and the `healthcheck` subcommand.

use std::{
    future::Future,
    io::{self, Read, Write},
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
    extract::State,
    http::{HeaderValue, Request, StatusCode, header::CONNECTION},
    middleware::{self, Next},
    response::Response,
};
use tokio::{net::TcpListener, sync::watch};

use crate::{
    accept::{connection_limits, raise_open_file_limit, serve_connections},
    connections::ConnectionLimits,
    errors::error_response,
    metrics::{Metrics, metrics_router},
    settings::{ConnectionSettings, ServeSettings},
};

mod running;
pub use running::RunningServer;

/// Serves `router` on `0.0.0.0:port`, and `GET /metrics` on `0.0.0.0:METRICS_PORT`, until
/// SIGTERM or SIGINT, then drains: for `drain`, `/readyz` answers 503 while every other route
/// keeps serving (with `Connection: close`, so keep-alive clients reconnect elsewhere); only
/// then do the listeners close (the metrics port serves until then) and in-flight requests
/// finish. Exit code 0 after a clean stop, 1 (with one line on stderr) otherwise.
///
/// Why wait: Kubernetes removes a terminating Pod from its Service's endpoints at the same
/// moment it sends SIGTERM, and kube-proxy on every node needs a moment to stop routing new
/// connections to it. A process that closed its listener at once would refuse those.
pub async fn serve(
    service: &str,
    port: u16,
    settings: &ServeSettings,
    metrics: &Metrics,
    router: Router,
) -> ExitCode {
    match serve_until_signal(service, port, settings, metrics, router).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{service}: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve_until_signal(
    service: &str,
    port: u16,
    settings: &ServeSettings,
    metrics: &Metrics,
    router: Router,
) -> io::Result<()> {
    if settings.metrics_port == port {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("METRICS_PORT and PORT are both {port}: /metrics needs a port of its own"),
        ));
    }
    let open_file_limit = raise_open_file_limit();
    let limits = connection_limits(&settings.connections, open_file_limit);
    let listener = bind(port).await?;
    let metrics_listener = bind(settings.metrics_port).await?;
    let drain = settings.shutdown_delay;
    tracing::info!(
        addr = %listener.local_addr()?,
        metrics_addr = %metrics_listener.local_addr()?,
        ?drain,
        max_connections = limits.total,
        max_connections_per_address = limits.per_address,
        header_read_timeout = ?settings.connections.header_read_timeout,
        idle_timeout = ?settings.connections.idle_timeout,
        max_header_bytes = settings.connections.max_header_bytes,
        max_headers = settings.connections.max_headers,
        "{service} listening"
    );
    let draining = Arc::new(AtomicBool::new(false));
    let router = router.layer(middleware::from_fn_with_state(
        draining.clone(),
        refuse_readiness_while_draining,
    ));
    let (closing, closed) = watch::channel(false);
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
        tracing::info!("closing the listeners, finishing in-flight requests");
        let _ = closing.send(true);
    };
    tokio::join!(
        serve_connections(
            listener,
            router,
            &settings.connections,
            limits,
            metrics,
            shutdown,
        ),
        serve_metrics(
            metrics_listener,
            metrics,
            &settings.connections,
            until_true(closed)
        ),
    );
    tracing::info!("{service} stopped");
    Ok(())
}

async fn bind(port: u16) -> io::Result<TcpListener> {
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    TcpListener::bind(addr)
        .await
        .map_err(|error| io::Error::new(error.kind(), format!("cannot listen on {addr}: {error}")))
}

/// The metrics port's own caps: Prometheus needs a connection or two, and the port is not
/// public; they keep a client that reaches it from taking descriptors the service needs.
const METRICS_CONNECTIONS: ConnectionLimits = ConnectionLimits {
    total: 32,
    per_address: 8,
};

/// `GET /metrics` on `listener` until `shutdown`, under the service's head and time limits.
/// Its connections are not counted in `http_connections_open`, which counts the service's.
pub(crate) async fn serve_metrics(
    listener: TcpListener,
    metrics: &Metrics,
    settings: &ConnectionSettings,
    shutdown: impl Future<Output = ()>,
) {
    let router = metrics_router(metrics.clone());
    let uncounted = Metrics::new();
    serve_connections(
        listener,
        router,
        settings,
        METRICS_CONNECTIONS,
        &uncounted,
        shutdown,
    )
    .await;
}

/// Resolves once `flag` is true, or its sender is gone.
pub(crate) async fn until_true(mut flag: watch::Receiver<bool>) {
    let _ = flag.wait_for(|set| *set).await;
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

/// `<binary> healthcheck`: GET `http://127.0.0.1:<port>/healthz` within 2 s; exit 0 on a 200.
pub fn healthcheck(port: u16) -> ExitCode {
    let url = format!("http://127.0.0.1:{port}/healthz");
    match status_of_get(port, "/healthz", Duration::from_secs(2)) {
        Ok(200) => ExitCode::SUCCESS,
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

/// The status of `GET http://127.0.0.1:<port><path>`, each step within `timeout`: a plain
/// HTTP/1.1 exchange on a socket, of which the status line is all that is read.
pub fn status_of_get(port: u16, path: &str, timeout: Duration) -> io::Result<u16> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = std::net::TcpStream::connect_timeout(&address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut head = [0u8; 12]; // "HTTP/1.1 200"
    stream.read_exact(&mut head)?;
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|status| status.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an HTTP answer"))
}

#[cfg(test)]
mod tests;
