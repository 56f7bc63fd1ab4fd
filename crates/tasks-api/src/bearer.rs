//! `Authorization: Bearer <token>` → the user auth-api says the token belongs to.

use axum::{
    extract::FromRequestParts,
    http::{header::AUTHORIZATION, request::Parts},
};
use kub_http::request_id::RequestId;

use crate::{AppState, TasksError};

/// Longest token we bother sending to auth; ours are a few hundred bytes.
const MAX_TOKEN_BYTES: usize = 4096;

/// The caller, as proven by a token auth-api accepted.
pub struct CurrentUser {
    pub id: String,
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = TasksError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts)?;
        let request_id = RequestId::from_headers(&parts.headers);
        let id = state.auth.verify_token(token, &request_id).await?;
        Ok(Self { id })
    }
}

fn bearer_token(parts: &Parts) -> Result<&str, TasksError> {
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let header = values.next().ok_or(TasksError::NoToken)?;
    if values.next().is_some() {
        return Err(TasksError::MalformedToken("send one Authorization header"));
    }
    let header = header
        .to_str()
        .map_err(|_| TasksError::MalformedToken("the Authorization header is not ASCII"))?;
    let (scheme, token) = header.split_once(' ').ok_or(TasksError::MalformedToken(
        "expected `Authorization: Bearer <token>`",
    ))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(TasksError::MalformedToken(
            "expected `Authorization: Bearer <token>`",
        ));
    }
    let token = token.trim();
    if token.is_empty() || token.contains(char::is_whitespace) || token.len() > MAX_TOKEN_BYTES {
        return Err(TasksError::MalformedToken(
            "expected exactly one token after `Bearer`",
        ));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    fn parts(headers: &[&str]) -> Parts {
        let mut request = Request::builder();
        for value in headers {
            request = request.header(AUTHORIZATION, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn accepts_one_bearer_token_in_any_case() {
        assert_eq!(
            bearer_token(&parts(&["Bearer abc.def.ghi"])).unwrap(),
            "abc.def.ghi"
        );
        assert_eq!(bearer_token(&parts(&["bearer abc"])).unwrap(), "abc");
    }

    #[test]
    fn refuses_every_other_shape() {
        assert!(matches!(
            bearer_token(&parts(&[])),
            Err(TasksError::NoToken)
        ));
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES + 1));
        for bad in [
            "abc",
            "Basic dXNlcjpwYXNz",
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Token abc",
            long.as_str(),
        ] {
            assert!(
                matches!(
                    bearer_token(&parts(&[bad])),
                    Err(TasksError::MalformedToken(_))
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            bearer_token(&parts(&["Bearer a", "Bearer b"])),
            Err(TasksError::MalformedToken(_))
        ));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(512)
        ))]

        #[test]
        fn any_header_value_is_refused_or_yields_one_clean_token(value in "\\PC{0,80}") {
            let Ok(header) = axum::http::HeaderValue::from_str(&value) else { return Ok(()) };
            let mut parts = parts(&[]);
            parts.headers.insert(AUTHORIZATION, header);
            if let Ok(token) = bearer_token(&parts) {
                proptest::prop_assert!(!token.is_empty() && !token.contains(char::is_whitespace));
                proptest::prop_assert!(value.to_ascii_lowercase().starts_with("bearer "));
            }
        }
    }
}
