//! Writes into the dictionary: what the source system's simulator, the `vault simulate`
//! command and the tests do (plain keys = ids, JSON values, contract §3).

use serde::Serialize;

use crate::client::Connection;
use crate::config::RedisConfig;
use crate::error::DictionaryError;

/// A connection for writing dictionary entries.
pub struct RedisWriter {
    conn: Connection,
}

impl std::fmt::Debug for RedisWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisWriter")
            .field("address", &self.conn.address())
            .finish()
    }
}

impl RedisWriter {
    /// A writer on `config` (connects on first use).
    pub fn new(config: &RedisConfig) -> Result<Self, DictionaryError> {
        Ok(RedisWriter {
            conn: Connection::new(config)?,
        })
    }

    /// Sets each entry under its id, as JSON, in one pipeline. Returns how many were set.
    pub fn put_entries<'a, T: Serialize + 'a>(
        &mut self,
        entries: impl IntoIterator<Item = (&'a str, &'a T)>,
    ) -> Result<usize, DictionaryError> {
        let mut pipe = redis::pipe();
        let mut count = 0;
        for (id, entry) in entries {
            let json = serde_json::to_vec(entry).map_err(|e| DictionaryError::Encode {
                key: id.to_owned(),
                message: e.to_string(),
            })?;
            pipe.set(id, json).ignore();
            count += 1;
        }
        if count > 0 {
            self.conn.pipeline::<()>("SET entries", &pipe)?;
        }
        Ok(count)
    }

    /// Sets raw values (any bytes: the tests' broken entries) in one `MSET`.
    pub fn put_raw(&mut self, pairs: &[(&str, &[u8])]) -> Result<(), DictionaryError> {
        if pairs.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("MSET");
        for (key, value) in pairs {
            cmd.arg(*key).arg(*value);
        }
        self.conn.command("MSET", &cmd)
    }

    /// Deletes keys; returns how many existed.
    pub fn delete(&mut self, keys: &[&str]) -> Result<usize, DictionaryError> {
        if keys.is_empty() {
            return Ok(0);
        }
        let mut cmd = redis::cmd("DEL");
        cmd.arg(keys);
        self.conn.command("DEL", &cmd)
    }

    /// Closes the server side of another client's connection (`CLIENT KILL ID`), as a proxy
    /// or a Redis restart would; returns whether it existed.
    pub fn kill_client(&mut self, id: i64) -> Result<bool, DictionaryError> {
        let mut cmd = redis::cmd("CLIENT");
        cmd.arg("KILL").arg("ID").arg(id);
        self.conn.command("CLIENT KILL", &cmd).map(|n: i64| n > 0)
    }
}
