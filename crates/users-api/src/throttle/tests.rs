use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn email(text: &str) -> Email {
    Email::parse(text).unwrap()
}

fn settings(per_account_and_address: &str, per_account: &str) -> RateLimitSettings {
    RateLimitSettings {
        login_per_account_and_address: per_account_and_address.parse().unwrap(),
        login_per_account: per_account.parse().unwrap(),
        ..RateLimitSettings::default()
    }
}

fn over<T: std::fmt::Debug>(result: Result<T, UsersError>) -> (Over, Duration) {
    match result {
        Err(UsersError::Throttled {
            over, retry_after, ..
        }) => (over, retry_after),
        other => panic!("expected a 429, got {other:?}"),
    }
}

impl Throttle {
    /// A login for `email` from `client` at `now` that failed.
    fn fail_login(&self, email: &Email, client: &str, now: Instant) -> Result<(), UsersError> {
        self.check_login(email, ip(client), now).map(|_failed| ())
    }
}

#[test]
fn an_address_gets_its_burst_then_waits_for_the_next_slot() {
    let throttle = Throttle::new(&RateLimitSettings {
        login_per_address: "3/min".parse().unwrap(),
        ..RateLimitSettings::default()
    });
    for _ in 0..3 {
        throttle
            .check_address(Route::Login, ip("127.0.0.1"))
            .unwrap();
    }
    let (over, wait) = over(throttle.check_address(Route::Login, ip("127.0.0.1")));
    assert_eq!(over, Over::Address);
    assert!(
        wait > Duration::from_secs(15) && wait <= Duration::from_secs(20),
        "{wait:?}"
    );
    // Another address, another route: their own buckets.
    throttle
        .check_address(Route::Login, ip("127.0.0.2"))
        .unwrap();
    throttle
        .check_address(Route::Signup, ip("127.0.0.1"))
        .unwrap();
}

#[test]
fn failures_from_one_network_never_spend_the_owners_allowance() {
    let throttle = Throttle::new(&settings("3/min", "off"));
    let (victim, now) = (email("ana@test.com"), Instant::now());
    for _ in 0..3 {
        throttle.fail_login(&victim, "203.0.113.7", now).unwrap();
    }
    let (over, wait) = over(throttle.fail_login(&victim, "203.0.113.7", now));
    assert_eq!(
        (over, wait),
        (Over::AccountAndAddress, Duration::from_secs(20))
    );
    assert!(
        throttle.fail_login(&victim, "203.0.113.200", now).is_err(),
        "one /24 is one network"
    );
    // The owner, elsewhere, logs in right as often as they like: a success is handed back.
    for _ in 0..10 {
        let attempt = throttle.check_login(&victim, ip("198.51.100.1"), now);
        throttle.end_login(attempt.unwrap(), false);
    }
    throttle
        .fail_login(&email("bob@test.com"), "203.0.113.7", now)
        .unwrap();
}

#[test]
fn attempts_in_flight_count_until_they_end() {
    let throttle = Throttle::new(&settings("2/min", "off"));
    let (victim, now) = (email("ana@test.com"), Instant::now());
    let first = throttle
        .check_login(&victim, ip("2001:db8::1"), now)
        .unwrap();
    let _second = throttle
        .check_login(&victim, ip("2001:db8::2"), now)
        .unwrap();
    over(throttle.check_login(&victim, ip("2001:db8::ffff"), now));
    throttle.end_login(first, false);
    let third = throttle.check_login(&victim, ip("2001:db8::3"), now);
    assert!(third.is_ok(), "a place was handed back");
}

#[test]
fn the_account_wide_cap_counts_failures_from_every_network_however_the_email_is_written() {
    let throttle = Throttle::new(&settings("off", "2/min"));
    let now = Instant::now();
    throttle
        .fail_login(&email("ana@test.com"), "203.0.113.7", now)
        .unwrap();
    throttle
        .fail_login(&email(" ANA@test.com"), "198.51.100.7", now)
        .unwrap();
    let (over, _) = over(throttle.fail_login(&email("ana@test.com"), "192.0.2.7", now));
    assert_eq!(over, Over::Account);
    throttle
        .fail_login(&email("bob@test.com"), "192.0.2.7", now)
        .unwrap();
}

#[test]
fn an_attempt_refused_by_the_account_wide_cap_leaves_its_networks_count_alone() {
    let throttle = Throttle::new(&settings("1/h", "1/min"));
    let (victim, now) = (email("ana@test.com"), Instant::now());
    throttle.fail_login(&victim, "203.0.113.7", now).unwrap();
    let (over, _) = over(throttle.fail_login(&victim, "198.51.100.7", now));
    assert_eq!(over, Over::Account);
    let a_minute_later = now + Duration::from_secs(60);
    throttle
        .fail_login(&victim, "198.51.100.7", a_minute_later)
        .unwrap();
}

#[test]
fn off_never_throttles() {
    let throttle = Throttle::new(&RateLimitSettings {
        login_per_address: RateLimit::Off,
        ..settings("off", "off")
    });
    let now = Instant::now();
    for _ in 0..1000 {
        throttle
            .check_address(Route::Login, ip("127.0.0.1"))
            .unwrap();
        throttle
            .fail_login(&email("ana@test.com"), "127.0.0.1", now)
            .unwrap();
    }
    assert_eq!(throttle.keys(), 0);
}

#[test]
fn keys_of_quiet_clients_are_dropped() {
    let throttle = Throttle::new(&RateLimitSettings {
        login_per_address: "1000/s".parse().unwrap(),
        ..settings("1000/s", "1000/s")
    });
    let now = Instant::now();
    for n in 0..500u32 {
        let address = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + (n << 8)));
        throttle.check_address(Route::Login, address).unwrap();
        let account = email(&format!("user{n}@test.com"));
        let _failed = throttle.check_login(&account, address, now).unwrap();
    }
    assert_eq!(throttle.keys(), 1500);
    // Their buckets refill within a millisecond; the next housekeeping forgets them.
    std::thread::sleep(Duration::from_millis(20));
    *throttle.last_housekeeping.lock().unwrap() -= HOUSEKEEPING_EVERY;
    throttle
        .check_address(Route::Login, ip("127.0.0.1"))
        .unwrap();
    assert!(throttle.keys() <= 1, "{}", throttle.keys());
}
