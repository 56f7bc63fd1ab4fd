//! Shared by the black-box tests: a running stack and a small client speaking its API.

use std::{future::Future, net::SocketAddr, time::Duration};

use dev_stack::{Stack, StackConfig};
use kub_http::serve::RunningServer;
use kub_store::StoreError;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;

pub const PASSWORD: &str = "testers";

pub struct TestStack {
    pub stack: Stack,
    pub config: StackConfig,
    #[allow(
        dead_code,
        reason = "only kept alive in tests/api_postgres (no folders there)"
    )]
    pub data: TempDir,
    pub http: Client,
}

/// The three services, users and tasks kept where this test binary's backend keeps them
/// (`crate::backend`).
pub async fn spawn_stack() -> TestStack {
    let data = tempfile::tempdir().unwrap();
    let mut config = StackConfig::ephemeral(data.path().to_owned());
    config.database_url = crate::backend::database_url();
    let stack = Stack::start(&config).await.unwrap();
    TestStack {
        stack,
        config,
        data,
        http: client(),
    }
}

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A stopped service's store lets go of its file lock when its writer thread ends, a moment
/// after `stop` returns; a restart in the same process retries until then.
pub async fn restart<F: Future<Output = Result<RunningServer, dev_stack::BoxError>>>(
    start: impl Fn() -> F,
) -> RunningServer {
    for _ in 0..200 {
        match start().await {
            Ok(server) => return server,
            Err(error) if matches!(error.downcast_ref(), Some(StoreError::Locked(_))) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(error) => panic!("{error}"),
        }
    }
    panic!("the store stayed locked after its service stopped");
}

pub fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

impl TestStack {
    pub fn users(&self, path: &str) -> String {
        format!("{}{path}", self.stack.users.url())
    }

    pub fn tasks(&self, path: &str) -> String {
        format!("{}{path}", self.stack.tasks.url())
    }

    pub async fn signup(&self, email: &str, password: &str) -> Response {
        self.http
            .post(self.users("/signup"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.http
            .post(self.users("/login"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap()
    }

    /// Signs a new user up and returns their token.
    pub async fn token_for(&self, email: &str) -> String {
        assert_eq!(
            self.signup(email, PASSWORD).await.status(),
            StatusCode::CREATED
        );
        let response = self.login(email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        body(response).await["token"].as_str().unwrap().to_owned()
    }

    pub async fn post_task(&self, token: &str, title: &str, text: &str) -> Response {
        self.http
            .post(self.tasks("/tasks"))
            .bearer_auth(token)
            .json(&json!({ "title": title, "text": text }))
            .send()
            .await
            .unwrap()
    }

    pub async fn get_tasks(&self, token: &str, query: &str) -> Response {
        self.http
            .get(self.tasks(&format!("/tasks{query}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

/// Every task of the token's user, walked page by page (`limit` a page) from the start, each
/// page through the next of `bases` (tasks-api replicas) in turn.
pub async fn walk(http: &Client, bases: &[String], token: &str, limit: usize) -> Vec<Value> {
    let mut tasks = Vec::new();
    let mut query = format!("?limit={limit}");
    for turn in 0.. {
        let base = &bases[turn % bases.len()];
        let response = http
            .get(format!("{base}/tasks{query}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let page = body(response).await;
        let listed = page["tasks"].as_array().unwrap();
        assert!(listed.len() <= limit);
        tasks.extend(listed.iter().cloned());
        match page["nextAfter"].as_u64() {
            Some(after) => query = format!("?limit={limit}&after={after}"),
            None => break,
        }
    }
    tasks
}

pub fn ids(tasks: &[Value]) -> Vec<u64> {
    tasks
        .iter()
        .map(|task| task["id"].as_u64().unwrap())
        .collect()
}

pub async fn body(response: Response) -> Value {
    let text = response.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"))
}

/// Asserts the status and that the body is `{"message": <non-empty string>}`; returns it.
pub async fn expect_error(response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status, "{}", response.url());
    let content_type = response.headers().get("content-type").cloned();
    assert_eq!(content_type.unwrap(), "application/json");
    let body = body(response).await;
    let message = body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message in {body}"));
    assert!(!message.is_empty());
    assert_eq!(body.as_object().unwrap().len(), 1, "only a message: {body}");
    message.to_owned()
}

pub fn titles(body: &Value) -> Vec<String> {
    body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["title"].as_str().unwrap().to_owned())
        .collect()
}
