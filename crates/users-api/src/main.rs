use std::process::ExitCode;

use users_api::{AppState, DEFAULT_PORT, SERVICE, config_from_env, router};

fn main() -> ExitCode {
    kub_common::server::run_main(SERVICE, DEFAULT_PORT, |env| async move {
        let config = config_from_env(env)?;
        Ok(router(AppState::open(&config).await?))
    })
}
