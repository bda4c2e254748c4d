//! Bit-parallel LCS length over interned token ids and rouge_score's F-measure.
//!
//! The pattern (one text, `m` tokens) is a set of match masks: bit `i` of `mask[t]` is set when
//! token `i` of the pattern is `t`. Scanning another text updates a row vector `V` of `m` bits
//! once per token (Hyyrö's form of Allison-Dix): `U = V & mask[t]; V = (V + U) | (V & !U)`,
//! with the addition's carry running across 64-bit words. The LCS length is the number of zero
//! bits of `V` among the low `m`. A token absent from the pattern has an empty mask and leaves
//! `V` unchanged, so it is skipped with one table look-up.

/// Slot of an id that does not occur in the pattern.
const ABSENT: u32 = u32::MAX;

/// Match masks of one token sequence, reusable for the next pattern without reallocating.
#[derive(Default)]
pub struct Pattern {
    len: usize,
    words: usize,
    /// Per token id: index of its mask in `masks`, or `ABSENT` (patterns over 64 tokens).
    slot: Vec<u32>,
    /// Per token id: its mask (patterns of at most 64 tokens), 0 when absent, so the scan
    /// needs no branch.
    single: Vec<u64>,
    /// `words` u64 per distinct pattern token.
    masks: Vec<u64>,
    /// Ids whose slot is set, to reset them for the next pattern.
    touched: Vec<u32>,
}

impl Pattern {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `ids` the pattern. Ids at or above `vocab_len` (words the texts scanned later cannot
    /// contain) take a position but match nothing.
    pub fn set(&mut self, ids: &[u32], vocab_len: usize) {
        for &id in &self.touched {
            self.slot[id as usize] = ABSENT;
            self.single[id as usize] = 0;
        }
        self.touched.clear();
        if self.slot.len() < vocab_len {
            self.slot.resize(vocab_len, ABSENT);
            self.single.resize(vocab_len, 0);
        }
        self.len = ids.len();
        self.words = ids.len().div_ceil(64).max(1);
        self.masks.clear();
        if self.words == 1 {
            for (i, &id) in ids.iter().enumerate() {
                if (id as usize) < vocab_len {
                    self.single[id as usize] |= 1u64 << i;
                    self.touched.push(id);
                }
            }
            return;
        }
        for (i, &id) in ids.iter().enumerate() {
            if id as usize >= vocab_len {
                continue;
            }
            let mut slot = self.slot[id as usize];
            if slot == ABSENT {
                slot = self.touched.len() as u32;
                self.slot[id as usize] = slot;
                self.touched.push(id);
                self.masks.resize(self.masks.len() + self.words, 0);
            }
            self.masks[slot as usize * self.words + i / 64] |= 1u64 << (i % 64);
        }
    }

    /// Number of tokens of the pattern.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    fn slot_of(&self, id: u32) -> Option<usize> {
        match self.slot.get(id as usize) {
            Some(&s) if s != ABSENT => Some(s as usize),
            _ => None,
        }
    }

    /// LCS length of the pattern and `text`; `row` is scratch for patterns over 64 tokens.
    pub fn lcs(&self, text: &[u32], row: &mut Vec<u64>) -> usize {
        if self.len == 0 || text.is_empty() {
            return 0;
        }
        if self.words == 1 {
            let mut v = !0u64;
            for &id in text {
                let u = v & self.single.get(id as usize).copied().unwrap_or(0);
                v = v.wrapping_add(u) | (v & !u);
            }
            let low = if self.len == 64 {
                !0
            } else {
                (1u64 << self.len) - 1
            };
            return (!v & low).count_ones() as usize;
        }
        row.clear();
        row.resize(self.words, !0);
        for &id in text {
            let Some(s) = self.slot_of(id) else { continue };
            let mask = &self.masks[s * self.words..(s + 1) * self.words];
            let mut carry = false;
            for (v, &m) in row.iter_mut().zip(mask) {
                let u = *v & m;
                let (sum, c1) = v.overflowing_add(u);
                let (sum, c2) = sum.overflowing_add(carry as u64);
                carry = c1 | c2;
                *v = sum | (*v & !u);
            }
        }
        let full_words = self.len / 64;
        let mut zeros: usize = row[..full_words]
            .iter()
            .map(|v| v.count_zeros() as usize)
            .sum();
        if !self.len.is_multiple_of(64) {
            let low = (1u64 << (self.len % 64)) - 1;
            zeros += (!row[full_words] & low).count_ones() as usize;
        }
        zeros
    }
}

/// rouge_score's `_score_lcs(target, prediction).fmeasure`, in the same f64 operations and order,
/// so the result is bit-identical: `p = lcs / len(prediction)`, `r = lcs / len(target)`,
/// `2 * p * r / (p + r)`, and 0 when either side is empty or nothing matches.
#[inline]
pub fn f1_from_lcs(lcs: usize, target_len: usize, prediction_len: usize) -> f64 {
    if target_len == 0 || prediction_len == 0 {
        return 0.0;
    }
    let precision = lcs as f64 / prediction_len as f64;
    let recall = lcs as f64 / target_len as f64;
    if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    }
}

/// Relative slack on the length bound: covers the rounding of the F-measure's few f64 steps.
const BOUND_SLACK: f64 = 1e-9;

/// Whether a pair of `m` and `n` tokens could score above `floor`. Since the LCS is at most
/// `min(m, n)`, F <= 2 min(m, n) / (m + n); with a small slack this never skips a pair whose
/// computed F exceeds `floor`.
#[inline]
pub fn could_exceed(m: usize, n: usize, floor: f64) -> bool {
    if m == 0 || n == 0 {
        return 0.0 > floor;
    }
    let bound = 2.0 * m.min(n) as f64 / (m + n) as f64;
    bound * (1.0 + BOUND_SLACK) > floor
}
