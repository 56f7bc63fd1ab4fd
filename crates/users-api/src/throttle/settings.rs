//! The limits' settings: `<count>/<s|min|h>` or `off`, each a flag with its variable.

use std::str::FromStr;

use clap::Args;
pub use kub_http::rate_limit::RateLimit;

const DEFAULT_LOGIN_LIMIT_PER_ADDRESS: &str = "30/min";
const DEFAULT_LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS: &str = "5/min";
const DEFAULT_LOGIN_LIMIT_PER_ACCOUNT: &str = "20/min";
const DEFAULT_SIGNUP_LIMIT_PER_ADDRESS: &str = "10/min";
const DEFAULT_SIGNUP_LIMIT_PER_ACCOUNT: &str = "5/min";

/// The limits, each one a setting (`users-api --help`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Rate limits (429 with Retry-After)")]
pub struct RateLimitSettings {
    /// Logins from one client address (an IPv6 /64), right or wrong: what stops a flood.
    #[arg(long = "login-limit-per-address", env = "LOGIN_LIMIT_PER_ADDRESS", default_value = DEFAULT_LOGIN_LIMIT_PER_ADDRESS, value_parser = RateLimit::from_str)]
    pub login_per_address: RateLimit,
    /// Failed logins for one email from one client network (an IPv4 /24, an IPv6 /64); a right
    /// password is not counted. Someone guessing from another network never spends the owner's.
    #[arg(long = "login-limit-per-account-and-address", env = "LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS", default_value = DEFAULT_LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS, value_parser = RateLimit::from_str)]
    pub login_per_account_and_address: RateLimit,
    /// Failed logins for one email from anywhere: what stops guessing from many networks. Keep
    /// it above the limit per account and address, so that one network alone cannot reach it.
    #[arg(long = "login-limit-per-account", env = "LOGIN_LIMIT_PER_ACCOUNT", default_value = DEFAULT_LOGIN_LIMIT_PER_ACCOUNT, value_parser = RateLimit::from_str)]
    pub login_per_account: RateLimit,
    /// Signups from one client address.
    #[arg(long = "signup-limit-per-address", env = "SIGNUP_LIMIT_PER_ADDRESS", default_value = DEFAULT_SIGNUP_LIMIT_PER_ADDRESS, value_parser = RateLimit::from_str)]
    pub signup_per_address: RateLimit,
    /// Signups for one email.
    #[arg(long = "signup-limit-per-account", env = "SIGNUP_LIMIT_PER_ACCOUNT", default_value = DEFAULT_SIGNUP_LIMIT_PER_ACCOUNT, value_parser = RateLimit::from_str)]
    pub signup_per_account: RateLimit,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        let limit = |text: &str| text.parse().expect("a valid default");
        Self {
            login_per_address: limit(DEFAULT_LOGIN_LIMIT_PER_ADDRESS),
            login_per_account_and_address: limit(DEFAULT_LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS),
            login_per_account: limit(DEFAULT_LOGIN_LIMIT_PER_ACCOUNT),
            signup_per_address: limit(DEFAULT_SIGNUP_LIMIT_PER_ADDRESS),
            signup_per_account: limit(DEFAULT_SIGNUP_LIMIT_PER_ACCOUNT),
        }
    }
}
