//! argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane), run on a fixed set of
//! threads, one per core, never on the async workers. Each hash holds 19 MiB: on tokio's
//! blocking pool every new thread got its own malloc arena and kept its 19 MiB blocks, and a
//! 10 s login soak took auth from 26 MiB to 578 MiB. A fixed pool bounds both the CPU and the
//! memory that hashing can take.

use std::sync::{Arc, Mutex, mpsc};

use argon2::{
    Argon2,
    password_hash::{PasswordHasher as _, PasswordVerifier as _, phc::PasswordHash},
};
use kub_auth_wire::MAX_PASSWORD_BYTES;
use tokio::sync::oneshot;

use crate::AuthApiError;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct PasswordHasher {
    jobs: mpsc::Sender<Job>,
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl PasswordHasher {
    /// One hashing thread per core; they end when the last clone of the hasher is dropped.
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..cores {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    loop {
                        let job = queue
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => break,
                        }
                    }
                });
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

    /// `Ok(true)` on a match. A stored hash that is not a PHC string is bad input.
    #[tracing::instrument(skip_all)]
    pub async fn verify(
        &self,
        password: String,
        hashed_password: String,
    ) -> Result<bool, AuthApiError> {
        check_length(&password)?;
        PasswordHash::new(&hashed_password).map_err(|_| {
            AuthApiError::InvalidInput("hashedPassword is not an argon2 PHC string.".into())
        })?;
        self.run(move || {
            let hash = PasswordHash::new(&hashed_password)
                .map_err(|error| AuthApiError::Internal(error.to_string()))?;
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
        self.jobs
            .send(Box::new(move || {
                let _ = reply.send(work());
            }))
            .map_err(|_| AuthApiError::Busy)?;
        answer.await.map_err(|_| AuthApiError::Busy)?
    }
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
        let hasher = PasswordHasher::new();
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
        let hasher = PasswordHasher::new();
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
}
