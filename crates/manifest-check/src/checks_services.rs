//! Services: selectors and ports; /metrics only behind ClusterIP Services, and the
//! ServiceMonitors that scrape through them.

use super::*;

impl<'a> Model<'a> {
    pub(super) fn check_selectors(&mut self) {
        for (index, workload) in self.workloads() {
            let pod = self.pod_labels(index);
            let selector = &workload.value["spec"]["selector"];
            if !label_selector_matches(selector, &pod) || selector.is_null() {
                self.fail(
                    CHECK_SELECTORS,
                    format!(
                        "{}: spec.selector does not match its own Pod template labels {pod:?}",
                        workload.id()
                    ),
                );
            }
            if workload.kind() == "StatefulSet" {
                // The governing Service: the one the StatefulSet's Pods are named under.
                let name = workload.value["spec"]["serviceName"].as_str().unwrap_or("");
                let governs = self
                    .find_service(name, workload.namespace())
                    .is_some_and(|(_, service)| self.service_targets(service) == [index]);
                if !governs {
                    self.fail(
                        CHECK_SELECTORS,
                        format!(
                            "{}: serviceName {name:?} is no Service of its namespace that \
                             selects its Pods",
                            workload.id()
                        ),
                    );
                }
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
                         one Deployment or StatefulSet, matches {names:?}",
                        service.id()
                    ),
                );
            }
        }
    }

    pub(super) fn check_service_ports(&mut self) {
        for (_, service) in self.of_kind("Service") {
            if self.service_targets(service).len() != 1 {
                continue; // reported by the selector check
            }
            for port in items(&service.value["spec"]["ports"]) {
                if let Some(metrics) = self.metrics_target(service, port) {
                    if checks_metrics::is_public(service) {
                        self.fail(
                            CHECK_METRICS,
                            format!(
                                "{} port {}: delivers to /metrics (container port {metrics}) and \
                                 is reachable from outside the cluster ({}); only a ClusterIP \
                                 Service may",
                                service.id(),
                                port["port"],
                                service.value["spec"]["type"]
                            ),
                        );
                    }
                } else if let Err(message) = self.service_backend(service, port) {
                    self.fail(CHECK_SERVICE_PORTS, message);
                }
            }
        }
    }

    /// The metrics port a Service port delivers to, if it targets one.
    pub(super) fn metrics_target(&self, service: &Object, port: &Value) -> Option<u16> {
        let [workload] = self.service_targets(service)[..] else {
            return None;
        };
        let target = match port.get("targetPort") {
            Some(target) if !target.is_null() => target,
            _ => &port["port"],
        };
        self.containers_of(workload).find_map(|container| {
            let metrics = container.metrics_port()?.ok()?;
            let declared = match target {
                Value::String(name) => container.named_port(name)?,
                number => u16::try_from(number.as_u64()?).ok()?,
            };
            (declared == metrics).then_some(metrics)
        })
    }

    /// A ServiceMonitor selects Services whose named port is /metrics of their Pods.
    pub(super) fn check_service_monitors(&mut self) {
        let mut findings = Vec::new();
        for (_, monitor) in self.of_kind("ServiceMonitor") {
            let spec = &monitor.value["spec"];
            let namespaces: Vec<&str> = match spec["namespaceSelector"]["matchNames"].as_array() {
                Some(names) => names.iter().filter_map(Value::as_str).collect(),
                None => vec![monitor.namespace()],
            };
            let services: Vec<&Object> = self
                .of_kind("Service")
                .map(|(_, service)| service)
                .filter(|service| namespaces.contains(&service.namespace()))
                .filter(|service| {
                    label_selector_matches(
                        &spec["selector"],
                        &labels(&service.value["metadata"]["labels"]),
                    )
                })
                .collect();
            if services.is_empty() {
                findings.push(format!("{}: its selector matches no Service", monitor.id()));
            }
            for endpoint in items(&spec["endpoints"]) {
                let name = endpoint["port"].as_str().unwrap_or("");
                if !matches!(
                    endpoint["path"].as_str(),
                    None | Some(checks_metrics::METRICS_PATH)
                ) {
                    findings.push(format!(
                        "{}: endpoint path {} is not {:?}",
                        monitor.id(),
                        endpoint["path"],
                        checks_metrics::METRICS_PATH
                    ));
                }
                for service in &services {
                    let port =
                        items(&service.value["spec"]["ports"]).find(|port| port["name"] == name);
                    if port
                        .and_then(|port| self.metrics_target(service, port))
                        .is_none()
                    {
                        findings.push(format!(
                            "{}: endpoint port {name:?} of {} is no port of it that delivers to /metrics",
                            monitor.id(),
                            service.id()
                        ));
                    }
                }
            }
        }
        for message in findings {
            self.fail(CHECK_METRICS, message);
        }
    }
}
