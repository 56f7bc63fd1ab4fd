//! Each way the lesson teaches users and tasks to find auth, with the env a Pod would get.

use std::collections::HashMap;

use crate::support::*;
use kub_http::serve::RunningServer;
use kub_public::auth_address::AddressSource;
use reqwest::StatusCode;
use serde_json::json;
use test_support::settings_from_env;

async fn users_with_env(vars: &[(&str, String)]) -> (RunningServer, AddressSource) {
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let config: users_api::Config = settings_from_env(&vars);
    let source = config.auth.resolve().unwrap().source;
    let router = users_api::router(users_api::AppState::open(&config).await.unwrap());
    (
        RunningServer::start("127.0.0.1:0".parse().unwrap(), router)
            .await
            .unwrap(),
        source,
    )
}

#[tokio::test]
async fn every_address_form_reaches_auth() {
    let app = spawn_stack().await;
    let port = app.stack.auth.addr.port();
    let forms: Vec<(Vec<(&str, String)>, AddressSource)> = vec![
        (
            vec![("AUTH_ADDRESS", format!("127.0.0.1:{port}"))],
            AddressSource::AuthAddress,
        ),
        (
            vec![("AUTH_ADDRESS", format!("localhost:{port}"))],
            AddressSource::AuthAddress,
        ),
        (
            vec![("AUTH_ADDRESS", format!("http://127.0.0.1:{port}"))],
            AddressSource::AuthAddress,
        ),
        (
            vec![("AUTH_ADDRESS", format!("http://localhost:{port}/"))],
            AddressSource::AuthAddress,
        ),
        (
            vec![
                ("AUTH_SERVICE_SERVICE_HOST", "127.0.0.1".into()),
                ("AUTH_SERVICE_SERVICE_PORT", port.to_string()),
            ],
            AddressSource::KubernetesServiceEnv,
        ),
        (
            vec![
                ("AUTH_ADDRESS", format!("127.0.0.1:{port}")),
                ("AUTH_SERVICE_SERVICE_HOST", "192.0.2.1".into()),
                ("AUTH_SERVICE_SERVICE_PORT", "80".into()),
            ],
            AddressSource::AuthAddress,
        ),
    ];
    for (n, (mut vars, expected_source)) in forms.into_iter().enumerate() {
        let folder = app.data.path().join(format!("users-{n}"));
        vars.push(("USERS_FOLDER", folder.display().to_string()));
        vars.push(("AUTH_API_KEY", app.config.users_api_key.clone()));
        let (users, source) = users_with_env(&vars).await;
        assert_eq!(source, expected_source, "{vars:?}");
        let response = app
            .http
            .post(format!("{}/signup", users.url()))
            .json(&json!({ "email": "test@test.com", "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{vars:?}");
        assert!(
            folder.join("users.jsonl").exists(),
            "USERS_FOLDER is honoured"
        );
        users.stop().await.unwrap();
    }
}

#[tokio::test]
async fn tasks_work_with_only_the_injected_service_variables() {
    let app = spawn_stack().await;
    let token = app.token_for("test@test.com").await;
    let folder = app.data.path().join("k8s-tasks");
    let vars: HashMap<&str, String> = HashMap::from([
        ("AUTH_SERVICE_SERVICE_HOST", "127.0.0.1".to_owned()),
        (
            "AUTH_SERVICE_SERVICE_PORT",
            app.stack.auth.addr.port().to_string(),
        ),
        ("TASKS_FOLDER", folder.display().to_string()),
        ("AUTH_API_KEY", app.config.tasks_api_key.clone()),
    ]);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let config: tasks_api::Config = settings_from_env(&vars);
    assert_eq!(
        config.auth.resolve().unwrap().source,
        AddressSource::KubernetesServiceEnv
    );
    let router = tasks_api::router(tasks_api::AppState::open(&config).await.unwrap());
    let tasks = RunningServer::start("127.0.0.1:0".parse().unwrap(), router)
        .await
        .unwrap();
    let response = app
        .http
        .post(format!("{}/tasks", tasks.url()))
        .bearer_auth(&token)
        .json(&json!({ "title": "t", "text": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(
        folder.join("tasks.jsonl").exists(),
        "TASKS_FOLDER is honoured"
    );
}
