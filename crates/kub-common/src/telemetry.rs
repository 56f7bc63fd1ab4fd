//! Structured logs: human-readable by default, JSON lines with `LOG_FORMAT=json`,
//! filtered by `RUST_LOG` (default `info`).

use tracing_subscriber::{EnvFilter, layer::SubscriberExt, util::SubscriberInitExt};

use crate::config::{Lookup, read};

/// Installs the global subscriber. A second call (as in tests) keeps the first one.
pub fn init(env: Lookup) {
    let filter = read(env, "RUST_LOG")
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let json =
        read(env, "LOG_FORMAT").is_some_and(|format| format.trim().eq_ignore_ascii_case("json"));
    let registry = tracing_subscriber::registry().with(filter);
    let _already_set = if json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true),
            )
            .try_init()
    } else {
        // Colours only on a terminal: `docker logs` and log collectors get plain text.
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
        registry
            .with(tracing_subscriber::fmt::layer().with_ansi(ansi))
            .try_init()
    };
}
