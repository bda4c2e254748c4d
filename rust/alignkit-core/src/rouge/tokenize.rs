//! Word tokenizers for ROUGE-L.

use crate::error::{Error, Result};
use crate::quality::words::is_unsegmented;

/// How a text becomes the token sequence ROUGE-L compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tokenizer {
    /// `rouge_score.tokenize.tokenize(text, None)`: Python's `str.lower()`, then every maximal
    /// run of `[a-z0-9]` is a token. Everything else separates tokens and is dropped, so all
    /// non-ASCII letters vanish (two identical Chinese texts have no tokens and score 0). The
    /// few non-ASCII characters whose lowercase is ASCII count as that ASCII (KELVIN SIGN is
    /// `k`; `İ` is `i` followed by a dropped combining dot).
    RougeScore,
    /// Unicode-aware words: each character lowercased on its own (final `ς` folded to `σ`), a
    /// token is a maximal run of alphabetic or numeric characters, and every character of a
    /// script written without spaces (Han, kana, Thai, Lao, Tibetan, Myanmar, Khmer; the quality
    /// filters' word rule) is a token by itself. No Unicode normalisation: a decomposed accent
    /// is not alphanumeric and splits its word.
    Unicode,
}

impl Tokenizer {
    /// The accepted names, in the order error messages list them.
    pub const NAMES: [&'static str; 2] = ["rouge_score", "unicode"];

    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "rouge_score" => Ok(Tokenizer::RougeScore),
            "unicode" => Ok(Tokenizer::Unicode),
            other => Err(Error::InvalidArgument(format!(
                "unknown tokenizer {other:?}; expected one of {:?}",
                Self::NAMES
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Tokenizer::RougeScore => Self::NAMES[0],
            Tokenizer::Unicode => Self::NAMES[1],
        }
    }

    /// Calls `emit` with each token of `text` in order; `word` is a reusable buffer.
    pub fn for_each_token(self, text: &str, word: &mut String, mut emit: impl FnMut(&str)) {
        word.clear();
        let mut flush = |word: &mut String| {
            if !word.is_empty() {
                emit(word);
                word.clear();
            }
        };
        match self {
            Tokenizer::RougeScore => {
                for c in text.chars() {
                    if c.is_ascii() {
                        push_or_flush(c.to_ascii_lowercase(), word, &mut flush);
                    } else {
                        for lower in c.to_lowercase() {
                            push_or_flush(lower, word, &mut flush);
                        }
                    }
                }
            }
            Tokenizer::Unicode => {
                for c in text.chars() {
                    for lower in c.to_lowercase() {
                        let lower = if lower == 'ς' { 'σ' } else { lower };
                        if !lower.is_alphanumeric() {
                            flush(word);
                        } else if is_unsegmented(lower) {
                            flush(word);
                            word.push(lower);
                            flush(word);
                        } else {
                            word.push(lower);
                        }
                    }
                }
            }
        }
        flush(word);
    }

    /// The tokens of `text` as owned strings.
    pub fn tokenize(self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.for_each_token(text, &mut String::new(), |t| out.push(t.to_owned()));
        out
    }
}

/// rouge_score keeps `[a-z0-9]` (after lowercasing) and splits on anything else.
#[inline]
fn push_or_flush(lower: char, word: &mut String, flush: &mut impl FnMut(&mut String)) {
    if lower.is_ascii_lowercase() || lower.is_ascii_digit() {
        word.push(lower);
    } else {
        flush(word);
    }
}
