//! Every setting the binaries read is documented, and nothing else is: the environment
//! variables of their clap settings (what `--help` lists) against the configuration table.

use std::{collections::BTreeSet, path::Path};

use manifest_check::BINARIES;

/// The `NAME`s in the first column of the configuration table (`| `NAME` | … |`, several
/// names in one cell allowed, `_PORT`-style suffixes expanded from the name before them).
fn documented() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    let text = std::fs::read_to_string(&path).expect("docs/configuration.md");
    let mut names = BTreeSet::new();
    for line in text.lines().filter(|line| line.starts_with("| `")) {
        let cell = line.split('|').nth(1).unwrap_or_default();
        let mut previous = String::new();
        for name in cell.split('`').skip(1).step_by(2) {
            let name = match name.strip_prefix('_') {
                Some(suffix) => {
                    let stem = previous.rsplit_once('_').map_or("", |(stem, _)| stem);
                    format!("{stem}_{suffix}")
                }
                None => name.to_owned(),
            };
            previous.clone_from(&name);
            names.insert(name);
        }
    }
    names
}

#[test]
fn the_configuration_table_lists_exactly_what_the_binaries_read() {
    let read: BTreeSet<String> = BINARIES
        .iter()
        .flat_map(|binary| (binary.reads)())
        .collect();
    for core in [
        "PORT",
        "AUTH_ADDRESS",
        "TASKS_FOLDER",
        "JWT_SECRET",
        "POD_NAME",
    ] {
        assert!(read.contains(core), "{core} not found in {read:?}");
    }
    let documented = documented();
    let undocumented: Vec<_> = read.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&read).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "read but not in docs/configuration.md: {undocumented:?}; \
         documented but read by no binary: {unknown:?}"
    );
}
