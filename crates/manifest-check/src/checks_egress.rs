//! The way out of each Pod. Every namespace of the lesson has a default deny for ingress and
//! egress (a NetworkPolicy over all its Pods, without rules), so each connection the wiring makes
//! needs an egress rule on the caller's side as well as an ingress rule on the callee's: users and
//! tasks to auth and to the database, the frontend to users and tasks, and each Pod that looks up
//! a name to the cluster DNS, and a Gateway to its routes' backends. And no egress rule opens more
//! than those connections: none to any address (no `to`, an `ipBlock`; but a Gateway's to the
//! API server's ports, [`API_SERVER_PORTS`]), none to a Pod of ours that the Pods never call.

use super::*;

/// Where the cluster DNS answers: the Pods labelled `k8s-app=kube-dns` (CoreDNS, as kubeadm,
/// minikube and the clouds label it) in `kube-system`, on 53 over UDP and TCP.
pub const CLUSTER_DNS: (&str, (&str, &str), u16) = ("kube-system", ("k8s-app", "kube-dns"), 53);

/// The label every namespace carries, its own name (Kubernetes 1.21 on).
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// The other end of a connection: Pods of a namespace with these labels, where a named port
/// means the port `named` gives it.
struct Peer<'p> {
    namespace: String,
    labels: BTreeMap<String, String>,
    named: &'p dyn Fn(&str) -> Option<u16>,
}

/// For peers without named ports.
fn no_names(_: &str) -> Option<u16> {
    None
}

fn types_include(policy: &Object, kind: &str) -> bool {
    let types = &policy.value["spec"]["policyTypes"];
    items(types).any(|t| t == kind)
        || (types.is_null()
            && (kind == "Ingress" || policy.value["spec"].get(kind.to_lowercase()).is_some()))
}

/// Does a `to` peer of an egress rule match Pods of `peer`? (An `ipBlock` matches no Pod here:
/// Pod addresses are not in the manifests; such rules are reported on their own.)
fn peer_matches(entry: &Value, from_namespace: &str, peer: &Peer) -> bool {
    if entry.get("ipBlock").is_some() {
        return false;
    }
    let namespace_ok = match entry.get("namespaceSelector") {
        None => peer.namespace == from_namespace,
        Some(selector) => label_selector_matches(
            selector,
            &BTreeMap::from([(NAMESPACE_NAME_LABEL.to_owned(), peer.namespace.clone())]),
        ),
    };
    let pods_ok = entry
        .get("podSelector")
        .is_none_or(|selector| label_selector_matches(selector, &peer.labels));
    namespace_ok && pods_ok
}

fn port_matches(entry: &Value, protocol: &str, port: u16, peer: &Peer) -> bool {
    let protocol_ok = entry["protocol"].as_str().unwrap_or("TCP") == protocol;
    let first = match &entry["port"] {
        Value::Null => return protocol_ok,
        Value::String(name) => (peer.named)(name),
        number => number.as_u64().and_then(|n| u16::try_from(n).ok()),
    };
    let last = entry["endPort"]
        .as_u64()
        .and_then(|n| u16::try_from(n).ok())
        .or(first);
    protocol_ok && first.is_some_and(|first| first <= port && Some(port) <= last)
}

impl<'a> Model<'a> {
    /// The NetworkPolicies that isolate the workload's Pods for egress.
    fn egress_policies(&self, workload: usize) -> Vec<&'a Object> {
        let namespace = self.objects[workload].namespace();
        let pod = self.pod_labels(workload);
        self.of_kind("NetworkPolicy")
            .map(|(_, policy)| policy)
            .filter(|policy| policy.namespace() == namespace)
            .filter(|policy| label_selector_matches(&policy.value["spec"]["podSelector"], &pod))
            .filter(|policy| types_include(policy, "Egress"))
            .collect()
    }

    /// May the workload's Pods open a `protocol` connection to `port` of `peer`? (Pods no
    /// policy isolates for egress may go anywhere.)
    fn egress_admits(&self, from: usize, peer: &Peer, protocol: &str, port: u16) -> bool {
        let policies = self.egress_policies(from);
        let namespace = self.objects[from].namespace();
        policies.is_empty()
            || policies.iter().any(|policy| {
                items(&policy.value["spec"]["egress"]).any(|rule| {
                    let to: Vec<&Value> = items(&rule["to"]).collect();
                    let ports: Vec<&Value> = items(&rule["ports"]).collect();
                    (to.is_empty() || to.iter().any(|entry| peer_matches(entry, namespace, peer)))
                        && (ports.is_empty()
                            || ports
                                .iter()
                                .any(|entry| port_matches(entry, protocol, port, peer)))
                })
            })
    }

    /// The Pods of the workload as a peer whose named ports `named` knows.
    fn pods_of<'p>(&self, workload: usize, named: &'p dyn Fn(&str) -> Option<u16>) -> Peer<'p> {
        Peer {
            namespace: self.objects[workload].namespace().to_owned(),
            labels: self.pod_labels(workload),
            named,
        }
    }

    /// The connections the wiring makes: (client workload, the container it reaches, its port).
    fn links(&self) -> Vec<(usize, &Container<'a>, u16)> {
        let mut links = Vec::new();
        for container in &self.containers {
            let mut backends = Vec::new();
            if container.binary.is_some_and(|binary| binary.calls_auth)
                && let Ok(auth) = self.auth_of(container)
            {
                backends.push(auth);
            }
            if let Some(database) = self.database_backend(container) {
                backends.push(database);
            }
            for upstream in container.proxy.map_or(&[][..], |proxy| proxy.upstreams) {
                if let Ok((backend, _)) = self.upstream_backend(container, upstream) {
                    backends.push(backend);
                }
            }
            for backend in backends {
                // Over localhost (stage 2) nothing leaves the Pod.
                if backend.workload != container.workload
                    && let Ok(port) = backend.listen_port()
                {
                    links.push((container.workload, backend, port));
                }
            }
        }
        links.extend(self.gateway_links());
        links
    }

    /// A rule without `to` on API server ports only, in a policy whose Pods all run a Gateway
    /// implementation that watches the API with its ServiceAccount's token: the one way out to
    /// an address that is no Pod which the wiring needs.
    fn reaches_the_api_server(&self, policy: &Object, rule: &Value) -> bool {
        let ports: Vec<&Value> = items(&rule["ports"]).collect();
        let selected: Vec<usize> = self
            .workloads()
            .map(|(index, _)| index)
            .filter(|&index| self.objects[index].namespace() == policy.namespace())
            .filter(|&index| {
                label_selector_matches(
                    &policy.value["spec"]["podSelector"],
                    &self.pod_labels(index),
                )
            })
            .collect();
        !ports.is_empty()
            && ports.iter().all(|entry| {
                entry["protocol"].as_str().unwrap_or("TCP") == "TCP"
                    && entry["endPort"].is_null()
                    && entry["port"]
                        .as_u64()
                        .is_some_and(|port| API_SERVER_PORTS.iter().any(|p| u64::from(*p) == port))
            })
            && !selected.is_empty()
            && selected.iter().all(|&index| {
                self.pod_spec(index)["automountServiceAccountToken"] == Value::Bool(true)
                    && self
                        .containers_of(index)
                        .all(|container| container.gateway.is_some())
            })
    }

    /// Does this container look names up in the cluster DNS (a Service by name, its proxies'
    /// headless Service)?
    fn resolves_names(&self, container: &Container) -> bool {
        let by_name = |var: &str| {
            container.var(var).is_some_and(|value| {
                value.is_ok_and(|raw| {
                    let host = raw.trim().trim_start_matches("http://");
                    !host.starts_with("localhost") && !host.starts_with("127.")
                })
            })
        };
        container.proxy.is_some()
            || by_name("AUTH_ADDRESS")
            || by_name(DATABASE_URL)
            || by_name(TRUSTED_PROXIES)
    }

    pub(super) fn check_egress(&mut self) {
        self.check_default_deny();
        let links = self.links();
        let mut findings = Vec::new();
        for &(from, backend, port) in &links {
            let named = |name: &str| backend.named_port(name);
            let peer = self.pods_of(backend.workload, &named);
            if !self.egress_admits(from, &peer, "TCP", port) {
                findings.push(format!(
                    "{}: no egress rule lets its Pods out to {} on TCP {port}, which it calls: \
                     the default deny drops the connection",
                    self.objects[from].id(),
                    self.where_(backend)
                ));
            }
        }
        let (dns_namespace, (key, value), dns_port) = CLUSTER_DNS;
        let dns = Peer {
            namespace: dns_namespace.to_owned(),
            labels: BTreeMap::from([(key.to_owned(), value.to_owned())]),
            named: &no_names,
        };
        let mut resolvers: Vec<usize> = self
            .containers
            .iter()
            .filter(|container| self.resolves_names(container))
            .map(|container| container.workload)
            .collect();
        resolvers.sort_unstable();
        resolvers.dedup();
        for from in resolvers {
            for protocol in ["UDP", "TCP"] {
                if !self.egress_admits(from, &dns, protocol, dns_port) {
                    findings.push(format!(
                        "{}: no egress rule lets its Pods ask the cluster DNS ({key}={value} Pods \
                         in {dns_namespace}) on {protocol} {dns_port}: every name it looks up \
                         fails to resolve",
                        self.objects[from].id()
                    ));
                }
            }
        }
        findings.extend(self.egress_too_wide(&links));
        for message in findings {
            self.fail(CHECK_NETWORK_POLICY, message);
        }
    }

    /// Egress rules that open more than the wiring's connections.
    fn egress_too_wide(&self, links: &[(usize, &Container<'a>, u16)]) -> Vec<String> {
        let mut findings = Vec::new();
        for (_, policy) in self.of_kind("NetworkPolicy") {
            for rule in items(&policy.value["spec"]["egress"]) {
                let to: Vec<&Value> = items(&rule["to"]).collect();
                if to.is_empty() && self.reaches_the_api_server(policy, rule) {
                    continue;
                }
                if to.is_empty() || to.iter().any(|entry| entry.get("ipBlock").is_some()) {
                    findings.push(format!(
                        "{}: an egress rule {} lets its Pods out to any address, the world outside \
                         the cluster included; name the Pods they call",
                        policy.id(),
                        if to.is_empty() {
                            "without `to`"
                        } else {
                            "with an ipBlock"
                        }
                    ));
                }
            }
        }
        let workloads: Vec<usize> = self.workloads().map(|(index, _)| index).collect();
        for &from in &workloads {
            if self.egress_policies(from).is_empty() {
                continue;
            }
            for container in self.containers.iter().filter(|c| c.workload != from) {
                let named = |name: &str| container.named_port(name);
                let peer = self.pods_of(container.workload, &named);
                for port in container.listen_ports() {
                    let called = links.iter().any(|&(client, backend, to)| {
                        client == from && backend.workload == container.workload && to == port
                    });
                    if !called && self.egress_admits(from, &peer, "TCP", port) {
                        findings.push(format!(
                            "{}: egress lets its Pods out to {} on TCP {port}, which they never \
                             call",
                            self.objects[from].id(),
                            self.where_(container)
                        ));
                    }
                }
            }
        }
        findings
    }

    /// Each namespace with workloads isolates all its Pods, ingress and egress: a NetworkPolicy
    /// with an empty podSelector, both policy types, and no rules.
    fn check_default_deny(&mut self) {
        let namespaces: BTreeSet<&str> = self
            .workloads()
            .map(|(_, workload)| workload.namespace())
            .collect();
        for namespace in namespaces {
            let denies = self.of_kind("NetworkPolicy").any(|(_, policy)| {
                let spec = &policy.value["spec"];
                policy.namespace() == namespace
                    && spec["podSelector"].as_object().is_some_and(|s| {
                        s.values().all(|v| {
                            v.as_object().is_some_and(|m| m.is_empty())
                                || v.as_array().is_some_and(|a| a.is_empty())
                        })
                    })
                    && items(&spec["policyTypes"]).any(|t| t == "Ingress")
                    && items(&spec["policyTypes"]).any(|t| t == "Egress")
                    && items(&spec["ingress"]).next().is_none()
                    && items(&spec["egress"]).next().is_none()
            });
            if !denies {
                self.fail(
                    CHECK_NETWORK_POLICY,
                    format!(
                        "namespace {namespace:?}: no default deny (a NetworkPolicy with podSelector \
                         {{}}, policyTypes [Ingress, Egress] and no rules): every Pod that no other \
                         policy isolates admits and sends anything"
                    ),
                );
            }
        }
    }
}
