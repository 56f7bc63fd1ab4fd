//! Who may hold a connection open: at most so many per client address and so many in all.
//! A connection over either cap is answered at once with a canned 503 and closed, before a
//! byte of it is read: refusing costs one `accept` and one `write`, nothing more.
//!
//! Why both caps: each open connection holds a file descriptor and ~13 KB of memory. Without a
//! per-address cap one client can take every descriptor (no one else can connect); without a
//! total cap, many clients together can take the Pod to its memory limit (OOMKilled).

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr},
    sync::{Arc, Mutex, PoisonError},
};

use crate::metrics::Metrics;

/// How many connections may be open at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub total: usize,
    pub per_address: usize,
}

/// Why a connection was refused; the label of `http_connections_refused_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    PerAddress,
    Total,
}

impl Refusal {
    pub fn label(self) -> &'static str {
        match self {
            Self::PerAddress => "per_address",
            Self::Total => "total",
        }
    }

    /// The whole answer: status line, headers and a JSON body, then the connection closes.
    pub fn http_answer(self) -> String {
        let message = match self {
            Self::PerAddress => "Too many open connections from your address; try again shortly.",
            Self::Total => "The service is at its connection limit; try again shortly.",
        };
        let body = serde_json::json!({ "message": message }).to_string();
        format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
             retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
    }
}

/// The key a client is counted under: its IPv4 address, or the /64 network of an IPv6 one
/// (one IPv6 host usually holds a whole /64, so counting single addresses would not limit it).
pub fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(network))
            }
        },
    }
}

/// The open connections, counted per address key and in all.
#[derive(Clone)]
pub struct OpenConnections {
    inner: Arc<Inner>,
}

struct Inner {
    limits: ConnectionLimits,
    counts: Mutex<Counts>,
    metrics: Metrics,
}

#[derive(Default)]
struct Counts {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

impl OpenConnections {
    pub fn new(limits: ConnectionLimits, metrics: Metrics) -> Self {
        Self {
            inner: Arc::new(Inner {
                limits,
                counts: Mutex::default(),
                metrics,
            }),
        }
    }

    /// A slot for a new connection from `peer`, held until the connection closes; or why not.
    pub fn admit(&self, peer: IpAddr) -> Result<ConnectionSlot, Refusal> {
        let key = address_key(peer);
        let mut counts = self.lock();
        let from_address = counts.by_address.get(&key).copied().unwrap_or(0);
        let refusal = if counts.total >= self.inner.limits.total {
            Some(Refusal::Total)
        } else if from_address >= self.inner.limits.per_address {
            Some(Refusal::PerAddress)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            drop(counts);
            self.inner.metrics.connection_refused(refusal.label());
            return Err(refusal);
        }
        counts.total += 1;
        counts.by_address.insert(key, from_address + 1);
        drop(counts);
        self.inner.metrics.connections_open(1);
        Ok(ConnectionSlot {
            connections: self.clone(),
            key,
        })
    }

    /// Open connections: in all, and from `peer`'s address key.
    #[cfg(test)]
    fn open(&self, peer: IpAddr) -> (usize, usize) {
        let counts = self.lock();
        let from = counts.by_address.get(&address_key(peer)).copied();
        (counts.total, from.unwrap_or(0))
    }

    fn release(&self, key: IpAddr) {
        let mut counts = self.lock();
        counts.total -= 1;
        if let Some(count) = counts.by_address.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                // Addresses leave the map with their last connection: its size stays bounded.
                counts.by_address.remove(&key);
            }
        }
        drop(counts);
        self.inner.metrics.connections_open(-1);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.inner
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// One admitted connection; dropping it frees the slot.
pub struct ConnectionSlot {
    connections: OpenConnections,
    key: IpAddr,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.connections.release(self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn each_address_and_the_total_are_capped_and_slots_come_back() {
        let limits = ConnectionLimits {
            total: 3,
            per_address: 2,
        };
        let open = OpenConnections::new(limits, Metrics::new());
        let first = open.admit(ip("127.0.0.1")).unwrap();
        let _second = open.admit(ip("127.0.0.1")).unwrap();
        assert_eq!(open.admit(ip("127.0.0.1")).err(), Some(Refusal::PerAddress));
        let _other = open.admit(ip("127.0.0.2")).unwrap();
        assert_eq!(open.admit(ip("127.0.0.3")).err(), Some(Refusal::Total));
        drop(first);
        assert_eq!(open.open(ip("127.0.0.1")), (2, 1));
        assert!(open.admit(ip("127.0.0.3")).is_ok());
    }

    #[test]
    fn ipv6_clients_count_by_their_64_network() {
        assert_eq!(
            address_key(ip("2001:db8::1")),
            address_key(ip("2001:db8::ffff:2"))
        );
        assert_ne!(
            address_key(ip("2001:db8::1")),
            address_key(ip("2001:db8:0:1::1"))
        );
        assert_eq!(address_key(ip("::ffff:10.0.0.7")), ip("10.0.0.7"));
    }

    #[test]
    fn the_refusal_is_a_complete_json_503() {
        let answer = Refusal::PerAddress.http_answer();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(head.contains("retry-after: 1"));
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(body["message"].as_str().unwrap().contains("your address"));
    }
}
