//! Append-only lists over point reads: the one access pattern every query
//! uses. A list keeps its length and its newest entries (fewer than [`CHUNK`])
//! in one head value at `{list}/n`; every full run of [`CHUNK`] entries moves to
//! a chunk value `{list}/c{i}` and never changes again. An append of a batch
//! writes the head and any chunks it fills, not one key per entry; a reader
//! gets [`CHUNK`] entries per key it reads. Entries are numbered from 1.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::kv::{Kv, KvError, KvResult};
use crate::layout::List;

/// Entries per chunk.
pub const CHUNK: u64 = 32;

/// The head value: the length and the entries after the last full chunk.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Head {
    len: u64,
    tail: Vec<Vec<u8>>,
}

impl Head {
    fn decode(list: &List, bytes: Option<Vec<u8>>) -> KvResult<Head> {
        let Some(bytes) = bytes else {
            return Ok(Head::default());
        };
        let head: Head = postcard::from_bytes(&bytes).map_err(|_| unreadable(&list.len_key()))?;
        if head.tail.len() as u64 != head.len % CHUNK {
            return Err(unreadable(&list.len_key()));
        }
        Ok(head)
    }

    fn full_chunks(&self) -> u64 {
        self.len / CHUNK
    }
}

fn unreadable(key: &str) -> KvError {
    KvError(format!("the list value at {key} is unreadable"))
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising plain owned data into a Vec cannot fail.
    postcard::to_allocvec(value).unwrap_or_default()
}

fn heads<K: Kv + ?Sized>(kv: &K, lists: &[List]) -> KvResult<Vec<Head>> {
    let keys: Vec<String> = lists.iter().map(List::len_key).collect();
    lists
        .iter()
        .zip(kv.get_many(&keys)?)
        .map(|(list, value)| Head::decode(list, value))
        .collect()
}

/// Lengths of `lists`, in order (absent = 0), in one read.
pub fn lengths<K: Kv + ?Sized>(kv: &K, lists: &[List]) -> KvResult<Vec<u64>> {
    Ok(heads(kv, lists)?.iter().map(|h| h.len).collect())
}

/// Entries `k` (1-based) of the lists, in the order asked; `None` past the
/// end. Two reads: the heads, then the chunks holding older entries.
pub fn entries<K: Kv + ?Sized>(kv: &K, reads: &[(List, u64)]) -> KvResult<Vec<Option<Vec<u8>>>> {
    let lists: Vec<List> = reads
        .iter()
        .map(|(list, _)| list.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let heads: BTreeMap<&List, Head> = lists.iter().zip(heads(kv, &lists)?).collect();
    let mut wanted: BTreeSet<(&List, u64)> = BTreeSet::new();
    for (list, k) in reads {
        let head = &heads[list];
        if (1..=head.len).contains(k) && (k - 1) / CHUNK < head.full_chunks() {
            wanted.insert((list, (k - 1) / CHUNK));
        }
    }
    let wanted: Vec<(&List, u64)> = wanted.into_iter().collect();
    let keys: Vec<String> = wanted.iter().map(|(l, c)| l.chunk(*c)).collect();
    let mut chunks: BTreeMap<(&List, u64), Vec<Vec<u8>>> = BTreeMap::new();
    for (((list, c), key), value) in wanted.into_iter().zip(&keys).zip(kv.get_many(&keys)?) {
        chunks.insert((list, c), decode_chunk(key, value)?);
    }
    Ok(reads
        .iter()
        .map(|(list, k)| {
            let head = &heads[list];
            if !(1..=head.len).contains(k) {
                return None;
            }
            let (c, i) = ((k - 1) / CHUNK, ((k - 1) % CHUNK) as usize);
            match chunks.get(&(list, c)) {
                Some(chunk) => chunk.get(i).cloned(),
                None => head.tail.get(i).cloned(),
            }
        })
        .collect())
}

/// A full chunk as stored at `key`.
fn decode_chunk(key: &str, value: Option<Vec<u8>>) -> KvResult<Vec<Vec<u8>>> {
    let bytes = value.ok_or_else(|| KvError(format!("the list chunk {key} is missing")))?;
    let chunk: Vec<Vec<u8>> = postcard::from_bytes(&bytes).map_err(|_| unreadable(key))?;
    if chunk.len() as u64 != CHUNK {
        return Err(unreadable(key));
    }
    Ok(chunk)
}

/// All entries of several lists (as text), in order. Two reads: the heads,
/// then every full chunk.
pub fn read_all<K: Kv + ?Sized>(kv: &K, lists: &[List]) -> KvResult<Vec<Vec<String>>> {
    let heads = heads(kv, lists)?;
    let keys: Vec<String> = lists
        .iter()
        .zip(&heads)
        .flat_map(|(list, head)| (0..head.full_chunks()).map(|c| list.chunk(c)))
        .collect();
    let mut chunks = keys.iter().zip(kv.get_many(&keys)?);
    let mut out = Vec::with_capacity(lists.len());
    for head in heads {
        let mut entries = Vec::new();
        for _ in 0..head.full_chunks() {
            let (key, value) = chunks
                .next()
                .ok_or_else(|| KvError("get-many answered too few values".into()))?;
            entries.extend(decode_chunk(key, value)?);
        }
        entries.extend(head.tail);
        out.push(
            entries
                .into_iter()
                .filter_map(|bytes| String::from_utf8(bytes).ok())
                .collect(),
        );
    }
    Ok(out)
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

    /// Reads the heads of the appended lists, places the new entries after
    /// them (moving every filled chunk out), and writes everything at once.
    pub fn flush<K: Kv + ?Sized>(mut self, kv: &K) -> KvResult<()> {
        let appends = std::mem::take(&mut self.appends);
        let lists: Vec<List> = appends.keys().cloned().collect();
        for ((list, values), mut head) in appends.into_iter().zip(heads(kv, &lists)?) {
            for value in values {
                head.tail.push(value);
                head.len += 1;
                if head.tail.len() as u64 == CHUNK {
                    let full = std::mem::take(&mut head.tail);
                    self.puts
                        .push((list.chunk(head.full_chunks() - 1), encode(&full)));
                }
            }
            self.puts.push((list.len_key(), encode(&head)));
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

    fn append_all(kv: &MemoryKv, list: &List, range: std::ops::Range<u64>) {
        let mut w = WriteSet::default();
        for i in range {
            w.append(list.clone(), i.to_string().into_bytes());
        }
        w.flush(kv).unwrap();
    }

    #[test]
    fn appends_continue_after_existing_entries_across_chunks() {
        let kv = MemoryKv::new();
        let list = List::failures();
        // Batches that end inside, exactly at, and across chunk edges.
        let mut at = 1;
        for size in [1, 2, CHUNK - 3, 1, 2 * CHUNK + 5, CHUNK - 5] {
            append_all(&kv, &list, at..at + size);
            at += size;
        }
        let n = at - 1;
        let all = read_all(&kv, &[list.clone(), List::user_events("nobody")]).unwrap();
        let expected: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
        assert_eq!(all[0], expected);
        assert!(all[1].is_empty());
        assert_eq!(lengths(&kv, std::slice::from_ref(&list)).unwrap(), vec![n]);
        // A scattered read, past the end too.
        let reads: Vec<(List, u64)> = [n, 1, CHUNK, CHUNK + 1, n + 1, 0]
            .iter()
            .map(|k| (list.clone(), *k))
            .collect();
        let got = entries(&kv, &reads).unwrap();
        let text = |k: u64| Some(k.to_string().into_bytes());
        assert_eq!(
            got,
            vec![text(n), text(1), text(CHUNK), text(CHUNK + 1), None, None]
        );
        // The store holds a head and the full chunks, not a key per entry.
        assert_eq!(kv.len() as u64, 1 + n / CHUNK);
    }

    #[test]
    fn a_damaged_head_is_an_error_not_an_empty_list() {
        let kv = MemoryKv::new();
        let list = List::failures();
        kv.set_many(vec![(list.len_key(), vec![0xff, 0xff])])
            .unwrap();
        assert!(lengths(&kv, &[list]).is_err());
    }
}
