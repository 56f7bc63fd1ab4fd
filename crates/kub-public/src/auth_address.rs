//! The lesson's subject: how users-api and tasks-api find auth.
//!
//! First match wins:
//! 1. `AUTH_ADDRESS`, set by hand: a compose service name (`auth`), `localhost:80` inside one
//!    Pod, or a cluster DNS name such as `auth-service.default`;
//! 2. `AUTH_SERVICE_SERVICE_HOST` + `AUTH_SERVICE_SERVICE_PORT` (default 80), which Kubernetes
//!    injects into every container started after a Service named `auth-service` exists;
//! 3. otherwise an error naming both.

use std::{fmt, net::Ipv6Addr};

use clap::Args;
use reqwest::Url;

/// The settings auth's address comes from (each a flag and an environment variable).
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Finding auth (first match wins)")]
pub struct AuthAddressSettings {
    /// Where auth is: `auth`, `localhost:80`, `auth-service.default`, an IP, `host:port` or
    /// `http://…`; port 80 when none is given.
    #[arg(long, env = "AUTH_ADDRESS")]
    pub auth_address: Option<String>,
    /// Injected by Kubernetes for a Service named auth-service; used when AUTH_ADDRESS is unset.
    #[arg(long, env = "AUTH_SERVICE_SERVICE_HOST")]
    pub auth_service_host: Option<String>,
    /// Injected with AUTH_SERVICE_SERVICE_HOST [default: 80].
    #[arg(long, env = "AUTH_SERVICE_SERVICE_PORT")]
    pub auth_service_port: Option<String>,
}

impl AuthAddressSettings {
    /// `AUTH_ADDRESS=<address>` and nothing else: how dev-stack and tests wire a service.
    pub fn at(address: impl Into<String>) -> Self {
        Self {
            auth_address: Some(address.into()),
            ..Self::default()
        }
    }

    /// Finds auth the lesson's way; blank values count as unset.
    pub fn resolve(&self) -> Result<AuthAddress, AddressError> {
        let set = |value: &Option<String>| value.clone().filter(|value| !value.trim().is_empty());
        if let Some(raw) = set(&self.auth_address) {
            let base_url = parse_base_url(&raw).map_err(|reason| AddressError::InvalidAddress {
                var: "AUTH_ADDRESS",
                value: raw.clone(),
                reason,
            })?;
            return Ok(AuthAddress {
                source: AddressSource::AuthAddress,
                raw,
                base_url,
            });
        }
        let Some(host) = set(&self.auth_service_host) else {
            return Err(AddressError::NotConfigured);
        };
        let port = match set(&self.auth_service_port) {
            Some(value) => parse_port(&value).ok_or(AddressError::InvalidPort {
                var: "AUTH_SERVICE_SERVICE_PORT",
                value,
            })?,
            None => 80,
        };
        let host = host.trim();
        let authority = if host.parse::<Ipv6Addr>().is_ok() {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let base_url =
            parse_base_url(&authority).map_err(|reason| AddressError::InvalidAddress {
                var: "AUTH_SERVICE_SERVICE_HOST",
                value: host.to_owned(),
                reason,
            })?;
        Ok(AuthAddress {
            source: AddressSource::KubernetesServiceEnv,
            raw: authority,
            base_url,
        })
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    #[error(
        "cannot find the auth service: set AUTH_ADDRESS (e.g. `auth`, `localhost:80`, \
         `auth-service.default`) or AUTH_SERVICE_SERVICE_HOST (injected by Kubernetes \
         for a Service named auth-service)"
    )]
    NotConfigured,
    #[error("{var}={value:?} is not a usable address: {reason}")]
    InvalidAddress {
        var: &'static str,
        value: String,
        reason: String,
    },
    #[error("{var}={value:?} is invalid: expected a port number from 1 to 65535")]
    InvalidPort { var: &'static str, value: String },
}

/// Which of the lesson's discovery methods gave auth's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressSource {
    /// `AUTH_ADDRESS`, set by hand.
    AuthAddress,
    /// `AUTH_SERVICE_SERVICE_HOST`/`_PORT`, injected by Kubernetes for the Service `auth-service`.
    KubernetesServiceEnv,
}

impl fmt::Display for AddressSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressSource::AuthAddress => "AUTH_ADDRESS",
            AddressSource::KubernetesServiceEnv => "AUTH_SERVICE_SERVICE_HOST",
        })
    }
}

/// Where auth lives, and how we learnt it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthAddress {
    pub source: AddressSource,
    /// The value as configured, for logs and introspection.
    pub raw: String,
    /// Always ends in `/`, so route names can be joined onto it.
    pub base_url: Url,
}

fn parse_port(value: &str) -> Option<u16> {
    value.trim().parse::<u16>().ok().filter(|port| *port != 0)
}

/// `auth`, `auth:80`, `10.99.1.155`, `::1`, `[::1]:80`, `auth-service.default` or
/// `http://auth:80/` all become an `http://…/` base URL.
fn parse_base_url(raw: &str) -> Result<Url, String> {
    let raw = raw.trim();
    let with_scheme = if raw.contains("://") {
        raw.to_owned()
    } else if raw.parse::<Ipv6Addr>().is_ok() {
        format!("http://[{raw}]")
    } else {
        format!("http://{raw}")
    };
    let mut url = Url::parse(&with_scheme).map_err(|error| error.to_string())?;
    if url.scheme() != "http" {
        return Err("only http:// is supported: traffic to auth stays inside the cluster".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("it names no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("credentials do not belong in the address".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("a query or fragment makes no sense in a base address".into());
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The settings as the environment `vars` would give them.
    fn resolve(vars: &[(&str, &str)]) -> Result<AuthAddress, AddressError> {
        let var = |name: &str| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        };
        AuthAddressSettings {
            auth_address: var("AUTH_ADDRESS"),
            auth_service_host: var("AUTH_SERVICE_SERVICE_HOST"),
            auth_service_port: var("AUTH_SERVICE_SERVICE_PORT"),
        }
        .resolve()
    }

    fn url_of(vars: &[(&str, &str)]) -> String {
        resolve(vars).unwrap().base_url.to_string()
    }

    #[test]
    fn every_documented_auth_address_form_becomes_a_base_url() {
        let cases = [
            ("auth", "http://auth/"),
            ("localhost:80", "http://localhost/"),
            ("localhost:8081", "http://localhost:8081/"),
            ("10.99.1.155", "http://10.99.1.155/"),
            ("auth-service.default", "http://auth-service.default/"),
            (
                "auth-service.default.svc.cluster.local:80",
                "http://auth-service.default.svc.cluster.local/",
            ),
            ("http://auth:8081", "http://auth:8081/"),
            ("http://auth:8081/", "http://auth:8081/"),
            ("http://gateway/auth", "http://gateway/auth/"),
            ("::1", "http://[::1]/"),
            ("[::1]:8081", "http://[::1]:8081/"),
            ("  auth  ", "http://auth/"),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                url_of(&[("AUTH_ADDRESS", raw)]),
                expected,
                "AUTH_ADDRESS={raw}"
            );
        }
    }

    #[test]
    fn auth_address_wins_over_the_kubernetes_variables() {
        let address = resolve(&[
            ("AUTH_ADDRESS", "auth-service.default"),
            ("AUTH_SERVICE_SERVICE_HOST", "10.96.0.7"),
        ])
        .unwrap();
        assert_eq!(address.source, AddressSource::AuthAddress);
        assert_eq!(address.raw, "auth-service.default");
    }

    #[test]
    fn kubernetes_service_variables_are_the_fallback() {
        let address = resolve(&[
            ("AUTH_SERVICE_SERVICE_HOST", "10.96.0.7"),
            ("AUTH_SERVICE_SERVICE_PORT", "8081"),
        ])
        .unwrap();
        assert_eq!(address.source, AddressSource::KubernetesServiceEnv);
        assert_eq!(address.base_url.as_str(), "http://10.96.0.7:8081/");

        assert_eq!(
            url_of(&[("AUTH_SERVICE_SERVICE_HOST", "10.96.0.7")]),
            "http://10.96.0.7/",
            "the port defaults to 80"
        );
        assert_eq!(
            url_of(&[
                ("AUTH_SERVICE_SERVICE_HOST", "fd00::7"),
                ("AUTH_SERVICE_SERVICE_PORT", "80")
            ]),
            "http://[fd00::7]/",
            "IPv6 ClusterIPs are bracketed"
        );
    }

    #[test]
    fn blank_values_count_as_unset() {
        let address = resolve(&[
            ("AUTH_ADDRESS", "  "),
            ("AUTH_SERVICE_SERVICE_HOST", "10.96.0.7"),
        ])
        .unwrap();
        assert_eq!(address.source, AddressSource::KubernetesServiceEnv);
    }

    #[test]
    fn nothing_set_names_both_variables() {
        let error = resolve(&[]).unwrap_err();
        assert_eq!(error, AddressError::NotConfigured);
        let line = error.to_string();
        assert!(line.contains("AUTH_ADDRESS") && line.contains("AUTH_SERVICE_SERVICE_HOST"));
        assert!(!line.contains('\n'));
    }

    #[test]
    fn unusable_addresses_are_refused_with_the_reason() {
        for raw in [
            "https://auth",
            "ftp://auth",
            "http://",
            "http://user:pw@auth",
            "auth?x=1",
            "auth:99999",
            "a b",
        ] {
            let error = resolve(&[("AUTH_ADDRESS", raw)]).unwrap_err();
            assert!(
                matches!(
                    error,
                    AddressError::InvalidAddress {
                        var: "AUTH_ADDRESS",
                        ..
                    }
                ),
                "{raw}: {error}"
            );
        }
        let error = resolve(&[
            ("AUTH_SERVICE_SERVICE_HOST", "10.0.0.1"),
            ("AUTH_SERVICE_SERVICE_PORT", "http"),
        ])
        .unwrap_err();
        assert!(matches!(
            error,
            AddressError::InvalidPort {
                var: "AUTH_SERVICE_SERVICE_PORT",
                ..
            }
        ));
    }
}
