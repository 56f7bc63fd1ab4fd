//! The frontend's nginx: its port, variables and probes, and, for each service it proxies to,
//! a Service that delivers to that binary and NetworkPolicies that let the frontend in.

use super::*;

impl<'a> Model<'a> {
    pub(super) fn check_proxy(&mut self, container: &Container, proxy: &Proxy, at: &str) {
        self.check_container_ports(container, &format!("{}'s nginx", proxy.name), at);
        let reads: Vec<&str> = proxy
            .upstreams
            .iter()
            .map(|upstream| upstream.var)
            .collect();
        for name in container.env().keys() {
            if !reads.contains(&name.as_str()) {
                self.fail(
                    CHECK_ENV,
                    format!(
                        "{at}: sets {name}, which {}'s image never reads (it reads {reads:?})",
                        proxy.name
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
        for (probe, _) in PROBES {
            let get = &container.spec[probe]["httpGet"];
            if get.is_null() {
                self.fail(CHECK_PROBES, format!("{at}: no {probe}.httpGet"));
                continue;
            }
            let path = get["path"].as_str().unwrap_or("");
            if path != proxy.probe_path {
                self.fail(
                    CHECK_PROBES,
                    format!(
                        "{at}: {probe} GETs {path:?}, expected {:?} (the page nginx serves)",
                        proxy.probe_path
                    ),
                );
            }
            let port = match &get["port"] {
                Value::String(name) => container.named_port(name),
                other => other.as_u64().and_then(|port| u16::try_from(port).ok()),
            };
            if port != Some(proxy.port) {
                self.fail(
                    CHECK_PROBES,
                    format!(
                        "{at}: {probe} port {} is {}, but {}'s nginx listens on {}",
                        get["port"],
                        port.map_or("no port".to_owned(), |p| p.to_string()),
                        proxy.name,
                        proxy.port
                    ),
                );
            }
        }
        for upstream in proxy.upstreams {
            if let Err(message) = self.check_upstream(container, upstream) {
                self.fail(CHECK_UPSTREAMS, format!("{at}: {message}"));
            }
        }
    }

    /// `upstream.var` (or the image's default) names a Service of this namespace, on one of its
    /// ports, that delivers to `upstream.binary`, whose NetworkPolicies admit the frontend.
    fn check_upstream(&self, container: &Container, upstream: &Upstream) -> Result<(), String> {
        let (backend, listens) = self.upstream_backend(container, upstream)?;
        self.admits(backend, container.workload, listens)
    }

    /// The container (and its port) that the proxy's `upstream` delivers to.
    pub(super) fn upstream_backend(
        &self,
        container: &Container,
        upstream: &Upstream,
    ) -> Result<(&Container<'a>, u16), String> {
        let var = upstream.var;
        let namespace = self.objects[container.workload].namespace();
        let raw = match container.var(var) {
            Some(Err(())) => return Err(format!("{var} comes from valueFrom: unknowable")),
            Some(Ok(raw)) => raw.trim().to_owned(),
            None => upstream.default.to_owned(),
        };
        let (host, port) = match raw.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse::<u16>()
                    .map_err(|_| format!("{var}={raw:?}: bad port {port:?}"))?,
            ),
            None => (raw.as_str(), 80),
        };
        let host = host.trim_end_matches('.');
        if host.parse::<std::net::IpAddr>().is_ok() {
            return Err(format!(
                "{var}={raw:?} is a hard-coded IP; name the Service instead"
            ));
        }
        let what = format!("{var}={raw:?}");
        let (service, service_port) = self.service_port_named(&what, host, port, namespace)?;
        let (backend, listens) = self.service_backend(service, service_port)?;
        if backend.binary.map(|binary| binary.name) != Some(upstream.binary) {
            return Err(format!(
                "{var}={raw:?}: {} port {port} delivers to {}, which is not {}",
                service.id(),
                self.where_(backend),
                upstream.binary
            ));
        }
        Ok((backend, listens))
    }

    /// Do the NetworkPolicies selecting `target`'s Pods admit the Pods of workload `from`
    /// on port `port` of `target`? (No Ingress policy selecting them admits everything.)
    pub(super) fn admits(&self, target: &Container, from: usize, port: u16) -> Result<(), String> {
        let namespace = self.objects[target.workload].namespace();
        let pod = self.pod_labels(target.workload);
        let from_namespace = self.objects[from].namespace();
        let from_pod = self.pod_labels(from);
        let policies: Vec<&Object> = self
            .of_kind("NetworkPolicy")
            .map(|(_, policy)| policy)
            .filter(|policy| policy.namespace() == namespace)
            .filter(|policy| label_selector_matches(&policy.value["spec"]["podSelector"], &pod))
            .filter(|policy| {
                let types = &policy.value["spec"]["policyTypes"];
                items(types).any(|t| t == "Ingress")
                    || (types.is_null() && policy.value["spec"].get("ingress").is_some())
            })
            .collect();
        if policies.is_empty() {
            return Ok(());
        }
        let peer_admits = |peer: &Value| {
            let namespace_ok = match peer.get("namespaceSelector") {
                None => from_namespace == namespace,
                // Namespace labels are not in the manifests: `{}` (every namespace) and the
                // label every namespace carries, kubernetes.io/metadata.name, are understood.
                Some(selector) => {
                    let labels = BTreeMap::from([(
                        "kubernetes.io/metadata.name".to_owned(),
                        from_namespace.to_owned(),
                    )]);
                    label_selector_matches(selector, &labels)
                }
            };
            let pod_ok = match peer.get("podSelector") {
                Some(selector) => label_selector_matches(selector, &from_pod),
                None => peer.get("namespaceSelector").is_some(),
            };
            namespace_ok && pod_ok
        };
        let port_admits = |entry: &Value| {
            let protocol_ok = matches!(entry["protocol"].as_str(), None | Some("TCP"));
            let port_ok = match &entry["port"] {
                Value::Null => true,
                Value::String(name) => target.named_port(name) == Some(port),
                number => number.as_u64() == Some(u64::from(port)),
            };
            protocol_ok && port_ok
        };
        let admitted = policies.iter().any(|policy| {
            items(&policy.value["spec"]["ingress"]).any(|rule| {
                let peers: Vec<&Value> = items(&rule["from"]).collect();
                let ports: Vec<&Value> = items(&rule["ports"]).collect();
                (peers.is_empty() || peers.into_iter().any(peer_admits))
                    && (ports.is_empty() || ports.into_iter().any(port_admits))
            })
        });
        if admitted {
            Ok(())
        } else {
            let names: Vec<String> = policies.iter().map(|policy| policy.id()).collect();
            Err(format!(
                "{names:?} select {}'s Pods but none admits {} on port {port}",
                self.objects[target.workload].id(),
                self.objects[from].id()
            ))
        }
    }
}
