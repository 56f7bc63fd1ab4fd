//! Offline wiring checks of kubernetes/*.yaml and of every stage under kubernetes/stages/
//! against the three binaries, the frontend's nginx and stage 7's Gateway: the typos that
//! `kubernetes-validate` and `checkov` cannot see (ports, variables, routes, selectors, where the
//! frontend proxies to, where the HTTPRoutes send, the database URL).
//!
//! They need to know what the binaries listen on, which variables they read and which routes
//! they serve.
//!
//! [`load_dir`] reads `kubernetes/*.yaml` as `kubectl apply -f kubernetes/` does (files in name
//! order, every document of each), [`render_stage`] renders a stage's kustomization as
//! `kubectl kustomize` does, [`Repo::load`] gathers what the checks compare against (the
//! probe paths each binary's router serves, the docs), [`BINARIES`] says what each binary reads
//! (from its clap settings), [`PROXIES`] what the frontend's nginx reads and [`DATABASES`] what
//! the database images need, and [`check`] returns one [`Finding`] per broken link, each naming
//! the check, the object and what to fix: wiring, and the security the wiring carries (who is
//! given which key, which ports are public, whose client addresses are believed, which
//! connections the NetworkPolicies allow in and out), and that every Pod is admissible under the
//! Pod Security `restricted` profile.
//! The tests live in `tests/`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

mod binaries;
mod checks_auth;
mod checks_autoscaling;
mod checks_clients;
mod checks_database;
mod checks_egress;
mod checks_frontend;
mod checks_gateway;
mod checks_keys;
mod checks_metrics;
mod checks_pod_security;
mod checks_pods;
mod checks_roles;
mod checks_services;
mod kustomize;
mod objects;
mod routes;

pub use binaries::*;
pub use checks_egress::CLUSTER_DNS;
pub use checks_pod_security::SAFE_SYSCTLS;
pub use kustomize::render_stage;
pub use objects::*;
pub use routes::served_routes;

/// One broken link: which check found it, and what is wrong where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub check: &'static str,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}", self.check, self.message)
    }
}

pub const CHECK_SELECTORS: &str = "selectors";
pub const CHECK_SERVICE_PORTS: &str = "service-ports";
pub const CHECK_CONTAINER_PORTS: &str = "container-ports";
pub const CHECK_IMAGES: &str = "images";
pub const CHECK_ENV: &str = "env";
pub const CHECK_AUTH_ADDRESS: &str = "auth-address";
pub const CHECK_SECRETS: &str = "secrets";
pub const CHECK_VOLUMES: &str = "volumes";
pub const CHECK_PROBES: &str = "probes";
pub const CHECK_NETWORK_POLICY: &str = "network-policy";
pub const CHECK_UPSTREAMS: &str = "upstreams";
pub const CHECK_DATABASE: &str = "database";
pub const CHECK_REPLICAS: &str = "replicas";
pub const CHECK_DISRUPTION_BUDGET: &str = "disruption-budget";
pub const CHECK_CALLER_KEYS: &str = "caller-keys";
pub const CHECK_METRICS: &str = "metrics";
pub const CHECK_TRUSTED_PROXIES: &str = "trusted-proxies";
pub const CHECK_POD_SECURITY: &str = "pod-security";
pub const CHECK_ROUTES: &str = "routes";
pub const CHECK_AUTOSCALING: &str = "autoscaling";

/// The kinds whose Pod template the checks look into.
pub const WORKLOAD_KINDS: [&str; 2] = ["Deployment", "StatefulSet"];

/// The probe every container must have, and the path it must GET.
pub const PROBES: [(&str, &str); 2] =
    [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")];

/// A container of a workload's (Deployment's or StatefulSet's) Pod template, with what its
/// binary, the frontend's nginx or a database image makes of it.
#[derive(Debug, Clone)]
struct Container<'a> {
    /// Index of the workload in the object list.
    workload: usize,
    spec: &'a Value,
    binary: Option<&'static Binary>,
    /// The frontend's nginx, when it runs that image instead of a binary.
    proxy: Option<&'static Proxy>,
    database: Option<&'static Database>,
    /// A Gateway API implementation (stage 7's edge).
    gateway: Option<&'static GatewayImplementation>,
}

impl Container<'_> {
    fn name(&self) -> &str {
        self.spec["name"].as_str().unwrap_or("?")
    }
    /// `name` → `Some(literal)` for `value:`, `None` for `valueFrom:`.
    fn env(&self) -> BTreeMap<String, Option<String>> {
        items(&self.spec["env"])
            .filter_map(|var| {
                let name = var["name"].as_str()?.to_owned();
                let value = match &var["value"] {
                    Value::String(value) => Some(value.clone()),
                    Value::Null if var.get("valueFrom").is_some() => None,
                    Value::Null => Some(String::new()),
                    other => Some(other.to_string()),
                };
                Some((name, value))
            })
            .collect()
    }
    /// `Some(Ok(v))` for a non-blank literal, `Some(Err(()))` for `valueFrom`, `None` if unset
    /// or blank (the binaries treat blank as unset).
    fn var(&self, name: &str) -> Option<Result<String, ()>> {
        match self.env().get(name) {
            Some(Some(value)) if value.trim().is_empty() => None,
            Some(Some(value)) => Some(Ok(value.clone())),
            Some(None) => Some(Err(())),
            None => None,
        }
    }
    /// The port the binary listens on with this env: `PORT` or its default (the frontend:
    /// its fixed port; a database image: its port).
    fn listen_port(&self) -> Result<u16, String> {
        if let Some(proxy) = self.proxy {
            return Ok(proxy.port);
        }
        if let Some(database) = self.database {
            return Ok(database.port);
        }
        if let Some(gateway) = self.gateway {
            return Err(format!(
                "{} listens on the ports of its entry points, {:?}, not on one",
                gateway.name,
                self.entry_point_ports()
            ));
        }
        let binary = self
            .binary
            .ok_or_else(|| "runs an image that is none of our binaries".to_owned())?;
        match self.var("PORT") {
            None => Ok(binary.default_port),
            Some(Ok(value)) => value
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|port| *port != 0)
                .ok_or_else(|| format!("PORT={value:?} is not a port number")),
            Some(Err(())) => Err("PORT comes from valueFrom: cannot know the port".to_owned()),
        }
    }
    /// The `secretKeyRef` (name, key) variable `name` comes from, if it does.
    fn secret_of(&self, name: &str) -> Option<(String, String)> {
        let var = items(&self.spec["env"]).find(|var| var["name"].as_str() == Some(name))?;
        let secret = &var["valueFrom"]["secretKeyRef"];
        Some((
            secret["name"].as_str()?.to_owned(),
            secret["key"].as_str()?.to_owned(),
        ))
    }
    /// The variables this container's env values, command and args refer to as `$(NAME)`.
    fn referenced(&self) -> BTreeSet<String> {
        let env = items(&self.spec["env"]).filter_map(|var| var["value"].as_str());
        let command = items(&self.spec["command"])
            .chain(items(&self.spec["args"]))
            .filter_map(Value::as_str);
        env.chain(command).flat_map(references).collect()
    }
    /// `containerPort` of the declared port named `name`.
    fn named_port(&self, name: &str) -> Option<u16> {
        items(&self.spec["ports"])
            .find(|port| port["name"].as_str() == Some(name))
            .and_then(|port| port["containerPort"].as_u64())
            .and_then(|port| u16::try_from(port).ok())
    }
}

/// The `NAME`s of the `$(NAME)` references in `text`, which the kubelet expands (`$$(NAME)`
/// is an escaped, literal `$(NAME)`).
fn references(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        if let Some(escaped) = after.strip_prefix('$') {
            rest = escaped;
            continue;
        }
        if let Some((name, tail)) = after
            .strip_prefix('(')
            .and_then(|inner| inner.split_once(')'))
        {
            found.push(name.to_owned());
            rest = tail;
            continue;
        }
        rest = after;
    }
    found
}

fn items(value: &Value) -> impl Iterator<Item = &Value> {
    value.as_array().into_iter().flatten()
}

fn labels(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, value)| {
            (
                key.clone(),
                value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned),
            )
        })
        .collect()
}

/// Does a Service-style selector (`key: value` map; empty selects nothing) match `pod`?
fn map_selects(selector: &BTreeMap<String, String>, pod: &BTreeMap<String, String>) -> bool {
    !selector.is_empty()
        && selector
            .iter()
            .all(|(key, value)| pod.get(key) == Some(value))
}

/// Does a LabelSelector (`matchLabels` + `matchExpressions`; empty selects everything) match?
fn label_selector_matches(selector: &Value, pod: &BTreeMap<String, String>) -> bool {
    let match_labels = labels(&selector["matchLabels"]);
    if !match_labels
        .iter()
        .all(|(key, value)| pod.get(key) == Some(value))
    {
        return false;
    }
    items(&selector["matchExpressions"]).all(|expression| {
        let key = expression["key"].as_str().unwrap_or("");
        let values: Vec<&str> = items(&expression["values"])
            .filter_map(Value::as_str)
            .collect();
        let actual = pod.get(key).map(String::as_str);
        match expression["operator"].as_str().unwrap_or("") {
            "In" => actual.is_some_and(|value| values.contains(&value)),
            "NotIn" => actual.is_none_or(|value| !values.contains(&value)),
            "Exists" => actual.is_some(),
            "DoesNotExist" => actual.is_none(),
            _ => false,
        }
    })
}

/// All the manifests, indexed for the checks.
struct Model<'a> {
    objects: &'a [Object],
    repo: &'a Repo,
    containers: Vec<Container<'a>>,
    findings: Vec<Finding>,
}

impl<'a> Model<'a> {
    fn new(objects: &'a [Object], repo: &'a Repo) -> Self {
        let mut containers = Vec::new();
        for (index, object) in objects.iter().enumerate() {
            if WORKLOAD_KINDS.contains(&object.kind()) {
                for spec in items(&object.value["spec"]["template"]["spec"]["containers"]) {
                    let image = spec["image"].as_str();
                    containers.push(Container {
                        workload: index,
                        spec,
                        binary: image.and_then(binary_for_image),
                        proxy: image.and_then(proxy_for_image),
                        database: image.and_then(database_for_image),
                        gateway: image.and_then(gateway_for_image),
                    });
                }
            }
        }
        Self {
            objects,
            repo,
            containers,
            findings: Vec::new(),
        }
    }

    fn fail(&mut self, check: &'static str, message: String) {
        self.findings.push(Finding { check, message });
    }

    fn of_kind(&self, kind: &'a str) -> impl Iterator<Item = (usize, &'a Object)> + 'a {
        self.objects
            .iter()
            .enumerate()
            .filter(move |(_, object)| object.kind() == kind)
    }

    /// The Deployments and StatefulSets, with their index in the object list.
    fn workloads(&self) -> impl Iterator<Item = (usize, &'a Object)> + 'a {
        self.objects
            .iter()
            .enumerate()
            .filter(|(_, object)| WORKLOAD_KINDS.contains(&object.kind()))
    }

    fn pod_labels(&self, workload: usize) -> BTreeMap<String, String> {
        labels(&self.objects[workload].value["spec"]["template"]["metadata"]["labels"])
    }

    fn pod_spec(&self, workload: usize) -> &'a Value {
        &self.objects[workload].value["spec"]["template"]["spec"]
    }

    /// The most Pods it may run: an autoscaler's `maxReplicas` where one scales it, else
    /// `spec.replicas`, 1 when unset.
    fn replicas(&self, workload: usize) -> u64 {
        self.autoscaler_of(workload)
            .and_then(|hpa| hpa.value["spec"]["maxReplicas"].as_u64())
            .or_else(|| self.objects[workload].value["spec"]["replicas"].as_u64())
            .unwrap_or(1)
    }

    fn containers_of(&self, workload: usize) -> impl Iterator<Item = &Container<'a>> {
        self.containers
            .iter()
            .filter(move |container| container.workload == workload)
    }

    /// Whether a container of the workload runs the binary `name`.
    fn runs(&self, workload: usize, name: &str) -> bool {
        self.containers_of(workload)
            .any(|container| container.binary.is_some_and(|binary| binary.name == name))
    }

    fn where_(&self, container: &Container) -> String {
        format!(
            "container {} of {}",
            container.name(),
            self.objects[container.workload].id()
        )
    }

    /// The workloads (by index) whose Pod template a Service's selector matches.
    fn service_targets(&self, service: &Object) -> Vec<usize> {
        let selector = labels(&service.value["spec"]["selector"]);
        self.workloads()
            .filter(|(_, workload)| workload.namespace() == service.namespace())
            .filter(|(index, _)| map_selects(&selector, &self.pod_labels(*index)))
            .map(|(index, _)| index)
            .collect()
    }

    fn find_service(&self, name: &str, namespace: &str) -> Option<(usize, &'a Object)> {
        self.of_kind("Service")
            .find(|(_, service)| service.name() == name && service.namespace() == namespace)
    }

    /// Where a Service port delivers: the container whose port `targetPort` names (or that
    /// listens on the number), and the binary's listen port. Err explains what is broken.
    fn service_backend(
        &self,
        service: &Object,
        port: &Value,
    ) -> Result<(&Container<'a>, u16), String> {
        let targets = self.service_targets(service);
        let [workload] = targets.as_slice() else {
            return Err(format!(
                "{} selects {} Deployments or StatefulSets, not one",
                service.id(),
                targets.len()
            ));
        };
        let target = match port.get("targetPort") {
            Some(target) if !target.is_null() => target.clone(),
            _ => port["port"].clone(),
        };
        let (container, declared) = if let Some(name) = target.as_str() {
            self.containers_of(*workload)
                .find_map(|container| Some((container, container.named_port(name)?)))
                .ok_or_else(|| {
                    format!(
                        "{} port {}: targetPort {name:?} names no container port of {}",
                        service.id(),
                        port["port"],
                        self.objects[*workload].id()
                    )
                })?
        } else {
            let number = target
                .as_u64()
                .and_then(|port| u16::try_from(port).ok())
                .ok_or_else(|| format!("{}: targetPort {target} is not a port", service.id()))?;
            self.containers_of(*workload)
                .find(|container| container.listen_port() == Ok(number))
                .map(|container| (container, number))
                .ok_or_else(|| {
                    format!(
                        "{} port {}: targetPort {number}: no container of {} listens there",
                        service.id(),
                        port["port"],
                        self.objects[*workload].id()
                    )
                })?
        };
        if container.gateway.is_some() {
            return if container.entry_point_ports().contains(&declared) {
                Ok((container, declared))
            } else {
                Err(format!(
                    "{} port {}: targetPort {target} is container port {declared} of {}, which \
                     is none of its entry points {:?}",
                    service.id(),
                    port["port"],
                    self.where_(container),
                    container.entry_point_ports()
                ))
            };
        }
        let listens = container
            .listen_port()
            .map_err(|error| format!("{}: {error}", self.where_(container)))?;
        if listens != declared {
            return Err(format!(
                "{} port {}: targetPort {target} is container port {declared} of {}, but {} \
                 listens on {listens} with that container's env",
                service.id(),
                port["port"],
                self.where_(container),
                container
                    .binary
                    .map(|binary| binary.name)
                    .or(container.proxy.map(|proxy| proxy.name))
                    .or(container.database.map(|database| database.name))
                    .unwrap_or("?"),
            ));
        }
        Ok((container, listens))
    }
}

/// Runs every check; an empty result means the manifests are wired.
pub fn check(objects: &[Object], repo: &Repo) -> Vec<Finding> {
    let mut model = Model::new(objects, repo);
    model.check_selectors();
    model.check_service_ports();
    model.check_containers();
    model.check_network_policy();
    model.check_egress();
    model.check_pod_security();
    model.check_caller_keys();
    model.check_metrics();
    model.check_trusted_proxies();
    model.check_routes();
    model.check_autoscalers();
    model.check_replicas();
    model.check_disruption_budgets();
    model.findings
}
