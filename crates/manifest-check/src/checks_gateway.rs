//! Stage 7's edge: a Gateway API implementation (Traefik). Its container runs an image none of
//! ours and listens on its entry points (`--entrypoints.<name>.address=:<port>`). Whom it calls
//! is not in its environment but in the HTTPRoutes attached to the Gateways of a GatewayClass it
//! serves: each backendRef, a Service port, is a connection from its Pods to the Pods behind that
//! Service, which their NetworkPolicies must admit, and which makes it a proxy in front of the
//! binary there (whose `TRUSTED_PROXIES` may name it). Every Gateway listener is one of its
//! entry points, and it is probed on one.

use super::*;

impl Container<'_> {
    /// The ports its entry points listen on, when it runs a Gateway implementation.
    pub(super) fn entry_point_ports(&self) -> Vec<u16> {
        let Some(gateway) = self.gateway else {
            return Vec::new();
        };
        items(&self.spec["command"])
            .chain(items(&self.spec["args"]))
            .filter_map(Value::as_str)
            .filter_map(|arg| {
                let arg = arg.to_ascii_lowercase();
                let (_, address) = arg
                    .strip_prefix(gateway.entry_point_prefix)?
                    .split_once(".address=")?;
                address.rsplit_once(':')?.1.parse::<u16>().ok()
            })
            .collect()
    }
}

impl<'a> Model<'a> {
    /// The containers running the implementation that serves GatewayClass `class`.
    fn implementations_of(&self, class: &str) -> Vec<&Container<'a>> {
        let controller = self
            .of_kind("GatewayClass")
            .find(|(_, gateway_class)| gateway_class.name() == class)
            .and_then(|(_, gateway_class)| gateway_class.value["spec"]["controllerName"].as_str());
        self.containers
            .iter()
            .filter(|container| {
                container
                    .gateway
                    .is_some_and(|gateway| Some(gateway.controller_name) == controller)
            })
            .collect()
    }

    /// The implementations of the Gateways an HTTPRoute attaches to.
    fn route_parents(&self, route: &Object) -> Result<Vec<&Container<'a>>, String> {
        let mut parents = Vec::new();
        for parent in items(&route.value["spec"]["parentRefs"]) {
            let name = parent["name"].as_str().unwrap_or("?");
            let namespace = parent["namespace"].as_str().unwrap_or(route.namespace());
            if parent["kind"].as_str().unwrap_or("Gateway") != "Gateway" {
                return Err(format!("{}: parentRef {name:?} is no Gateway", route.id()));
            }
            let (_, gateway) = self
                .of_kind("Gateway")
                .find(|(_, gateway)| gateway.name() == name && gateway.namespace() == namespace)
                .ok_or_else(|| {
                    format!("{}: parentRef Gateway {name:?} does not exist", route.id())
                })?;
            let class = gateway.value["spec"]["gatewayClassName"]
                .as_str()
                .unwrap_or("?");
            let implementations = self.implementations_of(class);
            if implementations.is_empty() {
                return Err(format!(
                    "{}: GatewayClass {class:?} is served by no container here (controllerName of \
                     {:?})",
                    gateway.id(),
                    GATEWAY_IMPLEMENTATIONS.map(|gateway| gateway.controller_name)
                ));
            }
            if let Some(section) = parent["sectionName"].as_str()
                && !items(&gateway.value["spec"]["listeners"]).any(|l| l["name"] == section)
            {
                return Err(format!(
                    "{}: parentRef sectionName {section:?} is no listener of {}",
                    route.id(),
                    gateway.id()
                ));
            }
            parents.extend(implementations);
        }
        Ok(parents)
    }

    /// The container and port each backendRef of an HTTPRoute delivers to.
    fn route_backends(&self, route: &Object) -> Vec<Result<(&Container<'a>, u16), String>> {
        items(&route.value["spec"]["rules"])
            .flat_map(|rule| items(&rule["backendRefs"]))
            .map(|backend| {
                let name = backend["name"].as_str().unwrap_or("?");
                if backend["kind"].as_str().unwrap_or("Service") != "Service"
                    || backend["namespace"]
                        .as_str()
                        .is_some_and(|ns| ns != route.namespace())
                {
                    return Err(format!(
                        "{}: backendRef {name:?} is not a Service of its namespace",
                        route.id()
                    ));
                }
                let port = backend["port"]
                    .as_u64()
                    .and_then(|port| u16::try_from(port).ok());
                let what = format!("{} backendRef", route.id());
                let (service, service_port) = self.service_port_named(
                    &what,
                    name,
                    port.ok_or_else(|| format!("{what} {name:?} has no port"))?,
                    route.namespace(),
                )?;
                self.service_backend(service, service_port)
            })
            .collect()
    }

    /// The connections the HTTPRoutes make: (implementation's workload, backend, its port).
    pub(super) fn gateway_links(&self) -> Vec<(usize, &Container<'a>, u16)> {
        let mut links = Vec::new();
        for (_, route) in self.of_kind("HTTPRoute") {
            let Ok(parents) = self.route_parents(route) else {
                continue;
            };
            for (backend, port) in self.route_backends(route).into_iter().flatten() {
                for parent in &parents {
                    let known = links
                        .iter()
                        .any(|&(from, to, at): &(usize, &Container, u16)| {
                            from == parent.workload && std::ptr::eq(to, backend) && at == port
                        });
                    if !known {
                        links.push((parent.workload, backend, port));
                    }
                }
            }
        }
        links
    }

    /// Every HTTPRoute attaches to a Gateway that something here serves and sends to Services
    /// that deliver to a container whose NetworkPolicies admit the Gateway's Pods; every
    /// Gateway listener is an entry point of its implementation.
    pub(super) fn check_routes(&mut self) {
        let mut findings = Vec::new();
        for (_, route) in self.of_kind("HTTPRoute") {
            let parents = match self.route_parents(route) {
                Ok(parents) => parents,
                Err(message) => {
                    findings.push(message);
                    continue;
                }
            };
            for backend in self.route_backends(route) {
                match backend {
                    Err(message) => findings.push(message),
                    Ok((backend, port)) => findings.extend(
                        parents
                            .iter()
                            .filter_map(|parent| self.admits(backend, parent.workload, port).err()),
                    ),
                }
            }
        }
        for (_, gateway) in self.of_kind("Gateway") {
            let class = gateway.value["spec"]["gatewayClassName"]
                .as_str()
                .unwrap_or("?");
            for implementation in self.implementations_of(class) {
                let ports = implementation.entry_point_ports();
                for listener in items(&gateway.value["spec"]["listeners"]) {
                    let port = listener["port"]
                        .as_u64()
                        .and_then(|p| u16::try_from(p).ok());
                    if !port.is_some_and(|port| ports.contains(&port)) {
                        findings.push(format!(
                            "{}: listener {} on port {}, which is none of the entry points of {} \
                             ({ports:?}): it would never be served",
                            gateway.id(),
                            listener["name"],
                            listener["port"],
                            self.where_(implementation)
                        ));
                    }
                }
            }
        }
        for message in findings {
            self.fail(CHECK_ROUTES, message);
        }
    }

    /// Its declared ports are its entry points, and both probes GET one of them.
    pub(super) fn check_gateway_container(
        &mut self,
        container: &Container,
        gateway: &GatewayImplementation,
        at: &str,
    ) {
        let ports = container.entry_point_ports();
        for port in items(&container.spec["ports"]) {
            if !port["containerPort"]
                .as_u64()
                .is_some_and(|declared| ports.iter().any(|p| u64::from(*p) == declared))
            {
                self.fail(
                    CHECK_CONTAINER_PORTS,
                    format!(
                        "{at}: declares containerPort {} ({}), but {} listens on its entry points \
                         {ports:?}",
                        port["containerPort"], port["name"], gateway.name
                    ),
                );
            }
        }
        for (probe, _) in PROBES {
            let get = &container.spec[probe]["httpGet"];
            let port = match &get["port"] {
                Value::String(name) => container.named_port(name),
                other => other.as_u64().and_then(|port| u16::try_from(port).ok()),
            };
            if !port.is_some_and(|port| ports.contains(&port)) {
                self.fail(
                    CHECK_PROBES,
                    format!(
                        "{at}: {probe} GETs port {}, which is none of {}'s entry points {ports:?}",
                        get["port"], gateway.name
                    ),
                );
            }
        }
    }
}
