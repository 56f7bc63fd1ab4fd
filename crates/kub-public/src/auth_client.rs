//! The typed client users-api and tasks-api use to reach auth-api: one per process, a
//! keep-alive pool, a base URL resolved once at start-up, and short timeouts so an absent
//! auth turns into a fast 503 rather than a hung request. Every call carries this service's
//! key (`AUTH_API_KEY`); no call goes through an `HTTP(S)_PROXY`, which would see that key,
//! every password and every token.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant, SystemTime},
};

use axum::http::StatusCode;
use kub_auth_wire::{
    HASHED_PASSWORD_ROUTE, HashPasswordRequest, HashPasswordResponse, TOKEN_ROUTE, TokenRequest,
    TokenResponse, VERIFY_TOKEN_ROUTE, VerifyTokenRequest, VerifyTokenResponse,
};
use kub_http::{
    metrics::Metrics,
    request_id::{REQUEST_ID_HEADER, RequestId},
    traces,
};
use reqwest::Url;
use serde::{Serialize, de::DeserializeOwned};
use tracing::{Instrument, Span};

use crate::{auth_address::AuthAddress, call_span::record_answer};

/// Time allowed to open a TCP connection to auth.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
/// Time allowed for a whole call (connect, argon2, answer). Keeps "auth is down or slow"
/// under the 3 s our callers are promised.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(2500);

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Auth answered 401 without a challenge: wrong password, or a token it does not accept.
    #[error("rejected by auth")]
    Rejected,
    /// Auth cannot serve this service now: unreachable in time, or refusing its key.
    #[error("auth unavailable: {0}")]
    Unavailable(Unavailable),
    /// Auth is overloaded and said when to come back (a 503 with `Retry-After`).
    #[error("auth overloaded")]
    Overloaded { retry_after: Duration },
    /// Auth answered something we do not understand (a bug or a version mismatch).
    #[error("unexpected answer from auth: {0}")]
    Unexpected(String),
}

/// Why auth cannot serve this service. Either way its users get a 503: nothing they send can
/// fix it.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    /// Not reached, or no answer in time.
    #[error("{0}")]
    Unreachable(String),
    /// Auth answered 401 with a challenge (`WWW-Authenticate`), or 403: it does not accept
    /// this service's `AUTH_API_KEY` on this route. A deployment mistake, logged at ERROR.
    #[error("auth refused this service's credential (AUTH_API_KEY)")]
    CredentialRefused,
}

/// The most recent call to auth, for `GET /network`.
#[derive(Debug, Clone)]
pub struct LastCall {
    pub route: &'static str,
    pub latency: Duration,
    pub ok: bool,
    pub at: SystemTime,
}

#[derive(Clone)]
pub struct AuthClient {
    http: reqwest::Client,
    address: AuthAddress,
    metrics: Metrics,
    last_call: Arc<Mutex<Option<LastCall>>>,
}

impl AuthClient {
    /// `service`'s client for `address`; logs which source gave it, as the lesson wants to see.
    pub fn new(service: &'static str, address: &AuthAddress, metrics: Metrics) -> Self {
        tracing::info!(
            service,
            source = %address.source,
            value = %address.raw,
            base_url = %address.base_url,
            "auth address resolved"
        );
        let http = reqwest::Client::builder()
            // Straight to auth: a proxy from the environment would see every key and password.
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            // Under auth's IDLE_TIMEOUT (75 s): the pool lets go of an idle connection before
            // auth closes it, never sending a request down one that is being closed.
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .expect("a plain-HTTP reqwest client with timeouts always builds");
        Self {
            http,
            address: address.clone(),
            metrics,
            last_call: Arc::default(),
        }
    }

    pub fn address(&self) -> &AuthAddress {
        &self.address
    }

    pub fn base_url(&self) -> &Url {
        &self.address.base_url
    }

    pub fn last_call(&self) -> Option<LastCall> {
        self.last_call
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// `GET <auth>/healthz`: is auth reachable right now, and how fast.
    pub async fn probe(&self) -> (bool, Duration) {
        let started = Instant::now();
        let reachable = match self.base_url().join("healthz") {
            Ok(url) => self
                .http
                .get(url)
                .send()
                .await
                .is_ok_and(|response| response.status().is_success()),
            Err(_) => false,
        };
        (reachable, started.elapsed())
    }

    /// Hashes a password with argon2id; the hash is what users-api stores.
    #[tracing::instrument(skip_all)]
    pub async fn hash_password(
        &self,
        password: &str,
        request_id: &RequestId,
    ) -> Result<String, AuthError> {
        let body = HashPasswordRequest {
            password: password.to_owned(),
        };
        let response: HashPasswordResponse =
            self.call(HASHED_PASSWORD_ROUTE, &body, request_id).await?;
        Ok(response.hashed_password)
    }

    /// Checks `password` against the stored hash; on a match, a token whose subject is `user_id`.
    #[tracing::instrument(skip_all)]
    pub async fn issue_token(
        &self,
        user_id: &str,
        password: &str,
        hashed_password: &str,
        request_id: &RequestId,
    ) -> Result<String, AuthError> {
        let body = TokenRequest {
            user_id: user_id.to_owned(),
            password: password.to_owned(),
            hashed_password: hashed_password.to_owned(),
        };
        let response: TokenResponse = self.call(TOKEN_ROUTE, &body, request_id).await?;
        Ok(response.token)
    }

    /// The user id a valid token was issued to.
    #[tracing::instrument(skip_all)]
    pub async fn verify_token(
        &self,
        token: &str,
        request_id: &RequestId,
    ) -> Result<String, AuthError> {
        let body = VerifyTokenRequest {
            token: token.to_owned(),
        };
        let response: VerifyTokenResponse =
            self.call(VERIFY_TOKEN_ROUTE, &body, request_id).await?;
        Ok(response.uid)
    }

    /// POSTs `body` to `route` (a path of [`kub_auth_wire`]), forwarding the request id, and
    /// records the call for `/metrics` and `/network`.
    async fn call<B: Serialize, R: DeserializeOwned>(
        &self,
        route: &'static str,
        body: &B,
        request_id: &RequestId,
    ) -> Result<R, AuthError> {
        // Relative to the base URL, which may carry a path of its own (`http://gateway/auth/`).
        let route = route.trim_start_matches('/');
        let started = Instant::now();
        let outcome = self
            .send(route, body, request_id)
            .instrument(self.call_span(route))
            .await;
        let latency = started.elapsed();
        let failure = match &outcome {
            Ok(_) | Err(AuthError::Rejected) => None,
            Err(AuthError::Unavailable(Unavailable::Unreachable(_))) => Some("unavailable"),
            Err(AuthError::Unavailable(Unavailable::CredentialRefused)) => {
                Some("credential_refused")
            }
            Err(AuthError::Overloaded { .. }) => Some("overloaded"),
            Err(AuthError::Unexpected(_)) => Some("unexpected"),
        };
        self.metrics
            .observe_auth_call(route, latency.as_secs_f64(), failure);
        *self
            .last_call
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(LastCall {
            route,
            latency,
            ok: failure.is_none(),
            at: SystemTime::now(),
        });
        outcome
    }

    async fn send<B: Serialize, R: DeserializeOwned>(
        &self,
        route: &str,
        body: &B,
        request_id: &RequestId,
    ) -> Result<R, AuthError> {
        let url = self
            .address
            .base_url
            .join(route)
            .map_err(|error| AuthError::Unexpected(error.to_string()))?;
        let mut request = self
            .http
            .post(url)
            .bearer_auth(self.address.api_key.expose())
            .json(body);
        if let Some(id) = &request_id.0 {
            request = request.header(REQUEST_ID_HEADER, id.clone());
        }
        let response = request
            .headers(traces::outgoing_headers())
            .send()
            .await
            .map_err(|error| {
                tracing::warn!(%error, route, "auth call failed");
                Span::current().record("otel.status_code", "ERROR");
                unreachable_auth(describe(&error))
            })?;
        record_answer(&response);
        match response.status() {
            StatusCode::OK => response.json::<R>().await.map_err(|error| {
                if error.is_timeout() {
                    unreachable_auth(describe(&error))
                } else {
                    AuthError::Unexpected(error.to_string())
                }
            }),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN if refuses_caller(&response) => {
                tracing::error!(
                    status = %response.status(),
                    route,
                    "auth refused this service's credential: AUTH_API_KEY is not the key auth \
                     has for this service (USERS_API_KEY or TASKS_API_KEY)"
                );
                Err(AuthError::Unavailable(Unavailable::CredentialRefused))
            }
            StatusCode::UNAUTHORIZED => Err(AuthError::Rejected),
            StatusCode::SERVICE_UNAVAILABLE if retry_after(&response).is_some() => {
                Err(AuthError::Overloaded {
                    retry_after: retry_after(&response).unwrap_or_default(),
                })
            }
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => Err(unreachable_auth(
                format!("auth answered {}", response.status()),
            )),
            status => {
                tracing::error!(%status, route, "auth answered an unexpected status");
                Err(AuthError::Unexpected(format!("auth answered {status}")))
            }
        }
    }
}

/// A refusal of this service rather than of what a user sent: any 403, or a 401 with a
/// challenge (`WWW-Authenticate`, auth's is `kub_auth_wire::caller::CALLER_CHALLENGE`): a 401
/// for a wrong password or token never has one.
fn refuses_caller(response: &reqwest::Response) -> bool {
    response.status() == StatusCode::FORBIDDEN
        || response
            .headers()
            .contains_key(reqwest::header::WWW_AUTHENTICATE)
}

fn unreachable_auth(reason: String) -> AuthError {
    AuthError::Unavailable(Unavailable::Unreachable(reason))
}

/// `Retry-After` in seconds (auth never sends the HTTP-date form).
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?;
    let seconds = value.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}
