//! What a batch's lookup found: the entries by kind and id, the ids Redis does not have, and the
//! entries that exist but are unusable.

use std::collections::HashMap;
use std::sync::Arc;

use vault_core::orders::{enrich, EnrichError, EnrichedOrder, Restaurant, SourceOrder, User};
use vault_core::pipeline::MessageError;

/// The two kinds of dictionary entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A user (`{"_id", "name", "login"?, …}`).
    User,
    /// A restaurant with its menu (`{"_id", "name", "menu": […], …}`).
    Restaurant,
}

impl EntryKind {
    /// `user` or `restaurant`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::User => "user",
            EntryKind::Restaurant => "restaurant",
        }
    }
}

impl std::fmt::Display for EntryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A kind of entry the dictionary holds: plain key = its id, JSON value (contract §3).
pub trait DictionaryEntry: Sized {
    /// Which kind it is.
    const KIND: EntryKind;
    /// Parses a stored value.
    fn from_json(bytes: &[u8]) -> Result<Self, MessageError>;
    /// Its `_id`, which must equal its key.
    fn id(&self) -> &str;
}

impl DictionaryEntry for User {
    const KIND: EntryKind = EntryKind::User;
    fn from_json(bytes: &[u8]) -> Result<Self, MessageError> {
        User::from_json(bytes)
    }
    fn id(&self) -> &str {
        &self.id
    }
}

impl DictionaryEntry for Restaurant {
    const KIND: EntryKind = EntryKind::Restaurant;
    fn from_json(bytes: &[u8]) -> Result<Self, MessageError> {
        Restaurant::from_json(bytes)
    }
    fn id(&self) -> &str {
        &self.id
    }
}

/// A stored value as an entry of kind `T`, checked against its key: an entry whose `_id` is
/// not its key would otherwise be silently unknown.
pub(crate) fn parse_entry<T: DictionaryEntry>(key: &str, bytes: &[u8]) -> Result<T, MessageError> {
    let entry = T::from_json(bytes)?;
    if entry.id() == key {
        Ok(entry)
    } else {
        Err(MessageError::Value {
            path: "_id".into(),
            message: format!(
                "is `{}`, not the key",
                entry.id().chars().take(64).collect::<String>()
            ),
        })
    }
}

/// The entries a batch needs, by id; an id Redis does not have is absent.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    pub(crate) users: HashMap<String, Arc<User>>,
    pub(crate) restaurants: HashMap<String, Arc<Restaurant>>,
    /// Entries that exist but are unusable: what is wrong with each.
    pub(crate) invalid: HashMap<(EntryKind, String), String>,
}

impl Lookup {
    /// The user with this id, if the dictionary has it.
    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.get(id).map(Arc::as_ref)
    }

    /// The restaurant with this id, if the dictionary has it.
    pub fn restaurant(&self, id: &str) -> Option<&Restaurant> {
        self.restaurants.get(id).map(Arc::as_ref)
    }

    /// What is wrong with the entry of this kind and id, if it exists but is unusable.
    pub fn invalid(&self, kind: EntryKind, id: &str) -> Option<&str> {
        self.invalid.get(&(kind, id.to_owned())).map(String::as_str)
    }

    /// Enriches one order from these entries (contract §4). An order whose user or
    /// restaurant entry is unusable fails with [`EnrichError::InvalidEntry`].
    pub fn enrich(&self, order: &SourceOrder) -> Result<EnrichedOrder, EnrichError> {
        let p = &order.payload;
        for (kind, key) in [
            (EntryKind::User, &p.user.id),
            (EntryKind::Restaurant, &p.restaurant.id),
        ] {
            if let Some(detail) = self.invalid.get(&(kind, key.clone())) {
                return Err(EnrichError::InvalidEntry {
                    kind: kind.as_str(),
                    key: key.clone(),
                    detail: detail.clone(),
                });
            }
        }
        enrich(
            order,
            self.user(&p.user.id),
            self.restaurant(&p.restaurant.id),
        )
    }
}

/// Where a [`Lookup`] keeps the entries of kind `T`.
pub(crate) trait Found<T> {
    fn found(&mut self) -> &mut HashMap<String, Arc<T>>;
}

impl Found<User> for Lookup {
    fn found(&mut self) -> &mut HashMap<String, Arc<User>> {
        &mut self.users
    }
}

impl Found<Restaurant> for Lookup {
    fn found(&mut self) -> &mut HashMap<String, Arc<Restaurant>> {
        &mut self.restaurants
    }
}
