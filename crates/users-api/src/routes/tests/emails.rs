//! One address, one account, however it is written: the local part in Unicode NFC, the domain
//! in its IDNA ASCII form, and users stored before emails were normalized.

use axum::http::StatusCode;
use test_support::auth::spawn_auth;

use super::{PASSWORD, TestApp};
use crate::USERS_FILE;

const COMPOSED: &str = "jos\u{e9}@test.com";
const DECOMPOSED: &str = "jose\u{301}@test.com";

#[tokio::test]
async fn an_email_composed_or_decomposed_is_one_account() {
    let app = TestApp::spawn().await;
    let created = app.post("/signup", DECOMPOSED, PASSWORD).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    app.post("/signup", COMPOSED, "another password")
        .await
        .expect_error(StatusCode::CONFLICT);
    for form in [COMPOSED, DECOMPOSED] {
        let login = app.post("/login", form, PASSWORD).await;
        assert_eq!(login.status, StatusCode::OK, "{form:?}: {:?}", login.body);
    }
    assert_eq!(app.user_count(), 1);
}

#[tokio::test]
async fn a_unicode_domain_and_its_ascii_form_are_one_account() {
    let app = TestApp::spawn().await;
    let created = app.post("/signup", "user@b\u{fc}cher.de", PASSWORD).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    app.post("/signup", "user@xn--bcher-kva.de", PASSWORD)
        .await
        .expect_error(StatusCode::CONFLICT);
    for form in ["user@xn--bcher-kva.de", "User@B\u{dc}cher.de"] {
        let login = app.post("/login", form, PASSWORD).await;
        assert_eq!(login.status, StatusCode::OK, "{form:?}: {:?}", login.body);
    }
    let stored = std::fs::read_to_string(app.data.path().join("users").join(USERS_FILE)).unwrap();
    assert!(
        stored.contains(r#""email":"user@xn--bcher-kva.de""#),
        "{stored}"
    );
}

/// A users.jsonl written by a version that only trimmed and lower-cased emails: its user logs in
/// with every form of the address, and the address cannot be signed up again.
#[tokio::test]
async fn a_user_stored_before_emails_were_normalized_logs_in_however_it_is_typed() {
    let (auth_server, auth) = spawn_auth().await;
    let password_hash = auth.hasher.hash(PASSWORD.into()).await.unwrap();
    let old = tempfile::tempdir().unwrap();
    let line = serde_json::json!({
        "id": "8d1c6a4e-5b0a-4f0e-9a53-2b3c1d0e7f11",
        "email": "jose\u{301}@b\u{fc}cher.de",
        "passwordHash": password_hash,
        "createdAt": "2025-01-01T00:00:00.000Z",
    });
    std::fs::write(old.path().join(USERS_FILE), format!("{line}\n")).unwrap();
    let folder = old.path().to_owned();
    let app = TestApp::configured(&auth_server.addr.to_string(), Some(auth_server), |config| {
        config.folder = folder;
    })
    .await;
    for form in [
        "jose\u{301}@b\u{fc}cher.de",
        "jos\u{e9}@b\u{fc}cher.de",
        "jos\u{e9}@xn--bcher-kva.de",
    ] {
        let login = app.post("/login", form, PASSWORD).await;
        assert_eq!(login.status, StatusCode::OK, "{form:?}: {:?}", login.body);
        app.post("/signup", form, PASSWORD)
            .await
            .expect_error(StatusCode::CONFLICT);
    }
}
