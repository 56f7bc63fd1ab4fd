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
pub struct PageTargets(Arc<OnceLock<Addressed>>);

impl PageTargets {
    pub fn set(&self, users_url: String, tasks_url: String) {
        let _ = self.0.set(Addressed::new(&users_url, &tasks_url));
    }

    fn addressed(&self) -> Addressed {
        (self.0.get().cloned()).unwrap_or_else(|| Addressed::new("", ""))
    }
}

/// What depends on the services' addresses, made once: the page's Content-Security-Policy,
/// which lets it run only its own scripts and talk only to its own origin and the two services
/// (a task title that holds a `<script>` could not run even if it were ever put into the page
/// as HTML), and its `config.js`.
#[derive(Clone)]
struct Addressed {
    policy: Option<HeaderValue>,
    config_js: String,
}

impl Addressed {
    fn new(users: &str, tasks: &str) -> Self {
        let policy = format!(
            "default-src 'self'; connect-src 'self' {users} {tasks}; img-src 'self' data:; \
             form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
        );
        let config_js = format!(
            "window.KUB_CONFIG = {{ usersApi: {users:?}, tasksApi: {tasks:?}, mode: {mode:?} }};\n",
            mode = "dev-stack: straight to users-api and tasks-api, which allow this page's origin (CORS_ORIGINS)",
        );
        Self {
            policy: HeaderValue::from_str(&policy).ok(),
            config_js,
        }
    }
}

pub fn page_router(targets: PageTargets) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
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

/// The page, with its Content-Security-Policy.
async fn index(State(targets): State<PageTargets>) -> Response {
    let mut response = file(
        "text/html; charset=utf-8",
        include_str!("../../../frontend/index.html"),
    )
    .await;
    if let Some(policy) = targets.addressed().policy {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// The page's settings: the services' addresses.
async fn config_js(State(targets): State<PageTargets>) -> Response {
    let script = targets.addressed().config_js;
    ([(header::CONTENT_TYPE, "text/javascript")], script).into_response()
}

#[cfg(test)]
mod tests {
    use axum::http::{Method, StatusCode};
    use test_support::oneshot::{request, send};

    use super::*;

    #[tokio::test]
    async fn the_page_its_files_and_a_config_naming_the_services() {
        let targets = PageTargets::default();
        targets.set("http://127.0.0.1:1".into(), "http://127.0.0.1:2".into());
        let router = page_router(targets);
        for path in ["/", "/index.html"] {
            let page = send(&router, request(Method::GET, path, None, None)).await;
            assert_eq!(page.status, StatusCode::OK, "{path}");
            let policy = page.header(header::CONTENT_SECURITY_POLICY).unwrap();
            assert!(
                policy.contains("connect-src 'self' http://127.0.0.1:1 http://127.0.0.1:2"),
                "{policy}"
            );
        }
        for path in ["/app.js", "/style.css"] {
            let file = send(&router, request(Method::GET, path, None, None)).await;
            assert_eq!(file.status, StatusCode::OK, "{path}");
        }
        let config = send(&router, request(Method::GET, "/config.js", None, None)).await;
        let script = config.body.as_str().unwrap();
        assert!(
            script.contains(r#"usersApi: "http://127.0.0.1:1""#)
                && script.contains(r#"tasksApi: "http://127.0.0.1:2""#),
            "{script}"
        );
    }
}
