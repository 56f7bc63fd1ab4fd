//! Failed logins per key, by the same rule as the other limits (GCRA: `5/min` allows a burst of
//! 5, then one more every 12 s), but counted from the answer: an attempt takes its place in the
//! count before the password is checked (so a thousand attempts in flight cannot all pass), and
//! hands it back when the password was right. governor cannot hand a place back, so this one
//! small table is our own.

use std::{
    collections::{HashMap, hash_map::Entry},
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

use super::RateLimit;

pub struct FailureLimiter {
    /// One failure is forgiven every `interval` (`period / count`).
    interval: Duration,
    /// How far ahead of now a key's count may run: `count - 1` intervals (the burst).
    burst: Duration,
    /// Per key, when its count will be back to zero (GCRA's theoretical arrival time).
    clear_at: Mutex<HashMap<u64, Instant>>,
}

impl FailureLimiter {
    pub fn new(limit: RateLimit) -> Option<Self> {
        let RateLimit::Every { count, period } = limit else {
            return None;
        };
        let interval = period / count.get();
        Some(Self {
            interval,
            burst: interval * (count.get() - 1),
            clear_at: Mutex::new(HashMap::new()),
        })
    }

    /// Counts one failure for `key` at `now`, or `Err` with how long until one more is allowed.
    pub fn take(&self, key: u64, now: Instant) -> Result<(), Duration> {
        let mut table = self.clear_at.lock().unwrap_or_else(PoisonError::into_inner);
        let clear_at = table.get(&key).map_or(now, |at| (*at).max(now));
        let ahead = clear_at - now;
        if ahead > self.burst {
            return Err(ahead - self.burst);
        }
        table.insert(key, clear_at + self.interval);
        Ok(())
    }

    /// Takes back a failure counted by [`FailureLimiter::take`]: the attempt succeeded.
    pub fn give_back(&self, key: u64, now: Instant) {
        let mut table = self.clear_at.lock().unwrap_or_else(PoisonError::into_inner);
        if let Entry::Occupied(mut entry) = table.entry(key) {
            match entry.get().checked_sub(self.interval) {
                Some(earlier) if earlier > now => *entry.get_mut() = earlier,
                _ => {
                    entry.remove();
                }
            }
        }
    }

    /// Drops the keys whose count is back to zero (as good as new).
    pub fn retain_recent(&self, now: Instant) {
        let mut table = self.clear_at.lock().unwrap_or_else(PoisonError::into_inner);
        table.retain(|_, clear_at| *clear_at > now);
        table.shrink_to_fit();
    }

    pub fn len(&self) -> usize {
        self.clear_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(text: &str) -> FailureLimiter {
        FailureLimiter::new(text.parse().unwrap()).unwrap()
    }

    #[test]
    fn a_key_gets_its_burst_then_one_more_every_interval() {
        let failures = limiter("3/min");
        let start = Instant::now();
        for _ in 0..3 {
            failures.take(1, start).unwrap();
        }
        let wait = failures.take(1, start).unwrap_err();
        assert_eq!(wait, Duration::from_secs(20));
        failures.take(2, start).unwrap();
        let later = start + Duration::from_secs(20);
        failures.take(1, later).unwrap();
        assert!(failures.take(1, later).is_err());
    }

    #[test]
    fn a_success_hands_its_place_back() {
        let failures = limiter("2/min");
        let now = Instant::now();
        failures.take(1, now).unwrap();
        failures.take(1, now).unwrap();
        failures.give_back(1, now);
        failures.take(1, now).unwrap();
        assert!(failures.take(1, now).is_err());
        failures.give_back(1, now);
        failures.give_back(1, now);
        assert_eq!(failures.len(), 0, "back to zero: forgotten");
    }

    #[test]
    fn keys_back_to_zero_are_dropped() {
        let failures = limiter("10/s");
        let now = Instant::now();
        for key in 0..100 {
            failures.take(key, now).unwrap();
        }
        failures.take(7, now).unwrap();
        failures.retain_recent(now + Duration::from_millis(150));
        assert_eq!(failures.len(), 1, "only the key with two failures");
    }
}
