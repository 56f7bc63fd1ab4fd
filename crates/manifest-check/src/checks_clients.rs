//! Whose `X-Forwarded-For` a service believes (`TRUSTED_PROXIES`): exactly the proxies in front
//! of it (the frontend's nginx, a Gateway whose routes send to it), by name of a headless Service over their Pods, never an address range that any Pod
//! could land in; and, behind a proxy, something, or every client behind it counts as one.

use super::*;

impl Model<'_> {
    pub(super) fn check_trusted_proxies(&mut self) {
        let containers = self.containers.clone();
        for container in &containers {
            let Some(binary) = container.binary else {
                continue;
            };
            if !(binary.reads)().iter().any(|var| var == TRUSTED_PROXIES) {
                continue;
            }
            let at = self.where_(container);
            // The proxies (by workload) whose upstreams deliver to this container.
            let fronted_by: BTreeSet<usize> = self
                .containers
                .iter()
                .filter_map(|proxy| {
                    let upstreams = proxy.proxy?.upstreams;
                    upstreams
                        .iter()
                        .filter(|upstream| upstream.binary == binary.name)
                        .any(|upstream| {
                            self.upstream_backend(proxy, upstream)
                                .is_ok_and(|(backend, _)| backend.workload == container.workload)
                        })
                        .then_some(proxy.workload)
                })
                .chain(
                    self.gateway_links()
                        .into_iter()
                        .filter(|(_, backend, _)| backend.workload == container.workload)
                        .map(|(gateway, _, _)| gateway),
                )
                .collect();
            let entries = match container.var(TRUSTED_PROXIES) {
                Some(Ok(raw)) => raw,
                Some(Err(())) => {
                    self.fail(
                        CHECK_TRUSTED_PROXIES,
                        format!("{at}: {TRUSTED_PROXIES} comes from valueFrom: unknowable"),
                    );
                    continue;
                }
                None => {
                    if let Some(proxy) = fronted_by.first() {
                        self.fail(
                            CHECK_TRUSTED_PROXIES,
                            format!(
                                "{at}: {} forwards to it, but {TRUSTED_PROXIES} is unset: every \
                                 client behind that proxy counts as one address for {}'s limits",
                                self.objects[*proxy].id(),
                                binary.name
                            ),
                        );
                    }
                    continue;
                }
            };
            for entry in entries.split(',').map(str::trim) {
                if let Err(message) = self.trusted_entry(container, entry, &fronted_by) {
                    self.fail(
                        CHECK_TRUSTED_PROXIES,
                        format!("{at}: {TRUSTED_PROXIES} entry {entry:?}: {message}"),
                    );
                }
            }
        }
    }

    /// One entry names a headless Service whose Pods are all proxies in front of `container`.
    fn trusted_entry(
        &self,
        container: &Container,
        entry: &str,
        fronted_by: &BTreeSet<usize>,
    ) -> Result<(), String> {
        let range = entry.split('/').next().unwrap_or(entry);
        if range.parse::<std::net::IpAddr>().is_ok() {
            return Err(
                "an address or range trusts whichever Pod gets an address in it; name \
                        the proxy's headless Service instead"
                    .into(),
            );
        }
        let namespace = self.objects[container.workload].namespace();
        let service = self.service_named("it", entry, namespace)?;
        if service.value["spec"]["clusterIP"] != "None" {
            return Err(format!(
                "{} is not headless (clusterIP: None): its name resolves to its virtual IP, \
                 which is never the address a request comes from",
                service.id()
            ));
        }
        let targets = self.service_targets(service);
        if targets.is_empty() {
            return Err(format!("{} selects no Pods", service.id()));
        }
        for target in targets {
            if !fronted_by.contains(&target) {
                return Err(format!(
                    "{} selects the Pods of {}, which is no proxy in front of this service: \
                     they could write any client address",
                    service.id(),
                    self.objects[target].id()
                ));
            }
        }
        Ok(())
    }
}
