//! Numbered lists over point reads: the one access pattern every query uses.
//! A list has a length at `{list}/n` and entries at `{list}/1 ..= {list}/n`.

use std::collections::BTreeMap;

use crate::kv::{Kv, KvResult, parse_counter};
use crate::layout::List;

/// Lengths of `lists`, in order (absent = 0), in one read.
pub fn lengths<K: Kv + ?Sized>(kv: &K, lists: &[List]) -> KvResult<Vec<u64>> {
    let keys: Vec<String> = lists.iter().map(List::len_key).collect();
    kv.get_many(&keys)?
        .into_iter()
        .map(|v| v.map_or(Ok(0), |bytes| parse_counter(&bytes)))
        .collect()
}

/// Entries `ks` of `list`, in the order asked, in one read.
pub fn entries<K: Kv + ?Sized>(kv: &K, reads: &[(List, u64)]) -> KvResult<Vec<Option<Vec<u8>>>> {
    let keys: Vec<String> = reads.iter().map(|(list, k)| list.entry(*k)).collect();
    kv.get_many(&keys)
}

/// All entries of several lists (as text), reading lengths then entries: two reads.
pub fn read_all<K: Kv + ?Sized>(kv: &K, lists: &[List]) -> KvResult<Vec<Vec<String>>> {
    let lens = lengths(kv, lists)?;
    let reads: Vec<(List, u64)> = lists
        .iter()
        .zip(&lens)
        .flat_map(|(list, n)| (1..=*n).map(move |k| (list.clone(), k)))
        .collect();
    let mut values = entries(kv, &reads)?.into_iter();
    Ok(lens
        .iter()
        .map(|n| {
            (0..*n)
                .filter_map(|_| values.next().flatten())
                .filter_map(|bytes| String::from_utf8(bytes).ok())
                .collect()
        })
        .collect())
}

/// Writes gathered during one call and flushed with a single `set-many`.
#[derive(Debug, Default)]
pub struct WriteSet {
    puts: Vec<(String, Vec<u8>)>,
    appends: BTreeMap<List, Vec<Vec<u8>>>,
}

impl WriteSet {
    pub fn put(&mut self, key: String, value: Vec<u8>) {
        self.puts.push((key, value));
    }

    pub fn append(&mut self, list: List, value: Vec<u8>) {
        self.appends.entry(list).or_default().push(value);
    }

    /// Reads the lengths of the appended lists, places the new entries after
    /// them, and writes everything at once.
    pub fn flush<K: Kv + ?Sized>(mut self, kv: &K) -> KvResult<()> {
        let lists: Vec<List> = self.appends.keys().cloned().collect();
        let lens = lengths(kv, &lists)?;
        for ((list, values), len) in std::mem::take(&mut self.appends).into_iter().zip(lens) {
            let count = values.len() as u64;
            for (k, value) in (len + 1..).zip(values) {
                self.puts.push((list.entry(k), value));
            }
            self.puts
                .push((list.len_key(), (len + count).to_string().into_bytes()));
        }
        if self.puts.is_empty() {
            return Ok(());
        }
        kv.set_many(self.puts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::MemoryKv;

    #[test]
    fn appends_continue_after_existing_entries() {
        let kv = MemoryKv::new();
        let list = List::failures();
        let mut w = WriteSet::default();
        w.append(list.clone(), b"1".to_vec());
        w.append(list.clone(), b"2".to_vec());
        w.flush(&kv).unwrap();
        let mut w = WriteSet::default();
        w.append(list.clone(), b"3".to_vec());
        w.flush(&kv).unwrap();
        let all = read_all(&kv, &[list.clone(), List::user_events("nobody")]).unwrap();
        assert_eq!(all[0], vec!["1", "2", "3"]);
        assert!(all[1].is_empty());
        assert_eq!(lengths(&kv, &[list]).unwrap(), vec![3]);
    }
}
