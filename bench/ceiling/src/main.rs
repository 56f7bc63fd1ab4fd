//! The ceiling for the benchmark: the same shape of work as GET/POST /tasks with no logic.
//!
//! `ceiling backend <port>` answers every `POST /verify` with a fixed JSON (auth's place).
//! `ceiling front <port> <backend-port>` answers every `GET /` by making one keep-alive HTTP
//! call to the backend through one shared reqwest client, parsing its JSON and answering a
//! small JSON of its own (the place of users/tasks).
//!
//! Both run on tokio's default multi-thread runtime, as the services do, and log nothing.

use std::{net::SocketAddr, process::ExitCode, time::Duration};

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};

const FIXED: &str = r#"{"message":"Valid token.","uid":"00000000-0000-4000-8000-000000000000"}"#;

#[derive(Clone)]
struct Front {
    http: reqwest::Client,
    url: String,
}

async fn fixed() -> Response {
    ([("content-type", "application/json")], FIXED).into_response()
}

async fn hop(State(front): State<Front>) -> Response {
    let answer = front
        .http
        .post(&front.url)
        .json(&json!({ "token": "x" }))
        .send()
        .await;
    match answer {
        Ok(answer) if answer.status().is_success() => match answer.json::<Value>().await {
            Ok(body) => Json(json!({ "message": "ok", "uid": body["uid"] })).into_response(),
            Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
        },
        Ok(answer) => (StatusCode::BAD_GATEWAY, answer.status().to_string()).into_response(),
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response(),
    }
}

fn port(arg: Option<String>) -> Option<u16> {
    arg?.parse().ok()
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let listen = port(args.next());
    let router = match (mode.as_str(), listen) {
        ("backend", Some(_)) => Router::new().route("/verify", post(fixed)),
        ("front", Some(_)) => {
            let Some(backend) = port(args.next()) else {
                eprintln!("usage: ceiling front <port> <backend-port>");
                return ExitCode::from(2);
            };
            let http = reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(1))
                .timeout(Duration::from_millis(2500))
                .pool_idle_timeout(Duration::from_secs(60))
                .build()
                .expect("a plain-HTTP client always builds");
            Router::new().route("/", get(hop)).with_state(Front {
                http,
                url: format!("http://127.0.0.1:{backend}/verify"),
            })
        }
        _ => {
            eprintln!("usage: ceiling backend <port> | ceiling front <port> <backend-port>");
            return ExitCode::from(2);
        }
    }
    .route(
        "/readyz",
        get(|| async { Json(json!({ "status": "ready" })) }),
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], listen.unwrap_or_default()));
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("ceiling: cannot listen on {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    match axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ceiling: {error}");
            ExitCode::FAILURE
        }
    }
}
