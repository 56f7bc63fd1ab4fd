//! The per-binary variable lists in `manifest_check::BINARIES` cannot drift from the code:
//! every listed name is a string literal in the binary's crate or in kub-common, and every
//! name the code reads (`read(env, "…")`, `from_env(env, "…")`, `env::var("…")`) is listed.

use std::{collections::BTreeSet, path::Path};

use manifest_check::{BINARIES, rust_sources, string_args};

fn sources(krate: &str) -> Vec<(std::path::PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates")
        .join(krate)
        .join("src");
    let found = rust_sources(&dir).expect("read crate sources");
    assert!(!found.is_empty(), "no sources under {}", dir.display());
    found
}

/// The variable names the production code of one file reads, by the three forms the workspace
/// uses. Test code is left out: a file's `#[cfg(test)]` module (by convention at its end),
/// `tests.rs` files (test modules) and `testing.rs` (kub-common's `testing` feature, for tests).
fn reads(path: &Path, text: &str) -> BTreeSet<String> {
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("");
    if matches!(name, "tests.rs" | "testing.rs") {
        return BTreeSet::new();
    }
    let production = text.split("\n#[cfg(test)]").next().unwrap_or("");
    ["(env, \"", "env::var(\"", "env::var_os(\""]
        .iter()
        .flat_map(|prefix| string_args(production, prefix))
        .collect()
}

#[test]
fn every_listed_variable_is_read_by_the_code() {
    let common = sources("kub-common");
    let mut missing = Vec::new();
    for binary in &BINARIES {
        let own = sources(binary.name);
        for var in binary.reads {
            let literal = format!("\"{var}\"");
            let found = own
                .iter()
                .chain(&common)
                .any(|(_, text)| text.contains(&literal));
            if !found {
                missing.push(format!(
                    "{}: {var} is listed, but {literal} appears neither in crates/{}/src nor in \
                     crates/kub-common/src",
                    binary.name, binary.name
                ));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn every_variable_the_code_reads_is_listed() {
    let mut unlisted = Vec::new();
    let all: BTreeSet<&str> = BINARIES
        .iter()
        .flat_map(|binary| binary.reads.iter().copied())
        .collect();
    for (path, text) in sources("kub-common") {
        for var in reads(&path, &text) {
            if !all.contains(var.as_str()) {
                unlisted.push(format!(
                    "{} reads {var}, which no binary's list has",
                    path.display()
                ));
            }
        }
    }
    for binary in &BINARIES {
        for (path, text) in sources(binary.name) {
            for var in reads(&path, &text) {
                if !binary.reads.contains(&var.as_str()) {
                    unlisted.push(format!(
                        "{} reads {var}, which is not in {}'s list in manifest-check",
                        path.display(),
                        binary.name
                    ));
                }
            }
        }
    }
    assert!(unlisted.is_empty(), "{}", unlisted.join("\n"));
}

#[test]
fn the_scan_sees_what_the_code_reads() {
    // If the code's way of reading variables changed, the scan above would find nothing.
    let users: BTreeSet<String> = sources("users-api")
        .iter()
        .flat_map(|(path, text)| reads(path, text))
        .collect();
    assert!(users.contains("USERS_FOLDER"), "{users:?}");
    let common: BTreeSet<String> = sources("kub-common")
        .iter()
        .flat_map(|(path, text)| reads(path, text))
        .collect();
    for var in ["PORT", "AUTH_ADDRESS", "RUST_LOG", "POD_NAME"] {
        assert!(common.contains(var), "{var} not found in {common:?}");
    }
}
