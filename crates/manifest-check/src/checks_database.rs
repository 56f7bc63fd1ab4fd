//! The database (stage 5 on): where `DATABASE_URL` leads and as which role, the role script the
//! database's first start runs, where it keeps its data, replicas, and PodDisruptionBudgets.

use super::*;
use crate::checks_roles::SERVICE_ROLES;

/// The parts of a `DATABASE_URL`: `<scheme>user:password@host[:port]/database[?options]`.
struct DatabaseUrl<'u> {
    database: &'static Database,
    user: &'u str,
    password: Option<&'u str>,
    host: &'u str,
    port: u16,
    name: &'u str,
}

fn parse_url(raw: &str) -> Result<DatabaseUrl<'_>, String> {
    let (database, rest) = DATABASES
        .iter()
        .find_map(|database| {
            database
                .schemes
                .iter()
                .find_map(|scheme| raw.strip_prefix(scheme))
                .map(|rest| (database, rest))
        })
        .ok_or_else(|| {
            "expected postgres://user:$(PASSWORD_VAR)@service:port/database".to_owned()
        })?;
    let (authority, path) = rest
        .split_once('/')
        .ok_or("names no database (…/<database>)")?;
    let name = path.split('?').next().unwrap_or("");
    let (userinfo, host_port) = authority
        .rsplit_once('@')
        .ok_or("names no user (user:password@…)")?;
    let (user, password) = match userinfo.split_once(':') {
        Some((user, password)) => (user, Some(password)),
        None => (userinfo, None),
    };
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse::<u16>()
                .map_err(|_| format!("bad port {port:?}"))?,
        ),
        None => (host_port, database.port),
    };
    if user.is_empty() || name.is_empty() || host.is_empty() {
        return Err("needs a user, a host and a database".into());
    }
    Ok(DatabaseUrl {
        database,
        user,
        password,
        host,
        port,
        name,
    })
}

impl<'a> Model<'a> {
    pub(super) fn check_database_url(&mut self, container: &Container, at: &str) {
        if let Err(message) = self.database_url(container) {
            self.fail(CHECK_DATABASE, format!("{at}: {message}"));
        }
    }

    /// `DATABASE_URL` reaches, through a Service, a database container whose first start
    /// created that database and, with the role script, the service's own role with the
    /// password of the same Secret.
    fn database_url(&self, container: &Container) -> Result<(), String> {
        let raw = match container.var(DATABASE_URL) {
            None => return Ok(()),
            Some(Err(())) => {
                return Err(format!(
                    "{DATABASE_URL} comes from valueFrom: where it leads cannot be checked; \
                     write the URL and take only its password from a Secret, as $(VAR)"
                ));
            }
            Some(Ok(raw)) => raw,
        };
        let what = format!("{DATABASE_URL}={:?}", raw.trim());
        let url = parse_url(raw.trim()).map_err(|error| format!("{what}: {error}"))?;
        let password_var = match url.password.map(references).as_deref() {
            Some([var]) if url.password == Some(&format!("$({var})")) => var.clone(),
            Some(_) => {
                return Err(format!(
                    "{what} holds a literal password: keep it in a Secret, read it into a \
                     variable defined before {DATABASE_URL}, and write $(VARIABLE)"
                ));
            }
            None => return Err(format!("{what} has no password")),
        };
        let password_secret = container.secret_of(&password_var).ok_or_else(|| {
            format!("{what}: ${password_var} does not come from a Secret (secretKeyRef)")
        })?;
        let namespace = self.objects[container.workload].namespace();
        let (service, service_port) =
            self.service_port_named(&what, url.host, url.port, namespace)?;
        let (backend, _) = self.service_backend(service, service_port)?;
        let Some(database) = backend.database.filter(|d| d.name == url.database.name) else {
            return Err(format!(
                "{what}: {} port {} delivers to {}, which is not {}",
                service.id(),
                service_port["port"],
                self.where_(backend),
                url.database.name
            ));
        };
        let literal = |var: &str| match backend.var(var) {
            Some(Ok(value)) => Some(value),
            _ => None,
        };
        let (user_var, default_user) = database.user_var;
        let superuser = literal(user_var).unwrap_or_else(|| default_user.to_owned());
        let binary = container.binary.map_or("?", |binary| binary.name);
        let role = SERVICE_ROLES
            .iter()
            .find(|role| role.binary == binary)
            .ok_or_else(|| format!("{what}: {binary} has no role of its own in the database"))?;
        if url.user != role.role {
            let whose = if url.user == superuser {
                format!("the superuser {user_var} of {}", self.where_(backend))
            } else {
                format!("user {:?}", url.user)
            };
            return Err(format!(
                "{what}: connects as {whose}, but {binary} connects as its own role {:?}, \
                 which owns its schema alone (made by the database's role script)",
                role.role
            ));
        }
        let name = literal(database.database_var).unwrap_or_else(|| superuser.clone());
        if url.name != name {
            return Err(format!(
                "{what}: database {:?}, but {} creates database {name:?} ({})",
                url.name,
                self.where_(backend),
                database.database_var
            ));
        }
        self.database_makes_roles(backend)
            .map_err(|problem| format!("{what}: {}: {problem}", self.where_(backend)))?;
        let server_secret = backend.secret_of(role.password_var);
        if server_secret.as_ref() != Some(&password_secret) {
            return Err(format!(
                "{what}: the password comes from Secret {:?} key {:?}, but {}'s {} from {}",
                password_secret.0,
                password_secret.1,
                self.where_(backend),
                role.password_var,
                server_secret.map_or("no Secret".to_owned(), |(n, k)| format!("{n:?} key {k:?}"))
            ));
        }
        Ok(())
    }

    /// The database container `DATABASE_URL` leads to, if it leads to one.
    pub(super) fn database_backend(&self, container: &Container) -> Option<&Container<'a>> {
        let Some(Ok(raw)) = container.var(DATABASE_URL) else {
            return None;
        };
        let url = parse_url(raw.trim()).ok()?;
        let namespace = self.objects[container.workload].namespace();
        let (service, port) = self
            .service_port_named("", url.host, url.port, namespace)
            .ok()?;
        let (backend, _) = self.service_backend(service, port).ok()?;
        backend.database.is_some().then_some(backend)
    }

    /// The database's data folder is a subfolder of a volume that outlives the Pod: a
    /// PersistentVolumeClaim (from the StatefulSet's volumeClaimTemplates).
    pub(super) fn check_database_data(
        &mut self,
        container: &Container,
        database: &Database,
        at: &str,
    ) {
        let (var, default) = database.data_var;
        let data = match container.var(var) {
            Some(Ok(data)) => data.trim_end_matches('/').to_owned(),
            Some(Err(())) => {
                return self.fail(CHECK_VOLUMES, format!("{at}: {var} comes from valueFrom"));
            }
            None => default.to_owned(),
        };
        let mount = items(&container.spec["volumeMounts"])
            .filter_map(|mount| Some((mount["mountPath"].as_str()?.trim_end_matches('/'), mount)))
            .filter(|(path, _)| data == *path || data.starts_with(&format!("{path}/")))
            .max_by_key(|(path, _)| path.len());
        let Some((path, mount)) = mount else {
            return self.fail(
                CHECK_VOLUMES,
                format!(
                    "{at}: {var}={data:?} is on no volume: the data would live and die with the \
                     container"
                ),
            );
        };
        if path == data {
            self.fail(
                CHECK_VOLUMES,
                format!(
                    "{at}: {var}={data:?} is the volume's mount point itself; use a subfolder \
                     (initdb wants an empty folder it owns, and a new volume may hold lost+found)"
                ),
            );
        }
        let volume = mount["name"].as_str().unwrap_or("");
        let workload = &self.objects[container.workload];
        let claimed = items(&workload.value["spec"]["volumeClaimTemplates"])
            .any(|claim| claim["metadata"]["name"].as_str() == Some(volume))
            || items(&self.pod_spec(container.workload)["volumes"]).any(|v| {
                v["name"].as_str() == Some(volume) && v.get("persistentVolumeClaim").is_some()
            });
        if !claimed {
            self.fail(
                CHECK_VOLUMES,
                format!(
                    "{at}: {var}={data:?} is on volume {volume:?}, which is no \
                     PersistentVolumeClaim: the data would die with the Pod \
                     (use the StatefulSet's volumeClaimTemplates)"
                ),
            );
        }
    }

    /// More than one replica needs data they share: users-api and tasks-api in the database,
    /// not each in its own volume. A database is one replica (more would be separate,
    /// independent databases).
    pub(super) fn check_replicas(&mut self) {
        let workloads: Vec<(usize, &Object)> = self.workloads().collect();
        for (index, workload) in workloads {
            let replicas = self.replicas(index);
            if replicas <= 1 {
                continue;
            }
            let own_store: Vec<&str> = self
                .containers_of(index)
                .filter(|c| c.binary.is_some_and(|b| b.folder_var.is_some()))
                .filter(|c| c.var(DATABASE_URL).is_none())
                .map(|c| c.binary.map_or("?", |b| b.name))
                .collect();
            for binary in own_store {
                self.fail(
                    CHECK_REPLICAS,
                    format!(
                        "{}: replicas {replicas}, but {binary} has no {DATABASE_URL}: each \
                         replica would keep its own part of the data on its own volume",
                        workload.id()
                    ),
                );
            }
            if self.containers_of(index).any(|c| c.database.is_some()) {
                self.fail(
                    CHECK_REPLICAS,
                    format!(
                        "{}: replicas {replicas}: each would be a separate database with its \
                         own volume, not a copy",
                        workload.id()
                    ),
                );
            }
        }
    }

    /// Each PodDisruptionBudget covers one workload and lets a drain proceed; every users or
    /// tasks workload with more than one replica has one.
    pub(super) fn check_disruption_budgets(&mut self) {
        let mut covered = BTreeSet::new();
        let budgets: Vec<&Object> = self
            .of_kind("PodDisruptionBudget")
            .map(|(_, b)| b)
            .collect();
        for budget in budgets {
            let selector = &budget.value["spec"]["selector"];
            let targets: Vec<usize> = self
                .workloads()
                .filter(|(_, w)| w.namespace() == budget.namespace())
                .filter(|(i, _)| {
                    !selector.is_null() && label_selector_matches(selector, &self.pod_labels(*i))
                })
                .map(|(i, _)| i)
                .collect();
            let [target] = targets.as_slice() else {
                self.fail(
                    CHECK_DISRUPTION_BUDGET,
                    format!(
                        "{}: its selector must match the Pods of exactly one workload, matches {}",
                        budget.id(),
                        targets.len()
                    ),
                );
                continue;
            };
            covered.insert(*target);
            let replicas = self.replicas(*target);
            let spec = &budget.value["spec"];
            let blocks = spec["minAvailable"]
                .as_u64()
                .is_some_and(|min| min >= replicas)
                || spec["maxUnavailable"].as_u64() == Some(0);
            if blocks {
                self.fail(
                    CHECK_DISRUPTION_BUDGET,
                    format!(
                        "{}: with {replicas} replicas of {} it allows no Pod to be evicted: a \
                         drain would never finish",
                        budget.id(),
                        self.objects[*target].id()
                    ),
                );
            }
        }
        let workloads: Vec<(usize, &Object)> = self.workloads().collect();
        for (index, workload) in workloads {
            let public = self.runs(index, "users-api") || self.runs(index, "tasks-api");
            if public && self.replicas(index) > 1 && !covered.contains(&index) {
                self.fail(
                    CHECK_DISRUPTION_BUDGET,
                    format!(
                        "{}: {} replicas and no PodDisruptionBudget: a drain may evict them all \
                         at once",
                        workload.id(),
                        self.replicas(index)
                    ),
                );
            }
        }
    }
}
