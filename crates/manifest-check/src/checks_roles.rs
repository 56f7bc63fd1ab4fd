//! The roles of the database (stage 5 on): each service connects as its own, which the role
//! script of the database's first start makes (`scripts/postgres-service-roles.sh`).

use super::*;

/// The role script the database's first start runs (mounted from a ConfigMap into
/// [`INIT_FOLDER`]); every copy in the manifests must be this file.
pub(crate) const SERVICE_ROLES_SCRIPT: &str =
    include_str!("../../../scripts/postgres-service-roles.sh");
/// Where the postgres image looks for its first start's scripts.
pub(crate) const INIT_FOLDER: &str = "/docker-entrypoint-initdb.d";

/// The roles [`SERVICE_ROLES_SCRIPT`] makes, one per service (a test reads them in the
/// script): who connects as which role, and the database container's variable holding its
/// password.
pub(crate) const SERVICE_ROLES: [ServiceRole; 2] = [
    ServiceRole {
        binary: "users-api",
        role: "users_api",
        password_var: "USERS_DB_PASSWORD",
    },
    ServiceRole {
        binary: "tasks-api",
        role: "tasks_api",
        password_var: "TASKS_DB_PASSWORD",
    },
];

#[derive(Debug, Clone, Copy)]
pub(crate) struct ServiceRole {
    pub binary: &'static str,
    pub role: &'static str,
    pub password_var: &'static str,
}

impl Model<'_> {
    /// The database container runs the role script on its first start: a ConfigMap mounted at
    /// [`INIT_FOLDER`], executable, holding a copy of [`SERVICE_ROLES_SCRIPT`].
    pub(super) fn database_makes_roles(&self, backend: &Container) -> Result<(), String> {
        let mount = items(&backend.spec["volumeMounts"])
            .find(|mount| {
                mount["mountPath"]
                    .as_str()
                    .map(|path| path.trim_end_matches('/'))
                    == Some(INIT_FOLDER)
            })
            .ok_or_else(|| format!("mounts nothing at {INIT_FOLDER}, so no role is made"))?;
        let volume_name = mount["name"].as_str().unwrap_or("");
        let volume = items(&self.pod_spec(backend.workload)["volumes"])
            .find(|volume| volume["name"].as_str() == Some(volume_name))
            .ok_or_else(|| format!("volume {volume_name:?} at {INIT_FOLDER} is not defined"))?;
        let config_map = volume["configMap"]["name"]
            .as_str()
            .ok_or_else(|| format!("volume {volume_name:?} at {INIT_FOLDER} is no ConfigMap"))?;
        let namespace = self.objects[backend.workload].namespace();
        let (_, object) = self
            .of_kind("ConfigMap")
            .find(|(_, o)| o.name() == config_map && o.namespace() == namespace)
            .ok_or_else(|| format!("ConfigMap {config_map:?} at {INIT_FOLDER} does not exist"))?;
        let scripts: Vec<(&String, &Value)> = object.value["data"]
            .as_object()
            .map(|data| {
                data.iter()
                    .filter(|(key, _)| key.ends_with(".sh"))
                    .collect()
            })
            .unwrap_or_default();
        let [(key, script)] = scripts.as_slice() else {
            return Err(format!(
                "ConfigMap {config_map:?} must hold one *.sh, the role script, holds {}",
                scripts.len()
            ));
        };
        if script.as_str() != Some(SERVICE_ROLES_SCRIPT) {
            return Err(format!(
                "ConfigMap {config_map:?} key {key:?} is not a copy of \
                 scripts/postgres-service-roles.sh"
            ));
        }
        // The image runs an executable *.sh; it would `source` another into its own shell.
        let mode = volume["configMap"]["defaultMode"].as_u64().unwrap_or(0o644);
        if mode & 0o111 == 0 {
            return Err(format!(
                "ConfigMap volume {volume_name:?} has defaultMode {mode:#o}: the role script \
                 must be executable (365, i.e. 0555)"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_roles_are_those_the_script_makes() {
        let made: Vec<&str> = SERVICE_ROLES_SCRIPT
            .lines()
            .filter_map(|line| line.strip_prefix("service_role "))
            .collect();
        let expected: Vec<String> = SERVICE_ROLES
            .iter()
            .map(|role| {
                let schema = role.binary.trim_end_matches("-api");
                format!("{} {schema} {}", role.role, role.password_var)
            })
            .collect();
        assert_eq!(made, expected);
    }
}
