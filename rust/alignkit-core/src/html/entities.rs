//! Character reference ("entity") decoding following the HTML5 rules.
//!
//! The named-reference table (all 2125 HTML5 names) comes from the `html-escape` crate;
//! the matching rules (legacy names without `;`, numeric references, the windows-1252
//! remapping of C1 controls, attribute-context exceptions) are implemented here.

use html_escape::NAMED_ENTITIES;

/// Names that the HTML5 spec also accepts without a trailing semicolon, sorted for binary search.
static LEGACY: [&[u8]; 106] = [
    b"AElig", b"AMP", b"Aacute", b"Acirc", b"Agrave", b"Aring", b"Atilde", b"Auml", b"COPY",
    b"Ccedil", b"ETH", b"Eacute", b"Ecirc", b"Egrave", b"Euml", b"GT", b"Iacute", b"Icirc",
    b"Igrave", b"Iuml", b"LT", b"Ntilde", b"Oacute", b"Ocirc", b"Ograve", b"Oslash", b"Otilde",
    b"Ouml", b"QUOT", b"REG", b"THORN", b"Uacute", b"Ucirc", b"Ugrave", b"Uuml", b"Yacute",
    b"aacute", b"acirc", b"acute", b"aelig", b"agrave", b"amp", b"aring", b"atilde", b"auml",
    b"brvbar", b"ccedil", b"cedil", b"cent", b"copy", b"curren", b"deg", b"divide", b"eacute",
    b"ecirc", b"egrave", b"eth", b"euml", b"frac12", b"frac14", b"frac34", b"gt", b"iacute",
    b"icirc", b"iexcl", b"igrave", b"iquest", b"iuml", b"laquo", b"lt", b"macr", b"micro",
    b"middot", b"nbsp", b"not", b"ntilde", b"oacute", b"ocirc", b"ograve", b"ordf", b"ordm",
    b"oslash", b"otilde", b"ouml", b"para", b"plusmn", b"pound", b"quot", b"raquo", b"reg",
    b"sect", b"shy", b"sup1", b"sup2", b"sup3", b"szlig", b"thorn", b"times", b"uacute", b"ucirc",
    b"ugrave", b"uml", b"uuml", b"yacute", b"yen", b"yuml",
];

/// Longest entity name in the HTML5 table ("CounterClockwiseContourIntegral").
const MAX_NAME: usize = 32;

/// Look up a full entity name (without `&` and `;`).
#[inline]
pub(crate) fn lookup_named(name: &[u8]) -> Option<&'static str> {
    match name {
        b"amp" => return Some("&"),
        b"lt" => return Some("<"),
        b"gt" => return Some(">"),
        b"quot" => return Some("\""),
        b"nbsp" => return Some("\u{a0}"),
        b"apos" => return Some("'"),
        _ => {}
    }
    NAMED_ENTITIES
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| NAMED_ENTITIES[i].1)
}

/// Windows-1252 meanings of the C1 control range, as the spec requires for `&#128;`..`&#159;`.
fn c1_remap(n: u32) -> Option<char> {
    let c = match n {
        0x80 => '\u{20AC}',
        0x82 => '\u{201A}',
        0x83 => '\u{0192}',
        0x84 => '\u{201E}',
        0x85 => '\u{2026}',
        0x86 => '\u{2020}',
        0x87 => '\u{2021}',
        0x88 => '\u{02C6}',
        0x89 => '\u{2030}',
        0x8A => '\u{0160}',
        0x8B => '\u{2039}',
        0x8C => '\u{0152}',
        0x8E => '\u{017D}',
        0x91 => '\u{2018}',
        0x92 => '\u{2019}',
        0x93 => '\u{201C}',
        0x94 => '\u{201D}',
        0x95 => '\u{2022}',
        0x96 => '\u{2013}',
        0x97 => '\u{2014}',
        0x98 => '\u{02DC}',
        0x99 => '\u{2122}',
        0x9A => '\u{0161}',
        0x9B => '\u{203A}',
        0x9C => '\u{0153}',
        0x9E => '\u{017E}',
        0x9F => '\u{0178}',
        _ => return None,
    };
    Some(c)
}

/// A decoded reference: either a static string (named) or one char (numeric).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decoded {
    Str(&'static str),
    Char(char),
}

/// Decode the character reference starting at `s[0] == b'&'`.
///
/// Returns the decoded value and the number of bytes consumed, or `None` when the `&`
/// is a literal ampersand. `in_attr` applies the attribute-value rule for legacy names.
pub(crate) fn decode_at(s: &[u8], in_attr: bool) -> Option<(Decoded, usize)> {
    debug_assert_eq!(s.first(), Some(&b'&'));
    let b1 = *s.get(1)?;
    if b1 == b'#' {
        return decode_numeric(s);
    }
    if !b1.is_ascii_alphanumeric() {
        return None;
    }
    let mut end = 1;
    while end < s.len() && end - 1 < MAX_NAME + 1 && s[end].is_ascii_alphanumeric() {
        end += 1;
    }
    let name = &s[1..end];
    if s.get(end) == Some(&b';') && name.len() <= MAX_NAME {
        if let Some(v) = lookup_named(name) {
            return Some((Decoded::Str(v), end + 1));
        }
    }
    // Longest legacy name that is a prefix of `name` (legacy names are at most 6 bytes).
    let max = name.len().min(6);
    for len in (2..=max).rev() {
        let cand = &name[..len];
        if LEGACY.binary_search(&cand).is_ok() {
            let next = s.get(1 + len).copied();
            if in_attr && matches!(next, Some(c) if c.is_ascii_alphanumeric() || c == b'=') {
                return None;
            }
            let v = lookup_named(cand)?;
            return Some((Decoded::Str(v), 1 + len));
        }
    }
    None
}

fn decode_numeric(s: &[u8]) -> Option<(Decoded, usize)> {
    let mut i = 2;
    let hex = matches!(s.get(2), Some(b'x' | b'X'));
    if hex {
        i += 1;
    }
    let start = i;
    let mut n: u32 = 0;
    while let Some(&c) = s.get(i) {
        let d = if hex {
            match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => break,
            }
        } else if c.is_ascii_digit() {
            c - b'0'
        } else {
            break;
        };
        n = n
            .saturating_mul(if hex { 16 } else { 10 })
            .saturating_add(d as u32)
            .min(0x11_0000);
        i += 1;
    }
    if i == start {
        return None;
    }
    if s.get(i) == Some(&b';') {
        i += 1;
    }
    let c = match n {
        0 => '\u{FFFD}',
        0x80..=0x9F => c1_remap(n).unwrap_or_else(|| char::from_u32(n).unwrap_or('\u{FFFD}')),
        _ => char::from_u32(n).unwrap_or('\u{FFFD}'),
    };
    Some((Decoded::Char(c), i))
}

/// Append `s` to `out` with all character references decoded.
pub fn decode_into(out: &mut String, s: &str, in_attr: bool) {
    let b = s.as_bytes();
    let mut last = 0;
    let mut pos = 0;
    while let Some(off) = memchr::memchr(b'&', &b[pos..]) {
        let amp = pos + off;
        match decode_at(&b[amp..], in_attr) {
            Some((d, used)) => {
                out.push_str(&s[last..amp]);
                match d {
                    Decoded::Str(v) => out.push_str(v),
                    Decoded::Char(c) => out.push(c),
                }
                pos = amp + used;
                last = pos;
            }
            None => pos = amp + 1,
        }
    }
    out.push_str(&s[last..]);
}

/// Decode all character references of `s` (text context).
pub fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    decode_into(&mut out, s, false);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_table_sorted_and_known() {
        for w in LEGACY.windows(2) {
            assert!(w[0] < w[1], "{:?}", std::str::from_utf8(w[0]));
        }
        for n in LEGACY {
            assert!(lookup_named(n).is_some());
        }
    }

    #[test]
    fn decodes() {
        let d = decode_entities;
        assert_eq!(d("a &amp; b"), "a & b");
        assert_eq!(d("&lt;p&gt;"), "<p>");
        assert_eq!(d("&eacute;t&eacute;"), "été");
        assert_eq!(d("&CounterClockwiseContourIntegral;"), "\u{2233}");
        assert_eq!(d("&NotNestedGreaterGreater;"), "\u{2AA2}\u{338}");
        assert_eq!(d("&#65;&#x42;&#X43;&#x1F600;"), "ABC\u{1F600}");
        assert_eq!(d("&#128;&#150;"), "\u{20AC}\u{2013}");
        assert_eq!(d("&#0;&#xD800;&#99999999999;"), "\u{FFFD}\u{FFFD}\u{FFFD}");
        assert_eq!(d("&copy 2024 &copy2024"), "© 2024 ©2024");
        assert_eq!(d("&notit; &notin;"), "¬it; ∉");
        assert_eq!(d("&half &half;"), "&half ½");
        assert_eq!(d("&unknown; & &; &#; &#x;"), "&unknown; & &; &#; &#x;");
        assert_eq!(d("AT&T &amp"), "AT&T &");
        assert_eq!(d("&#65"), "A");
        let mut s = String::new();
        decode_into(&mut s, "?a=1&copy=2&amp;b&notx", true);
        assert_eq!(s, "?a=1&copy=2&b&notx");
    }
}
