//! The rows of one table in a batch, de-duplicated by identity (key, and a historized
//! satellite's effective time) as they are pushed.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use uuid::Uuid;

use crate::time::Timestamp;

use super::row::DvRow;

/// The rows of one table in a batch: a row whose identity ([`DvRow::identity`]: its key, and a
/// historized satellite's effective time) is already there is not added again. Reads as a
/// slice of rows.
///
/// Each row is loaded with the model's `load_src`, or with a record source of its own
/// ([`Table::push_from`]): a hub fed by two systems says which one each row came from (the
/// first source to deliver a key is the one the warehouse keeps).
#[derive(Debug, Clone)]
pub struct Table<R> {
    rows: Vec<R>,
    index: KeyIndex,
    /// One entry per row once any row has a record source of its own (empty until then).
    sources: Vec<Option<Arc<str>>>,
}

impl<R> Default for Table<R> {
    fn default() -> Self {
        Table {
            rows: Vec::new(),
            index: KeyIndex::default(),
            sources: Vec::new(),
        }
    }
}

impl<R: PartialEq> PartialEq for Table<R> {
    fn eq(&self, other: &Self) -> bool {
        self.rows == other.rows
    }
}

impl<R: DvRow> Table<R> {
    /// Adds `row` unless its identity is there; returns whether it was added.
    pub fn push(&mut self, row: R) -> bool {
        let (key, effective) = row.identity();
        let identity = Identity::new(key, effective);
        if self.rows.len() < SMALL {
            // A few rows (most tables of one order): a scan costs less than a hash set's
            // allocation and hashing.
            let seen = |r: &R| {
                let (k, e) = r.identity();
                Identity::new(k, e) == identity
            };
            if self.rows.iter().any(seen) {
                return false;
            }
        } else {
            if self.index.is_empty() {
                self.index.reserve(SMALL * 2);
                for r in &self.rows {
                    let (k, e) = r.identity();
                    self.index.insert(Identity::new(k, e));
                }
            }
            if !self.index.insert(identity) {
                return false;
            }
        }
        self.rows.push(row);
        if !self.sources.is_empty() {
            self.sources.push(None);
        }
        true
    }

    /// Adds `row` with its own record source (loaded as its `load_src` in place of the
    /// model's) unless its identity is there; returns whether it was added.
    pub fn push_from(&mut self, row: R, source: impl Into<Arc<str>>) -> bool {
        if !self.push(row) {
            return false;
        }
        if self.sources.is_empty() {
            self.sources.resize(self.rows.len() - 1, None);
        } else {
            self.sources.pop();
        }
        self.sources.push(Some(source.into()));
        true
    }
}

impl<R> Table<R> {
    /// Forgets all rows, keeping allocations.
    pub fn clear(&mut self) {
        self.rows.clear();
        self.index.clear();
        self.sources.clear();
    }

    /// The record source of the row at `index`, when it has one of its own
    /// ([`Table::push_from`]; `None`: the model's `load_src`).
    pub fn record_source(&self, index: usize) -> Option<&str> {
        self.sources.get(index).and_then(|s| s.as_deref())
    }

    /// Whether any row has a record source of its own.
    pub fn has_record_sources(&self) -> bool {
        !self.sources.is_empty()
    }

    /// The rows, in the order they were first pushed.
    pub fn into_vec(self) -> Vec<R> {
        self.rows
    }
}

impl<R> std::ops::Deref for Table<R> {
    type Target = [R];

    fn deref(&self) -> &[R] {
        &self.rows
    }
}

impl<'t, R> IntoIterator for &'t Table<R> {
    type Item = &'t R;
    type IntoIter = std::slice::Iter<'t, R>;

    fn into_iter(self) -> Self::IntoIter {
        self.rows.iter()
    }
}

impl<R: DvRow> FromIterator<R> for Table<R> {
    fn from_iter<I: IntoIterator<Item = R>>(rows: I) -> Self {
        let mut table = Table::default();
        for row in rows {
            table.push(row);
        }
        table
    }
}

/// Up to this many rows a table finds a repeated identity by scanning its rows; from then on
/// by a hash set of identities.
const SMALL: usize = 4;

/// Row identities seen. UUIDv5 keys are already uniformly distributed, so hashing them again
/// with SipHash would be wasted work; a multiply-rotate over their bytes is enough.
type KeyIndex = HashSet<Identity, BuildHasherDefault<KeyHasher>>;

/// A row's identity as two words to hash: its key, and the effective time in microseconds
/// (`i64::MIN` for none), so that hashing one costs three rounds of [`KeyHasher`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity(Uuid, i64);

impl Identity {
    fn new(key: Uuid, effective: Option<Timestamp>) -> Self {
        let micros = effective.map_or(i64::MIN, |t| t.naive().and_utc().timestamp_micros());
        Identity(key, micros)
    }
}

impl std::hash::Hash for Identity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.0.as_bytes());
        state.write_u64(self.1 as u64);
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}
