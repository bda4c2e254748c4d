//! Text normalisation shared by exact hashing and shingling.

use crate::{Error, Result};

/// How text is normalised before hashing or shingling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Normalize {
    /// Text as given (word shingles still split on whitespace).
    None,
    /// Lowercase; whitespace runs become one space; leading/trailing whitespace dropped.
    Lower,
    /// Like `Lower`, and every character that is not alphanumeric counts as whitespace.
    Strict,
}

impl Normalize {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "none" => Ok(Normalize::None),
            "lower" => Ok(Normalize::Lower),
            "strict" => Ok(Normalize::Strict),
            other => Err(Error::InvalidArgument(format!(
                "normalize must be 'none', 'lower' or 'strict', not {other:?}"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Normalize::None => "none",
            Normalize::Lower => "lower",
            Normalize::Strict => "strict",
        }
    }
}

/// Normalise `text` into `out` (cleared first). Returns the normalised text.
pub fn normalize_into<'a>(text: &str, mode: Normalize, out: &'a mut String) -> &'a str {
    out.clear();
    if mode == Normalize::None {
        out.push_str(text);
        return out.as_str();
    }
    out.reserve(text.len());
    let strict = mode == Normalize::Strict;
    let mut space_pending = false;
    for c in text.chars() {
        let separator = if c.is_ascii() {
            is_ascii_separator(c as u8, strict)
        } else {
            c.is_whitespace() || (strict && !c.is_alphanumeric())
        };
        if separator {
            space_pending = !out.is_empty();
            continue;
        }
        if space_pending {
            out.push(' ');
            space_pending = false;
        }
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out.as_str()
}

/// ASCII whitespace as `char::is_whitespace` sees it (includes vertical tab), plus every
/// non-alphanumeric byte in strict mode.
#[inline]
fn is_ascii_separator(b: u8, strict: bool) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
        || (strict && !b.is_ascii_alphanumeric())
}

/// Call `f` with every word of `text` as normalisation `mode` would leave it (the words of
/// `normalize(text, mode).split_whitespace()`), without building the normalised string: ASCII
/// bytes take a table-free fast path, other characters are decoded one at a time.
pub fn for_each_word(text: &str, mode: Normalize, buf: &mut Vec<u8>, mut f: impl FnMut(&[u8])) {
    if mode == Normalize::None {
        for word in text.split_whitespace() {
            f(word.as_bytes());
        }
        return;
    }
    let strict = mode == Normalize::Strict;
    let bytes = text.as_bytes();
    buf.clear();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            if is_ascii_separator(b, strict) {
                if !buf.is_empty() {
                    f(buf);
                    buf.clear();
                }
            } else {
                buf.push(b.to_ascii_lowercase());
            }
            i += 1;
        } else {
            let c = text[i..].chars().next().unwrap_or('\u{fffd}');
            i += c.len_utf8();
            if c.is_whitespace() || (strict && !c.is_alphanumeric()) {
                if !buf.is_empty() {
                    f(buf);
                    buf.clear();
                }
            } else {
                let mut tmp = [0u8; 4];
                for l in c.to_lowercase() {
                    buf.extend_from_slice(l.encode_utf8(&mut tmp).as_bytes());
                }
            }
        }
    }
    if !buf.is_empty() {
        f(buf);
    }
}

/// Convenience wrapper returning a new string.
pub fn normalize(text: &str, mode: Normalize) -> String {
    let mut out = String::new();
    normalize_into(text, mode, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        let t = "  Hello,\tWORLD!\n  Ünïcode  ";
        assert_eq!(normalize(t, Normalize::None), t);
        assert_eq!(normalize(t, Normalize::Lower), "hello, world! ünïcode");
        assert_eq!(normalize(t, Normalize::Strict), "hello world ünïcode");
        assert_eq!(normalize("", Normalize::Strict), "");
        assert_eq!(normalize("!!!", Normalize::Strict), "");
        assert!(Normalize::parse("bogus").is_err());
    }

    #[test]
    fn words_match_normalised_split() {
        let samples = [
            "  Hello,\tWORLD!\n  Ünïcode  ",
            "a\u{0b}b\u{a0}c\u{3000}D-e_f",
            "",
            "   ",
            "ΣΑΣ straße İx",
        ];
        for text in samples {
            for mode in [Normalize::None, Normalize::Lower, Normalize::Strict] {
                let want: Vec<String> = normalize(text, mode)
                    .split_whitespace()
                    .map(String::from)
                    .collect();
                let mut got = Vec::new();
                let mut buf = Vec::new();
                for_each_word(text, mode, &mut buf, |w| {
                    got.push(String::from_utf8(w.to_vec()).unwrap())
                });
                assert_eq!(got, want, "{text:?} {mode:?}");
            }
        }
    }
}
