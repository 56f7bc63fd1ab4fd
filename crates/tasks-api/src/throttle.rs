//! The rate limit on `POST /tasks` per user (`TASK_LIMIT_PER_USER`), as users-api limits logins
//! (crates/users-api/src/throttle.rs): a GCRA bucket per user (governor; `30/min` allows a burst
//! of 30, then one more every 2 s), keyed by a hash of the user id with a per-process random
//! key (8 bytes a user, and no one can aim collisions at another user). Users who have gone
//! quiet are dropped now and then, so memory stays bounded; a 429 is sent after
//! [`THROTTLED_ANSWER_DELAY`], so a client that ignores `Retry-After` slows its own loop down.
//!
//! Together with the byte quota, what keeps one account from filling the store fast, and from
//! taking the disk's fsyncs from everyone else.

use std::{
    hash::{BuildHasher, RandomState},
    sync::Mutex,
    time::{Duration, Instant},
};

use governor::{DefaultKeyedRateLimiter, Quota, clock::Clock};
pub use kub_http::rate_limit::RateLimit;

use crate::TasksError;

/// How long a throttled request waits for its 429.
pub const THROTTLED_ANSWER_DELAY: Duration = Duration::from_millis(250);
/// Users whose bucket has refilled are dropped this often.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(10);

pub struct TaskThrottle {
    per_user: Option<DefaultKeyedRateLimiter<u64>>,
    user_hasher: RandomState,
    last_housekeeping: Mutex<Instant>,
}

impl TaskThrottle {
    pub fn new(limit: RateLimit) -> Self {
        let per_user = match limit {
            RateLimit::Off => None,
            RateLimit::Every { count, period } => Quota::with_period(period / count.get())
                .map(|quota| DefaultKeyedRateLimiter::keyed(quota.allow_burst(count))),
        };
        Self {
            per_user,
            user_hasher: RandomState::new(),
            last_housekeeping: Mutex::new(Instant::now()),
        }
    }

    /// Counts one new task of `user`; over the limit, `Err` (429) after 250 ms.
    pub async fn admit(&self, user: &str) -> Result<(), TasksError> {
        let checked = self.check(user);
        if checked.is_err() {
            tokio::time::sleep(THROTTLED_ANSWER_DELAY).await;
        }
        checked
    }

    fn check(&self, user: &str) -> Result<(), TasksError> {
        let Some(limiter) = &self.per_user else {
            return Ok(());
        };
        self.housekeeping(limiter);
        let key = self.user_hasher.hash_one(user);
        limiter.check_key(&key).map_err(|not_until| {
            TasksError::Throttled(not_until.wait_time_from(limiter.clock().now()))
        })
    }

    fn housekeeping(&self, limiter: &DefaultKeyedRateLimiter<u64>) {
        let Ok(mut last) = self.last_housekeeping.try_lock() else {
            return; // another request is doing it
        };
        if last.elapsed() >= HOUSEKEEPING_EVERY {
            *last = Instant::now();
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Users held in the table.
    pub fn keys(&self) -> usize {
        self.per_user.as_ref().map_or(0, |limiter| limiter.len())
    }
}

impl std::fmt::Debug for TaskThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskThrottle")
            .field("keys", &self.keys())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_user_gets_a_burst_then_waits_and_quiet_users_are_forgotten() {
        let throttle = TaskThrottle::new("3/min".parse().unwrap());
        for _ in 0..3 {
            throttle.check("ana").unwrap();
        }
        match throttle.check("ana") {
            Err(TasksError::Throttled(wait)) => {
                assert!(wait > Duration::from_secs(15) && wait <= Duration::from_secs(20));
            }
            other => panic!("{other:?}"),
        }
        throttle.check("bob").unwrap();
        assert_eq!(throttle.keys(), 2);

        let fast = TaskThrottle::new("1000/s".parse().unwrap());
        for n in 0..100 {
            fast.check(&format!("user{n}")).unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
        *fast.last_housekeeping.lock().unwrap() -= HOUSEKEEPING_EVERY;
        fast.check("ana").unwrap();
        assert!(fast.keys() <= 1, "{}", fast.keys());
    }

    #[test]
    fn off_never_throttles() {
        let throttle = TaskThrottle::new(RateLimit::Off);
        for _ in 0..1000 {
            throttle.check("ana").unwrap();
        }
        assert_eq!(throttle.keys(), 0);
    }
}
