//! HTML to text.
//!
//! Extraction runs in two steps:
//!
//! 1. [`blocks`] tokenizes the document in a single pass (no DOM; a small open-element
//!    stack applies the usual implied-end-tag rules) and produces a flat list of text
//!    [`Block`]s with per-block features (tag, heading level, list/table context, link
//!    density inputs, class/id hints, ancestor path).
//! 2. [`render_blocks`] turns blocks into plain text. [`ExtractMode::Plain`] renders all
//!    of them; [`ExtractMode::Main`] scores and filters them first (see `main_content.rs`).

mod entities;
mod main_content;
mod parser;
mod tags;

pub use entities::decode_entities;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtractMode {
    /// All visible text with block structure kept.
    Plain,
    /// Main content only: navigation, headers/footers, sidebars, comments, share and
    /// related-article widgets, cookie banners and ads removed (see [`extract_text`]).
    Main,
}

impl ExtractMode {
    pub fn parse(name: &str) -> crate::Result<Self> {
        match name {
            "plain" => Ok(ExtractMode::Plain),
            "main" => Ok(ExtractMode::Main),
            other => Err(crate::Error::InvalidArgument(format!(
                "mode must be 'plain' or 'main', not {other:?}"
            ))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ExtractOptions {
    pub mode: ExtractMode,
    /// Prefix list items with "- " (keeps lists readable in plain text).
    pub list_bullets: bool,
    /// Drop elements hidden by `hidden`, `aria-hidden="true"` or inline `display:none`.
    pub skip_hidden: bool,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            mode: ExtractMode::Plain,
            list_bullets: true,
            skip_hidden: true,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    pub text: String,
    pub title: Option<String>,
    /// From `<html lang>` (or `<meta http-equiv="content-language">`), normalised like "en", "de-at".
    pub lang_hint: Option<String>,
}

/// What kind of text a [`Block`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BlockKind {
    /// Ordinary flow text (`p`, `div`, `blockquote`, text directly in `body`, ...).
    #[default]
    Paragraph,
    /// Text inside `h1`..`h6` (see [`Block::heading_level`]).
    Heading,
    /// Text inside an `li` (the first block of an item has [`Block::bullet`] set).
    ListItem,
    /// One table row (or the part of a row before/after block content); cells joined by `" | "`.
    TableRow,
    /// Preformatted text (`pre`, `listing`, `xmp`, `plaintext`); whitespace kept.
    Pre,
}

/// Bit set of boilerplate/content hints collected from the tag names, `class`, `id` and
/// `role` attributes of a block's ancestors. Only filled by [`blocks`] / [`parse_document`]
/// and main-mode extraction (plain [`extract_text`] skips this work).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Hints(pub u32);

impl Hints {
    pub const NAV: Hints = Hints(1);
    pub const HEADER: Hints = Hints(1 << 1);
    pub const FOOTER: Hints = Hints(1 << 2);
    /// `aside`, sidebars.
    pub const SIDEBAR: Hints = Hints(1 << 3);
    pub const COMMENT: Hints = Hints(1 << 4);
    /// Ads, sponsored, promos.
    pub const AD: Hints = Hints(1 << 5);
    /// Share buttons, social links.
    pub const SOCIAL: Hints = Hints(1 << 6);
    pub const RELATED: Hints = Hints(1 << 7);
    pub const BREADCRUMB: Hints = Hints(1 << 8);
    /// Cookie banners, newsletters, modals, popups.
    pub const POPUP: Hints = Hints(1 << 9);
    /// Class names that usually mean invisible (`hidden`, `sr-only`, ...).
    pub const HIDDEN: Hints = Hints(1 << 10);
    pub const FORM: Hints = Hints(1 << 11);
    /// Positive: `article`, `main`, classes like content/post/entry/story.
    pub const CONTENT: Hints = Hints(1 << 12);
    /// `main` element or `role="main"`.
    pub const MAIN: Hints = Hints(1 << 13);
    /// Wiki/CMS page furniture: maintenance and notice boxes (`ambox`, `metadata`,
    /// `noprint`), navboxes, reference lists (`references`, `reflist`), category links,
    /// edit-section links.
    pub const NOTICE: Hints = Hints(1 << 14);

    pub fn contains(self, other: Hints) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn intersects(self, other: Hints) -> bool {
        self.0 & other.0 != 0
    }

    /// Any of the typical boilerplate hints (nav, header, footer, sidebar, comment, ad, ...).
    pub fn is_boilerplate(self) -> bool {
        self.0 & (0x3FF | Self::NOTICE.0) != 0
    }
}

/// One block of text with the features that main-content scoring needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Block {
    /// Normalised text: single spaces, `\n` for `<br>`; whitespace kept for [`BlockKind::Pre`].
    pub text: String,
    pub kind: BlockKind,
    /// Nearest enclosing block-level element ("p", "div", "li", "td", "h2", ... or "body").
    pub tag: &'static str,
    /// 1..=6 inside a heading, else 0.
    pub heading_level: u8,
    /// Nesting depth of lists around an `li` (0 outside list items).
    pub list_depth: u8,
    /// First block of a list item (rendered with "- ").
    pub bullet: bool,
    /// Inside a `<table>`.
    pub in_table: bool,
    /// Open-element depth where the block started.
    pub depth: u16,
    /// Characters in `text`.
    pub text_chars: u32,
    /// Characters of that text inside `<a>` elements (spaces between link and non-link
    /// text not counted).
    pub link_chars: u32,
    /// Hints from ancestors' tag names and class/id/role tokens.
    pub hints: Hints,
    /// Id of the innermost element open when the block started, in document order
    /// (0 = none, or plain [`extract_text`]); blocks with equal ids share that element.
    pub node: u32,
    /// Up to 6 nearest open elements, outermost first, like `div#main.content > article.post > p`
    /// (empty from [`extract_text`]).
    pub path: String,
}

impl Block {
    /// Share of the text that sits inside links (0.0 for empty blocks).
    pub fn link_density(&self) -> f32 {
        if self.text_chars == 0 {
            0.0
        } else {
            self.link_chars as f32 / self.text_chars as f32
        }
    }
}

/// A parsed document: its blocks plus metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    pub blocks: Vec<Block>,
    pub title: Option<String>,
    pub lang_hint: Option<String>,
}

/// Parse `html` into text blocks with all features (hints and paths included).
/// `opts.skip_hidden` applies; `mode` and `list_bullets` do not matter here.
pub fn parse_document(html: &str, opts: &ExtractOptions) -> Document {
    let p = parser::Parser::new(html, opts.skip_hidden, true).run();
    Document {
        blocks: p.blocks,
        title: p.title,
        lang_hint: p.lang_hint,
    }
}

/// The text blocks of `html` in document order, each with its features
/// (see [`Block`]); the input for main-content scoring.
pub fn blocks(html: &str, opts: &ExtractOptions) -> Vec<Block> {
    parse_document(html, opts).blocks
}

/// Render blocks as plain text: blank line between blocks, single newlines between
/// consecutive list items and between rows of a table, "- " bullets (indented two spaces
/// per nested list level) when `opts.list_bullets`.
pub fn render_blocks(blocks: &[Block], opts: &ExtractOptions) -> String {
    let total: usize = blocks.iter().map(|b| b.text.len() + 4).sum();
    let mut out = String::with_capacity(total);
    let mut prev: Option<&Block> = None;
    for b in blocks {
        if let Some(p) = prev {
            let tight = (p.list_depth > 0 && b.list_depth > 0)
                || (p.kind == BlockKind::TableRow && b.kind == BlockKind::TableRow);
            out.push_str(if tight { "\n" } else { "\n\n" });
        }
        let indent = if opts.list_bullets && b.list_depth > 0 {
            2 * (b.list_depth as usize - 1) + if b.bullet { 0 } else { 2 }
        } else {
            0
        };
        let mut first = true;
        let mut blank = false;
        for line in b.text.split('\n') {
            let line = if b.kind == BlockKind::Pre {
                line.trim_end()
            } else {
                line.trim()
            };
            if line.is_empty() {
                blank = !first;
                continue;
            }
            if !first {
                out.push('\n');
                if blank {
                    out.push('\n');
                }
            }
            for _ in 0..indent {
                out.push(' ');
            }
            if b.bullet && opts.list_bullets {
                out.push_str(if first { "- " } else { "  " });
            }
            out.push_str(line);
            first = false;
            blank = false;
        }
        prev = Some(b);
    }
    out
}

fn extract_plain(html: &str, opts: &ExtractOptions) -> Extracted {
    let p = parser::Parser::new(html, opts.skip_hidden, false).run();
    Extracted {
        text: render_blocks(&p.blocks, opts),
        title: p.title,
        lang_hint: p.lang_hint,
    }
}

/// Extract the visible text of `html` with its block structure kept (see [`render_blocks`]).
///
/// Dropped: `script`, `style`, `noscript`, `template`, `svg`, `iframe`, `object`, media
/// fallbacks, form controls (`select`, `option`, `textarea`, `button`), head content, and,
/// when `opts.skip_hidden`, elements with `hidden`, `aria-hidden="true"`, inline
/// `display:none` / `visibility:hidden`, and closed `<dialog>`s.
/// `title` comes from `<title>` (else `og:title`); `lang_hint` from `<html lang>` (else
/// `<meta http-equiv="content-language">` / `<meta name="language">`, else `og:locale`).
///
/// [`ExtractMode::Main`] keeps only the main content: blocks are scored by length, link
/// density and class/id/tag hints, the element holding most of the good text is chosen
/// as the content container, and its blocks are filtered (boilerplate-hinted and
/// link-dense blocks dropped, the article's title heading kept). Pages without a clear
/// main region fall back to all non-boilerplate text; text is never empty for a page
/// whose plain text is not.
pub fn extract_text(html: &str, opts: &ExtractOptions) -> crate::Result<Extracted> {
    match opts.mode {
        ExtractMode::Plain => Ok(extract_plain(html, opts)),
        ExtractMode::Main => Ok(extract_main(html, opts)),
    }
}

fn main_document(html: &str, opts: &ExtractOptions, paths: bool) -> Document {
    let mut parser = parser::Parser::new(html, opts.skip_hidden, true).without_edit_links();
    if !paths {
        parser = parser.without_paths();
    }
    let p = parser.run();
    let kept = main_content::select(&p.blocks, &p.nodes, &p.link_runs);
    let blocks: Vec<Block> = p
        .blocks
        .into_iter()
        .zip(kept)
        .filter_map(|(b, k)| k.then_some(b))
        .collect();
    Document {
        blocks,
        title: p.title,
        lang_hint: p.lang_hint,
    }
}

fn extract_main(html: &str, opts: &ExtractOptions) -> Extracted {
    let doc = main_document(html, opts, false);
    Extracted {
        text: render_blocks(&doc.blocks, opts),
        title: doc.title,
        lang_hint: doc.lang_hint,
    }
}

/// The blocks that main-content extraction keeps, in document order, with all
/// features (paths included); `render_blocks` of them is the main-mode text.
pub fn main_blocks(html: &str, opts: &ExtractOptions) -> Vec<Block> {
    main_document(html, opts, true).blocks
}

/// Extract many documents in parallel (rayon); order preserved.
pub fn extract_batch(htmls: &[&str], opts: &ExtractOptions) -> Vec<crate::Result<Extracted>> {
    use rayon::prelude::*;
    htmls.par_iter().map(|h| extract_text(h, opts)).collect()
}

#[cfg(test)]
mod tests;
