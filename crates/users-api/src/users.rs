//! Where users are kept: a [`UserStore`], either the JSON-lines file (`users/file.rs`, the
//! default) or PostgreSQL when `DATABASE_URL` is set (`users/postgres.rs`). The handlers see
//! only this interface, and both keep the same promises: an email is registered once, even
//! when replicas race for it, and a user answered 201 is stored durably.

mod file;
mod postgres;

use kub_http::metrics::Metrics;
use kub_public::track_store;
use kub_store::{AppendError, JsonLinesStore, StorageFailure};
use serde::{Deserialize, Serialize};

use crate::{Config, Email, USERS_FILE};
pub use file::Users;
use postgres::PostgresUsers;

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub created_at: String,
}

pub struct NewUser {
    pub email: Email,
    pub password_hash: String,
}

/// The email is already registered.
#[derive(Debug)]
pub struct EmailTaken;

#[derive(Clone)]
pub enum UserStore {
    File(JsonLinesStore<Users>),
    Postgres(PostgresUsers),
}

impl UserStore {
    /// PostgreSQL when `DATABASE_URL` is set, else `USERS_FOLDER/users.jsonl`.
    pub async fn open(config: &Config) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        if config.database.database_url.is_some() {
            return Ok(Self::Postgres(
                PostgresUsers::connect(&config.database).await?,
            ));
        }
        let store = JsonLinesStore::open(
            &config.folder,
            USERS_FILE,
            Users::default(),
            config.store_budget,
        )
        .await?;
        Ok(Self::File(store))
    }

    /// The user registered with this email.
    pub async fn find(&self, email: &Email) -> Result<Option<User>, StorageFailure> {
        match self {
            Self::File(store) => file::find_user(store, email),
            Self::Postgres(users) => users.find(email).await,
        }
    }

    /// Stores a new user; answers once it is durable.
    pub async fn create(&self, new: NewUser) -> Result<User, AppendError<EmailTaken>> {
        match self {
            Self::File(store) => store.append(new).await,
            Self::Postgres(users) => users.create(new).await,
        }
    }

    /// What `/readyz` reports: can a user be stored right now?
    pub async fn readiness(&self) -> Result<(), String> {
        match self {
            Self::File(store) => store.readiness().await,
            Self::Postgres(users) => users.readiness().await,
        }
    }

    /// Reports the file's records, bytes and budget in `/metrics`. A database is measured by
    /// its own exporter; counting its rows at every scrape would cost a table scan.
    pub fn track(&self, metrics: &Metrics) {
        if let Self::File(store) = self {
            track_store(metrics, "users", store, Users::len);
        }
    }
}
