//! Parse, don't validate: an [`Email`] or [`Password`] can only exist valid, so the
//! handlers never see a blank or malformed one.

use std::{borrow::Cow, fmt};

use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;

use crate::UsersError;

pub const MAX_EMAIL_CHARS: usize = 254;
/// auth-api's limit: a longer password would only be refused there.
pub use kub_auth_wire::MAX_PASSWORD_BYTES;

/// A syntactically valid address in one canonical form, so that every way of writing one
/// address is one account: trimmed, the local part lower-cased and in Unicode NFC (`josé`
/// composed or decomposed), the domain in its IDNA ASCII form (`bücher.de` is
/// `xn--bcher-kva.de`). Equal when the canonical forms are.
#[derive(Debug, Clone)]
pub struct Email {
    canonical: String,
    /// How the email was keyed before emails were normalized (trimmed and lower-cased only),
    /// when that differs: where a record stored by an older version may be found.
    legacy: Option<String>,
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, UsersError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(UsersError::Invalid(
                "An email and password needs to be specified!".into(),
            ));
        }
        let invalid = || UsersError::Invalid(format!("{raw:?} is not a valid email address."));
        let canonical = canonical_form(trimmed).ok_or_else(invalid)?;
        if canonical.chars().count() > MAX_EMAIL_CHARS
            || !email_address::EmailAddress::is_valid(&canonical)
        {
            return Err(invalid());
        }
        let legacy = Some(trimmed.to_lowercase()).filter(|legacy| *legacy != canonical);
        Ok(Self { canonical, legacy })
    }

    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    /// The form an older version stored this email in, when it is not [`Email::as_str`].
    pub fn legacy_form(&self) -> Option<&str> {
        self.legacy.as_deref()
    }
}

impl PartialEq for Email {
    fn eq(&self, other: &Self) -> bool {
        self.canonical == other.canonical
    }
}

impl Eq for Email {}

/// The local part lower-cased, then NFC; the domain through UTS 46 (which lower-cases and
/// NFC-normalizes it too) to ASCII. `None` without an `@` or when the domain has no IDNA form.
fn canonical_form(email: &str) -> Option<String> {
    let (local, domain) = email.rsplit_once('@')?;
    let local: String = local.to_lowercase().nfc().collect();
    let domain = idna::domain_to_ascii(domain).ok()?;
    Some(format!("{local}@{domain}"))
}

/// A stored email (of a record written by any version) in its canonical form, so that records
/// stored before emails were normalized are found under it. Stored emails were always trimmed
/// and lower-cased, so an ASCII one is canonical already; one that no longer parses is kept
/// as it is (found only when typed exactly so).
pub fn canonical_stored(stored: &str) -> Cow<'_, str> {
    if stored.is_ascii() {
        return Cow::Borrowed(stored);
    }
    match Email::parse(stored) {
        Ok(email) => Cow::Owned(email.canonical),
        Err(_) => Cow::Borrowed(stored),
    }
}

/// A non-blank password of sane length. `Debug` never prints it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn parse(raw: String) -> Result<Self, UsersError> {
        if raw.trim().is_empty() {
            return Err(UsersError::Invalid(
                "An email and password needs to be specified!".into(),
            ));
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(UsersError::Invalid(format!(
                "The password must be at most {MAX_PASSWORD_BYTES} bytes."
            )));
        }
        Ok(Self(raw))
    }

    /// A password for a new account: [`Password::parse`], and at least `min_chars` characters.
    pub fn parse_new(raw: String, min_chars: usize) -> Result<Self, UsersError> {
        let password = Self::parse(raw)?;
        if password.0.chars().count() < min_chars {
            return Err(UsersError::Invalid(format!(
                "The password must be at least {min_chars} characters."
            )));
        }
        Ok(password)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// The body of `POST /signup` and `POST /login`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialsBody {
    #[schema(example = "test@test.com")]
    email: String,
    #[schema(example = "testers")]
    password: String,
}

#[derive(Debug)]
pub struct Credentials {
    pub email: Email,
    pub password: Password,
}

impl Credentials {
    /// A login's: any non-blank password of sane length.
    pub fn to_log_in(body: CredentialsBody) -> Result<Self, UsersError> {
        Ok(Self {
            email: Email::parse(&body.email)?,
            password: Password::parse(body.password)?,
        })
    }

    /// A signup's: the password at least `min_password_chars` long too.
    pub fn to_sign_up(
        body: CredentialsBody,
        min_password_chars: usize,
    ) -> Result<Self, UsersError> {
        Ok(Self {
            email: Email::parse(&body.email)?,
            password: Password::parse_new(body.password, min_password_chars)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Test@Test.com ").unwrap().as_str(),
            "test@test.com"
        );
    }

    #[test]
    fn one_address_is_one_email_however_unicode_writes_it() {
        let composed = Email::parse("jos\u{e9}@test.com").unwrap();
        let decomposed = Email::parse("jose\u{301}@test.com").unwrap();
        assert_eq!(composed, decomposed);
        assert_eq!(decomposed.as_str(), "jos\u{e9}@test.com");
        assert_eq!(decomposed.legacy_form(), Some("jose\u{301}@test.com"));
        assert_eq!(composed.legacy_form(), None, "already canonical");

        let unicode = Email::parse("user@b\u{fc}cher.de").unwrap();
        assert_eq!(unicode.as_str(), "user@xn--bcher-kva.de");
        for same in [
            "user@xn--bcher-kva.de",
            " USER@XN--BCHER-KVA.DE",
            "User@B\u{dc}cher.DE",
            "user@bu\u{308}cher.de",
        ] {
            assert_eq!(Email::parse(same).unwrap(), unicode, "{same:?}");
        }
        assert_ne!(Email::parse("user@bucher.de").unwrap(), unicode);
    }

    #[test]
    fn stored_emails_are_read_in_the_canonical_form() {
        assert_eq!(canonical_stored("ana@test.com"), "ana@test.com");
        assert!(matches!(canonical_stored("ana@test.com"), Cow::Borrowed(_)));
        assert_eq!(
            canonical_stored("jose\u{301}@b\u{fc}cher.de"),
            "jos\u{e9}@xn--bcher-kva.de"
        );
    }

    #[test]
    fn non_emails_are_refused() {
        let too_long = format!("{}@x.com", "a".repeat(250));
        for raw in [
            "",
            "   ",
            "test",
            "test@",
            "@test.com",
            "a b@test.com",
            "test@@test.com",
            "test@xn--a.com",
            "test@exa\u{fffd}mple.com",
            too_long.as_str(),
        ] {
            assert!(
                matches!(Email::parse(raw), Err(UsersError::Invalid(_))),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn passwords_must_be_non_blank_and_bounded_and_never_print() {
        assert!(Password::parse("testers".into()).is_ok());
        assert!(Password::parse(" \t".into()).is_err());
        assert!(Password::parse("x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
        let password = Password::parse("hunter2!".into()).unwrap();
        assert!(!format!("{password:?}").contains("hunter2"));
    }

    #[test]
    fn new_passwords_have_a_minimum_length_in_characters() {
        assert!(Password::parse_new("tester".into(), 6).is_ok());
        assert!(
            Password::parse_new("ñandú!".into(), 6).is_ok(),
            "6 characters, 8 bytes"
        );
        let short = Password::parse_new("teste".into(), 6).unwrap_err();
        assert_eq!(
            short.to_string(),
            "The password must be at least 6 characters."
        );
        assert!(
            Password::parse("x".into()).is_ok(),
            "logins do not check it"
        );
    }
}
