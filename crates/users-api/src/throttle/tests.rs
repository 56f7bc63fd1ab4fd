use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn email(text: &str) -> Email {
    Email::parse(text).unwrap()
}

fn settings(login_per_address: &str, login_per_account: &str) -> RateLimitSettings {
    RateLimitSettings {
        login_per_address: login_per_address.parse().unwrap(),
        login_per_account: login_per_account.parse().unwrap(),
        ..RateLimitSettings::default()
    }
}

fn retry_after(result: Result<(), UsersError>) -> (Over, Duration) {
    match result {
        Err(UsersError::Throttled {
            over, retry_after, ..
        }) => (over, retry_after),
        other => panic!("expected a 429, got {other:?}"),
    }
}

#[test]
fn limits_parse_or_explain() {
    let every = |count, secs| RateLimit::Every {
        count: NonZeroU32::new(count).unwrap(),
        period: Duration::from_secs(secs),
    };
    assert_eq!("30/min".parse(), Ok(every(30, 60)));
    assert_eq!(" 5/s ".parse(), Ok(every(5, 1)));
    assert_eq!("100/h".parse(), Ok(every(100, 3600)));
    assert_eq!("OFF".parse(), Ok(RateLimit::Off));
    for bad in ["", "30", "0/min", "-1/min", "ten/min", "30/day", "30/"] {
        let error = bad.parse::<RateLimit>().unwrap_err();
        assert!(error.contains("10/min"), "{bad}: {error}");
    }
}

#[test]
fn an_address_gets_its_burst_then_waits_for_the_next_slot() {
    let throttle = Throttle::new(&settings("3/min", "off"));
    for _ in 0..3 {
        throttle
            .check_address(Route::Login, ip("127.0.0.1"))
            .unwrap();
    }
    let (over, wait) = retry_after(throttle.check_address(Route::Login, ip("127.0.0.1")));
    assert_eq!(over, Over::PerAddress);
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
fn an_account_is_limited_whatever_the_address_and_however_the_email_is_written() {
    let throttle = Throttle::new(&settings("off", "2/min"));
    throttle
        .check_account(Route::Login, &email("ana@test.com"))
        .unwrap();
    throttle
        .check_account(Route::Login, &email(" ANA@test.com"))
        .unwrap();
    let (over, _) = retry_after(throttle.check_account(Route::Login, &email("ana@test.com")));
    assert_eq!(over, Over::PerAccount);
    throttle
        .check_account(Route::Login, &email("bob@test.com"))
        .unwrap();
}

#[test]
fn one_ipv6_host_is_one_address() {
    let throttle = Throttle::new(&settings("1/min", "off"));
    throttle
        .check_address(Route::Login, ip("2001:db8::1"))
        .unwrap();
    let refused = throttle.check_address(Route::Login, ip("2001:db8::2"));
    assert!(matches!(refused, Err(UsersError::Throttled { .. })));
}

#[test]
fn off_never_throttles() {
    let throttle = Throttle::new(&settings("off", "off"));
    for _ in 0..1000 {
        throttle
            .check_address(Route::Login, ip("127.0.0.1"))
            .unwrap();
        throttle
            .check_account(Route::Login, &email("ana@test.com"))
            .unwrap();
    }
    assert_eq!(throttle.keys(), 0);
}

#[test]
fn keys_of_quiet_clients_are_dropped() {
    let throttle = Throttle::new(&settings("1000/s", "1000/s"));
    for n in 0..500u32 {
        let address = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n));
        throttle.check_address(Route::Login, address).unwrap();
        let account = email(&format!("user{n}@test.com"));
        throttle.check_account(Route::Login, &account).unwrap();
    }
    assert_eq!(throttle.keys(), 1000);
    // Their buckets refill within a millisecond; the next housekeeping forgets them.
    std::thread::sleep(Duration::from_millis(20));
    *throttle.last_housekeeping.lock().unwrap() -= HOUSEKEEPING_EVERY;
    throttle
        .check_address(Route::Login, ip("127.0.0.1"))
        .unwrap();
    assert!(throttle.keys() <= 1, "{}", throttle.keys());
}
