//! What the tests share: the repository, and ways to break a copy of the manifests.
#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};

use manifest_check::{Object, Repo, load_dir};
use serde_json::{Value, json};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What the manifests are checked against: the routers' probe paths, the docs.
pub fn repo() -> Repo {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime
        .block_on(Repo::load(&root()))
        .expect("ask the routers, read the docs")
}

/// The object `kind/name` of a copy of the manifests.
pub fn obj<'a>(objects: &'a mut [Object], kind: &str, name: &str) -> &'a mut Value {
    &mut objects
        .iter_mut()
        .find(|o| o.kind() == kind && o.name() == name)
        .unwrap_or_else(|| panic!("{kind}/{name} not found"))
        .value
}

pub fn at<'a>(value: &'a mut Value, pointer: &str) -> &'a mut Value {
    value
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer} not found"))
}

pub fn deployment<'a>(objects: &'a mut [Object], name: &str) -> &'a mut Value {
    obj(objects, "Deployment", name)
}

/// The `env` list of the first container of the workload `name` (Deployment or StatefulSet).
pub fn env_list<'a>(objects: &'a mut [Object], name: &str) -> &'a mut Vec<Value> {
    at(
        &mut objects
            .iter_mut()
            .find(|o| o.name() == name && o.value["spec"]["template"].is_object())
            .unwrap_or_else(|| panic!("workload {name} not found"))
            .value,
        "/spec/template/spec/containers/0/env",
    )
    .as_array_mut()
    .unwrap()
}

/// The `env` entry `var` of the first container of the workload `name`.
pub fn env<'a>(objects: &'a mut [Object], name: &str, var: &str) -> &'a mut Value {
    env_list(objects, name)
        .iter_mut()
        .find(|entry| entry["name"] == var)
        .unwrap_or_else(|| panic!("{name} sets no {var}"))
}

pub type Break = fn(&mut Vec<Object>, &mut Repo);

/// Breaks a copy of `objects` in each way, and collects the breakages the right check (name,
/// and a needle of its message) did not report.
pub fn missed(
    objects: &[Object],
    repo: &Repo,
    cases: Vec<(&str, &str, &str, Break)>,
) -> Vec<String> {
    let mut missed = Vec::new();
    for (what, check_name, needle, break_it) in cases {
        let (mut objects, mut repo) = (objects.to_vec(), repo.clone());
        break_it(&mut objects, &mut repo);
        let findings = manifest_check::check(&objects, &repo);
        let caught = findings
            .iter()
            .find(|f| f.check == check_name && f.message.contains(needle));
        if let Some(finding) = caught {
            // Shown with `cargo test -- --nocapture`: what each typo looks like when caught.
            println!("{what}:\n    {finding}");
        } else {
            missed.push(format!(
                "{what}: expected a [{check_name}] finding containing {needle:?}, got {:#?}",
                findings.iter().map(ToString::to_string).collect::<Vec<_>>()
            ));
        }
    }
    missed
}

/// kubernetes/*.yaml, as `kubectl apply -f kubernetes/` reads it.
pub fn final_manifests() -> Vec<Object> {
    load_dir(&root().join("kubernetes")).expect("read kubernetes/*.yaml")
}

pub fn secret_ref(name: &str, key: &str) -> Value {
    json!({"secretKeyRef": {"name": name, "key": key}})
}

/// The NetworkPolicy `name`'s ingress rules.
pub fn rules<'a>(o: &'a mut [Object], name: &str) -> &'a mut Vec<Value> {
    at(obj(o, "NetworkPolicy", name), "/spec/ingress")
        .as_array_mut()
        .unwrap()
}

pub fn container<'a>(o: &'a mut [Object], name: &str) -> &'a mut Value {
    at(deployment(o, name), "/spec/template/spec/containers/0")
}
