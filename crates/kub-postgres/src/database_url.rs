//! [`DatabaseUrl`]: `DATABASE_URL` parsed, checked (its parameters, `sslmode`), and never
//! shown with a password, not even by clap's error.

use std::{ffi::OsStr, fmt};

use clap::{builder::TypedValueParser, error::ErrorKind};
use sqlx::{
    ConnectOptions,
    postgres::{PgConnectOptions, PgSslMode},
};
use url::Url;

/// A parsed PostgreSQL URL. Its `Debug` and `Display` hide every password in it (the user
/// info's and a `password=` parameter's), so settings can be logged.
#[derive(Clone)]
pub struct DatabaseUrl {
    pub(crate) options: PgConnectOptions,
    shown: String,
}

const EXPECTED: &str = "expected postgres://user:password@host:5432/database";

/// The query parameters sqlx reads (plus `options[...]`). sqlx would log any other at WARN
/// *with its value*, and ignore it: a misspelt `sslmode` would leave the connection unencrypted.
const PARAMETERS: [&str; 18] = [
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];
const ROOT_CERT_PARAMETERS: [&str; 3] = ["sslrootcert", "ssl-root-cert", "ssl-ca"];

impl DatabaseUrl {
    /// Parses and checks `url`; what it returns when it refuses never contains the URL.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(EXPECTED.into());
        }
        let parsed = Url::parse(url).map_err(|error| format!("{EXPECTED} ({error})"))?;
        // An unescaped `/`, `?` or `#` in a password ends the user info early, and the rest of
        // the password would be shown as the database or a parameter.
        let after_host = format!("{}{}", parsed.path(), parsed.query().unwrap_or(""));
        if after_host.contains('@') || parsed.fragment().is_some() {
            return Err(format!(
                "{EXPECTED}, with the password's special characters percent-encoded \
                 (%40 for @, %2F for /, %3F for ?, %23 for #)"
            ));
        }
        let mut root_cert = std::env::var_os("PGSSLROOTCERT").is_some_and(|v| !v.is_empty());
        for (key, _) in parsed.query_pairs() {
            let known = PARAMETERS.contains(&key.as_ref())
                || (key.starts_with("options[") && key.ends_with(']'));
            if !known {
                return Err(format!(
                    "unknown parameter {key:?} (known: {}, options[NAME])",
                    PARAMETERS.join(", ")
                ));
            }
            root_cert |= ROOT_CERT_PARAMETERS.contains(&key.as_ref());
        }
        let mut options = PgConnectOptions::from_url(&parsed).map_err(|error| error.to_string())?;
        match options.get_ssl_mode() {
            PgSslMode::Allow => {
                return Err(
                    "sslmode=allow cannot be honoured (the driver never falls back from \
                            plain to TLS): use prefer, require, verify-ca or verify-full"
                        .into(),
                );
            }
            // As libpq does: with a root certificate to check against, `require` checks it.
            PgSslMode::Require if root_cert => options = options.ssl_mode(PgSslMode::VerifyCa),
            _ => {}
        }
        Ok(Self {
            options,
            shown: without_passwords(parsed),
        })
    }

    /// The `sslmode` in effect: from the URL, else `PGSSLMODE`, else `prefer`.
    pub fn ssl_mode(&self) -> &'static str {
        match self.options.get_ssl_mode() {
            PgSslMode::Disable => "disable",
            PgSslMode::Allow => "allow",
            PgSslMode::Prefer => "prefer",
            PgSslMode::Require => "require",
            PgSslMode::VerifyCa => "verify-ca",
            PgSslMode::VerifyFull => "verify-full",
        }
    }
}

/// `url` with the user info's password and any `password` parameter replaced by `***`.
fn without_passwords(mut url: Url) -> String {
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    let has_password_parameter = url.query_pairs().any(|(key, _)| key == "password");
    if has_password_parameter {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(key, value)| {
                let value = if key == "password" {
                    "***".into()
                } else {
                    value
                };
                (key.into_owned(), value.into_owned())
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// clap's parser for [`DatabaseUrl`]. clap's own invalid-value message quotes the value, and a
/// URL's value holds the password: this one names the setting and the reason only.
#[derive(Clone, Copy, Debug)]
pub struct DatabaseUrlParser;

impl TypedValueParser for DatabaseUrlParser {
    type Value = DatabaseUrl;

    fn parse_ref(
        &self,
        command: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<DatabaseUrl, clap::Error> {
        let reason = match value.to_str().map(DatabaseUrl::parse) {
            Some(Ok(url)) => return Ok(url),
            Some(Err(reason)) => reason,
            None => "not UTF-8".to_owned(),
        };
        let setting = arg.map_or_else(|| "DATABASE_URL".to_owned(), ToString::to_string);
        let message = format!(
            "invalid value for '{setting}' (not shown: it may hold a password): {reason}\n"
        );
        Err(clap::Error::raw(ErrorKind::ValueValidation, message).with_cmd(command))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DatabaseSettings;
    use clap::Parser;

    #[test]
    fn urls_are_parsed_and_never_shown_with_their_password() {
        let url = DatabaseUrl::parse("postgres://kub:s3cr%40t@db.default:5432/kub").unwrap();
        assert_eq!(url.to_string(), "postgres://kub:***@db.default:5432/kub");
        assert_eq!(format!("{url:?}"), "postgres://kub:***@db.default:5432/kub");
        assert_eq!(
            DatabaseUrl::parse("postgresql://kub@db/kub")
                .unwrap()
                .to_string(),
            "postgresql://kub@db/kub"
        );
        for wrong in [
            "",
            "mysql://a@b/c",
            "db:5432",
            "postgres://kub:x@db:port/kub",
        ] {
            assert!(DatabaseUrl::parse(wrong).is_err(), "{wrong:?}");
        }
    }

    #[test]
    fn a_password_parameter_is_masked_too() {
        let url = DatabaseUrl::parse(
            "postgres://kub@db:5432/kub?sslmode=require&password=hunter2&application_name=x",
        )
        .unwrap();
        let shown = url.to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("password=***"), "{shown}");
        assert!(shown.contains("sslmode=require"), "{shown}");
        assert!(!format!("{url:?}").contains("hunter2"));
    }

    #[test]
    fn what_is_refused_never_quotes_the_url() {
        for wrong in [
            "postgres://kub:hunter2@db:port/kub",
            // An unescaped `/` or `#` in the password: the rest would be the database's name.
            "postgres://kub:12/hunter2@db/kub",
            "postgres://kub:hunter2#x@db/kub",
            // sqlx would log an unknown parameter's value, and ignore it.
            "postgres://kub@db/kub?ssl_mode=require&pasword=hunter2",
            "postgres://kub:hunter2@db/kub?sslmode=sometimes",
            "postgres://kub:hunter2@db/kub?sslmode=allow",
        ] {
            let reason = DatabaseUrl::parse(wrong).expect_err(wrong);
            assert!(!reason.contains("hunter2"), "{wrong}: {reason}");
        }
        let unknown = DatabaseUrl::parse("postgres://kub@db/kub?ssl_mode=require").unwrap_err();
        assert!(unknown.contains("\"ssl_mode\""), "{unknown}");
    }

    #[test]
    fn sslmode_is_read_allow_refused_and_require_with_a_root_certificate_verifies() {
        let mode = |url: &str| DatabaseUrl::parse(url).map(|url| url.ssl_mode());
        assert_eq!(mode("postgres://kub@db/kub?sslmode=disable"), Ok("disable"));
        assert_eq!(mode("postgres://kub@db/kub?sslmode=require"), Ok("require"));
        assert_eq!(
            mode("postgres://kub@db/kub?sslmode=verify-full"),
            Ok("verify-full")
        );
        assert_eq!(
            mode("postgres://kub@db/kub?sslmode=require&sslrootcert=/ca.pem"),
            Ok("verify-ca"),
            "as libpq: a root certificate is checked"
        );
        let allow = mode("postgres://kub@db/kub?sslmode=allow").unwrap_err();
        assert!(allow.contains("sslmode=allow"), "{allow}");
    }

    #[derive(Parser, Debug)]
    struct Settings {
        #[command(flatten)]
        database: DatabaseSettings,
    }

    #[test]
    fn clap_names_the_setting_and_the_reason_but_never_the_value() {
        let error = Settings::try_parse_from([
            "service",
            "--database-url",
            "postgres://kub:hunter2@db:port/kub",
        ])
        .unwrap_err();
        let rendered = error.render().to_string();
        assert!(!rendered.contains("hunter2"), "{rendered}");
        assert!(rendered.contains("--database-url"), "{rendered}");
        assert!(rendered.contains("invalid port number"), "{rendered}");
        assert_eq!(error.kind(), ErrorKind::ValueValidation);
    }
}
