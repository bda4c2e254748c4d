//! Word statistics in one pass over a document, without allocating per word.
//!
//! A *token* is a run of non-whitespace characters. Inside a token, characters of scripts
//! written without spaces ([`is_unsegmented`]: Han, kana, Thai, ...) are words of their own;
//! the other characters form words of their own between them. A word needs at least one
//! letter or digit; its length is counted in characters after trimming leading and trailing
//! punctuation ("(hello)," is a word of length 5). Tokens with no letter or digit at all
//! ("-", "|", "...") are *symbol tokens*: not words, but counted for the alphabetic-word
//! fraction, the way Gopher counts them.

/// One word as the n-gram statistics see it: a hash of its (ASCII-lowercased) text and its
/// length in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    pub hash: u64,
    pub len: u32,
}

/// What [`analyze`] measured.
#[derive(Debug, Clone, Default)]
pub struct WordStats {
    /// All words (segmented + unsegmented).
    pub words: usize,
    /// Words from space-separated scripts and their total length in characters.
    pub segmented_words: usize,
    pub segmented_chars: usize,
    /// Characters of unsegmented scripts (each one word).
    pub unsegmented_words: usize,
    /// Tokens without any letter or digit.
    pub symbol_tokens: usize,
    /// Words with at least one letter.
    pub alpha_words: usize,
    /// '#' characters.
    pub hashes: usize,
    /// "..." sequences and '…' characters.
    pub ellipses: usize,
    /// Stop words seen (counting stops at the requested minimum).
    pub stop_words: usize,
    /// The first `max_units` words, when requested.
    pub units: Vec<Unit>,
}

/// Characters of scripts written without spaces between words.
#[inline]
pub fn is_unsegmented(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x31F0..=0x31FF    // Katakana phonetic extensions
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0xFF66..=0xFF9D    // half-width Katakana
        | 0x20000..=0x2FA1F  // CJK extensions B.. and compatibility supplement
        | 0x0E00..=0x0EFF    // Thai, Lao
        | 0x0F00..=0x0FFF    // Tibetan
        | 0x1000..=0x109F    // Myanmar
        | 0x1780..=0x17FF    // Khmer
    )
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Final avalanche step so that FNV hashes are usable as hash-map keys and rolling-hash input.
#[inline]
pub fn mix64(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Fast hash of a byte string, exact (no case folding), 8 bytes at a time.
#[inline]
pub fn hash_exact(bytes: &[u8]) -> u64 {
    let mut h = FNV_OFFSET ^ (bytes.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let v = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h ^ v).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^= h >> 29;
    }
    let mut tail = 0u64;
    for (i, &b) in chunks.remainder().iter().enumerate() {
        tail |= (b as u64) << (8 * i);
    }
    mix64(h ^ tail)
}

/// Hash of a byte string with ASCII letters folded to lower case.
#[inline]
pub fn hash_folded(bytes: &[u8]) -> u64 {
    let mut h = FNV_OFFSET;
    for &b in bytes {
        h ^= b.to_ascii_lowercase() as u64;
        h = h.wrapping_mul(FNV_PRIME);
    }
    mix64(h)
}

/// [`trim_non_alnum`] for ASCII text, on bytes.
#[inline]
fn trim_non_alnum_ascii(s: &str) -> &str {
    let b = s.as_bytes();
    let Some(start) = b.iter().position(|c| c.is_ascii_alphanumeric()) else {
        return "";
    };
    let end = b
        .iter()
        .rposition(|c| c.is_ascii_alphanumeric())
        .unwrap_or(start)
        + 1;
    // ASCII text: every index is a char boundary
    &s[start..end]
}

/// Trim characters that are neither letters nor digits from both ends.
#[inline]
/// Tokens that only mark layout: list bullets and the `|` between table cells.
fn is_layout_marker(tok: &str) -> bool {
    matches!(tok, "-" | "*" | "|" | "•" | "·" | "–" | "▪" | "◦")
}

fn trim_non_alnum(s: &str) -> &str {
    s.trim_matches(|c: char| !c.is_alphanumeric())
}

struct Acc<'s> {
    stats: WordStats,
    want_units: bool,
    max_units: usize,
    stop_list: Option<&'s [&'s str]>,
    min_stop: usize,
    lower: String,
}

impl Acc<'_> {
    /// A word from a space-separated script; `w` may still carry punctuation.
    #[inline]
    fn segmented(&mut self, w: &str) {
        let ascii = w.is_ascii();
        let core = if ascii {
            trim_non_alnum_ascii(w)
        } else {
            trim_non_alnum(w)
        };
        if core.is_empty() {
            return;
        }
        let (len, alpha) = if ascii {
            (core.len(), core.bytes().any(|b| b.is_ascii_alphabetic()))
        } else {
            (
                core.chars().count(),
                core.chars().any(|c| c.is_alphabetic()),
            )
        };
        let s = &mut self.stats;
        s.words += 1;
        s.segmented_words += 1;
        s.segmented_chars += len;
        if alpha {
            s.alpha_words += 1;
        }
        if let Some(list) = self.stop_list {
            if s.stop_words < self.min_stop && len <= 16 && alpha {
                let is_stop = if ascii {
                    list.iter().any(|sw| sw.eq_ignore_ascii_case(core))
                } else {
                    self.lower.clear();
                    self.lower.extend(core.chars().flat_map(char::to_lowercase));
                    list.contains(&self.lower.as_str())
                };
                if is_stop {
                    s.stop_words += 1;
                }
            }
        }
        if self.want_units && s.units.len() < self.max_units {
            s.units.push(Unit {
                hash: hash_folded(core.as_bytes()),
                len: len as u32,
            });
        }
    }

    #[inline]
    fn unsegmented(&mut self, c: char) {
        let s = &mut self.stats;
        s.words += 1;
        s.unsegmented_words += 1;
        if c.is_alphabetic() {
            s.alpha_words += 1;
        }
        if self.want_units && s.units.len() < self.max_units {
            s.units.push(Unit {
                hash: mix64(c as u64 ^ 0x9e37_79b9_7f4a_7c15),
                len: 1,
            });
        }
    }
}

/// Measure `text` in one pass.
///
/// `stop_list` (lower-case words) is matched case-insensitively until `min_stop` matches are
/// found. `units` is filled (up to `max_units`) only when `want_units`.
pub fn analyze(
    text: &str,
    stop_list: Option<&[&str]>,
    min_stop: usize,
    want_units: bool,
    max_units: usize,
) -> WordStats {
    let mut acc = Acc {
        stats: WordStats::default(),
        want_units,
        max_units,
        stop_list,
        min_stop,
        lower: String::new(),
    };
    if want_units {
        acc.stats.units.reserve((text.len() / 6).min(max_units));
    }
    // Symbols for the Gopher symbol ratio, counted over the whole text with SIMD searches
    // (none of them contains whitespace, so this equals counting token by token).
    let bytes = text.as_bytes();
    acc.stats.hashes = memchr::memchr_iter(b'#', bytes).count();
    acc.stats.ellipses = memchr::memmem::find_iter(bytes, b"...").count()
        + memchr::memmem::find_iter(bytes, "…".as_bytes()).count();
    for tok in text.split_whitespace() {
        let words_before = acc.stats.words;
        if tok.is_ascii() {
            acc.segmented(tok);
        } else {
            // Walk the characters: unsegmented characters are single words, the runs between
            // them are ordinary words.
            let mut run_start = 0;
            for (i, c) in tok.char_indices() {
                if is_unsegmented(c) {
                    if run_start < i {
                        acc.segmented(&tok[run_start..i]);
                    }
                    acc.unsegmented(c);
                    run_start = i + c.len_utf8();
                }
            }
            if run_start < tok.len() {
                acc.segmented(&tok[run_start..]);
            }
        }
        // List bullets and table-cell separators are layout the extractor adds, not words.
        if acc.stats.words == words_before && !is_layout_marker(tok) {
            acc.stats.symbol_tokens += 1;
        }
    }
    acc.stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_latin_words() {
        let s = analyze("Hello, world! (This) is #1 -- ok...", None, 0, true, 100);
        // Hello world This is 1 ok ; "--" is a symbol token
        assert_eq!(s.words, 6);
        assert_eq!(s.symbol_tokens, 1);
        assert_eq!(s.alpha_words, 5);
        assert_eq!(s.hashes, 1);
        assert_eq!(s.ellipses, 1);
        assert_eq!(s.segmented_chars, 5 + 5 + 4 + 2 + 1 + 2);
        assert_eq!(s.units.len(), 6);
        // case folding in hashes
        let a = analyze("Word word WORD", None, 0, true, 10);
        assert!(a.units.iter().all(|u| u.hash == a.units[0].hash));
    }

    #[test]
    fn counts_cjk_characters_as_words() {
        let s = analyze("我们今天去公园。iPhone很好", None, 0, true, 100);
        // 我们今天去公园 = 7, iPhone = 1, 很好 = 2; '。' is not a word
        assert_eq!(s.words, 10);
        assert_eq!(s.unsegmented_words, 9);
        assert_eq!(s.segmented_words, 1);
        assert_eq!(s.symbol_tokens, 0);
    }

    #[test]
    fn stop_words_case_insensitive_and_capped() {
        let list: &[&str] = &["the", "über"];
        let s = analyze("The cat and THE dog Über alles", Some(list), 10, false, 0);
        assert_eq!(s.stop_words, 3);
        let s = analyze("the the the the", Some(list), 2, false, 0);
        assert_eq!(s.stop_words, 2);
        assert!(s.units.is_empty());
    }

    #[test]
    fn ascii_trim_and_exact_hash() {
        assert_eq!(trim_non_alnum_ascii("(hello),"), "hello");
        assert_eq!(trim_non_alnum_ascii("--"), "");
        assert_eq!(trim_non_alnum_ascii("a"), "a");
        assert_eq!(trim_non_alnum("«Grüße»"), "Grüße");
        let words = [
            "",
            "a",
            "ab",
            "abcdefgh",
            "abcdefghi",
            "abcdefgh\0",
            "Abcdefgh",
        ];
        for (i, a) in words.iter().enumerate() {
            for b in &words[i + 1..] {
                assert_ne!(
                    hash_exact(a.as_bytes()),
                    hash_exact(b.as_bytes()),
                    "{a:?} {b:?}"
                );
            }
        }
        assert_eq!(hash_exact(b"same line"), hash_exact(b"same line"));
    }

    #[test]
    fn unicode_ellipsis_and_empty() {
        let s = analyze("wait… what…", None, 0, false, 0);
        assert_eq!(s.ellipses, 2);
        let e = analyze("", None, 0, true, 10);
        assert_eq!(e.words, 0);
    }
}

#[cfg(test)]
mod layout_marker_tests {
    use super::*;

    #[test]
    fn bullets_and_cell_separators_are_not_symbol_tokens() {
        let s = analyze("- apple\n- pear\nname | age\n• plum", None, 0, false, 0);
        assert_eq!(s.words, 5);
        assert_eq!(s.symbol_tokens, 0);
        let s = analyze("apple ## pear", None, 0, false, 0);
        assert_eq!(s.symbol_tokens, 1);
    }
}
