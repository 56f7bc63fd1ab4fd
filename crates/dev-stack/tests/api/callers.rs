//! Only the callers auth was given a key for get anything from it, over real HTTP: the
//! issue's attack (hash any password, then ask for a token in a victim's name) fails without
//! users-api's key and with tasks-api's; a service whose key auth refuses tells its users
//! "unavailable" (503), never "wrong password"; and the lesson's flow goes on as before.

use crate::support::*;
use dev_stack::{generate_secret, start_tasks_with, start_users_with};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};

/// The subject (user id) of a token users-api handed out.
fn user_id(token: &str) -> String {
    let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(token).unwrap();
    claims["sub"].as_str().unwrap().to_owned()
}

fn with_key(request: RequestBuilder, key: Option<&str>) -> RequestBuilder {
    match key {
        Some(key) => request.bearer_auth(key),
        None => request,
    }
}

impl TestStack {
    fn auth(&self, path: &str) -> String {
        format!("{}{path}", self.stack.auth.url())
    }

    /// The attack's two calls, straight to auth, presenting `key` (or none): a hash of "x",
    /// then a token for `victim` with "x" and `hash`.
    async fn attack(&self, key: Option<&str>, victim: &str, hash: &str) -> [reqwest::Response; 2] {
        let hashed = with_key(self.http.post(self.auth("/hashed-password")), key)
            .json(&json!({ "password": "x" }))
            .send()
            .await
            .unwrap();
        let body = json!({ "userId": victim, "password": "x", "hashedPassword": hash });
        let token = with_key(self.http.post(self.auth("/token")), key)
            .json(&body)
            .send()
            .await
            .unwrap();
        [hashed, token]
    }
}

#[tokio::test]
async fn without_users_api_key_nobody_gets_a_token_in_another_users_name() {
    let app = spawn_stack().await;
    let victim_token = app.token_for("victim@test.com").await;
    let victim = user_id(&victim_token);
    let posted = app.post_task(&victim_token, "Private", "only mine").await;
    assert_eq!(posted.status(), StatusCode::CREATED);

    // The control: what the attack gets with users-api's own key (users-api is trusted to
    // check passwords first). Without this fix, a call with no key at all got the same.
    let users_key = app.config.users_api_key.clone();
    let [hashed, _] = app.attack(Some(&users_key), &victim, "").await;
    assert_eq!(hashed.status(), StatusCode::OK);
    let hash = body(hashed).await["hashedPassword"]
        .as_str()
        .unwrap()
        .to_owned();
    let [_, token] = app.attack(Some(&users_key), &victim, &hash).await;
    assert_eq!(token.status(), StatusCode::OK);
    let stolen = body(token).await["token"].as_str().unwrap().to_owned();
    let listed = body(app.get_tasks(&stolen, "").await).await;
    assert_eq!(titles(&listed), ["Private"], "the attack is real");

    let unknown = generate_secret();
    for key in [None, Some(unknown.as_str())] {
        for answer in app.attack(key, &victim, &hash).await {
            let challenge = answer.headers().get("www-authenticate").cloned();
            expect_error(answer, StatusCode::UNAUTHORIZED).await;
            assert_eq!(challenge.unwrap(), r#"Bearer realm="auth-api""#);
        }
    }
    // A compromised tasks-api Pod has a key, but not one that gets tokens.
    let tasks_key = app.config.tasks_api_key.clone();
    for answer in app.attack(Some(&tasks_key), &victim, &hash).await {
        let message = expect_error(answer, StatusCode::FORBIDDEN).await;
        assert!(message.starts_with("tasks-api may not call"), "{message}");
    }
    // Nor can users-api's key verify tokens: that route is tasks-api's.
    let verify = app
        .http
        .post(app.auth("/verify-token"))
        .bearer_auth(&users_key)
        .json(&json!({ "token": victim_token }))
        .send()
        .await
        .unwrap();
    expect_error(verify, StatusCode::FORBIDDEN).await;

    // The lesson's flow, through users and tasks, is unchanged.
    let token = app.token_for("test@test.com").await;
    let posted = app.post_task(&token, "A dummy task", "Do it!").await;
    assert_eq!(posted.status(), StatusCode::CREATED);
    let listed = body(app.get_tasks(&token, "").await).await;
    assert_eq!(titles(&listed), ["A dummy task"]);
}

#[tokio::test]
async fn a_service_whose_key_auth_refuses_answers_503_never_wrong_password() {
    let app = spawn_stack().await;
    let token = app.token_for("test@test.com").await;
    let auth_address = app.stack.auth.addr.to_string();
    // users-api given tasks-api's key (Secrets swapped), or one auth never had.
    let keys = [app.config.tasks_api_key.clone(), generate_secret()];
    for (n, key) in keys.iter().enumerate() {
        let mut config = app.config.users_config(&auth_address).unwrap();
        config.folder = app.data.path().join(format!("users-wrong-key-{n}"));
        config.auth.auth_api_key = Some(key.as_str().into());
        let users = start_users_with(loopback(), &config).await.unwrap();
        for path in ["/signup", "/login"] {
            let response = app
                .http
                .post(format!("{}{path}", users.url()))
                .json(&json!({ "email": "test@test.com", "password": PASSWORD }))
                .send()
                .await
                .unwrap();
            let message = expect_error(response, StatusCode::SERVICE_UNAVAILABLE).await;
            assert!(message.contains("auth service is unavailable"), "{message}");
        }
        users.stop().await.unwrap();
    }
    // tasks-api given users-api's key: a valid token is not called invalid.
    let mut config = app.config.tasks_config(&auth_address).unwrap();
    config.folder = app.data.path().join("tasks-wrong-key");
    config.auth.auth_api_key = Some(app.config.users_api_key.as_str().into());
    let tasks = start_tasks_with(loopback(), &config).await.unwrap();
    let response = app
        .http
        .get(format!("{}/tasks", tasks.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::SERVICE_UNAVAILABLE).await;
    // The same token through the stack's own tasks-api: it was valid all along.
    assert_eq!(app.get_tasks(&token, "").await.status(), StatusCode::OK);
}
