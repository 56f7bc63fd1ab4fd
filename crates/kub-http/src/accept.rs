//! The accept loop every service runs instead of `axum::serve`, for what that one cannot do:
//! cap open connections per client address and in total, close a connection whose first
//! request head is late (`HEADER_READ_TIMEOUT`) or whose keep-alive wait is too long
//! (`IDLE_TIMEOUT`), and raise the open-file limit. As axum's `serve-with-hyper` example, it
//! serves each connection with hyper and hands the router the peer address
//! ([`ConnectInfo`]).

use std::{
    future::Future,
    io,
    net::SocketAddr,
    pin::pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::{Router, extract::ConnectInfo};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};
use tower::ServiceExt;

use crate::{
    connections::{ConnectionLimits, ConnectionSlot, OpenConnections, Refusal},
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
        let ConnectionSettings {
            header_read_timeout,
            idle_timeout,
            ..
        } = self.settings;
        let first_request_seen = Arc::new(AtomicBool::new(false));
        let seen = first_request_seen.clone();
        let (router, peer) = (self.router, self.peer);
        let service = service_fn(move |mut request: hyper::Request<Incoming>| {
            seen.store(true, Ordering::Relaxed);
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request)
        });
        // hyper's one timer runs from the accept and from the end of each answer until the next
        // request head is complete: set to the idle timeout, it closes idle keep-alive
        // connections. A shorter header timeout for the first request is enforced below.
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(idle_timeout.max(header_read_timeout));
        let mut connection = pin!(builder.serve_connection(TokioIo::new(stream), service));
        let mut first_head_deadline = pin!(tokio::time::sleep(header_read_timeout));
        let mut watching_first_head = header_read_timeout < idle_timeout;
        let mut stopping = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, %peer, "connection ended with an error");
                    }
                    return;
                }
                () = &mut first_head_deadline, if watching_first_head => {
                    if !first_request_seen.load(Ordering::Relaxed) {
                        tracing::debug!(%peer, "no complete request head in time; closing");
                        return;
                    }
                    watching_first_head = false;
                }
                _ = stop.changed(), if !stopping => {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
