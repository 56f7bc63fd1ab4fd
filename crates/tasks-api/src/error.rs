//! Every way a tasks-api request can fail, and the status and message each one answers.

use axum::{
    http::{HeaderValue, StatusCode, header::WWW_AUTHENTICATE},
    response::{IntoResponse, Response},
};
use kub_http::{
    errors::{error_response, retry_after_seconds, retry_later},
    metrics::TurnedAway,
};
use kub_public::auth_client::AuthError;
use kub_store::{AppendError, StorageFailure};
use std::time::Duration;

use crate::QuotaReached;

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
    #[error("You already have {0} tasks, the most one user may store.")]
    TaskLimitReached(usize),
    #[error(
        "This task takes {needed} bytes as stored, and your tasks already take {used} of the {limit} bytes one user may store."
    )]
    ByteQuotaReached { used: u64, needed: u64, limit: u64 },
    #[error("Too many new tasks from you; try again in {} s.", retry_after_seconds(*.0))]
    Throttled(Duration),
    #[error("Storing the task failed: the disk is full.")]
    DiskFull,
    #[error(
        "Storing the task failed: the tasks store is at its size budget. Stored tasks can still be read."
    )]
    BudgetReached,
    #[error("Storage is unavailable; try again shortly.")]
    StorageUnavailable,
}

impl From<AuthError> for TasksError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Rejected => Self::InvalidToken,
            AuthError::Unavailable(_) | AuthError::Overloaded { .. } => Self::AuthUnavailable,
            AuthError::Unexpected(_) => Self::AuthUnexpected,
        }
    }
}

impl From<AppendError<QuotaReached>> for TasksError {
    fn from(error: AppendError<QuotaReached>) -> Self {
        match error {
            AppendError::Conflict(QuotaReached::Tasks { limit }) => Self::TaskLimitReached(limit),
            AppendError::Conflict(QuotaReached::Bytes {
                used,
                needed,
                limit,
            }) => Self::ByteQuotaReached {
                used,
                needed,
                limit,
            },
            AppendError::Storage(failure) => failure.into(),
        }
    }
}

impl From<StorageFailure> for TasksError {
    fn from(failure: StorageFailure) -> Self {
        match failure {
            StorageFailure::DiskFull => Self::DiskFull,
            StorageFailure::BudgetReached => Self::BudgetReached,
            StorageFailure::Unavailable => Self::StorageUnavailable,
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
            Self::AuthUnavailable | Self::StorageUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::AuthUnexpected => StatusCode::BAD_GATEWAY,
            // The caller's own quota: retrying will not help, a smaller task may.
            Self::TaskLimitReached(_) | Self::ByteQuotaReached { .. } => StatusCode::CONFLICT,
            Self::DiskFull | Self::BudgetReached => StatusCode::INSUFFICIENT_STORAGE,
            Self::Throttled(retry_after) => {
                let why = TurnedAway::Throttled("per_user");
                let message = self.to_string();
                return retry_later(StatusCode::TOO_MANY_REQUESTS, message, *retry_after, why);
            }
        };
        let mut response = error_response(status, self.to_string());
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
