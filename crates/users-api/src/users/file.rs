//! The users as a JSON-lines file: one line per user. In memory only an index from a keyed
//! hash of each email to where its line is (about 16 bytes a user); the line itself, password
//! hash included, is read from the file when someone logs in.
//!
//! Emails are indexed and compared in their canonical form ([`canonical_stored`]): a user
//! stored before emails were normalized (`josé` decomposed, `bücher.de` in Unicode) logs in
//! however the email is typed, and no one can sign the same address up again. Two such old
//! users whose emails turn out to be one address: the older one, first in the file, is found.

use std::{
    borrow::Cow,
    collections::{HashMap, hash_map},
    hash::{BuildHasher, RandomState},
};

use kub_store::{AppendError, Collection, JsonLinesStore, Location, StorageFailure, StoredRecords};
use serde::{Deserialize, de::IgnoredAny};
use uuid::Uuid;

use super::{EmailTaken, NewUser, User};
use crate::{Email, domain::canonical_stored};

/// What start-up reads of each line: the email, and the other fields only checked to be there.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[expect(dead_code, reason = "the ignored fields are there to be required")]
pub struct UserKey<'line> {
    #[serde(borrow)]
    email: Cow<'line, str>,
    id: IgnoredAny,
    password_hash: IgnoredAny,
    created_at: IgnoredAny,
}

/// Emails are indexed by a hash with keys random to this process (so nobody can choose emails
/// that collide); two emails that do share a hash both stay findable through `colliding`.
#[derive(Clone, Default)]
pub struct Users {
    by_email_hash: HashMap<u64, Location>,
    colliding: Vec<(u64, Location)>,
    hasher: RandomState,
}

impl Users {
    /// Where the user with this email may be: its line, and in the rarest case a few others.
    pub fn candidates(&self, email: &str) -> Vec<Location> {
        self.at_hash(self.hasher.hash_one(email))
    }

    fn at_hash(&self, hash: u64) -> Vec<Location> {
        let first = self.by_email_hash.get(&hash).copied();
        let more = self.colliding.iter().filter(|(other, _)| *other == hash);
        first.into_iter().chain(more.map(|(_, at)| *at)).collect()
    }

    pub fn len(&self) -> usize {
        self.by_email_hash.len() + self.colliding.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_email_hash.is_empty()
    }

    fn add(&mut self, hash: u64, at: Location) {
        match self.by_email_hash.entry(hash) {
            hash_map::Entry::Vacant(vacant) => {
                vacant.insert(at);
            }
            hash_map::Entry::Occupied(_) => self.colliding.push((hash, at)),
        }
    }
}

/// The user with this email, read from the file.
pub fn find_user(
    store: &JsonLinesStore<Users>,
    email: &Email,
) -> Result<Option<User>, StorageFailure> {
    let candidates = store.read(|users| users.candidates(email.as_str()));
    let found = store.fetch(&candidates)?;
    Ok(found
        .into_iter()
        .find(|user| canonical_stored(&user.email) == email.as_str()))
}

impl Collection for Users {
    type Record = User;
    type Key<'line> = UserKey<'line>;
    type Draft = NewUser;
    type Conflict = EmailTaken;

    fn key(user: &User) -> UserKey<'_> {
        UserKey {
            email: Cow::Borrowed(&user.email),
            id: IgnoredAny,
            password_hash: IgnoredAny,
            created_at: IgnoredAny,
        }
    }

    fn admit(
        &self,
        draft: NewUser,
        pending: &[User],
        stored: &StoredRecords<User>,
    ) -> Result<User, AppendError<EmailTaken>> {
        let email = draft.email.as_str();
        let stored_users = stored.get_all(&self.candidates(email)).map_err(|error| {
            tracing::error!(%error, "reading a stored user failed");
            AppendError::Storage(StorageFailure::Unavailable)
        })?;
        if stored_users
            .iter()
            .chain(pending)
            .any(|user| canonical_stored(&user.email) == email)
        {
            return Err(AppendError::Conflict(EmailTaken));
        }
        Ok(User {
            id: Uuid::new_v4().to_string(),
            email: email.to_owned(),
            password_hash: draft.password_hash,
            created_at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        })
    }

    fn index(&mut self, key: UserKey<'_>, at: Location) {
        let hash = self.hasher.hash_one(&*canonical_stored(&key.email));
        self.add(hash, at);
    }

    fn absorb(&mut self, later: Self) {
        for (hash, at) in later.by_email_hash.into_iter().chain(later.colliding) {
            self.add(hash, at);
        }
    }

    fn shrink_to_fit(&mut self) {
        self.by_email_hash.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_sharing_a_hash_both_stay_findable() {
        let at = |offset| Location::new(offset, 10).unwrap();
        let mut users = Users::default();
        users.add(7, at(0));
        users.add(8, at(100));
        users.add(7, at(200));
        assert_eq!(users.at_hash(7), [at(0), at(200)]);
        assert_eq!(users.at_hash(8), [at(100)]);
        assert!(users.at_hash(9).is_empty());
        assert_eq!(users.len(), 3);

        let mut later = Users {
            hasher: users.hasher.clone(),
            ..Users::default()
        };
        later.add(8, at(300));
        users.absorb(later);
        assert_eq!(users.at_hash(8), [at(100), at(300)]);
    }
}
