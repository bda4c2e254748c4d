//! A pool of tokenized texts for exact ROUGE-L queries and the sequential novelty filter.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::ops::Range;

use rayon::prelude::*;
use xxhash_rust::xxh3::Xxh3Builder;

use super::lcs::{could_exceed, f1_from_lcs, Pattern};
use super::tokenize::Tokenizer;
use crate::error::{Error, Result};

/// Pool tokens from which one candidate's scan is split over threads.
const PARALLEL_SCAN_TOKENS: usize = 1 << 15;
/// Candidates x pool tokens from which a batch query runs candidates on several threads.
const PARALLEL_BATCH_WORK: usize = 1 << 18;
/// Texts from which `add` tokenizes on several threads.
const PARALLEL_ADD_TEXTS: usize = 2048;
/// Pool texts per parallel work item.
const CHUNK_TEXTS: usize = 256;

/// Id given to a candidate's word that no pool text contains: it matches nothing.
const UNKNOWN: u32 = u32::MAX;

/// Texts, their tokens as interned ids (one flat array, CSR offsets) and the vocabulary.
///
/// Scores follow rouge_score's `_score_lcs(candidate_tokens, pool_tokens)` (the candidate is
/// the target, the pool text the prediction, as in self-instruct style generators); the
/// F-measure is symmetric bit for bit anyway. All queries are exact: the length bound only
/// skips pairs that cannot change the answer.
pub struct RougeLPool {
    tokenizer: Tokenizer,
    vocab: HashMap<Box<str>, u32, Xxh3Builder>,
    texts: Vec<String>,
    tokens: Vec<u32>,
    starts: Vec<usize>,
}

/// A scored pool text, ordered best first: higher score, then lower index.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Ranked {
    score: f64,
    index: usize,
}

impl Eq for Ranked {}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.index.cmp(&other.index))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Checks a novelty threshold: a finite number in [0, 1].
pub fn check_threshold(threshold: f64) -> Result<()> {
    if threshold.is_finite() && (0.0..=1.0).contains(&threshold) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "threshold must be a finite number in [0, 1], got {threshold}"
        )))
    }
}

fn split_ranges(len: usize) -> Vec<Range<usize>> {
    (0..len)
        .step_by(CHUNK_TEXTS)
        .map(|lo| lo..(lo + CHUNK_TEXTS).min(len))
        .collect()
}

impl RougeLPool {
    pub fn new(tokenizer: Tokenizer) -> Self {
        RougeLPool {
            tokenizer,
            vocab: HashMap::with_hasher(Xxh3Builder::new()),
            texts: Vec::new(),
            tokens: Vec::new(),
            starts: vec![0],
        }
    }

    pub fn tokenizer(&self) -> Tokenizer {
        self.tokenizer
    }

    pub fn len(&self) -> usize {
        self.texts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// Total tokens over all pool texts.
    pub fn token_count(&self) -> usize {
        self.tokens.len()
    }

    pub fn text(&self, index: usize) -> Option<&str> {
        self.texts.get(index).map(String::as_str)
    }

    /// The interned token ids of pool text `index` (panics when out of range).
    fn ids(&self, index: usize) -> &[u32] {
        &self.tokens[self.starts[index]..self.starts[index + 1]]
    }

    /// Whether one candidate's scan of the pool is split over threads.
    pub fn scan_in_parallel(&self) -> bool {
        self.tokens.len() >= PARALLEL_SCAN_TOKENS
    }

    /// Whether a batch query over `candidates` runs on several threads (by candidate, or by
    /// pool chunk when the pool is large). Callers use it to decide whether to set up a pool.
    pub fn batch_in_parallel(&self, candidates: usize) -> bool {
        (candidates > 1 && candidates.saturating_mul(self.tokens.len()) >= PARALLEL_BATCH_WORK)
            || self.scan_in_parallel()
    }

    /// Whether `add` of `texts` texts tokenizes on several threads.
    pub fn add_in_parallel(texts: usize) -> bool {
        texts >= PARALLEL_ADD_TEXTS
    }

    fn tokenize_all<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Vec<Vec<String>> {
        let tokenizer = self.tokenizer;
        if Self::add_in_parallel(texts.len()) {
            texts
                .par_iter()
                .map(|t| tokenizer.tokenize(t.as_ref()))
                .collect()
        } else {
            texts
                .iter()
                .map(|t| tokenizer.tokenize(t.as_ref()))
                .collect()
        }
    }

    fn push_tokens(&mut self, text: String, words: &[String]) -> Result<()> {
        for word in words {
            let next = self.vocab.len();
            if next >= UNKNOWN as usize {
                return Err(Error::InvalidArgument(
                    "a ROUGE-L pool holds at most 2^32 - 1 distinct words".into(),
                ));
            }
            let id = *self
                .vocab
                .entry(word.as_str().into())
                .or_insert(next as u32);
            self.tokens.push(id);
        }
        self.starts.push(self.tokens.len());
        self.texts.push(text);
        Ok(())
    }

    /// Appends `texts` to the pool (indices `len() ..`).
    pub fn add<S: AsRef<str> + Sync>(&mut self, texts: &[S]) -> Result<()> {
        let tokenized = self.tokenize_all(texts);
        for (text, words) in texts.iter().zip(&tokenized) {
            self.push_tokens(text.as_ref().to_owned(), words)?;
        }
        Ok(())
    }

    /// A candidate's words as pool ids (`UNKNOWN` for words no pool text has).
    fn lookup(&self, words: &[String]) -> Vec<u32> {
        words
            .iter()
            .map(|w| self.vocab.get(w.as_str()).copied().unwrap_or(UNKNOWN))
            .collect()
    }

    fn pattern_of(&self, words: &[String], pattern: &mut Pattern) {
        pattern.set(&self.lookup(words), self.vocab.len());
    }

    /// F-measure of the pattern (target) against pool text `index` (prediction).
    #[inline]
    fn score(&self, pattern: &Pattern, index: usize, row: &mut Vec<u64>) -> f64 {
        let ids = self.ids(index);
        f1_from_lcs(pattern.lcs(ids, row), pattern.len(), ids.len())
    }

    /// Best (score, index) in `range`, lowest index among ties; None for an empty range.
    fn best_in(&self, pattern: &Pattern, range: Range<usize>) -> Option<Ranked> {
        let mut row = Vec::new();
        let mut best: Option<Ranked> = None;
        for index in range {
            let n = self.starts[index + 1] - self.starts[index];
            let floor = best.map_or(f64::NEG_INFINITY, |b| b.score);
            if !could_exceed(pattern.len(), n, floor) {
                continue;
            }
            let score = self.score(pattern, index, &mut row);
            if score > floor {
                best = Some(Ranked { score, index });
            }
        }
        best
    }

    fn best(&self, pattern: &Pattern, parallel: bool) -> Option<Ranked> {
        if parallel {
            split_ranges(self.len())
                .into_par_iter()
                .filter_map(|r| self.best_in(pattern, r))
                .min()
        } else {
            self.best_in(pattern, 0..self.len())
        }
    }

    /// For each candidate, the exact maximum F-measure over the pool and the lowest pool index
    /// reaching it; `(0.0, None)` when the pool is empty.
    pub fn max_similarity<S: AsRef<str> + Sync>(
        &self,
        candidates: &[S],
    ) -> Vec<(f64, Option<usize>)> {
        let tokenizer = self.tokenizer;
        let one = |c: &S, pattern: &mut Pattern, parallel: bool| {
            self.pattern_of(&tokenizer.tokenize(c.as_ref()), pattern);
            self.best(pattern, parallel)
                .map_or((0.0, None), |b| (b.score, Some(b.index)))
        };
        let by_candidate = candidates.len() > 1
            && candidates.len().saturating_mul(self.tokens.len()) >= PARALLEL_BATCH_WORK;
        if by_candidate {
            candidates
                .par_iter()
                .map_init(Pattern::new, |pattern, c| one(c, pattern, false))
                .collect()
        } else {
            let mut pattern = Pattern::new();
            let parallel = self.scan_in_parallel();
            candidates
                .iter()
                .map(|c| one(c, &mut pattern, parallel))
                .collect()
        }
    }

    fn top_in(&self, pattern: &Pattern, range: Range<usize>, k: usize) -> Vec<Ranked> {
        let mut row = Vec::new();
        // Max-heap under best-first order: the top is the worst kept entry.
        let mut heap: BinaryHeap<Ranked> = BinaryHeap::with_capacity(k + 1);
        for index in range {
            let n = self.starts[index + 1] - self.starts[index];
            let floor = match heap.peek() {
                Some(worst) if heap.len() == k => worst.score,
                _ => f64::NEG_INFINITY,
            };
            if !could_exceed(pattern.len(), n, floor) {
                continue;
            }
            heap.push(Ranked {
                score: self.score(pattern, index, &mut row),
                index,
            });
            if heap.len() > k {
                heap.pop();
            }
        }
        heap.into_vec()
    }

    /// The `k` pool texts most similar to `candidate` as (index, score), best first, ties to
    /// the lower index; fewer when the pool is smaller.
    pub fn top_k(&self, candidate: &str, k: usize) -> Result<Vec<(usize, f64)>> {
        if k == 0 {
            return Err(Error::InvalidArgument("k must be at least 1".into()));
        }
        let k = k.min(self.len());
        if k == 0 {
            return Ok(Vec::new());
        }
        let mut pattern = Pattern::new();
        self.pattern_of(&self.tokenizer.tokenize(candidate), &mut pattern);
        let mut top: Vec<Ranked> = if self.scan_in_parallel() {
            split_ranges(self.len())
                .into_par_iter()
                .flat_map_iter(|r| self.top_in(&pattern, r, k))
                .collect()
        } else {
            self.top_in(&pattern, 0..self.len(), k)
        };
        top.sort_unstable();
        top.truncate(k);
        Ok(top.into_iter().map(|r| (r.index, r.score)).collect())
    }

    fn exceeds_in(&self, pattern: &Pattern, range: Range<usize>, threshold: f64) -> bool {
        let mut row = Vec::new();
        range.into_iter().any(|index| {
            let n = self.starts[index + 1] - self.starts[index];
            could_exceed(pattern.len(), n, threshold)
                && self.score(pattern, index, &mut row) > threshold
        })
    }

    /// Lion's novelty filter, sequential: candidate `i` is novel when its F-measure against
    /// every pool text and every earlier novel candidate is at most `threshold`. Novel
    /// candidates stay in the pool when `add`; otherwise the pool is left as it was (the answer
    /// is the same either way). Returns one flag per candidate, true = novel.
    pub fn filter_novel<S: AsRef<str> + Sync>(
        &mut self,
        candidates: &[S],
        threshold: f64,
        add: bool,
    ) -> Result<Vec<bool>> {
        check_threshold(threshold)?;
        let (texts_before, tokens_before) = (self.texts.len(), self.tokens.len());
        let tokenized = self.tokenize_all(candidates);
        let mut pattern = Pattern::new();
        let mut novel = Vec::with_capacity(candidates.len());
        for (candidate, words) in candidates.iter().zip(&tokenized) {
            self.pattern_of(words, &mut pattern);
            let similar = if self.scan_in_parallel() {
                split_ranges(self.len())
                    .into_par_iter()
                    .any(|r| self.exceeds_in(&pattern, r, threshold))
            } else {
                self.exceeds_in(&pattern, 0..self.len(), threshold)
            };
            if !similar {
                self.push_tokens(candidate.as_ref().to_owned(), words)?;
            }
            novel.push(!similar);
        }
        if !add {
            // Words of the dropped texts stay in the vocabulary: unused ids are harmless.
            self.texts.truncate(texts_before);
            self.tokens.truncate(tokens_before);
            self.starts.truncate(texts_before + 1);
        }
        Ok(novel)
    }
}

/// ROUGE-L F-measure of two texts, `target` as rouge_score's target and `prediction` as its
/// prediction (the value is symmetric).
pub fn rouge_l_f1(target: &str, prediction: &str, tokenizer: Tokenizer) -> Result<f64> {
    let mut pool = RougeLPool::new(tokenizer);
    pool.add(&[prediction])?;
    let mut pattern = Pattern::new();
    pool.pattern_of(&tokenizer.tokenize(target), &mut pattern);
    Ok(pool.score(&pattern, 0, &mut Vec::new()))
}
