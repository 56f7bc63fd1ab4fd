//! How users and tasks reach auth, and who may reach it.

use super::*;

impl Model<'_> {
    /// users and tasks must reach a Service (or a container of their Pod) that delivers to
    /// auth-api on the port auth-api listens on.
    pub(super) fn check_auth_address(&self, container: &Container) -> Result<(), String> {
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

    pub(super) fn reaches_auth(&self, service: &Object, port: &Value) -> Result<(), String> {
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

    pub(super) fn check_network_policy(&mut self) {
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
