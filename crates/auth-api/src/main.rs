use std::process::ExitCode;

use auth_api::{AppState, Config, DEFAULT_PORT, SERVICE, router};

fn main() -> ExitCode {
    kub_common::server::run_main(SERVICE, DEFAULT_PORT, |env| async move {
        let config = Config::from_env(env)?;
        Ok(router(AppState::new(&config)))
    })
}
