//! Heuristic document quality filters in the style of the C4, Gopher (MassiveWeb) and FineWeb
//! pipelines.
//!
//! [`filter_document`] runs, in this order:
//!
//! 1. a size guard ([`QualityConfig::max_doc_bytes`], reason `too_long`);
//! 2. line-level cleanup ([`lines`]): navigation menus, "Read more"/"Share on Facebook" lines,
//!    copyright lines, cookie and "enable JavaScript" notices, optionally short unpunctuated
//!    lines; blank-line runs collapse to one blank line. Nothing left: `empty_after_cleanup`;
//! 3. document filters on the cleaned text, cheapest first: boilerplate markers, word count,
//!    mean word length, symbol ratio, alphabetic-word fraction, stop words, bullet and ellipsis
//!    lines, duplicate lines, punctuated and short lines (FineWeb), top n-grams, duplicate
//!    n-grams. The first failing filter decides
//!    the [`DropReason`];
//! 4. optional PII scrubbing ([`pii`]) of the kept text.
//!
//! Every threshold is an `Option` (or a list where empty disables the filter). All work is
//! linear in the document size; n-gram statistics hash words into `u64`s (no string copies)
//! and look at most [`QualityConfig::max_ngram_words`] words. See `docs/quality-filters.md`.
//!
//! Words: whitespace-separated tokens with surrounding punctuation trimmed; tokens without any
//! letter or digit are not words. In scripts written without spaces (Han, Hiragana, Katakana,
//! Thai, Lao, Khmer, Myanmar, Tibetan) every character counts as one word, so a Chinese or
//! Japanese page has a word count comparable to its length and is not dropped as
//! `too_few_words`; the mean-word-length check is skipped for documents where such characters
//! make up most of the words.

pub mod lines;
pub mod pii;
pub mod repetition;
mod settings;
pub mod stopwords;
pub mod words;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use aho_corasick::AhoCorasick;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Why a document was dropped. The snake_case names ([`DropReason::as_str`]) are stable: they are
/// the keys of `stats.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    TooLong,
    TooFewWords,
    TooManyWords,
    MeanWordLength,
    SymbolRatio,
    EllipsisLines,
    BulletLines,
    DuplicateLines,
    DuplicateLineChars,
    LinePunctuation,
    ShortLines,
    TopNgramFraction,
    DuplicateNgramFraction,
    StopWords,
    AlphaWords,
    BoilerplateMarker,
    EmptyAfterCleanup,
    /// [`crate::langid::LangFilter`]: no language could be identified.
    LangUnknown,
    /// [`crate::langid::LangFilter`]: the language is not in the allowed list.
    LangNotAllowed,
    /// [`crate::langid::LangFilter`]: the guess is below the minimum confidence.
    LangLowConfidence,
}

impl DropReason {
    /// Every reason, in a fixed order.
    pub const ALL: [DropReason; 20] = [
        DropReason::TooLong,
        DropReason::TooFewWords,
        DropReason::TooManyWords,
        DropReason::MeanWordLength,
        DropReason::SymbolRatio,
        DropReason::EllipsisLines,
        DropReason::BulletLines,
        DropReason::DuplicateLines,
        DropReason::DuplicateLineChars,
        DropReason::LinePunctuation,
        DropReason::ShortLines,
        DropReason::TopNgramFraction,
        DropReason::DuplicateNgramFraction,
        DropReason::StopWords,
        DropReason::AlphaWords,
        DropReason::BoilerplateMarker,
        DropReason::EmptyAfterCleanup,
        DropReason::LangUnknown,
        DropReason::LangNotAllowed,
        DropReason::LangLowConfidence,
    ];

    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::TooLong => "too_long",
            DropReason::TooFewWords => "too_few_words",
            DropReason::TooManyWords => "too_many_words",
            DropReason::MeanWordLength => "mean_word_length",
            DropReason::SymbolRatio => "symbol_ratio",
            DropReason::EllipsisLines => "ellipsis_lines",
            DropReason::BulletLines => "bullet_lines",
            DropReason::DuplicateLines => "duplicate_lines",
            DropReason::DuplicateLineChars => "duplicate_line_chars",
            DropReason::LinePunctuation => "line_punctuation",
            DropReason::ShortLines => "short_lines",
            DropReason::TopNgramFraction => "top_ngram_fraction",
            DropReason::DuplicateNgramFraction => "duplicate_ngram_fraction",
            DropReason::StopWords => "stop_words",
            DropReason::AlphaWords => "alpha_words",
            DropReason::BoilerplateMarker => "boilerplate_marker",
            DropReason::EmptyAfterCleanup => "empty_after_cleanup",
            DropReason::LangUnknown => "lang_unknown",
            DropReason::LangNotAllowed => "lang_not_allowed",
            DropReason::LangLowConfidence => "lang_low_confidence",
        }
    }

    /// Inverse of [`DropReason::as_str`].
    pub fn from_name(name: &str) -> Option<DropReason> {
        DropReason::ALL.iter().copied().find(|r| r.as_str() == name)
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Result of [`filter_document`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum FilterOutcome {
    /// The document passes; `text` is after line cleanup (and PII scrubbing if enabled).
    Keep { text: String },
    /// The document fails `reason`; `detail` is a short human-readable measurement.
    Drop { reason: DropReason, detail: String },
}

impl FilterOutcome {
    pub fn is_keep(&self) -> bool {
        matches!(self, FilterOutcome::Keep { .. })
    }

    /// The drop reason, `None` when kept.
    pub fn reason(&self) -> Option<DropReason> {
        match self {
            FilterOutcome::Keep { .. } => None,
            FilterOutcome::Drop { reason, .. } => Some(*reason),
        }
    }

    /// The kept text, `None` when dropped.
    pub fn text(&self) -> Option<&str> {
        match self {
            FilterOutcome::Keep { text } => Some(text),
            FilterOutcome::Drop { .. } => None,
        }
    }
}

fn drop_with(reason: DropReason, detail: String) -> FilterOutcome {
    FilterOutcome::Drop { reason, detail }
}

/// Counts of kept and dropped documents by reason, the shape of `stats.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FilterStats {
    pub kept: u64,
    /// Reason name ([`DropReason::as_str`]) -> documents dropped for it.
    pub dropped: BTreeMap<String, u64>,
}

impl FilterStats {
    pub fn add(&mut self, outcome: &FilterOutcome) {
        match outcome {
            FilterOutcome::Keep { .. } => self.kept += 1,
            FilterOutcome::Drop { reason, .. } => {
                *self.dropped.entry(reason.as_str().to_string()).or_insert(0) += 1
            }
        }
    }

    /// Adds a drop from another stage (language filter, say).
    pub fn add_drop(&mut self, reason: DropReason) {
        *self.dropped.entry(reason.as_str().to_string()).or_insert(0) += 1;
    }

    pub fn merge(&mut self, other: &FilterStats) {
        self.kept += other.kept;
        for (k, v) in &other.dropped {
            *self.dropped.entry(k.clone()).or_insert(0) += v;
        }
    }

    pub fn total(&self) -> u64 {
        self.kept + self.dropped.values().sum::<u64>()
    }
}

/// Thresholds and switches of [`filter_document`]. Missing fields in JSON take the defaults
/// below (`#[serde(default)]`); `None` (JSON `null`) or an empty list disables a filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct QualityConfig {
    // ---- line-level cleanup (runs first) ----
    /// Drop navigation lines: menus ("Home | About | Contact", breadcrumbs), lone link labels
    /// ("Read more", "Back to top", "Log in") and share buttons ("Share on Facebook").
    /// Default `true`.
    pub drop_nav_lines: bool,
    /// Drop short lines with "©", "(c) 2024" or "All rights reserved". Default `true`.
    pub drop_copyright_lines: bool,
    /// Drop short cookie notices ("This site uses cookies ... Accept"). Default `true`.
    pub drop_cookie_lines: bool,
    /// Drop short "please enable JavaScript" notices. Default `true`.
    pub drop_javascript_lines: bool,
    /// Drop lines with fewer words than this that do not end in terminal punctuation
    /// (C4 uses 3 with terminal punctuation always required). Default `None` (off).
    pub min_line_words: Option<usize>,

    // ---- document filters ----
    /// Documents larger than this many bytes are dropped as `too_long` before any work.
    /// Default 4 MiB.
    pub max_doc_bytes: Option<usize>,
    /// Fewer words: `too_few_words`. Gopher: 50.
    pub min_words: Option<usize>,
    /// More words: `too_many_words`. Gopher: 100 000.
    pub max_words: Option<usize>,
    /// Mean word length (characters) below this: `mean_word_length`. Gopher: 3.
    pub min_mean_word_length: Option<f64>,
    /// Mean word length above this: `mean_word_length`. Gopher: 10.
    pub max_mean_word_length: Option<f64>,
    /// Ratio of '#' to words, or of ellipses ("...", "…") to words, above this:
    /// `symbol_ratio`. Gopher: 0.1.
    pub max_symbol_word_ratio: Option<f64>,
    /// Fraction of lines ending in an ellipsis above this: `ellipsis_lines`. Gopher: 0.3.
    pub max_ellipsis_line_fraction: Option<f64>,
    /// Fraction of lines starting with a bullet above this: `bullet_lines`. Gopher: 0.9.
    pub max_bullet_line_fraction: Option<f64>,
    /// Fraction of lines that repeat an earlier line, above this: `duplicate_lines`.
    /// Gopher: 0.3.
    pub max_duplicate_line_fraction: Option<f64>,
    /// Fraction of characters in lines that repeat an earlier line, above this:
    /// `duplicate_line_chars`. Gopher: 0.2.
    pub max_duplicate_line_char_fraction: Option<f64>,
    /// Fraction of lines ending in terminal punctuation below this: `line_punctuation`.
    /// Off by default (plain-mode text keeps menus as lines); FineWeb: 0.12. Skipped for Thai, Lao, Khmer, Myanmar and Tibetan.
    pub min_punctuated_line_fraction: Option<f64>,
    /// Fraction of lines shorter than [`QualityConfig::short_line_chars`] above this:
    /// `short_lines`. Off by default; FineWeb: 0.67.
    pub max_short_line_fraction: Option<f64>,
    /// What "short" means for `max_short_line_fraction`, in characters. FineWeb: 30.
    pub short_line_chars: usize,
    /// `(n, max)`: share of word characters covered by the most frequent word n-gram (times its
    /// count) above `max`: `top_ngram_fraction`. Gopher: (2, 0.20), (3, 0.18), (4, 0.16).
    /// Empty disables.
    pub max_top_ngram_char_fraction: Vec<(usize, f64)>,
    /// `(n, max)`: share of word characters inside repeated occurrences of word n-grams above
    /// `max`: `duplicate_ngram_fraction`. Gopher: n = 5..=10 with 0.15, 0.14, ..., 0.10.
    /// Empty disables.
    pub max_duplicate_ngram_char_fraction: Vec<(usize, f64)>,
    /// At least this many stop words of the document language: else `stop_words`. Gopher: 2.
    /// Only applied when the language is known and has a list (en, de, fr, es, it, pt, nl).
    pub min_stop_words: Option<usize>,
    /// Fraction of words with at least one letter below this: `alpha_words`. Gopher: 0.8.
    pub min_alpha_word_fraction: Option<f64>,
    /// Case-insensitive phrases (ASCII case folding) whose presence in the cleaned text drops
    /// it as `boilerplate_marker`: placeholder text, JavaScript/cookie walls, bot checks,
    /// error pages. Empty disables.
    pub boilerplate_markers: Vec<String>,

    // ---- output ----
    /// Replace e-mail addresses with `<EMAIL>` and IPv4/IPv6 addresses with `<IP>` in kept
    /// text. Default `false`.
    pub scrub_pii: bool,
    /// N-gram statistics look at the first this-many words only (work cap for huge
    /// documents). Default 200 000.
    pub max_ngram_words: usize,
}

/// Default [`QualityConfig::boilerplate_markers`].
pub const DEFAULT_BOILERPLATE_MARKERS: &[&str] = &[
    "lorem ipsum",
    "enable javascript",
    "javascript is disabled",
    "javascript is required",
    "requires javascript",
    "javascript must be enabled",
    "this page uses cookies",
    "this site uses cookies",
    "this website uses cookies",
    "please enable cookies",
    "checking your browser before accessing",
    "verify you are human",
    "are you a robot",
    "access denied",
    "403 forbidden",
    "404 not found",
    "page not found",
];

impl Default for QualityConfig {
    fn default() -> Self {
        QualityConfig {
            drop_nav_lines: true,
            drop_copyright_lines: true,
            drop_cookie_lines: true,
            drop_javascript_lines: true,
            min_line_words: None,
            max_doc_bytes: Some(4 << 20),
            min_words: Some(50),
            max_words: Some(100_000),
            min_mean_word_length: Some(3.0),
            max_mean_word_length: Some(10.0),
            max_symbol_word_ratio: Some(0.1),
            max_ellipsis_line_fraction: Some(0.3),
            max_bullet_line_fraction: Some(0.9),
            max_duplicate_line_fraction: Some(0.3),
            max_duplicate_line_char_fraction: Some(0.2),
            min_punctuated_line_fraction: None,
            max_short_line_fraction: None,
            short_line_chars: 30,
            max_top_ngram_char_fraction: vec![(2, 0.20), (3, 0.18), (4, 0.16)],
            max_duplicate_ngram_char_fraction: vec![
                (5, 0.15),
                (6, 0.14),
                (7, 0.13),
                (8, 0.12),
                (9, 0.11),
                (10, 0.10),
            ],
            min_stop_words: Some(2),
            min_alpha_word_fraction: Some(0.8),
            boilerplate_markers: DEFAULT_BOILERPLATE_MARKERS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            scrub_pii: false,
            max_ngram_words: 200_000,
        }
    }
}

impl QualityConfig {
    /// A config with every document filter and line rule off (only `empty_after_cleanup` and
    /// blank-line collapsing remain). Handy as a base for enabling single filters.
    pub fn disabled() -> Self {
        QualityConfig {
            drop_nav_lines: false,
            drop_copyright_lines: false,
            drop_cookie_lines: false,
            drop_javascript_lines: false,
            min_line_words: None,
            max_doc_bytes: None,
            min_words: None,
            max_words: None,
            min_mean_word_length: None,
            max_mean_word_length: None,
            max_symbol_word_ratio: None,
            max_ellipsis_line_fraction: None,
            max_bullet_line_fraction: None,
            max_duplicate_line_fraction: None,
            max_duplicate_line_char_fraction: None,
            min_punctuated_line_fraction: None,
            max_short_line_fraction: None,
            short_line_chars: 30,
            max_top_ngram_char_fraction: Vec::new(),
            max_duplicate_ngram_char_fraction: Vec::new(),
            min_stop_words: None,
            min_alpha_word_fraction: None,
            boilerplate_markers: Vec::new(),
            scrub_pii: false,
            max_ngram_words: 200_000,
        }
    }

    /// Reject settings that cannot work (NaN, fractions outside 0..=1, n = 0, min > max).
    /// [`filter_document`] does not call this; call it once where a config is loaded.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |m: String| Err(crate::Error::InvalidArgument(m));
        let fractions = [
            (
                "max_ellipsis_line_fraction",
                self.max_ellipsis_line_fraction,
            ),
            ("max_bullet_line_fraction", self.max_bullet_line_fraction),
            (
                "max_duplicate_line_fraction",
                self.max_duplicate_line_fraction,
            ),
            (
                "max_duplicate_line_char_fraction",
                self.max_duplicate_line_char_fraction,
            ),
            (
                "min_punctuated_line_fraction",
                self.min_punctuated_line_fraction,
            ),
            ("max_short_line_fraction", self.max_short_line_fraction),
            ("min_alpha_word_fraction", self.min_alpha_word_fraction),
        ];
        for (name, v) in fractions {
            if let Some(v) = v {
                if !(0.0..=1.0).contains(&v) {
                    return bad(format!("{name} must be within 0..=1, got {v}"));
                }
            }
        }
        for (name, v) in [
            ("min_mean_word_length", self.min_mean_word_length),
            ("max_mean_word_length", self.max_mean_word_length),
            ("max_symbol_word_ratio", self.max_symbol_word_ratio),
        ] {
            if let Some(v) = v {
                if !(v >= 0.0 && v.is_finite()) {
                    return bad(format!("{name} must be a finite number >= 0, got {v}"));
                }
            }
        }
        if let (Some(lo), Some(hi)) = (self.min_words, self.max_words) {
            if lo > hi {
                return bad(format!("min_words {lo} > max_words {hi}"));
            }
        }
        if let (Some(lo), Some(hi)) = (self.min_mean_word_length, self.max_mean_word_length) {
            if lo > hi {
                return bad(format!(
                    "min_mean_word_length {lo} > max_mean_word_length {hi}"
                ));
            }
        }
        for (name, list) in [
            (
                "max_top_ngram_char_fraction",
                &self.max_top_ngram_char_fraction,
            ),
            (
                "max_duplicate_ngram_char_fraction",
                &self.max_duplicate_ngram_char_fraction,
            ),
        ] {
            for &(n, v) in list {
                if n == 0 || n > 64 {
                    return bad(format!("{name}: n must be within 1..=64, got {n}"));
                }
                if !(0.0..=1.0).contains(&v) {
                    return bad(format!("{name}: fraction must be within 0..=1, got {v}"));
                }
            }
        }
        if self.boilerplate_markers.iter().any(|m| m.trim().is_empty()) {
            return bad("boilerplate_markers: empty marker".to_string());
        }
        Ok(())
    }
}

/// Is `lang` Chinese, Japanese or another language written without spaces between words?
fn is_unsegmented_lang(lang: &str) -> bool {
    matches!(
        lang,
        "zh" | "ja" | "th" | "lo" | "km" | "my" | "bo" | "yue" | "wuu"
    )
}

/// Run the line cleanup and every enabled document filter on one document.
///
/// `lang` is the document language if known (ISO 639-1, `"en-US"`/`"eng"` are normalised); it
/// selects the stop-word list and, for Chinese/Japanese/Thai, skips the mean-word-length and
/// stop-word checks. With `None` the stop-word check is skipped.
pub fn filter_document(text: &str, lang: Option<&str>, cfg: &QualityConfig) -> FilterOutcome {
    if let Some(max) = cfg.max_doc_bytes {
        if text.len() > max {
            return drop_with(DropReason::TooLong, format!("{} bytes > {max}", text.len()));
        }
    }

    // 1. line-level cleanup
    let cleaned = lines::clean_lines(text, cfg);
    if cleaned.trim().is_empty() {
        return drop_with(
            DropReason::EmptyAfterCleanup,
            "no line left after cleanup".to_string(),
        );
    }

    // 2. boilerplate markers
    if let Some(m) = find_marker(&cleaned, &cfg.boilerplate_markers) {
        return drop_with(DropReason::BoilerplateMarker, format!("contains {m:?}"));
    }

    // 3. word statistics (one pass)
    let lang_norm = lang.map(crate::langid::normalize_lang);
    let stop_list = match (cfg.min_stop_words, lang_norm.as_deref()) {
        (Some(n), Some(l)) if n > 0 && !is_unsegmented_lang(l) => stopwords::list_for(l),
        _ => None,
    };
    let need_units = !cfg.max_top_ngram_char_fraction.is_empty()
        || !cfg.max_duplicate_ngram_char_fraction.is_empty();
    let ws = words::analyze(
        &cleaned,
        stop_list,
        cfg.min_stop_words.unwrap_or(0),
        need_units,
        cfg.max_ngram_words,
    );

    if let Some(min) = cfg.min_words {
        if ws.words < min {
            return drop_with(
                DropReason::TooFewWords,
                format!("{} words < {min}", ws.words),
            );
        }
    }
    if let Some(max) = cfg.max_words {
        if ws.words > max {
            return drop_with(
                DropReason::TooManyWords,
                format!("{} words > {max}", ws.words),
            );
        }
    }
    let unsegmented = lang_norm.as_deref().is_some_and(is_unsegmented_lang)
        || ws.unsegmented_words * 2 > ws.words;
    if !unsegmented && ws.segmented_words > 0 {
        let mean = ws.segmented_chars as f64 / ws.segmented_words as f64;
        if let Some(min) = cfg.min_mean_word_length {
            if mean < min {
                return drop_with(
                    DropReason::MeanWordLength,
                    format!("mean word length {mean:.2} < {min}"),
                );
            }
        }
        if let Some(max) = cfg.max_mean_word_length {
            if mean > max {
                return drop_with(
                    DropReason::MeanWordLength,
                    format!("mean word length {mean:.2} > {max}"),
                );
            }
        }
    }
    if let Some(max) = cfg.max_symbol_word_ratio {
        let denom = ws.words.max(1) as f64;
        let hash = ws.hashes as f64 / denom;
        let ell = ws.ellipses as f64 / denom;
        if hash > max {
            return drop_with(
                DropReason::SymbolRatio,
                format!("'#' per word {hash:.3} > {max}"),
            );
        }
        if ell > max {
            return drop_with(
                DropReason::SymbolRatio,
                format!("ellipses per word {ell:.3} > {max}"),
            );
        }
    }
    if let Some(min) = cfg.min_alpha_word_fraction {
        let total = ws.words + ws.symbol_tokens;
        if total > 0 {
            let frac = ws.alpha_words as f64 / total as f64;
            if frac < min {
                return drop_with(
                    DropReason::AlphaWords,
                    format!("alphabetic word fraction {frac:.3} < {min}"),
                );
            }
        }
    }
    if let (Some(min), Some(_)) = (cfg.min_stop_words, stop_list) {
        if ws.stop_words < min {
            return drop_with(
                DropReason::StopWords,
                format!(
                    "{} stop words of {:?} < {min}",
                    ws.stop_words,
                    lang_norm.as_deref().unwrap_or("")
                ),
            );
        }
    }

    // 4. line statistics
    let ls = repetition::line_stats(&cleaned, cfg.short_line_chars);
    if ls.lines > 0 {
        let n = ls.lines as f64;
        if let Some(max) = cfg.max_bullet_line_fraction {
            let f = ls.bullet_lines as f64 / n;
            if f > max {
                return drop_with(
                    DropReason::BulletLines,
                    format!("bullet line fraction {f:.3} > {max}"),
                );
            }
        }
        if let Some(max) = cfg.max_ellipsis_line_fraction {
            let f = ls.ellipsis_lines as f64 / n;
            if f > max {
                return drop_with(
                    DropReason::EllipsisLines,
                    format!("ellipsis line fraction {f:.3} > {max}"),
                );
            }
        }
        if let Some(max) = cfg.max_duplicate_line_fraction {
            let f = ls.duplicate_lines as f64 / n;
            if f > max {
                return drop_with(
                    DropReason::DuplicateLines,
                    format!("duplicate line fraction {f:.3} > {max}"),
                );
            }
        }
        if let Some(max) = cfg.max_duplicate_line_char_fraction {
            let f = ls.duplicate_chars as f64 / ls.chars.max(1) as f64;
            if f > max {
                return drop_with(
                    DropReason::DuplicateLineChars,
                    format!("duplicate line char fraction {f:.3} > {max}"),
                );
            }
        }
        if let Some(min) = cfg.min_punctuated_line_fraction {
            let skip = lang_norm
                .as_deref()
                .is_some_and(|l| matches!(l, "th" | "lo" | "km" | "my" | "bo"));
            let f = ls.punctuated_lines as f64 / n;
            if !skip && f < min {
                return drop_with(
                    DropReason::LinePunctuation,
                    format!("punctuated line fraction {f:.3} < {min}"),
                );
            }
        }
        if let Some(max) = cfg.max_short_line_fraction {
            let f = ls.short_lines as f64 / n;
            if f > max {
                return drop_with(
                    DropReason::ShortLines,
                    format!(
                        "fraction of lines under {} chars {f:.3} > {max}",
                        cfg.short_line_chars
                    ),
                );
            }
        }
    }

    // 5. n-gram repetition
    if need_units && !ws.units.is_empty() {
        let mut ng = repetition::Ngrams::new(&ws.units);
        for &(n, max) in &cfg.max_top_ngram_char_fraction {
            let f = ng.top_ngram_char_fraction(n);
            if f > max {
                return drop_with(
                    DropReason::TopNgramFraction,
                    format!("top {n}-gram char fraction {f:.3} > {max}"),
                );
            }
        }
        // Words covered by repeated (n+1)-grams are covered by repeated n-grams, so the
        // fraction never grows with n: a value measured for a smaller n that is already under
        // this n's threshold proves this n passes, and the pass is skipped.
        let mut bound: Option<(usize, f64)> = None;
        for &(n, max) in &cfg.max_duplicate_ngram_char_fraction {
            if let Some((bn, bf)) = bound {
                if bn <= n && bf <= max {
                    continue;
                }
            }
            let f = ng.duplicate_ngram_char_fraction(n);
            if bound.is_none_or(|(bn, _)| n <= bn) {
                bound = Some((n, f));
            }
            if f > max {
                return drop_with(
                    DropReason::DuplicateNgramFraction,
                    format!("duplicate {n}-gram char fraction {f:.3} > {max}"),
                );
            }
        }
    }

    // 6. output
    let text = if cfg.scrub_pii {
        match pii::scrub(&cleaned) {
            std::borrow::Cow::Borrowed(_) => cleaned,
            std::borrow::Cow::Owned(s) => s,
        }
    } else {
        cleaned
    };
    FilterOutcome::Keep { text }
}

/// Automaton over ASCII-lowercased markers; leftmost-first matching lets aho-corasick use its
/// SIMD (Teddy) prefilter, which case-insensitive automata cannot.
fn build_marker_automaton<S: AsRef<str>>(markers: &[S]) -> Option<AhoCorasick> {
    AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostFirst)
        .build(markers.iter().map(|m| m.as_ref().to_ascii_lowercase()))
        .ok()
}

/// First marker found in `text` (ASCII case-insensitive), if any.
///
/// One pass of an Aho-Corasick automaton over an ASCII-lowercased copy of the text. The
/// automaton for the default list is built once per process; for a custom list it is built
/// once per thread and reused while the list stays the same (the usual case: one config for
/// a whole batch).
fn find_marker<'a>(text: &str, markers: &'a [String]) -> Option<&'a str> {
    if markers.is_empty() {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let is_default = markers.len() == DEFAULT_BOILERPLATE_MARKERS.len()
        && markers
            .iter()
            .zip(DEFAULT_BOILERPLATE_MARKERS)
            .all(|(a, b)| a == b);
    let found = if is_default {
        static DEFAULT_AC: OnceLock<Option<AhoCorasick>> = OnceLock::new();
        DEFAULT_AC
            .get_or_init(|| build_marker_automaton(DEFAULT_BOILERPLATE_MARKERS))
            .as_ref()
            .map(|ac| ac.find(&lower).map(|m| m.pattern().as_usize()))
    } else {
        thread_local! {
            static CUSTOM_AC: RefCell<Option<(Vec<String>, Option<AhoCorasick>)>> =
                const { RefCell::new(None) };
        }
        CUSTOM_AC.with(|cell| {
            let mut cache = cell.borrow_mut();
            if cache
                .as_ref()
                .is_none_or(|(list, _)| list.as_slice() != markers)
            {
                *cache = Some((markers.to_vec(), build_marker_automaton(markers)));
            }
            cache
                .as_ref()
                .and_then(|(_, ac)| ac.as_ref())
                .map(|ac| ac.find(&lower).map(|m| m.pattern().as_usize()))
        })
    };
    match found {
        Some(hit) => hit.map(|i| markers[i].as_str()),
        // the automaton could not be built (never expected): plain searches
        None => markers
            .iter()
            .find(|m| {
                memchr::memmem::find(lower.as_bytes(), m.to_ascii_lowercase().as_bytes()).is_some()
            })
            .map(|m| m.as_str()),
    }
}

/// [`filter_document`] over many documents in parallel (rayon), results in input order.
///
/// `langs[i]` is the language of `texts[i]`; a shorter `langs` (an empty slice, say) leaves
/// the remaining documents' language unknown.
pub fn filter_batch(
    texts: &[&str],
    langs: &[Option<&str>],
    cfg: &QualityConfig,
) -> Vec<FilterOutcome> {
    texts
        .par_iter()
        .enumerate()
        .map(|(i, t)| filter_document(t, langs.get(i).copied().flatten(), cfg))
        .collect()
}

/// [`filter_batch`] with `langs` checked: empty (languages unknown) or one per text.
pub fn filter_batch_checked(
    texts: &[&str],
    langs: &[Option<&str>],
    cfg: &QualityConfig,
) -> crate::Result<Vec<FilterOutcome>> {
    if !langs.is_empty() && langs.len() != texts.len() {
        return Err(crate::Error::InvalidArgument(format!(
            "langs has {} entries for {} texts",
            langs.len(),
            texts.len()
        )));
    }
    Ok(filter_batch(texts, langs, cfg))
}

#[cfg(test)]
mod tests;
