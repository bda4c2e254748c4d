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
            c.is_ascii_whitespace() || (strict && !c.is_ascii_alphanumeric())
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
}
