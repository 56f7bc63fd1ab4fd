//! `x-request-id` over real HTTP: a caller's id is kept only when it is 1-64 characters of
//! `[A-Za-z0-9._-]`; any other is replaced, in the answer and in the call to auth alike.

use crate::support::*;
use dev_stack::start_tasks;
use reqwest::{StatusCode, header::HeaderValue};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

/// `GET /tasks` on a tasks-api whose "auth" records the call: (the id in the answer, the id
/// forwarded to auth).
async fn ids_for(sent: HeaderValue) -> (String, String) {
    let fake_auth = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = fake_auth.local_addr().unwrap().to_string();
    let seen = tokio::spawn(async move {
        let (mut socket, _) = fake_auth.accept().await.unwrap();
        let mut request = vec![0; 8192];
        let read = socket.read(&mut request).await.unwrap();
        let body = r#"{"message":"Valid token.","uid":"u1"}"#;
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(response.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&request[..read]).into_owned()
    });
    let data = tempfile::tempdir().unwrap();
    let tasks = start_tasks(loopback(), &address, data.path().to_owned())
        .await
        .unwrap();
    let response = client()
        .get(format!("{}/tasks", tasks.url()))
        .bearer_auth("a.b.c")
        .header("x-request-id", sent)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let echoed = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let request = seen.await.unwrap();
    let forwarded = request
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("x-request-id").then_some(value)
        })
        .unwrap_or_else(|| panic!("no id forwarded: {request}"))
        .trim()
        .to_owned();
    (echoed, forwarded)
}

fn is_uuid(id: &str) -> bool {
    id.len() == 36 && id.split('-').map(str::len).eq([8, 4, 4, 4, 12])
}

#[tokio::test]
async fn an_acceptable_id_travels_and_any_other_is_replaced() {
    let (echoed, forwarded) = ids_for(HeaderValue::from_static("trace-me.1_A")).await;
    assert_eq!(
        (echoed.as_str(), forwarded.as_str()),
        ("trace-me.1_A", "trace-me.1_A")
    );
    for sent in [
        HeaderValue::from_static("two words"),
        HeaderValue::from_bytes("unicodé-id".as_bytes()).unwrap(),
        HeaderValue::from_str(&"x".repeat(65)).unwrap(),
        HeaderValue::from_str(&"a".repeat(2_000)).unwrap(),
    ] {
        let (echoed, forwarded) = ids_for(sent.clone()).await;
        assert!(is_uuid(&echoed), "{sent:?} answered {echoed}");
        assert_eq!(forwarded, echoed, "{sent:?}");
    }
}

/// A 100 KB id makes the head too large to be read at all: 431 JSON, nothing forwarded.
#[tokio::test]
async fn a_100_kb_id_is_refused_with_the_head_it_came_in() {
    let app = spawn_stack().await;
    let response = app
        .http
        .get(app.tasks("/tasks"))
        .header("x-request-id", "a".repeat(100 * 1024))
        .send()
        .await;
    // Past twice MAX_HEADER_BYTES (8 KiB by default) hyper answers a bare 431 and closes before
    // the head is read whole; the client may see that answer or the reset that follows it.
    // Between the two, the head is read whole and answered in JSON.
    if let Ok(response) = response {
        assert_eq!(
            response.status(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
    }
    let response = app
        .http
        .get(app.tasks("/tasks"))
        .header("x-request-id", "a".repeat(10 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    let message = body(response).await["message"].as_str().unwrap().to_owned();
    assert!(message.starts_with("The request head"), "{message}");
}
