//! Offline wiring checks of kubernetes/*.yaml against the three binaries: the typos that
//! `kubernetes-validate` and `checkov` cannot see (ports, variables, routes, selectors).
//!
//! They need to know what the binaries listen on, which variables they read and which routes
//! they serve.
//!
//! [`load_dir`] reads `kubernetes/*.yaml` as `kubectl apply -f kubernetes/` does (files in name
//! order, every document of each), [`Repo::load`] gathers what the checks compare against (the
//! probe paths each binary's router serves, the docs), [`BINARIES`] says what each binary reads
//! (from its clap settings), and [`check`] returns one [`Finding`] per broken link, each naming
//! the check, the object and what to fix. The tests live in `tests/`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

mod binaries;
mod checks_auth;
mod checks_pods;
mod checks_services;
mod objects;
mod routes;

pub use binaries::*;
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

/// The probe every container must have, and the path it must GET.
pub const PROBES: [(&str, &str); 2] =
    [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")];

/// A container of a Deployment's Pod template, with what its binary makes of it.
#[derive(Debug, Clone)]
struct Container<'a> {
    /// Index of the Deployment in the object list.
    deployment: usize,
    spec: &'a Value,
    binary: Option<&'static Binary>,
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
    /// The port the binary listens on with this env: `PORT` or its default.
    fn listen_port(&self) -> Result<u16, String> {
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
    /// `containerPort` of the declared port named `name`.
    fn named_port(&self, name: &str) -> Option<u16> {
        items(&self.spec["ports"])
            .find(|port| port["name"].as_str() == Some(name))
            .and_then(|port| port["containerPort"].as_u64())
            .and_then(|port| u16::try_from(port).ok())
    }
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
            if object.kind() == "Deployment" {
                for spec in items(&object.value["spec"]["template"]["spec"]["containers"]) {
                    containers.push(Container {
                        deployment: index,
                        spec,
                        binary: spec["image"].as_str().and_then(binary_for_image),
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

    fn pod_labels(&self, deployment: usize) -> BTreeMap<String, String> {
        labels(&self.objects[deployment].value["spec"]["template"]["metadata"]["labels"])
    }

    fn pod_spec(&self, deployment: usize) -> &'a Value {
        &self.objects[deployment].value["spec"]["template"]["spec"]
    }

    fn containers_of(&self, deployment: usize) -> impl Iterator<Item = &Container<'a>> {
        self.containers
            .iter()
            .filter(move |container| container.deployment == deployment)
    }

    fn where_(&self, container: &Container) -> String {
        format!(
            "container {} of {}",
            container.name(),
            self.objects[container.deployment].id()
        )
    }

    /// The Deployments (by index) whose Pod template a Service's selector matches.
    fn service_targets(&self, service: &Object) -> Vec<usize> {
        let selector = labels(&service.value["spec"]["selector"]);
        self.of_kind("Deployment")
            .filter(|(_, deployment)| deployment.namespace() == service.namespace())
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
        let [deployment] = targets.as_slice() else {
            return Err(format!(
                "{} selects {} Deployments, not one",
                service.id(),
                targets.len()
            ));
        };
        let target = match port.get("targetPort") {
            Some(target) if !target.is_null() => target.clone(),
            _ => port["port"].clone(),
        };
        let (container, declared) = if let Some(name) = target.as_str() {
            self.containers_of(*deployment)
                .find_map(|container| Some((container, container.named_port(name)?)))
                .ok_or_else(|| {
                    format!(
                        "{} port {}: targetPort {name:?} names no container port of {}",
                        service.id(),
                        port["port"],
                        self.objects[*deployment].id()
                    )
                })?
        } else {
            let number = target
                .as_u64()
                .and_then(|port| u16::try_from(port).ok())
                .ok_or_else(|| format!("{}: targetPort {target} is not a port", service.id()))?;
            self.containers_of(*deployment)
                .find(|container| container.listen_port() == Ok(number))
                .map(|container| (container, number))
                .ok_or_else(|| {
                    format!(
                        "{} port {}: targetPort {number}: no container of {} listens there",
                        service.id(),
                        port["port"],
                        self.objects[*deployment].id()
                    )
                })?
        };
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
                container.binary.map_or("?", |binary| binary.name),
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
    model.findings
}
