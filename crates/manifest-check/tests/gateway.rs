//! Stage 7's edge (kubernetes/stages/7-gateway), broken one way per check as in `wiring.rs`:
//! the HTTPRoutes' Gateway and backends, the implementation's entry points, the NetworkPolicies
//! that let it out to the backends (and to the API server, by port only), and users-api trusting
//! its Pods only while a route sends there; the autoscalers' targets. (That the stage itself is wired: stages.rs.)

mod support;

use manifest_check::*;
use serde_json::json;
use support::*;

fn stage() -> Vec<Object> {
    render_stage(&root().join("kubernetes/stages/7-gateway")).expect("render stage 7")
}

#[test]
fn each_gateway_check_catches_its_breakage() {
    fn egress(o: &mut [Object]) -> &mut Vec<serde_json::Value> {
        at(
            obj(o, "NetworkPolicy", "gateway-network-policy"),
            "/spec/egress",
        )
        .as_array_mut()
        .unwrap()
    }
    let cases: Vec<(&str, &str, &str, Break)> = vec![
        (
            "the Gateway's egress to users removed",
            CHECK_NETWORK_POLICY,
            "no egress rule lets its Pods out to container users",
            |o, _| {
                egress(o).remove(0);
            },
        ),
        (
            "users admitting the frontend but not the Gateway",
            CHECK_ROUTES,
            "none admits Deployment/gateway-deployment",
            |o, _| {
                at(
                    obj(o, "NetworkPolicy", "users-network-policy"),
                    "/spec/ingress/0/from",
                )
                .as_array_mut()
                .unwrap()
                .remove(0);
            },
        ),
        (
            "the API server rule opened to another port",
            CHECK_NETWORK_POLICY,
            "without `to`",
            |o, _| {
                *at(
                    obj(o, "NetworkPolicy", "gateway-network-policy"),
                    "/spec/egress/3/ports/0/port",
                ) = json!(9999)
            },
        ),
        (
            "a listener on no entry point",
            CHECK_ROUTES,
            "none of the entry points",
            |o, _| {
                *at(
                    obj(o, "Gateway", "kub-network-gateway"),
                    "/spec/listeners/1/port",
                ) = json!(443)
            },
        ),
        (
            "a backendRef naming no Service",
            CHECK_ROUTES,
            "does not exist",
            |o, _| {
                *at(
                    obj(o, "HTTPRoute", "tasks-route"),
                    "/spec/rules/0/backendRefs/0/name",
                ) = json!("task-service");
            },
        ),
        (
            "a backendRef on a port the Service lacks",
            CHECK_ROUTES,
            "is not a port of",
            |o, _| {
                *at(
                    obj(o, "HTTPRoute", "users-route"),
                    "/spec/rules/0/backendRefs/0/port",
                ) = json!(80);
            },
        ),
        (
            "a route attached to a Gateway that does not exist",
            CHECK_ROUTES,
            "parentRef Gateway",
            |o, _| {
                *at(
                    obj(o, "HTTPRoute", "frontend-route"),
                    "/spec/parentRefs/0/name",
                ) = json!("gateway")
            },
        ),
        (
            "a route attached to no listener of its Gateway",
            CHECK_ROUTES,
            "is no listener of",
            |o, _| {
                *at(
                    obj(o, "HTTPRoute", "users-route"),
                    "/spec/parentRefs/0/sectionName",
                ) = json!("tls")
            },
        ),
        (
            "a GatewayClass nothing here serves",
            CHECK_ROUTES,
            "is served by no container here",
            |o, _| {
                *at(obj(o, "GatewayClass", "traefik"), "/spec/controllerName") =
                    json!("example.com/gateway")
            },
        ),
        (
            "users trusting the Gateway's Pods with no route to users",
            CHECK_TRUSTED_PROXIES,
            "which is no proxy in front of this service",
            |o, _| o.retain(|object| object.name() != "users-route"),
        ),
        (
            "a container port no entry point listens on",
            CHECK_CONTAINER_PORTS,
            "listens on its entry points",
            |o, _| {
                *at(container(o, "gateway-deployment"), "/ports/1/containerPort") = json!(9443);
            },
        ),
        (
            "a probe on no entry point",
            CHECK_PROBES,
            "none of traefik's entry points",
            |o, _| {
                *at(
                    container(o, "gateway-deployment"),
                    "/readinessProbe/httpGet/port",
                ) = json!(9000);
            },
        ),
        (
            "an autoscaler of a Deployment that does not exist",
            CHECK_AUTOSCALING,
            "is no workload of these manifests",
            |o, _| {
                *at(
                    obj(o, "HorizontalPodAutoscaler", "tasks-hpa"),
                    "/spec/scaleTargetRef/name",
                ) = json!("task-deployment");
            },
        ),
        (
            "replicas set on an autoscaled Deployment",
            CHECK_AUTOSCALING,
            "every `kubectl apply` would reset them",
            |o, _| deployment(o, "users-deployment")["spec"]["replicas"] = json!(3),
        ),
        (
            "a CPU target without a CPU request",
            CHECK_AUTOSCALING,
            "requests no cpu",
            |o, _| {
                at(container(o, "tasks-deployment"), "/resources/requests")
                    .as_object_mut()
                    .unwrap()
                    .remove("cpu");
            },
        ),
        (
            "an autoscaled Deployment keeping its data on its own volume",
            CHECK_REPLICAS,
            "each replica would keep its own part of the data",
            |o, _| env_list(o, "tasks-deployment").retain(|v| v["name"] != DATABASE_URL),
        ),
    ];
    let missed = missed(&stage(), &repo(), cases);
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}
