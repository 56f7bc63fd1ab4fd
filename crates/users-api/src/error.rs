//! Every way a users-api request can fail, and the status and message each one answers.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use std::time::Duration;

use kub_http::{
    errors::{error_response, retry_after_seconds, retry_later},
    metrics::TurnedAway,
};
use kub_public::auth_client::AuthError;
use kub_store::{AppendError, StorageFailure};

use crate::{
    throttle::{Over, Route},
    users::EmailTaken,
};

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
    /// auth-api's hashing queue is full: passed on with its `Retry-After`.
    #[error("Too many passwords are being checked right now; try again shortly.")]
    AuthOverloaded(Duration),
    #[error("{}", throttled_message(*route, *over, *retry_after))]
    Throttled {
        route: Route,
        over: Over,
        retry_after: Duration,
    },
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
            AuthError::Overloaded { retry_after } => Self::AuthOverloaded(retry_after),
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

fn throttled_message(route: Route, over: Over, retry_after: Duration) -> String {
    let what = match (route, over) {
        (Route::Login, Over::Address) => "login attempts from your address",
        (Route::Login, Over::AccountAndAddress) => "failed logins for this email from your network",
        (Route::Login, Over::Account) => "failed logins for this email",
        (Route::Signup, Over::Address) => "signups from your address",
        (Route::Signup, _) => "signups for this email",
    };
    let seconds = retry_after_seconds(retry_after);
    format!("Too many {what}; try again in {seconds} s.")
}

impl IntoResponse for UsersError {
    fn into_response(self) -> Response {
        let (status, turned_away) = match &self {
            Self::Throttled {
                over, retry_after, ..
            } => (
                StatusCode::TOO_MANY_REQUESTS,
                Some((*retry_after, TurnedAway::Throttled(over.label()))),
            ),
            Self::AuthOverloaded(retry_after) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Some((*retry_after, TurnedAway::Shed("auth_overloaded"))),
            ),
            Self::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, None),
            Self::EmailTaken => (StatusCode::CONFLICT, None),
            Self::InvalidCredentials => (StatusCode::UNAUTHORIZED, None),
            Self::AuthUnavailable | Self::StorageUnavailable => {
                (StatusCode::SERVICE_UNAVAILABLE, None)
            }
            Self::AuthUnexpected => (StatusCode::BAD_GATEWAY, None),
            Self::DiskFull | Self::BudgetReached => (StatusCode::INSUFFICIENT_STORAGE, None),
        };
        match turned_away {
            Some((retry_after, why)) => retry_later(status, self.to_string(), retry_after, why),
            None => error_response(status, self.to_string()),
        }
    }
}
