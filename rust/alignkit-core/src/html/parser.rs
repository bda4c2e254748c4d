//! Single-pass HTML tokenizer plus a small open-element stack that turns a document
//! into a list of text [`Block`]s. No DOM is built.
//!
//! The tokenizer follows the HTML5 tokenization rules closely enough for text
//! extraction (raw-text elements, script escaping, comments, bogus comments, quoted
//! attributes containing `>`), and the stack applies the common implied-end-tag rules
//! (`p`, `li`, `dd`/`dt`, table cells and rows, headings, `option`, nested `a`).

use memchr::{memchr, memchr2, memmem};

use super::entities::{decode_at, decode_into, Decoded};
use super::tags::{
    self, Tag, BLOCK, BREAKOUT, CLOSES_P, RAW, SCOPE, SKIP, SPECIAL, TABLE_PART, VOID,
};
use super::{Block, BlockKind, Hints};

/// Deepest open-element stack we track; deeper start tags are treated as inline no-ops.
const MAX_STACK: usize = 4096;
/// How far down the stack an end tag looks for its start tag.
const MAX_SEARCH: usize = 512;
/// Number of ancestors written to [`Block::path`].
const PATH_ELEMS: usize = 6;

// Entry flags.
const E_SKIP: u8 = 1;
const E_PRE: u8 = 1 << 1;
const E_LINK: u8 = 1 << 2;
const E_LI: u8 = 1 << 3;
const E_LIST: u8 = 1 << 4;
const E_TABLE: u8 = 1 << 5;
const E_HEADING: u8 = 1 << 6;
const E_FOREIGN: u8 = 1 << 7;

#[derive(Clone, Copy)]
struct Entry {
    tag: Tag,
    flags: u8,
    hash: u32,
    name: (u32, u32),
    class: (u32, u32),
    id: (u32, u32),
    /// Hints from the tag name and `role` (features mode only).
    base: u32,
    /// Cumulative hints of this entry and all below it; `NOT_DONE` until needed.
    cum: u32,
    /// Index in [`Parsed::nodes`] (features mode only; 0 otherwise).
    node: u32,
}

/// One element of the document tree as seen by the parser (features mode only).
/// Elements get ids in document (pre-)order, so a parent's id is smaller than its
/// children's and a subtree is a contiguous id range.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node {
    /// Id of the enclosing element (0 = the document root).
    pub parent: u32,
    /// Hints from this element's own tag name, role, class and id; `NOT_DONE` when no
    /// text block ever appeared inside the element.
    pub own: u32,
}

const NOT_DONE: u32 = u32::MAX;

type Range = Option<(u32, u32)>;

#[derive(Default)]
struct Attrs {
    class: Range,
    id: Range,
    style: Range,
    role: Range,
    aria_hidden: Range,
    lang: Range,
    http_equiv: Range,
    name: Range,
    property: Range,
    content: Range,
    hidden: bool,
    open: bool,
}

/// Result of parsing one document.
pub(crate) struct Parsed {
    pub blocks: Vec<Block>,
    /// Element table (features mode only); index 0 is the document root.
    pub nodes: Vec<Node>,
    /// Per block: how often link text and running text alternate, i.e. the smaller of
    /// its number of link runs and of non-link runs with letters (features mode only).
    /// High in wiki prose ("a [town] in the [province] of [X]"), 0 or 1 in menus,
    /// tag lists and bylines.
    pub link_runs: Vec<u32>,
    pub title: Option<String>,
    pub lang_hint: Option<String>,
}

pub(crate) struct Parser<'a> {
    src: &'a str,
    b: &'a [u8],
    skip_hidden: bool,
    features: bool,
    paths: bool,
    /// Main-content parse: drop edit links ("[edit]" next to wiki headings).
    drop_edit: bool,
    stack: Vec<Entry>,
    nodes: Vec<Node>,
    n_skip: u32,
    n_pre: u32,
    n_link: u32,
    n_li: u32,
    n_list: u32,
    n_table: u32,
    n_heading: u32,
    n_foreign: u32,
    bullet_pending: bool,
    cur: String,
    cur_block: Block,
    pending_space: bool,
    pending_sep: bool,
    pre_skip_nl: bool,
    blocks: Vec<Block>,
    title: Option<String>,
    og_title: Option<String>,
    lang: Option<String>,
    meta_lang: Option<String>,
    og_locale: Option<String>,
    scratch: String,
    /// Link runs and text runs (with letters) of the current block so far, and whether
    /// its last word was link text / whether a text run is open.
    cur_runs: u32,
    cur_text_runs: u32,
    prev_linked: bool,
    text_open: bool,
    link_runs: Vec<u32>,
}

#[inline]
fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

/// Byte classes for the text loop: 0 = ordinary, 1 = whitespace, 2 = '&', 3 = NUL, 4 = 0xC2 lead byte.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b' ' as usize] = 1;
    t[b'\t' as usize] = 1;
    t[b'\n' as usize] = 1;
    t[b'\r' as usize] = 1;
    t[0x0c] = 1;
    t[b'&' as usize] = 2;
    t[0] = 3;
    t[0xC2] = 4;
    t
};

#[inline]
fn char_count(s: &str) -> u32 {
    if s.is_ascii() {
        s.len() as u32
    } else {
        s.chars().count() as u32
    }
}

fn hash_name(name: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &c in name {
        h ^= c.to_ascii_lowercase() as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

fn starts_with_ci(hay: &[u8], at: usize, needle: &[u8]) -> bool {
    hay.len() >= at + needle.len() && hay[at..at + needle.len()].eq_ignore_ascii_case(needle)
}

/// Normalise a language tag: "en_US" -> "en-us"; rejects values that are not tags.
pub(crate) fn normalize_lang(v: &str) -> Option<String> {
    let v = v.split([',', ';']).next().unwrap_or("").trim();
    if v.is_empty() || v.len() > 35 {
        return None;
    }
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            'a'..='z' | '0'..='9' | '-' => out.push(c),
            'A'..='Z' => out.push(c.to_ascii_lowercase()),
            '_' => out.push('-'),
            _ => return None,
        }
    }
    let primary = out.split('-').next().unwrap_or("");
    if !(2..=3).contains(&primary.len()) || !primary.bytes().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    if out.ends_with('-') || out.contains("--") {
        return None;
    }
    Some(out)
}

/// Decode entities and collapse whitespace (including no-break spaces); trimmed.
pub(crate) fn normalize_text(s: &str, in_attr: bool) -> String {
    let mut tmp = String::with_capacity(s.len());
    decode_into(&mut tmp, s, in_attr);
    let mut out = String::with_capacity(tmp.len());
    for w in tmp.split(|c: char| c.is_ascii_whitespace() || c == '\u{a0}' || c == '\0') {
        if w.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

fn style_hides(style: &[u8]) -> bool {
    // Compact lower-case copy without whitespace, then look for the two declarations.
    let mut buf = [0u8; 512];
    let mut n = 0;
    for &c in style {
        if is_ws(c) {
            continue;
        }
        if n == buf.len() {
            break;
        }
        buf[n] = c.to_ascii_lowercase();
        n += 1;
    }
    let s = &buf[..n];
    let has = |needle: &[u8]| {
        let mut from = 0;
        while let Some(p) = memmem::find(&s[from..], needle) {
            let at = from + p;
            // Must start a declaration: beginning, or after ';' / '{'.
            if at == 0 || matches!(s[at - 1], b';' | b'{' | b'"' | b'\'') {
                return true;
            }
            from = at + 1;
        }
        false
    };
    has(b"display:none") || has(b"visibility:hidden")
}

#[inline]
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.len() >= needle.len() && hay.windows(needle.len()).any(|w| w == needle)
}

/// A class value that marks an edit link (`mw-editsection`, `editsection`, `edit-section`;
/// class names are case-sensitive).
fn is_edit_link(v: &[u8]) -> bool {
    v.len() >= 11
        && (memmem::find(v, b"editsection").is_some() || memmem::find(v, b"edit-section").is_some())
}

/// Hints of one lower-case class/id token (split on non-alphanumerics).
fn token_hints(tok: &[u8]) -> u32 {
    let exact = match tok {
        b"nav" | b"navbar" | b"navigation" | b"menu" | b"toc" | b"pagination" | b"pager" => {
            Hints::NAV.0
        }
        b"ad" | b"ads" | b"adv" | b"advert" | b"advertisement" => Hints::AD.0,
        b"header" | b"masthead" | b"banner" | b"topbar" => Hints::HEADER.0,
        b"footer" => Hints::FOOTER.0,
        // Not "widget": page builders (Elementor, ...) wrap every piece of content in one.
        b"aside" | b"sidebar" => Hints::SIDEBAR.0,
        b"hidden" | b"hide" => Hints::HIDDEN.0,
        // Wiki/CMS page furniture: maintenance notices, navboxes, reference lists,
        // category links, print-excluded metadata.
        b"ambox" | b"mbox" | b"ombox" | b"tmbox" | b"navbox" | b"metadata" | b"noprint"
        | b"catlinks" | b"printfooter" | b"reflist" | b"references" | b"refbegin"
        | b"editsection" => Hints::NOTICE.0,
        b"main" | b"article" | b"content" | b"post" | b"entry" | b"story" | b"text" | b"body" => {
            Hints::CONTENT.0
        }
        _ => 0,
    };
    if exact != 0 || tok.len() < 4 {
        return exact;
    }
    // Longer compound tokens ("mainnav", "commentlist", "sharebuttons").
    let mut h = 0;
    let rules: [(&[u8], u32); 21] = [
        (b"nav", Hints::NAV.0),
        (b"menu", Hints::NAV.0),
        (b"breadcrumb", Hints::NAV.0 | Hints::BREADCRUMB.0),
        (b"footer", Hints::FOOTER.0),
        (b"copyright", Hints::FOOTER.0),
        (b"header", Hints::HEADER.0),
        (b"masthead", Hints::HEADER.0),
        (b"sidebar", Hints::SIDEBAR.0),
        (b"comment", Hints::COMMENT.0),
        (b"disqus", Hints::COMMENT.0),
        (b"respond", Hints::COMMENT.0),
        (b"advert", Hints::AD.0),
        (b"sponsor", Hints::AD.0),
        (b"promo", Hints::AD.0),
        (b"share", Hints::SOCIAL.0),
        (b"social", Hints::SOCIAL.0),
        (b"related", Hints::RELATED.0),
        (b"recommend", Hints::RELATED.0),
        (b"cookie", Hints::POPUP.0),
        (b"newsletter", Hints::POPUP.0),
        (b"article", Hints::CONTENT.0),
    ];
    for (stem, bits) in rules {
        if contains(tok, stem) {
            h |= bits;
        }
    }
    if contains(tok, b"consent") || contains(tok, b"modal") || contains(tok, b"popup") {
        h |= Hints::POPUP.0;
    }
    if contains(tok, b"content") || contains(tok, b"entry") {
        h |= Hints::CONTENT.0;
    }
    h
}

/// Content hints from a class or id value (used by main-content scoring).
fn attr_hints(v: &[u8]) -> u32 {
    let mut h = 0u32;
    let mut buf = [0u8; 48];
    for tok in v.split(|c| !c.is_ascii_alphanumeric()) {
        if tok.is_empty() || tok.len() > buf.len() {
            continue;
        }
        let t = &mut buf[..tok.len()];
        for (d, s) in t.iter_mut().zip(tok) {
            *d = s.to_ascii_lowercase();
        }
        h |= token_hints(t);
    }
    // Multi-token phrases.
    if h & Hints::HIDDEN.0 == 0 {
        let lower = |needle: &[u8]| {
            v.len() >= needle.len()
                && v.windows(needle.len())
                    .any(|w| w.eq_ignore_ascii_case(needle))
        };
        if lower(b"sr-only") || lower(b"visually-hidden") || lower(b"screen-reader") {
            h |= Hints::HIDDEN.0;
        }
        // Bootstrap's `d-none` hides unless a breakpoint class (`d-md-block`, ...) shows it
        // again; `d-print-*` only applies to print.
        if lower(b"d-none") {
            let mut none = false;
            let mut shown = false;
            for tok in v.split(|c| c.is_ascii_whitespace()) {
                if tok.eq_ignore_ascii_case(b"d-none") {
                    none = true;
                } else if tok.len() > 5
                    && tok[..2].eq_ignore_ascii_case(b"d-")
                    && !tok[2..].starts_with(b"print")
                {
                    shown = true;
                }
            }
            if none && !shown {
                h |= Hints::HIDDEN.0;
            }
        }
    }
    h
}

fn tag_hints(tag: Tag) -> u32 {
    match tag {
        Tag::Nav => Hints::NAV.0,
        Tag::Header => Hints::HEADER.0,
        Tag::Footer => Hints::FOOTER.0,
        Tag::Aside => Hints::SIDEBAR.0,
        Tag::Article => Hints::CONTENT.0,
        Tag::Main => Hints::CONTENT.0 | Hints::MAIN.0,
        Tag::Form => Hints::FORM.0,
        _ => 0,
    }
}

fn role_hints(v: &[u8]) -> u32 {
    let mut buf = [0u8; 32];
    let n = v.len().min(32);
    for (d, s) in buf.iter_mut().zip(&v[..n]) {
        *d = s.to_ascii_lowercase();
    }
    match &buf[..n] {
        b"navigation" | b"menu" | b"menubar" => Hints::NAV.0,
        b"banner" => Hints::HEADER.0,
        b"contentinfo" => Hints::FOOTER.0,
        b"complementary" => Hints::SIDEBAR.0,
        b"main" => Hints::CONTENT.0 | Hints::MAIN.0,
        b"article" => Hints::CONTENT.0,
        b"dialog" | b"alertdialog" => Hints::POPUP.0,
        _ => 0,
    }
}

impl<'a> Parser<'a> {
    pub(crate) fn new(src: &'a str, skip_hidden: bool, features: bool) -> Self {
        Parser {
            src,
            b: src.as_bytes(),
            skip_hidden,
            features,
            paths: features,
            drop_edit: false,
            stack: Vec::with_capacity(64),
            nodes: Vec::new(),
            n_skip: 0,
            n_pre: 0,
            n_link: 0,
            n_li: 0,
            n_list: 0,
            n_table: 0,
            n_heading: 0,
            n_foreign: 0,
            bullet_pending: false,
            cur: String::new(),
            cur_block: Block::default(),
            pending_space: false,
            pending_sep: false,
            pre_skip_nl: false,
            blocks: Vec::new(),
            title: None,
            og_title: None,
            lang: None,
            meta_lang: None,
            og_locale: None,
            scratch: String::new(),
            cur_runs: 0,
            cur_text_runs: 0,
            prev_linked: false,
            text_open: false,
            link_runs: Vec::new(),
        }
    }

    /// Drop the text of edit links (`mw-editsection`, `editsection`): page furniture that
    /// only main-content extraction removes.
    pub(crate) fn without_edit_links(mut self) -> Self {
        self.drop_edit = true;
        self
    }

    /// Skip building [`Block::path`] strings (hints and the element table are kept).
    pub(crate) fn without_paths(mut self) -> Self {
        self.paths = false;
        self
    }

    pub(crate) fn run(mut self) -> Parsed {
        if self.features {
            self.nodes.reserve(self.b.len() / 64 + 16);
            self.nodes.push(Node { parent: 0, own: 0 });
        }
        let b = self.b;
        let n = b.len();
        let mut pos = if b.starts_with("\u{feff}".as_bytes()) {
            3
        } else {
            0
        };
        let mut text_start = pos;
        while pos < n {
            let lt = match memchr(b'<', &b[pos..]) {
                Some(o) => pos + o,
                None => break,
            };
            let next = b.get(lt + 1).copied();
            let is_markup = match next {
                Some(c) if c.is_ascii_alphabetic() || c == b'!' || c == b'?' => true,
                Some(b'/') => lt + 2 < n,
                _ => false,
            };
            if !is_markup {
                pos = lt + 1;
                continue;
            }
            if text_start < lt {
                self.text(text_start, lt);
            }
            pos = self.markup(lt);
            text_start = pos;
        }
        if text_start < n {
            self.text(text_start, n);
        }
        self.flush();
        let title = self.title.or(self.og_title).filter(|t| !t.is_empty());
        Parsed {
            blocks: self.blocks,
            nodes: self.nodes,
            link_runs: self.link_runs,
            title,
            lang_hint: self.lang.or(self.meta_lang).or(self.og_locale),
        }
    }

    // ---------------------------------------------------------------- tokenizer

    /// Parse the markup starting at `b[lt] == '<'`; returns the position after it.
    fn markup(&mut self, lt: usize) -> usize {
        let b = self.b;
        let n = b.len();
        match b[lt + 1] {
            b'!' => {
                if b[lt + 2..].starts_with(b"--") {
                    let body = lt + 4;
                    if b.get(body) == Some(&b'>') {
                        return body + 1;
                    }
                    if b[body..].starts_with(b"->") {
                        return body + 2;
                    }
                    match memmem::find(&b[body..], b"-->") {
                        Some(o) => body + o + 3,
                        None => n,
                    }
                } else {
                    Self::bogus(b, lt + 2)
                }
            }
            b'?' => Self::bogus(b, lt + 2),
            b'/' => {
                let c = b[lt + 2];
                if c.is_ascii_alphabetic() {
                    self.end_tag(lt + 2)
                } else if c == b'>' {
                    lt + 3
                } else {
                    Self::bogus(b, lt + 2)
                }
            }
            _ => self.start_tag(lt + 1),
        }
    }

    fn bogus(b: &[u8], from: usize) -> usize {
        match memchr(b'>', &b[from..]) {
            Some(o) => from + o + 1,
            None => b.len(),
        }
    }

    /// Read a tag name at `i`; returns (tag, hash, end).
    fn tag_name(&self, i: usize) -> (Tag, u32, usize) {
        let b = self.b;
        let mut j = i;
        while j < b.len() && !is_ws(b[j]) && b[j] != b'/' && b[j] != b'>' {
            j += 1;
        }
        let name = &b[i..j];
        let mut buf = [0u8; 16];
        let tag = if name.len() <= buf.len() {
            for (d, s) in buf.iter_mut().zip(name) {
                *d = s.to_ascii_lowercase();
            }
            tags::lookup(&buf[..name.len()])
        } else {
            Tag::Other
        };
        let hash = if tag == Tag::Other {
            hash_name(name)
        } else {
            0
        };
        (tag, hash, j)
    }

    /// Parse attributes from `i` up to and including '>'.
    /// Returns (position after '>', self_closing) or None at end of input.
    fn attributes(&self, mut i: usize, attrs: &mut Attrs, record: bool) -> Option<(usize, bool)> {
        let b = self.b;
        let n = b.len();
        loop {
            while i < n && (is_ws(b[i]) || (b[i] == b'/' && b.get(i + 1) != Some(&b'>'))) {
                i += 1;
            }
            if i >= n {
                return None;
            }
            match b[i] {
                b'>' => return Some((i + 1, false)),
                b'/' => return Some((i + 2, true)),
                _ => {}
            }
            let ns = i;
            i += 1;
            while i < n && !is_ws(b[i]) && !matches!(b[i], b'/' | b'>' | b'=') {
                i += 1;
            }
            let ne = i;
            while i < n && is_ws(b[i]) {
                i += 1;
            }
            let mut val: Range = None;
            if i < n && b[i] == b'=' {
                i += 1;
                while i < n && is_ws(b[i]) {
                    i += 1;
                }
                if i >= n {
                    return None;
                }
                let q = b[i];
                if q == b'"' || q == b'\'' {
                    let vs = i + 1;
                    let ve = vs + memchr(q, &b[vs..])?;
                    val = Some((vs as u32, ve as u32));
                    i = ve + 1;
                } else if q != b'>' {
                    let vs = i;
                    while i < n && !is_ws(b[i]) && b[i] != b'>' {
                        i += 1;
                    }
                    val = Some((vs as u32, i as u32));
                }
            }
            if record {
                self.record_attr(&b[ns..ne], val, attrs);
            }
        }
    }

    #[inline]
    fn record_attr(&self, name: &[u8], val: Range, a: &mut Attrs) {
        let empty = Some((0, 0));
        let v = || val.or(empty);
        let slot = match name.len() {
            2 if name.eq_ignore_ascii_case(b"id") => &mut a.id,
            4 if name.eq_ignore_ascii_case(b"role") => &mut a.role,
            4 if name.eq_ignore_ascii_case(b"lang") => &mut a.lang,
            4 if name.eq_ignore_ascii_case(b"name") => &mut a.name,
            4 if name.eq_ignore_ascii_case(b"open") => {
                a.open = true;
                return;
            }
            5 if name.eq_ignore_ascii_case(b"class") => &mut a.class,
            5 if name.eq_ignore_ascii_case(b"style") => &mut a.style,
            6 if name.eq_ignore_ascii_case(b"hidden") => {
                a.hidden = true;
                return;
            }
            7 if name.eq_ignore_ascii_case(b"content") => &mut a.content,
            8 if name.eq_ignore_ascii_case(b"property") => &mut a.property,
            8 if name.eq_ignore_ascii_case(b"xml:lang") => &mut a.lang,
            10 if name.eq_ignore_ascii_case(b"http-equiv") => &mut a.http_equiv,
            11 if name.eq_ignore_ascii_case(b"aria-hidden") => &mut a.aria_hidden,
            _ => return,
        };
        if slot.is_none() {
            *slot = v();
        }
    }

    fn val(&self, r: Range) -> &'a [u8] {
        match r {
            Some((s, e)) => &self.b[s as usize..e as usize],
            None => b"",
        }
    }

    fn val_str(&self, r: Range) -> &'a str {
        match r {
            // Ranges always start and end next to ASCII delimiters, so they are char boundaries.
            Some((s, e)) => self.src.get(s as usize..e as usize).unwrap_or(""),
            None => "",
        }
    }

    fn end_tag(&mut self, i: usize) -> usize {
        let (tag, hash, j) = self.tag_name(i);
        let mut dummy = Attrs::default();
        let end = match self.attributes(j, &mut dummy, false) {
            Some((e, _)) => e,
            None => return self.b.len(),
        };
        self.close(tag, hash);
        end
    }

    fn start_tag(&mut self, i: usize) -> usize {
        let (tag, hash, j) = self.tag_name(i);
        let record =
            self.skip_hidden || self.features || matches!(tag, Tag::Html | Tag::Meta | Tag::Dialog);
        let mut attrs = Attrs::default();
        let (end, self_closing) = match self.attributes(j, &mut attrs, record) {
            Some(r) => r,
            None => return self.b.len(),
        };
        self.open(tag, hash, (i as u32, j as u32), &attrs, self_closing, end)
    }

    // ---------------------------------------------------------------- raw text

    /// Find the end tag `</name` (case-insensitive, followed by a delimiter) from `from`.
    /// Returns (content end, position after the end tag).
    fn find_raw_end(&self, from: usize, name: &[u8]) -> (usize, usize) {
        let b = self.b;
        let mut p = from;
        while let Some(o) = memchr(b'<', &b[p..]) {
            let lt = p + o;
            if b.get(lt + 1) == Some(&b'/') && self.is_end_name(lt + 2, name) {
                return (lt, self.skip_end_tag(lt + 2 + name.len()));
            }
            p = lt + 1;
        }
        (b.len(), b.len())
    }

    fn is_end_name(&self, at: usize, name: &[u8]) -> bool {
        let b = self.b;
        starts_with_ci(b, at, name)
            && matches!(b.get(at + name.len()), Some(&c) if is_ws(c) || c == b'/' || c == b'>')
    }

    fn skip_end_tag(&self, at: usize) -> usize {
        let mut dummy = Attrs::default();
        match self.attributes(at, &mut dummy, false) {
            Some((e, _)) => e,
            None => self.b.len(),
        }
    }

    /// Script data with the HTML5 escape states (`<!--` ... `<script>` ... `-->`).
    fn find_script_end(&self, from: usize) -> (usize, usize) {
        let b = self.b;
        let n = b.len();
        // 0 = normal, 1 = escaped, 2 = double escaped
        let mut state = 0u8;
        let mut p = from;
        loop {
            let found = if state == 0 {
                memchr(b'<', &b[p..])
            } else {
                memchr2(b'<', b'-', &b[p..])
            };
            let i = match found {
                Some(o) => p + o,
                None => return (n, n),
            };
            if b[i] == b'-' {
                if b[i..].starts_with(b"-->") {
                    state = 0;
                    p = i + 3;
                } else {
                    p = i + 1;
                }
                continue;
            }
            if b.get(i + 1) == Some(&b'/') && self.is_end_name(i + 2, b"script") {
                if state == 2 {
                    state = 1;
                    p = i + 8;
                    continue;
                }
                return (i, self.skip_end_tag(i + 8));
            }
            if state == 0 && b[i + 1..].starts_with(b"!--") {
                state = 1;
                p = i + 2;
            } else if state == 1 && self.is_end_name(i + 1, b"script") {
                state = 2;
                p = i + 7;
            } else {
                p = i + 1;
            }
        }
    }

    fn raw_element(&mut self, tag: Tag, start: usize, hidden: bool) -> usize {
        let (cend, after) = match tag {
            Tag::Script => self.find_script_end(start),
            Tag::Plaintext => (self.b.len(), self.b.len()),
            _ => {
                let name: &[u8] = match tag {
                    Tag::Style => b"style",
                    Tag::Noscript => b"noscript",
                    Tag::Iframe => b"iframe",
                    Tag::Noembed => b"noembed",
                    Tag::Noframes => b"noframes",
                    Tag::Textarea => b"textarea",
                    Tag::Title => b"title",
                    _ => b"xmp",
                };
                self.find_raw_end(start, name)
            }
        };
        match tag {
            Tag::Title if self.title.is_none() && self.n_foreign == 0 => {
                self.title = Some(normalize_text(&self.src[start..cend], false));
            }
            Tag::Xmp | Tag::Plaintext if self.n_skip == 0 && !hidden => {
                self.flush();
                self.n_pre += 1;
                self.pre_skip_nl = false;
                self.pre_text_raw(&self.src[start..cend]);
                self.n_pre -= 1;
                self.flush();
            }
            _ => {}
        }
        after
    }

    // ---------------------------------------------------------------- tree building

    fn is_hidden(&self, a: &Attrs) -> bool {
        if a.hidden {
            return true;
        }
        if a.aria_hidden.is_some()
            && self
                .val(a.aria_hidden)
                .trim_ascii()
                .eq_ignore_ascii_case(b"true")
        {
            return true;
        }
        a.style.is_some() && style_hides(self.val(a.style))
    }

    fn open(
        &mut self,
        tag: Tag,
        hash: u32,
        name: (u32, u32),
        a: &Attrs,
        self_closing: bool,
        end: usize,
    ) -> usize {
        let props = tag.props();
        if self.n_foreign > 0 {
            let breaks_out = props & BREAKOUT != 0
                || (tag == Tag::Font && (a.style.is_some() || a.class.is_some()));
            if !breaks_out {
                if !self_closing {
                    if props & RAW != 0 && matches!(tag, Tag::Script | Tag::Style) {
                        return self.raw_element(tag, end, true);
                    }
                    self.push(tag, hash, name, a, E_FOREIGN);
                }
                return end;
            }
            while self.n_foreign > 0 && !self.stack.is_empty() {
                let top = self.stack.len() - 1;
                self.remove_at(top);
            }
        }
        match tag {
            Tag::Html => {
                if self.lang.is_none() {
                    self.lang = normalize_lang(self.val_str(a.lang));
                }
                self.flush();
                return end;
            }
            Tag::Head => return end,
            Tag::Body => {
                self.flush();
                return end;
            }
            Tag::Meta => {
                self.meta(a);
                return end;
            }
            Tag::Br => {
                self.line_break();
                return end;
            }
            _ => {}
        }
        if props & CLOSES_P != 0 {
            self.close_p();
        }
        match tag {
            Tag::Li => self.close_item(
                |t| t == Tag::Li,
                |t| matches!(t, Tag::Ul | Tag::Ol | Tag::Menu | Tag::Dir),
            ),
            Tag::Dd | Tag::Dt => {
                self.close_item(|t| matches!(t, Tag::Dd | Tag::Dt), |t| t == Tag::Dl)
            }
            Tag::H1 | Tag::H2 | Tag::H3 | Tag::H4 | Tag::H5 | Tag::H6 => {
                if let Some(top) = self.stack.last() {
                    if top.tag.heading_level() > 0 {
                        let i = self.stack.len() - 1;
                        self.pop_to(i);
                    }
                }
            }
            Tag::Td | Tag::Th => {
                if let Some(i) = self.find_in_table(
                    |t| matches!(t, Tag::Td | Tag::Th),
                    |t| {
                        matches!(
                            t,
                            Tag::Tr | Tag::Table | Tag::Thead | Tag::Tbody | Tag::Tfoot
                        )
                    },
                ) {
                    self.pop_to(i);
                }
            }
            Tag::Tr => {
                if let Some(i) = self.find_in_table(
                    |t| t == Tag::Tr,
                    |t| matches!(t, Tag::Table | Tag::Thead | Tag::Tbody | Tag::Tfoot),
                ) {
                    self.pop_to(i);
                }
            }
            Tag::Thead | Tag::Tbody | Tag::Tfoot | Tag::Caption => {
                if let Some(i) =
                    self.find_in_table(|t| t.props() & TABLE_PART != 0, |t| t == Tag::Table)
                {
                    self.pop_to(i);
                }
            }
            Tag::Option | Tag::Optgroup => {
                if let Some(top) = self.stack.last() {
                    if top.tag == Tag::Option {
                        let i = self.stack.len() - 1;
                        self.pop_to(i);
                    }
                }
            }
            Tag::A => {
                if let Some(i) = self.find(|t| t == Tag::A, |_| false) {
                    self.remove_at(i);
                }
            }
            Tag::Button => {
                if let Some(i) = self.find(|t| t == Tag::Button, |_| false) {
                    self.pop_to(i);
                }
            }
            _ => {}
        }
        if props & VOID != 0 {
            if props & BLOCK != 0 {
                self.flush();
            }
            return end;
        }
        let hidden = (self.skip_hidden && (self.is_hidden(a) || (tag == Tag::Dialog && !a.open)))
            || (self.drop_edit && a.class.is_some() && is_edit_link(self.val(a.class)));
        if props & RAW != 0 {
            return self.raw_element(tag, end, hidden);
        }
        if matches!(tag, Tag::Svg | Tag::Math) && self_closing {
            return end;
        }
        let mut flags = 0u8;
        if props & SKIP != 0 || hidden {
            flags |= E_SKIP;
        }
        flags |= match tag {
            Tag::Pre | Tag::Listing => E_PRE,
            Tag::A => E_LINK,
            Tag::Li => E_LI,
            Tag::Ul | Tag::Ol | Tag::Menu | Tag::Dir => E_LIST,
            Tag::Table => E_TABLE,
            Tag::H1 | Tag::H2 | Tag::H3 | Tag::H4 | Tag::H5 | Tag::H6 => E_HEADING,
            Tag::Svg | Tag::Math => E_FOREIGN,
            _ => 0,
        };
        if props & BLOCK != 0 {
            self.flush();
        }
        if matches!(tag, Tag::Td | Tag::Th) && !self.cur.is_empty() {
            self.pending_sep = true;
        }
        if self.stack.len() >= MAX_STACK {
            return end;
        }
        self.push(tag, hash, name, a, flags);
        if tag == Tag::Li {
            self.bullet_pending = true;
        }
        if flags & E_PRE != 0 {
            self.pre_skip_nl = true;
        }
        end
    }

    fn meta(&mut self, a: &Attrs) {
        let content = a.content;
        if content.is_none() {
            return;
        }
        let eq = |r: Range, s: &[u8]| self.val(r).trim_ascii().eq_ignore_ascii_case(s);
        if self.og_title.is_none() && (eq(a.property, b"og:title") || eq(a.name, b"og:title")) {
            let t = normalize_text(self.val_str(content), true);
            if !t.is_empty() {
                self.og_title = Some(t);
            }
        } else if self.og_locale.is_none() && eq(a.property, b"og:locale") {
            self.og_locale = normalize_lang(self.val_str(content));
        } else if self.meta_lang.is_none()
            && (eq(a.http_equiv, b"content-language")
                || eq(a.name, b"language")
                || eq(a.name, b"content-language"))
        {
            self.meta_lang = normalize_lang(self.val_str(content));
        }
    }

    fn push(&mut self, tag: Tag, hash: u32, name: (u32, u32), a: &Attrs, flags: u8) {
        let mut base = 0;
        let (mut class, mut id) = ((0, 0), (0, 0));
        if self.features {
            base = tag_hints(tag);
            class = a.class.unwrap_or((0, 0));
            id = a.id.unwrap_or((0, 0));
            if a.role.is_some() {
                base |= role_hints(self.val(a.role));
            }
        }
        let mut node = 0;
        if self.features {
            node = self.nodes.len() as u32;
            let parent = self.stack.last().map_or(0, |e| e.node);
            self.nodes.push(Node {
                parent,
                own: NOT_DONE,
            });
        }
        self.apply(flags, 1);
        self.stack.push(Entry {
            tag,
            flags,
            hash,
            name,
            class,
            id,
            base,
            cum: NOT_DONE,
            node,
        });
    }

    /// Hints of the whole open-element chain. Each entry's cumulative value is computed
    /// once (lazily, when a block first needs it), so this is amortised O(1) per element.
    fn chain_hints(&mut self) -> u32 {
        let n = self.stack.len();
        let mut k = n;
        while k > 0 && self.stack[k - 1].cum == NOT_DONE {
            k -= 1;
        }
        let mut acc = if k > 0 { self.stack[k - 1].cum } else { 0 };
        for i in k..n {
            let e = self.stack[i];
            let mut own = e.base;
            if e.class.1 > e.class.0 {
                own |= attr_hints(&self.b[e.class.0 as usize..e.class.1 as usize]);
            }
            if e.id.1 > e.id.0 {
                own |= attr_hints(&self.b[e.id.0 as usize..e.id.1 as usize]);
            }
            acc |= own;
            self.stack[i].cum = acc;
            if let Some(n) = self.nodes.get_mut(e.node as usize) {
                n.own = own;
            }
        }
        acc
    }

    #[inline]
    fn apply(&mut self, flags: u8, sign: i32) {
        if flags == 0 {
            return;
        }
        let f = |c: &mut u32, bit: u8| {
            if flags & bit != 0 {
                *c = (*c as i32 + sign) as u32;
            }
        };
        f(&mut self.n_skip, E_SKIP);
        f(&mut self.n_pre, E_PRE);
        f(&mut self.n_link, E_LINK);
        f(&mut self.n_li, E_LI);
        f(&mut self.n_list, E_LIST);
        f(&mut self.n_table, E_TABLE);
        f(&mut self.n_heading, E_HEADING);
        f(&mut self.n_foreign, E_FOREIGN);
    }

    /// Remove the entry at `i` (elements above it stay open).
    fn remove_at(&mut self, i: usize) {
        let e = self.stack.remove(i);
        if e.tag.props() & BLOCK != 0 {
            self.flush();
        }
        self.apply(e.flags, -1);
        if e.flags & E_LI != 0 {
            self.bullet_pending = false;
        }
    }

    /// Pop entries down to and including index `i`.
    fn pop_to(&mut self, i: usize) {
        while self.stack.len() > i {
            let top = self.stack.len() - 1;
            self.remove_at(top);
        }
    }

    /// Search the stack from the top for an entry matching `want`, stopping at an entry
    /// matching `stop` or a scope boundary.
    fn find(&self, want: impl Fn(Tag) -> bool, stop: impl Fn(Tag) -> bool) -> Option<usize> {
        for (k, e) in self.stack.iter().enumerate().rev().take(MAX_SEARCH) {
            if want(e.tag) {
                return Some(k);
            }
            if stop(e.tag) || e.tag.props() & SCOPE != 0 {
                return None;
            }
        }
        None
    }

    /// Like `find` with "table scope": only `table`, `template` and `html` bound the search.
    fn find_in_table(
        &self,
        want: impl Fn(Tag) -> bool,
        stop: impl Fn(Tag) -> bool,
    ) -> Option<usize> {
        for (k, e) in self.stack.iter().enumerate().rev().take(MAX_SEARCH) {
            if want(e.tag) {
                return Some(k);
            }
            if stop(e.tag) || matches!(e.tag, Tag::Table | Tag::Template | Tag::Html) {
                return None;
            }
        }
        None
    }

    fn close_p(&mut self) {
        if let Some(i) = self.find(|t| t == Tag::P, |t| t == Tag::Button) {
            self.pop_to(i);
        }
    }

    fn close_item(&mut self, want: impl Fn(Tag) -> bool, list: impl Fn(Tag) -> bool) {
        let found = self.find(&want, |t| {
            list(t) || (t.props() & SPECIAL != 0 && !matches!(t, Tag::Address | Tag::Div | Tag::P))
        });
        if let Some(i) = found {
            self.pop_to(i);
        }
    }

    fn close(&mut self, tag: Tag, hash: u32) {
        if self.n_foreign > 0 && !matches!(tag, Tag::Br | Tag::P) {
            // Foreign content: match by name among the foreign elements only.
            for k in (0..self.stack.len()).rev().take(MAX_SEARCH) {
                let e = self.stack[k];
                if e.tag == tag && e.hash == hash {
                    self.pop_to(k);
                    return;
                }
                if e.flags & E_FOREIGN == 0 || matches!(e.tag, Tag::Svg | Tag::Math) {
                    break;
                }
            }
            return;
        }
        let props = tag.props();
        match tag {
            Tag::Html | Tag::Head | Tag::Body => {}
            Tag::Br => self.line_break(),
            Tag::P => match self.find(|t| t == Tag::P, |t| t == Tag::Button) {
                Some(i) => self.pop_to(i),
                None => self.flush(),
            },
            Tag::Li => {
                if let Some(i) = self.find(|t| t == Tag::Li, |t| matches!(t, Tag::Ul | Tag::Ol)) {
                    self.pop_to(i);
                }
            }
            Tag::H1 | Tag::H2 | Tag::H3 | Tag::H4 | Tag::H5 | Tag::H6 => {
                if let Some(i) = self.find(|t| t.heading_level() > 0, |_| false) {
                    self.pop_to(i);
                }
            }
            Tag::Td | Tag::Th | Tag::Tr | Tag::Thead | Tag::Tbody | Tag::Tfoot | Tag::Caption => {
                if let Some(i) = self.find_in_table(|t| t == tag, |_| false) {
                    self.pop_to(i);
                }
            }
            Tag::Table => {
                if let Some(i) = self.find_in_table(|t| t == Tag::Table, |_| false) {
                    self.pop_to(i);
                }
            }
            _ => {
                let found = self
                    .stack
                    .iter()
                    .enumerate()
                    .rev()
                    .take(MAX_SEARCH)
                    .find(|(_, e)| {
                        (e.tag == tag && e.hash == hash)
                            || (e.tag != tag && e.tag.props() & SCOPE != 0)
                    })
                    .filter(|(_, e)| e.tag == tag && e.hash == hash)
                    .map(|(k, _)| k);
                if let Some(i) = found {
                    if props & (SPECIAL | BLOCK | SKIP) != 0 {
                        self.pop_to(i);
                    } else {
                        self.remove_at(i);
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- text

    fn line_break(&mut self) {
        if self.n_skip > 0 {
            return;
        }
        if !self.cur.is_empty() {
            if self.n_pre == 0 {
                while self.cur.ends_with(' ') {
                    self.cur.pop();
                }
            }
            self.cur.push('\n');
        }
        self.pending_space = false;
        self.pending_sep = false;
    }

    fn text(&mut self, start: usize, end: usize) {
        if self.n_skip > 0 {
            return;
        }
        let s = &self.src[start..end];
        if self.n_pre > 0 {
            self.pre_text_raw(s);
            return;
        }
        let b = s.as_bytes();
        let n = b.len();
        let mut i = 0;
        while i < n {
            let run = i;
            loop {
                while i < n && CLASS[b[i] as usize] == 0 {
                    i += 1;
                }
                // 0xC2 starts ordinary two-byte chars except U+00A0 (nbsp) and U+00AD (soft hyphen).
                if i < n && b[i] == 0xC2 && !matches!(b.get(i + 1), Some(0xA0 | 0xAD)) {
                    i += 1;
                    continue;
                }
                // A single space between two words is already normal: keep copying.
                if i > run && i + 1 < n && b[i] == b' ' && CLASS[b[i + 1] as usize] == 0 {
                    i += 2;
                    continue;
                }
                break;
            }
            if i > run {
                self.word(&s[run..i]);
            }
            if i >= n {
                break;
            }
            match CLASS[b[i] as usize] {
                1 => {
                    self.pending_space = true;
                    i += 1;
                }
                2 => match decode_at(&b[i..], false) {
                    Some((d, used)) => {
                        i += used;
                        match d {
                            Decoded::Str(v) => match v {
                                " " | "\u{a0}" | "\t" | "\n" => self.pending_space = true,
                                "\u{ad}" => {}
                                _ => self.word(v),
                            },
                            Decoded::Char(c) => {
                                if c.is_ascii_whitespace() || c == '\u{a0}' || c == '\r' {
                                    self.pending_space = true;
                                } else if c != '\u{ad}' {
                                    let mut tmp = [0u8; 4];
                                    self.word(c.encode_utf8(&mut tmp));
                                }
                            }
                        }
                    }
                    None => {
                        self.word("&");
                        i += 1;
                    }
                },
                3 => i += 1,
                _ => {
                    // nbsp or soft hyphen
                    if b[i + 1] == 0xA0 {
                        self.pending_space = true;
                    }
                    i += 2;
                }
            }
        }
    }

    #[inline]
    fn word(&mut self, w: &str) {
        if self.cur.is_empty() {
            self.open_block();
        } else if self.pending_sep {
            self.cur.push_str(" | ");
        } else if self.pending_space && !self.cur.ends_with('\n') {
            self.cur.push(' ');
        }
        self.pending_space = false;
        self.pending_sep = false;
        self.cur.push_str(w);
        let linked = self.n_link > 0;
        if linked {
            self.cur_block.link_chars += char_count(w);
        }
        if self.features {
            if linked {
                if !self.prev_linked {
                    self.cur_runs += 1;
                }
                self.text_open = false;
            } else if !self.text_open && w.chars().any(char::is_alphabetic) {
                self.cur_text_runs += 1;
                self.text_open = true;
            }
            self.prev_linked = linked;
        }
    }

    /// Text inside `<pre>` (or raw visible elements): whitespace kept, entities decoded.
    fn pre_text_raw(&mut self, s: &str) {
        let mut tmp = std::mem::take(&mut self.scratch);
        tmp.clear();
        decode_into(&mut tmp, s, false);
        let mut t: &str = &tmp;
        if self.pre_skip_nl {
            self.pre_skip_nl = false;
            if let Some(r) = t.strip_prefix("\r\n").or_else(|| t.strip_prefix('\n')) {
                t = r;
            }
        }
        if !t.is_empty() {
            if self.cur.is_empty() {
                self.open_block();
            } else if self.pending_sep {
                self.cur.push_str(" | ");
            } else if self.pending_space {
                self.cur.push(' ');
            }
            self.pending_space = false;
            self.pending_sep = false;
            let before = self.cur.len();
            let mut chars = t.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '\r' => {
                        if chars.peek() != Some(&'\n') {
                            self.cur.push('\n');
                        }
                    }
                    '\0' | '\u{ad}' => {}
                    '\u{a0}' => self.cur.push(' '),
                    _ => self.cur.push(c),
                }
            }
            if self.n_link > 0 {
                self.cur_block.link_chars += char_count(&self.cur[before..]);
            }
        }
        self.scratch = tmp;
    }

    /// Capture the features of the block whose first text just arrived.
    fn open_block(&mut self) {
        let mut inner = Tag::Body;
        let mut heading = 0u8;
        for e in self.stack.iter().rev().take(64) {
            let p = e.tag.props();
            if inner == Tag::Body && (p & BLOCK != 0 || matches!(e.tag, Tag::Td | Tag::Th)) {
                inner = e.tag;
                if self.n_heading == 0 {
                    break;
                }
            }
            if self.n_heading > 0 && e.tag.heading_level() > 0 {
                heading = e.tag.heading_level();
                break;
            }
        }
        let kind = if self.n_pre > 0 {
            BlockKind::Pre
        } else if heading > 0 {
            BlockKind::Heading
        } else if matches!(inner, Tag::Td | Tag::Th | Tag::Tr | Tag::Caption) {
            BlockKind::TableRow
        } else if self.n_li > 0 {
            BlockKind::ListItem
        } else {
            BlockKind::Paragraph
        };
        let bullet = self.bullet_pending && self.n_li > 0;
        self.bullet_pending = false;
        let list_depth = if self.n_li > 0 { self.n_list.max(1) } else { 0 };
        let hints = if self.features { self.chain_hints() } else { 0 };
        self.cur_runs = 0;
        self.cur_text_runs = 0;
        self.prev_linked = false;
        self.text_open = false;
        self.cur_block = Block {
            text: String::new(),
            kind,
            tag: inner.name(),
            heading_level: heading,
            list_depth: list_depth.min(255) as u8,
            bullet,
            in_table: self.n_table > 0,
            depth: self.stack.len().min(u16::MAX as usize) as u16,
            text_chars: 0,
            link_chars: 0,
            hints: Hints(hints),
            node: if self.features {
                self.stack.last().map_or(0, |e| e.node)
            } else {
                0
            },
            path: if self.paths {
                self.path()
            } else {
                String::new()
            },
        };
    }

    fn path(&self) -> String {
        let mut out = String::new();
        let start = self.stack.len().saturating_sub(PATH_ELEMS);
        for e in &self.stack[start..] {
            if !out.is_empty() {
                out.push_str(" > ");
            }
            if e.tag == Tag::Other || e.tag.name() == "?" {
                let (s, t) = e.name;
                for c in self.b[s as usize..t as usize].iter().take(32) {
                    if c.is_ascii_alphanumeric() || *c == b'-' || *c == b':' {
                        out.push(c.to_ascii_lowercase() as char);
                    }
                }
            } else {
                out.push_str(e.tag.name());
            }
            if e.id.1 > e.id.0 {
                out.push('#');
                out.push_str(
                    self.src
                        .get(e.id.0 as usize..e.id.1 as usize)
                        .unwrap_or("")
                        .trim(),
                );
            }
            if e.class.1 > e.class.0 {
                let cls = self
                    .src
                    .get(e.class.0 as usize..e.class.1 as usize)
                    .unwrap_or("");
                let mut len = 0;
                for tok in cls.split_ascii_whitespace() {
                    if len + tok.len() > 64 {
                        break;
                    }
                    out.push('.');
                    out.push_str(tok);
                    len += tok.len() + 1;
                }
            }
        }
        out
    }

    fn flush(&mut self) {
        self.pending_space = false;
        self.pending_sep = false;
        if self.cur.is_empty() {
            return;
        }
        let mut text = std::mem::take(&mut self.cur);
        let keep = text.trim_end().len();
        text.truncate(keep);
        if self.cur_block.kind == BlockKind::Pre {
            let lead = text.len() - text.trim_start_matches(['\n', '\r']).len();
            if lead > 0 {
                text.drain(..lead);
            }
            if text.trim().is_empty() {
                return;
            }
        }
        if text.is_empty() {
            return;
        }
        let mut block = std::mem::take(&mut self.cur_block);
        block.text_chars = char_count(&text);
        block.link_chars = block.link_chars.min(block.text_chars);
        block.text = text;
        self.blocks.push(block);
        if self.features {
            self.link_runs.push(self.cur_runs.min(self.cur_text_runs));
        }
    }
}
