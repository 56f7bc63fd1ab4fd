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
        atomic::{AtomicU64, Ordering},
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
    submitted: Arc<AtomicU64>,
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
        Self {
            jobs,
            submitted: Arc::default(),
        }
    }

    /// How many jobs were ever offered to the hashing threads (refused ones included): what
    /// shows that a call refused before its handler cost no hashing.
    pub fn jobs_submitted(&self) -> u64 {
        self.submitted.load(Ordering::Relaxed)
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
        self.submitted.fetch_add(1, Ordering::Relaxed);
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
mod tests;
