//! ROUGE-L F-measure, bit-identical to Google's `rouge_score` (`rougeL`, no stemmer), and a
//! pool of texts for Lion's near-duplicate filter.
//!
//! * [`Tokenizer`]: `rouge_score` (the faithful default: lowercase, ASCII `[a-z0-9]` runs only,
//!   so non-ASCII text has no tokens) or `unicode` (lowercased Unicode alphanumeric words; in
//!   scripts written without spaces, such as Han and kana, one character per token).
//! * [`lcs`]: bit-parallel LCS length (Hyyrö / Allison-Dix, any length through multi-word
//!   carries) over interned token ids, and the F-measure computed in rouge_score's f64 order.
//! * [`RougeLPool`]: tokenized texts with exact `max_similarity`, `top_k` and the sequential
//!   `filter_novel`; a length bound (F <= 2 min(m, n) / (m + n)) skips pairs that cannot change
//!   an answer. Large pools are scanned in chunks on the current rayon pool.

pub mod lcs;
mod pool;
mod tokenize;

#[cfg(test)]
mod tests;

pub use pool::{check_threshold, rouge_l_f1, RougeLPool};
pub use tokenize::Tokenizer;
