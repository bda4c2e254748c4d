//! Repetition statistics: bullet/ellipsis/duplicate lines, and word n-gram repetition
//! (Gopher's "top n-gram" and "duplicate n-gram" character fractions).
//!
//! Everything is hashed to `u64` (no string copies) and linear in the input: n-gram hashes are
//! rolling polynomial hashes over the word hashes, so each n-gram costs O(1) whatever `n`.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use super::words::{hash_exact, Unit};

/// A hasher for keys that are already well-mixed `u64` hashes.
#[derive(Default)]
pub struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not used for u64 keys; fold anything else in.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Build = BuildHasherDefault<PassThroughHasher>;

/// Line-level measurements over non-blank lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineStats {
    /// Non-blank lines.
    pub lines: usize,
    /// Characters in non-blank lines (trimmed).
    pub chars: usize,
    pub bullet_lines: usize,
    pub ellipsis_lines: usize,
    /// Lines equal (after trimming; case-sensitive) to an earlier line.
    pub duplicate_lines: usize,
    /// Characters in those lines.
    pub duplicate_chars: usize,
    /// Lines ending in terminal punctuation ([`super::lines::has_terminal_punctuation`]).
    pub punctuated_lines: usize,
    /// Lines shorter than the `short_chars` given to [`line_stats`].
    pub short_lines: usize,
}

const BULLETS: &[char] = &[
    '•', '●', '○', '◦', '▪', '▫', '■', '□', '‣', '∙', '·', '►', '▶', '➢', '➤', '→', '-', '–', '—',
    '*', '+', '✓', '✔',
];

fn is_bullet_line(line: &str) -> bool {
    line.starts_with(BULLETS)
}

fn is_ellipsis_line(line: &str) -> bool {
    line.ends_with("...") || line.ends_with('…')
}

/// Measure the lines of `text`; lines of fewer than `short_chars` characters are short.
pub fn line_stats(text: &str, short_chars: usize) -> LineStats {
    let mut st = LineStats::default();
    let mut seen: HashSet<u64, Build> = HashSet::with_capacity_and_hasher(64, Build::default());
    for raw in text.split('\n') {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let chars = if line.is_ascii() {
            line.len()
        } else {
            line.chars().count()
        };
        st.lines += 1;
        st.chars += chars;
        if is_bullet_line(line) {
            st.bullet_lines += 1;
        }
        if is_ellipsis_line(line) {
            st.ellipsis_lines += 1;
        }
        if super::lines::has_terminal_punctuation(line) {
            st.punctuated_lines += 1;
        }
        if chars < short_chars {
            st.short_lines += 1;
        }
        if !seen.insert(hash_exact(line.as_bytes())) {
            st.duplicate_lines += 1;
            st.duplicate_chars += chars;
        }
    }
    st
}

/// Multiplier of the rolling n-gram hash (odd, so invertible mod 2^64).
const BASE: u64 = 0x100_0000_01b3_a5a5;

/// N-gram statistics over the words of one document: rolling-hash prefix table built once,
/// one hash table reused across `n`.
pub struct Ngrams<'a> {
    units: &'a [Unit],
    prefix: Vec<u64>,
    table: Table,
    total_chars: u64,
}

/// Open-addressing hash table from n-gram hash to (count, first position), linear probing,
/// Fibonacci hashing on the high bits. Much cheaper than a general map for this one job:
/// keys are already hashes, nothing is ever removed, and it is cleared between `n`s.
#[derive(Default)]
struct Table {
    keys: Vec<u64>,
    counts: Vec<u32>,
    firsts: Vec<u32>,
    shift: u32,
}

impl Table {
    /// Empty the table, sized for `items` insertions (load factor <= 1/2).
    fn reset(&mut self, items: usize) {
        let cap = (items * 2).next_power_of_two().max(16);
        if self.keys.len() == cap {
            self.keys.fill(0);
        } else {
            self.keys = vec![0; cap];
            self.counts = vec![0; cap];
            self.firsts = vec![0; cap];
        }
        self.shift = 64 - cap.trailing_zeros();
    }

    /// Slot of `key`, inserted with count 0 and first position `pos` if new.
    #[inline]
    fn slot(&mut self, key: u64, pos: u32) -> usize {
        let key = key.max(1); // 0 marks an empty slot
        let mask = self.keys.len() - 1;
        let mut i = (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize;
        loop {
            let k = self.keys[i];
            if k == key {
                return i;
            }
            if k == 0 {
                self.keys[i] = key;
                self.counts[i] = 0;
                self.firsts[i] = pos;
                return i;
            }
            i = (i + 1) & mask;
        }
    }
}

impl<'a> Ngrams<'a> {
    pub fn new(units: &'a [Unit]) -> Self {
        let mut prefix = Vec::with_capacity(units.len() + 1);
        let mut h = 0u64;
        prefix.push(h);
        let mut total = 0u64;
        for u in units {
            h = h.wrapping_mul(BASE).wrapping_add(u.hash);
            prefix.push(h);
            total += u.len as u64;
        }
        Ngrams {
            units,
            prefix,
            table: Table::default(),
            total_chars: total,
        }
    }

    #[inline]
    fn ngram_hash(&self, i: usize, n: usize, base_pow: u64) -> u64 {
        self.prefix[i + n].wrapping_sub(self.prefix[i].wrapping_mul(base_pow))
    }

    /// Characters of the most frequent word n-gram times its count, over all word characters.
    /// 0 when no n-gram occurs twice.
    pub fn top_ngram_char_fraction(&mut self, n: usize) -> f64 {
        let units = self.units;
        if n == 0 || units.len() < n || self.total_chars == 0 {
            return 0.0;
        }
        let pow = BASE.wrapping_pow(n as u32);
        let positions = units.len() - n + 1;
        self.table.reset(positions);
        let mut best_count = 0u32;
        let mut best_first = 0u32;
        for i in 0..positions {
            let h = self.ngram_hash(i, n, pow);
            let slot = self.table.slot(h, i as u32);
            let c = self.table.counts[slot] + 1;
            self.table.counts[slot] = c;
            if c > best_count {
                best_count = c;
                best_first = self.table.firsts[slot];
            }
        }
        if best_count < 2 {
            return 0.0;
        }
        let start = best_first as usize;
        let chars: u64 = units[start..start + n].iter().map(|u| u.len as u64).sum();
        (chars * best_count as u64) as f64 / self.total_chars as f64
    }

    /// Characters of words that lie in a repeated occurrence of some n-gram (an occurrence
    /// after the first), each character counted once, over all word characters.
    pub fn duplicate_ngram_char_fraction(&mut self, n: usize) -> f64 {
        let units = self.units;
        if n == 0 || units.len() < n || self.total_chars == 0 {
            return 0.0;
        }
        let pow = BASE.wrapping_pow(n as u32);
        let positions = units.len() - n + 1;
        self.table.reset(positions);
        let mut covered_to = 0usize;
        let mut dup_chars = 0u64;
        for i in 0..positions {
            let h = self.ngram_hash(i, n, pow);
            let slot = self.table.slot(h, i as u32);
            let seen_before = self.table.counts[slot] > 0;
            self.table.counts[slot] = 1;
            if seen_before {
                let from = covered_to.max(i);
                for u in &units[from..i + n] {
                    dup_chars += u.len as u64;
                }
                covered_to = i + n;
            }
        }
        dup_chars as f64 / self.total_chars as f64
    }
}

#[cfg(test)]
mod tests {
    use super::super::words::analyze;
    use super::*;

    fn units(text: &str) -> Vec<Unit> {
        analyze(text, None, 0, true, usize::MAX).units
    }

    #[test]
    fn line_stats_counts() {
        let t = "- one\n- two\nsame line\n\nsame line\nwait for it...\n  same line  \nSame Line";
        let s = line_stats(t, 6);
        assert_eq!(s.lines, 7);
        assert_eq!(s.punctuated_lines, 1);
        assert_eq!(s.short_lines, 2);
        assert_eq!(s.bullet_lines, 2);
        assert_eq!(s.ellipsis_lines, 1);
        assert_eq!(s.duplicate_lines, 2);
        assert_eq!(s.duplicate_chars, 18);
    }

    #[test]
    fn top_ngram() {
        let u = units("a b a b a b c");
        // "a b" appears 3 times, 2 chars each, 7 chars total
        let f = Ngrams::new(&u).top_ngram_char_fraction(2);
        assert!((f - 6.0 / 7.0).abs() < 1e-9, "{f}");
        let u = units("one two three four");
        let mut s = Ngrams::new(&u);
        assert_eq!(s.top_ngram_char_fraction(2), 0.0);
        assert_eq!(s.top_ngram_char_fraction(5), 0.0);
        assert_eq!(Ngrams::new(&[]).top_ngram_char_fraction(2), 0.0);
    }

    #[test]
    fn duplicate_ngrams() {
        let u = units("x1 x2 x3 x4 x5 y x1 x2 x3 x4 x5");
        // second occurrence of the 5-gram: 10 of 21 chars
        let f = Ngrams::new(&u).duplicate_ngram_char_fraction(5);
        assert!((f - 10.0 / 21.0).abs() < 1e-9, "{f}");
        let u = units("a b c d e f g h i j k");
        assert_eq!(Ngrams::new(&u).duplicate_ngram_char_fraction(5), 0.0);
        // a run of one word: every n-gram after the first repeats it (overlapping), so all
        // words but the first are covered
        let u = units(&"spam ".repeat(100));
        let mut s = Ngrams::new(&u);
        assert!((s.duplicate_ngram_char_fraction(50) - 0.99).abs() < 1e-9);
        let f = s.duplicate_ngram_char_fraction(5);
        assert!((f - 0.99).abs() < 1e-9, "{f}");
    }

    #[test]
    fn duplicate_fraction_never_grows_with_n() {
        // the property filter_document relies on to skip passes
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..50 {
            let mut text = String::new();
            for _ in 0..300 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // a small vocabulary so that repeats happen
                text.push_str(["a", "bb", "ccc", "dd", "e", "ffff"][(state % 6) as usize]);
                text.push(' ');
            }
            let u = units(&text);
            let mut ng = Ngrams::new(&u);
            let mut prev = 1.0f64;
            for n in 1..=12 {
                let f = ng.duplicate_ngram_char_fraction(n);
                assert!(f <= prev + 1e-12, "n={n}: {f} > {prev}");
                prev = f;
            }
        }
    }
}
