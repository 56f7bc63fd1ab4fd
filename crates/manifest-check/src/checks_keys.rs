//! Secrets as credentials: auth's signing secrets and every caller's key come from a Secret
//! (never a literal), each caller's key reaches the auth it calls under that caller's name, and
//! no other container is given it. A label or an address lets a Pod past a NetworkPolicy; only
//! these Secrets let it get a token.

use super::*;

/// Where a variable of a container comes from.
enum Source {
    Unset,
    Literal,
    /// `valueFrom` of another kind than `secretKeyRef` (a ConfigMap, the downward API).
    OtherValueFrom,
    Secret {
        name: String,
        key: String,
        optional: bool,
    },
}

impl Container<'_> {
    fn source(&self, var: &str) -> Source {
        let Some(entry) = items(&self.spec["env"]).find(|entry| entry["name"] == var) else {
            return Source::Unset;
        };
        let secret = &entry["valueFrom"]["secretKeyRef"];
        match (entry.get("valueFrom"), secret.is_null()) {
            (None, _) => Source::Literal,
            (Some(_), true) => Source::OtherValueFrom,
            (Some(_), false) => Source::Secret {
                name: secret["name"].as_str().unwrap_or("").to_owned(),
                key: secret["key"].as_str().unwrap_or("").to_owned(),
                optional: secret["optional"] == true,
            },
        }
    }

    fn is(&self, name: &str) -> bool {
        self.binary.is_some_and(|binary| binary.name == name)
    }

    /// Every Secret this container is given, by env or by one of its Pod's volumes (which
    /// any container of the Pod may mount), and how (for messages).
    fn secrets_given(&self, pod: &Value) -> Vec<(String, String)> {
        let by_env = items(&self.spec["env"]).filter_map(|entry| {
            let name = entry["valueFrom"]["secretKeyRef"]["name"].as_str()?;
            Some((name.to_owned(), format!("as {}", entry["name"])))
        });
        let by_volume = items(&pod["volumes"]).flat_map(|volume| {
            let direct = volume["secret"]["secretName"].as_str();
            let projected = items(&volume["projected"]["sources"])
                .filter_map(|source| source["secret"]["name"].as_str());
            direct
                .into_iter()
                .chain(projected)
                .map(|name| (name.to_owned(), format!("in volume {}", volume["name"])))
                .collect::<Vec<_>>()
        });
        by_env.chain(by_volume).collect()
    }
}

/// The variable a rotation's previous value goes in, for a current one.
fn previous_of(var: &str) -> String {
    if var == JWT_SECRETS.0 {
        JWT_SECRETS.1.to_owned()
    } else {
        format!("{var}{PREVIOUS}")
    }
}

impl<'a> Model<'a> {
    pub(super) fn check_caller_keys(&mut self) {
        let containers = self.containers.clone();
        for container in &containers {
            let Some(binary) = container.binary else {
                continue;
            };
            let at = self.where_(container);
            let mut current: Vec<String> = binary
                .caller_key
                .iter()
                .map(|_| AUTH_API_KEY.to_owned())
                .collect();
            if binary.name == "auth-api" {
                current.push(JWT_SECRETS.0.to_owned());
                current.extend(
                    BINARIES
                        .iter()
                        .filter_map(|b| b.caller_key)
                        .map(str::to_owned),
                );
            }
            for var in &current {
                self.check_secret_pair(container, var, &at);
            }
            if binary.caller_key.is_some() {
                self.check_caller(container, binary, &at);
            }
            if binary.name == "auth-api" {
                self.check_auth_callers(container, &at);
            }
        }
        self.check_secret_holders();
    }

    /// `var` (required) and its previous value (optional, during a rotation) come from the same
    /// Secret; neither is a literal.
    fn check_secret_pair(&mut self, container: &Container, var: &str, at: &str) {
        let previous = previous_of(var);
        let current_secret = match container.source(var) {
            Source::Secret { name, optional, .. } => {
                if optional {
                    self.fail(
                        CHECK_CALLER_KEYS,
                        format!(
                            "{at}: {var} is optional: without the Secret {name:?} the container \
                             would start without it; only {previous} is optional"
                        ),
                    );
                }
                Some(name)
            }
            Source::Literal => {
                self.fail(
                    CHECK_CALLER_KEYS,
                    format!("{at}: {var} is a literal in the manifest; take it from a Secret (secretKeyRef)"),
                );
                None
            }
            Source::OtherValueFrom => {
                self.fail(
                    CHECK_CALLER_KEYS,
                    format!("{at}: {var} comes from a valueFrom that is no secretKeyRef"),
                );
                None
            }
            Source::Unset => None,
        };
        match container.source(&previous) {
            Source::Unset => {}
            Source::Secret { name, optional, .. } => {
                if !optional {
                    self.fail(
                        CHECK_CALLER_KEYS,
                        format!(
                            "{at}: {previous} must be `optional: true`: its key exists in Secret \
                             {name:?} only during a rotation, and the Pod would not start without it"
                        ),
                    );
                }
                if current_secret
                    .as_ref()
                    .is_some_and(|current| *current != name)
                {
                    self.fail(
                        CHECK_CALLER_KEYS,
                        format!(
                            "{at}: {previous} comes from Secret {name:?}, {var} from {:?}: a \
                             rotation keeps both values in one Secret",
                            current_secret.unwrap_or_default()
                        ),
                    );
                }
            }
            _ => self.fail(
                CHECK_CALLER_KEYS,
                format!("{at}: {previous} does not come from a Secret (secretKeyRef)"),
            ),
        }
    }

    /// A caller sends AUTH_API_KEY, and the auth it reaches reads that same Secret key as the
    /// caller's variable.
    fn check_caller(&mut self, container: &Container, binary: &Binary, at: &str) {
        let auth_var = binary.caller_key.unwrap_or("?");
        let Source::Secret { name, key, .. } = container.source(AUTH_API_KEY) else {
            if matches!(container.source(AUTH_API_KEY), Source::Unset) {
                self.fail(
                    CHECK_CALLER_KEYS,
                    format!(
                        "{at}: no {AUTH_API_KEY}: {} does not start without its key for auth",
                        binary.name
                    ),
                );
            }
            return;
        };
        let Ok(auth) = self.auth_of(container) else {
            return; // reported by the auth-address check
        };
        let auth_at = self.where_(auth);
        match auth.source(auth_var) {
            Source::Secret {
                name: auth_name,
                key: auth_key,
                ..
            } if (auth_name.as_str(), auth_key.as_str()) != (name.as_str(), key.as_str()) => {
                self.fail(
                    CHECK_CALLER_KEYS,
                    format!(
                        "{at}: sends {AUTH_API_KEY} from Secret {name:?} key {key:?}, but {auth_at} \
                         reads {auth_var} from Secret {auth_name:?} key {auth_key:?}: auth answers \
                         every call with 401"
                    ),
                );
            }
            Source::Secret { .. } => {}
            _ => self.fail(
                CHECK_CALLER_KEYS,
                format!(
                    "{at}: calls {auth_at}, which has no {auth_var} from Secret {name:?}: auth \
                     answers every call of {} with 401",
                    binary.name
                ),
            ),
        }
    }

    /// auth knows at least one caller, only callers that call it, and each by its own Secret.
    fn check_auth_callers(&mut self, auth: &Container, at: &str) {
        let mut known = Vec::new();
        for binary in BINARIES.iter().filter(|binary| binary.caller_key.is_some()) {
            let var = binary.caller_key.unwrap_or("?");
            let Source::Secret { name, .. } = auth.source(var) else {
                continue;
            };
            let calls_it = self.containers.iter().any(|caller| {
                caller.is(binary.name)
                    && self.auth_of(caller).is_ok_and(|reached| {
                        reached.workload == auth.workload && reached.name() == auth.name()
                    })
            });
            if !calls_it {
                self.fail(
                    CHECK_CALLER_KEYS,
                    format!(
                        "{at}: reads {var}, but no {} calls this auth-api: drop it, and no one \
                         needs the Secret {name:?}",
                        binary.name
                    ),
                );
            }
            if let Some((other, _)) = known.iter().find(|(_, secret)| *secret == name) {
                self.fail(
                    CHECK_CALLER_KEYS,
                    format!(
                        "{at}: {other} and {var} both come from Secret {name:?}: one caller could \
                         use the other's routes; give each caller its own Secret"
                    ),
                );
            }
            known.push((var, name));
        }
        if known.is_empty() {
            self.fail(
                CHECK_CALLER_KEYS,
                format!(
                    "{at}: no caller key ({:?}) from a Secret: auth-api refuses to start",
                    BINARIES
                        .iter()
                        .filter_map(|b| b.caller_key)
                        .collect::<Vec<_>>()
                ),
            );
        }
    }

    /// The Secrets auth reads its callers' keys and its signing secrets from are given to auth
    /// and to that one caller, nobody else.
    fn check_secret_holders(&mut self) {
        // Secret name -> the binaries that may hold it, and what anyone else could do with it.
        let mut holders: BTreeMap<String, (BTreeSet<&str>, &str)> = BTreeMap::new();
        for auth in self.containers.iter().filter(|c| c.is("auth-api")) {
            for var in [JWT_SECRETS.0, JWT_SECRETS.1] {
                if let Source::Secret { name, .. } = auth.source(var) {
                    let (allowed, _) = holders
                        .entry(name)
                        .or_insert((BTreeSet::new(), "sign a token for any user"));
                    allowed.insert("auth-api");
                }
            }
            for binary in BINARIES.iter() {
                let Some(var) = binary.caller_key else {
                    continue;
                };
                for var in [var.to_owned(), previous_of(var)] {
                    if let Source::Secret { name, .. } = auth.source(&var) {
                        let (allowed, _) = holders
                            .entry(name)
                            .or_insert((BTreeSet::new(), "call auth as that caller"));
                        allowed.insert("auth-api");
                        allowed.insert(binary.name);
                    }
                }
            }
        }
        let mut findings = Vec::new();
        for container in &self.containers {
            let pod = self.pod_spec(container.workload);
            for (secret, how) in container.secrets_given(pod) {
                let Some((allowed, could)) = holders.get(&secret) else {
                    continue;
                };
                let runs = container.binary.map_or("", |b| b.name);
                if !allowed.contains(runs) {
                    findings.push(format!(
                        "{}: is given Secret {secret:?} ({how}), which only {allowed:?} may hold: \
                         with it, it could {could}",
                        self.where_(container)
                    ));
                }
            }
        }
        for message in findings {
            self.fail(CHECK_CALLER_KEYS, message);
        }
    }
}
