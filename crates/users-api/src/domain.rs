//! Parse, don't validate: an [`Email`] or [`Password`] can only exist valid, so the
//! handlers never see a blank or malformed one.

use std::fmt;

use serde::Deserialize;

use crate::UsersError;

pub const MAX_EMAIL_CHARS: usize = 254;
/// auth-api's limit: a longer password would only be refused there.
pub use kub_auth_wire::MAX_PASSWORD_BYTES;

/// A syntactically valid address, trimmed and lower-cased so `Ana@X.com` and `ana@x.com`
/// are one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, UsersError> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err(UsersError::Invalid(
                "An email and password needs to be specified!".into(),
            ));
        }
        if email.chars().count() > MAX_EMAIL_CHARS || !email_address::EmailAddress::is_valid(&email)
        {
            return Err(UsersError::Invalid(format!(
                "{raw:?} is not a valid email address."
            )));
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
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
