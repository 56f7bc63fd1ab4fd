//! The black-box tests again with users and tasks in PostgreSQL (`DATABASE_URL`): the same
//! walk-through and storage promises as `tests/api/` (the same files), and what only a shared
//! database and several replicas can break. Each test gets its own database on one real
//! server that this binary starts (test_support::postgres).

mod backend {
    pub fn database_url() -> Option<String> {
        Some(test_support::postgres::fresh_database())
    }
}

#[path = "../api/flow.rs"]
mod flow;
#[path = "../api/storage.rs"]
mod storage;
#[path = "../api/support.rs"]
mod support;

mod database_outage;
mod replicas;
mod roles;
