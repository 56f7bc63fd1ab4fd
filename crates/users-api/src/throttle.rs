//! Rate limits on `POST /login` and `POST /signup`, so a password-guessing flood gets 429s
//! instead of taking every argon2 slot in auth-api, and a stranger cannot lock an owner out.
//!
//! Each limit is a GCRA bucket (governor): `10/min` allows a burst of 10, then one more every
//! 6 s. Logins and signups are counted per client address, signups per email too. For an
//! account, only *failed* logins count (`failures.rs`): per email and client network (an IPv4
//! /24, an IPv6 /64), so whoever guesses from their network never spends the owner's allowance
//! on theirs, and per email from anywhere, a looser cap on guessing from many networks. The
//! address is checked first, so a flood of invented emails from one address cannot fill the
//! per-account tables. Keys of clients that have gone quiet are dropped now and then, so memory
//! stays bounded under many addresses and emails.
//!
//! A 429 is sent after [`THROTTLED_ANSWER_DELAY`]: a client that ignores `Retry-After` and asks
//! again at once slows its own loop down. Measured with 256 connections from one address on 2
//! cores: answered at once, the flood ran at ~48,000 429s a second and took both cores from every
//! other request; delayed, it is at most 256 / 0.25 s = ~1,000 a second, for the price of a timer
//! per waiting request (the connections themselves are capped per address).

mod failures;
mod settings;

use std::{
    hash::BuildHasher,
    net::{IpAddr, Ipv4Addr},
    sync::Mutex,
    time::{Duration, Instant},
};

use governor::{DefaultKeyedRateLimiter, Quota, clock::Clock};

use crate::{Email, UsersError};
use failures::FailureLimiter;
pub use settings::{RateLimit, RateLimitSettings};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Login,
    Signup,
}

/// Which limit a request went over; the `reason` of `http_requests_throttled_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    Address,
    AccountAndAddress,
    Account,
}

impl Over {
    pub fn label(self) -> &'static str {
        match self {
            Self::Address => "per_address",
            Self::AccountAndAddress => "per_account_and_address",
            Self::Account => "per_account",
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

type Limiter<K> = Option<DefaultKeyedRateLimiter<K>>;

pub struct Throttle {
    login_per_address: Limiter<IpAddr>,
    signup_per_address: Limiter<IpAddr>,
    signup_per_account: Limiter<u64>,
    failed_logins_per_account_and_network: Option<FailureLimiter>,
    failed_logins_per_account: Option<FailureLimiter>,
    /// Emails are keyed by a hash with a per-process random key: 8 bytes each, whatever their
    /// length, and no one can aim collisions at another account.
    account_hasher: std::hash::RandomState,
    last_housekeeping: Mutex<Instant>,
}

/// A login being checked: counted as failed for its account until [`Throttle::end_login`]
/// hands it back.
#[derive(Debug)]
#[must_use]
pub struct LoginAttempt {
    account: u64,
    account_and_network: u64,
}

fn limiter<K: std::hash::Hash + Eq + Clone>(limit: RateLimit) -> Limiter<K> {
    let RateLimit::Every { count, period } = limit else {
        return None;
    };
    let quota = Quota::with_period(period / count.get())?.allow_burst(count);
    Some(DefaultKeyedRateLimiter::keyed(quota))
}

/// The network a client address belongs to for the per-account limit: its /24 (IPv4) or /64
/// (IPv6), the block one household, office or host usually holds.
fn client_network(address: IpAddr) -> IpAddr {
    match kub_http::connections::address_key(address) {
        IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4) & 0xffff_ff00)),
        v6 => v6,
    }
}

impl Throttle {
    pub fn new(settings: &RateLimitSettings) -> Self {
        Self {
            login_per_address: limiter(settings.login_per_address),
            signup_per_address: limiter(settings.signup_per_address),
            signup_per_account: limiter(settings.signup_per_account),
            failed_logins_per_account_and_network: FailureLimiter::new(
                settings.login_per_account_and_address,
            ),
            failed_logins_per_account: FailureLimiter::new(settings.login_per_account),
            account_hasher: std::hash::RandomState::new(),
            last_housekeeping: Mutex::new(Instant::now()),
        }
    }

    /// Counts one request of `route` from `address`; over its limit, `Err` (429) after
    /// `THROTTLED_ANSWER_DELAY` (250 ms).
    pub async fn admit_address(&self, route: Route, address: IpAddr) -> Result<(), UsersError> {
        slowed_down(self.check_address(route, address)).await
    }

    /// Counts one signup for `email`; over its limit, `Err` (429) after 250 ms.
    pub async fn admit_signup(&self, email: &Email) -> Result<(), UsersError> {
        slowed_down(self.check_signup(email)).await
    }

    /// Counts a login for `email` from `client` as failed until [`Throttle::end_login`] says
    /// otherwise; `Err` (429, after 250 ms) if one more failure would pass a limit.
    pub async fn begin_login(
        &self,
        email: &Email,
        client: IpAddr,
    ) -> Result<LoginAttempt, UsersError> {
        slowed_down(self.check_login(email, client, Instant::now())).await
    }

    /// A failed attempt stays counted; any other hands its place back.
    pub fn end_login(&self, attempt: LoginAttempt, failed: bool) {
        if !failed {
            self.give_back(&attempt, Instant::now());
        }
    }

    fn check_address(&self, route: Route, address: IpAddr) -> Result<(), UsersError> {
        self.housekeeping();
        let limiter = match route {
            Route::Login => &self.login_per_address,
            Route::Signup => &self.signup_per_address,
        };
        let key = kub_http::connections::address_key(address);
        wait(limiter, &key).map_err(|retry_after| UsersError::Throttled {
            route,
            over: Over::Address,
            retry_after,
        })
    }

    fn check_signup(&self, email: &Email) -> Result<(), UsersError> {
        self.housekeeping();
        let key = self.account_hasher.hash_one(email.as_str());
        wait(&self.signup_per_account, &key).map_err(|retry_after| UsersError::Throttled {
            route: Route::Signup,
            over: Over::Account,
            retry_after,
        })
    }

    fn check_login(
        &self,
        email: &Email,
        client: IpAddr,
        now: Instant,
    ) -> Result<LoginAttempt, UsersError> {
        self.housekeeping();
        let email = email.as_str();
        let attempt = LoginAttempt {
            account: self.account_hasher.hash_one(email),
            account_and_network: self
                .account_hasher
                .hash_one((email, client_network(client))),
        };
        let over = |over, retry_after| UsersError::Throttled {
            route: Route::Login,
            over,
            retry_after,
        };
        if let Some(limiter) = &self.failed_logins_per_account_and_network {
            let taken = limiter.take(attempt.account_and_network, now);
            taken.map_err(|wait| over(Over::AccountAndAddress, wait))?;
        }
        if let Some(limiter) = &self.failed_logins_per_account
            && let Err(wait) = limiter.take(attempt.account, now)
        {
            if let Some(network) = &self.failed_logins_per_account_and_network {
                network.give_back(attempt.account_and_network, now);
            }
            return Err(over(Over::Account, wait));
        }
        Ok(attempt)
    }

    fn give_back(&self, attempt: &LoginAttempt, now: Instant) {
        if let Some(limiter) = &self.failed_logins_per_account_and_network {
            limiter.give_back(attempt.account_and_network, now);
        }
        if let Some(limiter) = &self.failed_logins_per_account {
            limiter.give_back(attempt.account, now);
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
        for limiter in [&self.login_per_address, &self.signup_per_address]
            .into_iter()
            .flatten()
        {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some(limiter) = &self.signup_per_account {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        for failures in self.failure_limiters() {
            failures.retain_recent(*last);
        }
    }

    fn failure_limiters(&self) -> impl Iterator<Item = &FailureLimiter> {
        [
            &self.failed_logins_per_account_and_network,
            &self.failed_logins_per_account,
        ]
        .into_iter()
        .flatten()
    }

    /// Keys held in all tables.
    pub fn keys(&self) -> usize {
        let per_address = [&self.login_per_address, &self.signup_per_address]
            .into_iter()
            .flatten()
            .map(|limiter| limiter.len());
        let per_account = self.signup_per_account.iter().map(|limiter| limiter.len());
        let failures = self.failure_limiters().map(FailureLimiter::len);
        per_address.chain(per_account).chain(failures).sum()
    }
}

/// Counts one request for `key`: `Ok`, or how long until the next would be allowed.
fn wait<K: std::hash::Hash + Eq + Clone>(limiter: &Limiter<K>, key: &K) -> Result<(), Duration> {
    let Some(limiter) = limiter else {
        return Ok(());
    };
    limiter
        .check_key(key)
        .map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
}

async fn slowed_down<T>(checked: Result<T, UsersError>) -> Result<T, UsersError> {
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
