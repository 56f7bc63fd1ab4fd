//! users-api on a volume filled to the budget `kubernetes/users-deployment.yaml` sets: it
//! starts, and its peak memory stays under 80% of that manifest's memory limit, so a full
//! volume can never put the Pod in an OOMKill loop. (Start-up time: bench/run.sh.)

use test_support::full_volume::{PodLimits, assert_starts_under_the_limit, fill};

/// A real argon2id hash's length and shape (the store never checks it).
const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$X21nnMKNO3elHOMBOworlA$aoW3/K6HpRandF6ARS7krI5Une+cyQiOclMG2+qa80o";

#[test]
fn a_full_volume_starts_under_80_percent_of_the_memory_limit() {
    let limits = PodLimits::of("users-deployment.yaml");
    let folder = tempfile::tempdir().unwrap();
    let users = fill(
        &folder.path().join("users.jsonl"),
        limits.store_budget,
        |n| {
            format!(
                "{{\"id\":\"00000000-0000-4000-8000-{n:012}\",\"email\":\"user{n}@example.com\",\
             \"passwordHash\":\"{HASH}\",\"createdAt\":\"2026-01-01T00:00:00.000Z\"}}\n"
            )
        },
    );
    assert!(users > 500_000, "an ordinary full volume holds many users");
    assert_starts_under_the_limit(
        env!("CARGO_BIN_EXE_users-api"),
        "USERS_FOLDER",
        folder.path(),
        &limits,
        &format!("{users} users"),
    );
}
