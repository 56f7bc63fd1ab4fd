//! Manifests as objects, and what they are checked against in the repository.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

use serde::Deserialize;
use serde_json::Value;

use crate::BINARIES;

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

/// What the manifests are checked against, read from the repository.
#[derive(Debug, Clone, Default)]
pub struct Repo {
    /// Binary name → every path given to `.route("…"` or `#[utoipa::path(…, path = "…")]` in its
    /// crate's sources, plus the routes
    /// every service gets from `kub_common::server::with_common_layers` (`/healthz`, `/metrics`).
    pub routes: BTreeMap<String, BTreeSet<String>>,
    /// README.md and kubernetes/README.md, concatenated: where a Secret must be documented.
    pub docs: String,
}

impl Repo {
    pub fn load(root: &Path) -> Result<Self, String> {
        let mut routes = BTreeMap::new();
        let common_server = root.join("crates/kub-common/src/server.rs");
        let common_text = fs::read_to_string(&common_server)
            .map_err(|error| format!("{}: {error}", common_server.display()))?;
        for binary in &BINARIES {
            let mut paths: BTreeSet<String> =
                string_args(&common_text, ".route(\"").into_iter().collect();
            for (_, text) in rust_sources(&root.join("crates").join(binary.name).join("src"))? {
                paths.extend(string_args(&text, ".route(\""));
                // Routes registered through utoipa-axum carry their path in `#[utoipa::path(…)]`.
                paths.extend(string_args(&text, "path = \""));
            }
            routes.insert(binary.name.to_owned(), paths);
        }
        let mut docs = String::new();
        for file in ["README.md", "kubernetes/README.md"] {
            let path = root.join(file);
            docs += &fs::read_to_string(&path)
                .map_err(|error| format!("{}: {error}", path.display()))?;
            docs.push('\n');
        }
        Ok(Self { routes, docs })
    }
}

/// `(path, contents)` of every `*.rs` under `dir`, recursively, in path order.
pub fn rust_sources(dir: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).map_err(|error| format!("{}: {error}", dir.display()))? {
            let path = entry
                .map_err(|error| format!("{}: {error}", dir.display()))?
                .path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let text = fs::read_to_string(&path)
                    .map_err(|error| format!("{}: {error}", path.display()))?;
                out.push((path, text));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The string literals that directly follow `prefix` (which ends with the opening quote).
pub fn string_args(text: &str, prefix: &str) -> Vec<String> {
    text.match_indices(prefix)
        .filter_map(|(at, _)| {
            let rest = &text[at + prefix.len()..];
            rest.find('"').map(|end| rest[..end].to_owned())
        })
        .collect()
}
