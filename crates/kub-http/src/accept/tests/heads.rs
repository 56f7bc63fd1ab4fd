//! Request heads over real sockets: the size caps (431 JSON) and each head's own deadline.

use axum::routing::post;
use serde_json::Value;

use super::*;

/// The request line and `Host` of every head below: `GET /peer HTTP/1.1\r\nHost: test\r\n`.
const START: &str = "GET /peer HTTP/1.1\r\nHost: test\r\n";

/// A complete `GET /peer` head of exactly `bytes` bytes, padded by one header.
fn head_of(bytes: usize) -> String {
    let padding = bytes - START.len() - "x-padding: \r\n\r\n".len();
    format!("{START}x-padding: {}\r\n\r\n", "a".repeat(padding))
}

/// `bytes` bytes of a head that never ends.
fn unfinished_head(bytes: usize) -> Vec<u8> {
    let mut head = format!("{START}x-padding: ").into_bytes();
    head.resize(bytes, b'a');
    head
}

/// Asserts a 431 with a JSON `{"message"}`; returns the message.
fn expect_json_431(answer: &str) -> String {
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    let body: Value = serde_json::from_str(body).unwrap();
    body["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_head_over_max_header_bytes_gets_a_json_431_and_the_connection_serves_on() {
    let settings = ConnectionSettings::default();
    let limit = settings.max_header_bytes;
    let server = start(&settings, &Metrics::new()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(head_of(limit).as_bytes()).await.unwrap();
    let answer = read_answer(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "at the limit: {answer}");

    stream
        .write_all(head_of(limit + 1).as_bytes())
        .await
        .unwrap();
    let message = expect_json_431(&read_answer(&mut stream).await);
    assert_eq!(
        message,
        format!("The request head (request line and headers) is over {limit} bytes.")
    );
    // The head was read whole, so the connection goes on.
    assert!(get_peer(&mut stream).await.starts_with("HTTP/1.1 200"));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn more_header_lines_than_max_headers_get_a_json_431() {
    let settings = ConnectionSettings::default();
    let server = start(&settings, &Metrics::new()).await;
    let head = |lines: usize| {
        let extra: String = (1..lines).map(|n| format!("x-{n}: y\r\n")).collect();
        format!("{START}{extra}\r\n")
    };
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(head(settings.max_headers).as_bytes())
        .await
        .unwrap();
    assert!(read_answer(&mut stream).await.starts_with("HTTP/1.1 200"));
    stream
        .write_all(head(settings.max_headers + 1).as_bytes())
        .await
        .unwrap();
    let message = expect_json_431(&read_answer(&mut stream).await);
    assert_eq!(
        message,
        format!(
            "The request has {} header lines, more than the {} allowed.",
            settings.max_headers + 1,
            settings.max_headers
        )
    );
    server.stop().await.unwrap();
}

/// The hard bound: hyper buffers no more than twice `MAX_HEADER_BYTES` of a head, answers its
/// own (bodiless) 431 and closes.
#[tokio::test]
async fn a_head_reaching_twice_the_cap_is_refused_by_hyper_and_closed() {
    let settings = ConnectionSettings::default();
    let server = start(&settings, &Metrics::new()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    let (hard_cap, _) = hard_limits(&settings);
    stream.write_all(&unfinished_head(hard_cap)).await.unwrap();
    let answer = read_answer(&mut stream).await;
    assert!(
        answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large"),
        "{answer}"
    );
    let closed = closed_after(&mut stream, started).await;
    assert!(closed < Duration::from_secs(1), "{closed:?}");
    server.stop().await.unwrap();
}

/// Opens a connection; with `keep_alive_first`, after one answered request. Then sends
/// ~12 KiB of a head that never ends; returns when the server closed it, from that moment.
async fn hold_a_big_head(addr: SocketAddr, keep_alive_first: bool) -> Duration {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    if keep_alive_first {
        assert!(get_peer(&mut stream).await.starts_with("HTTP/1.1 200"));
    }
    let sent = Instant::now();
    stream.write_all(&unfinished_head(12 << 10)).await.unwrap();
    closed_after(&mut stream, sent).await
}

#[tokio::test]
async fn unfinished_big_heads_are_closed_at_the_header_deadline_on_any_request() {
    // The idle timeout, which hyper's own timer enforces, is ten times the header one.
    let server = start(&settings(400, 4_000, 64), &Metrics::new()).await;
    let holders: Vec<_> = (0..40)
        .map(|n| tokio::spawn(hold_a_big_head(server.addr, n % 2 == 1)))
        .collect();
    for (n, holder) in holders.into_iter().enumerate() {
        let closed = holder.await.unwrap();
        let request = if n % 2 == 1 { "second" } else { "first" };
        assert!(
            closed >= Duration::from_millis(300) && closed < Duration::from_secs(2),
            "a head on a {request} request was closed after {closed:?}"
        );
    }
    let mut other = TcpStream::connect(server.addr).await.unwrap();
    assert!(get_peer(&mut other).await.starts_with("HTTP/1.1 200"));
    server.stop().await.unwrap();
}

async fn start_slow_and_echo(settings: &ConnectionSettings) -> RunningServer {
    let router = Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "late"
            }),
        )
        .route("/echo", post(|body: String| async move { body }));
    RunningServer::start_with(
        "127.0.0.1:0".parse().unwrap(),
        router,
        settings,
        &Metrics::new(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_head_begun_while_the_previous_answer_is_under_way_is_timed_from_that_answer() {
    let server = start_slow_and_echo(&settings(400, 4_000, 8)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stream.write_all(b"GET /slow HTTP/1.1\r\nHo").await.unwrap();
    let answer = read_answer(&mut stream).await;
    assert!(answer.ends_with("late"), "{answer}");
    let closed = closed_after(&mut stream, Instant::now()).await;
    assert!(
        closed >= Duration::from_millis(300) && closed < Duration::from_secs(2),
        "{closed:?}"
    );
    server.stop().await.unwrap();
}

/// A body in a packet of its own is not mistaken for the start of the next head.
#[tokio::test]
async fn a_connection_idle_after_a_request_with_a_body_lasts_the_idle_timeout() {
    let server = start_slow_and_echo(&settings(200, 900, 8)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    stream.write_all(b"hello").await.unwrap();
    let answer = read_answer(&mut stream).await;
    assert!(answer.ends_with("\r\n\r\nhello"), "{answer}");
    let closed = closed_after(&mut stream, Instant::now()).await;
    assert!(
        closed >= Duration::from_millis(800) && closed < Duration::from_secs(3),
        "{closed:?}"
    );
    server.stop().await.unwrap();
}
