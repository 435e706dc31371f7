//! Redis keys a test set, deleted at the end.

use vault_core::orders::sample::Catalog;
use vault_redis::RedisWriter;

use crate::redis_config;

/// Redis keys a test set; deleted when the value goes out of scope.
pub struct RedisKeys {
    writer: RedisWriter,
    keys: Vec<String>,
}

impl std::fmt::Debug for RedisKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisKeys")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl RedisKeys {
    /// A connection for fixtures.
    // It connects to Redis: not a default value.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        RedisKeys {
            writer: RedisWriter::new(&redis_config()).expect("Redis settings"),
            keys: Vec::new(),
        }
    }

    /// `SET key value` (any bytes: broken entries too).
    pub fn set(&mut self, key: &str, value: impl AsRef<[u8]>) {
        self.writer.put_raw(&[(key, value.as_ref())]).expect("SET");
        self.keys.push(key.to_owned());
    }

    /// Every user and restaurant of the catalog under its id (docs/contract.md §3), through
    /// the simulator's loader.
    pub fn load_catalog(&mut self, catalog: &Catalog) {
        let keys = vault_services::simulate::load_dictionaries(&mut self.writer, catalog)
            .expect("load the dictionaries");
        assert_eq!(keys, catalog.users.len() + catalog.restaurants.len());
        self.keys.extend(catalog.users.iter().map(|u| u.id.clone()));
        self.keys
            .extend(catalog.restaurants.iter().map(|r| r.id.clone()));
    }

    /// Keys set by other means (`simulate::load_dictionaries`, say), to delete at the end too.
    pub fn track(&mut self, keys: impl IntoIterator<Item = String>) {
        self.keys.extend(keys);
    }

    /// The fixture connection (to load dictionaries or kill clients, say).
    pub fn writer(&mut self) -> &mut RedisWriter {
        &mut self.writer
    }
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        for chunk in self.keys.chunks(500) {
            let keys: Vec<&str> = chunk.iter().map(String::as_str).collect();
            if let Err(err) = self.writer.delete(&keys) {
                eprintln!("could not delete test keys from Redis: {err}");
            }
        }
    }
}
