use axum::{
    Router,
    extract::State,
    http::StatusCode,
    response::Response,
    routing::{get, post},
};
use kub_common::{
    auth_client::RequestId,
    error::ApiJson,
    server::{alive, readiness, with_common_layers},
    store::AppendError,
};
use serde_json::{Value, json};

use crate::{AppState, Credentials, UsersError, domain::CredentialsBody, users::NewUser};

/// An argon2id hash of a random password nobody knows, with the same parameters as real
/// ones: a login for an unknown email is checked against it, so it costs the same time as
/// a wrong password and the two cannot be told apart.
const DUMMY_PASSWORD_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$X21nnMKNO3elHOMBOworlA$aoW3/K6HpRandF6ARS7krI5Une+cyQiOclMG2+qa80o";

pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/signup", post(signup))
        .route("/login", post(login))
        .route("/healthz", get(alive))
        .route("/readyz", get(readyz))
        .with_state(state);
    with_common_layers(routes)
}

#[tracing::instrument(skip_all)]
async fn signup(
    State(state): State<AppState>,
    request_id: RequestId,
    ApiJson(body): ApiJson<CredentialsBody>,
) -> Result<(StatusCode, ApiJson<Value>), UsersError> {
    let credentials = Credentials::try_from(body)?;
    if state
        .users
        .read(|users| users.find(&credentials.email).is_some())
    {
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
    let user = state
        .users
        .append(draft)
        .await
        .map_err(|error| match error {
            AppendError::Conflict(_) => UsersError::EmailTaken,
            AppendError::Storage(failure) => UsersError::Storage(failure),
        })?;
    tracing::info!(user_id = %user.id, "user created");
    Ok((
        StatusCode::CREATED,
        ApiJson(json!({ "message": "User created!" })),
    ))
}

#[tracing::instrument(skip_all)]
async fn login(
    State(state): State<AppState>,
    request_id: RequestId,
    ApiJson(body): ApiJson<CredentialsBody>,
) -> Result<ApiJson<Value>, UsersError> {
    let credentials = Credentials::try_from(body)?;
    let known = state.users.read(|users| {
        users
            .find(&credentials.email)
            .map(|user| (user.id.clone(), user.password_hash.clone()))
    });
    let (user_id, password_hash) = match &known {
        Some((id, hash)) => (id.as_str(), hash.as_str()),
        None => ("unknown", DUMMY_PASSWORD_HASH),
    };
    let token = state
        .auth
        .issue_token(
            user_id,
            credentials.password.expose(),
            password_hash,
            &request_id,
        )
        .await?;
    if known.is_none() {
        return Err(UsersError::InvalidCredentials);
    }
    Ok(ApiJson(json!({ "token": token })))
}

async fn readyz(State(state): State<AppState>) -> Response {
    let writable = state.users.is_writable().await;
    readiness(if writable {
        Ok(())
    } else {
        Err(format!("{} is not writable", state.users.path().display()))
    })
}
