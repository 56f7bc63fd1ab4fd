//! The lesson's subject: how users-api and tasks-api find auth.
//!
//! First match wins:
//! 1. `AUTH_ADDRESS`, set by hand: a compose service name (`auth`), `localhost:80` inside one
//!    Pod, or a cluster DNS name such as `auth-service.default`;
//! 2. `AUTH_SERVICE_SERVICE_HOST` + `AUTH_SERVICE_SERVICE_PORT` (default 80), which Kubernetes
//!    injects into every container started after a Service named `auth-service` exists;
//! 3. otherwise an error naming both.
//!
//! Beside the address, the key this service shows auth on every call (`AUTH_API_KEY`): auth
//! answers only the callers it was given a key for.

use std::{fmt, net::Ipv6Addr};

use clap::Args;
pub use kub_auth_wire::caller::{ApiKey, Caller};
use kub_auth_wire::caller::{ApiKeyError, check_api_key, wired_api_key};
use reqwest::Url;

/// The settings auth's address comes from (each a flag and an environment variable), and this
/// service's key for it.
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
    /// This service's own key for auth-api, at least 32 bytes (`openssl rand -hex 32`), the
    /// value auth has as USERS_API_KEY or TASKS_API_KEY. Sent on every call. Required.
    #[arg(
        long,
        env = "AUTH_API_KEY",
        hide_env_values = true,
        help_heading = "Calling auth"
    )]
    pub auth_api_key: Option<ApiKey>,
}

impl AuthAddressSettings {
    /// `AUTH_ADDRESS=<address>` and `caller`'s key for services wired in one process (see
    /// `kub_auth_wire::caller::wired_api_key`): how dev-stack and tests wire a service.
    pub fn at(address: impl Into<String>, caller: Caller) -> Self {
        Self {
            auth_address: Some(address.into()),
            auth_api_key: Some(wired_api_key(caller).into()),
            ..Self::default()
        }
    }

    /// Finds auth the lesson's way, then checks the key; blank values count as unset.
    pub fn resolve(&self) -> Result<AuthAddress, AddressError> {
        let (source, raw, base_url) = self.locate()?;
        let api_key = self
            .auth_api_key
            .clone()
            .filter(|key| !key.expose().trim().is_empty())
            .ok_or(AddressError::MissingApiKey)?;
        check_api_key("AUTH_API_KEY", api_key.expose())?;
        Ok(AuthAddress {
            source,
            raw,
            base_url,
            api_key,
        })
    }

    fn locate(&self) -> Result<(AddressSource, String, Url), AddressError> {
        let set = |value: &Option<String>| value.clone().filter(|value| !value.trim().is_empty());
        if let Some(raw) = set(&self.auth_address) {
            let base_url = parse_base_url(&raw).map_err(|reason| AddressError::InvalidAddress {
                var: "AUTH_ADDRESS",
                value: raw.clone(),
                reason,
            })?;
            return Ok((AddressSource::AuthAddress, raw, base_url));
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
        Ok((AddressSource::KubernetesServiceEnv, authority, base_url))
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
    #[error(
        "AUTH_API_KEY is required: this service's key for auth-api, the value auth has as \
         USERS_API_KEY or TASKS_API_KEY (generate one with `openssl rand -hex 32`)"
    )]
    MissingApiKey,
    #[error(transparent)]
    ApiKey(#[from] ApiKeyError),
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

/// Where auth lives, how we learnt it, and the key to show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthAddress {
    pub source: AddressSource,
    /// The value as configured, for logs and introspection.
    pub raw: String,
    /// Always ends in `/`, so route names can be joined onto it.
    pub base_url: Url,
    /// Checked: long enough, and fit for a header.
    pub api_key: ApiKey,
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
mod tests;
