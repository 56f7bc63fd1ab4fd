use std::process::ExitCode;

use auth_api::{AppState, Config, DEFAULT_PORT, SERVICE, router};

/// Each argon2 hash allocates and frees 19 MiB; glibc malloc kept those blocks (about
/// 200 MiB after a 10 s login load), mimalloc gives them back.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    kub_common::server::run_main(SERVICE, DEFAULT_PORT, |env| async move {
        let config = Config::from_env(env)?;
        Ok(router(AppState::new(&config)))
    })
}
