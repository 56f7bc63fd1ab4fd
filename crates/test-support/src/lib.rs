//! Dev-only helpers for the workspace's tests (never a dependency of a binary): routers
//! in-process, a real auth-api, the real binaries, crash rounds.
//!
//! [`oneshot`]: calling a router in-process; [`auth`]: a real auth-api on a free port;
//! [`settings`]: a binary's settings from a given environment; [`process`]: running the real
//! binaries; [`crash`]: SIGKILL rounds under concurrent writers; [`full_volume`]: a store filled
//! to its manifest's budget; [`postgres`]: a real PostgreSQL server on a free port.

pub mod auth;
pub mod crash;
pub mod full_volume;
pub mod oneshot;
pub mod postgres;
pub mod process;
pub mod settings;

pub use process::*;
pub use settings::settings_from_env;
