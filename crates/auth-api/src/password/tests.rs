//! Hashing and checking passwords on the fixed pool, and its bounded queue.

use super::*;

#[tokio::test]
async fn hashes_are_salted_argon2id_and_verify_only_the_right_password() {
    let hasher = PasswordHasher::default();
    let first = hasher.hash("testers".into()).await.unwrap();
    let second = hasher.hash("testers".into()).await.unwrap();
    assert!(
        first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{first}"
    );
    assert_ne!(first, second, "a fresh salt each time");
    assert!(
        hasher
            .verify("testers".into(), first.clone())
            .await
            .unwrap()
    );
    assert!(!hasher.verify("testers_hash".into(), first).await.unwrap());
}

#[tokio::test]
async fn blank_long_or_malformed_inputs_are_refused() {
    let hasher = PasswordHasher::default();
    assert!(matches!(
        hasher.hash("  ".into()).await,
        Err(AuthApiError::InvalidInput(_))
    ));
    let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
    assert!(matches!(
        hasher.hash(long).await,
        Err(AuthApiError::InvalidInput(_))
    ));
    let not_a_hash = hasher.verify("testers".into(), "testers_hash".into()).await;
    assert!(matches!(not_a_hash, Err(AuthApiError::InvalidInput(_))));
}

#[tokio::test]
async fn hashes_with_other_parameters_are_refused_before_any_work() {
    let hasher = PasswordHasher::default();
    let ours = hasher.hash("testers".into()).await.unwrap();
    let (_, salt_and_hash) = ours.split_once("p=1$").unwrap();
    for foreign in [
        format!("$argon2id$v=19$m=4194304,t=2,p=1${salt_and_hash}"),
        format!("$argon2id$v=19$m=19456,t=1000,p=1${salt_and_hash}"),
        format!("$argon2i$v=19$m=19456,t=2,p=1${salt_and_hash}"),
        format!("$argon2id$v=16$m=19456,t=2,p=1${salt_and_hash}"),
    ] {
        let started = std::time::Instant::now();
        let answer = hasher.verify("testers".into(), foreign.clone()).await;
        assert!(
            matches!(answer, Err(AuthApiError::InvalidInput(_))),
            "{foreign}"
        );
        // A 4 GiB or 1000-pass hash would take seconds; refusing it takes microseconds.
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}

/// One thread per core, all busy; the queue takes `queue_size` more; the next is refused
/// at once; and a job that waited past `max_wait` is answered without being done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_at_once_and_stale_jobs_are_dropped() {
    let settings = HashingSettings {
        queue_size: 1,
        // Long enough for an idle thread to take a job even on a loaded machine.
        max_wait: Duration::from_millis(500),
    };
    let hasher = PasswordHasher::new(&settings);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let gate = Arc::new(Mutex::new(gate));
    let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut busy = Vec::new();
    for n in 0..cores {
        let (gate, hasher, running) = (gate.clone(), hasher.clone(), started.clone());
        busy.push(tokio::spawn(async move {
            hasher
                .run(move || {
                    running.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let _ = gate.lock().unwrap().recv();
                    Ok(())
                })
                .await
        }));
        // One at a time: the queue holds only one job until a thread takes it.
        let waiting_since = Instant::now();
        while started.load(std::sync::atomic::Ordering::SeqCst) <= n {
            let last = busy.last().unwrap();
            assert!(
                !last.is_finished(),
                "busy job {n} was answered without running"
            );
            assert!(
                waiting_since.elapsed() < Duration::from_secs(10),
                "busy job {n} never ran"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let queued = tokio::spawn({
        let hasher = hasher.clone();
        async move { hasher.run(|| Ok(())).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let refused = hasher.run(|| Ok(())).await;
    assert!(
        matches!(refused, Err(AuthApiError::Overloaded(Shed::QueueFull))),
        "{refused:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(50));
    // The queued job is now older than max_wait when a thread gets to it.
    tokio::time::sleep(Duration::from_millis(600)).await;
    for _ in 0..cores {
        release.send(()).unwrap();
    }
    for job in busy {
        assert!(job.await.unwrap().is_ok());
    }
    let stale = queued.await.unwrap();
    assert!(matches!(
        stale,
        Err(AuthApiError::Overloaded(Shed::WaitedTooLong))
    ));
}
