//! Who is calling: the address rate limits count by.
//!
//! By default it is the TCP peer. A proxy in front (an ingress controller, a load balancer
//! that terminates connections) makes every request come from the proxy, so the client's
//! address is then read from `X-Forwarded-For`, but only when the peer is in
//! `TRUSTED_PROXIES`: anyone else could write any address there.

use std::{
    net::{IpAddr, SocketAddr},
    str::FromStr,
    sync::{
        Arc, PoisonError, RwLock, Weak,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, StatusCode, request::Parts},
};
use ipnet::IpNet;
use kub_http::errors::RequestRejection;

use crate::AppState;

const FORWARDED_FOR: &str = "x-forwarded-for";
/// How often a host name in `TRUSTED_PROXIES` is resolved again: Pods and containers come and
/// go, and their addresses with them.
pub const RESOLVE_EVERY: Duration = Duration::from_secs(10);
/// Longest one resolution may take; a slower one counts as failed.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

/// A `TRUSTED_PROXIES` entry: a CIDR range, a single address, or a DNS name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustedProxy {
    Range(IpNet),
    /// Trusted for the addresses it resolves to (`frontend` in compose, a headless Service in
    /// Kubernetes), resolved at start-up and every `RESOLVE_EVERY` (10 s).
    Host(String),
}

impl FromStr for TrustedProxy {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        parse_trusted_proxy(value)
    }
}

/// The proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`); none by default.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<Proxies>);

#[derive(Debug, Default)]
struct Proxies {
    ranges: Vec<IpNet>,
    hosts: Vec<ResolvedHost>,
}

#[derive(Debug)]
struct ResolvedHost {
    name: String,
    /// The last good answer: a failed resolution keeps it.
    addresses: RwLock<Vec<IpAddr>>,
    /// The last resolution failed (logged once, at WARN, until one succeeds again).
    failing: AtomicBool,
}

impl TrustedProxies {
    /// Trusts `entries`; host names are resolved before this returns, then again every
    /// `RESOLVE_EVERY` (10 s) in the background for as long as a clone of the result lives.
    pub async fn resolve(entries: &[TrustedProxy]) -> Self {
        let mut proxies = Proxies::default();
        for entry in entries {
            match entry {
                TrustedProxy::Range(range) => proxies.ranges.push(*range),
                TrustedProxy::Host(name) => proxies.hosts.push(ResolvedHost {
                    name: name.clone(),
                    addresses: RwLock::default(),
                    failing: AtomicBool::new(false),
                }),
            }
        }
        let proxies = Arc::new(proxies);
        for host in &proxies.hosts {
            host.refresh(true).await;
        }
        if !proxies.hosts.is_empty() {
            tokio::spawn(keep_resolving(Arc::downgrade(&proxies)));
        }
        Self(proxies)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.ranges.iter().any(|range| range.contains(&address))
            || self.0.hosts.iter().any(|host| host.resolves_to(address))
    }

    /// The client behind `peer`: `peer` itself unless it is a trusted proxy; then the
    /// right-most `X-Forwarded-For` address that is not a trusted proxy (each proxy appends
    /// the address it got the request from, so the entries on the left are the client's word).
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer;
        if !self.trusts(client) {
            return client;
        }
        let hops = headers
            .get_all(FORWARDED_FOR)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect::<Vec<_>>();
        for hop in hops.iter().rev() {
            match parse_hop(hop) {
                Some(address) => client = address,
                None => break,
            }
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// `203.0.113.7`, `2001:db8::1`, or either with a port (`203.0.113.7:4711`, `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    IpAddr::from_str(hop)
        .ok()
        .or_else(|| SocketAddr::from_str(hop).ok().map(|address| address.ip()))
}

/// A `TRUSTED_PROXIES` entry: a CIDR range, a single address, or else a host name (letters,
/// digits, `-` and `.`, with at least one letter: `10.0.0.300` is a mistake, not a name).
pub fn parse_trusted_proxy(value: &str) -> Result<TrustedProxy, String> {
    let value = value.trim();
    if let Ok(range) = IpNet::from_str(value).or_else(|_| IpAddr::from_str(value).map(IpNet::from))
    {
        return Ok(TrustedProxy::Range(range));
    }
    let name_like = value.len() <= 253
        && value.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && value.bytes().any(|b| b.is_ascii_alphabetic());
    if name_like {
        return Ok(TrustedProxy::Host(value.to_ascii_lowercase()));
    }
    Err(format!(
        "expected a CIDR range such as `10.0.0.0/8`, an address or a host name; got {value:?}"
    ))
}

impl ResolvedHost {
    fn resolves_to(&self, address: IpAddr) -> bool {
        let addresses = self
            .addresses
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        addresses.contains(&address)
    }

    /// Resolves the name again; on failure keeps the addresses it had. Changes are logged, and
    /// the first of a run of failures.
    async fn refresh(&self, at_start_up: bool) {
        let looked_up =
            tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((&*self.name, 0))).await;
        let mut addresses = match looked_up {
            Ok(Ok(found)) => found
                .map(|socket| socket.ip().to_canonical())
                .collect::<Vec<_>>(),
            Ok(Err(error)) => return self.failed(&error.to_string()),
            Err(_) => return self.failed("timed out"),
        };
        self.failing.store(false, Ordering::Relaxed);
        addresses.sort_unstable();
        addresses.dedup();
        let mut known = self
            .addresses
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if *known != addresses || at_start_up {
            tracing::info!(host = %self.name, ?addresses, "trusted proxy resolved");
        }
        *known = addresses;
    }

    fn failed(&self, error: &str) {
        let known = self
            .addresses
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if self.failing.swap(true, Ordering::Relaxed) {
            tracing::debug!(host = %self.name, error, "cannot resolve a trusted proxy");
        } else {
            tracing::warn!(host = %self.name, error, kept = ?*known, every = ?RESOLVE_EVERY,
                "cannot resolve a trusted proxy; keeping its last addresses, trying again");
        }
    }
}

/// Resolves the host names every [`RESOLVE_EVERY`] until the last clone of the proxies is gone.
async fn keep_resolving(proxies: Weak<Proxies>) {
    loop {
        tokio::time::sleep(RESOLVE_EVERY).await;
        let Some(proxies) = proxies.upgrade() else {
            return;
        };
        for host in &proxies.hosts {
            host.refresh(false).await;
        }
    }
}

/// The calling client's address, as [`TrustedProxies::client_address`] reads it.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = RequestRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ConnectInfo(peer) = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .copied()
            .ok_or_else(|| RequestRejection {
                // Only a router served without kub_http's accept loop gets here: a bug.
                status: StatusCode::INTERNAL_SERVER_ERROR,
                message: "Internal error: no client address.".into(),
            })?;
        Ok(Self(
            state
                .trusted_proxies
                .client_address(peer.ip(), &parts.headers),
        ))
    }
}

#[cfg(test)]
mod tests;
