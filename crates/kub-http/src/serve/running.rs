//! A service serving in the background, as tests and the dev stack run it.

use std::{io, net::SocketAddr};

use axum::Router;
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};

use super::{serve_metrics, until_true};
use crate::{
    accept::{connection_limits, serve_connections},
    metrics::Metrics,
    settings::ConnectionSettings,
};

/// A service serving in the background until [`RunningServer::stop`]: its router on `addr`
/// and, when started with [`RunningServer::start_service`], `GET /metrics` on `metrics_addr`.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// Where `GET /metrics` is served, on a listener of its own, when it is.
    pub metrics_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// With the default connection settings, a registry of its own for their metrics, and no
    /// metrics listener.
    pub async fn start(addr: SocketAddr, router: Router) -> io::Result<Self> {
        Self::start_with(
            addr,
            router,
            &ConnectionSettings::default(),
            &Metrics::new(),
        )
        .await
    }

    /// A service as `serve` runs it: `router` on `addr` and `metrics` (which its connections
    /// are counted in) on `metrics_addr`; port 0 picks a free one for either.
    pub async fn start_service(
        addr: SocketAddr,
        metrics_addr: SocketAddr,
        router: Router,
        metrics: &Metrics,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let metrics_listener = TcpListener::bind(metrics_addr).await?;
        Self::spawn(
            listener,
            Some(metrics_listener),
            router,
            &ConnectionSettings::default(),
            metrics,
        )
    }

    /// `router` on `addr` with these settings, its connections counted in `metrics`; no
    /// metrics listener.
    pub async fn start_with(
        addr: SocketAddr,
        router: Router,
        settings: &ConnectionSettings,
        metrics: &Metrics,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Self::spawn(listener, None, router, settings, metrics)
    }

    fn spawn(
        listener: TcpListener,
        metrics_listener: Option<TcpListener>,
        router: Router,
        settings: &ConnectionSettings,
        metrics: &Metrics,
    ) -> io::Result<Self> {
        let addr = listener.local_addr()?;
        let metrics_addr = metrics_listener
            .as_ref()
            .map(TcpListener::local_addr)
            .transpose()?;
        let (stop, stopped) = watch::channel(false);
        let limits = connection_limits(settings, None);
        let (settings, metrics) = (settings.clone(), metrics.clone());
        let task = tokio::spawn(async move {
            let main = serve_connections(
                listener,
                router,
                &settings,
                limits,
                &metrics,
                until_true(stopped.clone()),
            );
            match metrics_listener {
                Some(metrics_listener) => {
                    let scrapes =
                        serve_metrics(metrics_listener, &metrics, &settings, until_true(stopped));
                    tokio::join!(main, scrapes);
                }
                None => main.await,
            }
        });
        Ok(Self {
            addr,
            metrics_addr,
            stop,
            task,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://<metrics_addr>/metrics`, when this server has a metrics listener.
    pub fn metrics_url(&self) -> Option<String> {
        self.metrics_addr
            .map(|addr| format!("http://{addr}/metrics"))
    }

    /// Graceful: in-flight requests finish first.
    pub async fn stop(self) -> io::Result<()> {
        let _ = self.stop.send(true);
        self.task.await.map_err(io::Error::other)
    }
}
