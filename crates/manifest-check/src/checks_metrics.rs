//! GET /metrics, off the public path: every binary serves it on its own port (`METRICS_PORT`),
//! which its Pod declares and its scrape annotations name, which no public Service exposes and
//! which the NetworkPolicies admit only from the namespaces labelled for scraping.

use super::*;

/// `metadata.annotations` of a Pod template that tell Prometheus where to scrape.
const SCRAPE_PORT: &str = "prometheus.io/port";
const SCRAPE_PATH: &str = "prometheus.io/path";
pub(super) const METRICS_PATH: &str = "/metrics";

impl Container<'_> {
    /// The port of GET /metrics (`METRICS_PORT` or its default), for our binaries.
    pub(super) fn metrics_port(&self) -> Option<Result<u16, String>> {
        self.binary?;
        let (var, default) = METRICS_PORT;
        Some(match self.var(var) {
            None => Ok(default),
            Some(Ok(value)) => value
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|port| *port != 0)
                .ok_or_else(|| format!("{var}={value:?} is not a port number")),
            Some(Err(())) => Err(format!("{var} comes from valueFrom: cannot know the port")),
        })
    }

    /// Every port a process of this container listens on.
    pub(super) fn listen_ports(&self) -> Vec<u16> {
        if self.gateway.is_some() {
            return self.entry_point_ports();
        }
        let metrics = self.metrics_port().and_then(Result::ok);
        self.listen_port().ok().into_iter().chain(metrics).collect()
    }
}

/// Does the Service reach outside the cluster?
pub(super) fn is_public(service: &Object) -> bool {
    let spec = &service.value["spec"];
    matches!(spec["type"].as_str(), Some("LoadBalancer" | "NodePort"))
        || spec["externalIPs"]
            .as_array()
            .is_some_and(|ips| !ips.is_empty())
}

/// Is `peer` (of a NetworkPolicy rule) "Pods of the namespaces labelled for scraping"?
fn is_scraper(peer: &Value) -> bool {
    let (key, value) = SCRAPER_NAMESPACE_LABEL;
    let selector = &peer["namespaceSelector"];
    peer.get("ipBlock").is_none()
        && selector["matchExpressions"]
            .as_array()
            .is_none_or(Vec::is_empty)
        && labels(&selector["matchLabels"]) == BTreeMap::from([(key.to_owned(), value.to_owned())])
}

impl<'a> Model<'a> {
    pub(super) fn check_metrics(&mut self) {
        let containers = self.containers.clone();
        for container in &containers {
            let Some(Ok(port)) = container.metrics_port() else {
                if let Some(Err(error)) = container.metrics_port() {
                    self.fail(
                        CHECK_METRICS,
                        format!("{}: {error}", self.where_(container)),
                    );
                }
                continue;
            };
            let at = self.where_(container);
            if container.listen_port() == Ok(port) {
                self.fail(
                    CHECK_METRICS,
                    format!(
                        "{at}: {} and PORT are both {port}: the service refuses to start",
                        METRICS_PORT.0
                    ),
                );
            }
            let declared = items(&container.spec["ports"])
                .any(|entry| entry["containerPort"].as_u64() == Some(u64::from(port)));
            if !declared {
                self.fail(
                    CHECK_METRICS,
                    format!(
                        "{at}: serves /metrics on {port} but declares no containerPort for it \
                         (name it `metrics`: the scrape annotations, NetworkPolicies and \
                         ServiceMonitors name it)"
                    ),
                );
            }
            self.check_metrics_admitted(container, port, &at);
        }
        self.check_scrape_annotations();
        self.check_shared_ports();
        self.check_service_monitors();
    }

    /// Each Pod running a binary says where its /metrics is, and means a binary's metrics port.
    fn check_scrape_annotations(&mut self) {
        let workloads: Vec<usize> = self.workloads().map(|(index, _)| index).collect();
        for workload in workloads {
            let ports: Vec<u16> = self
                .containers_of(workload)
                .filter_map(|container| container.metrics_port()?.ok())
                .collect();
            if ports.is_empty() {
                continue;
            }
            let at = self.objects[workload].id();
            let annotations =
                &self.objects[workload].value["spec"]["template"]["metadata"]["annotations"];
            let named = annotations[SCRAPE_PORT]
                .as_str()
                .and_then(|port| port.parse::<u16>().ok());
            if named.is_none_or(|port| !ports.contains(&port)) {
                self.fail(
                    CHECK_METRICS,
                    format!(
                        "{at}: Pod annotation {SCRAPE_PORT} is {}, but its /metrics is on {ports:?}",
                        annotations[SCRAPE_PORT]
                    ),
                );
            }
            if annotations[SCRAPE_PATH] != METRICS_PATH {
                self.fail(
                    CHECK_METRICS,
                    format!(
                        "{at}: Pod annotation {SCRAPE_PATH} is {}, not {METRICS_PATH:?}",
                        annotations[SCRAPE_PATH]
                    ),
                );
            }
        }
    }

    /// Two containers of one Pod share its network namespace: no two may listen on one port.
    fn check_shared_ports(&mut self) {
        let workloads: Vec<usize> = self.workloads().map(|(index, _)| index).collect();
        for workload in workloads {
            let mut taken: BTreeMap<u16, String> = BTreeMap::new();
            let mut clashes = Vec::new();
            for container in self.containers_of(workload) {
                for port in container.listen_ports() {
                    if let Some(other) = taken.insert(port, container.name().to_owned())
                        && other != container.name()
                    {
                        clashes.push(format!(
                            "{}: containers {other} and {} both listen on {port} (PORT or {}): \
                             one of them cannot start",
                            self.objects[workload].id(),
                            container.name(),
                            METRICS_PORT.0
                        ));
                    }
                }
            }
            for message in clashes {
                self.fail(CHECK_CONTAINER_PORTS, message);
            }
        }
    }

    /// The NetworkPolicies selecting the container's Pods admit its metrics port from the
    /// scrapers' namespaces, and from nowhere else.
    fn check_metrics_admitted(&mut self, container: &Container, port: u16, at: &str) {
        let namespace = self.objects[container.workload].namespace().to_owned();
        let pod = self.pod_labels(container.workload);
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
            return self.fail(
                CHECK_METRICS,
                format!("{at}: no NetworkPolicy selects its Pods, so /metrics on {port} is open to every Pod"),
            );
        }
        let mut findings = Vec::new();
        let mut admitted = false;
        for policy in policies {
            for rule in items(&policy.value["spec"]["ingress"]) {
                if !self.rule_covers(rule, container.workload, port) {
                    continue;
                }
                let peers: Vec<&Value> = items(&rule["from"]).collect();
                if peers.is_empty() {
                    findings.push(format!(
                        "{}: admits port {port}, /metrics of {at}, from anywhere",
                        policy.id()
                    ));
                }
                for peer in peers {
                    if is_scraper(peer) {
                        admitted = true;
                    } else {
                        findings.push(format!(
                            "{}: admits port {port}, /metrics of {at}, from {peer}: only from \
                             namespaces labelled {}={}",
                            policy.id(),
                            SCRAPER_NAMESPACE_LABEL.0,
                            SCRAPER_NAMESPACE_LABEL.1
                        ));
                    }
                }
            }
        }
        if !admitted {
            findings.push(format!(
                "{at}: no NetworkPolicy admits /metrics (port {port}) from namespaces labelled \
                 {}={}: Prometheus cannot scrape it",
                SCRAPER_NAMESPACE_LABEL.0, SCRAPER_NAMESPACE_LABEL.1
            ));
        }
        for message in findings {
            self.fail(CHECK_METRICS, message);
        }
    }

    /// Does a NetworkPolicy ingress rule open `port` of the workload's Pods (a rule without
    /// `ports` opens them all)?
    pub(super) fn rule_covers(&self, rule: &Value, workload: usize, port: u16) -> bool {
        let ports: Vec<&Value> = items(&rule["ports"]).collect();
        ports.is_empty()
            || ports.into_iter().any(|entry| match &entry["port"] {
                Value::Null => true,
                Value::String(name) => self
                    .containers_of(workload)
                    .any(|container| container.named_port(name) == Some(port)),
                number => number.as_u64() == Some(u64::from(port)),
            })
    }
}
