//! The small storage trait the usage logic is written against: the subset of
//! `wasi:keyvalue` (store, atomics, batch) it needs. In wasm it is backed by the
//! imports (`wasi_kv.rs`); natively, in tests, by [`MemoryKv`].

use std::cell::RefCell;
use std::collections::BTreeMap;

/// A storage failure reported by the host; the message is passed on to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvError(pub String);

pub type KvResult<T> = Result<T, KvError>;

pub trait Kv {
    /// Values of `keys`, in order; `None` where a key is absent.
    fn get_many(&self, keys: &[String]) -> KvResult<Vec<Option<Vec<u8>>>>;
    fn set_many(&self, items: Vec<(String, Vec<u8>)>) -> KvResult<()>;
    /// Adds `delta` to the decimal ASCII counter at `key` (absent = 0) and returns the sum.
    fn increment(&self, key: &str, delta: u64) -> KvResult<u64>;

    fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        Ok(self.get_many(&[key.to_owned()])?.pop().flatten())
    }
}

/// An in-memory map, for running the logic natively.
#[derive(Debug, Default)]
pub struct MemoryKv {
    map: RefCell<BTreeMap<String, Vec<u8>>>,
    /// Fail every operation after this many have run (for fault tests).
    fail_after: RefCell<Option<usize>>,
}

impl MemoryKv {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.map.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.borrow().is_empty()
    }

    /// A copy of everything stored, to compare states before and after a call.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        self.map.borrow().clone()
    }

    /// Makes the operation after the next `ops` ones fail, once.
    pub fn fail_after(&self, ops: usize) {
        *self.fail_after.borrow_mut() = Some(ops);
    }

    fn tick(&self) -> KvResult<()> {
        let mut slot = self.fail_after.borrow_mut();
        match *slot {
            Some(0) => {
                *slot = None;
                Err(KvError("injected failure".into()))
            }
            Some(n) => {
                *slot = Some(n - 1);
                Ok(())
            }
            None => Ok(()),
        }
    }
}

impl Kv for MemoryKv {
    fn get_many(&self, keys: &[String]) -> KvResult<Vec<Option<Vec<u8>>>> {
        self.tick()?;
        let map = self.map.borrow();
        Ok(keys.iter().map(|k| map.get(k).cloned()).collect())
    }

    fn set_many(&self, items: Vec<(String, Vec<u8>)>) -> KvResult<()> {
        self.tick()?;
        self.map.borrow_mut().extend(items);
        Ok(())
    }

    fn increment(&self, key: &str, delta: u64) -> KvResult<u64> {
        self.tick()?;
        let mut map = self.map.borrow_mut();
        let current = match map.get(key) {
            Some(bytes) => parse_counter(bytes)?,
            None => 0,
        };
        let next = current
            .checked_add(delta)
            .ok_or_else(|| KvError(format!("counter {key} would overflow")))?;
        map.insert(key.to_owned(), next.to_string().into_bytes());
        Ok(next)
    }
}

/// Reads a decimal ASCII counter, the form `atomics.increment` keeps.
pub fn parse_counter(bytes: &[u8]) -> KvResult<u64> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| KvError("stored counter is not a decimal number".into()))
}
