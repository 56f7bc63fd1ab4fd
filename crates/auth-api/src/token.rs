//! HS256 JWTs. Keys are built once at start-up; validation accepts HS256 only (so
//! `alg: none` and RS/HS confusion are refused), checks the issuer, the audience and expiry,
//! and `nbf` when a token has one, with no leeway: auth both issues and checks, so there is no
//! clock skew to forgive.
//!
//! Every token names its key in its `kid` header. `JWT_SECRET` signs and verifies;
//! `JWT_PREVIOUS_SECRET` only verifies, so tokens signed before a rotation keep working until
//! they expire. A token without a `kid`, or with one of neither key, is refused.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::AuthApiError;

/// The `iss` of every token auth issues, and the only one it accepts.
pub const ISSUER: &str = "kub-network-auth";
/// The `aud` of every token: the service the token is for, and the only one `/verify-token`
/// accepts.
pub const AUDIENCE: &str = "tasks-api";

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
    /// Not before: auth issues none, but a token that has one is checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
}

/// A key's id, in the `kid` header of the tokens it signs: the first 16 hex characters of
/// SHA-256 of the secret (which they do not reveal).
pub fn key_id(secret: &[u8]) -> String {
    Sha256::digest(secret)
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

pub struct TokenKeys {
    signing_kid: String,
    encoding: EncodingKey,
    /// The current key first, then the previous one, if any.
    verifying: Vec<(String, DecodingKey)>,
    validation: Validation,
    ttl: Duration,
}

impl TokenKeys {
    /// Signs and verifies with `secret`.
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = 0;
        let kid = key_id(secret);
        Self {
            signing_kid: kid.clone(),
            encoding: EncodingKey::from_secret(secret),
            verifying: vec![(kid, DecodingKey::from_secret(secret))],
            validation,
            ttl,
        }
    }

    /// Also verifies tokens signed with `previous` (`JWT_PREVIOUS_SECRET`); never signs with it.
    pub fn also_verifying(mut self, previous: &[u8]) -> Self {
        let kid = key_id(previous);
        if !self.verifying.iter().any(|(known, _)| *known == kid) {
            self.verifying
                .push((kid, DecodingKey::from_secret(previous)));
        }
        self
    }

    /// The `kid` of the key new tokens are signed with.
    pub fn signing_kid(&self) -> &str {
        &self.signing_kid
    }

    /// The `kid`s of the keys tokens are accepted from: the current one, then the previous.
    pub fn verifying_kids(&self) -> Vec<&str> {
        self.verifying.iter().map(|(kid, _)| kid.as_str()).collect()
    }

    pub fn issue(&self, subject: &str) -> Result<String, AuthApiError> {
        if subject.trim().is_empty() {
            return Err(AuthApiError::InvalidInput(
                "a token needs a subject (userId).".into(),
            ));
        }
        let now = unix_now();
        let claims = Claims {
            sub: subject.to_owned(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now,
            exp: now + self.ttl.as_secs(),
            nbf: None,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.signing_kid.clone());
        encode(&header, &claims, &self.encoding)
            .map_err(|error| AuthApiError::Internal(error.to_string()))
    }

    /// The subject of a valid token.
    pub fn verify(&self, token: &str) -> Result<String, AuthApiError> {
        let refused = |reason: &dyn std::fmt::Display| {
            tracing::info!(reason = %reason, "token refused");
            AuthApiError::InvalidToken
        };
        let header = decode_header(token).map_err(|error| refused(&error))?;
        let kid = header.kid.ok_or_else(|| refused(&"no kid"))?;
        let (_, key) = self
            .verifying
            .iter()
            .find(|(known, _)| *known == kid)
            .ok_or_else(|| refused(&"a kid of no key of ours"))?;
        let claims = decode::<Claims>(token, key, &self.validation)
            .map_err(|error| refused(&error))?
            .claims;
        if claims.sub.trim().is_empty() {
            return Err(refused(&"an empty sub"));
        }
        Ok(claims.sub)
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests;
