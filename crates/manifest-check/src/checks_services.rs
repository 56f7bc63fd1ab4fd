//! Services: selectors and ports.

use super::*;

impl Model<'_> {
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
                if let Err(message) = self.service_backend(service, port) {
                    self.fail(CHECK_SERVICE_PORTS, message);
                }
            }
        }
    }
}
