//! Exact duplicates: 128-bit hashes of normalised text in a hash set, or in a cache-line blocked
//! Bloom filter when the stream is too large for a set.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use super::hash::hash128;
use super::normalize::{normalize_into, Normalize};
use crate::{Error, Result};

/// A `Hasher` for keys that are already uniform hashes: it keeps the low 64 bits as they are.
#[derive(Default, Clone, Copy)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64 ^ (v >> 64) as u64;
    }
}

pub type PassThroughBuild = BuildHasherDefault<PassThrough>;

const BLOCK_BITS: usize = 512;

#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Block([u64; 8]);

/// Bloom filter whose `k` probes for a key all fall into one 64-byte block (one cache miss per
/// lookup). Sized for `expected` keys at a target false-positive rate, accounting for the
/// blocking penalty (block loads are Poisson-distributed).
pub struct BlockedBloom {
    blocks: Vec<Block>,
    k: u32,
    expected: u64,
    fpr: f64,
}

/// Expected false-positive rate of a blocked filter with `bits_per_key` bits per key and `k`
/// probes into 512-bit blocks: the Poisson mixture over block loads.
pub fn blocked_fpr(bits_per_key: f64, k: u32) -> f64 {
    let lambda = BLOCK_BITS as f64 / bits_per_key;
    let upper = (lambda + 12.0 * lambda.sqrt() + 30.0) as usize;
    let mut p_load = (-lambda).exp(); // P(load = 0)
    let mut total = 0.0;
    for load in 0..=upper {
        if load > 0 {
            p_load *= lambda / load as f64;
        }
        let fill = 1.0 - (1.0 - 1.0 / BLOCK_BITS as f64).powf((k as u64 * load as u64) as f64);
        total += p_load * fill.powi(k as i32);
    }
    total
}

impl BlockedBloom {
    pub fn new(expected: u64, fpr: f64) -> Result<Self> {
        if !(fpr > 0.0 && fpr < 1.0) {
            return Err(Error::InvalidArgument("fpr must be in (0, 1)".into()));
        }
        let expected = expected.max(1);
        // Start from the classic (unblocked) size, which is always too small for a blocked
        // filter, and grow by 2% until the blocked model meets the target.
        let mut bits_per_key = (-fpr.ln() / std::f64::consts::LN_2.powi(2)).max(1.0);
        let mut k = 1u32;
        'search: while bits_per_key < 256.0 {
            for probes in 1..=16u32 {
                if blocked_fpr(bits_per_key, probes) <= fpr {
                    k = probes;
                    break 'search;
                }
            }
            bits_per_key *= 1.02;
        }
        let total_bits = (expected as f64 * bits_per_key).ceil() as u64;
        let n_blocks = total_bits.div_ceil(BLOCK_BITS as u64).max(1) as usize;
        Ok(BlockedBloom {
            blocks: vec![Block::default(); n_blocks],
            k,
            expected,
            fpr,
        })
    }

    pub fn probes(&self) -> u32 {
        self.k
    }

    pub fn memory_bytes(&self) -> usize {
        self.blocks.len() * std::mem::size_of::<Block>()
    }

    pub fn expected(&self) -> u64 {
        self.expected
    }

    pub fn target_fpr(&self) -> f64 {
        self.fpr
    }

    #[inline]
    fn locate(&self, h: u128) -> (usize, u64) {
        let lo = h as u64;
        let block = ((lo as u128 * self.blocks.len() as u128) >> 64) as usize;
        (block, (h >> 64) as u64)
    }

    /// Next probe: a 64-bit LCG step on the key's high half; the top 9 bits pick the bit, so
    /// probes are close to independent (arithmetic progressions would overlap between keys).
    #[inline]
    fn next_bit(state: &mut u64) -> usize {
        *state = state
            .wrapping_mul(0x5851_f42d_4c95_7f2d)
            .wrapping_add(0x1405_7b7e_f767_814f);
        (*state >> 55) as usize
    }

    /// Insert a 128-bit key hash; returns true if it was (probably) not present before.
    pub fn insert(&mut self, h: u128) -> bool {
        let (block, mut state) = self.locate(h);
        let words = &mut self.blocks[block].0;
        let mut new = false;
        for _ in 0..self.k {
            let bit = Self::next_bit(&mut state);
            let mask = 1u64 << (bit % 64);
            new |= words[bit / 64] & mask == 0;
            words[bit / 64] |= mask;
        }
        new
    }

    pub fn contains(&self, h: u128) -> bool {
        let (block, mut state) = self.locate(h);
        let words = &self.blocks[block].0;
        for _ in 0..self.k {
            let bit = Self::next_bit(&mut state);
            if words[bit / 64] & (1u64 << (bit % 64)) == 0 {
                return false;
            }
        }
        true
    }
}

enum Store {
    Set(HashSet<u128, PassThroughBuild>),
    Bloom(BlockedBloom),
}

/// Streaming exact-duplicate filter over normalised text.
pub struct ExactDeduper {
    store: Store,
    normalize: Normalize,
    scratch: String,
    seen: u64,
    removed: u64,
}

/// The 128-bit exact-duplicate key of `text`.
pub fn exact_hash(text: &str, normalize: Normalize, scratch: &mut String) -> u128 {
    hash128(normalize_into(text, normalize, scratch).as_bytes())
}

/// The 128-bit exact-duplicate key of a token-id sequence.
pub fn exact_hash_tokens(ids: &[u32]) -> u128 {
    let bytes: Vec<u8> = ids.iter().flat_map(|t| t.to_le_bytes()).collect();
    hash128(&bytes) ^ 0x7
}

impl ExactDeduper {
    /// Exact: every distinct key kept in a hash set (16 bytes per key plus table overhead).
    pub fn with_set(normalize: Normalize) -> Self {
        Self::from_store(Store::Set(HashSet::default()), normalize)
    }

    /// Memory-bounded: a blocked Bloom filter sized for `expected` keys at `fpr`. A false
    /// positive drops a unique document as a duplicate, with probability about `fpr`.
    pub fn with_bloom(normalize: Normalize, expected: u64, fpr: f64) -> Result<Self> {
        Ok(Self::from_store(
            Store::Bloom(BlockedBloom::new(expected, fpr)?),
            normalize,
        ))
    }

    fn from_store(store: Store, normalize: Normalize) -> Self {
        ExactDeduper {
            store,
            normalize,
            scratch: String::new(),
            seen: 0,
            removed: 0,
        }
    }

    /// Offer a key hash; true if it is new (keep the document), false if a duplicate.
    pub fn insert_hash(&mut self, h: u128) -> bool {
        self.seen += 1;
        let new = match &mut self.store {
            Store::Set(set) => set.insert(h),
            Store::Bloom(bloom) => bloom.insert(h),
        };
        if !new {
            self.removed += 1;
        }
        new
    }

    /// Offer a text; true if it is new (keep it), false if a duplicate.
    pub fn insert_text(&mut self, text: &str) -> bool {
        let h = exact_hash(text, self.normalize, &mut self.scratch);
        self.insert_hash(h)
    }

    pub fn seen(&self) -> u64 {
        self.seen
    }

    pub fn removed(&self) -> u64 {
        self.removed
    }

    pub fn normalize(&self) -> Normalize {
        self.normalize
    }

    pub fn is_bloom(&self) -> bool {
        matches!(self.store, Store::Bloom(_))
    }

    /// Bytes held by the key store (set capacity, or the filter's bit array).
    pub fn memory_bytes(&self) -> usize {
        match &self.store {
            Store::Set(set) => set.capacity() * (std::mem::size_of::<u128>() + 1),
            Store::Bloom(bloom) => bloom.memory_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bloom_false_positive_rate_close_to_configured() {
        for target in [0.01, 0.001] {
            let n = 200_000u64;
            let mut bloom = BlockedBloom::new(n, target).unwrap();
            let key = |i: u64| hash128(format!("document number {i} of the stream").as_bytes());
            for i in 0..n {
                bloom.insert(key(i));
            }
            for i in 0..n {
                assert!(bloom.contains(key(i)));
            }
            let trials = 400_000u64;
            let fp = (n..n + trials).filter(|&i| bloom.contains(key(i))).count();
            let rate = fp as f64 / trials as f64;
            eprintln!("target {target} k {} measured {rate}", bloom.probes());
            assert!(rate < target * 1.3, "target {target}, measured {rate}");
            assert!(
                rate > target * 0.5,
                "target {target}, measured {rate} (oversized)"
            );
        }
        assert!(BlockedBloom::new(10, 0.0).is_err());
    }

    #[test]
    fn exact_counts_and_normalisation() {
        for mut d in [
            ExactDeduper::with_set(Normalize::Lower),
            ExactDeduper::with_bloom(Normalize::Lower, 1000, 1e-4).unwrap(),
        ] {
            assert!(d.insert_text("Hello  World"));
            assert!(!d.insert_text("hello world"));
            assert!(d.insert_text("hello world!"));
            assert!(!d.insert_text(" HELLO\nWORLD "));
            assert_eq!((d.seen(), d.removed()), (4, 2));
            assert!(d.memory_bytes() > 0);
        }
        let mut raw = ExactDeduper::with_set(Normalize::None);
        assert!(raw.insert_text("a"));
        assert!(raw.insert_text("A"));
    }
}
