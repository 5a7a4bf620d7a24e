//! The city's dictionary of names: every distinct tuple (`layout::Tuple`) and
//! quantity name gets a number once, so rollup values hold small numbers, not
//! the same strings over and over (they are most of what ingest writes).
//!
//! `nm/{name}` holds the number (decimal); the list `ni` holds the names in
//! number order, so entry k names number k. Numbers start at 1 and are never
//! reused or changed.

use rustc_hash::FxHashMap;

use crate::kv::{Kv, KvError, KvResult};
use crate::layout::{self, List};
use crate::lists::{self, WriteSet};

/// The numbers of the names one batch uses, and the names it adds.
#[derive(Debug, Default)]
pub struct Names {
    ids: FxHashMap<String, u32>,
    /// Names this batch numbered, in number order, from `first_new`.
    added: Vec<String>,
    first_new: u32,
}

impl Names {
    /// The keys to read for `names` (sorted, no repeats), to be passed with
    /// their values to [`Names::from_stored`].
    pub fn keys(names: &[String]) -> Vec<String> {
        names.iter().map(|n| layout::name_number(n)).collect()
    }

    /// The numbers of `names` from their stored values (aligned with
    /// [`Names::keys`]); names not numbered yet get numbers after the last
    /// one stored (one more read, only when there are such names).
    pub fn from_stored<K: Kv + ?Sized>(
        kv: &K,
        names: Vec<String>,
        values: impl Iterator<Item = Option<Vec<u8>>>,
    ) -> KvResult<Names> {
        let mut out = Names::default();
        let mut unknown = Vec::new();
        for (name, value) in names.into_iter().zip(values) {
            match value {
                Some(bytes) => {
                    let id = std::str::from_utf8(&bytes)
                        .ok()
                        .and_then(|t| t.parse().ok())
                        .ok_or_else(|| {
                            KvError(format!("the number of name {name:?} is unreadable"))
                        })?;
                    out.ids.insert(name, id);
                }
                None => unknown.push(name),
            }
        }
        if !unknown.is_empty() {
            let stored = lists::lengths(kv, &[List::names()])?[0];
            out.first_new = u32::try_from(stored + 1)
                .map_err(|_| KvError("the city's dictionary of names is full".into()))?;
            for name in unknown {
                let id = out.first_new + out.added.len() as u32;
                out.ids.insert(name.clone(), id);
                out.added.push(name);
            }
        }
        Ok(out)
    }

    /// The number of a name given to [`Names::from_stored`].
    pub fn id(&self, name: &str) -> u32 {
        self.ids.get(name).copied().unwrap_or(0)
    }

    /// The name of a number this batch knows (for error messages).
    pub fn name(&self, id: u32) -> Option<&str> {
        self.ids
            .iter()
            .find_map(|(name, i)| (*i == id).then_some(name.as_str()))
    }

    /// Queues the names this batch numbered. The list appends them after
    /// its stored length, the same one their numbers were counted from.
    pub fn write(self, w: &mut WriteSet) {
        for (offset, name) in self.added.into_iter().enumerate() {
            let id = self.first_new + offset as u32;
            w.put(layout::name_number(&name), id.to_string().into_bytes());
            w.append(List::names(), name.into_bytes());
        }
    }
}

/// The names of `ids`, read from the dictionary (one read of its list).
pub fn resolve<K: Kv + ?Sized>(
    kv: &K,
    ids: impl IntoIterator<Item = u32>,
) -> KvResult<FxHashMap<u32, String>> {
    let mut ids: Vec<u32> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let reads: Vec<(List, u64)> = ids
        .iter()
        .map(|id| (List::names(), u64::from(*id)))
        .collect();
    let mut out = FxHashMap::default();
    for (id, value) in ids.into_iter().zip(lists::entries(kv, &reads)?) {
        let name = value
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| KvError(format!("name number {id} is missing from the dictionary")))?;
        out.insert(id, name);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::MemoryKv;

    fn number(kv: &MemoryKv, names: &[&str]) -> Names {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let values = kv.get_many(&Names::keys(&names)).unwrap();
        Names::from_stored(kv, names, values.into_iter()).unwrap()
    }

    #[test]
    fn names_keep_their_numbers_and_new_ones_follow() {
        let kv = MemoryKv::new();
        let first = number(&kv, &["chat/m1/s", "tokens"]);
        assert_eq!((first.id("chat/m1/s"), first.id("tokens")), (1, 2));
        let mut w = WriteSet::default();
        first.write(&mut w);
        w.flush(&kv).unwrap();

        let second = number(&kv, &["a/b/s", "tokens"]);
        assert_eq!((second.id("tokens"), second.id("a/b/s")), (2, 3));
        assert_eq!(second.name(3), Some("a/b/s"));
        let mut w = WriteSet::default();
        second.write(&mut w);
        w.flush(&kv).unwrap();

        let named = resolve(&kv, [3, 1, 2, 1]).unwrap();
        assert_eq!(named[&1], "chat/m1/s");
        assert_eq!(named[&2], "tokens");
        assert_eq!(named[&3], "a/b/s");
        assert!(resolve(&kv, [4]).is_err(), "an unknown number is an error");
    }
}
