//! The enrichment dictionary on Redis (docs/contract.md §3): plain string keys = the entity id,
//! JSON values.
//!
//! [`RedisDictionary::lookup`] resolves the distinct user and restaurant ids of a whole batch with
//! **one** `MGET` (users and restaurants together), minus what its in-process cache already holds.
//! The cache keeps entries for a short TTL (default 30 s) and is bounded in size, so repeated ids
//! do not hit Redis while a changed dictionary entry is picked up soon after.
//!
//! Faults are told apart (see [`DictionaryError`]): Redis unreachable or the connection lost
//! (retryable; the connection is dropped and reopened on the next call), the server refusing us
//! (configuration, not retryable), and an entry that is present but unusable (dictionary data,
//! not retryable, named by its key — never a silent miss). An id that is simply absent is not an
//! error here: it is `None`, and enrichment reports it as `unknown_user` / `unknown_restaurant`.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisConnectionInfo};
use vault_core::{
    enrich, ConfigError, EnrichError, EnrichedOrder, Env, MessageError, Restaurant, SourceOrder,
    User,
};

// ---------------------------------------------------------------------------------------------
// configuration

/// How to reach the dictionary.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// `REDIS_HOST`.
    pub host: String,
    /// `REDIS_PORT`.
    pub port: u16,
    /// `REDIS_PASSWORD` (may be empty: no `AUTH`).
    pub password: String,
    /// `REDIS_TLS` (default false): `rediss://` with certificate and host name verification.
    pub tls: bool,
    /// `REDIS_TIMEOUT_MS` (default 5000): connect, read and write timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("password", &"<redacted>")
            .field("tls", &self.tls)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A boolean variable: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` (any case).
struct Flag(bool);

impl std::str::FromStr for Flag {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Flag(true)),
            "false" | "0" | "no" | "off" => Ok(Flag(false)),
            _ => Err("expected true or false"),
        }
    }
}

impl RedisConfig {
    /// Reads `REDIS_HOST`, `REDIS_PORT` (required), `REDIS_PASSWORD` (may be empty),
    /// `REDIS_TLS` (default false) and `REDIS_TIMEOUT_MS` (default 5000).
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let host = env.required("REDIS_HOST")?;
        let port: u16 = env.parse("REDIS_PORT")?;
        let password = env.secret("REDIS_PASSWORD");
        let Flag(tls) = env.parse_or("REDIS_TLS", Flag(false))?;
        let timeout_ms: u64 = env.parse_or("REDIS_TIMEOUT_MS", 5000)?;
        if timeout_ms == 0 {
            return Err(ConfigError::Invalid {
                name: "REDIS_TIMEOUT_MS".into(),
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(RedisConfig {
            host,
            port,
            password,
            tls,
            timeout: Duration::from_millis(timeout_ms),
        })
    }

    /// `redis://host:port` or `rediss://host:port`, without credentials (for messages).
    pub fn address(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://{}:{}", self.host, self.port)
    }

    /// The client's connection settings (the password is passed as is, never through a URL).
    pub fn connection_info(&self) -> Result<ConnectionInfo, redis::RedisError> {
        let addr = if self.tls {
            ConnectionAddr::TcpTls {
                host: self.host.clone(),
                port: self.port,
                insecure: false,
                tls_params: None,
            }
        } else {
            ConnectionAddr::Tcp(self.host.clone(), self.port)
        };
        let mut redis = RedisConnectionInfo::default();
        if !self.password.is_empty() {
            redis = redis.set_password(&self.password);
        }
        Ok(addr.into_connection_info()?.set_redis_settings(redis))
    }
}

/// The in-process cache in front of Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// How long a found entry is served from the cache (default 30 s; zero disables caching).
    pub ttl: Duration,
    /// How long an id Redis does not have is remembered as missing (default 5 s, shorter than
    /// `ttl` so that dictionary lag heals quickly; zero: misses always ask Redis again).
    pub miss_ttl: Duration,
    /// At most this many ids per entity kind; the oldest are evicted first (default 100 000).
    pub capacity: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            ttl: Duration::from_secs(30),
            miss_ttl: Duration::from_secs(5),
            capacity: 100_000,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// errors

/// The two kinds of dictionary entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A user (`{"_id", "name", "login"?, …}`).
    User,
    /// A restaurant with its menu (`{"_id", "name", "menu": […], …}`).
    Restaurant,
}

impl std::fmt::Display for EntryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EntryKind::User => "user",
            EntryKind::Restaurant => "restaurant",
        })
    }
}

/// A dictionary lookup failed. [`DictionaryError::is_retryable`] tells a transient fault of
/// Redis or the network apart from one that needs a person (configuration, dictionary data).
#[derive(Debug, thiserror::Error)]
pub enum DictionaryError {
    /// No connection could be opened: Redis down or unreachable (retryable), or it refused us
    /// (wrong password, TLS misconfiguration: an operator's fault, not retryable).
    #[error("Redis dictionary at {address}: cannot connect: {source}")]
    Connect {
        /// `redis://host:port`.
        address: String,
        /// The client's error.
        #[source]
        source: redis::RedisError,
    },
    /// A command failed: a lost connection or timeout (retryable; the connection is reopened
    /// on the next call), or an error reply of the server.
    #[error("Redis dictionary at {address}, {context}: {source}")]
    Command {
        /// `redis://host:port`.
        address: String,
        /// What was being done.
        context: &'static str,
        /// The client's error.
        #[source]
        source: redis::RedisError,
    },
    /// The server answered `MGET` with the wrong number of values (a proxy or server bug).
    #[error("Redis dictionary at {address}: MGET of {expected} keys returned {got} values")]
    Protocol {
        /// `redis://host:port`.
        address: String,
        /// Keys asked for.
        expected: usize,
        /// Values received.
        got: usize,
    },
}

impl DictionaryError {
    /// Whether the same lookup may succeed later (Redis down, connection lost, timeout, server
    /// loading or failing over) — as opposed to a fault in configuration or data.
    pub fn is_retryable(&self) -> bool {
        match self {
            DictionaryError::Connect { source, .. } | DictionaryError::Command { source, .. } => {
                transient(source)
            }
            DictionaryError::Protocol { .. } => false,
        }
    }
}

fn transient(err: &redis::RedisError) -> bool {
    use redis::{ErrorKind, RetryMethod};
    if matches!(
        err.kind(),
        ErrorKind::AuthenticationFailed | ErrorKind::InvalidClientConfig
    ) {
        return false;
    }
    err.is_io_error()
        || err.is_timeout()
        || err.is_connection_dropped()
        || matches!(
            err.retry_method(),
            RetryMethod::Reconnect
                | RetryMethod::ReconnectFromInitialConnections
                | RetryMethod::RetryImmediately
                | RetryMethod::WaitAndRetry
                | RetryMethod::RefreshSlotsAndRetry
        )
}

/// Whether the connection an error came from must not be used again.
fn connection_broken(err: &redis::RedisError) -> bool {
    err.is_io_error() || err.is_timeout() || err.is_unrecoverable_error()
}

// ---------------------------------------------------------------------------------------------
// the cache

struct Slot<T> {
    value: Option<Arc<T>>,
    expires: Instant,
    seq: u64,
}

/// A TTL cache bounded in size; eviction in insertion order (≈ expiry order).
struct Cache<T> {
    config: CacheConfig,
    map: HashMap<String, Slot<T>>,
    order: VecDeque<(u64, String)>,
    seq: u64,
}

impl<T> Cache<T> {
    fn new(config: CacheConfig) -> Self {
        Cache {
            config,
            map: HashMap::new(),
            order: VecDeque::new(),
            seq: 0,
        }
    }

    /// `Some(Some(_))`: cached entry; `Some(None)`: cached miss; `None`: ask Redis.
    fn get(&self, key: &str, now: Instant) -> Option<Option<Arc<T>>> {
        self.map
            .get(key)
            .filter(|slot| slot.expires > now)
            .map(|slot| slot.value.clone())
    }

    fn insert(&mut self, key: &str, value: Option<Arc<T>>, now: Instant) {
        let ttl = if value.is_some() {
            self.config.ttl
        } else {
            self.config.miss_ttl
        };
        if ttl.is_zero() || self.config.capacity == 0 {
            self.map.remove(key);
            return;
        }
        self.seq += 1;
        let slot = Slot {
            value,
            expires: now + ttl,
            seq: self.seq,
        };
        self.map.insert(key.to_owned(), slot);
        self.order.push_back((self.seq, key.to_owned()));
        while self.map.len() > self.config.capacity {
            let Some((seq, oldest)) = self.order.pop_front() else {
                break;
            };
            if let Entry::Occupied(slot) = self.map.entry(oldest) {
                if slot.get().seq == seq {
                    slot.remove();
                }
            }
        }
        // Re-inserted keys leave stale positions behind; drop them once they pile up.
        if self.order.len() > 2 * self.config.capacity.max(16) {
            let map = &self.map;
            self.order
                .retain(|(seq, key)| map.get(key).is_some_and(|slot| slot.seq == *seq));
        }
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

// ---------------------------------------------------------------------------------------------
// the dictionary

/// Counters of what the dictionary did, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DictionaryStats {
    /// `MGET` commands sent.
    pub mgets: u64,
    /// Keys asked of Redis.
    pub keys_fetched: u64,
    /// Ids answered from the cache (entries and remembered misses).
    pub cache_hits: u64,
    /// Connections opened (the first one included).
    pub connects: u64,
    /// Calls that found their connection lost and reopened it.
    pub reconnects: u64,
    /// Entries found unusable (each time one was fetched).
    pub invalid_entries: u64,
}

/// The entries a batch needs, by id; an id Redis does not have is absent.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    users: HashMap<String, Arc<User>>,
    restaurants: HashMap<String, Arc<Restaurant>>,
    /// Entries that exist but are unusable: what is wrong with each.
    invalid: HashMap<(EntryKind, String), String>,
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

    /// Enriches one order from these entries (docs/contract.md §4). An order whose user or
    /// restaurant entry is unusable fails with [`EnrichError::InvalidEntry`].
    pub fn enrich(&self, order: &SourceOrder) -> Result<EnrichedOrder, EnrichError> {
        let p = &order.payload;
        for (kind, key) in [
            (EntryKind::User, &p.user.id),
            (EntryKind::Restaurant, &p.restaurant.id),
        ] {
            if let Some(detail) = self.invalid.get(&(kind, key.clone())) {
                return Err(EnrichError::InvalidEntry {
                    kind: match kind {
                        EntryKind::User => "user",
                        EntryKind::Restaurant => "restaurant",
                    },
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

/// The user and restaurant dictionary on Redis, with a short in-process cache.
///
/// Not shared between threads (`&mut self`): give each worker its own, or put it in a mutex.
pub struct RedisDictionary {
    client: redis::Client,
    address: String,
    timeout: Duration,
    conn: Option<redis::Connection>,
    users: Cache<User>,
    restaurants: Cache<Restaurant>,
    stats: DictionaryStats,
}

impl std::fmt::Debug for RedisDictionary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisDictionary")
            .field("address", &self.address)
            .field("connected", &self.conn.is_some())
            .field("cached_users", &self.users.len())
            .field("cached_restaurants", &self.restaurants.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl RedisDictionary {
    /// A dictionary on `config`. Connects lazily: this succeeds while Redis is down, and
    /// [`RedisDictionary::ping`] tells whether it answers.
    pub fn new(config: &RedisConfig, cache: CacheConfig) -> Result<Self, DictionaryError> {
        let address = config.address();
        let client = config
            .connection_info()
            .and_then(redis::Client::open)
            .map_err(|source| DictionaryError::Connect {
                address: address.clone(),
                source,
            })?;
        Ok(RedisDictionary {
            client,
            address,
            timeout: config.timeout,
            conn: None,
            users: Cache::new(cache),
            restaurants: Cache::new(cache),
            stats: DictionaryStats::default(),
        })
    }

    /// Whether Redis answers (`PING`), reconnecting if needed.
    pub fn ping(&mut self) -> Result<(), DictionaryError> {
        self.command("PING", redis::cmd("PING"))
            .map(|_: redis::Value| ())
    }

    /// The server-side id of the current connection (`CLIENT ID`), opening one if needed.
    pub fn connection_id(&mut self) -> Result<i64, DictionaryError> {
        let mut cmd = redis::cmd("CLIENT");
        cmd.arg("ID");
        self.command("CLIENT ID", cmd)
    }

    /// What the dictionary did so far.
    pub fn stats(&self) -> DictionaryStats {
        self.stats
    }

    /// The address, without credentials.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Resolves the distinct ids of a batch: cached ids from the cache, all others with one
    /// `MGET`. An entry that is present but invalid is an error naming its key.
    pub fn lookup<'i>(
        &mut self,
        user_ids: impl IntoIterator<Item = &'i str>,
        restaurant_ids: impl IntoIterator<Item = &'i str>,
    ) -> Result<Lookup, DictionaryError> {
        let now = Instant::now();
        let mut found = Lookup::default();
        let mut wanted: Vec<(EntryKind, &str)> = Vec::new();
        let mut seen: HashSet<(EntryKind, &str)> = HashSet::new();
        for (kind, id) in user_ids.into_iter().map(|id| (EntryKind::User, id)).chain(
            restaurant_ids
                .into_iter()
                .map(|id| (EntryKind::Restaurant, id)),
        ) {
            if !seen.insert((kind, id)) {
                continue;
            }
            let cached = match kind {
                EntryKind::User => self.users.get(id, now).map(|hit| {
                    if let Some(user) = hit {
                        found.users.insert(id.to_owned(), user);
                    }
                }),
                EntryKind::Restaurant => self.restaurants.get(id, now).map(|hit| {
                    if let Some(restaurant) = hit {
                        found.restaurants.insert(id.to_owned(), restaurant);
                    }
                }),
            };
            match cached {
                Some(()) => self.stats.cache_hits += 1,
                None => wanted.push((kind, id)),
            }
        }
        if wanted.is_empty() {
            return Ok(found);
        }

        let keys: Vec<&str> = wanted.iter().map(|&(_, id)| id).collect();
        let values = self.mget(&keys)?;
        if values.len() != keys.len() {
            return Err(DictionaryError::Protocol {
                address: self.address.clone(),
                expected: keys.len(),
                got: values.len(),
            });
        }
        let now = Instant::now();
        for ((kind, id), value) in wanted.into_iter().zip(values) {
            // An unusable entry concerns only the orders that reference it: they are
            // dead-lettered (`invalid_dictionary_entry`), the rest of the batch goes on. It is
            // not cached, so a fixed entry is used at once.
            let mut invalid = |source: MessageError| {
                self.stats.invalid_entries += 1;
                found
                    .invalid
                    .insert((kind, id.to_owned()), source.to_string());
            };
            match kind {
                EntryKind::User => {
                    let user = match value {
                        Some(bytes) => {
                            match User::from_json(&bytes)
                                .and_then(|u| check_id(&u.id, id).map(|()| u))
                            {
                                Ok(user) => Some(Arc::new(user)),
                                Err(source) => {
                                    invalid(source);
                                    continue;
                                }
                            }
                        }
                        None => None,
                    };
                    if let Some(user) = &user {
                        found.users.insert(id.to_owned(), Arc::clone(user));
                    }
                    self.users.insert(id, user, now);
                }
                EntryKind::Restaurant => {
                    let restaurant = match value {
                        Some(bytes) => match Restaurant::from_json(&bytes)
                            .and_then(|r| check_id(&r.id, id).map(|()| r))
                        {
                            Ok(restaurant) => Some(Arc::new(restaurant)),
                            Err(source) => {
                                invalid(source);
                                continue;
                            }
                        },
                        None => None,
                    };
                    if let Some(restaurant) = &restaurant {
                        found
                            .restaurants
                            .insert(id.to_owned(), Arc::clone(restaurant));
                    }
                    self.restaurants.insert(id, restaurant, now);
                }
            }
        }
        Ok(found)
    }

    /// Enriches a batch of orders (docs/contract.md §4) with one dictionary lookup: per order, in
    /// input order, the enriched order or why it cannot be enriched (`unknown_user`,
    /// `unknown_restaurant`, `unknown_menu_item`, `invalid_dictionary_entry`). The outer error
    /// is a fault of Redis itself, which concerns the whole batch.
    pub fn enrich_batch(
        &mut self,
        orders: &[SourceOrder],
    ) -> Result<Vec<Result<EnrichedOrder, EnrichError>>, DictionaryError> {
        let lookup = self.lookup(
            orders.iter().map(|o| o.payload.user.id.as_str()),
            orders.iter().map(|o| o.payload.restaurant.id.as_str()),
        )?;
        Ok(orders.iter().map(|order| lookup.enrich(order)).collect())
    }

    fn mget(&mut self, keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>, DictionaryError> {
        let mut cmd = redis::cmd("MGET");
        cmd.arg(keys);
        self.stats.mgets += 1;
        self.stats.keys_fetched += keys.len() as u64;
        self.command("MGET", cmd)
    }

    /// Runs a command; a connection found dead (Redis restarted, idle connection closed by a
    /// proxy) is reopened and the command sent once more right away.
    fn command<T: redis::FromRedisValue>(
        &mut self,
        context: &'static str,
        cmd: redis::Cmd,
    ) -> Result<T, DictionaryError> {
        let reused = self.conn.is_some();
        match self.command_once(context, &cmd) {
            Err(DictionaryError::Command { source, .. })
                if reused && source.is_connection_dropped() =>
            {
                self.stats.reconnects += 1;
                self.command_once(context, &cmd)
            }
            result => result,
        }
    }

    fn command_once<T: redis::FromRedisValue>(
        &mut self,
        context: &'static str,
        cmd: &redis::Cmd,
    ) -> Result<T, DictionaryError> {
        let conn = self.connection()?;
        match cmd.query(conn) {
            Ok(value) => Ok(value),
            Err(source) => {
                if connection_broken(&source) {
                    self.conn = None;
                }
                Err(DictionaryError::Command {
                    address: self.address.clone(),
                    context,
                    source,
                })
            }
        }
    }

    fn connection(&mut self) -> Result<&mut redis::Connection, DictionaryError> {
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => self.open()?,
        };
        Ok(self.conn.insert(conn))
    }

    fn open(&mut self) -> Result<redis::Connection, DictionaryError> {
        let connect_err = |source| DictionaryError::Connect {
            address: self.address.clone(),
            source,
        };
        let conn = self
            .client
            .get_connection_with_timeout(self.timeout)
            .map_err(connect_err)?;
        conn.set_read_timeout(Some(self.timeout))
            .map_err(connect_err)?;
        conn.set_write_timeout(Some(self.timeout))
            .map_err(connect_err)?;
        self.stats.connects += 1;
        Ok(conn)
    }
}

/// An entry's `_id` must be its key, or enrichment would silently call it unknown.
fn check_id(found: &str, key: &str) -> Result<(), MessageError> {
    if found == key {
        Ok(())
    } else {
        Err(MessageError::Value {
            path: "_id".into(),
            message: format!(
                "is `{}`, not the key",
                found.chars().take(64).collect::<String>()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
        vault_core::env_from_pairs(pairs)
    }

    #[test]
    fn reads_the_spec_variables() {
        let config = RedisConfig::from_env(&env(&[
            ("REDIS_HOST", "cache"),
            ("REDIS_PORT", "6380"),
            ("REDIS_PASSWORD", "s3cret"),
        ]))
        .expect("valid");
        assert_eq!(config.address(), "redis://cache:6380");
        assert_eq!(config.password, "s3cret");
        assert!(!config.tls);
        assert_eq!(config.timeout, Duration::from_secs(5));
        assert!(!format!("{config:?}").contains("s3cret"));

        let tls = RedisConfig::from_env(&env(&[
            ("REDIS_HOST", "cache"),
            ("REDIS_PORT", "6380"),
            ("REDIS_TLS", "TRUE"),
        ]))
        .expect("valid");
        assert!(tls.tls);
        assert_eq!(tls.address(), "rediss://cache:6380");
        let info = tls.connection_info().expect("tls address");
        assert!(matches!(info.addr(), ConnectionAddr::TcpTls { .. }));
        assert_eq!(info.redis_settings().password(), None);
    }

    #[test]
    fn names_the_variable_at_fault() {
        let missing = RedisConfig::from_env(&env(&[("REDIS_PORT", "6379")]))
            .expect_err("no host")
            .to_string();
        assert_eq!(missing, "configuration: REDIS_HOST is not set");
        let port = RedisConfig::from_env(&env(&[("REDIS_HOST", "h"), ("REDIS_PORT", "x")]))
            .expect_err("bad port")
            .to_string();
        assert!(port.contains("REDIS_PORT"), "{port}");
        let tls = RedisConfig::from_env(&env(&[
            ("REDIS_HOST", "h"),
            ("REDIS_PORT", "1"),
            ("REDIS_TLS", "maybe"),
        ]))
        .expect_err("bad flag")
        .to_string();
        assert!(tls.starts_with("configuration: REDIS_TLS="), "{tls}");
        assert!(!tls.contains('\n'));
    }

    #[test]
    fn cache_expires_and_stays_bounded() {
        let config = CacheConfig {
            ttl: Duration::from_secs(10),
            miss_ttl: Duration::from_secs(1),
            capacity: 3,
        };
        let mut cache: Cache<u32> = Cache::new(config);
        let t0 = Instant::now();
        cache.insert("a", Some(Arc::new(1)), t0);
        cache.insert("m", None, t0);
        assert_eq!(cache.get("a", t0).flatten().as_deref(), Some(&1));
        assert_eq!(cache.get("m", t0), Some(None));
        assert_eq!(cache.get("m", t0 + Duration::from_secs(2)), None);
        assert_eq!(cache.get("a", t0 + Duration::from_secs(11)), None);
        for (i, key) in ["b", "c", "d", "a", "a", "a"].into_iter().enumerate() {
            cache.insert(key, Some(Arc::new(i as u32)), t0);
            assert!(cache.len() <= 3);
        }
        assert_eq!(cache.get("a", t0).flatten().as_deref(), Some(&5));
        assert_eq!(cache.get("d", t0).flatten().as_deref(), Some(&2));
        assert_eq!(cache.get("b", t0), None, "oldest evicted first");
        for i in 0..1000 {
            cache.insert("x", Some(Arc::new(i)), t0);
        }
        assert!(cache.order.len() <= 2 * 16 + 1);
    }

    #[test]
    fn zero_ttl_disables_caching() {
        let mut cache: Cache<u32> = Cache::new(CacheConfig {
            ttl: Duration::ZERO,
            miss_ttl: Duration::ZERO,
            capacity: 10,
        });
        let now = Instant::now();
        cache.insert("a", Some(Arc::new(1)), now);
        cache.insert("b", None, now);
        assert_eq!(cache.len(), 0);
        assert_eq!(cache.get("a", now), None);
    }
}
