use std::time::Duration;

use axum::{
    http::{HeaderValue, StatusCode, header::WWW_AUTHENTICATE},
    response::{IntoResponse, Response},
};
use kub_auth_wire::caller::{CALLER_CHALLENGE, Caller};
use kub_http::{
    errors::{error_response, retry_later},
    metrics::TurnedAway,
};

#[derive(Debug, thiserror::Error)]
pub enum AuthApiError {
    /// No caller key, or one auth does not know: 401 with [`CALLER_CHALLENGE`].
    #[error("This caller is not known to auth: send its own key as `Authorization: Bearer <key>`.")]
    UnknownCaller,
    /// A known caller on a route that is not its own: 403.
    #[error("{} may not call {route}.", caller.name())]
    CallerNotAllowed { caller: Caller, route: String },
    #[error("{0}")]
    InvalidInput(String),
    #[error("Passwords do not match.")]
    PasswordMismatch,
    #[error("Token invalid.")]
    InvalidToken,
    #[error("Too many passwords to check right now; try again shortly.")]
    Overloaded(Shed),
    #[error("Internal error.")]
    Internal(String),
}

impl IntoResponse for AuthApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::UnknownCaller => {
                let mut response = error_response(StatusCode::UNAUTHORIZED, self.to_string());
                response
                    .headers_mut()
                    .insert(WWW_AUTHENTICATE, HeaderValue::from_static(CALLER_CHALLENGE));
                return response;
            }
            Self::CallerNotAllowed { .. } => StatusCode::FORBIDDEN,
            Self::InvalidInput(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PasswordMismatch | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::Overloaded(shed) => {
                return retry_later(
                    StatusCode::SERVICE_UNAVAILABLE,
                    self.to_string(),
                    Duration::from_secs(1),
                    TurnedAway::Shed(shed.label()),
                );
            }
            Self::Internal(detail) => {
                tracing::error!(detail, "internal error");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        error_response(status, self.to_string())
    }
}

/// Why a hashing job was turned away; the `reason` of `http_requests_shed_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shed {
    /// `HASH_QUEUE_SIZE` jobs were already waiting.
    QueueFull,
    /// It waited longer than `HASH_MAX_WAIT`: its caller has given up or is about to.
    WaitedTooLong,
}

impl Shed {
    pub fn label(self) -> &'static str {
        match self {
            Self::QueueFull => "hash_queue_full",
            Self::WaitedTooLong => "hash_waited_too_long",
        }
    }
}
