//! Every stage under kubernetes/stages/, rendered offline as `kubectl kustomize` renders it
//! (`manifest_check::render_stage`), checked like kubernetes/*.yaml. Stage 5 (scale-out) adds
//! PostgreSQL: its wiring is broken one way per check, as in `wiring.rs`.
//!
//! `scripts/k8s-validate.sh` runs `renders_like_kubectl` with kubectl's renderings, so the
//! offline renderer cannot drift from kustomize.

mod support;

use std::{collections::BTreeMap, fs, path::PathBuf};

use manifest_check::*;
use serde_json::{Value, json};
use support::*;

const SCALE_OUT: &str = "5-scale-out";

/// (name, folder) of every stage, in order.
fn stages() -> Vec<(String, PathBuf)> {
    let mut stages: Vec<(String, PathBuf)> = fs::read_dir(root().join("kubernetes/stages"))
        .expect("kubernetes/stages")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.join("kustomization.yaml").is_file())
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, path)
        })
        .filter(|(name, _)| name.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    stages.sort();
    stages
}

fn stage(name: &str) -> Vec<Object> {
    render_stage(&root().join("kubernetes/stages").join(name))
        .unwrap_or_else(|error| panic!("render stage {name}: {error}"))
}

fn findings_text(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n  ")
}

const FRONTEND_STAGE: &str = "6-frontend";

fn sorted(objects: Vec<Object>) -> Vec<String> {
    let mut values: Vec<String> = objects.iter().map(|o| o.value.to_string()).collect();
    values.sort();
    values
}

#[test]
fn the_frontend_stage_renders_the_final_manifests() {
    assert!(
        stages().iter().any(|(name, _)| name == FRONTEND_STAGE),
        "the lesson's last stage is the final manifests"
    );
    let rendered = sorted(stage(FRONTEND_STAGE));
    let manifests = sorted(load_dir(&root().join("kubernetes")).expect("kubernetes/*.yaml"));
    assert_eq!(rendered.len(), 16);
    assert_eq!(rendered, manifests);
}

#[test]
fn the_dns_stage_renders_the_final_manifests_without_the_frontend_nor_trusted_proxies() {
    let rendered = sorted(stage("4-pod-to-pod-dns"));
    let mut manifests = load_dir(&root().join("kubernetes")).expect("kubernetes/*.yaml");
    manifests.retain(|o| !o.name().starts_with("frontend-"));
    // Without the frontend, users-api has no proxy to trust.
    env_list(&mut manifests, "users-deployment").retain(|var| var["name"] != TRUSTED_PROXIES);
    let manifests = sorted(manifests);
    assert_eq!(rendered.len(), 12);
    assert_eq!(rendered, manifests);
}

#[test]
fn every_stage_is_wired() {
    let stages = stages();
    assert!(stages.len() >= 6, "stages: {stages:?}");
    let repo = repo();
    for (name, folder) in stages {
        let objects = render_stage(&folder).unwrap_or_else(|error| panic!("{name}: {error}"));
        let findings = check(&objects, &repo);
        if name == "1-users-alone" {
            // By design: users-api calls localhost:80, where auth arrives only in stage 2.
            assert!(
                findings.len() == 1
                    && findings[0].check == CHECK_AUTH_ADDRESS
                    && findings[0].message.contains("localhost"),
                "stage {name}: expected only the missing auth at localhost:80, got\n  {}",
                findings_text(&findings)
            );
        } else {
            assert!(
                findings.is_empty(),
                "stage {name} is miswired:\n  {}",
                findings_text(&findings)
            );
        }
    }
}

#[test]
fn the_scale_out_stage_runs_users_and_tasks_three_times_on_postgres() {
    let objects = stage(SCALE_OUT);
    let mut kinds = BTreeMap::new();
    for object in &objects {
        *kinds.entry(object.kind()).or_insert(0) += 1;
    }
    assert_eq!(
        kinds,
        BTreeMap::from([
            ("ConfigMap", 1),
            ("Deployment", 3),
            ("NetworkPolicy", 8),
            ("PodDisruptionBudget", 2),
            ("Service", 4),
            ("StatefulSet", 1),
        ])
    );
    for name in ["users-deployment", "tasks-deployment"] {
        let deployment = objects.iter().find(|o| o.name() == name).unwrap();
        let spec = &deployment.value["spec"];
        assert_eq!(spec["replicas"], 3, "{name}");
        let container = &spec["template"]["spec"]["containers"][0];
        let env: Vec<&str> = container["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|var| var["name"].as_str().unwrap())
            .collect();
        assert!(env.contains(&DATABASE_URL), "{name}: {env:?}");
        for unused in ["USERS_FOLDER", "TASKS_FOLDER", "STORE_BUDGET"] {
            assert!(!env.contains(&unused), "{name} still sets {unused}");
        }
        let volumes = spec["template"]["spec"]["volumes"].as_array();
        assert!(
            volumes.is_none_or(Vec::is_empty),
            "{name}: no data volume in this stage"
        );
    }
    let postgres = objects.iter().find(|o| o.kind() == "StatefulSet").unwrap();
    assert_eq!(
        postgres.value["spec"]["template"]["spec"]["containers"][0]["image"],
        POSTGRES.image
    );
    assert_eq!(
        postgres.value["spec"]["volumeClaimTemplates"][0]["spec"]["accessModes"],
        json!(["ReadWriteOnce"])
    );
    assert_eq!(
        postgres.value["spec"]["template"]["spec"]["securityContext"]["runAsUser"],
        999
    );
}

/// With `MANIFEST_CHECK_KUBECTL_RENDERED=<folder of <stage>.yaml from `kubectl kustomize`>`
/// (scripts/k8s-validate.sh sets it), every stage renders here exactly as there: the same
/// objects in the same order, every list in the same order.
#[test]
fn renders_like_kubectl() {
    let Ok(folder) = std::env::var("MANIFEST_CHECK_KUBECTL_RENDERED") else {
        eprintln!("skipped: MANIFEST_CHECK_KUBECTL_RENDERED is not set (k8s-validate.sh sets it)");
        return;
    };
    for (name, path) in stages() {
        let file = PathBuf::from(&folder).join(format!("{name}.yaml"));
        let text =
            fs::read_to_string(&file).unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        let kubectl: Vec<Value> = parse_yaml(&name, &text)
            .unwrap()
            .into_iter()
            .map(|o| o.value)
            .collect();
        let ours: Vec<Value> = render_stage(&path)
            .unwrap()
            .into_iter()
            .map(|o| o.value)
            .collect();
        let ids = |objects: &[Value]| -> Vec<String> {
            objects
                .iter()
                .map(|o| format!("{}/{}", o["kind"], o["metadata"]["name"]))
                .collect()
        };
        assert_eq!(
            ids(&ours),
            ids(&kubectl),
            "stage {name}: objects or their order"
        );
        for (a, b) in ours.iter().zip(&kubectl) {
            assert_eq!(a, b, "stage {name}");
        }
    }
}

#[test]
fn each_scale_out_check_catches_its_typo() {
    const URL: &str = "postgres://users_api:$(USERS_DB_PASSWORD)@postgres-service.default:5432/kub";
    fn url(o: &mut [Object], value: String) {
        env(o, "users-deployment", DATABASE_URL)["value"] = json!(value);
    }
    fn postgres(o: &mut [Object]) -> &mut Value {
        obj(o, "StatefulSet", "postgres-statefulset")
    }
    let cases: Vec<(&str, &str, &str, Break)> = vec![
        (
            "DATABASE_URL naming no Service",
            CHECK_DATABASE,
            "does not exist",
            |o, _| url(o, URL.replace("postgres-service", "postgres-svc")),
        ),
        (
            "DATABASE_URL with a port the Service lacks",
            CHECK_DATABASE,
            "is not a port of",
            |o, _| url(o, URL.replace("5432", "5433")),
        ),
        (
            "DATABASE_URL naming auth's Service",
            CHECK_DATABASE,
            "which is not postgres",
            |o, _| {
                url(
                    o,
                    URL.replace("postgres-service.default:5432", "auth-service.default:80"),
                )
            },
        ),
        (
            "DATABASE_URL with another user",
            CHECK_DATABASE,
            "connects as its own role \"users_api\"",
            |o, _| url(o, URL.replace("users_api:", "users:")),
        ),
        (
            "DATABASE_URL as the superuser",
            CHECK_DATABASE,
            "connects as the superuser POSTGRES_USER",
            |o, _| url(o, URL.replace("users_api:", "kub:")),
        ),
        (
            "tasks given users' role",
            CHECK_DATABASE,
            "tasks-api connects as its own role \"tasks_api\"",
            |o, _| {
                env(o, "tasks-deployment", DATABASE_URL)["value"] =
                    json!(URL.replace("$(USERS_DB_PASSWORD)", "$(TASKS_DB_PASSWORD)"));
            },
        ),
        (
            "the role script in the ConfigMap edited",
            CHECK_DATABASE,
            "is not a copy of scripts/postgres-service-roles.sh",
            |o, _| {
                let script = at(
                    obj(o, "ConfigMap", "postgres-init"),
                    "/data/10-service-roles.sh",
                );
                *script = json!(script.as_str().unwrap().replace("NOSUPERUSER", "SUPERUSER"));
            },
        ),
        (
            "the role script not executable",
            CHECK_DATABASE,
            "must be executable",
            |o, _| {
                *at(
                    postgres(o),
                    "/spec/template/spec/volumes/0/configMap/defaultMode",
                ) = json!(0o644);
            },
        ),
        (
            "postgres without the role script",
            CHECK_DATABASE,
            "mounts nothing at /docker-entrypoint-initdb.d",
            |o, _| {
                let mounts = at(postgres(o), "/spec/template/spec/containers/0/volumeMounts");
                mounts
                    .as_array_mut()
                    .unwrap()
                    .retain(|m| m["name"] != "postgres-init");
            },
        ),
        (
            "the role's password not given to postgres",
            CHECK_DATABASE,
            "USERS_DB_PASSWORD from no Secret",
            |o, _| {
                env_list(o, "postgres-statefulset").retain(|v| v["name"] != "USERS_DB_PASSWORD");
            },
        ),
        (
            "DATABASE_URL with another database",
            CHECK_DATABASE,
            "creates database",
            |o, _| url(o, URL.replace("5432/kub", "5432/tasks")),
        ),
        (
            "DATABASE_URL with a literal password",
            CHECK_DATABASE,
            "literal password",
            |o, _| url(o, URL.replace("$(USERS_DB_PASSWORD)", "secret")),
        ),
        (
            "DATABASE_URL without a scheme",
            CHECK_DATABASE,
            "expected postgres://",
            |o, _| url(o, URL.replace("postgres://", "")),
        ),
        (
            "the password variable defined after DATABASE_URL",
            CHECK_ENV,
            "defined after it",
            |o, _| {
                let list = env_list(o, "users-deployment");
                let password = list.iter().position(|v| v["name"] == "USERS_DB_PASSWORD");
                let entry = list.remove(password.unwrap());
                list.push(entry);
            },
        ),
        (
            "the password variable misspelt in DATABASE_URL",
            CHECK_ENV,
            "not defined in this container",
            |o, _| url(o, URL.replace("USERS_DB_PASSWORD", "USERS_DB_PASSWD")),
        ),
        (
            "the clients' password from another Secret key than the server's",
            CHECK_DATABASE,
            "the password comes from Secret",
            |o, _| {
                env(o, "tasks-deployment", "TASKS_DB_PASSWORD")["valueFrom"]["secretKeyRef"]["key"] =
                    json!("USERS_DB_PASSWORD");
            },
        ),
        (
            "PGDATA the mount point itself",
            CHECK_VOLUMES,
            "mount point itself",
            |o, _| {
                env(o, "postgres-statefulset", "PGDATA")["value"] =
                    json!("/var/lib/postgresql/data");
            },
        ),
        (
            "PGDATA on an emptyDir",
            CHECK_VOLUMES,
            "no PersistentVolumeClaim",
            |o, _| {
                env(o, "postgres-statefulset", "PGDATA")["value"] = json!("/tmp/pgdata");
            },
        ),
        (
            "the database password as a literal",
            CHECK_SECRETS,
            "is a literal",
            |o, _| {
                *env(o, "postgres-statefulset", "POSTGRES_PASSWORD") =
                    json!({"name": "POSTGRES_PASSWORD", "value": "postgres"});
            },
        ),
        (
            "the database Secret not documented",
            CHECK_SECRETS,
            "no README line",
            |_, repo| {
                repo.docs = repo
                    .docs
                    .replace("generic postgres-secret", "generic pg-secret");
            },
        ),
        (
            "a variable the postgres image does not read",
            CHECK_ENV,
            "never reads",
            |o, _| {
                env(o, "postgres-statefulset", "POSTGRES_DB")["name"] = json!("POSTGRES_DATABASE");
            },
        ),
        (
            "postgres without readiness",
            CHECK_PROBES,
            "no readinessProbe",
            |o, _| {
                at(postgres(o), "/spec/template/spec/containers/0")
                    .as_object_mut()
                    .unwrap()
                    .remove("readinessProbe");
            },
        ),
        (
            "postgres with two replicas",
            CHECK_REPLICAS,
            "separate database",
            |o, _| {
                *at(postgres(o), "/spec/replicas") = json!(2);
            },
        ),
        (
            "three users replicas without the database",
            CHECK_REPLICAS,
            "own part of the data",
            |o, _| {
                env_list(o, "users-deployment").retain(|v| v["name"] != DATABASE_URL);
            },
        ),
        (
            "a PodDisruptionBudget selecting nothing",
            CHECK_DISRUPTION_BUDGET,
            "exactly one workload",
            |o, _| {
                *at(
                    obj(o, "PodDisruptionBudget", "users-pod-disruption-budget"),
                    "/spec/selector/matchLabels/app.kubernetes.io~1name",
                ) = json!("user");
            },
        ),
        (
            "three tasks replicas without a PodDisruptionBudget",
            CHECK_DISRUPTION_BUDGET,
            "no PodDisruptionBudget",
            |o, _| o.retain(|x| x.name() != "tasks-pod-disruption-budget"),
        ),
        (
            "a PodDisruptionBudget that blocks every drain",
            CHECK_DISRUPTION_BUDGET,
            "allows no Pod",
            |o, _| {
                let spec = at(
                    obj(o, "PodDisruptionBudget", "tasks-pod-disruption-budget"),
                    "/spec",
                );
                spec.as_object_mut().unwrap().remove("maxUnavailable");
                spec["minAvailable"] = json!(3);
            },
        ),
        (
            "postgres NetworkPolicy forgetting tasks",
            CHECK_NETWORK_POLICY,
            "does not admit Deployment/tasks-deployment",
            |o, _| {
                *at(
                    obj(o, "NetworkPolicy", "postgres-network-policy"),
                    "/spec/ingress/0/from/0/podSelector/matchExpressions/0/values",
                ) = json!(["users"]);
            },
        ),
        (
            "postgres NetworkPolicy admitting auth",
            CHECK_NETWORK_POLICY,
            "neither users nor tasks",
            |o, _| {
                at(
                    obj(o, "NetworkPolicy", "postgres-network-policy"),
                    "/spec/ingress/0/from/0/podSelector/matchExpressions/0/values",
                )
                .as_array_mut()
                .unwrap()
                .push(json!("auth"));
            },
        ),
        (
            "postgres NetworkPolicy on the wrong port",
            CHECK_NETWORK_POLICY,
            "admits port 5433",
            |o, _| {
                *at(
                    obj(o, "NetworkPolicy", "postgres-network-policy"),
                    "/spec/ingress/0/ports/0/port",
                ) = json!(5433);
            },
        ),
        (
            // The default deny still isolates the database: now nobody gets in.
            "postgres without its NetworkPolicy",
            CHECK_NETWORK_POLICY,
            "does not admit Deployment/users-deployment",
            |o, _| o.retain(|x| x.name() != "postgres-network-policy"),
        ),
        (
            "users and tasks with no way out to the database",
            CHECK_NETWORK_POLICY,
            "no egress rule lets its Pods out to container postgres of StatefulSet/postgres-statefulset",
            |o, _| o.retain(|x| x.name() != "postgres-clients-network-policy"),
        ),
        (
            "the database let out to auth",
            CHECK_NETWORK_POLICY,
            "egress lets its Pods out to container auth of Deployment/auth-deployment",
            |o, _| {
                *at(
                    obj(o, "NetworkPolicy", "auth-clients-network-policy"),
                    "/spec/podSelector/matchExpressions/0/values",
                ) = json!(["users", "tasks", "postgres"]);
            },
        ),
        (
            "postgres running as root",
            CHECK_POD_SECURITY,
            "runAsUser is 0",
            |o, _| {
                *at(
                    postgres(o),
                    "/spec/template/spec/containers/0/securityContext/runAsUser",
                ) = json!(0);
            },
        ),
        (
            "the StatefulSet's serviceName misspelt",
            CHECK_SELECTORS,
            "serviceName",
            |o, _| {
                *at(postgres(o), "/spec/serviceName") = json!("postgres");
            },
        ),
        (
            "postgres-service's targetPort misspelt",
            CHECK_SERVICE_PORTS,
            "names no container port",
            |o, _| {
                *at(
                    obj(o, "Service", "postgres-service"),
                    "/spec/ports/0/targetPort",
                ) = json!("postgre");
            },
        ),
    ];
    let missed = missed(&stage(SCALE_OUT), &repo(), cases);
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}
