//! The in-process TTL cache in front of Redis, bounded in size.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vault_core::pipeline::{vars, ConfigError, Env};

/// The in-process cache in front of Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// How long a found entry is served from the cache (default 30 s, `REDIS_CACHE_TTL_MS`;
    /// zero disables caching). A dictionary change reaches the orders after at most this long.
    pub ttl: Duration,
    /// How long an id Redis does not have is remembered as missing (default 5 s, shorter than
    /// `ttl` so that dictionary lag heals quickly; zero: misses always ask Redis again).
    pub miss_ttl: Duration,
    /// At most this many ids per entity kind; the oldest are evicted first (default 100 000).
    pub capacity: usize,
}

impl CacheConfig {
    /// The defaults, with `ttl` from `REDIS_CACHE_TTL_MS` (milliseconds; `0` turns the cache
    /// off). A miss is remembered for at most as long as a found entry.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let defaults = CacheConfig::default();
        let ttl_ms: u64 = env.value(&vars::REDIS_CACHE_TTL_MS)?;
        let ttl = Duration::from_millis(ttl_ms);
        Ok(CacheConfig {
            ttl,
            miss_ttl: defaults.miss_ttl.min(ttl),
            ..defaults
        })
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            ttl: Duration::from_millis(vars::REDIS_CACHE_TTL_MS.default_count()),
            miss_ttl: Duration::from_secs(5),
            capacity: 100_000,
        }
    }
}

struct Slot<T> {
    value: Option<Arc<T>>,
    expires: Instant,
    seq: u64,
}

/// A TTL cache bounded in size; eviction in insertion order (≈ expiry order).
pub(crate) struct Cache<T> {
    config: CacheConfig,
    map: HashMap<String, Slot<T>>,
    order: VecDeque<(u64, String)>,
    seq: u64,
}

impl<T> Cache<T> {
    pub(crate) fn new(config: CacheConfig) -> Self {
        Cache {
            config,
            map: HashMap::new(),
            order: VecDeque::new(),
            seq: 0,
        }
    }

    /// `Some(Some(_))`: cached entry; `Some(None)`: cached miss; `None`: ask Redis.
    pub(crate) fn get(&self, key: &str, now: Instant) -> Option<Option<Arc<T>>> {
        self.map
            .get(key)
            .filter(|slot| slot.expires > now)
            .map(|slot| slot.value.clone())
    }

    pub(crate) fn insert(&mut self, key: &str, value: Option<Arc<T>>, now: Instant) {
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

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ttl_comes_from_redis_cache_ttl_ms() {
        let config = |pairs: &[(&str, &str)]| {
            CacheConfig::from_env(&vault_core::pipeline::env_from_pairs(pairs))
        };
        assert_eq!(config(&[]), Ok(CacheConfig::default()));
        let short = config(&[("REDIS_CACHE_TTL_MS", "200")]).expect("valid");
        assert_eq!(short.ttl, Duration::from_millis(200));
        assert_eq!(
            short.miss_ttl,
            Duration::from_millis(200),
            "a miss no longer than a hit"
        );
        let off = config(&[("REDIS_CACHE_TTL_MS", "0")]).expect("valid");
        assert_eq!((off.ttl, off.miss_ttl), (Duration::ZERO, Duration::ZERO));
        let err = config(&[("REDIS_CACHE_TTL_MS", "soon")]).expect_err("not a number");
        assert!(err.to_string().contains("REDIS_CACHE_TTL_MS"), "{err}");
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
