//! Pod Security Admission: the lesson's namespace is labelled
//! `pod-security.kubernetes.io/enforce=restricted`, so the API server refuses any Pod that the
//! `restricted` profile does not admit, and a Deployment whose template breaks it never gets a
//! Pod. Each workload's Pod template is checked against that profile (Kubernetes 1.36 `latest`):
//! no host namespaces, ports or paths, only the volume types it allows, only safe sysctls,
//! non-root, seccomp `RuntimeDefault` (or `Localhost`), and every container without privilege
//! escalation, with every capability dropped (`NET_BIND_SERVICE` alone may be added back).

use super::*;

/// The sysctls the baseline (and so the restricted) profile allows: Kubernetes' safe set.
pub const SAFE_SYSCTLS: [&str; 10] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

/// The volume types the restricted profile allows.
const VOLUME_TYPES: [&str; 8] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

impl Model<'_> {
    pub(super) fn check_pod_security(&mut self) {
        let mut findings = Vec::new();
        for (index, workload) in self.workloads() {
            let at = workload.id();
            let spec = self.pod_spec(index);
            let pod = &spec["securityContext"];
            for host in ["hostNetwork", "hostPID", "hostIPC"] {
                if spec[host] == true {
                    findings.push(format!("{at}: {host}: true"));
                }
            }
            for volume in items(&spec["volumes"]) {
                let name = volume["name"].as_str().unwrap_or("?");
                let kinds: Vec<&String> = volume
                    .as_object()
                    .into_iter()
                    .flat_map(|fields| fields.keys())
                    .filter(|key| *key != "name")
                    .collect();
                if kinds
                    .iter()
                    .any(|kind| !VOLUME_TYPES.contains(&kind.as_str()))
                {
                    findings.push(format!(
                        "{at}: volume {name} is {kinds:?}; restricted allows only {VOLUME_TYPES:?}"
                    ));
                }
            }
            for sysctl in items(&pod["sysctls"]) {
                let name = sysctl["name"].as_str().unwrap_or("?");
                if !SAFE_SYSCTLS.contains(&name) {
                    findings.push(format!(
                        "{at}: sysctl {name} is not one of the safe sysctls"
                    ));
                }
            }
            if pod["runAsUser"] == 0 {
                findings.push(format!("{at}: the Pod's runAsUser is 0 (root)"));
            }
            let pod_seccomp = seccomp_ok(&pod["seccompProfile"]);
            if pod["seccompProfile"].is_object() && !pod_seccomp {
                findings.push(format!(
                    "{at}: the Pod's seccompProfile is {}, not RuntimeDefault or Localhost",
                    pod["seccompProfile"]["type"]
                ));
            }
            let containers = items(&spec["initContainers"])
                .chain(items(&spec["containers"]))
                .chain(items(&spec["ephemeralContainers"]));
            for container in containers {
                let name = container["name"].as_str().unwrap_or("?");
                let context = &container["securityContext"];
                let at = format!("container {name} of {at}");
                let non_root = match &context["runAsNonRoot"] {
                    Value::Bool(value) => *value,
                    _ => pod["runAsNonRoot"] == true,
                };
                if !non_root {
                    findings.push(format!("{at}: runAsNonRoot is not true (Pod or container)"));
                }
                if context["runAsUser"] == 0 {
                    findings.push(format!("{at}: runAsUser is 0 (root)"));
                }
                let seccomp = match &context["seccompProfile"] {
                    Value::Null => pod_seccomp,
                    profile => seccomp_ok(profile),
                };
                if !seccomp {
                    findings.push(format!(
                        "{at}: no seccompProfile RuntimeDefault or Localhost (Pod or container)"
                    ));
                }
                if context["privileged"] == true {
                    findings.push(format!("{at}: privileged"));
                }
                if context["allowPrivilegeEscalation"] != false {
                    findings.push(format!("{at}: allowPrivilegeEscalation is not false"));
                }
                let drops: Vec<&str> = items(&context["capabilities"]["drop"])
                    .filter_map(Value::as_str)
                    .collect();
                if !drops.contains(&"ALL") {
                    findings.push(format!("{at}: capabilities.drop does not include ALL"));
                }
                for added in items(&context["capabilities"]["add"]).filter_map(Value::as_str) {
                    if added != "NET_BIND_SERVICE" {
                        findings.push(format!(
                            "{at}: adds capability {added} (only NET_BIND_SERVICE is allowed)"
                        ));
                    }
                }
                if items(&container["ports"])
                    .any(|port| port["hostPort"].as_u64().unwrap_or(0) != 0)
                {
                    findings.push(format!("{at}: a hostPort"));
                }
                if !matches!(context["procMount"].as_str(), None | Some("Default")) {
                    findings.push(format!("{at}: procMount {}", context["procMount"]));
                }
            }
        }
        for message in findings {
            self.fail(
                CHECK_POD_SECURITY,
                format!("{message}: the restricted Pod Security profile refuses the Pod"),
            );
        }
    }
}

fn seccomp_ok(profile: &Value) -> bool {
    matches!(
        profile["type"].as_str(),
        Some("RuntimeDefault" | "Localhost")
    )
}
