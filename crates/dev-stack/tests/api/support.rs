//! Shared by the black-box tests: a running stack and a small client speaking its API.

use std::time::Duration;

use dev_stack::{Stack, StackConfig};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;

pub const PASSWORD: &str = "testers";

pub struct TestStack {
    pub stack: Stack,
    pub config: StackConfig,
    pub data: TempDir,
    pub http: Client,
}

pub async fn spawn_stack() -> TestStack {
    let data = tempfile::tempdir().unwrap();
    let config = StackConfig::ephemeral(data.path().to_owned());
    let stack = Stack::start(&config).await.unwrap();
    TestStack {
        stack,
        config,
        data,
        http: client(),
    }
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
