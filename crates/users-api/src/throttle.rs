//! Rate limits on `POST /login` and `POST /signup`, per client address and per account, so
//! a password-guessing flood gets 429s instead of taking every argon2 slot in auth-api.
//!
//! Each limit is a GCRA bucket (governor): `10/min` allows a burst of 10, then one more every
//! 6 s. The address is checked first, so a flood of invented emails from one address cannot
//! fill the per-account table. Keys of clients that have gone quiet are dropped now and then,
//! so memory stays bounded under many addresses and emails.
//!
//! A 429 is sent after [`THROTTLED_ANSWER_DELAY`]: a client that ignores `Retry-After` and asks
//! again at once slows its own loop down. Measured with 256 connections from one address on 2
//! cores: answered at once, the flood ran at ~48,000 429s a second and took both cores from every
//! other request; delayed, it is at most 256 / 0.25 s = ~1,000 a second, for the price of a timer
//! per waiting request (the connections themselves are capped per address).

use std::{
    hash::BuildHasher,
    net::IpAddr,
    num::NonZeroU32,
    str::FromStr,
    sync::Mutex,
    time::{Duration, Instant},
};

use clap::Args;
use governor::{DefaultKeyedRateLimiter, Quota, clock::Clock};

use crate::{Email, UsersError};

/// `<count>/<s|min|h>`, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    Off,
    Every { count: NonZeroU32, period: Duration },
}

impl FromStr for RateLimit {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("off") {
            return Ok(Self::Off);
        }
        let wrong =
            || format!("expected `<count>/<s|min|h>` such as `10/min`, or `off`; got {value:?}");
        let (count, unit) = value.split_once('/').ok_or_else(wrong)?;
        let count = count.trim().parse::<NonZeroU32>().map_err(|_| wrong())?;
        let period = match unit.trim() {
            "s" => Duration::from_secs(1),
            "min" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(wrong()),
        };
        Ok(Self::Every { count, period })
    }
}

const DEFAULT_LOGIN_LIMIT_PER_ADDRESS: &str = "30/min";
const DEFAULT_LOGIN_LIMIT_PER_ACCOUNT: &str = "10/min";
const DEFAULT_SIGNUP_LIMIT_PER_ADDRESS: &str = "10/min";
const DEFAULT_SIGNUP_LIMIT_PER_ACCOUNT: &str = "5/min";

/// The limits, each one a setting (`users-api --help`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Rate limits (429 with Retry-After)")]
pub struct RateLimitSettings {
    /// Logins from one client address (an IPv6 /64).
    #[arg(long = "login-limit-per-address", env = "LOGIN_LIMIT_PER_ADDRESS", default_value = DEFAULT_LOGIN_LIMIT_PER_ADDRESS, value_parser = RateLimit::from_str)]
    pub login_per_address: RateLimit,
    /// Logins to one account, from anywhere: what stops guessing from many addresses.
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
            login_per_account: limit(DEFAULT_LOGIN_LIMIT_PER_ACCOUNT),
            signup_per_address: limit(DEFAULT_SIGNUP_LIMIT_PER_ADDRESS),
            signup_per_account: limit(DEFAULT_SIGNUP_LIMIT_PER_ACCOUNT),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Login,
    Signup,
}

/// Which limit a request went over; the `reason` of `http_requests_throttled_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    PerAddress,
    PerAccount,
}

impl Over {
    pub fn label(self) -> &'static str {
        match self {
            Self::PerAddress => "per_address",
            Self::PerAccount => "per_account",
        }
    }
}

/// How long a throttled request waits for its 429.
pub const THROTTLED_ANSWER_DELAY: Duration = Duration::from_millis(250);

/// Quiet keys are dropped this often; past [`MAX_KEYS`] (~50 bytes each, in all tables) every
/// [`CROWDED_HOUSEKEEPING_EVERY`].
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(10);
const MAX_KEYS: usize = 100_000;
const CROWDED_HOUSEKEEPING_EVERY: Duration = Duration::from_secs(1);

pub struct Throttle {
    login: Limiters,
    signup: Limiters,
    /// Emails are keyed by a hash with a per-process random key: 8 bytes each, whatever their
    /// length, and no one can aim collisions at another account.
    account_hasher: std::hash::RandomState,
    last_housekeeping: Mutex<Instant>,
}

struct Limiters {
    per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_account: Option<DefaultKeyedRateLimiter<u64>>,
}

impl Limiters {
    fn new(per_address: RateLimit, per_account: RateLimit) -> Self {
        Self {
            per_address: limiter(per_address),
            per_account: limiter(per_account),
        }
    }
}

fn limiter<K: std::hash::Hash + Eq + Clone>(
    limit: RateLimit,
) -> Option<DefaultKeyedRateLimiter<K>> {
    let RateLimit::Every { count, period } = limit else {
        return None;
    };
    let quota = Quota::with_period(period / count.get())?.allow_burst(count);
    Some(DefaultKeyedRateLimiter::keyed(quota))
}

impl Throttle {
    pub fn new(settings: &RateLimitSettings) -> Self {
        Self {
            login: Limiters::new(settings.login_per_address, settings.login_per_account),
            signup: Limiters::new(settings.signup_per_address, settings.signup_per_account),
            account_hasher: std::hash::RandomState::new(),
            last_housekeeping: Mutex::new(Instant::now()),
        }
    }

    /// Counts one request of `route` from `address`; over its limit, `Err` (429) after
    /// `THROTTLED_ANSWER_DELAY` (250 ms).
    pub async fn admit_address(&self, route: Route, address: IpAddr) -> Result<(), UsersError> {
        slowed_down(self.check_address(route, address)).await
    }

    /// Counts one request of `route` for `email`; over its limit, `Err` (429) after
    /// `THROTTLED_ANSWER_DELAY` (250 ms).
    pub async fn admit_account(&self, route: Route, email: &Email) -> Result<(), UsersError> {
        slowed_down(self.check_account(route, email)).await
    }

    fn check_address(&self, route: Route, address: IpAddr) -> Result<(), UsersError> {
        let key = kub_http::connections::address_key(address);
        self.check(route, Over::PerAddress, |limiters| {
            limiters
                .per_address
                .as_ref()
                .map(|limiter| wait(limiter, &key))
        })
    }

    fn check_account(&self, route: Route, email: &Email) -> Result<(), UsersError> {
        let key = self.account_hasher.hash_one(email.as_str());
        self.check(route, Over::PerAccount, |limiters| {
            limiters
                .per_account
                .as_ref()
                .map(|limiter| wait(limiter, &key))
        })
    }

    fn check(
        &self,
        route: Route,
        over: Over,
        check: impl Fn(&Limiters) -> Option<Result<(), Duration>>,
    ) -> Result<(), UsersError> {
        let limiters = match route {
            Route::Login => &self.login,
            Route::Signup => &self.signup,
        };
        self.housekeeping();
        match check(limiters) {
            Some(Err(retry_after)) => Err(UsersError::Throttled {
                route,
                over,
                retry_after,
            }),
            _ => Ok(()),
        }
    }

    /// Drops the keys whose bucket has refilled (they are as good as new), every
    /// [`HOUSEKEEPING_EVERY`], or every second while the tables hold more than [`MAX_KEYS`].
    fn housekeeping(&self) {
        let Ok(mut last) = self.last_housekeeping.try_lock() else {
            return; // another request is doing it
        };
        let since = last.elapsed();
        let due = since >= HOUSEKEEPING_EVERY
            || (since >= CROWDED_HOUSEKEEPING_EVERY && self.keys() > MAX_KEYS);
        if !due {
            return;
        }
        *last = Instant::now();
        for limiters in [&self.login, &self.signup] {
            if let Some(limiter) = &limiters.per_address {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
            if let Some(limiter) = &limiters.per_account {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        }
    }

    /// Keys held in all tables.
    pub fn keys(&self) -> usize {
        [&self.login, &self.signup]
            .iter()
            .map(|limiters| {
                limiters.per_address.as_ref().map_or(0, |l| l.len())
                    + limiters.per_account.as_ref().map_or(0, |l| l.len())
            })
            .sum()
    }
}

/// Counts one request for `key`: `Ok`, or how long until the next would be allowed.
fn wait<K: std::hash::Hash + Eq + Clone>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
) -> Result<(), Duration> {
    limiter
        .check_key(key)
        .map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
}

async fn slowed_down(checked: Result<(), UsersError>) -> Result<(), UsersError> {
    if checked.is_err() {
        tokio::time::sleep(THROTTLED_ANSWER_DELAY).await;
    }
    checked
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("keys", &self.keys())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
