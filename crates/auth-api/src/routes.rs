use axum::{
    Router,
    extract::State,
    middleware,
    response::Response,
    routing::{get, post},
};
use kub_auth_wire::{
    HASHED_PASSWORD_ROUTE, HashPasswordRequest, HashPasswordResponse, TOKEN_ROUTE, TokenRequest,
    TokenResponse, VERIFY_TOKEN_ROUTE, VerifyTokenRequest, VerifyTokenResponse,
};
use kub_http::{errors::ApiJson, layers::with_common_layers, probes::readiness};

use crate::{AppState, AuthApiError, callers::authorize};

/// users-api's ids are UUIDs (36 bytes); a token's subject has no reason to be longer.
const MAX_USER_ID_BYTES: usize = 128;

pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route(HASHED_PASSWORD_ROUTE, post(hashed_password))
        .route(TOKEN_ROUTE, post(token))
        .route(VERIFY_TOKEN_ROUTE, post(verify_token))
        // Only the routes above, and before their body is read: the probes stay open.
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize))
        .route("/readyz", get(readyz))
        .with_state(state.clone());
    with_common_layers(routes, state.metrics)
}

async fn hashed_password(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<HashPasswordRequest>,
) -> Result<ApiJson<HashPasswordResponse>, AuthApiError> {
    let hashed_password = state.hasher.hash(request.password).await?;
    Ok(ApiJson(HashPasswordResponse { hashed_password }))
}

async fn token(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<TokenRequest>,
) -> Result<ApiJson<TokenResponse>, AuthApiError> {
    let user_id = &request.user_id;
    if user_id.trim().is_empty() || user_id.trim() != user_id || user_id.len() > MAX_USER_ID_BYTES {
        return Err(AuthApiError::InvalidInput(format!(
            "userId must be 1 to {MAX_USER_ID_BYTES} bytes, without surrounding spaces."
        )));
    }
    if !state
        .hasher
        .verify(request.password, request.hashed_password)
        .await?
    {
        return Err(AuthApiError::PasswordMismatch);
    }
    let token = state.tokens.issue(&request.user_id)?;
    Ok(ApiJson(TokenResponse {
        message: "Token created.".into(),
        token,
    }))
}

async fn verify_token(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<VerifyTokenRequest>,
) -> Result<ApiJson<VerifyTokenResponse>, AuthApiError> {
    let uid = state.tokens.verify(&request.token)?;
    Ok(ApiJson(VerifyTokenResponse {
        message: "Valid token.".into(),
        uid,
    }))
}

/// Ready as soon as it runs: the signing key is loaded before the listener opens, and a
/// missing or short `JWT_SECRET` stops start-up.
async fn readyz() -> Response {
    readiness(Ok(()))
}

#[cfg(test)]
mod callers_tests;
#[cfg(test)]
mod tests;
