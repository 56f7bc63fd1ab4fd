//! A binary's settings as it would read them from exactly this environment.

use clap::Parser;

/// Parses `C` from `vars` alone: each variable becomes the flag that reads it, and the test
/// process's own environment is ignored. Panics on a name no flag reads, or a value refused.
pub fn settings_from_env<C: Parser>(vars: &[(&str, &str)]) -> C {
    let command = C::command();
    let mut args = vec![command.get_name().to_owned()];
    for (name, value) in vars {
        let flag = command
            .get_arguments()
            .find(|arg| arg.get_env().is_some_and(|env| env == *name))
            .and_then(|arg| arg.get_long())
            .unwrap_or_else(|| panic!("no flag reads {name}"));
        args.push(format!("--{flag}={value}"));
    }
    let matches = command
        .mut_args(|arg| arg.env(None::<&str>))
        .try_get_matches_from(&args)
        .unwrap_or_else(|error| panic!("{args:?}: {error}"));
    C::from_arg_matches(&matches).unwrap_or_else(|error| panic!("{args:?}: {error}"))
}
