//! Who is calling: the address rate limits count by.
//!
//! By default it is the TCP peer. A proxy in front (an ingress controller, a load balancer
//! that terminates connections) makes every request come from the proxy, so the client's
//! address is then read from `X-Forwarded-For`, but only when the peer is in
//! `TRUSTED_PROXIES`: anyone else could write any address there.

use std::{net::IpAddr, net::SocketAddr, str::FromStr, sync::Arc};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, StatusCode, request::Parts},
};
use ipnet::IpNet;
use kub_http::errors::RequestRejection;

use crate::AppState;

const FORWARDED_FOR: &str = "x-forwarded-for";

/// The ranges whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`); empty by default.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    pub fn new(ranges: Vec<IpNet>) -> Self {
        Self(ranges.into())
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(&address))
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

/// A `TRUSTED_PROXIES` entry: a CIDR range or a single address.
pub fn parse_trusted_proxy(value: &str) -> Result<IpNet, String> {
    let value = value.trim();
    IpNet::from_str(value)
        .or_else(|_| IpAddr::from_str(value).map(IpNet::from))
        .map_err(|_| {
            format!("expected a CIDR range such as `10.0.0.0/8` or an address; got {value:?}")
        })
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
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(FORWARDED_FOR, value.parse().unwrap());
        headers
    }

    fn proxies(ranges: &[&str]) -> TrustedProxies {
        TrustedProxies::new(
            ranges
                .iter()
                .map(|r| parse_trusted_proxy(r).unwrap())
                .collect(),
        )
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let none = TrustedProxies::default();
        let headers = forwarded("198.51.100.9");
        assert_eq!(
            none.client_address(ip("203.0.113.7"), &headers),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn a_trusted_proxy_passes_on_the_address_it_saw() {
        let trusted = proxies(&["10.0.0.0/8", "192.168.1.1"]);
        // The client wrote a fake first entry; the proxies appended the real hops.
        let headers = forwarded("1.2.3.4, 198.51.100.9, 10.0.0.5");
        assert_eq!(
            trusted.client_address(ip("10.1.2.3"), &headers),
            ip("198.51.100.9")
        );
        assert_eq!(
            trusted.client_address(ip("192.168.1.1"), &forwarded("[2001:db8::1]:4711")),
            ip("2001:db8::1")
        );
        // A peer outside the ranges is the client, whatever it says.
        assert_eq!(
            trusted.client_address(ip("203.0.113.7"), &headers),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn garbage_or_no_header_from_a_proxy_stops_at_the_last_good_hop() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            trusted.client_address(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
        let headers = forwarded("198.51.100.9, not-an-address, 10.0.0.9");
        assert_eq!(
            trusted.client_address(ip("10.0.0.1"), &headers),
            ip("10.0.0.9")
        );
    }

    #[test]
    fn ranges_parse_or_explain() {
        assert!(parse_trusted_proxy("10.0.0.0/8").is_ok());
        assert!(parse_trusted_proxy("fd00::/8").is_ok());
        assert_eq!(
            parse_trusted_proxy("10.0.0.7").unwrap().to_string(),
            "10.0.0.7/32"
        );
        assert!(
            parse_trusted_proxy("10.0.0.0/33")
                .unwrap_err()
                .contains("CIDR")
        );
    }
}
