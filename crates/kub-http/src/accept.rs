//! The accept loop every service runs instead of `axum::serve`, for what that one cannot do:
//! cap open connections per client address and in total, cap each request head's size
//! (`MAX_HEADER_BYTES`, `MAX_HEADERS`), close a connection whose request head is late
//! (`HEADER_READ_TIMEOUT`, every head: [`crate::heads`]) or whose keep-alive wait is too long
//! (`IDLE_TIMEOUT`), and raise the open-file limit. As axum's `serve-with-hyper` example, it
//! serves each connection with hyper and hands the router the peer address
//! ([`ConnectInfo`]).

use std::{convert::Infallible, future::Future, io, net::SocketAddr, pin::pin, time::Duration};

use axum::{Router, body::Body, extract::ConnectInfo};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    time::Instant,
};
use tower::ServiceExt;

use crate::{
    connections::{ConnectionLimits, ConnectionSlot, OpenConnections, Refusal},
    heads::{ClockedStream, HeadClock, hard_limits, oversized},
    metrics::Metrics,
    settings::ConnectionSettings,
};

/// Descriptors kept back from connections: the store's files, the calls to auth, logs.
const RESERVED_FILES: u64 = 64;

/// Raises the soft open-file limit to the hard one (a container's default soft limit is
/// often 1,024, far below its hard limit) and logs both. Returns the soft limit now in force.
pub fn raise_open_file_limit() -> Option<u64> {
    let (soft, hard) = rlimit::Resource::NOFILE.get().ok()?;
    match rlimit::increase_nofile_limit(hard) {
        Ok(raised) => {
            tracing::info!(
                soft_before = soft,
                soft_now = raised,
                hard,
                "open-file limit"
            );
            Some(raised)
        }
        Err(error) => {
            tracing::warn!(%error, soft, hard, "open-file limit could not be raised");
            Some(soft)
        }
    }
}

/// The caps `settings` asks for, the total lowered to fit `open_file_limit`.
pub fn connection_limits(
    settings: &ConnectionSettings,
    open_file_limit: Option<u64>,
) -> ConnectionLimits {
    let mut total = settings.max_connections;
    if let Some(files) = open_file_limit {
        let fits = usize::try_from(files.saturating_sub(RESERVED_FILES).max(1)).unwrap_or(total);
        if fits < total {
            tracing::warn!(
                requested = total,
                allowed = fits,
                open_file_limit = files,
                "MAX_CONNECTIONS lowered to fit the open-file limit"
            );
            total = fits;
        }
    }
    ConnectionLimits {
        total,
        per_address: settings.max_connections_per_address.min(total),
    }
}

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting, lets every
/// connection finish its request in flight, and returns once all are closed.
pub async fn serve_connections(
    listener: TcpListener,
    router: Router,
    settings: &ConnectionSettings,
    limits: ConnectionLimits,
    metrics: &Metrics,
    shutdown: impl Future<Output = ()>,
) {
    let open = OpenConnections::new(limits, metrics.clone());
    // Every connection task holds a `closed` receiver; the sender learns when the last is gone.
    let (closed, all_closed) = watch::channel(());
    let (stopping, stop) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let slot = match open.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(refusal) => {
                refuse(&stream, refusal);
                continue;
            }
        };
        let connection = Connection {
            router: router.clone(),
            peer,
            settings: settings.clone(),
            _slot: slot,
        };
        let (stop, all_closed) = (stop.clone(), all_closed.clone());
        tokio::spawn(async move {
            connection.serve(stream, stop).await;
            drop(all_closed);
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    drop(all_closed);
    closed.closed().await;
}

/// Out of descriptors (`EMFILE`) or a connection reset before it was accepted: wait a little
/// rather than spin, and go on. The caps keep the first from happening in normal operation.
async fn accept_failed(error: &io::Error) {
    if error.kind() != io::ErrorKind::ConnectionAborted {
        tracing::warn!(%error, "accept failed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The canned answer, written without waiting; a client too slow to take it loses nothing.
fn refuse(stream: &TcpStream, refusal: Refusal) {
    let _ = stream.try_write(refusal.http_answer().as_bytes());
}

struct Connection {
    router: Router,
    peer: SocketAddr,
    settings: ConnectionSettings,
    _slot: ConnectionSlot,
}

impl Connection {
    async fn serve(self, stream: TcpStream, mut stop: watch::Receiver<bool>) {
        let _ = stream.set_nodelay(true);
        let settings = self.settings;
        let clock = HeadClock::new(settings.header_read_timeout);
        let (router, peer) = (self.router, self.peer);
        let limits = settings.clone();
        let on_request = clock.clone();
        let service = service_fn(move |request: hyper::Request<Incoming>| {
            let mut request = on_request.request(request);
            let (router, clock) = (router.clone(), on_request.clone());
            let refusal = oversized(&request, &limits);
            async move {
                let response = match refusal {
                    Some(refusal) => {
                        tracing::debug!(%peer, "request head over the limits; 431");
                        refusal
                    }
                    None => {
                        request.extensions_mut().insert(ConnectInfo(peer));
                        router.oneshot(request.map(Body::new)).await?
                    }
                };
                Ok::<_, Infallible>(clock.answer(response))
            }
        });
        // hyper's one timer runs from the accept and from the end of each answer until the next
        // request head is complete: set to the idle timeout, it closes idle keep-alive
        // connections. Each head's own, shorter, deadline is the clock's, enforced below.
        let (buffer_bytes, header_lines) = hard_limits(&settings);
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(settings.idle_timeout.max(settings.header_read_timeout))
            .max_buf_size(buffer_bytes)
            .max_headers(header_lines);
        let io = TokioIo::new(ClockedStream::new(stream, clock.clone()));
        let mut connection = pin!(builder.serve_connection(io, service));
        let mut stopping = false;
        loop {
            let deadline = clock.deadline();
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, %peer, "connection ended with an error");
                    }
                    return;
                }
                () = sleep_until(deadline) => {
                    if clock.deadline().is_some_and(|deadline| deadline <= Instant::now()) {
                        tracing::debug!(%peer, "no complete request head in time; closing");
                        return;
                    }
                }
                () = clock.deadline_changed() => {}
                _ = stop.changed(), if !stopping => {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
