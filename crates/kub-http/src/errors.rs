//! Every error any service sends is JSON `{"message": …}`: handler errors, extractor
//! rejections, unknown routes, wrong methods, timeouts.

use std::time::Duration;

use axum::{
    Json,
    extract::{
        FromRequest, FromRequestParts,
        rejection::{JsonRejection, QueryRejection},
    },
    http::{HeaderValue, StatusCode, Uri, header::RETRY_AFTER},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use crate::metrics::TurnedAway;

/// The body of every error response.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub message: String,
}

/// A status and a message for the client; what each crate's error enum turns into.
pub fn error_response(status: StatusCode, message: impl Into<String>) -> Response {
    let body = ErrorBody {
        message: message.into(),
    };
    (status, Json(body)).into_response()
}

/// A request turned away to protect the service (429 over a rate limit, 503 when overloaded):
/// the JSON message, `Retry-After` in whole seconds (at least 1) and the mark `/metrics`
/// counts it by.
pub fn retry_later(
    status: StatusCode,
    message: impl Into<String>,
    retry_after: Duration,
    why: TurnedAway,
) -> Response {
    let mut response = error_response(status, message);
    let seconds = HeaderValue::from(retry_after_seconds(retry_after));
    response.headers_mut().insert(RETRY_AFTER, seconds);
    response.extensions_mut().insert(why);
    response
}

/// `Retry-After`'s whole seconds: rounded up, at least 1 (0 would invite an instant retry).
pub fn retry_after_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// A request the service could not even read: bad JSON, wrong types, too large, bad query.
/// Keeps the status axum chose (400, 413, 415, 422) but answers in JSON.
#[derive(Debug)]
pub struct RequestRejection {
    pub status: StatusCode,
    pub message: String,
}

impl IntoResponse for RequestRejection {
    fn into_response(self) -> Response {
        error_response(self.status, self.message)
    }
}

impl From<JsonRejection> for RequestRejection {
    fn from(rejection: JsonRejection) -> Self {
        Self {
            status: rejection.status(),
            message: rejection.body_text(),
        }
    }
}

impl From<QueryRejection> for RequestRejection {
    fn from(rejection: QueryRejection) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: rejection.body_text(),
        }
    }
}

/// `axum::Json`, with JSON rejections. Use it for request bodies and responses alike.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(RequestRejection))]
pub struct ApiJson<T>(pub T);

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}

/// `axum::extract::Query`, with JSON rejections.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(RequestRejection))]
pub struct ApiQuery<T>(pub T);

pub async fn route_not_found(uri: Uri) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        format!("No route for {}.", uri.path()),
    )
}

pub async fn method_not_allowed() -> Response {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed on this route.",
    )
}
