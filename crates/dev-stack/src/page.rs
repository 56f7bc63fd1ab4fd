//! The tasks page (`frontend/`, compiled into the binary) on its own port, as the frontend
//! image serves it, but calling users-api and tasks-api directly: the lesson's first step,
//! where the services allow the page's origin (`CORS_ORIGINS`). Its `config.js` names the
//! services' addresses once they are known.

use std::sync::{Arc, OnceLock};

use axum::{
    Router,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};

/// Where the page's requests go, set once users-api and tasks-api are listening.
#[derive(Clone, Default)]
pub struct PageTargets(Arc<OnceLock<(String, String)>>);

impl PageTargets {
    pub fn set(&self, users_url: String, tasks_url: String) {
        let _ = self.0.set((users_url, tasks_url));
    }
}

pub fn page_router(targets: PageTargets) -> Router {
    Router::new()
        .route("/", get(index))
        .route(
            "/app.js",
            get(|| file("text/javascript", include_str!("../../../frontend/app.js"))),
        )
        .route(
            "/style.css",
            get(|| file("text/css", include_str!("../../../frontend/style.css"))),
        )
        .route("/config.js", get(config_js))
        .with_state(targets)
}

async fn file(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The page, with a Content-Security-Policy that lets it run only its own scripts and talk
/// only to its own origin and the two services: a task title that holds a `<script>` could not
/// run even if it were ever put into the page as HTML.
async fn index(State(targets): State<PageTargets>) -> Response {
    let (users, tasks) = targets.0.get().cloned().unwrap_or_default();
    let policy = format!(
        "default-src 'self'; connect-src 'self' {users} {tasks}; form-action 'none'; \
         base-uri 'none'; frame-ancestors 'none'"
    );
    let mut response = file(
        "text/html; charset=utf-8",
        include_str!("../../../frontend/index.html"),
    )
    .await;
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// The page's settings: the services' addresses.
async fn config_js(State(targets): State<PageTargets>) -> Response {
    let (users, tasks) = targets.0.get().cloned().unwrap_or_default();
    let script = format!(
        "window.KUB_CONFIG = {{ usersApi: {users:?}, tasksApi: {tasks:?}, mode: {mode:?} }};\n",
        mode = "dev-stack: straight to users-api and tasks-api, which allow this page's origin (CORS_ORIGINS)",
    );
    ([(header::CONTENT_TYPE, "text/javascript")], script).into_response()
}
