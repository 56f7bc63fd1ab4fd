//! users-api's routes: `POST /signup`, `POST /login`, `GET /readyz` (their errors:
//! [`UsersError`]; their tests: `routes/tests.rs`).

use axum::{Router, extract::State, http::StatusCode, response::Response};
use kub_http::{
    errors::{ApiJson, ErrorBody},
    probes::readiness,
    request_id::RequestId,
};
use kub_public::public_service;
use serde::Serialize;
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState, ClientAddress, Credentials, UsersError, domain::CredentialsBody, throttle::Route,
    users::NewUser,
};

/// An argon2id hash of a random password nobody knows, with the same parameters as real
/// ones: a login for an unknown email is checked against it, so it costs the same time as
/// a wrong password and the two cannot be told apart.
const DUMMY_PASSWORD_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$X21nnMKNO3elHOMBOworlA$aoW3/K6HpRandF6ARS7krI5Une+cyQiOclMG2+qa80o";

#[derive(OpenApi)]
#[openapi(info(
    title = "users-api",
    description = "Sign up and log in. Passwords are hashed and checked by the internal auth-api."
))]
struct UsersApi;

pub fn router(state: AppState) -> Router {
    let documented = OpenApiRouter::with_openapi(UsersApi::openapi())
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(readyz))
        .with_state(state.clone())
        .split_for_parts();
    public_service(documented, state.network, state.metrics, &state.cors)
}

#[derive(Serialize, utoipa::ToSchema)]
struct Message {
    message: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Token {
    token: String,
}

/// Creates a user.
#[utoipa::path(post, path = "/signup", tag = "users", request_body = CredentialsBody, responses(
    (status = 201, description = "`User created!`", body = Message),
    (status = 409, description = "The email is already registered.", body = ErrorBody),
    (status = 422, description = "A field is missing or blank, the email is not an email, or the password is shorter than `MIN_PASSWORD_LENGTH`.", body = ErrorBody),
    (status = 429, description = "Too many signups from this address or for this email (`SIGNUP_LIMIT_PER_*`); `Retry-After` says when to try again.", body = ErrorBody),
    (status = 503, description = "auth-api or the disk is unavailable, or auth is overloaded (with `Retry-After`).", body = ErrorBody),
    (status = 507, description = "The store is at its byte budget (`STORE_BUDGET`) or the disk is full; logins go on.", body = ErrorBody),
))]
#[tracing::instrument(skip_all)]
async fn signup(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    request_id: RequestId,
    ApiJson(body): ApiJson<CredentialsBody>,
) -> Result<(StatusCode, ApiJson<Message>), UsersError> {
    state.throttle.admit_address(Route::Signup, client).await?;
    let credentials = Credentials::to_sign_up(body, state.min_password_length)?;
    state.throttle.admit_signup(&credentials.email).await?;
    if state.users.find(&credentials.email).await?.is_some() {
        return Err(UsersError::EmailTaken);
    }
    let password_hash = state
        .auth
        .hash_password(credentials.password.expose(), &request_id)
        .await?;
    let draft = NewUser {
        email: credentials.email,
        password_hash,
    };
    let user = state.users.create(draft).await?;
    tracing::info!(user_id = %user.id, "user created");
    let created = Message {
        message: "User created!".into(),
    };
    Ok((StatusCode::CREATED, ApiJson(created)))
}

/// Checks the credentials and returns a JWT for the tasks API.
#[utoipa::path(post, path = "/login", tag = "users", request_body = CredentialsBody, responses(
    (status = 200, description = "A bearer token.", body = Token),
    (status = 401, description = "Unknown email or wrong password (one answer for both).", body = ErrorBody),
    (status = 422, description = "A field is missing or blank, or the email is not an email.", body = ErrorBody),
    (status = 429, description = "Too many logins from this address (`LOGIN_LIMIT_PER_ADDRESS`, right or wrong), or too many failed logins for this email from this network (`LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS`) or from anywhere (`LOGIN_LIMIT_PER_ACCOUNT`); a right password is never counted against the account. `Retry-After` says when to try again.", body = ErrorBody),
    (status = 503, description = "auth-api or the disk is unavailable, or auth is overloaded (with `Retry-After`).", body = ErrorBody),
))]
#[tracing::instrument(skip_all)]
async fn login(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    request_id: RequestId,
    ApiJson(body): ApiJson<CredentialsBody>,
) -> Result<ApiJson<Token>, UsersError> {
    state.throttle.admit_address(Route::Login, client).await?;
    let credentials = Credentials::to_log_in(body)?;
    let attempt = state
        .throttle
        .begin_login(&credentials.email, client)
        .await?;
    let checked = check_password(&state, &credentials, &request_id).await;
    // Only a wrong password (or an unknown email) counts against the account: a right one, or
    // an answer that never got to check it (auth or the store unavailable), hands it back.
    let failed = matches!(checked, Err(UsersError::InvalidCredentials));
    state.throttle.end_login(attempt, failed);
    checked.map(|token| ApiJson(Token { token }))
}

/// A token if the password is this user's; [`UsersError::InvalidCredentials`] if it is not or
/// there is no such user, after the same argon2 check either way.
async fn check_password(
    state: &AppState,
    credentials: &Credentials,
    request_id: &RequestId,
) -> Result<String, UsersError> {
    let known = state.users.find(&credentials.email).await?;
    let (user_id, password_hash) = match &known {
        Some(user) => (user.id.as_str(), user.password_hash.as_str()),
        None => ("unknown", DUMMY_PASSWORD_HASH),
    };
    let token = state
        .auth
        .issue_token(
            user_id,
            credentials.password.expose(),
            password_hash,
            request_id,
        )
        .await?;
    if known.is_none() {
        return Err(UsersError::InvalidCredentials);
    }
    Ok(token)
}

/// Readiness: the users folder can take a durable write, or the database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Ready."),
    (status = 503, description = "Not ready.", body = ErrorBody),
))]
async fn readyz(State(state): State<AppState>) -> Response {
    readiness(state.users.readiness().await)
}

#[cfg(test)]
mod tests;
