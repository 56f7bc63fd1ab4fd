//! Times argon2 verification on one core with the parameters auth uses (`Argon2::default()`:
//! argon2id, 19 MiB, 2 passes, 1 lane). Prints one JSON line: the median and the mean of
//! `rounds` verifies of a correct password (default 20), in milliseconds.

use std::time::Instant;

use argon2::{
    Argon2,
    password_hash::{PasswordHasher as _, PasswordVerifier as _, phc::PasswordHash},
};

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(20)
        .max(1);
    let password = b"bench-password-1";
    let phc = Argon2::default()
        .hash_password(password)
        .expect("hashing a short password works")
        .to_string();
    let hash = PasswordHash::new(&phc).expect("our own hash parses");
    // One warm-up, so page faults of the first 19 MiB allocation are not counted.
    Argon2::default()
        .verify_password(password, &hash)
        .expect("the right password verifies");
    let mut times: Vec<f64> = (0..rounds)
        .map(|_| {
            let started = Instant::now();
            Argon2::default()
                .verify_password(password, &hash)
                .expect("the right password verifies");
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    println!(
        "{{\"rounds\":{rounds},\"median_ms\":{median:.3},\"mean_ms\":{mean:.3},\"min_ms\":{:.3}}}",
        times[0]
    );
}
