//! Line-level cleanup, run before the document filters.
//!
//! Each line is trimmed; lines judged to be page furniture are removed; runs of blank lines
//! collapse into one blank line; the result has no leading or trailing blank lines. Rules
//! (each switched by [`QualityConfig`]):
//!
//! * navigation (`drop_nav_lines`): a line that is only a link label ("Read more »",
//!   "Back to top", "Log in", "Share"), a share/follow line of at most 8 words ("Share on
//!   Facebook", "Follow us on Instagram"), or a menu/breadcrumb: at least three short items (at
//!   most 4 words each) split by separators such as `|`, `•`, `·`, `»`, `›`, or stand-alone
//!   `>`, `/`, `-`, `–`, with no terminal punctuation at the end;
//! * copyright (`drop_copyright_lines`): at most 30 words and "©", "(c) 2024", "copyright
//!   2024" or "all rights reserved";
//! * cookie notices (`drop_cookie_lines`): at most 60 words, mentions cookies and uses consent
//!   wording ("we use", "accept", "consent", "cookie policy", "by continuing", ...);
//! * JavaScript notices (`drop_javascript_lines`): at most 40 words, mentions JavaScript and
//!   asks for it ("enable", "required", "disabled", "not supported", ...);
//! * short lines (`min_line_words = Some(n)`): fewer than `n` words and no terminal
//!   punctuation. Words are counted as in [`super::words`] (a CJK character is a word).

use super::words::is_unsegmented;
use super::QualityConfig;

/// Lines longer than this many words are never treated as furniture.
const MAX_FURNITURE_WORDS: usize = 60;

/// Link labels that make up a whole line on many pages (compared lower case, with trailing
/// arrows/colons removed).
const NAV_LABELS: &[&str] = &[
    "home",
    "homepage",
    "menu",
    "main menu",
    "search",
    "toggle navigation",
    "navigation",
    "skip to content",
    "skip to main content",
    "skip navigation",
    "jump to navigation",
    "back to top",
    "go to top",
    "top",
    "read more",
    "continue reading",
    "read full article",
    "read the full story",
    "more",
    "show more",
    "see more",
    "load more",
    "view more",
    "show all",
    "view all",
    "see all",
    "share",
    "share this",
    "share this article",
    "share this post",
    "tweet",
    "print",
    "email",
    "e-mail",
    "comments",
    "reply",
    "like",
    "log in",
    "login",
    "log out",
    "logout",
    "sign in",
    "sign up",
    "sign out",
    "register",
    "create account",
    "my account",
    "subscribe",
    "subscribe now",
    "newsletter",
    "next",
    "previous",
    "prev",
    "next post",
    "previous post",
    "next article",
    "previous article",
    "next page",
    "previous page",
    "older posts",
    "newer posts",
    "related posts",
    "related articles",
    "related",
    "leave a comment",
    "leave a reply",
    "post a comment",
    "click here",
    "close",
    "cancel",
    "ok",
    "accept",
    "contact",
    "contact us",
    "about",
    "about us",
    "privacy",
    "privacy policy",
    "terms",
    "terms of use",
    "terms of service",
    "terms and conditions",
    "imprint",
    "sitemap",
    "site map",
    "faq",
    "help",
    "advertisement",
    "sponsored",
    "facebook",
    "twitter",
    "instagram",
    "linkedin",
    "pinterest",
    "youtube",
    "whatsapp",
    "reddit",
    "tiktok",
    "weiterlesen",
    "mehr lesen",
    "mehr",
    "startseite",
    "impressum",
    "datenschutz",
    "anmelden",
    "lire la suite",
    "accueil",
    "partager",
    "leer más",
    "inicio",
    "compartir",
    "leggi di più",
    "leggi tutto",
    "condividi",
    "ler mais",
    "início",
    "partilhar",
    "compartilhar",
    "lees meer",
    "delen",
];

/// Beginnings of share/follow button lines.
const SHARE_PREFIXES: &[&str] = &[
    "share on ",
    "share via ",
    "share to ",
    "share this ",
    "share with ",
    "follow us ",
    "follow me ",
    "like us on ",
    "tweet this",
    "pin it",
    "email this",
    "send to a friend",
    "find us on ",
    "connect with us",
];

/// Characters that separate menu items even inside a token.
const MENU_SEP_CHARS: &[char] = &['|', '•', '·', '»', '›', '«', '‹', '►', '▸', '¦', '∙'];

/// Tokens that separate menu items when they stand alone.
const MENU_SEP_TOKENS: &[&str] = &[">", "/", "-", "–", "—", "→", "::", ">>", "<<", "\\"];

const COOKIE_CUES: &[&str] = &[
    "we use",
    "uses cookies",
    "use cookies",
    "use of cookies",
    "accept",
    "consent",
    "cookie policy",
    "cookie settings",
    "cookie preferences",
    "by continuing",
    "by using",
    "to improve your experience",
    "best experience",
    "privacy policy",
    "agree",
];

const JS_CUES: &[&str] = &[
    "enable",
    "disabled",
    "required",
    "requires",
    "turn on",
    "switch on",
    "not supported",
    "does not support",
    "doesn't support",
    "is off",
    "needs",
    "must be",
];

/// True if the line ends like a sentence.
pub fn has_terminal_punctuation(line: &str) -> bool {
    matches!(
        line.chars().next_back(),
        Some(
            '.' | '!'
                | '?'
                | '"'
                | '\''
                | '”'
                | '’'
                | '…'
                | '。'
                | '！'
                | '？'
                | '」'
                | '』'
                | '؟'
                | '।'
        )
    )
}

/// Words in a line, counted up to `cap` (CJK characters count one each).
fn count_words(line: &str, cap: usize) -> usize {
    let mut n = 0;
    for tok in line.split_whitespace() {
        if tok.is_ascii() {
            if tok.bytes().any(|b| b.is_ascii_alphanumeric()) {
                n += 1;
            }
        } else {
            let mut other = false;
            for c in tok.chars() {
                if is_unsegmented(c) {
                    n += 1;
                } else if c.is_alphanumeric() {
                    other = true;
                }
            }
            if other {
                n += 1;
            }
        }
        if n >= cap {
            return cap;
        }
    }
    n
}

fn lowercase_into(buf: &mut String, line: &str) {
    buf.clear();
    if line.is_ascii() {
        buf.push_str(line);
        buf.make_ascii_lowercase();
    } else {
        buf.extend(line.chars().flat_map(char::to_lowercase));
    }
}

/// Strip decoration around a lone link label: arrows, chevrons, colons, bullets, brackets.
fn strip_label_decoration(s: &str) -> &str {
    s.trim_matches(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '»' | '«'
                    | '›'
                    | '‹'
                    | '>'
                    | '<'
                    | '→'
                    | '←'
                    | '↑'
                    | '↓'
                    | ':'
                    | '.'
                    | '…'
                    | '•'
                    | '·'
                    | '|'
                    | '['
                    | ']'
                    | '('
                    | ')'
                    | '+'
                    | '-'
                    | '!'
            )
    })
}

fn looks_like_menu(line: &str) -> bool {
    let mut items = 0usize;
    let mut seps = 0usize;
    let mut longest = 0usize;
    let mut cur = 0usize;
    let mut first_piece = true;
    for piece in line.split(MENU_SEP_CHARS) {
        if !first_piece {
            seps += 1;
            if cur > 0 {
                items += 1;
                longest = longest.max(cur);
            }
            cur = 0;
        }
        first_piece = false;
        for tok in piece.split_whitespace() {
            if MENU_SEP_TOKENS.contains(&tok) {
                seps += 1;
                if cur > 0 {
                    items += 1;
                    longest = longest.max(cur);
                }
                cur = 0;
            } else {
                cur += 1;
            }
        }
    }
    if cur > 0 {
        items += 1;
        longest = longest.max(cur);
    }
    items >= 3 && seps >= 2 && longest <= 4
}

fn is_nav(line: &str, lower: &str, words: usize) -> bool {
    let label = strip_label_decoration(lower);
    if words <= 4 && NAV_LABELS.contains(&label) {
        return true;
    }
    if words <= 8 && SHARE_PREFIXES.iter().any(|p| label.starts_with(p)) {
        return true;
    }
    words <= 40 && !has_terminal_punctuation(line) && looks_like_menu(line)
}

fn contains_year(s: &str) -> bool {
    let b = s.as_bytes();
    b.windows(4).enumerate().any(|(i, w)| {
        w.iter().all(|c| c.is_ascii_digit())
            && (w[0] == b'1' || w[0] == b'2')
            && (i == 0 || !b[i - 1].is_ascii_digit())
            && b.get(i + 4).is_none_or(|c| !c.is_ascii_digit())
    })
}

fn is_copyright(lower: &str, words: usize) -> bool {
    if words > 30 {
        return false;
    }
    lower.contains('©')
        || lower.contains("all rights reserved")
        || ((lower.contains("(c)") || lower.starts_with("copyright")) && contains_year(lower))
}

fn is_cookie_notice(lower: &str) -> bool {
    lower.contains("cookie") && COOKIE_CUES.iter().any(|c| lower.contains(c))
}

fn is_javascript_notice(lower: &str, words: usize) -> bool {
    words <= 40 && lower.contains("javascript") && JS_CUES.iter().any(|c| lower.contains(c))
}

/// Decide whether one trimmed, non-empty line is furniture.
fn is_junk(line: &str, cfg: &QualityConfig, lower: &mut String) -> bool {
    let words = count_words(line, MAX_FURNITURE_WORDS + 1);
    if let Some(min) = cfg.min_line_words {
        if words < min && !has_terminal_punctuation(line) {
            return true;
        }
    }
    if words > MAX_FURNITURE_WORDS {
        return false;
    }
    if !(cfg.drop_nav_lines
        || cfg.drop_copyright_lines
        || cfg.drop_cookie_lines
        || cfg.drop_javascript_lines)
    {
        return false;
    }
    lowercase_into(lower, line);
    (cfg.drop_nav_lines && is_nav(line, lower, words))
        || (cfg.drop_copyright_lines && is_copyright(lower, words))
        || (cfg.drop_cookie_lines && is_cookie_notice(lower))
        || (cfg.drop_javascript_lines && is_javascript_notice(lower, words))
}

/// Apply the line rules of `cfg` to `text`.
pub fn clean_lines(text: &str, cfg: &QualityConfig) -> String {
    let mut out = String::with_capacity(text.len());
    let mut lower = String::new();
    let mut pending_blank = false;
    for raw in text.split('\n') {
        let line = raw.trim();
        if line.is_empty() {
            pending_blank = true;
            continue;
        }
        if is_junk(line, cfg, &mut lower) {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
            if pending_blank {
                out.push('\n');
            }
        }
        pending_blank = false;
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(t: &str) -> String {
        clean_lines(t, &QualityConfig::default())
    }

    #[test]
    fn keeps_prose_and_collapses_blank_lines() {
        let t = "  First paragraph here.  \r\n\n\n\nSecond one.\n\n";
        assert_eq!(clean(t), "First paragraph here.\n\nSecond one.");
    }

    #[test]
    fn drops_navigation() {
        for l in [
            "Home | About | Contact",
            "Home > News > Local > Weather",
            "News • Sport • Business • Culture • Travel",
            "Read more »",
            "Skip to main content",
            "Share on Facebook",
            "Follow us on Instagram",
            "Back to top ↑",
            "Weiterlesen",
        ] {
            assert_eq!(clean(l), "", "{l:?} should be dropped");
        }
    }

    #[test]
    fn keeps_sentences_that_mention_nav_words() {
        for l in [
            "Read more about the history of the bridge in our archive.",
            "The home team won 3 - 1 after a late goal.",
            "Choose red, green or blue - all three look good.",
            "Prices rose 3% in May / June, the statistics office said.",
        ] {
            assert_eq!(clean(l), l, "{l:?} should be kept");
        }
    }

    #[test]
    fn drops_copyright_cookie_javascript() {
        for l in [
            "© 2024 Example Media Ltd.",
            "Copyright 2023 Some Company. All rights reserved.",
            "(c) 2019 Acme Corp",
            "This website uses cookies to improve your experience. Accept",
            "We use cookies. By continuing to browse you agree to our cookie policy.",
            "Please enable JavaScript to view the comments.",
            "JavaScript is disabled in your browser.",
        ] {
            assert_eq!(clean(l), "", "{l:?} should be dropped");
        }
        let keep = "JavaScript is a programming language that runs in web browsers.";
        assert_eq!(clean(keep), keep);
        let keep = "Copyright law protects original works of authorship.";
        assert_eq!(clean(keep), keep);
    }

    #[test]
    fn rules_can_be_switched_off() {
        let cfg = QualityConfig::disabled();
        let t = "Home | About | Contact\n© 2024 Foo";
        assert_eq!(clean_lines(t, &cfg), t);
    }

    #[test]
    fn min_line_words() {
        let cfg = QualityConfig {
            min_line_words: Some(3),
            ..QualityConfig::default()
        };
        let t = "Breaking news\nIt rained.\nThe river rose two metres overnight\n短标题\n";
        assert_eq!(
            clean_lines(t, &cfg),
            "It rained.\nThe river rose two metres overnight\n短标题"
        );
    }

    #[test]
    fn year_detection() {
        assert!(contains_year("(c) 2024 x"));
        assert!(!contains_year("(c) 12345"));
        assert!(!contains_year("no year"));
    }
}
