//! Every setting the binaries read is documented, and nothing else is: the environment
//! variables and flags of their clap settings (what `--help` lists) against the
//! configuration table.

use std::{collections::BTreeSet, path::Path};

use clap::CommandFactory;
use manifest_check::BINARIES;

fn table_rows() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    let text = std::fs::read_to_string(&path).expect("docs/configuration.md");
    text.lines()
        .filter(|line| line.starts_with("| `"))
        .map(String::from)
        .collect()
}

/// The `NAME`s in the first column of the configuration table (`| `NAME` | … |`, several
/// names in one cell allowed, `_PORT`-style suffixes expanded from the name before them).
fn documented() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in table_rows() {
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

/// `(variable, flag)` for every argument of every binary that has a variable.
fn flags_of<C: CommandFactory>() -> BTreeSet<(String, String)> {
    C::command()
        .get_arguments()
        .filter_map(|arg| {
            let env = arg.get_env()?.to_string_lossy().into_owned();
            Some((env, format!("--{}", arg.get_long()?)))
        })
        .collect()
}

#[test]
fn each_row_names_the_flags_of_its_variables() {
    let flags: BTreeSet<(String, String)> = [
        flags_of::<auth_api::Config>(),
        flags_of::<users_api::Config>(),
        flags_of::<tasks_api::Config>(),
    ]
    .into_iter()
    .flatten()
    .collect();
    for line in table_rows() {
        let cells: Vec<&str> = line.split('|').collect();
        let in_cell = |cell: &str| -> BTreeSet<String> {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(String::from)
                .collect()
        };
        let documented_flags: BTreeSet<String> = in_cell(cells[2]);
        let variables = expand_suffixes(&in_cell(cells[1]));
        let expected: BTreeSet<String> = flags
            .iter()
            .filter(|(env, _)| variables.contains(env))
            .map(|(_, flag)| flag.clone())
            .collect();
        assert_eq!(documented_flags, expected, "{line}");
    }
}

/// A cell's shorthand `AUTH_SERVICE_SERVICE_HOST` / `_PORT`: `_PORT` replaces the last part of
/// the full name before it (AUTH_SERVICE_SERVICE_PORT), not any variable ending in `_PORT`.
fn expand_suffixes(variables: &BTreeSet<String>) -> BTreeSet<String> {
    let full: Vec<&String> = variables
        .iter()
        .filter(|name| !name.starts_with('_'))
        .collect();
    variables
        .iter()
        .flat_map(|name| {
            if !name.starts_with('_') {
                return vec![name.clone()];
            }
            full.iter()
                .filter_map(|base| base.rsplit_once('_'))
                .map(|(stem, _)| format!("{stem}{name}"))
                .collect()
        })
        .collect()
}
