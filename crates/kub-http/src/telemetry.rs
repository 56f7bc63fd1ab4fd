//! Logs: human-readable by default, one JSON object per line with `LOG_FORMAT=json`, filtered
//! by `RUST_LOG` (default `info`).

use tracing_subscriber::{EnvFilter, layer::SubscriberExt, util::SubscriberInitExt};

use crate::settings::{LogFormat, LogSettings};

/// Installs the global subscriber. A second call (as in tests) keeps the first one.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_new(&settings.log_filter);
    let valid_filter = filter.is_ok();
    let registry =
        tracing_subscriber::registry().with(filter.unwrap_or_else(|_| EnvFilter::new("info")));
    let _already_set = match settings.log_format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true),
            )
            .try_init(),
        LogFormat::Text => {
            // Colours only on a terminal: `docker logs` and log collectors get plain text.
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
            registry
                .with(tracing_subscriber::fmt::layer().with_ansi(ansi))
                .try_init()
        }
    };
    if !valid_filter {
        tracing::warn!(filter = %settings.log_filter, "RUST_LOG is not a valid filter; logging at info");
    }
}
