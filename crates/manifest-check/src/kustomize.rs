//! The lesson's stages (`kubernetes/stages/<stage>/kustomization.yaml`) rendered offline, as
//! `kubectl kustomize` renders them, so that every stage's wiring can be checked without a
//! cluster or a kubectl. Only what the stages use is supported: `resources` (files and
//! folders), `patches` (inline `patch:` or `path:`, strategic merge), with `$patch: delete` on a
//! whole object or on an element of a merged list. Anything else in a kustomization is refused
//! rather than ignored. `scripts/k8s-validate.sh` compares these renderings with kubectl's.

use std::{
    cmp::Ordering,
    fs,
    path::{Path, PathBuf},
};

use serde_json::{Map, Value};

use crate::{Object, parse_yaml};

/// The keys a kustomization of this repository may have.
const SUPPORTED: [&str; 4] = ["apiVersion", "kind", "resources", "patches"];

/// Every object of the stage in `dir`, patched, in kustomize's (legacy) output order. Each
/// object's `file` is the stage folder's name.
pub fn render_stage(dir: &Path) -> Result<Vec<Object>, String> {
    let stage = dir
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut objects = render(dir)?;
    objects.sort_by(legacy_order);
    for object in &mut objects {
        object.file.clone_from(&stage);
    }
    Ok(objects)
}

fn render(dir: &Path) -> Result<Vec<Object>, String> {
    let path = dir.join("kustomization.yaml");
    let text = fs::read_to_string(&path).map_err(|error| format!("{}: {error}", path.display()))?;
    let [kustomization] = parse_yaml(&path.display().to_string(), &text)?
        .try_into()
        .map_err(|_| format!("{}: expected one document", path.display()))?;
    let kustomization = kustomization.value;
    for key in kustomization
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
    {
        if !SUPPORTED.contains(&key.as_str()) {
            return Err(format!(
                "{}: `{key}` is not supported by manifest-check's renderer (only {SUPPORTED:?})",
                path.display()
            ));
        }
    }
    let mut objects = Vec::new();
    for resource in crate::items(&kustomization["resources"]) {
        let resource = resource.as_str().ok_or("a resource is not a string")?;
        let at = dir.join(resource);
        if at.is_dir() {
            objects.extend(render(&at)?);
        } else {
            let text =
                fs::read_to_string(&at).map_err(|error| format!("{}: {error}", at.display()))?;
            objects.extend(parse_yaml(resource, &text)?);
        }
    }
    for patch in crate::items(&kustomization["patches"]) {
        let (name, text) = match (patch["patch"].as_str(), patch["path"].as_str()) {
            (Some(text), None) => ("inline patch".to_owned(), text.to_owned()),
            (None, Some(file)) => {
                let at: PathBuf = dir.join(file);
                let text = fs::read_to_string(&at)
                    .map_err(|error| format!("{}: {error}", at.display()))?;
                (file.to_owned(), text)
            }
            _ => {
                return Err(format!(
                    "{}: a patch needs `patch` or `path`",
                    path.display()
                ));
            }
        };
        if patch.as_object().is_some_and(|keys| keys.len() != 1) {
            return Err(format!(
                "{}: patch targets and options are not supported: {patch}",
                path.display()
            ));
        }
        for document in parse_yaml(&name, &text)? {
            apply_patch(&mut objects, &document.value)
                .map_err(|error| format!("{} ({name}): {error}", path.display()))?;
        }
    }
    Ok(objects)
}

/// One strategic-merge patch, applied to the object of its kind, name and namespace.
fn apply_patch(objects: &mut Vec<Object>, patch: &Value) -> Result<(), String> {
    let kind = patch["kind"].as_str().unwrap_or("");
    let name = patch["metadata"]["name"].as_str().unwrap_or("");
    let namespace = patch["metadata"]["namespace"].as_str().unwrap_or("default");
    let index = objects
        .iter()
        .position(|o| o.kind() == kind && o.name() == name && o.namespace() == namespace)
        .ok_or_else(|| format!("the patch targets {kind}/{name}, which is not there"))?;
    if patch["$patch"] == "delete" {
        objects.remove(index);
        return Ok(());
    }
    merge(&mut objects[index].value, patch, "")
}

/// The key that identifies the elements of a merged list, by the list's field name (the
/// `patchMergeKey`s of the Kubernetes types the stages patch); other lists are replaced.
fn merge_key(field: &str, list: &[Value]) -> Option<&'static str> {
    match field {
        "containers" | "initContainers" | "env" | "volumes" | "imagePullSecrets" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "ports" if list.iter().any(|port| port.get("containerPort").is_some()) => {
            Some("containerPort")
        }
        "ports" => Some("port"),
        _ => None,
    }
}

fn merge(target: &mut Value, patch: &Value, field: &str) -> Result<(), String> {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => merge_maps(target, patch),
        (Value::Array(target), Value::Array(patch)) => {
            let Some(key) = merge_key(field, patch) else {
                target.clone_from(patch);
                return Ok(());
            };
            // The patch's elements go first, in its order (merged with the target's element of
            // the same key, if any), then the target's others: what kustomize's merge does.
            let mut new = Vec::new();
            for element in patch {
                let id = &element[key];
                let at = target.iter().position(|t| &t[key] == id);
                match (at, element["$patch"].as_str()) {
                    (Some(at), Some("delete")) => {
                        target.remove(at);
                    }
                    (None, Some("delete")) => {
                        return Err(format!("deletes {field} element {key}={id}, not there"));
                    }
                    (_, Some(other)) => return Err(format!("$patch: {other} is not supported")),
                    (Some(at), None) => {
                        let mut merged = target.remove(at);
                        merge(&mut merged, element, field)?;
                        new.push(merged);
                    }
                    (None, None) => new.push(element.clone()),
                }
            }
            new.append(target);
            *target = new;
            Ok(())
        }
        (target, patch) => {
            target.clone_from(patch);
            Ok(())
        }
    }
}

fn merge_maps(target: &mut Map<String, Value>, patch: &Map<String, Value>) -> Result<(), String> {
    for (key, value) in patch {
        if key.starts_with('$') {
            return Err(format!("directive {key} is not supported here"));
        }
        match target.get_mut(key) {
            _ if value.is_null() => {
                target.remove(key);
            }
            Some(existing) => merge(existing, value, key)?,
            None => {
                let mut fresh = if value.is_object() {
                    Value::Object(Map::new())
                } else {
                    Value::Array(Vec::new())
                };
                if value.is_object() || value.is_array() {
                    merge(&mut fresh, value, key)?;
                } else {
                    fresh = value.clone();
                }
                target.insert(key.clone(), fresh);
            }
        }
    }
    Ok(())
}

/// kustomize's legacy output order: these kinds first, in this order, webhooks last, every
/// other kind in between; then by group/version/kind, namespace and name.
const ORDER_FIRST: [&str; 22] = [
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
const ORDER_LAST: [&str; 2] = [
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

fn rank(kind: &str) -> isize {
    let first = ORDER_FIRST.len() as isize;
    if let Some(i) = ORDER_FIRST.iter().position(|k| *k == kind) {
        return i as isize - first;
    }
    ORDER_LAST
        .iter()
        .position(|k| *k == kind)
        .map_or(0, |i| i as isize + 1)
}

fn legacy_order(a: &Object, b: &Object) -> Ordering {
    let key = |o: &Object| {
        (
            rank(o.kind()),
            o.value["apiVersion"].as_str().unwrap_or("").to_owned(),
            o.kind().to_owned(),
            o.namespace().to_owned(),
            o.name().to_owned(),
        )
    };
    key(a).cmp(&key(b))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lists_merge_by_their_key_and_the_patched_elements_go_first() {
        let mut target = json!({"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                                "args": ["x"], "keep": 1, "drop": 2});
        let patch = json!({"env": [{"name": "B", "$patch": "delete"}, {"name": "C", "value": "3"},
                                   {"name": "A", "value": "9"}],
                           "args": ["y"], "drop": null});
        merge(&mut target, &patch, "").unwrap();
        assert_eq!(
            target,
            json!({"env": [{"name": "C", "value": "3"}, {"name": "A", "value": "9"}],
                   "args": ["y"], "keep": 1})
        );
    }

    #[test]
    fn deleting_a_missing_element_is_an_error() {
        let mut target = json!({"volumes": []});
        let patch = json!({"volumes": [{"name": "gone", "$patch": "delete"}]});
        assert!(merge(&mut target, &patch, "").is_err());
    }
}
