//! Distinct users of one (cell, tuple), kept so that the sets of many cells can
//! be merged at query time at a cost that does not grow with the users.
//!
//! A set is exact (the sorted 64-bit hashes of its users) up to [`EXACT_MAX`]
//! users, then a HyperLogLog sketch of 2^[`PRECISION`] one-byte registers
//! (2 KiB; standard error about 1.04 / sqrt(2048) = 2.3%). A merged count is
//! exact whenever every set it merges is exact; with 64-bit hashes a collision
//! among a few thousand users is practically impossible (p < 1e-12).
//!
//! Stored form: `0` then the hashes (u64 little-endian, ascending), or `1`
//! then the registers.

use rustc_hash::FxHashSet;
use xxhash_rust::xxh3::xxh3_64;

pub const EXACT_MAX: usize = 256;
pub const PRECISION: u32 = 11;
const REGISTERS: usize = 1 << PRECISION;

/// The hash a user counts under: xxh3, stable across versions and platforms.
pub fn user_hash(user: &str) -> u64 {
    xxh3_64(user.as_bytes())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserSet {
    /// Sorted, no repeats, at most [`EXACT_MAX`].
    Exact(Vec<u64>),
    Sketch(Box<[u8; REGISTERS]>),
}

impl Default for UserSet {
    fn default() -> Self {
        UserSet::Exact(Vec::new())
    }
}

impl UserSet {
    /// Adds a user's hash; returns whether the stored form changed.
    pub fn insert(&mut self, hash: u64) -> bool {
        match self {
            UserSet::Exact(hashes) => match hashes.binary_search(&hash) {
                Ok(_) => false,
                Err(at) => {
                    hashes.insert(at, hash);
                    if hashes.len() > EXACT_MAX {
                        *self = UserSet::Sketch(registers_of(hashes.iter().copied()));
                    }
                    true
                }
            },
            UserSet::Sketch(registers) => raise(registers, hash),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        match self {
            UserSet::Exact(hashes) => {
                let mut out = Vec::with_capacity(1 + 8 * hashes.len());
                out.push(0);
                for h in hashes {
                    out.extend_from_slice(&h.to_le_bytes());
                }
                out
            }
            UserSet::Sketch(registers) => {
                let mut out = Vec::with_capacity(1 + REGISTERS);
                out.push(1);
                out.extend_from_slice(&registers[..]);
                out
            }
        }
    }

    pub fn decode(bytes: &[u8]) -> Option<UserSet> {
        let (tag, body) = bytes.split_first()?;
        match tag {
            0 if body.len().is_multiple_of(8) && body.len() / 8 <= EXACT_MAX => {
                let hashes: Vec<u64> = body
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
                    .collect();
                hashes.is_sorted().then_some(UserSet::Exact(hashes))
            }
            1 => {
                let registers: [u8; REGISTERS] = body.try_into().ok()?;
                Some(UserSet::Sketch(Box::new(registers)))
            }
            _ => None,
        }
    }
}

/// Merges stored sets at query time: exact while every input is.
#[derive(Debug, Clone, Default)]
pub struct DistinctCount {
    /// The values are hashes already, so a cheap hasher is enough.
    exact: FxHashSet<u64>,
    sketch: Option<Box<[u8; REGISTERS]>>,
}

impl DistinctCount {
    pub fn add(&mut self, set: &UserSet) {
        match set {
            UserSet::Exact(hashes) => self.add_hashes(hashes.iter().copied()),
            UserSet::Sketch(theirs) => self.add_registers(&theirs[..]),
        }
    }

    /// Adds a stored set straight from its bytes (no copy of a sketch: a
    /// summary merges thousands). `false` if the bytes are not a set.
    pub fn add_encoded(&mut self, bytes: &[u8]) -> bool {
        match bytes.split_first() {
            Some((0, body)) if body.len().is_multiple_of(8) => {
                let hashes = body
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()));
                self.add_hashes(hashes);
                true
            }
            Some((1, body)) if body.len() == REGISTERS => {
                self.add_registers(body);
                true
            }
            _ => false,
        }
    }

    fn add_hashes(&mut self, hashes: impl Iterator<Item = u64>) {
        match &mut self.sketch {
            Some(registers) => hashes.for_each(|h| {
                raise(registers, h);
            }),
            None => self.exact.extend(hashes),
        }
    }

    fn add_registers(&mut self, theirs: &[u8]) {
        let ours = self
            .sketch
            .get_or_insert_with(|| registers_of(self.exact.drain()));
        // A plain element-wise max: compiled to 16-byte SIMD in the guest.
        for (a, b) in ours.iter_mut().zip(theirs) {
            *a = (*a).max(*b);
        }
    }

    pub fn merge(&mut self, other: &DistinctCount) {
        match &other.sketch {
            Some(registers) => self.add_registers(&registers[..]),
            None => self.add_hashes(other.exact.iter().copied()),
        }
    }

    /// The count: exact, or the sketch's estimate.
    pub fn count(&self) -> u64 {
        match &self.sketch {
            None => self.exact.len() as u64,
            Some(registers) => estimate(registers),
        }
    }
}

fn registers_of(hashes: impl Iterator<Item = u64>) -> Box<[u8; REGISTERS]> {
    let mut registers = Box::new([0u8; REGISTERS]);
    for h in hashes {
        raise(&mut registers, h);
    }
    registers
}

/// The register a hash falls in keeps the longest run of leading zeros seen
/// in the hash's remaining bits (plus one). Returns whether it grew.
fn raise(registers: &mut [u8; REGISTERS], hash: u64) -> bool {
    let index = (hash >> (64 - PRECISION)) as usize;
    let rest = (hash << PRECISION) | (1 << (PRECISION - 1));
    let rank = rest.leading_zeros() as u8 + 1;
    if registers[index] < rank {
        registers[index] = rank;
        true
    } else {
        false
    }
}

/// The HyperLogLog estimate, with linear counting while registers are empty
/// (where it is the more accurate of the two: below 2.5 × registers).
fn estimate(registers: &[u8; REGISTERS]) -> u64 {
    let m = REGISTERS as f64;
    let alpha = 0.7213 / (1.0 + 1.079 / m);
    let mut sum = 0.0;
    let mut zeros = 0u32;
    for r in registers.iter() {
        sum += inverse_power_of_two(*r);
        zeros += u32::from(*r == 0);
    }
    let raw = alpha * m * m / sum;
    let value = if raw <= 2.5 * m && zeros > 0 {
        m * (m / f64::from(zeros)).ln()
    } else {
        raw
    };
    value.round() as u64
}

/// 2^-r, built from its bits: exact, and much cheaper than `exp2` in wasm.
fn inverse_power_of_two(r: u8) -> f64 {
    f64::from_bits((1023 - u64::from(r)) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(range: std::ops::Range<u32>) -> impl Iterator<Item = u64> {
        range.map(|i| user_hash(&format!("user-{i}")))
    }

    fn set_of(range: std::ops::Range<u32>) -> UserSet {
        let mut set = UserSet::default();
        for h in users(range) {
            set.insert(h);
        }
        set
    }

    #[test]
    fn small_sets_stay_exact_and_round_trip() {
        let set = set_of(0..EXACT_MAX as u32);
        assert!(matches!(set, UserSet::Exact(_)));
        assert_eq!(UserSet::decode(&set.encode()), Some(set.clone()));
        let mut again = set.clone();
        assert!(
            !again.insert(user_hash("user-3")),
            "a repeat changes nothing"
        );
        let mut count = DistinctCount::default();
        count.add(&set);
        count.add(&set_of(100..300));
        assert_eq!(count.count(), 300, "exact sets merge exactly");
    }

    #[test]
    fn large_sets_become_sketches_within_the_documented_error() {
        let set = set_of(0..EXACT_MAX as u32 + 1);
        assert!(matches!(set, UserSet::Sketch(_)));
        assert_eq!(UserSet::decode(&set.encode()), Some(set));
        for n in [1_000u32, 4_000, 20_000, 200_000] {
            let mut count = DistinctCount::default();
            // Overlapping halves, one of them exact-sized pieces, as a query merges them.
            count.add(&set_of(0..n / 2 + n / 10));
            for start in (n / 2..n).step_by(200) {
                count.add(&set_of(start..(start + 200).min(n)));
            }
            let error = (count.count() as f64 - f64::from(n)).abs() / f64::from(n);
            // Four standard errors (2.3%): fails for a broken estimator, not by chance.
            assert!(error < 0.092, "{n} users estimated {}", count.count());
        }
    }

    #[test]
    fn merging_counts_is_the_count_of_the_union() {
        let mut a = DistinctCount::default();
        a.add(&set_of(0..50));
        let mut b = DistinctCount::default();
        b.add(&set_of(25..75));
        a.merge(&b);
        assert_eq!(a.count(), 75);
        let mut big = DistinctCount::default();
        big.add(&set_of(0..1000));
        a.merge(&big);
        let error = (a.count() as f64 - 1000.0).abs() / 1000.0;
        assert!(error < 0.092, "estimated {}", a.count());
    }

    #[test]
    fn stored_bytes_merge_like_decoded_sets() {
        for set in [set_of(0..100), set_of(0..1000)] {
            let mut decoded = DistinctCount::default();
            decoded.add(&set);
            let mut raw = DistinctCount::default();
            assert!(raw.add_encoded(&set.encode()));
            assert_eq!(raw.count(), decoded.count());
        }
        assert!(!DistinctCount::default().add_encoded(&[1, 2, 3]));
        for r in 0..=54 {
            assert_eq!(inverse_power_of_two(r), (-f64::from(r)).exp2());
        }
    }

    #[test]
    fn garbage_does_not_decode() {
        assert_eq!(UserSet::decode(&[]), None);
        assert_eq!(UserSet::decode(&[0, 1, 2]), None);
        assert_eq!(UserSet::decode(&[1, 0]), None);
        let unsorted = [&[0u8][..], &2u64.to_le_bytes(), &1u64.to_le_bytes()].concat();
        assert_eq!(UserSet::decode(&unsorted), None);
    }
}
