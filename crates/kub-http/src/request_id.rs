//! `x-request-id`: kept from the caller or generated (see [`crate::layers`]), echoed in the
//! response, carried by the request's log span, and forwarded to auth, so one request can be
//! followed through every service's logs.

use std::convert::Infallible;

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, HeaderValue, request::Parts},
};

pub const REQUEST_ID_HEADER: &str = "x-request-id";

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
