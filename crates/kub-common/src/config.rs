//! Settings from the environment, and the one the lesson is about: where auth lives.

use std::{fmt, net::Ipv6Addr, path::PathBuf, time::Duration};

use reqwest::Url;

/// Reads one setting. Production passes [`process_env`]; tests pass a closure over a map.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment. A variable set to an empty or blank value counts as unset,
/// as an `env:` entry with `value: ""` in a manifest means "nothing here".
pub fn process_env(key: &str) -> Option<String> {
    std::env::var(key)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(
        "cannot find the auth service: set AUTH_ADDRESS (e.g. `auth`, `localhost:80`, \
         `auth-service.default`) or AUTH_SERVICE_SERVICE_HOST (injected by Kubernetes \
         for a Service named auth-service)"
    )]
    NoAuthAddress,
    #[error("{var}={value:?} is not a usable address: {reason}")]
    InvalidAddress {
        var: &'static str,
        value: String,
        reason: String,
    },
    #[error("{var} is required and must not be empty{hint}")]
    Missing {
        var: &'static str,
        hint: &'static str,
    },
    #[error("{var}={value:?} is invalid: {reason}")]
    Invalid {
        var: &'static str,
        value: String,
        reason: String,
    },
}

/// Reads `var`, treating blank as unset.
pub fn read(env: Lookup, var: &str) -> Option<String> {
    env(var).filter(|value| !value.trim().is_empty())
}

/// The TCP port to listen on: `PORT`, or the service's default.
pub fn listen_port(env: Lookup, default: u16) -> Result<u16, ConfigError> {
    port_var(env, "PORT", default)
}

/// A port read from `var`, or `default` when it is unset.
pub fn port_var(env: Lookup, var: &'static str, default: u16) -> Result<u16, ConfigError> {
    read(env, var).map_or(Ok(default), |value| parse_port(var, &value))
}

pub fn parse_port(var: &'static str, value: &str) -> Result<u16, ConfigError> {
    match value.trim().parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(ConfigError::Invalid {
            var,
            value: value.to_owned(),
            reason: "expected a port number from 1 to 65535".into(),
        }),
    }
}

/// A duration written as `90s`, `15m`, `1h` or a bare number of seconds.
pub fn parse_duration(var: &'static str, value: &str) -> Result<Duration, ConfigError> {
    let value = value.trim();
    let parsed = value
        .parse::<u64>()
        .map(Duration::from_secs)
        .or_else(|_| humantime::parse_duration(value));
    match parsed {
        Ok(duration) if !duration.is_zero() => Ok(duration),
        _ => Err(ConfigError::Invalid {
            var,
            value: value.to_owned(),
            reason: "expected a positive duration such as `3600`, `90s`, `15m` or `1h`".into(),
        }),
    }
}

/// `SHUTDOWN_DELAY`: how long to keep serving after SIGTERM before closing the listener
/// (see `server::serve_until_signal`). `0` (the default) stops at once.
pub fn shutdown_delay(env: Lookup) -> Result<Duration, ConfigError> {
    match read(env, "SHUTDOWN_DELAY") {
        Some(value) if value.trim() == "0" => Ok(Duration::ZERO),
        Some(value) => parse_duration("SHUTDOWN_DELAY", &value),
        None => Ok(Duration::ZERO),
    }
}

/// What users-api and tasks-api both read: where auth is, and the folder of their store.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub auth: AuthAddress,
    pub folder: PathBuf,
    pub pod: PodIdentity,
}

impl ServiceConfig {
    /// `folder_var` (`USERS_FOLDER`, `TASKS_FOLDER`) falls back to `default_folder`, relative
    /// to the working directory as in the lesson.
    pub fn from_env(
        env: Lookup,
        folder_var: &str,
        default_folder: &str,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            auth: resolve_auth_address(env)?,
            folder: read(env, folder_var)
                .unwrap_or_else(|| default_folder.into())
                .into(),
            pod: PodIdentity::from_env(env),
        })
    }
}

/// Who this process is inside Kubernetes, from the downward-API variables the manifests
/// pass. Outside Kubernetes each is absent, and shown as absent, never invented.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodIdentity {
    pub pod_name: Option<String>,
    pub pod_namespace: Option<String>,
    pub pod_ip: Option<String>,
    pub node_name: Option<String>,
}

impl PodIdentity {
    pub fn from_env(env: Lookup) -> Self {
        Self {
            pod_name: read(env, "POD_NAME"),
            pod_namespace: read(env, "POD_NAMESPACE"),
            pod_ip: read(env, "POD_IP"),
            node_name: read(env, "NODE_NAME"),
        }
    }
}

/// Which of the lesson's discovery methods gave auth's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressSource {
    /// `AUTH_ADDRESS`, set by hand: a compose service name, `localhost` inside one Pod,
    /// or a cluster DNS name such as `auth-service.default`.
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

/// Finds auth the way the lesson teaches, first match wins:
/// 1. `AUTH_ADDRESS`;
/// 2. `AUTH_SERVICE_SERVICE_HOST` + `AUTH_SERVICE_SERVICE_PORT` (default 80);
/// 3. otherwise an error naming both.
pub fn resolve_auth_address(env: Lookup) -> Result<AuthAddress, ConfigError> {
    if let Some(raw) = read(env, "AUTH_ADDRESS") {
        let base_url = parse_base_url(&raw).map_err(|reason| ConfigError::InvalidAddress {
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
    if let Some(host) = read(env, "AUTH_SERVICE_SERVICE_HOST") {
        let port = match read(env, "AUTH_SERVICE_SERVICE_PORT") {
            Some(value) => parse_port("AUTH_SERVICE_SERVICE_PORT", &value)?,
            None => 80,
        };
        let host = host.trim();
        let authority = if host.parse::<Ipv6Addr>().is_ok() {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let base_url =
            parse_base_url(&authority).map_err(|reason| ConfigError::InvalidAddress {
                var: "AUTH_SERVICE_SERVICE_HOST",
                value: host.to_owned(),
                reason,
            })?;
        return Ok(AuthAddress {
            source: AddressSource::KubernetesServiceEnv,
            raw: authority,
            base_url,
        });
    }
    Err(ConfigError::NoAuthAddress)
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
    use std::collections::HashMap;

    use super::*;

    fn resolve(vars: &[(&str, &str)]) -> Result<AuthAddress, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve_auth_address(&|key| map.get(key).cloned())
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
        assert_eq!(error, ConfigError::NoAuthAddress);
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
                    ConfigError::InvalidAddress {
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
            ConfigError::Invalid {
                var: "AUTH_SERVICE_SERVICE_PORT",
                ..
            }
        ));
    }

    #[test]
    fn ports_and_durations_parse_or_explain() {
        assert_eq!(listen_port(&|_| None, 8080), Ok(8080));
        assert_eq!(listen_port(&|_| Some("9000".into()), 8080), Ok(9000));
        for bad in ["0", "-1", "65536", "eighty"] {
            assert!(parse_port("PORT", bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_duration("TOKEN_TTL", "3600"),
            Ok(Duration::from_secs(3600))
        );
        assert_eq!(
            parse_duration("TOKEN_TTL", "1h"),
            Ok(Duration::from_secs(3600))
        );
        assert_eq!(
            parse_duration("TOKEN_TTL", "90s"),
            Ok(Duration::from_secs(90))
        );
        for bad in ["0", "0s", "soon", "-5"] {
            assert!(parse_duration("TOKEN_TTL", bad).is_err(), "{bad}");
        }
    }
}
