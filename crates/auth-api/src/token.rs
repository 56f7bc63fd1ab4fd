//! HS256 JWTs. Keys are built once at start-up; validation accepts HS256 only (so
//! `alg: none` and RS/HS confusion are refused), checks the issuer and expiry, no leeway:
//! auth both issues and checks, so there is no clock skew to forgive.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

use crate::AuthApiError;

/// The `iss` of every token auth issues, and the only one it accepts.
pub const ISSUER: &str = "kub-network-auth";

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub iat: u64,
    pub exp: u64,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl TokenKeys {
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    pub fn issue(&self, subject: &str) -> Result<String, AuthApiError> {
        let now = unix_now();
        let claims = Claims {
            sub: subject.to_owned(),
            iss: ISSUER.to_owned(),
            iat: now,
            exp: now + self.ttl.as_secs(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|error| AuthApiError::Internal(error.to_string()))
    }

    /// The subject of a valid token.
    pub fn verify(&self, token: &str) -> Result<String, AuthApiError> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims.sub)
            .map_err(|error| {
                tracing::info!(reason = %error, "token refused");
                AuthApiError::InvalidToken
            })
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Header, encode};

    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn keys() -> TokenKeys {
        TokenKeys::new(SECRET, Duration::from_secs(3600))
    }

    fn forge(claims: &Claims, secret: &[u8]) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    fn claims(iss: &str, exp_offset: i64) -> Claims {
        let now = unix_now();
        Claims {
            sub: "u1".into(),
            iss: iss.into(),
            iat: now,
            exp: now.saturating_add_signed(exp_offset),
        }
    }

    #[test]
    fn a_token_stops_working_when_its_ttl_has_passed() {
        let keys = TokenKeys::new(SECRET, Duration::from_secs(1));
        let token = keys.issue("u1").unwrap();
        assert_eq!(keys.verify(&token).unwrap(), "u1");
        std::thread::sleep(Duration::from_millis(2100));
        assert!(matches!(
            keys.verify(&token),
            Err(AuthApiError::InvalidToken)
        ));
    }

    #[test]
    fn an_issued_token_verifies_to_its_subject() {
        let keys = keys();
        let token = keys.issue("user-42").unwrap();
        assert_eq!(keys.verify(&token).unwrap(), "user-42");
    }

    #[test]
    fn expired_foreign_issuer_other_secret_and_tampered_tokens_are_refused() {
        let keys = keys();
        let refused = [
            forge(&claims(ISSUER, -5), SECRET),
            forge(&claims("someone-else", 600), SECRET),
            forge(&claims(ISSUER, 600), b"another-secret-another-secret-xx"),
            {
                let token = keys.issue("u1").unwrap();
                let mut parts: Vec<&str> = token.split('.').collect();
                let payload = "eyJzdWIiOiJhZG1pbiIsImlzcyI6Imt1Yi1uZXR3b3JrLWF1dGgiLCJpYXQiOjAsImV4cCI6OTk5OTk5OTk5OX0";
                parts[1] = payload;
                parts.join(".")
            },
            // alg: none, with the right claims and an empty signature.
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1MSIsImlzcyI6Imt1Yi1uZXR3b3JrLWF1dGgiLCJpYXQiOjAsImV4cCI6OTk5OTk5OTk5OX0.".into(),
            "abc".into(),
            String::new(),
        ];
        for token in refused {
            assert!(
                matches!(keys.verify(&token), Err(AuthApiError::InvalidToken)),
                "{token}"
            );
        }
    }
}
