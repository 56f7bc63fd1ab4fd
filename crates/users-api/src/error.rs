use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use kub_common::{auth_client::AuthError, error::error_response, store::StorageFailure};

#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("{0}")]
    Invalid(String),
    #[error("A user with this email already exists.")]
    EmailTaken,
    /// Unknown email and wrong password get the same answer: no user enumeration.
    #[error("Invalid email or password.")]
    InvalidCredentials,
    #[error("The auth service is unavailable; try again shortly.")]
    AuthUnavailable,
    #[error("The auth service gave an unexpected answer.")]
    AuthUnexpected,
    #[error("The user could not be stored: {}", .0.detail)]
    Storage(StorageFailure),
}

impl From<AuthError> for UsersError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Rejected => Self::InvalidCredentials,
            AuthError::Unavailable(_) => Self::AuthUnavailable,
            AuthError::Unexpected(_) => Self::AuthUnexpected,
        }
    }
}

impl IntoResponse for UsersError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::EmailTaken => StatusCode::CONFLICT,
            Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::AuthUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::AuthUnexpected => StatusCode::BAD_GATEWAY,
            Self::Storage(failure) => failure.status(),
        };
        error_response(status, self.to_string())
    }
}
