//! The common layers in-process: request ids, and what the main port no longer serves.

use axum::http::HeaderValue;
use tower::ServiceExt;

use super::*;
use crate::request_id::RequestId;

/// A service whose one route answers the request id its handler sees: what it would forward.
fn app() -> Router {
    let forwarded = |RequestId(id): RequestId| async move {
        id.map(|id| id.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    with_common_layers(Router::new().route("/id", get(forwarded)), Metrics::new())
}

/// (the id in the response, the id the handler saw) for a request carrying `ids`.
async fn ids_for(ids: &[HeaderValue]) -> (String, String) {
    let mut request = Request::get("/id");
    for id in ids {
        request = request.header(REQUEST_ID_HEADER, id.clone());
    }
    let response = app()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let echoed = response.headers()[REQUEST_ID_HEADER]
        .to_str()
        .unwrap()
        .to_owned();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (echoed, String::from_utf8(body.to_vec()).unwrap())
}

fn is_uuid(id: &str) -> bool {
    id.len() == 36 && id.split('-').map(str::len).eq([8, 4, 4, 4, 12])
}

#[tokio::test]
async fn an_acceptable_caller_id_is_kept_echoed_and_forwarded() {
    for id in ["follow-me-42", "a", "A.b_C-9", &"x".repeat(64)] {
        let (echoed, forwarded) = ids_for(&[HeaderValue::from_str(id).unwrap()]).await;
        assert_eq!((echoed.as_str(), forwarded.as_str()), (id, id));
    }
}

#[tokio::test]
async fn any_other_caller_id_is_replaced_by_a_fresh_one_everywhere() {
    let refused = [
        HeaderValue::from_str(&"a".repeat(100 * 1024)).unwrap(),
        HeaderValue::from_str(&"x".repeat(65)).unwrap(),
        HeaderValue::from_static("has spaces"),
        HeaderValue::from_static("tab\there"),
        HeaderValue::from_static("quote\"d;semi"),
        HeaderValue::from_bytes("unicodé-ʻid".as_bytes()).unwrap(),
        HeaderValue::from_bytes(b"bytes-\xff\x80").unwrap(),
        HeaderValue::from_static(""),
    ];
    for id in &refused {
        let (echoed, forwarded) = ids_for(std::slice::from_ref(id)).await;
        let shown = |id: &[u8]| String::from_utf8_lossy(&id[..id.len().min(80)]).into_owned();
        assert!(is_uuid(&echoed), "{} kept", shown(echoed.as_bytes()));
        assert_eq!(forwarded, echoed, "the handler sees the new id");
    }
    // Two ids: which one would a log or auth believe? Neither.
    let two = [
        HeaderValue::from_static("one"),
        HeaderValue::from_static("two"),
    ];
    let (echoed, forwarded) = ids_for(&two).await;
    assert!(
        is_uuid(&echoed) && forwarded == echoed,
        "{echoed} {forwarded}"
    );
    // Each fresh id is new.
    assert_ne!(ids_for(&[]).await.0, ids_for(&[]).await.0);
}

#[tokio::test]
async fn the_service_port_has_no_metrics_route() {
    let response = app()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["message"], "No route for /metrics.");
}
