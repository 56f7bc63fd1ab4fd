//! `GET /network`: which way did my request go? How this service found auth (the source and
//! its raw value), what that name resolves to right now (a ClusterIP for
//! `auth-service.default`), whether auth answers and how fast, the last call to it, and this
//! Pod's identity from the downward API (absent outside Kubernetes, never invented).
//!
//! The lesson's window on the path a request took, public on purpose; it tells a stranger
//! how the cluster is wired, so `NETWORK_ROUTE=false` turns it off (the chart's production
//! values do), and it then answers 404 like any unknown route.

use std::time::SystemTime;

use axum::{Json, Router, extract::State, routing::get};
use clap::{ArgAction, Args};
use reqwest::Url;
use serde_json::{Value, json};

use kub_http::settings::PodIdentity;

use crate::auth_client::AuthClient;

#[derive(Debug, Clone, PartialEq, Eq, Args)]
#[command(next_help_heading = "The lesson's routes")]
pub struct NetworkSettings {
    /// Serve GET /network (how this service found auth, and where this Pod runs): `true` or
    /// `false`, which answers 404 instead (for production).
    #[arg(long, env = "NETWORK_ROUTE", default_value_t = true, action = ArgAction::Set)]
    pub network_route: bool,
}

impl Default for NetworkSettings {
    fn default() -> Self {
        Self {
            network_route: true,
        }
    }
}

#[derive(Clone)]
pub struct NetworkInfo {
    pub service: &'static str,
    pub auth: AuthClient,
    pub pod: PodIdentity,
    /// Whether `GET /network` is served at all (`NETWORK_ROUTE`).
    pub served: bool,
}

/// `GET /network`, or nothing when it is turned off.
pub fn network_routes(info: NetworkInfo) -> Router {
    if !info.served {
        return Router::new();
    }
    Router::new()
        .route("/network", get(network))
        .with_state(info)
}

/// `GET /network`
#[utoipa::path(get, path = "/network", tag = "operations",
    responses((status = 200, description = "How this service found auth, what that name resolves to, \
whether auth answers, the last call to it, and this Pod's identity.")))]
pub async fn network(State(info): State<NetworkInfo>) -> Json<Value> {
    let address = info.auth.address();
    let url = &address.base_url;
    let port = url.port_or_known_default().unwrap_or(80);
    let (resolved, resolve_error) = resolve(url, port).await;
    let (reachable, probe_latency) = info.auth.probe().await;
    let last_call = info.auth.last_call().map(|call| {
        json!({
            "route": call.route,
            "ok": call.ok,
            "latencyMs": millis(call.latency),
            "secondsAgo": SystemTime::now().duration_since(call.at).map_or(0, |ago| ago.as_secs()),
        })
    });
    Json(json!({
        "service": info.service,
        "auth": {
            "source": address.source.to_string(),
            "rawValue": address.raw,
            "baseUrl": url.as_str(),
            "host": url.host_str(),
            "port": port,
            "resolvedAddresses": resolved,
            "resolveError": resolve_error,
            "reachable": reachable,
            "probeLatencyMs": millis(probe_latency),
            "lastCall": last_call,
        },
        "pod": {
            "name": info.pod.pod_name,
            "namespace": info.pod.pod_namespace,
            "ip": info.pod.pod_ip,
            "node": info.pod.node_name,
        },
    }))
}

/// The DNS answer for auth's host right now (an IP literal resolves to itself).
async fn resolve(url: &Url, port: u16) -> (Vec<String>, Option<String>) {
    let Some(host) = url.host_str() else {
        return (Vec::new(), Some("no host".into()));
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match tokio::net::lookup_host((host, port)).await {
        Ok(addresses) => {
            let mut ips: Vec<String> = addresses.map(|address| address.ip().to_string()).collect();
            ips.sort();
            ips.dedup();
            (ips, None)
        }
        Err(error) => (Vec::new(), Some(error.to_string())),
    }
}

fn millis(duration: std::time::Duration) -> f64 {
    (duration.as_secs_f64() * 1000.0 * 100.0).round() / 100.0
}
