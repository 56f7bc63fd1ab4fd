use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use kub_http::errors::error_response;

#[derive(Debug, thiserror::Error)]
pub enum AuthApiError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("Passwords do not match.")]
    PasswordMismatch,
    #[error("Token invalid.")]
    InvalidToken,
    #[error("Hashing is busy; try again.")]
    Busy,
    #[error("Internal error.")]
    Internal(String),
}

impl IntoResponse for AuthApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::InvalidInput(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PasswordMismatch | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(detail) => {
                tracing::error!(detail, "internal error");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        error_response(status, self.to_string())
    }
}
