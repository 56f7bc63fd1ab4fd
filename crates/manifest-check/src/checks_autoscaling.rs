//! HorizontalPodAutoscalers (stage 7): each scales a workload of these manifests, which leaves
//! its replicas to it (a `spec.replicas` would be put back by every `kubectl apply`), and a CPU
//! or memory target in % has that resource requested by every container it averages over. The
//! replicas and disruption-budget checks count the most Pods an autoscaler may run.

use super::*;

impl<'a> Model<'a> {
    /// The HorizontalPodAutoscaler whose scaleTargetRef is the workload, if one is.
    pub(super) fn autoscaler_of(&self, workload: usize) -> Option<&'a Object> {
        let target = &self.objects[workload];
        self.objects.iter().find(|hpa| {
            let scales = &hpa.value["spec"]["scaleTargetRef"];
            hpa.kind() == "HorizontalPodAutoscaler"
                && hpa.namespace() == target.namespace()
                && scales["kind"] == target.kind()
                && scales["name"] == target.name()
        })
    }

    pub(super) fn check_autoscalers(&mut self) {
        let mut findings = Vec::new();
        for (_, hpa) in self.of_kind("HorizontalPodAutoscaler") {
            let scales = &hpa.value["spec"]["scaleTargetRef"];
            let Some((workload, target)) = self.workloads().find(|(_, workload)| {
                workload.namespace() == hpa.namespace()
                    && scales["kind"] == workload.kind()
                    && scales["name"] == workload.name()
            }) else {
                findings.push(format!(
                    "{}: scaleTargetRef {} {} is no workload of these manifests",
                    hpa.id(),
                    scales["kind"],
                    scales["name"]
                ));
                continue;
            };
            if !target.value["spec"]["replicas"].is_null() {
                findings.push(format!(
                    "{}: sets replicas, which {} scales: every `kubectl apply` would reset them",
                    target.id(),
                    hpa.id()
                ));
            }
            let spec = &hpa.value["spec"];
            let (min, max) = (
                spec["minReplicas"].as_u64().unwrap_or(1),
                spec["maxReplicas"].as_u64(),
            );
            if max.is_none_or(|max| max < min) {
                findings.push(format!(
                    "{}: maxReplicas {} under minReplicas {min}",
                    hpa.id(),
                    spec["maxReplicas"]
                ));
            }
            for metric in items(&spec["metrics"]) {
                let resource = &metric["resource"];
                let Some(name) = resource["name"].as_str() else {
                    continue;
                };
                if metric["type"] != "Resource" || resource["target"]["type"] != "Utilization" {
                    continue;
                }
                for container in self.containers_of(workload) {
                    if container.spec["resources"]["requests"][name].is_null() {
                        findings.push(format!(
                            "{}: {} targets {name} in % of requests, but {} requests no {name}: \
                             the autoscaler cannot compute it and never scales",
                            hpa.id(),
                            target.id(),
                            self.where_(container)
                        ));
                    }
                }
            }
        }
        for message in findings {
            self.fail(CHECK_AUTOSCALING, message);
        }
    }
}
