//! Issuing and verifying tokens: every claim, the `kid`, and a rotation.

use jsonwebtoken::{Header, encode};
use serde_json::{Value, json};

use super::*;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const OLD_SECRET: &[u8] = b"old-secret-old-secret-old-secret";
const OTHER_SECRET: &[u8] = b"another-secret-another-secret-xx";

fn keys() -> TokenKeys {
    TokenKeys::new(SECRET, Duration::from_secs(3600))
}

/// `claims` signed with `secret`, under the `kid` given (none when `None`).
fn forge(claims: &Value, secret: &[u8], kid: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

/// What auth issues, valid for 10 minutes; each test changes one thing.
fn claims() -> Value {
    let now = unix_now();
    json!({ "sub": "u1", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600 })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

/// The claims of a token auth issued, read without checking anything.
fn payload(token: &str) -> Value {
    jsonwebtoken::dangerous::insecure_decode_claims(token).unwrap()
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
fn an_issued_token_names_its_key_and_audience_and_verifies_to_its_subject() {
    let keys = keys();
    let token = keys.issue("user-42").unwrap();
    assert_eq!(keys.verify(&token).unwrap(), "user-42");
    let header = decode_header(&token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(key_id(SECRET).as_str()));
    assert_eq!(key_id(SECRET).len(), 16);
    assert_eq!(payload(&token)["aud"], AUDIENCE);
    assert!(payload(&token).get("nbf").is_none());
}

#[test]
fn the_kid_is_the_start_of_the_secrets_sha256() {
    // sha256("0123456789abcdef0123456789abcdef"), from `printf %s … | sha256sum`.
    assert_eq!(key_id(SECRET), "3eb1bd439947eb76");
}

#[test]
fn an_empty_subject_gets_no_token() {
    for blank in ["", "  "] {
        assert!(matches!(
            keys().issue(blank),
            Err(AuthApiError::InvalidInput(_))
        ));
    }
}

#[test]
fn a_token_with_nbf_is_refused_before_it_and_accepted_after() {
    let keys = keys();
    let kid = key_id(SECRET);
    let now = unix_now();
    let later = forge(&with(claims(), "nbf", json!(now + 60)), SECRET, Some(&kid));
    assert!(matches!(
        keys.verify(&later),
        Err(AuthApiError::InvalidToken)
    ));
    let earlier = forge(&with(claims(), "nbf", json!(now - 60)), SECRET, Some(&kid));
    assert_eq!(keys.verify(&earlier).unwrap(), "u1");
}

#[test]
fn every_claim_and_the_kid_are_checked() {
    let keys = keys();
    let kid = key_id(SECRET);
    let ours = |claims: &Value| forge(claims, SECRET, Some(&kid));
    assert_eq!(keys.verify(&ours(&claims())).unwrap(), "u1", "the control");
    let now = unix_now();
    let refused = [
        ours(&with(claims(), "exp", json!(now - 5))),
        ours(&with(claims(), "iss", json!("someone-else"))),
        ours(&with(claims(), "aud", json!("users-api"))),
        ours(&with(claims(), "aud", json!(["users-api"]))),
        ours(&without(claims(), "aud")),
        ours(&with(claims(), "sub", json!(""))),
        ours(&with(claims(), "sub", json!(" "))),
        ours(&without(claims(), "sub")),
        ours(&with(claims(), "nbf", json!("soon"))),
        // Our kid, another key's signature; no kid; a kid of no key of ours.
        forge(&claims(), OTHER_SECRET, Some(&kid)),
        forge(&claims(), SECRET, None),
        forge(&claims(), SECRET, Some(&key_id(OTHER_SECRET))),
        forge(&claims(), SECRET, Some("")),
    ];
    for (n, token) in refused.iter().enumerate() {
        assert!(
            matches!(keys.verify(token), Err(AuthApiError::InvalidToken)),
            "case {n}"
        );
    }
}

#[test]
fn tampered_unsigned_and_garbage_tokens_are_refused() {
    let keys = keys();
    let token = keys.issue("u1").unwrap();
    let mut parts: Vec<&str> = token.split('.').collect();
    // {"sub":"admin","iss":"kub-network-auth","iat":0,"exp":9999999999}
    let payload =
        "eyJzdWIiOiJhZG1pbiIsImlzcyI6Imt1Yi1uZXR3b3JrLWF1dGgiLCJpYXQiOjAsImV4cCI6OTk5OTk5OTk5OX0";
    parts[1] = payload;
    let refused = [
        parts.join("."),
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

/// `JWT_SECRET` rotated from OLD to SECRET with OLD as `JWT_PREVIOUS_SECRET`.
#[test]
fn after_a_rotation_old_tokens_verify_new_ones_use_the_new_key_and_others_are_refused() {
    let ttl = Duration::from_secs(600);
    let before = TokenKeys::new(OLD_SECRET, ttl);
    let old_token = before.issue("u1").unwrap();
    let after = TokenKeys::new(SECRET, ttl).also_verifying(OLD_SECRET);
    assert_eq!(after.verify(&old_token).unwrap(), "u1");
    assert_eq!(after.signing_kid(), key_id(SECRET));
    assert_eq!(after.verifying_kids(), [key_id(SECRET), key_id(OLD_SECRET)]);

    let new_token = after.issue("u2").unwrap();
    let header = decode_header(&new_token).unwrap();
    assert_eq!(header.kid, Some(key_id(SECRET)));
    assert_eq!(
        TokenKeys::new(SECRET, ttl).verify(&new_token).unwrap(),
        "u2"
    );
    assert!(
        before.verify(&new_token).is_err(),
        "signed with the new key"
    );

    let foreign = TokenKeys::new(OTHER_SECRET, ttl).issue("u1").unwrap();
    assert!(matches!(
        after.verify(&foreign),
        Err(AuthApiError::InvalidToken)
    ));
    // Once the previous key is dropped, its tokens stop working.
    assert!(TokenKeys::new(SECRET, ttl).verify(&old_token).is_err());
}
