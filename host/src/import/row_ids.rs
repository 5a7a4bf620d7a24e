//! Deterministic idempotency ids for trace rows that carry none.
//!
//! An id is `PREFIX:HASH`, where HASH is the 64-bit FNV-1a of the row's raw cells
//! (stable across versions and platforms, unlike std's hasher). Identical rows are
//! real, distinct calls (genai-requests.csv has 19 such repeats), so the n-th
//! repeat of the same content within one file gets `PREFIX:HASH.n` (n ≥ 2).
//! Re-importing the same file (or a longer version of it) yields the same ids, so
//! nothing is counted twice; a row-number id would break as soon as rows were
//! filtered or files were merged.

use std::collections::HashMap;

/// Hands out ids for one file, remembering how often each content was seen.
#[derive(Debug, Default)]
pub struct RowIds {
    seen: HashMap<u64, u32>,
}

impl RowIds {
    pub fn next<'a>(&mut self, prefix: &str, cells: impl Iterator<Item = &'a [u8]>) -> String {
        let hash = fnv1a(cells);
        let count = self.seen.entry(hash).or_insert(0);
        *count += 1;
        match *count {
            1 => format!("{prefix}:{hash:016x}"),
            n => format!("{prefix}:{hash:016x}.{n}"),
        }
    }
}

/// FNV-1a over the cells, with a unit separator between them so `a,bc` ≠ `ab,c`.
fn fnv1a<'a>(cells: impl Iterator<Item = &'a [u8]>) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for (i, cell) in cells.enumerate() {
        let separator: &[u8] = if i == 0 { &[] } else { &[0x1f] };
        for byte in separator.iter().chain(cell) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(row: &[&'static str]) -> impl Iterator<Item = &'static [u8]> {
        row.iter()
            .map(|c| c.as_bytes())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        // From the FNV reference (draft-eastlake-fnv): "" and "a".
        assert_eq!(fnv1a(std::iter::empty()), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(cells(&["a"])), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn same_content_same_id_across_files_repeats_numbered() {
        let mut first = RowIds::default();
        let a = first.next("genai", cells(&["x", "1"]));
        let again = first.next("genai", cells(&["x", "1"]));
        let b = first.next("genai", cells(&["x", "2"]));
        assert_eq!(again, format!("{a}.2"));
        assert_ne!(a, b);
        let mut second = RowIds::default();
        assert_eq!(second.next("genai", cells(&["x", "1"])), a);
    }

    #[test]
    fn cell_boundaries_matter() {
        let mut ids = RowIds::default();
        assert_ne!(
            ids.next("p", cells(&["a", "bc"])),
            ids.next("p", cells(&["ab", "c"]))
        );
    }
}
