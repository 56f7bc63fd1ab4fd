//! The black-box tests of the whole stack: all three services started in-process on free
//! ports, talking real HTTP to each other and to the test, as in `cargo run -p dev-stack`.
//! What crosses services lives here (the walk-through, finding auth, auth outages, restarts,
//! tokens); each service's own routes are tested beside them, in `crates/<service>/src/routes/`.
//! `storage.rs` holds what every backend promises; `tests/api_postgres/` runs it, and the
//! walk-through, again on PostgreSQL.

/// This binary keeps users and tasks in files; `tests/api_postgres/` runs the same tests on
/// PostgreSQL.
mod backend {
    pub fn database_url() -> Option<String> {
        None
    }
}

mod abuse;
mod callers;
mod discovery;
mod flow;
mod introspection;
mod outage;
mod persistence;
mod request_ids;
mod security;
mod storage;
mod support;
