//! PII scrubbing: e-mail addresses -> [`EMAIL_PLACEHOLDER`], IPv4 and IPv6 addresses ->
//! [`IP_PLACEHOLDER`].
//!
//! Hand-written byte scanners, linear in the text (no regex):
//!
//! * e-mail: found from each `@` (memchr); local part `[A-Za-z0-9._%+-]+`, domain of at least
//!   two dot-separated labels `[A-Za-z0-9-]`, the last one (TLD) alphabetic and 2+ letters.
//! * IPv4: exactly four dot-separated decimal octets 0..=255 (no leading zeros), not glued to
//!   letters, digits or further dots: "10.0.0.1" matches; version numbers "1.2.3", "1.2.3.4.5",
//!   "v1.2.3.4", dates "2024.01.15" and "12.05.2024" do not.
//! * IPv6: hex groups of 1-4 digits separated by colons, eight groups, or fewer with one `::`,
//!   optionally ending in a dotted IPv4; at least one decimal digit somewhere. Times
//!   ("12:30:45"), MAC addresses (6 groups) and `std::vec`-style paths do not match.

use std::borrow::Cow;

pub const EMAIL_PLACEHOLDER: &str = "<EMAIL>";
pub const IP_PLACEHOLDER: &str = "<IP>";

type Span = (usize, usize, &'static str);

/// Replace e-mail and IP addresses in `text`; borrowed when there is nothing to replace.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let b = text.as_bytes();
    let mut spans: Vec<Span> = Vec::new();
    find_emails(b, &mut spans);
    find_ips(b, &mut spans);
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    spans.sort_by(|x, y| x.0.cmp(&y.0).then(y.1.cmp(&x.1)));
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for (s, e, rep) in spans {
        if s < pos {
            continue; // overlaps a span already replaced
        }
        // Spans start and end on ASCII bytes, so these are char boundaries.
        out.push_str(&text[pos..s]);
        out.push_str(rep);
        pos = e;
    }
    out.push_str(&text[pos..]);
    Cow::Owned(out)
}

#[inline]
fn is_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

#[inline]
fn is_domain(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-')
}

fn valid_domain(d: &[u8]) -> bool {
    let mut labels = 0;
    let mut last: &[u8] = &[];
    for label in d.split(|&c| c == b'.') {
        if label.is_empty() || label[0] == b'-' || label[label.len() - 1] == b'-' {
            return false;
        }
        labels += 1;
        last = label;
    }
    labels >= 2 && last.len() >= 2 && last.iter().all(|c| c.is_ascii_alphabetic())
}

fn find_emails(b: &[u8], spans: &mut Vec<Span>) {
    for at in memchr::memchr_iter(b'@', b) {
        let mut j = at;
        while j > 0 && is_local(b[j - 1]) {
            j -= 1;
        }
        while j < at && b[j] == b'.' {
            j += 1;
        }
        if j == at {
            continue;
        }
        let mut k = at + 1;
        while k < b.len() && is_domain(b[k]) {
            k += 1;
        }
        while k > at + 1 && matches!(b[k - 1], b'.' | b'-') {
            k -= 1;
        }
        if k > at + 1 && valid_domain(&b[at + 1..k]) {
            spans.push((j, k, EMAIL_PLACEHOLDER));
        }
    }
}

/// Parse a dotted IPv4 address starting at `i`; returns its end.
fn parse_ipv4(b: &[u8], i: usize) -> Option<usize> {
    let mut p = i;
    for octet in 0..4 {
        if octet > 0 {
            if b.get(p) != Some(&b'.') {
                return None;
            }
            p += 1;
        }
        let start = p;
        let mut v: u32 = 0;
        while p < b.len() && b[p].is_ascii_digit() && p - start < 3 {
            v = v * 10 + (b[p] - b'0') as u32;
            p += 1;
        }
        let len = p - start;
        if len == 0 || v > 255 || (len > 1 && b[start] == b'0') {
            return None;
        }
        if p < b.len() && b[p].is_ascii_digit() {
            return None; // four or more digits
        }
    }
    Some(p)
}

#[inline]
fn glued_before(b: &[u8], i: usize, extra: &[u8]) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_' || extra.contains(&b[i - 1]))
}

fn ipv4_at(b: &[u8], i: usize) -> Option<usize> {
    if glued_before(b, i, b".") {
        return None;
    }
    let end = parse_ipv4(b, i)?;
    match b.get(end) {
        Some(c) if c.is_ascii_alphanumeric() || *c == b'_' => None,
        Some(b'.') if b.get(end + 1).is_some_and(|c| c.is_ascii_digit()) => None,
        _ => Some(end),
    }
}

#[inline]
fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn valid_ipv6(s: &[u8]) -> bool {
    if !s.iter().any(|c| c.is_ascii_digit()) {
        return false;
    }
    let double = s.windows(2).filter(|w| w == b"::").count();
    if double > 1 || s.windows(3).any(|w| w == b":::") {
        return false;
    }
    let mut groups = 0usize;
    let parts: Vec<&[u8]> = s.split(|&c| c == b':').collect();
    let n = parts.len();
    for (idx, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue; // from "::" (or a leading/trailing one, validated below)
        }
        if part.contains(&b'.') {
            // only the last group may be an IPv4 address
            if idx != n - 1 || parse_ipv4(part, 0) != Some(part.len()) {
                return false;
            }
            groups += 2;
        } else if part.len() <= 4 && part.iter().all(|&c| is_hex(c)) {
            groups += 1;
        } else {
            return false;
        }
    }
    // a single leading or trailing ':' that is not part of "::" is invalid
    if (s[0] == b':' && s.get(1) != Some(&b':'))
        || (s[s.len() - 1] == b':' && s.len() >= 2 && s[s.len() - 2] != b':')
    {
        return false;
    }
    if double == 1 {
        (1..=7).contains(&groups)
    } else {
        groups == 8
    }
}

fn ipv6_at(b: &[u8], i: usize) -> Option<usize> {
    if glued_before(b, i, b":.") {
        return None;
    }
    let mut end = i;
    while end < b.len() && (is_hex(b[end]) || b[end] == b':' || b[end] == b'.') {
        end += 1;
    }
    // sentence punctuation after the address
    while end > i && b[end - 1] == b'.' {
        end -= 1;
    }
    if end > i + 1 && b[end - 1] == b':' && b[end - 2] != b':' {
        end -= 1;
    }
    if end - i < 3 {
        return None;
    }
    if b.get(end)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
    {
        return None;
    }
    let s = &b[i..end];
    if s.iter().filter(|&&c| c == b':').count() < 2 {
        return None;
    }
    valid_ipv6(s).then_some(end)
}

/// Every IPv4 address contains a '.', every IPv6 address a ':', and both begin at most four
/// hex digits before the first of them. So only the neighbourhood of each '.' and ':' is
/// examined (memchr), not every byte. Candidates glued to a preceding letter, digit, '.' or
/// ':' are rejected at once, so each run of address-like bytes is scanned forward at most
/// once: linear overall.
fn find_ips(b: &[u8], spans: &mut Vec<Span>) {
    let mut done_to = 0usize;
    for p in memchr::memchr2_iter(b'.', b':', b) {
        if p < done_to {
            continue;
        }
        let mut start = p;
        while start > 0 && p - start < 4 && is_hex(b[start - 1]) {
            start -= 1;
        }
        if start < done_to {
            continue;
        }
        if b[start].is_ascii_digit() {
            if let Some(end) = ipv4_at(b, start) {
                spans.push((start, end, IP_PLACEHOLDER));
                done_to = end;
                continue;
            }
        }
        if let Some(end) = ipv6_at(b, start) {
            spans.push((start, end, IP_PLACEHOLDER));
            done_to = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: &str) -> String {
        scrub(t).into_owned()
    }

    #[test]
    fn emails() {
        assert_eq!(
            s("Write to jane.doe+news@example.co.uk today."),
            "Write to <EMAIL> today."
        );
        assert_eq!(s("(info@my-shop.de)"), "(<EMAIL>)");
        assert_eq!(s("a@b.c"), "a@b.c"); // one-letter TLD
        assert_eq!(s("user@localhost"), "user@localhost");
        assert_eq!(s("@handle on twitter"), "@handle on twitter");
        assert_eq!(s("price: 3 @ 5.99"), "price: 3 @ 5.99");
        assert_eq!(s("x@@y.com"), "x@@y.com");
        assert_eq!(s("mail me: bob@example.com."), "mail me: <EMAIL>.");
    }

    #[test]
    fn ipv4() {
        assert_eq!(
            s("Server at 192.168.1.20 is down"),
            "Server at <IP> is down"
        );
        assert_eq!(s("ip=10.0.0.1,"), "ip=<IP>,");
        assert_eq!(s("connect to 8.8.8.8."), "connect to <IP>.");
        for keep in [
            "version 1.2.3 released",
            "v1.2.3.4",
            "1.2.3.4.5",
            "on 2024.01.15",
            "on 12.05.2024",
            "999.1.1.1",
            "01.02.03.04",
            "pi is 3.14159",
            "section 2.4.1.3a",
        ] {
            assert_eq!(s(keep), keep);
        }
    }

    #[test]
    fn ipv6() {
        assert_eq!(s("ping 2001:db8:85a3::8a2e:370:7334 now"), "ping <IP> now");
        assert_eq!(
            s("full 2001:0db8:0000:0000:0000:ff00:0042:8329."),
            "full <IP>."
        );
        assert_eq!(
            s("localhost is ::1 or fe80::1"),
            "localhost is <IP> or <IP>"
        );
        assert_eq!(s("mapped ::ffff:192.0.2.128 here"), "mapped <IP> here");
        for keep in [
            "at 12:30:45 sharp",
            "mac 00:1A:2B:3C:4D:5E",
            "use std::vec::Vec",
            "ratio 3:2",
            "a::b",
            "dead::beef",
            "1::2::3",
        ] {
            assert_eq!(s(keep), keep, "{keep}");
        }
    }

    #[test]
    fn untouched_text_is_borrowed_and_unicode_is_safe() {
        assert!(matches!(scrub("nothing here"), Cow::Borrowed(_)));
        assert_eq!(
            s("Grüße an anna@beispiel.de — 10.1.1.1 ✓"),
            "Grüße an <EMAIL> — <IP> ✓"
        );
    }

    /// Straightforward per-byte scan, the reference for the memchr-driven `find_ips`.
    fn find_ips_reference(b: &[u8]) -> Vec<Span> {
        let mut spans = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if is_hex(b[i]) || b[i] == b':' {
                if b[i].is_ascii_digit() {
                    if let Some(end) = ipv4_at(b, i) {
                        spans.push((i, end, IP_PLACEHOLDER));
                        i = end;
                        continue;
                    }
                }
                if let Some(end) = ipv6_at(b, i) {
                    spans.push((i, end, IP_PLACEHOLDER));
                    i = end;
                    continue;
                }
            }
            i += 1;
        }
        spans
    }

    #[test]
    fn ip_scanner_matches_reference_on_random_input() {
        const ALPHABET: &[u8] = b"0123456789abcdefxyz.:. :::..1122255";
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut matched = 0;
        for round in 0..3000 {
            let len = 1 + round % 60;
            let text: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    ALPHABET[(state % ALPHABET.len() as u64) as usize]
                })
                .collect();
            let mut fast = Vec::new();
            find_ips(&text, &mut fast);
            let slow = find_ips_reference(&text);
            assert_eq!(fast, slow, "{:?}", String::from_utf8_lossy(&text));
            matched += fast.len();
        }
        assert!(matched > 20, "too few addresses generated: {matched}");
    }
}
