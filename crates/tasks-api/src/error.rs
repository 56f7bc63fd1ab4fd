use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use kub_common::{auth_client::AuthError, error::error_response, store::StorageFailure};

#[derive(Debug, thiserror::Error)]
pub enum TasksError {
    #[error("No token provided.")]
    NoToken,
    #[error("Malformed Authorization header: {0}.")]
    MalformedToken(&'static str),
    #[error("Could not verify token.")]
    InvalidToken,
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    BadQuery(String),
    #[error("The auth service is unavailable; try again shortly.")]
    AuthUnavailable,
    #[error("The auth service gave an unexpected answer.")]
    AuthUnexpected,
    #[error("Storing the task failed: {}", .0.detail)]
    Storage(StorageFailure),
}

impl From<AuthError> for TasksError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Rejected => Self::InvalidToken,
            AuthError::Unavailable(_) => Self::AuthUnavailable,
            AuthError::Unexpected(_) => Self::AuthUnexpected,
        }
    }
}

impl IntoResponse for TasksError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::NoToken | Self::MalformedToken(_) | Self::InvalidToken => {
                StatusCode::UNAUTHORIZED
            }
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadQuery(_) => StatusCode::BAD_REQUEST,
            Self::AuthUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::AuthUnexpected => StatusCode::BAD_GATEWAY,
            Self::Storage(failure) => failure.status(),
        };
        let mut response = error_response(status, self.to_string());
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                "www-authenticate",
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
