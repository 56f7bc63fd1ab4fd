//! argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane), run on a fixed set of
//! threads, one per core, never on the async workers. Each hash holds 19 MiB: on tokio's
//! blocking pool every new thread got its own malloc arena and kept its 19 MiB blocks, and a
//! 10 s login soak took auth from 26 MiB to 578 MiB. A fixed pool bounds both the CPU and the
//! memory that hashing can take.
//!
//! The queue in front of the threads is bounded too (`HASH_QUEUE_SIZE`): when it is full, the
//! answer is an immediate 503, not a wait that ends in the caller's timeout. A job that waited
//! longer than `HASH_MAX_WAIT`, or whose caller has gone, is dropped undone: its answer would
//! reach no one.

use std::{
    sync::{
        Arc, Mutex, PoisonError,
        mpsc::{self, TrySendError},
    },
    time::{Duration, Instant},
};

use argon2::{
    ARGON2ID_IDENT, Argon2, Params,
    password_hash::{PasswordHasher as _, PasswordVerifier as _, phc::PasswordHash},
};
use kub_auth_wire::MAX_PASSWORD_BYTES;
use tokio::sync::oneshot;

use crate::{AuthApiError, HashingSettings, error::Shed};

/// argon2's version 0x13 (19), the only one it writes.
const ARGON2_VERSION: u32 = 0x13;

struct Job {
    queued: Instant,
    /// Runs the work, or only answers "shed" when `expired`.
    run: Box<dyn FnOnce(bool) + Send>,
}

#[derive(Clone)]
pub struct PasswordHasher {
    jobs: mpsc::SyncSender<Job>,
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new(&HashingSettings::default())
    }
}

impl PasswordHasher {
    /// One hashing thread per core; they end when the last clone of the hasher is dropped.
    pub fn new(settings: &HashingSettings) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let (jobs, queue) = mpsc::sync_channel::<Job>(settings.queue_size);
        let queue = Arc::new(Mutex::new(queue));
        let max_wait = settings.max_wait;
        for n in 0..cores {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || work_through(&queue, max_wait));
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a hashing thread");
            }
        }
        Self { jobs }
    }

    #[tracing::instrument(skip_all)]
    pub async fn hash(&self, password: String) -> Result<String, AuthApiError> {
        check_length(&password)?;
        self.run(move || {
            Argon2::default()
                .hash_password(password.as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|error| AuthApiError::Internal(error.to_string()))
        })
        .await
    }

    /// `Ok(true)` on a match. A stored hash that is not an argon2id PHC string with this
    /// service's own parameters is bad input: the parameters set the cost of the check, and a
    /// caller must not choose them (`m=4194304` would take 4 GiB).
    #[tracing::instrument(skip_all)]
    pub async fn verify(
        &self,
        password: String,
        hashed_password: String,
    ) -> Result<bool, AuthApiError> {
        check_length(&password)?;
        let hash = parse_ours(&hashed_password)?;
        self.run(move || {
            Ok(Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok())
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, AuthApiError> + Send + 'static,
    ) -> Result<T, AuthApiError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            queued: Instant::now(),
            run: Box::new(move |expired| {
                if reply.is_closed() {
                    return; // the caller gave up: no one would read the answer
                }
                let _ = reply.send(if expired {
                    Err(AuthApiError::Overloaded(Shed::WaitedTooLong))
                } else {
                    work()
                });
            }),
        };
        self.jobs.try_send(job).map_err(|error| match error {
            TrySendError::Full(_) => AuthApiError::Overloaded(Shed::QueueFull),
            TrySendError::Disconnected(_) => AuthApiError::Internal("no hashing thread".into()),
        })?;
        answer
            .await
            .map_err(|_| AuthApiError::Internal("a hashing thread ended".into()))?
    }
}

/// A hashing thread's life: take the next job, run it unless it waited too long.
fn work_through(queue: &Mutex<mpsc::Receiver<Job>>, max_wait: Duration) {
    loop {
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match job {
            Ok(job) => (job.run)(job.queued.elapsed() > max_wait),
            Err(_) => break,
        }
    }
}

/// `hashed_password` parsed, if it is an argon2id PHC string with this service's parameters.
fn parse_ours(hashed_password: &str) -> Result<PasswordHash, AuthApiError> {
    let foreign = || {
        AuthApiError::InvalidInput(
            "hashedPassword is not an argon2id PHC string from this service.".into(),
        )
    };
    let hash = PasswordHash::new(hashed_password).map_err(|_| foreign())?;
    let params = Params::try_from(&hash).map_err(|_| foreign())?;
    let ours = Params::default();
    let same = hash.algorithm == ARGON2ID_IDENT
        && hash.version == Some(ARGON2_VERSION)
        && params.m_cost() == ours.m_cost()
        && params.t_cost() == ours.t_cost()
        && params.p_cost() == ours.p_cost()
        && params.output_len() == Some(Params::DEFAULT_OUTPUT_LEN);
    if same { Ok(hash) } else { Err(foreign()) }
}

fn check_length(password: &str) -> Result<(), AuthApiError> {
    if password.trim().is_empty() {
        return Err(AuthApiError::InvalidInput(
            "password must not be blank.".into(),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AuthApiError::InvalidInput(format!(
            "password must be at most {MAX_PASSWORD_BYTES} bytes."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
}
