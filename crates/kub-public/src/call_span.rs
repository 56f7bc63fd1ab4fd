//! The client span of each call to auth (with traces on): the route, where auth was found and
//! how (`AUTH_ADDRESS` or the injected `AUTH_SERVICE_SERVICE_HOST`, a name or an address), and
//! the address the name resolved to for this call, which is what a trace shows of the lesson.

use std::net::IpAddr;

use kub_http::traces;
use tracing::{Span, field::Empty};

use crate::{auth_address::AuthAddress, auth_client::AuthClient};

impl AuthClient {
    /// The span a call to `route` runs in; `Span::none()` (free) with traces off.
    pub(crate) fn call_span(&self, route: &str) -> Span {
        if !traces::enabled() {
            return Span::none();
        }
        let AuthAddress {
            source, base_url, ..
        } = self.address();
        let host = base_url.host_str().unwrap_or_default();
        let found_by = match host.trim_matches(['[', ']']).parse::<IpAddr>() {
            Ok(_) => format!("{source} (an IP address)"),
            Err(_) => format!("{source} (a DNS name)"),
        };
        tracing::info_span!(
            "auth call",
            otel.name = format!("POST /{route}"),
            otel.kind = "client",
            otel.status_code = Empty,
            http.request.method = "POST",
            http.response.status_code = Empty,
            server.address = host,
            server.port = base_url.port_or_known_default(),
            network.peer.address = Empty,
            network.peer.port = Empty,
            auth.found_by = found_by,
            auth.configured_as = self.address().raw.as_str(),
        )
    }
}

/// What the answer tells the span: its status, and which address auth's name led to.
pub(crate) fn record_answer(response: &reqwest::Response) {
    if !traces::enabled() {
        return;
    }
    let span = Span::current();
    span.record("http.response.status_code", response.status().as_u16());
    if response.status().is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    if let Some(peer) = response.remote_addr() {
        span.record("network.peer.address", peer.ip().to_string());
        span.record("network.peer.port", peer.port());
    }
}
