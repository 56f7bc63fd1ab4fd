use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn forwarded(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(FORWARDED_FOR, value.parse().unwrap());
    headers
}

async fn proxies(entries: &[&str]) -> TrustedProxies {
    let entries: Vec<_> = entries
        .iter()
        .map(|entry| parse_trusted_proxy(entry).unwrap())
        .collect();
    TrustedProxies::resolve(&entries).await
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

#[tokio::test]
async fn a_trusted_proxy_passes_on_the_address_it_saw() {
    let trusted = proxies(&["10.0.0.0/8", "192.168.1.1"]).await;
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

#[tokio::test]
async fn garbage_or_no_header_from_a_proxy_stops_at_the_last_good_hop() {
    let trusted = proxies(&["10.0.0.0/8"]).await;
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

#[tokio::test]
async fn a_host_name_is_trusted_for_exactly_the_addresses_it_resolves_to() {
    let trusted = proxies(&["localhost"]).await;
    let headers = forwarded("198.51.100.9");
    for peer in ["127.0.0.1", "::ffff:127.0.0.1"] {
        assert_eq!(
            trusted.client_address(ip(peer), &headers),
            ip("198.51.100.9"),
            "{peer}"
        );
    }
    assert_eq!(
        trusted.client_address(ip("127.0.0.2"), &headers),
        ip("127.0.0.2"),
        "localhost is 127.0.0.1, not all of 127/8"
    );
}

#[tokio::test]
async fn a_name_that_stops_resolving_keeps_its_last_addresses() {
    let host = ResolvedHost {
        name: "no-such-host.invalid".into(),
        addresses: RwLock::new(vec![ip("10.0.0.1")]),
        failing: AtomicBool::new(false),
    };
    host.refresh(false).await;
    assert!(host.resolves_to(ip("10.0.0.1")));
    assert!(host.failing.load(Ordering::Relaxed));
}

#[test]
fn entries_parse_or_explain() {
    let range = |text: &str| match parse_trusted_proxy(text) {
        Ok(TrustedProxy::Range(range)) => range.to_string(),
        other => panic!("{text}: {other:?}"),
    };
    assert_eq!(range("10.0.0.0/8"), "10.0.0.0/8");
    assert_eq!(range("fd00::/8"), "fd00::/8");
    assert_eq!(range(" 10.0.0.7 "), "10.0.0.7/32");
    for name in [
        "frontend",
        "Frontend",
        "frontend-pods.default.svc.cluster.local",
    ] {
        assert_eq!(
            parse_trusted_proxy(name),
            Ok(TrustedProxy::Host(name.to_ascii_lowercase()))
        );
    }
    for bad in [
        "10.0.0.0/33",
        "10.0.0.300",
        "",
        "-frontend",
        "front_end",
        "a..b",
        "a b",
    ] {
        let error = parse_trusted_proxy(bad).unwrap_err();
        assert!(
            error.contains("CIDR") && error.contains("host name"),
            "{bad}: {error}"
        );
    }
}
