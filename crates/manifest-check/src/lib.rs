//! Offline wiring checks for the Kubernetes manifests: the mistakes a typo makes that
//! `kubernetes-validate` and `checkov` cannot see, because they need to know what the three
//! binaries listen on, which variables they read and which routes they serve.
//!
//! [`load_dir`] reads `kubernetes/*.yaml` as `kubectl apply -f kubernetes/` does (files in name
//! order, every document of each), [`Repo::load`] reads what the checks compare against (the
//! route strings in each crate's sources, the READMEs), and [`check`] returns one [`Finding`] per
//! broken link, each naming the check, the object and what to fix. The tests live in `tests/`.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

use serde::Deserialize;
use serde_json::Value;

/// One binary of the workspace, as a container of a Pod sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binary {
    /// The binary's (and crate's) name: `crates/<name>/`.
    pub name: &'static str,
    /// The image the manifests run it from (`Dockerfile.<x>` builds `kub-network-<x>:latest`).
    pub image: &'static str,
    /// The port it listens on when `PORT` is unset (`DEFAULT_PORT` in its lib.rs).
    pub default_port: u16,
    /// Every environment variable it reads. Each must appear as a string literal in
    /// `crates/<name>/src` or `crates/kub-common/src`; `tests/env_lists.rs` checks both ways.
    pub reads: &'static [&'static str],
    /// The variable naming its store's folder, if it has a store.
    pub folder_var: Option<&'static str>,
    /// Whether it calls auth (and so needs `AUTH_ADDRESS` or the injected `AUTH_SERVICE_*`).
    pub calls_auth: bool,
}

/// Read by all three: `kub_common::config::listen_port` (PORT), `PodIdentity::from_env`
/// (POD_*, NODE_NAME) and `kub_common::telemetry::init` (RUST_LOG, LOG_FORMAT).
const COMMON_VARS: [&str; 7] = [
    "PORT",
    "LOG_FORMAT",
    "RUST_LOG",
    "POD_NAME",
    "POD_NAMESPACE",
    "POD_IP",
    "NODE_NAME",
];

/// auth-api: `auth_api::Config::from_env` (crates/auth-api/src/lib.rs) plus [`COMMON_VARS`].
const AUTH_VARS: &[&str] = &[
    COMMON_VARS[0],
    COMMON_VARS[1],
    COMMON_VARS[2],
    COMMON_VARS[3],
    COMMON_VARS[4],
    COMMON_VARS[5],
    COMMON_VARS[6],
    "JWT_SECRET",
    "TOKEN_TTL",
];
/// users-api: `users_api::config_from_env` (USERS_FOLDER) and
/// `kub_common::config::resolve_auth_address` (AUTH_*), plus [`COMMON_VARS`].
const USERS_VARS: &[&str] = &[
    COMMON_VARS[0],
    COMMON_VARS[1],
    COMMON_VARS[2],
    COMMON_VARS[3],
    COMMON_VARS[4],
    COMMON_VARS[5],
    COMMON_VARS[6],
    "USERS_FOLDER",
    "AUTH_ADDRESS",
    "AUTH_SERVICE_SERVICE_HOST",
    "AUTH_SERVICE_SERVICE_PORT",
];
/// tasks-api: `tasks_api::config_from_env` (TASKS_FOLDER) and
/// `kub_common::config::resolve_auth_address` (AUTH_*), plus [`COMMON_VARS`].
const TASKS_VARS: &[&str] = &[
    COMMON_VARS[0],
    COMMON_VARS[1],
    COMMON_VARS[2],
    COMMON_VARS[3],
    COMMON_VARS[4],
    COMMON_VARS[5],
    COMMON_VARS[6],
    "TASKS_FOLDER",
    "AUTH_ADDRESS",
    "AUTH_SERVICE_SERVICE_HOST",
    "AUTH_SERVICE_SERVICE_PORT",
];

pub const BINARIES: [Binary; 3] = [
    Binary {
        name: "auth-api",
        image: "kub-network-auth:latest",
        default_port: auth_api::DEFAULT_PORT,
        reads: AUTH_VARS,
        folder_var: None,
        calls_auth: false,
    },
    Binary {
        name: "users-api",
        image: "kub-network-users:latest",
        default_port: users_api::DEFAULT_PORT,
        reads: USERS_VARS,
        folder_var: Some("USERS_FOLDER"),
        calls_auth: true,
    },
    Binary {
        name: "tasks-api",
        image: "kub-network-tasks:latest",
        default_port: tasks_api::DEFAULT_PORT,
        reads: TASKS_VARS,
        folder_var: Some("TASKS_FOLDER"),
        calls_auth: true,
    },
];

/// The name of the Service whose injected `<NAME>_SERVICE_HOST/_PORT` users and tasks read.
pub const AUTH_SERVICE_NAME: &str = "auth-service";

pub fn binary_for_image(image: &str) -> Option<&'static Binary> {
    BINARIES.iter().find(|binary| binary.image == image)
}

/// One Kubernetes object and the file it came from.
#[derive(Debug, Clone)]
pub struct Object {
    pub file: String,
    pub value: Value,
}

impl Object {
    pub fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }
    pub fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or("")
    }
    /// `default` when unset, as `kubectl apply` without `-n` does.
    pub fn namespace(&self) -> &str {
        self.value["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
    }
    /// `Service/auth-service (auth-service.yaml)`, for messages.
    pub fn id(&self) -> String {
        format!("{}/{} ({})", self.kind(), self.name(), self.file)
    }
}

/// Every object of every `*.yaml` directly in `dir`, files in name order (the order
/// `kubectl apply -f <dir>` creates them in), documents in file order.
pub fn load_dir(dir: &Path) -> Result<Vec<Object>, String> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|error| format!("{}: {error}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    let mut objects = Vec::new();
    for path in files {
        let file = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text =
            fs::read_to_string(&path).map_err(|error| format!("{}: {error}", path.display()))?;
        objects.extend(parse_yaml(&file, &text)?);
    }
    Ok(objects)
}

/// The objects of a (multi-document) YAML text; empty documents are skipped.
pub fn parse_yaml(file: &str, text: &str) -> Result<Vec<Object>, String> {
    let mut objects = Vec::new();
    for document in serde_norway::Deserializer::from_str(text) {
        let value = Value::deserialize(document).map_err(|error| format!("{file}: {error}"))?;
        if !value.is_null() {
            objects.push(Object {
                file: file.to_owned(),
                value,
            });
        }
    }
    Ok(objects)
}

/// What the manifests are checked against, read from the repository.
#[derive(Debug, Clone, Default)]
pub struct Repo {
    /// Binary name → every path given to `.route("…"` or `#[utoipa::path(…, path = "…")]` in its
    /// crate's sources, plus the routes
    /// every service gets from `kub_common::server::with_common_layers` (`/healthz`, `/metrics`).
    pub routes: BTreeMap<String, BTreeSet<String>>,
    /// README.md and kubernetes/README.md, concatenated: where a Secret must be documented.
    pub docs: String,
}

impl Repo {
    pub fn load(root: &Path) -> Result<Self, String> {
        let mut routes = BTreeMap::new();
        let common_server = root.join("crates/kub-common/src/server.rs");
        let common_text = fs::read_to_string(&common_server)
            .map_err(|error| format!("{}: {error}", common_server.display()))?;
        for binary in &BINARIES {
            let mut paths: BTreeSet<String> =
                string_args(&common_text, ".route(\"").into_iter().collect();
            for (_, text) in rust_sources(&root.join("crates").join(binary.name).join("src"))? {
                paths.extend(string_args(&text, ".route(\""));
                // Routes registered through utoipa-axum carry their path in `#[utoipa::path(…)]`.
                paths.extend(string_args(&text, "path = \""));
            }
            routes.insert(binary.name.to_owned(), paths);
        }
        let mut docs = String::new();
        for file in ["README.md", "kubernetes/README.md"] {
            let path = root.join(file);
            docs += &fs::read_to_string(&path)
                .map_err(|error| format!("{}: {error}", path.display()))?;
            docs.push('\n');
        }
        Ok(Self { routes, docs })
    }
}

/// `(path, contents)` of every `*.rs` under `dir`, recursively, in path order.
pub fn rust_sources(dir: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).map_err(|error| format!("{}: {error}", dir.display()))? {
            let path = entry
                .map_err(|error| format!("{}: {error}", dir.display()))?
                .path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let text = fs::read_to_string(&path)
                    .map_err(|error| format!("{}: {error}", path.display()))?;
                out.push((path, text));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The string literals that directly follow `prefix` (which ends with the opening quote).
pub fn string_args(text: &str, prefix: &str) -> Vec<String> {
    text.match_indices(prefix)
        .filter_map(|(at, _)| {
            let rest = &text[at + prefix.len()..];
            rest.find('"').map(|end| rest[..end].to_owned())
        })
        .collect()
}

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

    fn check_selectors(&mut self) {
        for (index, deployment) in self.of_kind("Deployment") {
            let pod = self.pod_labels(index);
            let selector = &deployment.value["spec"]["selector"];
            if !label_selector_matches(selector, &pod) || selector.is_null() {
                self.fail(
                    CHECK_SELECTORS,
                    format!(
                        "{}: spec.selector does not match its own Pod template labels {pod:?}",
                        deployment.id()
                    ),
                );
            }
        }
        for (_, service) in self.of_kind("Service") {
            let selector = labels(&service.value["spec"]["selector"]);
            let targets = self.service_targets(service);
            if targets.len() != 1 {
                let names: Vec<&str> = targets.iter().map(|i| self.objects[*i].name()).collect();
                self.fail(
                    CHECK_SELECTORS,
                    format!(
                        "{}: selector {selector:?} must match the Pod template labels of exactly \
                         one Deployment, matches {names:?}",
                        service.id()
                    ),
                );
            }
        }
    }

    fn check_service_ports(&mut self) {
        for (_, service) in self.of_kind("Service") {
            if self.service_targets(service).len() != 1 {
                continue; // reported by the selector check
            }
            for port in items(&service.value["spec"]["ports"]) {
                if let Err(message) = self.service_backend(service, port) {
                    self.fail(CHECK_SERVICE_PORTS, message);
                }
            }
        }
    }

    fn check_containers(&mut self) {
        let containers = self.containers.clone();
        for container in &containers {
            let at = self.where_(container);
            let Some(binary) = container.binary else {
                self.fail(
                    CHECK_IMAGES,
                    format!(
                        "{at}: image {} is none of {:?}",
                        container.spec["image"],
                        BINARIES.map(|binary| binary.image)
                    ),
                );
                continue;
            };
            match container.listen_port() {
                Err(error) => self.fail(CHECK_CONTAINER_PORTS, format!("{at}: {error}")),
                Ok(listens) => {
                    for port in items(&container.spec["ports"]) {
                        if port["containerPort"].as_u64() != Some(u64::from(listens)) {
                            self.fail(
                                CHECK_CONTAINER_PORTS,
                                format!(
                                    "{at}: declares containerPort {} ({}), but {} listens on \
                                     {listens} with this env",
                                    port["containerPort"], port["name"], binary.name
                                ),
                            );
                        }
                    }
                }
            }
            for name in container.env().keys() {
                if !binary.reads.contains(&name.as_str()) {
                    self.fail(
                        CHECK_ENV,
                        format!(
                            "{at}: sets {name}, which {} never reads (it reads {:?})",
                            binary.name, binary.reads
                        ),
                    );
                }
            }
            if container.spec.get("envFrom").is_some() {
                self.fail(
                    CHECK_ENV,
                    format!("{at}: envFrom hides which variables are set; list them under env"),
                );
            }
            for var in items(&container.spec["env"]) {
                let secret = &var["valueFrom"]["secretKeyRef"];
                if secret.is_null() {
                    continue;
                }
                let (name, key) = (
                    secret["name"].as_str().unwrap_or(""),
                    secret["key"].as_str().unwrap_or(""),
                );
                let create = format!("kubectl create secret generic {name} ");
                let literal = format!("--from-literal={key}=");
                let documented = self
                    .repo
                    .docs
                    .lines()
                    .any(|line| line.contains(&create) && line.contains(&literal));
                if !documented {
                    self.fail(
                        CHECK_SECRETS,
                        format!(
                            "{at}: {} reads Secret {name:?} key {key:?}, but no README line says \
                             `{create}{literal}…`",
                            var["name"]
                        ),
                    );
                }
            }
            self.check_folder(container, binary, &at);
            self.check_probes(container, binary, &at);
            let auth = if binary.calls_auth {
                self.check_auth_address(container)
            } else {
                Ok(())
            };
            if let Err(message) = auth {
                self.fail(CHECK_AUTH_ADDRESS, format!("{at}: {message}"));
            }
        }
    }

    fn check_folder(&mut self, container: &Container, binary: &Binary, at: &str) {
        let Some(var) = binary.folder_var else {
            return;
        };
        let folder = match container.var(var) {
            Some(Ok(folder)) => folder,
            Some(Err(())) => {
                return self.fail(
                    CHECK_VOLUMES,
                    format!("{at}: {var} comes from valueFrom; set it to the volume's mountPath"),
                );
            }
            None => {
                return self.fail(
                    CHECK_VOLUMES,
                    format!(
                        "{at}: {var} is unset, so {} writes to a relative folder on the \
                         read-only root filesystem; set it to the volume's mountPath",
                        binary.name
                    ),
                );
            }
        };
        let trimmed = |path: &str| path.trim_end_matches('/').to_owned();
        let mount = items(&container.spec["volumeMounts"])
            .find(|mount| mount["mountPath"].as_str().map(trimmed) == Some(trimmed(&folder)));
        let Some(mount) = mount else {
            let mounts: Vec<&str> = items(&container.spec["volumeMounts"])
                .filter_map(|mount| mount["mountPath"].as_str())
                .collect();
            return self.fail(
                CHECK_VOLUMES,
                format!(
                    "{at}: {var}={folder:?} is no volumeMount's mountPath (mounts: {mounts:?})"
                ),
            );
        };
        if mount["readOnly"].as_bool() == Some(true) || mount.get("subPath").is_some() {
            self.fail(
                CHECK_VOLUMES,
                format!("{at}: the volumeMount at {folder:?} must be writable and whole"),
            );
        }
        let volume_name = mount["name"].as_str().unwrap_or("");
        let volume = items(&self.pod_spec(container.deployment)["volumes"])
            .find(|volume| volume["name"].as_str() == Some(volume_name));
        match volume {
            None => self.fail(
                CHECK_VOLUMES,
                format!("{at}: mounts volume {volume_name:?}, which the Pod does not define"),
            ),
            Some(volume) if volume.get("emptyDir").is_none() => self.fail(
                CHECK_VOLUMES,
                format!("{at}: volume {volume_name:?} at {folder:?} is not an emptyDir"),
            ),
            Some(_) => {}
        }
    }

    fn check_probes(&mut self, container: &Container, binary: &Binary, at: &str) {
        let routes = self
            .repo
            .routes
            .get(binary.name)
            .cloned()
            .unwrap_or_default();
        for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
            let get = &container.spec[probe]["httpGet"];
            if get.is_null() {
                self.fail(CHECK_PROBES, format!("{at}: no {probe}.httpGet"));
                continue;
            }
            let actual = get["path"].as_str().unwrap_or("");
            if actual != path {
                self.fail(
                    CHECK_PROBES,
                    format!("{at}: {probe} GETs {actual:?}, expected {path:?}"),
                );
            }
            if !routes.contains(actual) {
                self.fail(
                    CHECK_PROBES,
                    format!(
                        "{at}: {probe} GETs {actual:?}, but crates/{}/src has no \
                         .route({actual:?}, …) (it has {routes:?})",
                        binary.name
                    ),
                );
            }
            let port = match &get["port"] {
                Value::String(name) => container.named_port(name),
                other => other.as_u64().and_then(|port| u16::try_from(port).ok()),
            };
            let listens = container.listen_port().ok();
            if port.is_none() || port != listens {
                let show = |port: Option<u16>| port.map_or("no port".to_owned(), |p| p.to_string());
                self.fail(
                    CHECK_PROBES,
                    format!(
                        "{at}: {probe} port {} is {}, but {} listens on {}",
                        get["port"],
                        show(port),
                        binary.name,
                        show(listens)
                    ),
                );
            }
        }
    }

    /// users and tasks must reach a Service (or a container of their Pod) that delivers to
    /// auth-api on the port auth-api listens on.
    fn check_auth_address(&self, container: &Container) -> Result<(), String> {
        let deployment = &self.objects[container.deployment];
        let namespace = deployment.namespace();
        let raw = match container.var("AUTH_ADDRESS") {
            Some(Err(())) => return Err("AUTH_ADDRESS comes from valueFrom: unknowable".into()),
            Some(Ok(raw)) => raw,
            None => {
                // The fallback: the variables Kubernetes injects for `auth-service`, whose
                // AUTH_SERVICE_SERVICE_PORT is the Service's first port.
                let (index, service) =
                    self.find_service(AUTH_SERVICE_NAME, namespace)
                        .ok_or_else(|| {
                            format!(
                                "no AUTH_ADDRESS and no Service {AUTH_SERVICE_NAME:?} in namespace \
                             {namespace:?} to inject AUTH_SERVICE_SERVICE_HOST"
                            )
                        })?;
                if index > container.deployment {
                    return Err(format!(
                        "no AUTH_ADDRESS, and {} is applied after this Deployment, so its \
                         AUTH_SERVICE_SERVICE_HOST is not injected into the first Pod",
                        service.id()
                    ));
                }
                let first = items(&service.value["spec"]["ports"])
                    .next()
                    .ok_or_else(|| format!("{} has no ports", service.id()))?;
                return self.reaches_auth(service, first);
            }
        };
        let without_scheme = raw.trim().strip_prefix("http://").unwrap_or(raw.trim());
        let authority = without_scheme.split('/').next().unwrap_or("");
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse::<u16>()
                    .map_err(|_| format!("AUTH_ADDRESS={raw:?}: bad port {port:?}"))?,
            ),
            None => (authority, 80),
        };
        if matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
            // Pod-internal: another container of this Pod must be auth-api on that port.
            let found = self.containers_of(container.deployment).any(|other| {
                other.binary.is_some_and(|binary| binary.name == "auth-api")
                    && other.listen_port() == Ok(port)
            });
            return if found {
                Ok(())
            } else {
                Err(format!(
                    "AUTH_ADDRESS={raw:?} is this Pod's localhost, but no auth-api container of \
                     the Pod listens on {port}"
                ))
            };
        }
        if host.parse::<std::net::IpAddr>().is_ok() {
            return Err(format!(
                "AUTH_ADDRESS={raw:?} is a hard-coded IP; name the Service instead"
            ));
        }
        let mut parts = host.splitn(3, '.');
        let name = parts.next().unwrap_or("");
        let ns = parts.next().unwrap_or(namespace);
        let rest = parts.next().unwrap_or("");
        if !matches!(rest, "" | "svc" | "svc.cluster.local") {
            return Err(format!(
                "AUTH_ADDRESS={raw:?}: {host:?} is not <service>[.<namespace>[.svc.cluster.local]]"
            ));
        }
        let (_, service) = self.find_service(name, ns).ok_or_else(|| {
            format!("AUTH_ADDRESS={raw:?} names Service {name:?} in namespace {ns:?}, which does not exist")
        })?;
        let service_port = items(&service.value["spec"]["ports"])
            .find(|candidate| candidate["port"].as_u64() == Some(u64::from(port)))
            .ok_or_else(|| {
                format!(
                    "AUTH_ADDRESS={raw:?}: port {port} is not a port of {}",
                    service.id()
                )
            })?;
        self.reaches_auth(service, service_port)
    }

    fn reaches_auth(&self, service: &Object, port: &Value) -> Result<(), String> {
        let (backend, _) = self.service_backend(service, port)?;
        match backend.binary {
            Some(binary) if binary.name == "auth-api" => Ok(()),
            _ => Err(format!(
                "{} port {} delivers to {}, which is not auth-api",
                service.id(),
                port["port"],
                self.where_(backend)
            )),
        }
    }

    fn check_network_policy(&mut self) {
        let runs = |model: &Self, deployment: usize, name: &str| {
            model
                .containers_of(deployment)
                .any(|container| container.binary.is_some_and(|binary| binary.name == name))
        };
        let deployments: Vec<usize> = self.of_kind("Deployment").map(|(i, _)| i).collect();
        let auth_pods: Vec<usize> = deployments
            .iter()
            .copied()
            .filter(|&d| runs(self, d, "auth-api") && !runs(self, d, "users-api"))
            .collect();
        let clients: BTreeSet<usize> = deployments
            .iter()
            .copied()
            .filter(|&d| runs(self, d, "users-api") || runs(self, d, "tasks-api"))
            .collect();
        for auth in auth_pods {
            let at = self.objects[auth].id();
            let pod = self.pod_labels(auth);
            let namespace = self.objects[auth].namespace().to_owned();
            let auth_port = self
                .containers_of(auth)
                .find(|container| container.binary.is_some_and(|b| b.name == "auth-api"))
                .map(|container| (container.listen_port().ok(), container.spec.clone()));
            let policies: Vec<&Object> = self
                .of_kind("NetworkPolicy")
                .map(|(_, policy)| policy)
                .filter(|policy| policy.namespace() == namespace)
                .filter(|policy| label_selector_matches(&policy.value["spec"]["podSelector"], &pod))
                .collect();
            let ingress_policies: Vec<&Object> = policies
                .iter()
                .copied()
                .filter(|policy| {
                    let types = &policy.value["spec"]["policyTypes"];
                    items(types).any(|t| t == "Ingress")
                        || (types.is_null() && policy.value["spec"].get("ingress").is_some())
                })
                .collect();
            if ingress_policies.is_empty() {
                self.fail(
                    CHECK_NETWORK_POLICY,
                    format!(
                        "{at}: no NetworkPolicy with policyTypes [Ingress] selects its Pods {pod:?}"
                    ),
                );
                continue;
            }
            let mut admitted = BTreeSet::new();
            for policy in ingress_policies {
                for rule in items(&policy.value["spec"]["ingress"]) {
                    let peers: Vec<&Value> = items(&rule["from"]).collect();
                    if peers.is_empty() {
                        self.fail(
                            CHECK_NETWORK_POLICY,
                            format!(
                                "{}: an ingress rule without `from` admits every source",
                                policy.id()
                            ),
                        );
                    }
                    for peer in peers {
                        if peer.get("ipBlock").is_some() || peer.get("namespaceSelector").is_some()
                        {
                            self.fail(
                                CHECK_NETWORK_POLICY,
                                format!(
                                    "{}: peer {peer} admits sources outside this namespace's Pods",
                                    policy.id()
                                ),
                            );
                        }
                        let Some(selector) = peer.get("podSelector") else {
                            continue;
                        };
                        for &d in &deployments {
                            if self.objects[d].namespace() != namespace
                                || !label_selector_matches(selector, &self.pod_labels(d))
                            {
                                continue;
                            }
                            if clients.contains(&d) {
                                admitted.insert(d);
                            } else {
                                self.fail(
                                    CHECK_NETWORK_POLICY,
                                    format!(
                                        "{}: podSelector {selector} also admits {}, which is \
                                         neither users nor tasks",
                                        policy.id(),
                                        self.objects[d].id()
                                    ),
                                );
                            }
                        }
                    }
                    let ports: Vec<&Value> = items(&rule["ports"]).collect();
                    if ports.is_empty() {
                        self.fail(
                            CHECK_NETWORK_POLICY,
                            format!(
                                "{}: an ingress rule without `ports` opens every port",
                                policy.id()
                            ),
                        );
                    }
                    for port in ports {
                        let ok = match (&port["port"], &auth_port) {
                            (Value::String(name), Some((listens, spec))) => items(&spec["ports"])
                                .any(|p| {
                                    p["name"].as_str() == Some(name)
                                        && p["containerPort"]
                                            .as_u64()
                                            .and_then(|n| u16::try_from(n).ok())
                                            == *listens
                                }),
                            (number, Some((listens, _))) => {
                                number.as_u64().and_then(|n| u16::try_from(n).ok()) == *listens
                            }
                            _ => false,
                        };
                        if !ok {
                            self.fail(
                                CHECK_NETWORK_POLICY,
                                format!(
                                    "{}: admits port {}, which is not the port auth-api listens on",
                                    policy.id(),
                                    port["port"]
                                ),
                            );
                        }
                    }
                }
            }
            for client in clients.difference(&admitted) {
                if self.objects[*client].namespace() == namespace {
                    self.fail(
                        CHECK_NETWORK_POLICY,
                        format!(
                            "{at}: its NetworkPolicy does not admit {}, which calls auth",
                            self.objects[*client].id()
                        ),
                    );
                }
            }
        }
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
