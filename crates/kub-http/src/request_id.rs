//! `x-request-id`: kept from the caller or generated (see [`crate::layers`]), echoed in the
//! response, carried by the request's log span, and forwarded to auth, so one request can be
//! followed through every service's logs.
//!
//! A caller's id is kept only when it is 1 to [`MAX_REQUEST_ID_CHARS`] characters of
//! `[A-Za-z0-9._-]`; any other is replaced by a new one before anything reads it: a client
//! cannot make us echo, log and forward 100 KB, nor write spaces, quotes or control
//! characters into log lines.

use std::convert::Infallible;

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, HeaderValue, request::Parts},
};

pub const REQUEST_ID_HEADER: &str = "x-request-id";
pub const MAX_REQUEST_ID_CHARS: usize = 64;

/// Whether a caller's id may be kept: 1 to 64 of `[A-Za-z0-9._-]`.
pub fn is_acceptable(id: &HeaderValue) -> bool {
    let id = id.as_bytes();
    (1..=MAX_REQUEST_ID_CHARS).contains(&id.len())
        && id
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

/// Removes every caller's id unless there is exactly one and [`is_acceptable`]; a new one
/// is then made in its place.
pub fn drop_unacceptable(headers: &mut HeaderMap) {
    let mut ids = headers.get_all(REQUEST_ID_HEADER).iter();
    let keep = matches!((ids.next(), ids.next()), (Some(id), None) if is_acceptable(id));
    if !keep {
        headers.remove(REQUEST_ID_HEADER);
    }
}

/// The request's id, for a handler that passes it on.
#[derive(Debug, Clone, Default)]
pub struct RequestId(pub Option<HeaderValue>);

impl RequestId {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        Self(headers.get(REQUEST_ID_HEADER).cloned())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_headers(&parts.headers))
    }
}
