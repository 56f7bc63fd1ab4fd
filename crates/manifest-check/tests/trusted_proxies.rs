//! Whose `X-Forwarded-For` users-api believes (`trusted-proxies`), broken one way per check as in
//! `wiring.rs`: exactly the frontend's Pods, by a headless Service over them.

mod support;

use manifest_check::*;
use serde_json::json;
use support::*;

#[test]
fn each_trusted_proxies_check_catches_its_breakage() {
    fn trusted(o: &mut [Object], value: &str) {
        env(o, "users-deployment", TRUSTED_PROXIES)["value"] = json!(value);
    }
    let cases: Vec<(&str, &str, &str, Break)> = vec![
        (
            "no TRUSTED_PROXIES behind the frontend",
            CHECK_TRUSTED_PROXIES,
            "TRUSTED_PROXIES is unset",
            |o, _| env_list(o, "users-deployment").retain(|v| v["name"] != TRUSTED_PROXIES),
        ),
        (
            "TRUSTED_PROXIES as the Pod network's range",
            CHECK_TRUSTED_PROXIES,
            "an address or range trusts whichever Pod",
            |o, _| trusted(o, "10.244.0.0/16"),
        ),
        (
            "TRUSTED_PROXIES naming the ClusterIP frontend-service",
            CHECK_TRUSTED_PROXIES,
            "is not headless",
            |o, _| trusted(o, "frontend-service.default.svc.cluster.local"),
        ),
        (
            "TRUSTED_PROXIES naming a Service that does not exist",
            CHECK_TRUSTED_PROXIES,
            "which does not exist",
            |o, _| trusted(o, "frontend.default.svc.cluster.local"),
        ),
        (
            "frontend-pods selecting the tasks Pods",
            CHECK_TRUSTED_PROXIES,
            "which is no proxy in front of this service",
            |o, _| {
                *at(
                    obj(o, "Service", "frontend-pods"),
                    "/spec/selector/app.kubernetes.io~1name",
                ) = json!("tasks");
            },
        ),
    ];
    let missed = missed(&final_manifests(), &repo(), cases);
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}
