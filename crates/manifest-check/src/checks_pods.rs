//! Containers: images, env, folders, probes.

use kub_http::settings::parse_byte_size;

use super::*;

impl Model<'_> {
    pub(super) fn check_containers(&mut self) {
        let containers = self.containers.clone();
        for container in &containers {
            let at = self.where_(container);
            self.check_env_references(container, &at);
            self.check_secrets(container, &at);
            if let Some(proxy) = container.proxy {
                self.check_proxy(container, proxy, &at);
                continue;
            }
            if let Some(database) = container.database {
                self.check_database_container(container, database, &at);
                continue;
            }
            if let Some(gateway) = container.gateway {
                self.check_gateway_container(container, gateway, &at);
                continue;
            }
            let Some(binary) = container.binary else {
                self.fail(
                    CHECK_IMAGES,
                    format!(
                        "{at}: image {} is none of {:?}, {:?}, {:?} nor a Gateway of {:?}",
                        container.spec["image"],
                        BINARIES.map(|binary| binary.image),
                        PROXIES.map(|proxy| proxy.image),
                        DATABASES.map(|database| database.image),
                        GATEWAY_IMPLEMENTATIONS.map(|gateway| gateway.repository)
                    ),
                );
                continue;
            };
            self.check_container_ports(container, binary.name, &at);
            let reads = (binary.reads)();
            let referenced = container.referenced();
            for name in container.env().keys() {
                if !reads.contains(name) && !referenced.contains(name) {
                    self.fail(
                        CHECK_ENV,
                        format!(
                            "{at}: sets {name}, which {} never reads (it reads {:?})",
                            binary.name, reads
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
            if container.var(DATABASE_URL).is_some() {
                self.check_database_url(container, &at);
            } else {
                self.check_folder(container, binary, &at);
            }
            self.check_probes(container, binary, &at);
            if binary.calls_auth
                && let Err(message) = self.auth_of(container)
            {
                self.fail(CHECK_AUTH_ADDRESS, format!("{at}: {message}"));
            }
        }
    }

    /// Every declared port is one the process listens on with this env (its own, or its
    /// /metrics).
    pub(super) fn check_container_ports(&mut self, container: &Container, process: &str, at: &str) {
        match container.listen_port() {
            Err(error) => self.fail(CHECK_CONTAINER_PORTS, format!("{at}: {error}")),
            Ok(listens) => {
                let metrics = match container.metrics_port() {
                    Some(Ok(port)) => format!(" (and /metrics on {port})"),
                    _ => String::new(),
                };
                let ports = container.listen_ports();
                for port in items(&container.spec["ports"]) {
                    let declared = port["containerPort"].as_u64();
                    if !ports
                        .iter()
                        .any(|listening| declared == Some(u64::from(*listening)))
                    {
                        self.fail(
                            CHECK_CONTAINER_PORTS,
                            format!(
                                "{at}: declares containerPort {} ({}), but {process} listens on \
                                 {listens}{metrics} with this env",
                                port["containerPort"], port["name"]
                            ),
                        );
                    }
                }
            }
        }
    }

    /// `$(NAME)` in a value is replaced by the kubelet only when `NAME` is defined earlier in
    /// the same container's `env`; otherwise the text stays as it is, `$(NAME)` and all.
    fn check_env_references(&mut self, container: &Container, at: &str) {
        let defined: Vec<&str> = items(&container.spec["env"])
            .filter_map(|var| var["name"].as_str())
            .collect();
        for (index, var) in items(&container.spec["env"]).enumerate() {
            let name = var["name"].as_str().unwrap_or("?");
            for reference in references(var["value"].as_str().unwrap_or("")) {
                let problem = match defined.iter().position(|d| *d == reference) {
                    Some(at) if at < index => continue,
                    Some(_) => "defined after it",
                    None => "not defined in this container",
                };
                self.fail(
                    CHECK_ENV,
                    format!(
                        "{at}: {name} refers to $({reference}), which is {problem}: Kubernetes \
                         leaves the text `$({reference})` as it is"
                    ),
                );
            }
        }
    }

    /// A Secret the container reads must be documented with the command that creates it (no
    /// Secret is committed), an optional key (a rotation's previous value) with the command
    /// that adds it.
    fn check_secrets(&mut self, container: &Container, at: &str) {
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
            // A command continued with `\` on the next line counts as one line.
            let documented = self
                .repo
                .docs
                .replace("\\\n", " ")
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
    }

    /// A database image's container: its port, the variables it reads, a password that is no
    /// literal, probes of any kind, and its data on a volume that outlives the Pod.
    fn check_database_container(&mut self, container: &Container, database: &Database, at: &str) {
        self.check_container_ports(container, database.name, at);
        let referenced = container.referenced();
        for name in container.env().keys() {
            if !database.reads.contains(&name.as_str()) && !referenced.contains(name) {
                self.fail(
                    CHECK_ENV,
                    format!(
                        "{at}: sets {name}, which the {} image never reads (it reads {:?})",
                        database.name, database.reads
                    ),
                );
            }
        }
        match container.var(database.password_var) {
            Some(Err(())) if container.secret_of(database.password_var).is_some() => {}
            Some(Ok(_)) => self.fail(
                CHECK_SECRETS,
                format!(
                    "{at}: {} is a literal in the manifest; take it from a Secret (secretKeyRef)",
                    database.password_var
                ),
            ),
            _ => self.fail(
                CHECK_SECRETS,
                format!(
                    "{at}: {} does not come from a Secret (secretKeyRef)",
                    database.password_var
                ),
            ),
        }
        for (probe, _) in PROBES {
            let handlers = ["exec", "httpGet", "tcpSocket", "grpc"];
            if !handlers
                .iter()
                .any(|handler| container.spec[probe].get(handler).is_some())
            {
                self.fail(CHECK_PROBES, format!("{at}: no {probe}"));
            }
        }
        self.check_database_data(container, database, at);
    }

    pub(super) fn check_folder(&mut self, container: &Container, binary: &Binary, at: &str) {
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
        let volume = items(&self.pod_spec(container.workload)["volumes"])
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
            Some(volume) => self.check_budget(container, &volume["emptyDir"], at),
        }
    }

    /// Past its emptyDir's `sizeLimit` the kubelet evicts the Pod, and eviction deletes the
    /// volume: the store must stop writing first, with headroom for the filesystem's own
    /// blocks and the readiness probe's file.
    fn check_budget(&mut self, container: &Container, empty_dir: &Value, at: &str) {
        let limit = empty_dir["sizeLimit"].as_str().map(parse_byte_size);
        let Some(Ok(limit)) = limit else {
            return self.fail(
                CHECK_VOLUMES,
                format!(
                    "{at}: the emptyDir has no sizeLimit, so one store can fill the node's disk"
                ),
            );
        };
        let budget = match container.var("STORE_BUDGET") {
            Some(Ok(budget)) => parse_byte_size(&budget),
            _ => Err("unset".into()),
        };
        match budget {
            Ok(budget) if budget <= limit / 10 * 9 => {}
            Ok(budget) => self.fail(
                CHECK_VOLUMES,
                format!(
                    "{at}: STORE_BUDGET ({budget} bytes) leaves under 10% of the emptyDir's \
                     sizeLimit ({limit} bytes) as headroom"
                ),
            ),
            Err(why) => self.fail(
                CHECK_VOLUMES,
                format!(
                    "{at}: STORE_BUDGET is {why}; set it under the emptyDir's sizeLimit or the \
                     Pod is evicted, its data deleted, when the store outgrows it"
                ),
            ),
        }
    }

    pub(super) fn check_probes(&mut self, container: &Container, binary: &Binary, at: &str) {
        let routes = self
            .repo
            .routes
            .get(binary.name)
            .cloned()
            .unwrap_or_default();
        for (probe, path) in PROBES {
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
                        "{at}: {probe} GETs {actual:?}, but {}'s router has no \
                         .route({actual:?}, …) (it serves {routes:?})",
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
}
