//! The JSON auth-api speaks, shared by its handlers and by [`crate::auth_client`], so the
//! two sides cannot drift apart. Route names are the lesson's; passwords travel only in
//! POST bodies (the original put them in URL paths, where every proxy log keeps them).
//! None of these types derive `Debug`: a password or token must never reach a log line.

use serde::{Deserialize, Serialize};

pub const HASHED_PASSWORD_ROUTE: &str = "hashed-password";
pub const TOKEN_ROUTE: &str = "token";
pub const VERIFY_TOKEN_ROUTE: &str = "verify-token";

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
