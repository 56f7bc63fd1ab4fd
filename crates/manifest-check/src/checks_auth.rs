//! How users and tasks reach auth, and who may reach it.

use super::*;

impl<'a> Model<'a> {
    /// users and tasks must reach a Service (or a container of their Pod) that delivers to
    /// auth-api on the port auth-api listens on: that auth-api container.
    pub(super) fn auth_of(&self, container: &Container) -> Result<&Container<'a>, String> {
        let namespace = self.objects[container.workload].namespace();
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
                if index > container.workload {
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
            return self
                .containers_of(container.workload)
                .find(|other| {
                    other.binary.is_some_and(|binary| binary.name == "auth-api")
                        && other.listen_port() == Ok(port)
                })
                .ok_or_else(|| {
                    format!(
                        "AUTH_ADDRESS={raw:?} is this Pod's localhost, but no auth-api container \
                         of the Pod listens on {port}"
                    )
                });
        }
        if host.parse::<std::net::IpAddr>().is_ok() {
            return Err(format!(
                "AUTH_ADDRESS={raw:?} is a hard-coded IP; name the Service instead"
            ));
        }
        let what = format!("AUTH_ADDRESS={raw:?}");
        let (service, service_port) = self.service_port_named(&what, host, port, namespace)?;
        self.reaches_auth(service, service_port)
    }

    /// The Service a host name of cluster DNS names: `<service>[.<namespace>[.svc[.cluster.local]]]`,
    /// the namespace defaulting to the client's, and its entry for `port`. `what` starts the
    /// error messages.
    pub(super) fn service_port_named(
        &self,
        what: &str,
        host: &str,
        port: u16,
        namespace: &str,
    ) -> Result<(&'a Object, &'a Value), String> {
        let service = self.service_named(what, host, namespace)?;
        let service_port = items(&service.value["spec"]["ports"])
            .find(|candidate| candidate["port"].as_u64() == Some(u64::from(port)))
            .ok_or_else(|| format!("{what}: port {port} is not a port of {}", service.id()))?;
        Ok((service, service_port))
    }

    /// The Service a host name of cluster DNS names, as [`Self::service_port_named`].
    pub(super) fn service_named(
        &self,
        what: &str,
        host: &str,
        namespace: &str,
    ) -> Result<&'a Object, String> {
        let mut parts = host.trim_end_matches('.').splitn(3, '.');
        let name = parts.next().unwrap_or("");
        let ns = parts.next().unwrap_or(namespace);
        let rest = parts.next().unwrap_or("");
        if !matches!(rest, "" | "svc" | "svc.cluster.local") {
            return Err(format!(
                "{what}: {host:?} is not <service>[.<namespace>[.svc.cluster.local]]"
            ));
        }
        let (_, service) = self.find_service(name, ns).ok_or_else(|| {
            format!("{what} names Service {name:?} in namespace {ns:?}, which does not exist")
        })?;
        Ok(service)
    }

    pub(super) fn reaches_auth(
        &self,
        service: &Object,
        port: &Value,
    ) -> Result<&Container<'a>, String> {
        let (backend, _) = self.service_backend(service, port)?;
        match backend.binary {
            Some(binary) if binary.name == "auth-api" => Ok(backend),
            _ => Err(format!(
                "{} port {} delivers to {}, which is not auth-api",
                service.id(),
                port["port"],
                self.where_(backend)
            )),
        }
    }

    /// The Pods that must stay private (auth, the database) admit, through the NetworkPolicies
    /// that select them, only users and tasks Pods, on the port they listen on, and every
    /// client that needs them.
    pub(super) fn check_network_policy(&mut self) {
        let workloads: Vec<usize> = self.workloads().map(|(i, _)| i).collect();
        // users and tasks: the only Pods any private Pod may admit.
        let peers: BTreeSet<usize> = workloads
            .iter()
            .copied()
            .filter(|&w| self.runs(w, "users-api") || self.runs(w, "tasks-api"))
            .collect();
        let uses_database: BTreeSet<usize> = workloads
            .iter()
            .copied()
            .filter(|&w| {
                self.containers_of(w)
                    .any(|container| container.var(DATABASE_URL).is_some())
            })
            .collect();
        // (workload, what it runs, its container, who must be admitted, why)
        let mut private = Vec::new();
        for &w in &workloads {
            // auth alone in its Pod: in stage 2 it shares the users Pod, reached over localhost.
            if self.runs(w, "auth-api") && !self.runs(w, "users-api") {
                let container = self
                    .containers_of(w)
                    .find(|c| c.binary.is_some_and(|b| b.name == "auth-api"))
                    .cloned();
                private.push((w, "auth-api", container, peers.clone(), "calls auth"));
            }
            if let Some(container) = self.containers_of(w).find(|c| c.database.is_some()) {
                let name = container.database.map_or("?", |database| database.name);
                let container = Some(container.clone());
                private.push((
                    w,
                    name,
                    container,
                    uses_database.clone(),
                    "uses the database",
                ));
            }
        }
        for (target, process, container, clients, why) in private {
            let at = self.objects[target].id();
            let pod = self.pod_labels(target);
            let namespace = self.objects[target].namespace().to_owned();
            let listens = container.as_ref().and_then(|c| c.listen_port().ok());
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
            // A rule opening only the container's /metrics is the metrics check's to judge.
            let metrics = container.as_ref().and_then(|c| c.metrics_port()?.ok());
            let only_metrics = |rule: &Value| {
                let ports: Vec<&Value> = items(&rule["ports"]).collect();
                metrics.is_some_and(|metrics| {
                    !ports.is_empty()
                        && ports.iter().all(|port| match &port["port"] {
                            Value::String(name) => container
                                .as_ref()
                                .is_some_and(|c| c.named_port(name) == Some(metrics)),
                            number => number.as_u64() == Some(u64::from(metrics)),
                        })
                })
            };
            for policy in ingress_policies {
                for rule in
                    items(&policy.value["spec"]["ingress"]).filter(|rule| !only_metrics(rule))
                {
                    let sources: Vec<&Value> = items(&rule["from"]).collect();
                    if sources.is_empty() {
                        self.fail(
                            CHECK_NETWORK_POLICY,
                            format!(
                                "{}: an ingress rule without `from` admits every source",
                                policy.id()
                            ),
                        );
                    }
                    for source in sources {
                        if source.get("ipBlock").is_some()
                            || source.get("namespaceSelector").is_some()
                        {
                            self.fail(
                                CHECK_NETWORK_POLICY,
                                format!(
                                    "{}: peer {source} admits sources outside this namespace's Pods",
                                    policy.id()
                                ),
                            );
                        }
                        let Some(selector) = source.get("podSelector") else {
                            continue;
                        };
                        for &w in &workloads {
                            if self.objects[w].namespace() != namespace
                                || !label_selector_matches(selector, &self.pod_labels(w))
                            {
                                continue;
                            }
                            if peers.contains(&w) {
                                admitted.insert(w);
                            } else {
                                self.fail(
                                    CHECK_NETWORK_POLICY,
                                    format!(
                                        "{}: podSelector {selector} also admits {}, which is \
                                         neither users nor tasks",
                                        policy.id(),
                                        self.objects[w].id()
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
                        let ok = match (&port["port"], &container) {
                            (Value::String(name), Some(container)) => {
                                container.named_port(name).is_some()
                                    && container.named_port(name) == listens
                            }
                            (number, Some(_)) => {
                                number.as_u64().and_then(|n| u16::try_from(n).ok()) == listens
                            }
                            _ => false,
                        };
                        if !ok {
                            self.fail(
                                CHECK_NETWORK_POLICY,
                                format!(
                                    "{}: admits port {}, which is not the port {process} listens on",
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
                            "{at}: its NetworkPolicy does not admit {}, which {why}",
                            self.objects[*client].id()
                        ),
                    );
                }
            }
        }
    }
}
