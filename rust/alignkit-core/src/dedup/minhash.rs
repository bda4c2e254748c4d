//! MinHash signatures from text, token ids or pre-hashed shingles.
//!
//! Signature `i` of a set S is `min over h in S of (a_i * h + b_i) mod 2^32`, with odd `a_i`
//! (a bijection on `u32`). See the module docs of [`crate::dedup`] for both hash schemes.

use rayon::prelude::*;

use super::hash::{fmix32, fmix64, hash64, sha1_hash32, splitmix64, Mt19937};
use super::normalize::{for_each_word, normalize_into, Normalize};
use crate::{Error, Result};

/// How shingle values are hashed and permutations drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashScheme {
    /// xxh3 shingle hashes, splitmix64 permutations. The default.
    Fast,
    /// Bit-exact with datasketch >= 2.0 `MinHash(num_perm, seed)` (scheme `affine32`).
    Datasketch,
}

impl HashScheme {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "fast" => Ok(HashScheme::Fast),
            "datasketch" => Ok(HashScheme::Datasketch),
            other => Err(Error::InvalidArgument(format!(
                "scheme must be 'fast' or 'datasketch', not {other:?}"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            HashScheme::Fast => "fast",
            HashScheme::Datasketch => "datasketch",
        }
    }
}

/// What a document's shingles are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shingles {
    /// n-grams of whitespace-separated words (after normalisation).
    Words(usize),
    /// n-grams of characters (Unicode scalar values, after normalisation).
    Chars(usize),
}

impl Shingles {
    pub fn parse(kind: &str, n: usize) -> Result<Self> {
        if n == 0 {
            return Err(Error::InvalidArgument("ngram must be at least 1".into()));
        }
        match kind {
            "word" => Ok(Shingles::Words(n)),
            "char" => Ok(Shingles::Chars(n)),
            other => Err(Error::InvalidArgument(format!(
                "shingle must be 'word' or 'char', not {other:?}"
            ))),
        }
    }
}

/// Reusable per-thread buffers.
#[derive(Default)]
pub struct Scratch {
    text: String,
    hashes: Vec<u32>,
    words: Vec<u64>,
    bounds: Vec<usize>,
    bytes: Vec<u8>,
}

/// A MinHash family: `num_perm` affine permutations of 32-bit shingle values.
#[derive(Clone, Debug)]
pub struct MinHasher {
    a: Vec<u32>,
    b: Vec<u32>,
    seed: u64,
    scheme: HashScheme,
}

const EMPTY: u32 = u32::MAX;
const BLOCK: usize = 32;

impl MinHasher {
    /// `num_perm` permutations drawn from `seed`. In the datasketch scheme the seed must fit in
    /// 32 bits (numpy's `RandomState` seeds with `seed & 0xffffffff`).
    pub fn new(num_perm: usize, seed: u64, scheme: HashScheme) -> Result<Self> {
        if num_perm == 0 {
            return Err(Error::InvalidArgument("num_perm must be at least 1".into()));
        }
        let (a, b) = match scheme {
            HashScheme::Fast => {
                let mut state = seed ^ 0x005e_ed0f_a11c_u64;
                let mut a = Vec::with_capacity(num_perm);
                let mut b = Vec::with_capacity(num_perm);
                for _ in 0..num_perm {
                    let x = splitmix64(&mut state);
                    a.push((x as u32) | 1);
                    b.push((x >> 32) as u32);
                }
                (a, b)
            }
            HashScheme::Datasketch => {
                if seed > u32::MAX as u64 {
                    return Err(Error::InvalidArgument(
                        "the datasketch scheme needs a seed below 2**32".into(),
                    ));
                }
                // numpy: a = randint(0, 2**31, n, uint32) * 2 + 1; b = randint(0, 2**32, n, uint32).
                // A range of 2**31 draws `next & (2**31 - 1)` (mask, never rejected); a full
                // 32-bit range draws the raw output.
                let mut mt = Mt19937::new(seed as u32);
                let a = (0..num_perm)
                    .map(|_| {
                        (mt.next_u32() & 0x7fff_ffff)
                            .wrapping_mul(2)
                            .wrapping_add(1)
                    })
                    .collect();
                let b = (0..num_perm).map(|_| mt.next_u32()).collect();
                (a, b)
            }
        };
        Ok(MinHasher { a, b, seed, scheme })
    }

    pub fn num_perm(&self) -> usize {
        self.a.len()
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn scheme(&self) -> HashScheme {
        self.scheme
    }

    /// The permutation parameters `(a, b)`.
    pub fn permutations(&self) -> (&[u32], &[u32]) {
        (&self.a, &self.b)
    }

    /// Reset `sig` to the empty signature.
    pub fn clear(sig: &mut [u32]) {
        sig.fill(EMPTY);
    }

    /// Fold 32-bit shingle values into `sig` (min-update; call [`MinHasher::clear`] first for a
    /// fresh signature). This is the kernel every other entry point ends in.
    pub fn update(&self, sig: &mut [u32], values: &[u32]) {
        assert_eq!(
            sig.len(),
            self.a.len(),
            "signature length must equal num_perm"
        );
        if values.is_empty() {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2, checked just above.
                unsafe { update_avx2(&self.a, &self.b, values, sig) };
                return;
            }
        }
        update_portable(&self.a, &self.b, values, sig);
    }

    /// 32-bit value of pre-hashed 64-bit shingles as the fast scheme would use them.
    #[inline]
    pub fn value_from_hash64(h: u64) -> u32 {
        (h >> 32) as u32 ^ h as u32
    }

    #[inline]
    fn value_of_bytes(&self, bytes: &[u8]) -> u32 {
        match self.scheme {
            HashScheme::Fast => Self::value_from_hash64(hash64(bytes)),
            HashScheme::Datasketch => fmix32(sha1_hash32(bytes)),
        }
    }

    /// Shingle values of `text` into `scratch.hashes`.
    fn text_values(&self, text: &str, shingles: Shingles, normalize: Normalize, s: &mut Scratch) {
        s.hashes.clear();
        if let (Shingles::Words(n), HashScheme::Fast) = (shingles, self.scheme) {
            // Fused path: words are hashed as they are found, no normalised copy is built.
            s.words.clear();
            let words = &mut s.words;
            for_each_word(text, normalize, &mut s.bytes, |w| words.push(hash64(w)));
            combine_windows(&s.words, n, &mut s.hashes);
            return;
        }
        let norm = normalize_into(text, normalize, &mut s.text);
        match shingles {
            Shingles::Words(n) => match self.scheme {
                HashScheme::Fast => unreachable!("handled by the fused path above"),
                HashScheme::Datasketch => {
                    let words: Vec<&str> = norm.split_whitespace().collect();
                    if words.is_empty() {
                        return;
                    }
                    let n = n.min(words.len());
                    for window in words.windows(n) {
                        s.bytes.clear();
                        for (i, w) in window.iter().enumerate() {
                            if i > 0 {
                                s.bytes.push(b' ');
                            }
                            s.bytes.extend_from_slice(w.as_bytes());
                        }
                        s.hashes.push(fmix32(sha1_hash32(&s.bytes)));
                    }
                }
            },
            Shingles::Chars(n) => {
                s.bounds.clear();
                s.bounds.extend(norm.char_indices().map(|(i, _)| i));
                if s.bounds.is_empty() {
                    return;
                }
                s.bounds.push(norm.len());
                let chars = s.bounds.len() - 1;
                let n = n.min(chars);
                for i in 0..=(chars - n) {
                    let piece = &norm.as_bytes()[s.bounds[i]..s.bounds[i + n]];
                    let v = self.value_of_bytes(piece);
                    s.hashes.push(v);
                }
            }
        }
    }

    /// Shingle values of a token-id sequence into `scratch.hashes`.
    fn token_values(&self, ids: &[u32], n: usize, s: &mut Scratch) {
        s.hashes.clear();
        if ids.is_empty() {
            return;
        }
        let n = n.clamp(1, ids.len());
        match self.scheme {
            HashScheme::Fast => {
                s.words.clear();
                s.words.extend(
                    ids.iter()
                        .map(|&t| fmix64((t as u64) ^ 0x70ce_4a11_d5e3_3b01)),
                );
                combine_windows(&s.words, n, &mut s.hashes);
            }
            HashScheme::Datasketch => {
                let mut itoa = [0u8; 10];
                for window in ids.windows(n) {
                    s.bytes.clear();
                    for (i, &t) in window.iter().enumerate() {
                        if i > 0 {
                            s.bytes.push(b' ');
                        }
                        s.bytes.extend_from_slice(decimal(t, &mut itoa));
                    }
                    s.hashes.push(fmix32(sha1_hash32(&s.bytes)));
                }
            }
        }
    }

    /// Signature of one text into `sig`.
    pub fn sign_text(
        &self,
        text: &str,
        shingles: Shingles,
        normalize: Normalize,
        sig: &mut [u32],
        scratch: &mut Scratch,
    ) {
        Self::clear(sig);
        self.text_values(text, shingles, normalize, scratch);
        self.update(sig, &scratch.hashes);
    }

    /// Signature of one token-id sequence (n-grams of ids) into `sig`.
    pub fn sign_tokens(&self, ids: &[u32], ngram: usize, sig: &mut [u32], scratch: &mut Scratch) {
        Self::clear(sig);
        self.token_values(ids, ngram, scratch);
        self.update(sig, &scratch.hashes);
    }

    /// Signatures of many texts, row-major into `out` (`texts.len() * num_perm`), in parallel on
    /// the current rayon pool.
    pub fn sign_texts<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        shingles: Shingles,
        normalize: Normalize,
        out: &mut [u32],
    ) {
        let k = self.num_perm();
        assert_eq!(out.len(), texts.len() * k);
        out.par_chunks_mut(k)
            .zip(texts.par_iter())
            .with_min_len(16)
            .for_each_init(Scratch::default, |s, (sig, text)| {
                self.sign_text(text.as_ref(), shingles, normalize, sig, s)
            });
    }

    /// Signatures of many token-id sequences, in parallel.
    pub fn sign_token_seqs<T: AsRef<[u32]> + Sync>(
        &self,
        seqs: &[T],
        ngram: usize,
        out: &mut [u32],
    ) {
        let k = self.num_perm();
        assert_eq!(out.len(), seqs.len() * k);
        out.par_chunks_mut(k)
            .zip(seqs.par_iter())
            .with_min_len(16)
            .for_each_init(Scratch::default, |s, (sig, ids)| {
                self.sign_tokens(ids.as_ref(), ngram, sig, s)
            });
    }

    /// Signatures from pre-hashed 64-bit shingles given as one flat buffer and row offsets
    /// (`offsets.len() == rows + 1`), in parallel.
    pub fn sign_prehashed(&self, hashes: &[u64], offsets: &[usize], out: &mut [u32]) -> Result<()> {
        let k = self.num_perm();
        let rows = offsets.len().saturating_sub(1);
        if out.len() != rows * k {
            return Err(Error::InvalidArgument(
                "output size does not match rows".into(),
            ));
        }
        if offsets.windows(2).any(|w| w[0] > w[1])
            || offsets.last().is_some_and(|&e| e > hashes.len())
        {
            return Err(Error::InvalidArgument(
                "offsets must be non-decreasing and within the buffer".into(),
            ));
        }
        out.par_chunks_mut(k)
            .enumerate()
            .with_min_len(16)
            .for_each_init(Vec::new, |vals: &mut Vec<u32>, (row, sig)| {
                vals.clear();
                vals.extend(
                    hashes[offsets[row]..offsets[row + 1]]
                        .iter()
                        .map(|&h| Self::value_from_hash64(h)),
                );
                Self::clear(sig);
                self.update(sig, vals);
            });
        Ok(())
    }
}

/// Fast-scheme n-gram values: order-sensitive combination of `n` consecutive 64-bit unit hashes.
fn combine_windows(units: &[u64], n: usize, out: &mut Vec<u32>) {
    if units.is_empty() {
        return;
    }
    let n = n.clamp(1, units.len());
    out.reserve(units.len() + 1 - n);
    for window in units.windows(n) {
        let mut acc = 0x243f_6a88_85a3_08d3u64 ^ n as u64;
        for &u in window {
            acc = (acc ^ u)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .rotate_left(27);
        }
        out.push(MinHasher::value_from_hash64(fmix64(acc)));
    }
}

fn decimal(mut v: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &buf[i..]
}

#[inline(always)]
fn update_body(a: &[u32], b: &[u32], values: &[u32], sig: &mut [u32]) {
    let n = sig.len();
    let mut start = 0;
    while start + BLOCK <= n {
        let aa: [u32; BLOCK] = a[start..start + BLOCK].try_into().unwrap();
        let bb: [u32; BLOCK] = b[start..start + BLOCK].try_into().unwrap();
        let mut acc: [u32; BLOCK] = sig[start..start + BLOCK].try_into().unwrap();
        for &h in values {
            for j in 0..BLOCK {
                acc[j] = acc[j].min(aa[j].wrapping_mul(h).wrapping_add(bb[j]));
            }
        }
        sig[start..start + BLOCK].copy_from_slice(&acc);
        start += BLOCK;
    }
    for j in start..n {
        let (aj, bj) = (a[j], b[j]);
        let mut m = sig[j];
        for &h in values {
            m = m.min(aj.wrapping_mul(h).wrapping_add(bj));
        }
        sig[j] = m;
    }
}

fn update_portable(a: &[u32], b: &[u32], values: &[u32], sig: &mut [u32]) {
    update_body(a, b, values, sig)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn update_avx2(a: &[u32], b: &[u32], values: &[u32], sig: &mut [u32]) {
    update_body(a, b, values, sig)
}

/// Estimated Jaccard similarity: the fraction of equal signature slots.
pub fn jaccard(a: &[u32], b: &[u32]) -> f64 {
    if a.is_empty() || a.len() != b.len() {
        return 0.0;
    }
    let equal = a.iter().zip(b).filter(|(x, y)| x == y).count();
    equal as f64 / a.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| format!("{prefix}{i}")).collect()
    }

    #[test]
    fn kernel_paths_agree() {
        let h = MinHasher::new(100, 7, HashScheme::Fast).unwrap();
        let values: Vec<u32> = (0..500u32)
            .map(|i| fmix32(i.wrapping_mul(2654435761)))
            .collect();
        let mut s1 = vec![EMPTY; 100];
        let mut s2 = vec![EMPTY; 100];
        h.update(&mut s1, &values);
        update_portable(&h.a, &h.b, &values, &mut s2);
        assert_eq!(s1, s2);
        for (j, &got) in s1.iter().enumerate() {
            let want = values
                .iter()
                .map(|&v| h.a[j].wrapping_mul(v).wrapping_add(h.b[j]))
                .min();
            assert_eq!(Some(got), want);
        }
    }

    #[test]
    fn jaccard_estimate_error_is_within_sampling_error() {
        // Sets of unigrams with known Jaccard J = common / (common + 2 * distinct).
        let mut worst: f64 = 0.0;
        for (common, distinct) in [(700usize, 150usize), (500, 250), (300, 350), (900, 50)] {
            let base = words("w", 0..common);
            let a: Vec<String> = base
                .iter()
                .cloned()
                .chain(words("a", 0..distinct))
                .collect();
            let b: Vec<String> = base
                .iter()
                .cloned()
                .chain(words("b", 0..distinct))
                .collect();
            let truth = common as f64 / (common + 2 * distinct) as f64;
            for scheme in [HashScheme::Fast, HashScheme::Datasketch] {
                let mut err_sum = 0.0;
                for seed in 0..8 {
                    let h = MinHasher::new(256, seed, scheme).unwrap();
                    let mut s = Scratch::default();
                    let (mut sa, mut sb) = (vec![0; 256], vec![0; 256]);
                    h.sign_text(
                        &a.join(" "),
                        Shingles::Words(1),
                        Normalize::Lower,
                        &mut sa,
                        &mut s,
                    );
                    h.sign_text(
                        &b.join(" "),
                        Shingles::Words(1),
                        Normalize::Lower,
                        &mut sb,
                        &mut s,
                    );
                    err_sum += jaccard(&sa, &sb) - truth;
                }
                let mean_err = (err_sum / 8.0).abs();
                worst = worst.max(mean_err);
                // Standard error of the mean over 8 x 256 slots is < 0.012; allow 3 sigma.
                assert!(
                    mean_err < 0.035,
                    "{scheme:?} J={truth} mean error {mean_err}"
                );
            }
        }
        assert!(worst < 0.035);
    }

    #[test]
    fn datasketch_permutations_are_numpy_randomstate() {
        // numpy: rs = RandomState(1); a = rs.randint(0, 2**31, 3, dtype=uint32)*2+1
        // The first MT19937 output for seed 1 is 1791095845.
        let h = MinHasher::new(3, 1, HashScheme::Datasketch).unwrap();
        assert_eq!(h.a[0], (1_791_095_845u32 & 0x7fff_ffff) * 2 + 1);
        assert!(MinHasher::new(3, 1 << 40, HashScheme::Datasketch).is_err());
    }

    #[test]
    fn shingle_edge_cases() {
        let h = MinHasher::new(16, 1, HashScheme::Fast).unwrap();
        let mut s = Scratch::default();
        let mut sig = vec![0; 16];
        h.sign_text("", Shingles::Words(5), Normalize::Lower, &mut sig, &mut s);
        assert!(sig.iter().all(|&v| v == EMPTY));
        h.sign_text(
            "two words",
            Shingles::Words(5),
            Normalize::Lower,
            &mut sig,
            &mut s,
        );
        assert!(sig.iter().all(|&v| v != EMPTY));
        let mut sig2 = vec![0; 16];
        h.sign_text(
            "TWO   words",
            Shingles::Words(5),
            Normalize::Lower,
            &mut sig2,
            &mut s,
        );
        assert_eq!(sig, sig2);
        h.sign_text(
            "ab",
            Shingles::Chars(3),
            Normalize::Lower,
            &mut sig2,
            &mut s,
        );
        assert!(sig2.iter().all(|&v| v != EMPTY));
        h.sign_tokens(&[1, 2, 3], 5, &mut sig2, &mut s);
        assert!(sig2.iter().all(|&v| v != EMPTY));
        let mut d = [0u8; 10];
        assert_eq!(decimal(0, &mut d), b"0");
        assert_eq!(decimal(4_294_967_295, &mut d), b"4294967295");
    }

    #[test]
    fn batch_equals_single() {
        let h = MinHasher::new(64, 3, HashScheme::Fast).unwrap();
        let texts: Vec<String> = (0..50)
            .map(|i| format!("doc {i} with some shared words here"))
            .collect();
        let mut out = vec![0; 50 * 64];
        h.sign_texts(&texts, Shingles::Words(2), Normalize::Lower, &mut out);
        let mut s = Scratch::default();
        let mut sig = vec![0; 64];
        h.sign_text(
            &texts[17],
            Shingles::Words(2),
            Normalize::Lower,
            &mut sig,
            &mut s,
        );
        assert_eq!(&out[17 * 64..18 * 64], &sig[..]);
        // Order matters for n-grams.
        let mut sig2 = vec![0; 64];
        h.sign_text(
            "words shared some",
            Shingles::Words(2),
            Normalize::Lower,
            &mut sig2,
            &mut s,
        );
        h.sign_text(
            "some shared words",
            Shingles::Words(2),
            Normalize::Lower,
            &mut sig,
            &mut s,
        );
        assert_ne!(sig, sig2);
    }
}
