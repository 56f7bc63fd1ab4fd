//! Which paths each binary serves, asked of its real router in-process (`oneshot`): a GET
//! that answers anything but 404 is served (`/readyz` may well answer 503).

use std::collections::{BTreeMap, BTreeSet};

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use tower::ServiceExt;

use crate::BINARIES;

/// Binary name → those of `paths` its router serves.
pub async fn served_routes(paths: &BTreeSet<String>) -> BTreeMap<String, BTreeSet<String>> {
    let data = tempfile::tempdir().expect("a temporary folder");
    let mut served = BTreeMap::new();
    for binary in &BINARIES {
        let router = router_of(binary.name, data.path()).await;
        let mut found = BTreeSet::new();
        for path in paths {
            let request = Request::get(path).body(Body::empty()).expect("a request");
            let response = router.clone().oneshot(request).await.expect("infallible");
            if response.status() != StatusCode::NOT_FOUND {
                found.insert(path.clone());
            }
        }
        served.insert(binary.name.to_owned(), found);
    }
    served
}

/// The router the binary serves, its store (if any) in a folder under `data`; auth's address
/// is never called by a GET of a probe.
async fn router_of(binary: &str, data: &std::path::Path) -> Router {
    let auth = "127.0.0.1:9";
    match binary {
        "auth-api" => {
            let settings = auth_api::TokenSettings::with_secret("0123456789abcdef0123456789abcdef");
            auth_api::router(
                auth_api::AppState::new(&settings, &Default::default()).expect("a valid secret"),
            )
        }
        "users-api" => {
            let config = users_api::Config::wired(auth, data.join("users"));
            users_api::router(
                users_api::AppState::open(&config)
                    .await
                    .expect("users-api opens"),
            )
        }
        "tasks-api" => {
            let config = tasks_api::Config::wired(auth, data.join("tasks"));
            tasks_api::router(
                tasks_api::AppState::open(&config)
                    .await
                    .expect("tasks-api opens"),
            )
        }
        other => panic!("no router for {other}"),
    }
}
