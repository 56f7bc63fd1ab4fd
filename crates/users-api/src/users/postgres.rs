//! The users in PostgreSQL, table `users.users` (`migrations/`). The unique index on the email
//! decides which of two racing signups wins, across any number of replicas.

use kub_postgres::{Database, DatabaseSettings, QueryError, rfc3339_millis};
use kub_store::{AppendError, StorageFailure};
use sqlx::migrate::Migrator;
use uuid::Uuid;

use super::{EmailTaken, NewUser, User};
use crate::{Email, SERVICE};

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

#[derive(Clone)]
pub struct PostgresUsers {
    database: Database,
}

impl PostgresUsers {
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, kub_postgres::ConnectError> {
        let database = Database::connect(settings, SERVICE, "users", &MIGRATIONS).await?;
        Ok(Self { database })
    }

    /// The user stored under the email's canonical form, or else under the form an older
    /// version stored it in (trimmed and lower-cased only: `josé` decomposed stays
    /// decomposed), so such a user still logs in when typing the email as at signup.
    pub async fn find(&self, email: &Email) -> Result<Option<User>, StorageFailure> {
        let legacy = email.legacy_form().unwrap_or(email.as_str());
        let query = sqlx::query_as::<_, (String, String, i64)>(
            "SELECT id::text, password_hash, (extract(epoch FROM created_at) * 1000)::int8 \
             FROM users WHERE email = $1 OR email = $2 ORDER BY email = $1 DESC LIMIT 1",
        )
        .bind(email.as_str())
        .bind(legacy)
        .fetch_optional(self.database.pool());
        let found = self.database.run("find user", query).await?;
        Ok(found.map(|(id, password_hash, created_ms)| User {
            id,
            email: email.as_str().to_owned(),
            password_hash,
            created_at: rfc3339_millis(created_ms),
        }))
    }

    pub async fn create(&self, new: NewUser) -> Result<User, AppendError<EmailTaken>> {
        let id = Uuid::new_v4().to_string();
        let query = sqlx::query_scalar::<_, i64>(
            "INSERT INTO users (id, email, password_hash) VALUES ($1::uuid, $2, $3) \
             RETURNING (extract(epoch FROM created_at) * 1000)::int8",
        )
        .bind(&id)
        .bind(new.email.as_str())
        .bind(&new.password_hash)
        .fetch_one(self.database.pool());
        match self.database.run("create user", query).await {
            Ok(created_ms) => Ok(User {
                id,
                email: new.email.as_str().to_owned(),
                password_hash: new.password_hash,
                created_at: rfc3339_millis(created_ms),
            }),
            Err(QueryError::UniqueViolation) => Err(AppendError::Conflict(EmailTaken)),
            Err(QueryError::Storage(failure)) => Err(AppendError::Storage(failure)),
        }
    }

    pub async fn readiness(&self) -> Result<(), String> {
        self.database.readiness().await
    }
}
