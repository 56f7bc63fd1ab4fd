//! The users collection: one JSON line per user, indexed by email in memory.

use std::collections::HashMap;

use kub_store::Collection;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Email;

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

#[derive(Default)]
pub struct Users {
    by_email: HashMap<String, User>,
}

impl Users {
    pub fn find(&self, email: &Email) -> Option<&User> {
        self.by_email.get(email.as_str())
    }

    pub fn len(&self) -> usize {
        self.by_email.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_email.is_empty()
    }
}

impl Collection for Users {
    type Record = User;
    type Draft = NewUser;
    type Conflict = EmailTaken;

    fn admit(&self, draft: NewUser, pending: &[User]) -> Result<User, EmailTaken> {
        let email = draft.email.as_str();
        if self.by_email.contains_key(email) || pending.iter().any(|user| user.email == email) {
            return Err(EmailTaken);
        }
        Ok(User {
            id: Uuid::new_v4().to_string(),
            email: email.to_owned(),
            password_hash: draft.password_hash,
            created_at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        })
    }

    fn insert(&mut self, user: User) {
        self.by_email.insert(user.email.clone(), user);
    }
}
