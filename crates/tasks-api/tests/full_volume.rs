//! tasks-api on a volume filled to the budget `kubernetes/tasks-deployment.yaml` sets: it
//! starts, and its peak memory stays under 80% of that manifest's memory limit, so a full
//! volume can never put the Pod in an OOMKill loop. (Start-up time: bench/run.sh.)

use test_support::full_volume::{PodLimits, assert_starts_under_the_limit, fill};

#[test]
fn a_full_volume_starts_under_80_percent_of_the_memory_limit() {
    let limits = PodLimits::of("tasks-deployment.yaml");
    let folder = tempfile::tempdir().unwrap();
    // Ordinary tasks (about 200 bytes a line), 1,000 per user as MAX_TASKS_PER_USER allows.
    let tasks = fill(
        &folder.path().join("tasks.jsonl"),
        limits.store_budget,
        |id| {
            let owner = format!("00000000-0000-4000-8000-{:012}", (id - 1) / 1000);
            format!(
                "{{\"id\":{id},\"owner\":\"{owner}\",\"title\":\"Task number {id}\",\
             \"text\":\"Something ordinary to do, written by the full-volume test.\",\
             \"createdAt\":\"2026-01-01T00:00:00.000Z\"}}\n"
            )
        },
    );
    assert!(tasks > 500_000, "an ordinary full volume holds many tasks");
    assert_starts_under_the_limit(
        env!("CARGO_BIN_EXE_tasks-api"),
        "TASKS_FOLDER",
        folder.path(),
        &limits,
        &format!("{tasks} tasks"),
    );
}
