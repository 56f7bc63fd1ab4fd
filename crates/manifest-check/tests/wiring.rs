//! The wiring of kubernetes/*.yaml (what `kubectl apply -f kubernetes/` creates), checked
//! against the binaries: see `manifest_check::check`. The second test breaks a copy of the
//! manifests in one way per check (the typos these checks exist for) and asserts that the
//! right check reports it, so no check can silently stop checking.

mod support;

use manifest_check::*;
use serde_json::json;
use support::*;

fn load() -> (Vec<Object>, Repo) {
    let objects = load_dir(&root().join("kubernetes")).expect("read kubernetes/*.yaml");
    (objects, repo())
}

#[test]
fn kubernetes_manifests_are_wired() {
    let (objects, repo) = load();
    // Guard against checking nothing: the final stage has all of these.
    let count = |kind: &str| objects.iter().filter(|o| o.kind() == kind).count();
    assert_eq!(
        (
            count("Deployment"),
            count("Service"),
            count("NetworkPolicy")
        ),
        (4, 5, 7),
        "kubernetes/*.yaml should hold 4 Deployments, 5 Services, 7 NetworkPolicies \
         (auth, users, tasks, frontend, and the frontend's headless frontend-pods; the default \
         deny, DNS, and auth's callers' way out)"
    );
    for binary in &BINARIES {
        let runs = objects.iter().any(|o| {
            o.value["spec"]["template"]["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["image"] == binary.image)
        });
        assert!(runs, "no container runs {} ({})", binary.name, binary.image);
        assert!(
            repo.routes[binary.name].contains("/healthz"),
            "route scan found nothing for {}: {:?}",
            binary.name,
            repo.routes[binary.name]
        );
    }
    for proxy in &PROXIES {
        let runs = objects.iter().any(|o| {
            o.value["spec"]["template"]["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["image"] == proxy.image)
        });
        assert!(runs, "no container runs {} ({})", proxy.name, proxy.image);
    }
    let findings = check(&objects, &repo);
    assert!(
        findings.is_empty(),
        "kubernetes/*.yaml is miswired:\n  {}",
        findings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}

#[test]
fn each_check_catches_its_typo() {
    let cases: Vec<(&str, &str, &str, Break)> = vec![
        (
            "Service selector typo",
            CHECK_SELECTORS,
            "exactly one Deployment",
            |o, _| {
                *at(
                    obj(o, "Service", "users-service"),
                    "/spec/selector/app.kubernetes.io~1name",
                ) = json!("user");
            },
        ),
        (
            "Service selector matching two Deployments",
            CHECK_SELECTORS,
            "exactly one Deployment",
            |o, _| {
                let selector = at(obj(o, "Service", "tasks-service"), "/spec/selector");
                selector
                    .as_object_mut()
                    .unwrap()
                    .remove("app.kubernetes.io/name");
            },
        ),
        (
            "Deployment selector not matching its template",
            CHECK_SELECTORS,
            "spec.selector",
            |o, _| {
                *at(
                    deployment(o, "auth-deployment"),
                    "/spec/selector/matchLabels/app.kubernetes.io~1name",
                ) = json!("auht");
            },
        ),
        (
            "named targetPort typo",
            CHECK_SERVICE_PORTS,
            "names no container port",
            |o, _| {
                *at(
                    obj(o, "Service", "tasks-service"),
                    "/spec/ports/0/targetPort",
                ) = json!("htp");
            },
        ),
        (
            "numeric targetPort of another service",
            CHECK_SERVICE_PORTS,
            "no container",
            |o, _| {
                *at(
                    obj(o, "Service", "tasks-service"),
                    "/spec/ports/0/targetPort",
                ) = json!(8080);
            },
        ),
        (
            "PORT changed without containerPort",
            CHECK_SERVICE_PORTS,
            "listens on 9191",
            |o, _| {
                env(o, "users-deployment", "PORT")["value"] = json!("9191");
            },
        ),
        (
            "PORT changed without containerPort (the container's own ports)",
            CHECK_CONTAINER_PORTS,
            "listens on 9191",
            |o, _| {
                env(o, "users-deployment", "PORT")["value"] = json!("9191");
            },
        ),
        (
            "PORT removed from auth, containerPort 8080",
            CHECK_CONTAINER_PORTS,
            "listens on 80",
            |o, _| {
                *at(
                    deployment(o, "auth-deployment"),
                    "/spec/template/spec/containers/0/ports/0/containerPort",
                ) = json!(8080);
            },
        ),
        ("image typo", CHECK_IMAGES, "none of", |o, _| {
            *at(
                deployment(o, "tasks-deployment"),
                "/spec/template/spec/containers/0/image",
            ) = json!("kub-network-task:latest");
        }),
        (
            "env var its binary does not read",
            CHECK_ENV,
            "USER_FOLDER",
            |o, _| {
                env(o, "users-deployment", "USERS_FOLDER")["name"] = json!("USER_FOLDER");
            },
        ),
        (
            "auth's var on the wrong container",
            CHECK_ENV,
            "JWT_SECRET",
            |o, _| {
                env_list(o, "tasks-deployment").push(json!({"name": "JWT_SECRET", "value": "x"}));
            },
        ),
        (
            "AUTH_ADDRESS names no Service",
            CHECK_AUTH_ADDRESS,
            "does not exist",
            |o, _| {
                env(o, "users-deployment", "AUTH_ADDRESS")["value"] = json!("auth-svc.default");
            },
        ),
        (
            "AUTH_ADDRESS in another namespace",
            CHECK_AUTH_ADDRESS,
            "does not exist",
            |o, _| {
                env(o, "users-deployment", "AUTH_ADDRESS")["value"] =
                    json!("auth-service.kube-system");
            },
        ),
        (
            "AUTH_ADDRESS with a port the Service lacks",
            CHECK_AUTH_ADDRESS,
            "is not a port of",
            |o, _| {
                env(o, "users-deployment", "AUTH_ADDRESS")["value"] =
                    json!("auth-service.default:8080");
            },
        ),
        (
            "AUTH_ADDRESS naming the wrong Service",
            CHECK_AUTH_ADDRESS,
            "not auth-api",
            |o, _| {
                env(o, "users-deployment", "AUTH_ADDRESS")["value"] =
                    json!("tasks-service.default:8000");
            },
        ),
        (
            "AUTH_ADDRESS localhost with no auth in the Pod",
            CHECK_AUTH_ADDRESS,
            "localhost",
            |o, _| {
                env(o, "users-deployment", "AUTH_ADDRESS")["value"] = json!("localhost:80");
            },
        ),
        (
            "tasks relies on auth-service, which is renamed",
            CHECK_AUTH_ADDRESS,
            "AUTH_SERVICE_SERVICE_HOST",
            |o, _| {
                *at(obj(o, "Service", "auth-service"), "/metadata/name") = json!("auth");
            },
        ),
        (
            "auth-service applied after tasks-deployment",
            CHECK_AUTH_ADDRESS,
            "applied after",
            |o, _| {
                let at = o.iter().position(|x| x.name() == "auth-service").unwrap();
                let service = o.remove(at);
                o.push(service);
            },
        ),
        (
            "secretKeyRef name typo",
            CHECK_SECRETS,
            "auth-secrets",
            |o, _| {
                env(o, "auth-deployment", "JWT_SECRET")["valueFrom"]["secretKeyRef"]["name"] =
                    json!("auth-secrets");
            },
        ),
        (
            "secret creation dropped from the READMEs",
            CHECK_SECRETS,
            "no README line",
            |_, repo| {
                repo.docs = repo
                    .docs
                    .replace("kubectl create secret generic", "kubectl …");
            },
        ),
        (
            "TASKS_FOLDER not where the volume is",
            CHECK_VOLUMES,
            "no volumeMount",
            |o, _| {
                env(o, "tasks-deployment", "TASKS_FOLDER")["value"] = json!("/app/task");
            },
        ),
        ("mountPath typo", CHECK_VOLUMES, "no volumeMount", |o, _| {
            *at(
                deployment(o, "users-deployment"),
                "/spec/template/spec/containers/0/volumeMounts/0/mountPath",
            ) = json!("/app/user");
        }),
        ("USERS_FOLDER unset", CHECK_VOLUMES, "unset", |o, _| {
            env_list(o, "users-deployment").retain(|entry| entry["name"] != "USERS_FOLDER");
        }),
        (
            "STORE_BUDGET dropped",
            CHECK_VOLUMES,
            "STORE_BUDGET is unset",
            |o, _| {
                env_list(o, "tasks-deployment").retain(|entry| entry["name"] != "STORE_BUDGET");
            },
        ),
        (
            "STORE_BUDGET as large as the volume",
            CHECK_VOLUMES,
            "headroom",
            |o, _| {
                env(o, "users-deployment", "STORE_BUDGET")["value"] = json!("256Mi");
            },
        ),
        (
            "emptyDir without sizeLimit",
            CHECK_VOLUMES,
            "no sizeLimit",
            |o, _| {
                at(
                    deployment(o, "users-deployment"),
                    "/spec/template/spec/volumes/0/emptyDir",
                )
                .as_object_mut()
                .unwrap()
                .remove("sizeLimit");
            },
        ),
        (
            "volume name typo",
            CHECK_VOLUMES,
            "does not define",
            |o, _| {
                *at(
                    deployment(o, "tasks-deployment"),
                    "/spec/template/spec/volumes/0/name",
                ) = json!("task-volume");
            },
        ),
        ("probe path typo", CHECK_PROBES, "/healthy", |o, _| {
            *at(
                deployment(o, "auth-deployment"),
                "/spec/template/spec/containers/0/livenessProbe/httpGet/path",
            ) = json!("/healthy");
        }),
        (
            "probe route missing from the code",
            CHECK_PROBES,
            "has no .route",
            |_, repo| {
                repo.routes.get_mut("users-api").unwrap().remove("/readyz");
            },
        ),
        ("probe port typo", CHECK_PROBES, "port", |o, _| {
            *at(
                deployment(o, "tasks-deployment"),
                "/spec/template/spec/containers/0/readinessProbe/httpGet/port",
            ) = json!(8080);
        }),
        (
            // The default deny still isolates the auth Pods: now nobody gets in.
            "auth NetworkPolicy selecting other Pods",
            CHECK_NETWORK_POLICY,
            "does not admit Deployment/users-deployment",
            |o, _| {
                *at(
                    obj(o, "NetworkPolicy", "auth-network-policy"),
                    "/spec/podSelector/matchLabels/app.kubernetes.io~1name",
                ) = json!("users");
            },
        ),
        (
            "auth NetworkPolicy admitting its own Pods too",
            CHECK_NETWORK_POLICY,
            "neither users nor tasks",
            |o, _| {
                at(
                    obj(o, "NetworkPolicy", "auth-network-policy"),
                    "/spec/ingress/0/from/0/podSelector/matchExpressions/0/values",
                )
                .as_array_mut()
                .unwrap()
                .push(json!("auth"));
            },
        ),
        (
            "auth NetworkPolicy forgetting tasks",
            CHECK_NETWORK_POLICY,
            "does not admit Deployment/tasks-deployment",
            |o, _| {
                *at(
                    obj(o, "NetworkPolicy", "auth-network-policy"),
                    "/spec/ingress/0/from/0/podSelector/matchExpressions/0/values",
                ) = json!(["users"]);
            },
        ),
        (
            "auth NetworkPolicy admitting everyone",
            CHECK_NETWORK_POLICY,
            "without `from`",
            |o, _| {
                at(
                    obj(o, "NetworkPolicy", "auth-network-policy"),
                    "/spec/ingress/0",
                )
                .as_object_mut()
                .unwrap()
                .remove("from");
            },
        ),
        (
            "auth NetworkPolicy on the wrong port",
            CHECK_NETWORK_POLICY,
            "admits port 8080",
            |o, _| {
                *at(
                    obj(o, "NetworkPolicy", "auth-network-policy"),
                    "/spec/ingress/0/ports/0/port",
                ) = json!(8080);
            },
        ),
        (
            "frontend's USERS_ADDRESS names no Service",
            CHECK_UPSTREAMS,
            "does not exist",
            |o, _| {
                env(o, "frontend-deployment", "USERS_ADDRESS")["value"] =
                    json!("user-service.default:8080");
            },
        ),
        (
            "frontend's TASKS_ADDRESS with a port the Service lacks",
            CHECK_UPSTREAMS,
            "is not a port of",
            |o, _| {
                env(o, "frontend-deployment", "TASKS_ADDRESS")["value"] =
                    json!("tasks-service.default:8080");
            },
        ),
        (
            "frontend's USERS_ADDRESS naming the tasks Service",
            CHECK_UPSTREAMS,
            "which is not users-api",
            |o, _| {
                env(o, "frontend-deployment", "USERS_ADDRESS")["value"] =
                    json!("tasks-service.default:8000");
            },
        ),
        (
            "frontend without TASKS_ADDRESS: the image default names a Service renamed away",
            CHECK_UPSTREAMS,
            "does not exist",
            |o, _| {
                env_list(o, "frontend-deployment").retain(|entry| entry["name"] != "TASKS_ADDRESS");
                *at(obj(o, "Service", "tasks-service"), "/metadata/name") = json!("tasks");
            },
        ),
        (
            "tasks NetworkPolicy no longer admitting the frontend",
            CHECK_UPSTREAMS,
            "none admits Deployment/frontend-deployment",
            |o, _| {
                *at(
                    obj(o, "NetworkPolicy", "tasks-network-policy"),
                    "/spec/ingress/0",
                ) = json!({
                    "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "users"}}}],
                    "ports": [{"protocol": "TCP", "port": 8000}],
                });
            },
        ),
        (
            "frontend env var its image does not read",
            CHECK_ENV,
            "USER_ADDRESS",
            |o, _| {
                env(o, "frontend-deployment", "USERS_ADDRESS")["name"] = json!("USER_ADDRESS");
            },
        ),
        (
            "frontend probe path typo",
            CHECK_PROBES,
            "/index",
            |o, _| {
                *at(
                    deployment(o, "frontend-deployment"),
                    "/spec/template/spec/containers/0/readinessProbe/httpGet/path",
                ) = json!("/index");
            },
        ),
        (
            "frontend containerPort 80",
            CHECK_CONTAINER_PORTS,
            "listens on 8080",
            |o, _| {
                *at(
                    deployment(o, "frontend-deployment"),
                    "/spec/template/spec/containers/0/ports/0/containerPort",
                ) = json!(80);
            },
        ),
        (
            "no default deny",
            CHECK_NETWORK_POLICY,
            "no default deny",
            |o, _| o.retain(|x| x.name() != "default-deny-network-policy"),
        ),
        (
            "a default deny for ingress only",
            CHECK_NETWORK_POLICY,
            "no default deny",
            |o, _| {
                *at(
                    obj(o, "NetworkPolicy", "default-deny-network-policy"),
                    "/spec/policyTypes",
                ) = json!(["Ingress"]);
            },
        ),
        (
            "users and tasks with no way out to auth",
            CHECK_NETWORK_POLICY,
            "no egress rule lets its Pods out to container auth of Deployment/auth-deployment",
            |o, _| o.retain(|x| x.name() != "auth-clients-network-policy"),
        ),
        (
            "the callers' way out to auth on the wrong port",
            CHECK_NETWORK_POLICY,
            "on TCP 80, which it calls",
            |o, _| {
                *at(
                    obj(o, "NetworkPolicy", "auth-clients-network-policy"),
                    "/spec/egress/0/ports/0/port",
                ) = json!(8080);
            },
        ),
        (
            "the frontend with no way out to tasks",
            CHECK_NETWORK_POLICY,
            "out to container tasks of Deployment/tasks-deployment",
            |o, _| {
                at(
                    obj(o, "NetworkPolicy", "frontend-network-policy"),
                    "/spec/egress",
                )
                .as_array_mut()
                .unwrap()
                .truncate(1);
            },
        ),
        (
            "no DNS",
            CHECK_NETWORK_POLICY,
            "ask the cluster DNS",
            |o, _| o.retain(|x| x.name() != "dns-network-policy"),
        ),
        (
            "DNS over UDP only",
            CHECK_NETWORK_POLICY,
            "on TCP 53",
            |o, _| {
                at(
                    obj(o, "NetworkPolicy", "dns-network-policy"),
                    "/spec/egress/0/ports",
                )
                .as_array_mut()
                .unwrap()
                .truncate(1);
            },
        ),
        (
            "DNS asked of kube-system's every Pod but the DNS",
            CHECK_NETWORK_POLICY,
            "ask the cluster DNS",
            |o, _| {
                *at(
                    obj(o, "NetworkPolicy", "dns-network-policy"),
                    "/spec/egress/0/to/0/podSelector/matchLabels/k8s-app",
                ) = json!("coredns");
            },
        ),
        (
            "an egress rule to every address",
            CHECK_NETWORK_POLICY,
            "to any address",
            |o, _| {
                at(
                    obj(o, "NetworkPolicy", "frontend-network-policy"),
                    "/spec/egress",
                )
                .as_array_mut()
                .unwrap()
                .push(json!({"ports": [{"protocol": "TCP", "port": 443}]}));
            },
        ),
        (
            "an egress rule to an address range",
            CHECK_NETWORK_POLICY,
            "with an ipBlock",
            |o, _| {
                at(
                    obj(o, "NetworkPolicy", "auth-clients-network-policy"),
                    "/spec/egress/0/to",
                )
                .as_array_mut()
                .unwrap()
                .push(json!({"ipBlock": {"cidr": "0.0.0.0/0"}}));
            },
        ),
        (
            "the frontend let out to auth, which it never calls",
            CHECK_NETWORK_POLICY,
            "on TCP 80, which they never call",
            |o, _| {
                at(
                    obj(o, "NetworkPolicy", "frontend-network-policy"),
                    "/spec/egress",
                )
                .as_array_mut()
                .unwrap()
                .push(json!({
                    "to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "auth"}}}],
                    "ports": [{"protocol": "TCP", "port": 80}],
                }));
            },
        ),
        (
            "users let out to tasks' /metrics",
            CHECK_NETWORK_POLICY,
            "on TCP 9090, which they never call",
            |o, _| {
                *at(
                    obj(o, "NetworkPolicy", "auth-clients-network-policy"),
                    "/spec/egress/0/to/0/podSelector/matchLabels/app.kubernetes.io~1name",
                ) = json!("tasks");
                *at(
                    obj(o, "NetworkPolicy", "auth-clients-network-policy"),
                    "/spec/egress/0/ports/0/port",
                ) = json!("metrics");
            },
        ),
        (
            "a container that may escalate its privileges",
            CHECK_POD_SECURITY,
            "allowPrivilegeEscalation",
            |o, _| {
                *at(
                    deployment(o, "users-deployment"),
                    "/spec/template/spec/containers/0/securityContext/allowPrivilegeEscalation",
                ) = json!(true);
            },
        ),
        (
            "a container keeping its capabilities",
            CHECK_POD_SECURITY,
            "does not include ALL",
            |o, _| {
                at(
                    deployment(o, "tasks-deployment"),
                    "/spec/template/spec/containers/0/securityContext",
                )
                .as_object_mut()
                .unwrap()
                .remove("capabilities");
            },
        ),
        (
            "a container adding NET_ADMIN",
            CHECK_POD_SECURITY,
            "adds capability NET_ADMIN",
            |o, _| {
                at(
                    deployment(o, "auth-deployment"),
                    "/spec/template/spec/containers/0/securityContext/capabilities",
                )["add"] = json!(["NET_ADMIN"]);
            },
        ),
        (
            "a Pod without seccomp",
            CHECK_POD_SECURITY,
            "no seccompProfile",
            |o, _| {
                for pointer in [
                    "/spec/template/spec/securityContext",
                    "/spec/template/spec/containers/0/securityContext",
                ] {
                    at(deployment(o, "frontend-deployment"), pointer)
                        .as_object_mut()
                        .unwrap()
                        .remove("seccompProfile");
                }
            },
        ),
        (
            "a Pod that may run as root",
            CHECK_POD_SECURITY,
            "runAsNonRoot is not true",
            |o, _| {
                for pointer in [
                    "/spec/template/spec/securityContext",
                    "/spec/template/spec/containers/0/securityContext",
                ] {
                    at(deployment(o, "auth-deployment"), pointer)
                        .as_object_mut()
                        .unwrap()
                        .remove("runAsNonRoot");
                }
            },
        ),
        (
            "a hostPath volume",
            CHECK_POD_SECURITY,
            "volume tasks-volume is [\"hostPath\"]",
            |o, _| {
                *at(
                    deployment(o, "tasks-deployment"),
                    "/spec/template/spec/volumes/0",
                ) = json!({"name": "tasks-volume", "hostPath": {"path": "/var/tmp/tasks"}});
            },
        ),
        (
            "the host's network",
            CHECK_POD_SECURITY,
            "hostNetwork: true",
            |o, _| {
                at(deployment(o, "users-deployment"), "/spec/template/spec")["hostNetwork"] =
                    json!(true);
            },
        ),
        (
            "an unsafe sysctl",
            CHECK_POD_SECURITY,
            "sysctl net.core.somaxconn",
            |o, _| {
                at(
                    deployment(o, "auth-deployment"),
                    "/spec/template/spec/securityContext/sysctls",
                )
                .as_array_mut()
                .unwrap()
                .push(json!({"name": "net.core.somaxconn", "value": "1024"}));
            },
        ),
        ("frontend image typo", CHECK_IMAGES, "none of", |o, _| {
            *at(
                deployment(o, "frontend-deployment"),
                "/spec/template/spec/containers/0/image",
            ) = json!("kub-network-front:latest");
        }),
    ];

    let (objects, repo) = load();
    let missed = missed(&objects, &repo, cases);
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}

/// The frontend as manifest-check knows it ([`FRONTEND`]) is the frontend the image builds: the
/// port nginx listens on, the variables the entrypoint hook reads and their defaults.
#[test]
fn the_frontend_is_what_its_image_builds() {
    let read = |path: &str| {
        std::fs::read_to_string(root().join(path)).unwrap_or_else(|error| panic!("{path}: {error}"))
    };
    let template = read("frontend/nginx/default.conf.template");
    let listens: Vec<&str> = template
        .lines()
        .filter_map(|line| line.trim().strip_prefix("listen "))
        .collect();
    assert_eq!(
        listens.len(),
        1,
        "one listen directive in default.conf.template: {listens:?}"
    );
    assert!(
        listens[0].starts_with(&format!("{};", FRONTEND.port)),
        "default.conf.template listens on {:?}, FRONTEND.port is {}",
        listens[0],
        FRONTEND.port
    );
    let dockerfile = read("Dockerfile.frontend");
    let hook = read("frontend/nginx/kub-frontend.envsh");
    for upstream in FRONTEND.upstreams {
        let env = format!("{}={}", upstream.var, upstream.default);
        assert!(
            dockerfile.contains(&env),
            "Dockerfile.frontend has no ENV {env} (FRONTEND's default)"
        );
        assert!(
            hook.contains(&format!("kub_upstream {} ", upstream.var)),
            "kub-frontend.envsh does not read {}",
            upstream.var
        );
    }
    assert!(
        dockerfile.contains(&format!("EXPOSE {}", FRONTEND.port)),
        "Dockerfile.frontend does not EXPOSE {}",
        FRONTEND.port
    );
}
