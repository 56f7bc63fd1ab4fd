//! The real tasks-api calls auth directly even when its environment names a proxy: a proxy
//! would see its key and every token (`HTTP_PROXY` in a Pod's environment is enough).

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use test_support::{
    auth::{spawn_auth, tasks_api_key},
    command, free_port, terminate, wait_until_ok, wait_with_deadline,
};
use tokio::net::TcpListener;

#[tokio::test]
async fn calls_to_auth_never_go_through_http_proxy() {
    let (auth, state) = spawn_auth().await;
    let token = state.tokens.issue("proxy-tester").unwrap();
    // A "proxy" that counts the connections it gets and closes them unanswered.
    let proxy = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let proxied = Arc::new(AtomicUsize::new(0));
    let counter = proxied.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = proxy.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });

    let folder = tempfile::tempdir().unwrap();
    let port = free_port();
    let (port_text, auth_address) = (port.to_string(), auth.addr.to_string());
    let vars = [
        ("PORT", port_text.as_str()),
        ("AUTH_ADDRESS", auth_address.as_str()),
        ("AUTH_API_KEY", tasks_api_key()),
        ("TASKS_FOLDER", folder.path().to_str().unwrap()),
        ("HTTP_PROXY", proxy_url.as_str()),
        ("http_proxy", proxy_url.as_str()),
        ("ALL_PROXY", proxy_url.as_str()),
    ];
    let child = command(env!("CARGO_BIN_EXE_tasks-api"), &vars)
        .spawn()
        .unwrap();
    wait_until_ok(port, "/readyz");

    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{port}/tasks"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    terminate(&child);
    wait_with_deadline(child, std::time::Duration::from_secs(10));
    assert_eq!(status, 200, "the token was verified by auth");
    assert_eq!(
        proxied.load(Ordering::SeqCst),
        0,
        "nothing went to the proxy"
    );
}
