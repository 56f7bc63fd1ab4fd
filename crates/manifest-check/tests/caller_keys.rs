//! Who is given which key for auth (`caller-keys`), broken one way per check as in `wiring.rs`:
//! a label or an address lets a Pod past a NetworkPolicy; only these Secrets get it a token.

mod support;

use manifest_check::*;
use serde_json::json;
use support::*;

#[test]
fn each_key_check_catches_its_breakage() {
    let cases: Vec<(&str, &str, &str, Break)> = vec![
        (
            "users' key as a literal",
            CHECK_CALLER_KEYS,
            "AUTH_API_KEY is a literal",
            |o, _| {
                *env(o, "users-deployment", AUTH_API_KEY) =
                    json!({"name": AUTH_API_KEY, "value": "0123456789abcdef0123456789abcdef"});
            },
        ),
        (
            "auth's JWT_SECRET from a ConfigMap",
            CHECK_CALLER_KEYS,
            "JWT_SECRET comes from a valueFrom that is no secretKeyRef",
            |o, _| {
                env(o, "auth-deployment", "JWT_SECRET")["valueFrom"] =
                    json!({"configMapKeyRef": {"name": "auth", "key": "JWT_SECRET"}});
            },
        ),
        (
            "users sends another Secret than auth reads as USERS_API_KEY",
            CHECK_CALLER_KEYS,
            "reads USERS_API_KEY from Secret \"users-auth-key\"",
            |o, _| {
                env(o, "users-deployment", AUTH_API_KEY)["valueFrom"] =
                    secret_ref("users-key", AUTH_API_KEY);
            },
        ),
        (
            "auth reads users' key from another key of the Secret",
            CHECK_CALLER_KEYS,
            "answers every call with 401",
            |o, _| {
                env(o, "auth-deployment", "USERS_API_KEY")["valueFrom"] =
                    secret_ref("users-auth-key", "KEY");
            },
        ),
        (
            "auth without tasks' key, which tasks calls it with",
            CHECK_CALLER_KEYS,
            "which has no TASKS_API_KEY",
            |o, _| {
                env_list(o, "auth-deployment")
                    .retain(|v| !v["name"].as_str().unwrap().starts_with("TASKS_API_KEY"));
            },
        ),
        (
            "auth with no caller key at all",
            CHECK_CALLER_KEYS,
            "refuses to start",
            |o, _| {
                env_list(o, "auth-deployment")
                    .retain(|v| !v["name"].as_str().unwrap().contains("_API_KEY"));
            },
        ),
        (
            "the previous users key not optional",
            CHECK_CALLER_KEYS,
            "USERS_API_KEY_PREVIOUS must be `optional: true`",
            |o, _| {
                env(o, "auth-deployment", "USERS_API_KEY_PREVIOUS")["valueFrom"] =
                    secret_ref("users-auth-key", "AUTH_API_KEY_PREVIOUS");
            },
        ),
        (
            "the previous JWT secret from another Secret",
            CHECK_CALLER_KEYS,
            "a rotation keeps both values in one Secret",
            |o, _| {
                env(o, "auth-deployment", "JWT_PREVIOUS_SECRET")["valueFrom"]["secretKeyRef"]["name"] =
                    json!("old-auth-secret");
            },
        ),
        (
            "users' key optional",
            CHECK_CALLER_KEYS,
            "USERS_API_KEY is optional",
            |o, _| {
                env(o, "auth-deployment", "USERS_API_KEY")["valueFrom"]["secretKeyRef"]["optional"] =
                    json!(true);
            },
        ),
        (
            "users and tasks sharing one Secret",
            CHECK_CALLER_KEYS,
            "both come from Secret \"users-auth-key\"",
            |o, _| {
                env(o, "tasks-deployment", AUTH_API_KEY)["valueFrom"] =
                    secret_ref("users-auth-key", AUTH_API_KEY);
                env(o, "auth-deployment", "TASKS_API_KEY")["valueFrom"] =
                    secret_ref("users-auth-key", AUTH_API_KEY);
            },
        ),
        (
            "the frontend given users' key",
            CHECK_CALLER_KEYS,
            "is given Secret \"users-auth-key\" (as \"KEY\")",
            |o, _| {
                env_list(o, "frontend-deployment").push(
                    json!({"name": "KEY", "valueFrom": secret_ref("users-auth-key", AUTH_API_KEY)}),
                );
            },
        ),
        (
            "users' key in a volume of the tasks Pod",
            CHECK_CALLER_KEYS,
            "is given Secret \"users-auth-key\" (in volume",
            |o, _| {
                at(
                    deployment(o, "tasks-deployment"),
                    "/spec/template/spec/volumes",
                )
                .as_array_mut()
                .unwrap()
                .push(json!({"name": "keys", "secret": {"secretName": "users-auth-key"}}));
            },
        ),
        (
            "auth's signing secret given to users",
            CHECK_CALLER_KEYS,
            "is given Secret \"auth-secret\"",
            |o, _| {
                env_list(o, "users-deployment").push(
                    json!({"name": "JWT_SECRET", "valueFrom": secret_ref("auth-secret", "JWT_SECRET")}),
                );
            },
        ),
        (
            "users without its key",
            CHECK_CALLER_KEYS,
            "does not start without its key",
            |o, _| {
                env_list(o, "users-deployment").retain(|v| v["name"] != AUTH_API_KEY);
            },
        ),
        (
            "auth knowing a caller that does not call it",
            CHECK_CALLER_KEYS,
            "no tasks-api calls this auth-api",
            |o, _| o.retain(|x| !x.name().starts_with("tasks-")),
        ),
    ];
    let missed = missed(&final_manifests(), &repo(), cases);
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}

/// The names the checks use are variables the binaries really read, so the checks cannot go
/// on checking a variable that was renamed.
#[test]
fn the_checked_variables_are_read_by_the_binaries() {
    let reads = |name: &str| {
        let binary = BINARIES.iter().find(|b| b.name == name).unwrap();
        (binary.reads)()
    };
    for name in ["users-api", "tasks-api"] {
        assert!(reads(name).contains(&AUTH_API_KEY.to_owned()), "{name}");
    }
    let auth = reads("auth-api");
    let mut wanted = vec![JWT_SECRETS.0.to_owned(), JWT_SECRETS.1.to_owned()];
    for key in BINARIES.iter().filter_map(|b| b.caller_key) {
        wanted.extend([key.to_owned(), format!("{key}{PREVIOUS}")]);
    }
    for var in wanted {
        assert!(
            auth.contains(&var),
            "auth-api does not read {var}: {auth:?}"
        );
    }
    for binary in &BINARIES {
        assert!(
            (binary.reads)().contains(&METRICS_PORT.0.to_owned()),
            "{}",
            binary.name
        );
    }
    assert!(reads("users-api").contains(&TRUSTED_PROXIES.to_owned()));
}
