//! Where `/metrics` is reachable from (`metrics`), broken one way per check as in `wiring.rs`:
//! its own port, never behind a public Service, admitted only from the scrapers' namespaces.

mod support;

use manifest_check::*;
use serde_json::json;
use support::*;

#[test]
fn each_metrics_check_catches_its_breakage() {
    let cases: Vec<(&str, &str, &str, Break)> = vec![
        (
            "the scrape annotation on the public port",
            CHECK_METRICS,
            "prometheus.io/port is \"8080\"",
            |o, _| {
                *at(
                    deployment(o, "users-deployment"),
                    "/spec/template/metadata/annotations/prometheus.io~1port",
                ) = json!("8080");
            },
        ),
        (
            "the metrics port not declared",
            CHECK_METRICS,
            "declares no containerPort",
            |o, _| {
                container(o, "auth-deployment")["ports"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|p| p["name"] != "metrics");
            },
        ),
        (
            "METRICS_PORT changed without its containerPort",
            CHECK_CONTAINER_PORTS,
            "(and /metrics on 9100)",
            |o, _| {
                env(o, "users-deployment", METRICS_PORT.0)["value"] = json!("9100");
            },
        ),
        (
            "METRICS_PORT the service's own port",
            CHECK_METRICS,
            "METRICS_PORT and PORT are both 8000",
            |o, _| {
                env(o, "tasks-deployment", METRICS_PORT.0)["value"] = json!("8000");
            },
        ),
        (
            "users-service publishing /metrics",
            CHECK_METRICS,
            "reachable from outside the cluster",
            |o, _| {
                at(obj(o, "Service", "users-service"), "/spec/ports")
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"name": "metrics", "port": 9090, "targetPort": "metrics"}));
            },
        ),
        (
            "a NodePort Service on auth's /metrics",
            CHECK_METRICS,
            "reachable from outside the cluster (\"NodePort\")",
            |o, _| {
                let mut service = o
                    .iter()
                    .find(|x| x.name() == "auth-service")
                    .unwrap()
                    .clone();
                service.value["metadata"]["name"] = json!("auth-metrics");
                service.value["spec"]["type"] = json!("NodePort");
                service.value["spec"]["ports"] =
                    json!([{"name": "metrics", "port": 9090, "targetPort": "metrics"}]);
                o.push(service);
            },
        ),
        (
            "users' NetworkPolicy opening 9090 to anyone",
            CHECK_METRICS,
            "admits port 9090, /metrics of container users of Deployment/users-deployment (users-deployment.yaml), from anywhere",
            |o, _| {
                rules(o, "users-network-policy")[0]["ports"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"protocol": "TCP", "port": 9090}));
            },
        ),
        (
            "a rule without ports, which opens /metrics too",
            CHECK_METRICS,
            "from anywhere",
            |o, _| {
                rules(o, "tasks-network-policy")[0]
                    .as_object_mut()
                    .unwrap()
                    .remove("ports");
            },
        ),
        (
            "auth's /metrics admitted from every namespace",
            CHECK_METRICS,
            "only from namespaces labelled kub-network/metrics-scraper=true",
            |o, _| {
                rules(o, "auth-network-policy")[1]["from"] = json!([{"namespaceSelector": {}}]);
            },
        ),
        (
            "auth's /metrics admitted to the users and tasks Pods",
            CHECK_METRICS,
            "from {\"podSelector\"",
            |o, _| {
                rules(o, "auth-network-policy")[0]["ports"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"protocol": "TCP", "port": "metrics"}));
            },
        ),
        (
            "tasks' NetworkPolicy without the scrapers' rule",
            CHECK_METRICS,
            "Prometheus cannot scrape it",
            |o, _| {
                rules(o, "tasks-network-policy").truncate(1);
            },
        ),
    ];
    let missed = missed(&final_manifests(), &repo(), cases);
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}

/// Stage 2: two processes in one Pod, so auth's /metrics cannot be on 9090 too.
#[test]
fn two_containers_of_a_pod_on_one_port_are_caught() {
    let stage = render_stage(&root().join("kubernetes/stages/2-pod-internal")).unwrap();
    let cases: Vec<(&str, &str, &str, Break)> = vec![(
        "stage 2's auth without its own METRICS_PORT",
        CHECK_CONTAINER_PORTS,
        "both listen on 9090",
        |o, _| {
            let containers = at(
                deployment(o, "users-deployment"),
                "/spec/template/spec/containers",
            );
            let auth = containers
                .as_array_mut()
                .unwrap()
                .iter_mut()
                .find(|c| c["name"] == "auth")
                .unwrap();
            auth["env"]
                .as_array_mut()
                .unwrap()
                .retain(|v| v["name"] != METRICS_PORT.0);
        },
    )];
    let missed = missed(&stage, &repo(), cases);
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}

/// The chart's ServiceMonitor, as `metrics.serviceMonitor.enabled` renders it, on top of the
/// final manifests: wired as it is, and broken in the ways that silently scrape nothing.
#[test]
fn a_service_monitor_names_the_metrics_ports() {
    let mut objects = final_manifests();
    for app in ["auth", "users", "tasks"] {
        objects.extend(
            parse_yaml(
                "metrics-services.yaml",
                &format!(
                    "{{apiVersion: v1, kind: Service, metadata: {{name: {app}-metrics, namespace: default, \
                     labels: {{app.kubernetes.io/part-of: kub-network, kub-network/metrics: 'true'}}}}, \
                     spec: {{clusterIP: None, selector: {{app.kubernetes.io/name: {app}, \
                     app.kubernetes.io/part-of: kub-network}}, ports: [{{name: metrics, port: 9090, \
                     targetPort: metrics}}]}}}}"
                ),
            )
            .unwrap(),
        );
    }
    objects.extend(
        parse_yaml(
            "service-monitor.yaml",
            "{apiVersion: monitoring.coreos.com/v1, kind: ServiceMonitor, metadata: {name: kub-network, \
             namespace: default}, spec: {namespaceSelector: {matchNames: [default]}, selector: \
             {matchLabels: {kub-network/metrics: 'true'}}, endpoints: [{port: metrics, path: /metrics}]}}",
        )
        .unwrap(),
    );
    let repo = repo();
    let findings = check(&objects, &repo);
    assert!(findings.is_empty(), "{findings:#?}");
    let cases: Vec<(&str, &str, &str, Break)> = vec![
        (
            "the ServiceMonitor selecting no Service",
            CHECK_METRICS,
            "matches no Service",
            |o, _| {
                *at(
                    obj(o, "ServiceMonitor", "kub-network"),
                    "/spec/selector/matchLabels/kub-network~1metrics",
                ) = json!("yes");
            },
        ),
        (
            "the ServiceMonitor on a port name the Services lack",
            CHECK_METRICS,
            "endpoint port \"http\"",
            |o, _| {
                *at(
                    obj(o, "ServiceMonitor", "kub-network"),
                    "/spec/endpoints/0/port",
                ) = json!("http");
            },
        ),
        (
            "a metrics Service whose port is the public one",
            CHECK_METRICS,
            "endpoint port \"metrics\" of Service/users-metrics",
            |o, _| {
                *at(
                    obj(o, "Service", "users-metrics"),
                    "/spec/ports/0/targetPort",
                ) = json!("http");
                *at(obj(o, "Service", "users-metrics"), "/spec/ports/0/port") = json!(8080);
            },
        ),
    ];
    let missed = missed(&objects, &repo, cases);
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}
