//! Main-content selection ([`super::ExtractMode::Main`]).
//!
//! Works on the blocks and the element table of one parse, in linear time:
//!
//! 1. **Block scores.** A block is a *content candidate* when it is long enough and has a
//!    low link density, or is *linked prose* (wiki text whose links alternate with
//!    running text); its weight is its non-link character count. Boilerplate hints
//!    (nav, header, footer, sidebar, comment, ad, share, related, breadcrumb, popup,
//!    hidden, form, notice) veto candidates, except a hint that covers most of the candidate
//!    text on the page (some sites put `sidebar` or `hidden-xs` on the wrapper of
//!    everything), which is ignored for that page unless a substantial amount of
//!    candidate text lies outside it (an article next to a larger comment section).
//! 2. **Container.** Candidate weights are summed per element (parents after children,
//!    one reverse pass over the pre-ordered element table). Starting at the document
//!    root, we step into the child holding most of the weight while it holds at least
//!    [`DESCEND`] of its parent's weight. The element where this stops is the content
//!    container: the smallest element that still holds nearly all good text.
//! 3. **Filtering inside the container.** Blocks under boilerplate hints *below* the
//!    container, link-dense blocks and stock one-liners ("Advertisement", "Share") are
//!    dropped (leading notice/info tables before the prose too); everything from the
//!    first to the last good block is kept (headings, short
//!    paragraphs, list items and table rows in between included), followed by trailing
//!    medium-length prose. Before the first good block we keep a short lead-in (headings,
//!    standfirst) and the article's title heading (nearest `h1` before the content, even
//!    when it sits outside the container, e.g. in an `<header>`).
//! 4. **Fallback.** A page without any content candidate keeps every block that is not
//!    boilerplate-hinted or link-dense, and if that leaves nothing, every block.

use super::parser::Node;
use super::{Block, BlockKind, Hints};

/// Hints that mark boilerplate.
const BOILER: u32 = 0xFFF | Hints::NOTICE.0;
/// Hint bits below this (the boilerplate bits are a subset).
const BITS: usize = 15;
/// Hints that do not disqualify a title heading (article headers are `<header>`s).
const TITLE_OK: u32 = Hints::HEADER.0 | Hints::BREADCRUMB.0 | Hints::FORM.0;
/// Minimum characters of a content candidate.
const GOOD_CHARS: u32 = 60;
/// Maximum link density of a content candidate.
const GOOD_LINKS: f32 = 0.3;
/// Minimum characters of "medium" prose kept at the edges of the content.
const MEDIUM_CHARS: u32 = 40;
/// Blocks with more link text than this share are dropped (headings excepted).
const MAX_LINKS: f32 = 0.5;
/// Step into the heaviest child while it holds at least this share of the weight.
const DESCEND: f64 = 0.7;
/// A hint covering more than this share of all candidate weight is ignored.
const OVERUSED: f64 = 0.5;
/// A hint is only ignored when the candidate text without any boilerplate hint is below
/// this many characters or [`OUTSIDE_SHARE`] of all candidate text, whichever is more.
const OUTSIDE_CHARS: f64 = 1000.0;
const OUTSIDE_SHARE: f64 = 0.1;
/// A child of the container holding at least this much candidate text, with a content
/// hint of its own (`<article>`, `.post`), is one story of a feed.
const STORY_CHARS: f64 = 800.0;
/// Longest label that may end the content ("You may like", "36 Comments").
const END_LABEL_CHARS: u32 = 48;
/// Candidate text under a linked heading below which the section is a teaser.
const TEASER_CHARS: u32 = 600;
/// How many elements above a linked heading's innermost element a teaser may reach.
const TEASER_LEVELS: usize = 3;
/// How far back (in blocks) to look for the title heading.
const TITLE_WINDOW: usize = 25;
/// How far back (in blocks) an h2 may be taken as the title when there is no h1.
const H2_WINDOW: usize = 40;
/// Minimum characters of an h2 title further back than [`LEAD_WINDOW`].
const H2_TITLE_CHARS: u32 = 20;
/// How many blocks before the first good block may form the lead-in.
const LEAD_WINDOW: usize = 6;
/// Linked prose (wiki style: most nouns are links) has at least this many separate
/// link runs ...
const PROSE_RUNS: u32 = 3;
/// ... at least this many characters outside links, and this many per link run ...
const PROSE_CHARS: u32 = 40;
const PROSE_CHARS_PER_RUN: u32 = 4;
/// ... and at most this link density.
const PROSE_LINKS: f32 = 0.8;

/// Running text with many inline links (a wiki paragraph) rather than a link list: the
/// links are separate runs with real text between them. Menus, tag lists and "a | b"
/// footers have little text between their links.
fn is_linked_prose(b: &Block, runs: u32) -> bool {
    let own = b.text_chars - b.link_chars;
    b.kind != BlockKind::Heading
        && runs >= PROSE_RUNS
        && own >= PROSE_CHARS
        && own >= PROSE_CHARS_PER_RUN * runs
        && b.link_density() <= PROSE_LINKS
}

fn is_candidate(b: &Block, runs: u32) -> bool {
    b.text_chars >= GOOD_CHARS && (b.link_density() <= GOOD_LINKS || is_linked_prose(b, runs))
}

/// Too many links to be content.
fn is_link_dense(b: &Block, runs: u32) -> bool {
    b.link_density() > MAX_LINKS && !is_linked_prose(b, runs)
}

fn weight(b: &Block) -> f64 {
    (b.text_chars - b.link_chars) as f64
}

fn is_medium(b: &Block, runs: u32) -> bool {
    b.text_chars >= MEDIUM_CHARS && (b.link_density() <= GOOD_LINKS || is_linked_prose(b, runs))
}

/// Stock one-line labels of widgets that carry no content.
fn is_stock_label(b: &Block) -> bool {
    if b.text_chars > 28 {
        return false;
    }
    let mut buf = [0u8; 40];
    let t = b
        .text
        .trim()
        .trim_end_matches([':', '.', '…', '»', '›', '>'])
        .trim();
    if t.len() > buf.len() {
        return false;
    }
    let low = &mut buf[..t.len()];
    low.copy_from_slice(t.as_bytes());
    low.make_ascii_lowercase();
    matches!(
        &*low,
        b"advertisement"
            | b"advertising"
            | b"anzeige"
            | b"werbung"
            | b"publicit\xc3\xa9"
            | b"publicidad"
            | b"pubblicit\xc3\xa0"
            | b"sponsored"
            | b"share"
            | b"share this"
            | b"share this article"
            | b"share this story"
            | b"teilen"
            | b"artikel teilen"
            | b"partager"
            | b"tweet"
            | b"print"
            | b"drucken"
            | b"read more"
            | b"weiterlesen"
            | b"mehr lesen"
            | b"lire la suite"
            | b"skip to content"
            | b"skip to main content"
    )
}

/// Section labels that follow the article: related/recommended stories, comment threads.
/// Matched at the start of a short block, after any leading count ("36 Comments").
const END_LABELS: [&str; 38] = [
    "related posts",
    "related articles",
    "related stories",
    "related topics",
    "related content",
    "you may like",
    "you may also like",
    "you might also like",
    "you might like",
    "more stories",
    "more from",
    "read next",
    "up next",
    "recommended for you",
    "recommended stories",
    "comments",
    "leave a reply",
    "leave a comment",
    "join the conversation",
    "show comments",
    "ähnliche beiträge",
    "ähnliche artikel",
    "das könnte sie auch interessieren",
    "das könnte dich auch interessieren",
    "das thema könnte dich auch interessieren",
    "mehr zum thema",
    "weitere artikel",
    "kommentare",
    "kommentar schreiben",
    "kommentar verfassen",
    "schreibe einen kommentar",
    "hinterlasse einen kommentar",
    "vous aimerez aussi",
    "à lire aussi",
    "sur le même sujet",
    "commentaires",
    "laisser un commentaire",
    "articles similaires",
];

/// A short block that opens a related-stories list or a comment thread.
fn is_end_label(b: &Block) -> bool {
    if b.text_chars > END_LABEL_CHARS || b.kind == BlockKind::Pre {
        return false;
    }
    let low = b
        .text
        .trim_start_matches(|c: char| c.is_ascii_digit() || c.is_whitespace());
    let low = low.to_lowercase();
    END_LABELS.iter().any(|l| {
        low.strip_prefix(l).is_some_and(|rest| {
            // The label is the whole block or is followed by a word ("Comments (3)",
            // "Kommentare zu diesem Beitrag"), not part of a longer word.
            rest.chars().next().is_none_or(|c| !c.is_alphanumeric())
        })
    })
}

/// Decide which blocks belong to the main content. `nodes` is the element table of the
/// same parse (index 0 = root); every `Block::node` indexes into it.
pub(crate) fn select(blocks: &[Block], nodes: &[Node], link_runs: &[u32]) -> Vec<bool> {
    let n = blocks.len();
    let mut keep = vec![false; n];
    if n == 0 {
        return keep;
    }
    if nodes.is_empty()
        || link_runs.len() != n
        || blocks.iter().any(|b| b.node as usize >= nodes.len())
    {
        // Not from a features parse: nothing to score with.
        keep.iter_mut().for_each(|k| *k = true);
        return keep;
    }

    // 1. Candidates and per-hint coverage.
    // `last[p]`: last id in p's subtree (ids are pre-order).
    let m = nodes.len();
    let mut last: Vec<u32> = (0..m as u32).collect();
    for id in (1..m).rev() {
        let p = nodes[id].parent as usize;
        if last[id] > last[p] {
            last[p] = last[id];
        }
    }
    let runs = |i: usize| link_runs[i];
    let cand = candidates(blocks, nodes, &last, link_runs);
    let mut total = 0.0f64;
    let mut per_bit = [0.0f64; BITS];
    for b in blocks
        .iter()
        .zip(&cand)
        .filter_map(|(b, &c)| c.then_some(b))
    {
        let w = weight(b);
        total += w;
        let h = b.hints.0 & BOILER;
        if h != 0 {
            for (i, m) in per_bit.iter_mut().enumerate() {
                if h & (1 << i) != 0 {
                    *m += w;
                }
            }
        }
    }
    // The same over all text, so that a page whose only long prose is its footer does
    // not lose the footer hint.
    let mut all = 0.0f64;
    let mut all_bit = [0.0f64; BITS];
    for b in blocks {
        let w = weight(b);
        all += w;
        let h = b.hints.0 & BOILER;
        if h != 0 {
            for (i, m) in all_bit.iter_mut().enumerate() {
                if h & (1 << i) != 0 {
                    *m += w;
                }
            }
        }
    }
    // A real article next to a big comment section keeps the comment hint: hints are
    // only ignored when little candidate text carries no boilerplate hint at all.
    let clean: f64 = blocks
        .iter()
        .zip(&cand)
        .filter(|(b, &c)| c && b.hints.0 & BOILER == 0)
        .map(|(b, _)| weight(b))
        .sum();
    let mut mask = BOILER;
    for i in (0..BITS).filter(|i| BOILER & (1 << i) != 0) {
        if per_bit[i] > OVERUSED * total
            && all_bit[i] > OVERUSED * all
            && clean < OUTSIDE_CHARS.max(OUTSIDE_SHARE * total)
        {
            mask &= !(1 << i);
        }
    }
    let hinted = |b: &Block| b.hints.0 & mask != 0;

    if total == 0.0 {
        return fallback(blocks, mask, link_runs);
    }

    // 2. Weight per element, then the container.
    let mut weight_of = vec![0.0f64; m];
    for (b, &c) in blocks.iter().zip(&cand) {
        if c && !hinted(b) {
            weight_of[b.node as usize] += weight(b);
        }
    }
    // `best[p]`: heaviest child of p.
    let mut best = vec![0u32; m];
    for id in (1..m).rev() {
        let p = nodes[id].parent as usize;
        let w = weight_of[id];
        weight_of[p] += w;
        let b = best[p] as usize;
        if b == 0 || w > weight_of[b] || (w == weight_of[b] && id < b) {
            best[p] = id as u32;
        }
    }
    if weight_of[0] <= 0.0 {
        return fallback(blocks, mask, link_runs);
    }
    let mut c = 0usize;
    loop {
        let child = best[c] as usize;
        if child == 0 || weight_of[child] < DESCEND * weight_of[c] {
            break;
        }
        c = child;
    }
    // A feed of whole stories (infinite scroll, "next article" appended): the container's
    // children are several content-hinted elements that each hold a story and together
    // nearly all its text. The page's own story comes first.
    loop {
        let (mut first_story, mut stories, mut story_weight) = (0usize, 0u32, 0.0f64);
        let mut id = c + 1;
        while id <= last[c] as usize {
            let own = nodes[id].own;
            if own != u32::MAX && own & Hints::CONTENT.0 != 0 && weight_of[id] >= STORY_CHARS {
                if stories == 0 {
                    first_story = id;
                }
                stories += 1;
                story_weight += weight_of[id];
            }
            id = last[id] as usize + 1; // next sibling
        }
        if stories < 2 || story_weight < DESCEND * weight_of[c] {
            break;
        }
        c = first_story;
        loop {
            let child = best[c] as usize;
            if child == 0 || weight_of[child] < DESCEND * weight_of[c] {
                break;
            }
            c = child;
        }
    }
    let (lo, hi) = (c as u32, last[c]);
    let inside = |b: &Block| b.node >= lo && b.node <= hi;

    // Hints of the elements between a block and the container (container excluded).
    let rel_hints = |b: &Block| -> u32 {
        let mut h = 0u32;
        let mut id = b.node as usize;
        while id != c && id != 0 {
            let own = nodes[id].own;
            if own != u32::MAX {
                h |= own;
            }
            id = nodes[id].parent as usize;
        }
        h & mask
    };

    // 3. Classify the container's blocks.
    // 0 = outside, 1 = bad, 2 = neutral (short or heading), 3 = good.
    let mut class = vec![0u8; n];
    let (mut first, mut last_good) = (usize::MAX, 0usize);
    for (i, b) in blocks.iter().enumerate() {
        if !inside(b) {
            continue;
        }
        // Rows of a data table whose cells are mostly links (years, names) continue a
        // table that started with ordinary rows.
        let table_row = b.kind == BlockKind::TableRow
            && i > 0
            && blocks[i - 1].kind == BlockKind::TableRow
            && matches!(class[i - 1], 2 | 3);
        let bad = rel_hints(b) != 0
            || is_stock_label(b)
            || is_end_label(b)
            || (is_link_dense(b, runs(i)) && !table_row)
            || b.tag == "figcaption";
        class[i] = if bad {
            // Linked headings count as neutral here: before the content they may be the
            // article's (permalinked) title; inside it they are dropped below.
            if b.kind == BlockKind::Heading && rel_hints(b) == 0 {
                4
            } else {
                1
            }
        } else if cand[i] {
            if first == usize::MAX {
                first = i;
            }
            last_good = i;
            3
        } else {
            2
        };
    }
    if first == usize::MAX {
        return fallback(blocks, mask, link_runs);
    }
    // Notice boxes and infoboxes before the prose: when the first good blocks sit in
    // tables and at least as much good text follows outside tables, the content starts
    // at the first good block outside a table (layout-table pages, whose container is
    // itself a table cell, never get here).
    if blocks[first].in_table {
        let (mut lead, mut rest) = (0.0f64, 0.0f64);
        let mut prose = None;
        for i in first..=last_good {
            if class[i] != 3 {
                continue;
            }
            if prose.is_none() && !blocks[i].in_table {
                prose = Some(i);
            }
            if prose.is_some() {
                rest += weight(&blocks[i]);
            } else {
                lead += weight(&blocks[i]);
            }
        }
        if let Some(p) = prose {
            if rest >= lead {
                first = p;
            }
        }
    }
    let in_prose = !blocks[first].in_table;
    for i in first..=last_good {
        if class[i] == 2 || class[i] == 3 {
            keep[i] = true;
        }
    }
    // Trailing medium prose.
    for i in last_good + 1..n {
        if (class[i] == 2 || class[i] == 3) && is_medium(&blocks[i], runs(i)) {
            keep[i] = true;
        } else {
            break;
        }
    }
    // Lead-in: headings and medium prose just before the first good block.
    let mut start = first;
    for i in (first.saturating_sub(LEAD_WINDOW)..first).rev() {
        let b = &blocks[i];
        if in_prose && b.in_table {
            break;
        }
        let ok = if class[i] == 0 {
            !hinted(b) && (b.kind == BlockKind::Heading || !is_link_dense(b, runs(i)))
        } else {
            class[i] >= 2
        };
        if !ok {
            // Step over bylines, dates and share buttons; stop at anything longer.
            if b.text_chars < MEDIUM_CHARS && b.kind != BlockKind::Heading {
                continue;
            }
            break;
        }
        if b.kind == BlockKind::Heading || is_medium(b, runs(i)) {
            keep[i] = true;
            start = i;
            if b.heading_level == 1 {
                break;
            }
        }
    }
    // Title: nearest h1 before the content (else a close h2), plus the standfirst
    // between it and the content.
    if blocks[start].heading_level != 1 {
        let title_ok = |b: &Block| {
            b.kind == BlockKind::Heading
                && b.hints.0 & mask & !TITLE_OK == 0
                && b.link_density() <= MAX_LINKS
        };
        let from = start.saturating_sub(TITLE_WINDOW);
        let mut title = (from..start)
            .rev()
            .find(|&i| blocks[i].heading_level == 1 && title_ok(&blocks[i]));
        if title.is_none() {
            // The page's only h1, however far before the content.
            let mut h1s = blocks
                .iter()
                .enumerate()
                .filter(|(_, b)| b.heading_level == 1);
            if let (Some((i, b)), None) = (h1s.next(), h1s.next()) {
                if i < start && title_ok(b) {
                    title = Some(i);
                }
            }
        }
        if title.is_none() {
            // A close h2, or a further one that is long enough to be a headline.
            title = (start.saturating_sub(H2_WINDOW)..start).rev().find(|&i| {
                let b = &blocks[i];
                b.heading_level == 2
                    && title_ok(b)
                    && (i + LEAD_WINDOW >= start || b.text_chars >= H2_TITLE_CHARS)
            });
        }
        if let Some(t) = title {
            keep[t] = true;
            // The standfirst between title and content (article headers are fine).
            for i in t + 1..start {
                let b = &blocks[i];
                if is_medium(b, runs(i))
                    && !(in_prose && b.in_table)
                    && b.hints.0 & mask & !TITLE_OK == 0
                    && !is_stock_label(b)
                    && b.tag != "figcaption"
                {
                    keep[i] = true;
                }
            }
        }
    }
    keep
}

/// Content candidates: long, low-link blocks that are not teasers. A teaser is the
/// excerpt under a linked heading ("more stories" lists): the blocks that follow a
/// link-dense heading inside the same small element (up to [`TEASER_LEVELS`] above the
/// heading's innermost element), when they hold less than [`TEASER_CHARS`] of
/// candidate text.
fn candidates(blocks: &[Block], nodes: &[Node], last: &[u32], runs: &[u32]) -> Vec<bool> {
    let mut cand: Vec<bool> = blocks
        .iter()
        .zip(runs)
        .map(|(b, &r)| is_candidate(b, r))
        .collect();
    for i in 0..blocks.len() {
        let h = &blocks[i];
        if h.kind != BlockKind::Heading || h.link_density() <= MAX_LINKS {
            continue;
        }
        let mut a = h.node as usize;
        for _ in 0..TEASER_LEVELS {
            if a == 0 {
                break;
            }
            a = nodes[a].parent as usize;
        }
        if a == 0 {
            continue;
        }
        let (lo, hi) = (a as u32, last[a]);
        let mut j = i + 1;
        let mut chars = 0u32;
        while j < blocks.len()
            && blocks[j].kind != BlockKind::Heading
            && blocks[j].node >= lo
            && blocks[j].node <= hi
        {
            if cand[j] {
                chars += blocks[j].text_chars;
            }
            j += 1;
        }
        if chars < TEASER_CHARS {
            cand[i + 1..j].iter_mut().for_each(|c| *c = false);
        }
    }
    // After a related-stories or comments label, the rest of its section is not content
    // (once some content came before it): the smallest element around the label that
    // also holds the next block.
    let mut seen = false;
    for i in 0..blocks.len() {
        if cand[i] {
            seen = true;
            continue;
        }
        let b = &blocks[i];
        if !seen || i + 1 == blocks.len() || !is_end_label(b) || b.link_density() > MAX_LINKS {
            continue;
        }
        let next = blocks[i + 1].node;
        let mut a = b.node as usize;
        while a != 0 && !(next >= a as u32 && next <= last[a]) {
            a = nodes[a].parent as usize;
        }
        let (lo, hi) = (a as u32, last[a]);
        for j in i + 1..blocks.len() {
            if a != 0 && !(blocks[j].node >= lo && blocks[j].node <= hi) {
                break;
            }
            cand[j] = false;
        }
    }
    cand
}

/// No clear main region: everything that is not boilerplate-hinted or link-dense, or
/// failing that, everything.
fn fallback(blocks: &[Block], mask: u32, runs: &[u32]) -> Vec<bool> {
    let mut keep: Vec<bool> = blocks
        .iter()
        .zip(runs)
        .map(|(b, &r)| b.hints.0 & mask == 0 && !is_link_dense(b, r) && !is_stock_label(b))
        .collect();
    if !keep.iter().any(|&k| k) {
        keep.iter_mut().for_each(|k| *k = true);
    }
    keep
}
