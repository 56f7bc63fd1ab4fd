//! Every way a users-api request can fail, and the status and message each one answers.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use kub_http::errors::error_response;
use kub_public::auth_client::AuthError;
use kub_store::{AppendError, StorageFailure};

use crate::users::EmailTaken;

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
    #[error("The user could not be stored: the disk is full.")]
    DiskFull,
    #[error(
        "The user could not be stored: the users store is at its size budget. Existing users can still log in."
    )]
    BudgetReached,
    #[error("Storage is unavailable; try again shortly.")]
    StorageUnavailable,
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

impl From<AppendError<EmailTaken>> for UsersError {
    fn from(error: AppendError<EmailTaken>) -> Self {
        match error {
            AppendError::Conflict(EmailTaken) => Self::EmailTaken,
            AppendError::Storage(failure) => failure.into(),
        }
    }
}

impl From<StorageFailure> for UsersError {
    fn from(failure: StorageFailure) -> Self {
        match failure {
            StorageFailure::DiskFull => Self::DiskFull,
            StorageFailure::BudgetReached => Self::BudgetReached,
            StorageFailure::Unavailable => Self::StorageUnavailable,
        }
    }
}

impl IntoResponse for UsersError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::EmailTaken => StatusCode::CONFLICT,
            Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::AuthUnavailable | Self::StorageUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::AuthUnexpected => StatusCode::BAD_GATEWAY,
            Self::DiskFull | Self::BudgetReached => StatusCode::INSUFFICIENT_STORAGE,
        };
        error_response(status, self.to_string())
    }
}
