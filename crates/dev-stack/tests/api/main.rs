//! The black-box tests of the whole stack: all three services started in-process on free
//! ports, talking real HTTP to each other and to the test, as in `cargo run -p dev-stack`.
//! What crosses services lives here (the walk-through, finding auth, auth outages, restarts,
//! tokens); each service's own routes are tested beside them, in `crates/<service>/src/routes/`.

mod discovery;
mod flow;
mod introspection;
mod outage;
mod persistence;
mod security;
mod support;
