//! What the services show about themselves: `/network`, `/metrics` (on each one's metrics
//! port), `/openapi.json`.

use std::collections::{BTreeSet, HashMap};

use crate::support::*;
use kub_http::serve::RunningServer;
use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::settings_from_env;

#[tokio::test]
async fn network_shows_how_auth_was_found_and_who_this_pod_is() {
    let app = spawn_stack().await;
    let token = app.token_for("test@test.com").await;
    app.get_tasks(&token, "").await;

    let network = body(app.http.get(app.tasks("/network")).send().await.unwrap()).await;
    let auth = &network["auth"];
    assert_eq!(network["service"], "tasks-api");
    assert_eq!(auth["source"], "AUTH_ADDRESS");
    assert_eq!(auth["rawValue"], app.stack.auth.addr.to_string());
    assert_eq!(auth["resolvedAddresses"], json!(["127.0.0.1"]));
    assert_eq!(auth["reachable"], true);
    assert_eq!(auth["lastCall"]["route"], "verify-token");
    assert_eq!(auth["lastCall"]["ok"], true);
    assert_eq!(
        network["pod"],
        json!({ "name": null, "namespace": null, "ip": null, "node": null })
    );

    // As a Pod would be started: the injected service variables and the downward API.
    let vars: HashMap<&str, String> = HashMap::from([
        ("AUTH_SERVICE_SERVICE_HOST", "localhost".to_owned()),
        (
            "AUTH_SERVICE_SERVICE_PORT",
            app.stack.auth.addr.port().to_string(),
        ),
        (
            "USERS_FOLDER",
            app.data.path().join("pod-users").display().to_string(),
        ),
        ("POD_NAME", "users-deployment-5d9c-x7k2p".to_owned()),
        ("POD_NAMESPACE", "default".to_owned()),
        ("POD_IP", "10.244.0.7".to_owned()),
        ("NODE_NAME", "minikube".to_owned()),
        ("AUTH_API_KEY", app.config.users_api_key.clone()),
    ]);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let config: users_api::Config = settings_from_env(&vars);
    let router = users_api::router(users_api::AppState::open(&config).await.unwrap());
    let users = RunningServer::start("127.0.0.1:0".parse().unwrap(), router)
        .await
        .unwrap();
    let network = body(
        app.http
            .get(format!("{}/network", users.url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(network["auth"]["source"], "AUTH_SERVICE_SERVICE_HOST");
    assert!(
        network["auth"]["resolvedAddresses"]
            .as_array()
            .unwrap()
            .contains(&json!("127.0.0.1"))
    );
    assert!(network["auth"]["lastCall"].is_null(), "no call yet");
    assert_eq!(
        network["pod"],
        json!({ "name": "users-deployment-5d9c-x7k2p", "namespace": "default", "ip": "10.244.0.7", "node": "minikube" })
    );
}

#[tokio::test]
async fn network_reports_an_unreachable_auth_without_failing() {
    let data = tempfile::tempdir().unwrap();
    let tasks = dev_stack::start_tasks(
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1:9",
        data.path().to_owned(),
    )
    .await
    .unwrap();
    let response = client()
        .get(format!("{}/network", tasks.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(response).await["auth"]["reachable"], false);
}

#[tokio::test]
async fn metrics_count_requests_auth_calls_and_stored_records() {
    let app = spawn_stack().await;
    let token = app.token_for("test@test.com").await;
    app.post_task(&token, "t", "x").await;
    app.http.get(app.tasks("/nope/1")).send().await.unwrap();

    let scrape = |server: &RunningServer| server.metrics_url().expect("a metrics port");
    let tasks = app.http.get(scrape(&app.stack.tasks)).send().await.unwrap();
    assert!(
        tasks.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let tasks = tasks.text().await.unwrap();
    for line in [
        r#"http_requests_total{method="POST",route="/tasks",status="201"} 1"#,
        r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
        r#"auth_call_duration_seconds_count{call="verify-token"} 1"#,
        r#"stored_records{kind="tasks"} 1"#,
    ] {
        assert!(tasks.contains(line), "missing {line} in\n{tasks}");
    }
    assert!(
        tasks.contains(r#"http_request_duration_seconds_bucket{method="POST",route="/tasks",le="#)
    );

    let users = app
        .http
        .get(scrape(&app.stack.users))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        users.contains(r#"stored_records{kind="users"} 1"#),
        "{users}"
    );
    assert!(
        users.contains(r#"auth_call_duration_seconds_count{call="token"} 1"#),
        "{users}"
    );
    let auth = app
        .http
        .get(scrape(&app.stack.auth))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        auth.contains(r#"http_requests_total{method="POST",route="/verify-token",status="200"} 1"#),
        "{auth}"
    );

    // Never on the public port: a stranger would read the 200/401 counts there.
    for url in [app.users("/metrics"), app.tasks("/metrics")] {
        let public = app.http.get(&url).send().await.unwrap();
        assert_eq!(public.status(), StatusCode::NOT_FOUND, "{url}");
        assert_eq!(body(public).await["message"], "No route for /metrics.");
    }

    // auth down: a failure is counted.
    let dev_stack::Stack {
        auth,
        users: _users,
        tasks: tasks_server,
    } = app.stack;
    auth.stop().await.unwrap();
    app.http
        .get(format!("{}/tasks", tasks_server.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let tasks = app
        .http
        .get(scrape(&tasks_server))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        tasks.contains(r#"auth_call_failures_total{call="verify-token",reason="unavailable"} 1"#),
        "{tasks}"
    );
}

/// (path, method) of every operation in an OpenAPI document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (path.clone(), method.to_uppercase()))
        })
        .collect()
}

#[tokio::test]
async fn openapi_documents_exactly_the_routes_each_service_serves() {
    let app = spawn_stack().await;
    let token = app.token_for("test@test.com").await;
    let shared = [
        ("/healthz", "GET"),
        ("/readyz", "GET"),
        ("/network", "GET"),
        ("/openapi.json", "GET"),
    ];
    let cases = [
        (
            app.stack.users.url(),
            vec![("/signup", "POST"), ("/login", "POST")],
        ),
        (
            app.stack.tasks.url(),
            vec![("/tasks", "GET"), ("/tasks", "POST")],
        ),
    ];
    for (base, own) in cases {
        let response = app
            .http
            .get(format!("{base}/openapi.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let doc = body(response).await;
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3."),
            "OpenAPI 3"
        );
        let expected: BTreeSet<(String, String)> = own
            .iter()
            .chain(&shared)
            .map(|(path, method)| (path.to_string(), method.to_string()))
            .collect();
        assert_eq!(operations(&doc), expected, "{base}");

        for (path, method) in operations(&doc) {
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let response = app
                .http
                .request(method.clone(), format!("{base}{path}"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = response.status();
            assert!(
                status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {base}{path} is documented but answers {status}"
            );
        }
    }
}

#[tokio::test]
async fn network_route_false_turns_network_off_and_nothing_else() {
    let app = spawn_stack().await;
    let folder = app.data.path().join("users-no-network");
    let vars = [
        ("AUTH_ADDRESS", app.stack.auth.addr.to_string()),
        ("AUTH_API_KEY", app.config.users_api_key.clone()),
        ("USERS_FOLDER", folder.display().to_string()),
        ("NETWORK_ROUTE", "false".to_owned()),
    ];
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let config: users_api::Config = settings_from_env(&vars);
    let users = dev_stack::start_users_with("127.0.0.1:0".parse().unwrap(), &config)
        .await
        .unwrap();
    let network = app
        .http
        .get(format!("{}/network", users.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(network.status(), StatusCode::NOT_FOUND);
    assert_eq!(body(network).await["message"], "No route for /network.");
    let doc = body(
        app.http
            .get(format!("{}/openapi.json", users.url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        !operations(&doc).iter().any(|(path, _)| path == "/network"),
        "{doc}"
    );
    let signup = app
        .http
        .post(format!("{}/signup", users.url()))
        .json(&json!({ "email": "off@test.com", "password": "testers" }))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), StatusCode::CREATED);
}
