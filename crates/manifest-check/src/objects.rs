//! Manifests as objects, and what they are checked against in the repository.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

use serde::Deserialize;
use serde_json::Value;

/// One Kubernetes object and the file it came from.
#[derive(Debug, Clone)]
pub struct Object {
    pub file: String,
    pub value: Value,
}

impl Object {
    pub fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }
    pub fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or("")
    }
    /// `default` when unset, as `kubectl apply` without `-n` does.
    pub fn namespace(&self) -> &str {
        self.value["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
    }
    /// `Service/auth-service (auth-service.yaml)`, for messages.
    pub fn id(&self) -> String {
        format!("{}/{} ({})", self.kind(), self.name(), self.file)
    }
}

/// Every object of every `*.yaml` directly in `dir`, files in name order (the order
/// `kubectl apply -f <dir>` creates them in), documents in file order.
pub fn load_dir(dir: &Path) -> Result<Vec<Object>, String> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|error| format!("{}: {error}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    let mut objects = Vec::new();
    for path in files {
        let file = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text =
            fs::read_to_string(&path).map_err(|error| format!("{}: {error}", path.display()))?;
        objects.extend(parse_yaml(&file, &text)?);
    }
    Ok(objects)
}

/// The objects of a (multi-document) YAML text; empty documents are skipped.
pub fn parse_yaml(file: &str, text: &str) -> Result<Vec<Object>, String> {
    let mut objects = Vec::new();
    for document in serde_norway::Deserializer::from_str(text) {
        let value = Value::deserialize(document).map_err(|error| format!("{file}: {error}"))?;
        if !value.is_null() {
            objects.push(Object {
                file: file.to_owned(),
                value,
            });
        }
    }
    Ok(objects)
}

/// What the manifests are checked against.
#[derive(Debug, Clone, Default)]
pub struct Repo {
    /// Binary name → the probe paths its router serves (see [`crate::served_routes`]).
    pub routes: BTreeMap<String, BTreeSet<String>>,
    /// README.md, kubernetes/README.md and docs/*.md, concatenated: where a Secret must be
    /// documented.
    pub docs: String,
}

impl Repo {
    pub async fn load(root: &Path) -> Result<Self, String> {
        let probes: BTreeSet<String> = crate::PROBES
            .iter()
            .map(|(_, path)| (*path).to_owned())
            .collect();
        let routes = crate::served_routes(&probes).await;
        let mut files = vec![root.join("README.md"), root.join("kubernetes/README.md")];
        if let Ok(entries) = fs::read_dir(root.join("docs")) {
            let mut docs: Vec<PathBuf> = entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
                .collect();
            docs.sort();
            files.extend(docs);
        }
        let mut docs = String::new();
        for path in files {
            docs += &fs::read_to_string(&path)
                .map_err(|error| format!("{}: {error}", path.display()))?;
            docs.push('\n');
        }
        Ok(Self { routes, docs })
    }
}
