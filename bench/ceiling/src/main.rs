//! The ceiling for the benchmark: the same shape of work as GET/POST /tasks with no logic.
//!
//! `ceiling backend <port>` answers every `POST /verify` with a fixed JSON (auth's place).
//! `ceiling front <port> <backend-port>` answers every `GET /` by making one keep-alive HTTP
//! call to the backend through one shared reqwest client, parsing its JSON and answering a
//! small JSON of its own (the place of users/tasks).
//! `ceiling front-db <port> <backend-port> <database-url>` does the same, plus one bare query
//! (`SELECT $1::int8`) on a bounded sqlx pool configured as the services' (`DATABASE_POOL_SIZE`
//! connections, 10 by default; a ping before each connection is handed out): the least a
//! request that checks a token and reads PostgreSQL can cost.
//!
//! All run on tokio's default multi-thread runtime, as the services do, and log nothing.

use std::{net::SocketAddr, process::ExitCode, time::Duration};

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use kub_postgres::{DatabaseSettings, DatabaseUrl};
use serde_json::{Value, json};
use sqlx::{PgPool, postgres::PgConnectOptions};

const FIXED: &str = r#"{"message":"Valid token.","uid":"00000000-0000-4000-8000-000000000000"}"#;

#[derive(Clone)]
struct Front {
    http: reqwest::Client,
    url: String,
    /// `front-db` only: the pool the bare query runs on.
    database: Option<PgPool>,
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
    let body = match answer {
        Ok(answer) if answer.status().is_success() => match answer.json::<Value>().await {
            Ok(body) => body,
            Err(error) => return (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
        },
        Ok(answer) => {
            return (StatusCode::BAD_GATEWAY, answer.status().to_string()).into_response();
        }
        Err(error) => return (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response(),
    };
    let mut reply = json!({ "message": "ok", "uid": body["uid"] });
    if let Some(database) = &front.database {
        let row = sqlx::query_scalar::<_, i64>("SELECT $1::int8")
            .bind(1_i64)
            .fetch_one(database)
            .await;
        match row {
            Ok(value) => reply["value"] = value.into(),
            Err(error) => {
                return (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response();
            }
        }
    }
    Json(reply).into_response()
}

/// A pool like the services' on `url`, checked with one query before the server listens.
async fn database(url: &str) -> Result<PgPool, String> {
    // Checked and shown as the services do: never with its password.
    let shown = DatabaseUrl::parse(url).map_err(|error| format!("DATABASE_URL: {error}"))?;
    let options = url
        .parse::<PgConnectOptions>()
        .map_err(|error| format!("DATABASE_URL {shown}: {error}"))?
        .application_name("ceiling");
    // The services' pool, from their defaults and DATABASE_POOL_SIZE.
    let mut settings = DatabaseSettings::default();
    if let Ok(size) = std::env::var("DATABASE_POOL_SIZE") {
        settings.database_pool_size = size
            .parse()
            .map_err(|_| format!("DATABASE_POOL_SIZE={size:?} is not a number"))?;
    }
    let pool = settings.pool_options().connect_lazy_with(options);
    sqlx::query("SELECT 1")
        .execute(&pool)
        .await
        .map_err(|error| format!("the database at {shown} cannot be used: {error}"))?;
    Ok(pool)
}

fn port(arg: Option<String>) -> Option<u16> {
    arg?.parse().ok()
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let listen = port(args.next());
    const USAGE: &str = "usage: ceiling backend <port> | ceiling front <port> <backend-port> \
                         | ceiling front-db <port> <backend-port> <database-url>";
    let router = match (mode.as_str(), listen) {
        ("backend", Some(_)) => Router::new().route("/verify", post(fixed)),
        ("front" | "front-db", Some(_)) => {
            let Some(backend) = port(args.next()) else {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            };
            let database = if mode == "front-db" {
                let Some(url) = args.next() else {
                    eprintln!("{USAGE}");
                    return ExitCode::from(2);
                };
                match database(&url).await {
                    Ok(pool) => Some(pool),
                    Err(error) => {
                        eprintln!("ceiling: {error}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                None
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
                database,
            })
        }
        _ => {
            eprintln!("{USAGE}");
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
