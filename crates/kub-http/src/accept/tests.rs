//! The accept loop over real sockets: timeouts, caps, the peer address; request heads in
//! [`heads`].

mod heads;

use std::time::Instant;

use axum::routing::get;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::timeout,
};

use super::*;
use crate::{metrics::Metrics, serve::RunningServer};

fn settings(header_ms: u64, idle_ms: u64, per_address: usize) -> ConnectionSettings {
    ConnectionSettings {
        header_read_timeout: Duration::from_millis(header_ms),
        idle_timeout: Duration::from_millis(idle_ms),
        max_connections: 128,
        max_connections_per_address: per_address,
        ..ConnectionSettings::default()
    }
}

async fn start(settings: &ConnectionSettings, metrics: &Metrics) -> RunningServer {
    let router = Router::new().route(
        "/peer",
        get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
    );
    let addr = "127.0.0.1:0".parse().unwrap();
    RunningServer::start_with(addr, router, settings, metrics)
        .await
        .unwrap()
}

/// One `GET /peer` on `stream`, keeping it open; the whole answer.
async fn get_peer(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /peer HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    read_answer(stream).await
}

/// Reads one answer (head and `content-length` body), or what came before the end.
async fn read_answer(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        let text = String::from_utf8_lossy(&answer).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|line| {
                    line.to_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .and_then(|n| n.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
        let read = timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("an answer within 5 s")
            .unwrap_or(0);
        if read == 0 {
            return text;
        }
        answer.extend_from_slice(&buffer[..read]);
    }
}

/// How long until the server closes `stream` (reads return 0).
async fn closed_after(stream: &mut TcpStream, started: Instant) -> Duration {
    let mut buffer = [0u8; 64];
    loop {
        let read = timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("closed within 5 s");
        if matches!(read, Ok(0) | Err(_)) {
            return started.elapsed();
        }
    }
}

#[tokio::test]
async fn the_router_sees_the_peer_address() {
    let server = start(&ConnectionSettings::default(), &Metrics::new()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let answer = get_peer(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("\r\n\r\n127.0.0.1"), "{answer}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_request_head_that_never_ends_is_closed_at_the_header_timeout() {
    let server = start(&settings(300, 5_000, 8), &Metrics::new()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    stream
        .write_all(b"GET /peer HTTP/1.1\r\nHost: te")
        .await
        .unwrap();
    let closed = closed_after(&mut stream, started).await;
    assert!(
        closed >= Duration::from_millis(250) && closed < Duration::from_secs(2),
        "{closed:?}"
    );
    // Others are served meanwhile and after.
    let mut other = TcpStream::connect(server.addr).await.unwrap();
    assert!(get_peer(&mut other).await.starts_with("HTTP/1.1 200"));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_idle_keep_alive_connection_lasts_the_idle_timeout_not_the_header_one() {
    let server = start(&settings(200, 800, 8), &Metrics::new()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    assert!(get_peer(&mut stream).await.starts_with("HTTP/1.1 200"));
    tokio::time::sleep(Duration::from_millis(400)).await; // past the header timeout
    assert!(get_peer(&mut stream).await.starts_with("HTTP/1.1 200"));
    let answered = Instant::now();
    let closed = closed_after(&mut stream, answered).await;
    assert!(
        closed >= Duration::from_millis(700) && closed < Duration::from_secs(3),
        "{closed:?}"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn connections_over_the_per_address_cap_get_a_json_503_and_the_slot_comes_back() {
    let metrics = Metrics::new();
    let server = start(&settings(5_000, 5_000, 2), &metrics).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        assert!(get_peer(&mut stream).await.starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let mut refused = TcpStream::connect(server.addr).await.unwrap();
    let answer = read_answer(&mut refused).await;
    assert!(
        answer.starts_with("HTTP/1.1 503 Service Unavailable"),
        "{answer}"
    );
    assert!(answer.contains("retry-after: 1"), "{answer}");
    assert!(
        answer.contains(r#"{"message":"Too many open connections from your address"#),
        "{answer}"
    );
    let text = metrics.render();
    assert!(
        text.contains(r#"http_connections_refused_total{reason="per_address"} 1"#),
        "{text}"
    );
    assert!(text.contains("http_connections_open 2"), "{text}");
    drop(held.pop());
    // The server notices the close on its next read; then the slot is free again.
    let mut served = None;
    for _ in 0..50 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        let answer = get_peer(&mut stream).await;
        if answer.starts_with("HTTP/1.1 200") {
            served = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served.is_some(), "the freed slot was never given back");
    server.stop().await.unwrap();
}

#[test]
fn the_total_cap_fits_under_the_open_file_limit() {
    let asked = ConnectionSettings::default();
    let limits = connection_limits(&asked, Some(1024));
    assert_eq!(limits.total, 1024 - RESERVED_FILES as usize);
    assert_eq!(limits.per_address, asked.max_connections_per_address);
    let roomy = connection_limits(&asked, Some(1 << 20));
    assert_eq!(roomy.total, asked.max_connections);
    let tiny = connection_limits(&asked, Some(100));
    assert_eq!((tiny.total, tiny.per_address), (36, 36));
}
