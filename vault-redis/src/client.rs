//! The dictionary client: one connection, reopened when it breaks, and the batch lookup.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vault_core::orders::{EnrichError, EnrichedOrder, Restaurant, SourceOrder, User};

use crate::cache::{Cache, CacheConfig};
use crate::config::RedisConfig;
use crate::error::{connection_broken, DictionaryError};
use crate::lookup::{parse_entry, DictionaryEntry, EntryKind, Found, Lookup};

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

/// One connection to Redis, opened lazily and reopened after it broke; the commands of the
/// dictionary and of its writer go through it.
pub(crate) struct Connection {
    config: RedisConfig,
    /// Made at the first connect (reading `REDIS_CA_FILE` then: a file mounted late, or
    /// fixed, is picked up on the next attempt).
    client: Option<redis::Client>,
    address: String,
    timeout: Duration,
    conn: Option<redis::Connection>,
    pub(crate) connects: u64,
    pub(crate) reconnects: u64,
}

impl Connection {
    pub(crate) fn new(config: &RedisConfig) -> Result<Self, DictionaryError> {
        let address = config.address();
        Ok(Connection {
            config: config.clone(),
            client: None,
            address,
            timeout: config.timeout,
            conn: None,
            connects: 0,
            reconnects: 0,
        })
    }

    /// The client, made once: with `REDIS_CA_FILE`, verifying against that CA.
    fn client(&mut self, ca: Option<&[u8]>) -> Result<&redis::Client, DictionaryError> {
        let client = match self.client.take() {
            Some(client) => client,
            None => self.make_client(ca)?,
        };
        Ok(self.client.insert(client))
    }

    /// `REDIS_CA_FILE`'s content, read at each connect (a Secret volume mounted late, or
    /// fixed, is picked up on the next attempt).
    fn read_ca(&self) -> Result<Option<Vec<u8>>, DictionaryError> {
        let Some(file) = &self.config.ca_file else {
            return Ok(None);
        };
        std::fs::read(file)
            .map(Some)
            .map_err(|e| DictionaryError::CaFile {
                address: self.address.clone(),
                file: file.clone(),
                message: e.to_string(),
            })
    }

    fn make_client(&self, ca: Option<&[u8]>) -> Result<redis::Client, DictionaryError> {
        let connect = |source| DictionaryError::Connect {
            address: self.address.clone(),
            source,
        };
        let info = self.config.connection_info().map_err(connect)?;
        match ca {
            Some(root_cert) => {
                let certificates = redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(root_cert.to_vec()),
                };
                redis::Client::build_with_tls(info, certificates).map_err(connect)
            }
            None => redis::Client::open(info).map_err(connect),
        }
    }

    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    pub(crate) fn is_open(&self) -> bool {
        self.conn.is_some()
    }

    /// Runs a command; a connection found dead (Redis restarted, idle connection closed by a
    /// proxy) is reopened and the command sent once more right away.
    pub(crate) fn command<T: redis::FromRedisValue>(
        &mut self,
        context: &'static str,
        cmd: &redis::Cmd,
    ) -> Result<T, DictionaryError> {
        self.run(context, |conn| cmd.query(conn))
    }

    /// [`Connection::command`] for a pipeline.
    pub(crate) fn pipeline<T: redis::FromRedisValue>(
        &mut self,
        context: &'static str,
        pipe: &redis::Pipeline,
    ) -> Result<T, DictionaryError> {
        self.run(context, |conn| pipe.query(conn))
    }

    fn run<T>(
        &mut self,
        context: &'static str,
        query: impl Fn(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, DictionaryError> {
        let reused = self.conn.is_some();
        match self.run_once(context, &query) {
            Err(DictionaryError::Command { source, .. })
                if reused && source.is_connection_dropped() =>
            {
                self.reconnects += 1;
                self.run_once(context, &query)
            }
            result => result,
        }
    }

    fn run_once<T>(
        &mut self,
        context: &'static str,
        query: &impl Fn(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, DictionaryError> {
        let conn = self.connection()?;
        match query(conn) {
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

    /// With TLS: a handshake of its own, every socket operation bounded by the timeout, before
    /// the client connects (the client's handshake has no timeout: against a plaintext port it
    /// would wait for ever). A failure says what it is; a plaintext port shows as a timeout.
    fn check_tls(&self, ca: Option<&[u8]>) -> Result<(), DictionaryError> {
        if !self.config.tls {
            return Ok(());
        }
        let failed = |message: String| DictionaryError::Tls {
            address: self.address.clone(),
            message,
        };
        let mut builder = native_tls::TlsConnector::builder();
        if let (Some(pem), Some(file)) = (ca, &self.config.ca_file) {
            let ca = native_tls::Certificate::from_pem(pem)
                .map_err(|e| failed(format!("REDIS_CA_FILE={file}: {e}")))?;
            builder
                .add_root_certificate(ca)
                .disable_built_in_roots(true);
        }
        let connector = builder.build().map_err(|e| failed(e.to_string()))?;
        let host = self.config.host.as_str();
        let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host, self.config.port))
            .map_err(|e| failed(format!("resolve {host}: {e}")))?
            .next()
            .ok_or_else(|| failed(format!("{host} resolves to no address")))?;
        let tcp = std::net::TcpStream::connect_timeout(&addr, self.timeout)
            .map_err(|e| failed(format!("connect: {e}")))?;
        tcp.set_read_timeout(Some(self.timeout))
            .and_then(|()| tcp.set_write_timeout(Some(self.timeout)))
            .map_err(|e| failed(e.to_string()))?;
        match connector.connect(host, tcp) {
            Ok(_) => Ok(()),
            Err(native_tls::HandshakeError::Failure(e)) => Err(failed(e.to_string())),
            Err(native_tls::HandshakeError::WouldBlock(_)) => Err(failed(format!(
                "no answer within {} ms (is {}:{} a TLS port?)",
                self.timeout.as_millis(),
                host,
                self.config.port
            ))),
        }
    }

    fn open(&mut self) -> Result<redis::Connection, DictionaryError> {
        let ca = self.read_ca()?;
        self.check_tls(ca.as_deref())?;
        let (timeout, address) = (self.timeout, self.address.clone());
        let connect_err = |source| DictionaryError::Connect {
            address: address.clone(),
            source,
        };
        let conn = self
            .client(ca.as_deref())?
            .get_connection_with_timeout(timeout)
            .map_err(connect_err)?;
        conn.set_read_timeout(Some(timeout)).map_err(connect_err)?;
        conn.set_write_timeout(Some(timeout)).map_err(connect_err)?;
        self.connects += 1;
        Ok(conn)
    }
}

/// The user and restaurant dictionary on Redis, with a short in-process cache.
///
/// Not shared between threads (`&mut self`): give each worker its own, or put it in a mutex.
pub struct RedisDictionary {
    conn: Connection,
    users: Cache<User>,
    restaurants: Cache<Restaurant>,
    stats: DictionaryStats,
}

impl std::fmt::Debug for RedisDictionary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisDictionary")
            .field("address", &self.conn.address())
            .field("connected", &self.conn.is_open())
            .field("cached_users", &self.users.len())
            .field("cached_restaurants", &self.restaurants.len())
            .field("stats", &self.stats())
            .finish()
    }
}

impl RedisDictionary {
    /// A dictionary on `config`. Connects lazily: this succeeds while Redis is down, and
    /// [`RedisDictionary::ping`] tells whether it answers.
    pub fn new(config: &RedisConfig, cache: CacheConfig) -> Result<Self, DictionaryError> {
        Ok(RedisDictionary {
            conn: Connection::new(config)?,
            users: Cache::new(cache),
            restaurants: Cache::new(cache),
            stats: DictionaryStats::default(),
        })
    }

    /// Whether Redis answers (`PING`), reconnecting if needed.
    pub fn ping(&mut self) -> Result<(), DictionaryError> {
        self.conn
            .command("PING", &redis::cmd("PING"))
            .map(|_: redis::Value| ())
    }

    /// The server-side id of the current connection (`CLIENT ID`), opening one if needed.
    pub fn connection_id(&mut self) -> Result<i64, DictionaryError> {
        let mut cmd = redis::cmd("CLIENT");
        cmd.arg("ID");
        self.conn.command("CLIENT ID", &cmd)
    }

    /// What the dictionary did so far.
    pub fn stats(&self) -> DictionaryStats {
        DictionaryStats {
            connects: self.conn.connects,
            reconnects: self.conn.reconnects,
            ..self.stats
        }
    }

    /// The address, without credentials.
    pub fn address(&self) -> &str {
        self.conn.address()
    }

    /// Resolves the distinct ids of a batch: cached ids from the cache, all others with one
    /// `MGET`. An entry that is present but unusable is recorded in the [`Lookup`] (the orders
    /// that reference it are refused), never a silent miss; it is not cached, so a fixed entry
    /// is used at once.
    pub fn lookup<'i>(
        &mut self,
        user_ids: impl IntoIterator<Item = &'i str>,
        restaurant_ids: impl IntoIterator<Item = &'i str>,
    ) -> Result<Lookup, DictionaryError> {
        let now = Instant::now();
        let mut found = Lookup::default();
        let mut wanted: Vec<(EntryKind, &str)> = Vec::new();
        let mut seen: HashSet<(EntryKind, &str)> = HashSet::new();
        let ids = user_ids.into_iter().map(|id| (EntryKind::User, id)).chain(
            restaurant_ids
                .into_iter()
                .map(|id| (EntryKind::Restaurant, id)),
        );
        for (kind, id) in ids {
            if !seen.insert((kind, id)) {
                continue;
            }
            let hit = match kind {
                EntryKind::User => from_cache(&self.users, &mut found, id, now),
                EntryKind::Restaurant => from_cache(&self.restaurants, &mut found, id, now),
            };
            if hit {
                self.stats.cache_hits += 1;
            } else {
                wanted.push((kind, id));
            }
        }
        if wanted.is_empty() {
            return Ok(found);
        }

        let keys: Vec<&str> = wanted.iter().map(|&(_, id)| id).collect();
        let values = self.mget(&keys)?;
        if values.len() != keys.len() {
            return Err(DictionaryError::Protocol {
                address: self.address().to_owned(),
                expected: keys.len(),
                got: values.len(),
            });
        }
        let now = Instant::now();
        for ((kind, id), value) in wanted.into_iter().zip(values) {
            let usable = match kind {
                EntryKind::User => store(&mut self.users, &mut found, id, value, now),
                EntryKind::Restaurant => store(&mut self.restaurants, &mut found, id, value, now),
            };
            if !usable {
                self.stats.invalid_entries += 1;
            }
        }
        Ok(found)
    }

    /// Enriches a batch of orders (contract §4) with one dictionary lookup: per order, in
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
        self.conn.command("MGET", &cmd)
    }
}

/// Serves `id` from `cache` into `found`; whether the cache knew it (an entry or a miss).
fn from_cache<T>(cache: &Cache<T>, found: &mut Lookup, id: &str, now: Instant) -> bool
where
    Lookup: Found<T>,
{
    match cache.get(id, now) {
        Some(Some(entry)) => {
            found.found().insert(id.to_owned(), entry);
            true
        }
        Some(None) => true,
        None => false,
    }
}

/// Takes what Redis returned for `id` into `found` and `cache`; `false` if the entry exists
/// but is unusable (recorded in `found`, not cached).
fn store<T: DictionaryEntry>(
    cache: &mut Cache<T>,
    found: &mut Lookup,
    id: &str,
    value: Option<Vec<u8>>,
    now: Instant,
) -> bool
where
    Lookup: Found<T>,
{
    let entry = match value.map(|bytes| parse_entry::<T>(id, &bytes)) {
        None => None,
        Some(Ok(entry)) => Some(Arc::new(entry)),
        Some(Err(problem)) => {
            found
                .invalid
                .insert((T::KIND, id.to_owned()), problem.to_string());
            return false;
        }
    };
    if let Some(entry) = &entry {
        found.found().insert(id.to_owned(), Arc::clone(entry));
    }
    cache.insert(id, entry, now);
    true
}
