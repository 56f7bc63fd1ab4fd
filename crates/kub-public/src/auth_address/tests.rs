//! Every way of finding auth, and the key checks, as the environment would give them.

use super::*;

const KEY: &str = "0123456789abcdef0123456789abcdef";

/// The settings as the environment `vars` would give them, with a valid `AUTH_API_KEY`
/// unless `vars` sets one.
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
        auth_api_key: Some(var("AUTH_API_KEY").unwrap_or(KEY.into()).into()),
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

#[test]
fn the_key_is_required_long_enough_and_never_shown() {
    let address = [("AUTH_ADDRESS", "auth")];
    assert_eq!(resolve(&address).unwrap().api_key.expose(), KEY);
    for blank in ["", "  "] {
        let error = resolve(&[address[0], ("AUTH_API_KEY", blank)]).unwrap_err();
        assert_eq!(error, AddressError::MissingApiKey);
    }
    let error = resolve(&[address[0], ("AUTH_API_KEY", "short-key")]).unwrap_err();
    assert!(matches!(
        error,
        AddressError::ApiKey(ApiKeyError::TooShort { .. })
    ));
    assert!(!error.to_string().contains("short-key"), "{error}");
    let settings = AuthAddressSettings::at("auth", Caller::UsersApi);
    let shown = format!("{settings:?} {:?}", settings.resolve().unwrap());
    assert!(!shown.contains(wired_api_key(Caller::UsersApi)), "{shown}");
}

#[test]
fn the_address_is_checked_before_the_key() {
    let error = resolve(&[("AUTH_API_KEY", "")]).unwrap_err();
    assert_eq!(error, AddressError::NotConfigured);
}
