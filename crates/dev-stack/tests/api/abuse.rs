//! What one client or account cannot do to others, over real HTTP and real sockets: lock an
//! owner out by guessing their password, flood `POST /tasks`, or name any address it likes in
//! `X-Forwarded-For`. Clients connect from their own loopback addresses (Linux routes all of
//! 127/8 to lo): the limits count by the TCP peer, or by `X-Forwarded-For` from a trusted one.

use std::{net::IpAddr, time::Duration};

use crate::support::*;
use dev_stack::{Stack, start_users_with};
use reqwest::{Client, Response, StatusCode, header::RETRY_AFTER};
use serde_json::json;

/// A client whose connections come from `address`.
fn client_from(address: &str) -> Client {
    Client::builder()
        .local_address(address.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn login(app: &TestStack, client: &Client, email: &str, password: &str) -> Response {
    client
        .post(app.users("/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

/// Asserts a JSON 429 with a `Retry-After` of at least a second; returns its message.
async fn expect_throttled(response: Response) -> String {
    let retry_after: u64 = response.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1, "{retry_after}");
    expect_error(response, StatusCode::TOO_MANY_REQUESTS).await
}

/// The sequence, with every default: wrong passwords for a victim's email from one
/// address until they get 429, then the owner's right one from another network: 200.
#[tokio::test]
async fn a_strangers_wrong_passwords_never_lock_the_owner_out() {
    let app = spawn_stack().await;
    app.token_for("victim@test.com").await;
    let (attacker, owner) = (client_from("127.0.0.1"), client_from("127.0.1.1"));
    let mut wrong = 0;
    let refused = loop {
        let guess = login(&app, &attacker, "victim@test.com", "wrong-guess").await;
        if guess.status() != StatusCode::UNAUTHORIZED {
            break guess;
        }
        wrong += 1;
        assert!(wrong < 20, "the attacker was never throttled");
    };
    assert!(wrong >= 3, "{wrong} wrong logins before the 429");
    let message = expect_throttled(refused).await;
    assert!(
        message.contains("for this email from your network"),
        "{message}"
    );
    for _ in 0..3 {
        let response = login(&app, &owner, "victim@test.com", PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "the owner gets in");
    }
    for password in ["another-guess", PASSWORD] {
        expect_throttled(login(&app, &attacker, "victim@test.com", password).await).await;
    }
}

/// `TASK_LIMIT_PER_USER` at its default (30/min): a burst of 30 new tasks, then 429.
#[tokio::test]
async fn new_tasks_past_the_users_rate_limit_get_429_and_others_go_on() {
    let app = spawn_stack().await;
    let (flooder, other) = (
        app.token_for("flood@test.com").await,
        app.token_for("calm@test.com").await,
    );
    let mut created = 0;
    let refused = loop {
        let response = app.post_task(&flooder, "flood", "x").await;
        if response.status() != StatusCode::CREATED {
            break response;
        }
        created += 1;
        assert!(created <= 40, "the flood was never throttled");
    };
    assert_eq!(created, 30, "a burst of TASK_LIMIT_PER_USER's 30");
    let message = expect_throttled(refused).await;
    assert!(
        message.starts_with("Too many new tasks from you"),
        "{message}"
    );
    assert_eq!(
        app.post_task(&other, "mine", "x").await.status(),
        StatusCode::CREATED
    );
    assert_eq!(app.get_tasks(&flooder, "").await.status(), StatusCode::OK);
}

/// `TRUSTED_PROXIES=localhost`: the peer 127.0.0.1 is trusted, so each address it forwards has
/// its own allowance; 127.0.0.2 is not (localhost is 127.0.0.1), so what it writes is ignored.
#[tokio::test]
async fn forwarded_addresses_count_only_from_a_proxy_named_in_trusted_proxies() {
    let app = spawn_stack().await;
    let Stack { auth, users, tasks } = app.stack;
    users.stop().await.unwrap();
    let mut config = app.config.users_config(&auth.addr.to_string()).unwrap();
    config.trusted_proxies = vec!["localhost".parse().unwrap()];
    config.rate_limits.login_per_address = "2/min".parse().unwrap();
    let users = restart(|| start_users_with(loopback(), &config)).await;
    let app = TestStack {
        stack: Stack { auth, users, tasks },
        ..app
    };
    let forwarded = |client: &Client, address: &str| {
        client
            .post(app.users("/login"))
            .header("x-forwarded-for", address)
            .json(&json!({ "email": "nobody@test.com", "password": PASSWORD }))
            .send()
    };
    let (proxy, stranger) = (client_from("127.0.0.1"), client_from("127.0.0.2"));
    for _ in 0..2 {
        let response = forwarded(&proxy, "198.51.100.1").await.unwrap();
        expect_error(response, StatusCode::UNAUTHORIZED).await;
    }
    let message = expect_throttled(forwarded(&proxy, "198.51.100.1").await.unwrap()).await;
    assert!(message.contains("from your address"), "{message}");
    let another = forwarded(&proxy, "198.51.100.2").await.unwrap();
    expect_error(another, StatusCode::UNAUTHORIZED).await;

    for address in ["203.0.113.1", "203.0.113.2"] {
        let response = forwarded(&stranger, address).await.unwrap();
        expect_error(response, StatusCode::UNAUTHORIZED).await;
    }
    let ignored = forwarded(&stranger, "203.0.113.3").await.unwrap();
    expect_throttled(ignored).await;
}
