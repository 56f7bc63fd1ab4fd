//! CORS for a page served from another origin (the lesson's frontend calling tasks-api
//! directly): only the origins in `CORS_ORIGINS` may call, none by default, so nothing opens by
//! accident. Behind the frontend's reverse proxy the page and the API share an origin and CORS
//! is not needed at all.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use clap::Args;
use kub_http::request_id::REQUEST_ID_HEADER;
use tower_http::cors::{AllowOrigin, CorsLayer};

#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Browsers")]
pub struct CorsSettings {
    /// Origins whose pages may call this service from a browser, comma-separated
    /// (`http://localhost:3000,https://tasks.example.com`). Unset: none (same-origin only).
    #[arg(long, env = "CORS_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub cors_origins: Vec<HeaderValue>,
}

/// How long a browser may cache a preflight's answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

impl CorsSettings {
    /// The layer answering preflights (without a token) and adding CORS headers for the
    /// allowed origins; `None` when no origin is allowed.
    pub fn layer(&self) -> Option<CorsLayer> {
        if self.cors_origins.is_empty() {
            return None;
        }
        let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
        Some(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(self.cors_origins.clone()))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    request_id.clone(),
                ])
                .expose_headers([request_id, header::RETRY_AFTER])
                .max_age(PREFLIGHT_MAX_AGE),
        )
    }
}

/// An origin as browsers send it: `scheme://host[:port]`, in lower case (a browser's `Origin`
/// always is, and the list is compared byte for byte).
pub fn parse_origin(value: &str) -> Result<HeaderValue, String> {
    const EXPECTED: &str =
        "expected an origin such as http://localhost:3000 (scheme, host and port; no path, no *)";
    let origin = value.trim().trim_end_matches('/').to_ascii_lowercase();
    let host_and_port = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .ok_or(EXPECTED)?;
    if host_and_port.is_empty() || host_and_port.contains(['/', '?', '#', '@', '*']) {
        return Err(EXPECTED.into());
    }
    HeaderValue::from_str(&origin).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        assert_eq!(
            parse_origin("http://localhost:3000/").unwrap(),
            "http://localhost:3000"
        );
        assert_eq!(
            parse_origin(" https://tasks.example.com").unwrap(),
            "https://tasks.example.com"
        );
        assert_eq!(
            parse_origin("HTTP://LocalHost:3000").unwrap(),
            "http://localhost:3000"
        );
        for wrong in [
            "*",
            "localhost:3000",
            "http://",
            "http://a/b",
            "ftp://a",
            "http://a?b",
            "http://user@a",
            "https://*.example.com",
        ] {
            assert!(parse_origin(wrong).is_err(), "{wrong:?}");
        }
        assert!(CorsSettings::default().layer().is_none());
    }
}
