//! Calling a router in-process, as axum's `testing` example does: one request through
//! `tower::ServiceExt::oneshot`, no socket, and the answer read back as JSON.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::{
    Router,
    body::Body,
    extract::ConnectInfo,
    http::{HeaderMap, Method, Request, StatusCode, header},
};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// What came back: the status, the headers and the body (JSON, or a JSON string of the text).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

/// A request with an optional JSON body and bearer token.
pub fn request(
    method: Method,
    path: &str,
    json: Option<&Value>,
    token: Option<&str>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    match json {
        Some(json) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json.to_string())),
        None => builder.body(Body::empty()),
    }
    .expect("a valid request")
}

/// A browser's CORS preflight from a page at `origin`, for a POST to `path` with a token and
/// a JSON body.
pub fn preflight(path: &str, origin: &str) -> Request<Body> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri(path)
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization,content-type",
        )
        .body(Body::empty())
        .expect("a valid request")
}

/// `request` as a page at `origin` sends it.
pub fn from_origin(mut request: Request<Body>, origin: &'static str) -> Request<Body> {
    let origin = header::HeaderValue::from_static(origin);
    request.headers_mut().insert(header::ORIGIN, origin);
    request
}

/// The client address in-process requests come from, unless a test sets its own
/// [`ConnectInfo`] (served over a socket, kub_http's accept loop sets the real peer).
pub const TEST_CLIENT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 40000);

/// `request` as if it came from `client`.
pub fn from_client(mut request: Request<Body>, client: SocketAddr) -> Request<Body> {
    request.extensions_mut().insert(ConnectInfo(client));
    request
}

/// Sends `request` through a clone of `router`.
pub async fn send(router: &Router, mut request: Request<Body>) -> Answer {
    if request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_none()
    {
        request.extensions_mut().insert(ConnectInfo(TEST_CLIENT));
    }
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("routers are infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Answer {
        status,
        headers,
        body,
    }
}

impl Answer {
    /// A header's value as text, if the answer has it.
    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap())
    }

    /// Asserts the status and that the body is JSON `{"message": <non-empty string>}` and
    /// nothing else; returns the message.
    pub fn expect_error(&self, status: StatusCode) -> String {
        assert_eq!(self.status, status, "{:?}", self.body);
        assert_eq!(
            self.headers
                .get(header::CONTENT_TYPE)
                .map(|value| value.as_bytes()),
            Some(&b"application/json"[..]),
            "{:?}",
            self.body
        );
        let message = self.body["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no message in {}", self.body));
        assert!(!message.is_empty());
        assert_eq!(
            self.body.as_object().map(|body| body.len()),
            Some(1),
            "only a message: {}",
            self.body
        );
        message.to_owned()
    }
}
