//! The metrics port beside the service's own, over real sockets.

use axum::routing::get;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::*;
use crate::layers::with_common_layers;

/// `GET <path>` on a new connection: the whole answer.
async fn fetch(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn metrics_are_served_on_their_own_port_and_only_there() {
    let metrics = Metrics::new();
    let router = with_common_layers(
        Router::new().route("/hello", get(|| async { "hi" })),
        metrics.clone(),
    );
    let any = "127.0.0.1:0".parse().unwrap();
    let server = RunningServer::start_service(any, any, router, &metrics)
        .await
        .unwrap();
    let metrics_addr = server.metrics_addr.unwrap();
    assert_ne!(metrics_addr, server.addr);
    assert_eq!(
        server.metrics_url().unwrap(),
        format!("http://{metrics_addr}/metrics")
    );

    assert!(
        fetch(server.addr, "/hello")
            .await
            .starts_with("HTTP/1.1 200")
    );
    let public = fetch(server.addr, "/metrics").await;
    assert!(public.starts_with("HTTP/1.1 404"), "{public}");
    assert!(public.ends_with(r#"{"message":"No route for /metrics."}"#));

    let scraped = fetch(metrics_addr, "/metrics").await;
    assert!(scraped.starts_with("HTTP/1.1 200"), "{scraped}");
    assert!(scraped.contains("content-type: text/plain; version=0.0.4"));
    for line in [
        r#"http_requests_total{method="GET",route="/hello",status="200"} 1"#,
        r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
    ] {
        assert!(scraped.contains(line), "no {line} in {scraped}");
    }
    // The gauge counts the service's connections, never the scrape's own (once the two closed
    // ones are released, which may take a moment).
    let mut scrapes = 0;
    while !fetch(metrics_addr, "/metrics")
        .await
        .contains("http_connections_open 0")
    {
        scrapes += 1;
        assert!(scrapes < 50, "the scrape counted itself");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for other in ["/healthz", "/hello", "/metrics/x"] {
        let answer = fetch(metrics_addr, other).await;
        assert!(answer.starts_with("HTTP/1.1 404"), "{other}: {answer}");
    }
    server.stop().await.unwrap();
    assert!(TcpStream::connect(metrics_addr).await.is_err(), "closed");
}

#[tokio::test]
async fn serve_needs_a_metrics_port_of_its_own_that_it_can_bind() {
    let router = || Router::new().route("/hello", get(|| async { "hi" }));
    let mut settings = ServeSettings::default();
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port();

    settings.metrics_port = port;
    let same = serve_until_signal("svc", port, &settings, &Metrics::new(), router()).await;
    let error = same.unwrap_err().to_string();
    assert_eq!(
        error,
        format!("METRICS_PORT and PORT are both {port}: /metrics needs a port of its own")
    );

    let free = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let free_port = free.local_addr().unwrap().port();
    drop(free);
    let busy = serve_until_signal("svc", free_port, &settings, &Metrics::new(), router()).await;
    let error = busy.unwrap_err().to_string();
    assert!(
        error.starts_with(&format!("cannot listen on 0.0.0.0:{port}: ")),
        "{error}"
    );
}
