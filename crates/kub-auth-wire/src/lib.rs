//! auth-api's routes and JSON bodies, in one place for its handlers and its callers.
//!
//! The route names are the lesson's; passwords travel only in POST bodies, never in a path.
//!
//! None of these types derive `Debug`: a password or token must never reach a log line.
//!
//! [`caller`]: who may call auth, and how a caller tells a refused key from a wrong password.

pub mod caller;

use serde::{Deserialize, Serialize};

/// `POST /hashed-password`: [`HashPasswordRequest`] → [`HashPasswordResponse`].
pub const HASHED_PASSWORD_ROUTE: &str = "/hashed-password";
/// `POST /token`: [`TokenRequest`] → [`TokenResponse`], or 401 when the password is wrong.
pub const TOKEN_ROUTE: &str = "/token";
/// `POST /verify-token`: [`VerifyTokenRequest`] → [`VerifyTokenResponse`], or 401.
pub const VERIFY_TOKEN_ROUTE: &str = "/verify-token";

/// `POST /hashed-password`
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashPasswordRequest {
    pub password: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HashPasswordResponse {
    pub hashed_password: String,
}

/// `POST /token`: checks `password` against `hashed_password`; on a match, a token for `user_id`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenRequest {
    pub user_id: String,
    pub password: String,
    pub hashed_password: String,
}

#[derive(Serialize, Deserialize)]
pub struct TokenResponse {
    pub message: String,
    pub token: String,
}

/// `POST /verify-token`
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyTokenRequest {
    pub token: String,
}

#[derive(Serialize, Deserialize)]
pub struct VerifyTokenResponse {
    pub message: String,
    pub uid: String,
}

/// Longest password auth-api accepts (argon2 takes any length; there is no reason to).
pub const MAX_PASSWORD_BYTES: usize = 1024;
