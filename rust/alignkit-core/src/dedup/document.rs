//! Whole-document operations over batches: a MinHasher with its shingling settings, exact keys
//! of many documents, and step 1 of the file flow (per-shard partition files) driven from
//! document texts or token ids. Batch work runs on the current rayon pool.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::bucket::{write_shard_files, ShardBands};
use super::exact::{exact_hash, exact_hash_tokens, ExactDeduper};
use super::lsh::{band_hashes_batch, LshParams};
use super::minhash::{HashScheme, MinHasher, Scratch, Shingles};
use super::normalize::Normalize;
use crate::Result;

/// A [`MinHasher`] plus how documents become shingles: `ngram`-grams of words or characters of
/// the normalised text, or of token ids.
#[derive(Clone, Debug)]
pub struct DocumentHasher {
    pub hasher: MinHasher,
    pub shingles: Shingles,
    pub normalize: Normalize,
    pub ngram: usize,
}

impl DocumentHasher {
    /// From option names as config files spell them (`shingle`: word/char, `normalize`:
    /// none/lower/strict, `scheme`: fast/datasketch).
    pub fn new(
        num_perm: usize,
        seed: u64,
        ngram: usize,
        shingle: &str,
        normalize: &str,
        scheme: &str,
    ) -> Result<Self> {
        Ok(DocumentHasher {
            shingles: Shingles::parse(shingle, ngram)?,
            normalize: Normalize::parse(normalize)?,
            hasher: MinHasher::new(num_perm, seed, HashScheme::parse(scheme)?)?,
            ngram,
        })
    }

    pub fn num_perm(&self) -> usize {
        self.hasher.num_perm()
    }

    pub fn shingle_name(&self) -> &'static str {
        match self.shingles {
            Shingles::Words(_) => "word",
            Shingles::Chars(_) => "char",
        }
    }

    /// Signature of one text.
    pub fn sign_text(&self, text: &str) -> Vec<u32> {
        let mut sig = vec![0u32; self.num_perm()];
        let mut scratch = Scratch::default();
        self.hasher
            .sign_text(text, self.shingles, self.normalize, &mut sig, &mut scratch);
        sig
    }

    /// Signature of one token-id sequence.
    pub fn sign_tokens(&self, ids: &[u32]) -> Vec<u32> {
        let mut sig = vec![0u32; self.num_perm()];
        let mut scratch = Scratch::default();
        self.hasher
            .sign_tokens(ids, self.ngram, &mut sig, &mut scratch);
        sig
    }

    /// Signatures of many texts, row-major (`texts.len() * num_perm`).
    pub fn sign_texts<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Vec<u32> {
        let mut out = vec![0u32; texts.len() * self.num_perm()];
        self.hasher
            .sign_texts(texts, self.shingles, self.normalize, &mut out);
        out
    }

    /// Signatures of many token-id sequences, row-major.
    pub fn sign_token_seqs<T: AsRef<[u32]> + Sync>(&self, seqs: &[T]) -> Vec<u32> {
        let mut out = vec![0u32; seqs.len() * self.num_perm()];
        self.hasher.sign_token_seqs(seqs, self.ngram, &mut out);
        out
    }

    /// Signatures from pre-hashed shingles: one flat buffer and `rows + 1` offsets.
    pub fn sign_prehashed(&self, hashes: &[u64], offsets: &[usize]) -> Result<Vec<u32>> {
        let rows = offsets.len().saturating_sub(1);
        let mut out = vec![0u32; rows * self.num_perm()];
        self.hasher.sign_prehashed(hashes, offsets, &mut out)?;
        Ok(out)
    }
}

/// 64-bit exact keys (low half of [`exact_hash`]) of many texts.
pub fn exact_hashes<S: AsRef<str> + Sync>(texts: &[S], normalize: Normalize) -> Vec<u64> {
    texts
        .par_iter()
        .with_min_len(64)
        .map_init(String::new, |s, t| {
            exact_hash(t.as_ref(), normalize, s) as u64
        })
        .collect()
}

/// 64-bit exact keys of many token-id sequences.
pub fn exact_hashes_tokens<T: AsRef<[u32]>>(seqs: &[T]) -> Vec<u64> {
    seqs.iter()
        .map(|ids| exact_hash_tokens(ids.as_ref()) as u64)
        .collect()
}

impl ExactDeduper {
    /// Offer many texts: keys hashed in parallel, decided in input order. The keep mask.
    pub fn insert_texts<S: AsRef<str> + Sync>(&mut self, texts: &[S]) -> Vec<bool> {
        let mode = self.normalize();
        let hashes: Vec<u128> = texts
            .par_iter()
            .with_min_len(64)
            .map_init(String::new, |s, t| exact_hash(t.as_ref(), mode, s))
            .collect();
        hashes.into_iter().map(|h| self.insert_hash(h)).collect()
    }
}

/// Where step 1 writes one shard: `partitions[p]` holds partition `p` of its keys (as many
/// partitions as paths), `lengths` its document lengths.
#[derive(Clone, Copy, Debug)]
pub struct ShardFiles<'a> {
    pub partitions: &'a [PathBuf],
    pub lengths: &'a Path,
}

/// Band hashes of `sigs` plus the exact keys and lengths, written as the shard's files.
fn write_signature_shard_files(
    files: ShardFiles<'_>,
    sigs: &[u32],
    num_perm: usize,
    params: LshParams,
    exact: Vec<u64>,
    lengths: Vec<u64>,
) -> Result<()> {
    let shard = ShardBands {
        bands: params.bands,
        band_hashes: band_hashes_batch(sigs, num_perm, params),
        exact,
        lengths,
    };
    write_shard_files(&shard, files.partitions, files.lengths)
}

/// File flow, step 1: signatures, band hashes, exact keys and character lengths of one shard's
/// texts, written as its partition and lengths files. Returns the number of documents.
pub fn write_text_shard_files<S: AsRef<str> + Sync>(
    texts: &[S],
    files: ShardFiles<'_>,
    hasher: &DocumentHasher,
    bands: usize,
    rows: usize,
    exact_normalize: Normalize,
) -> Result<usize> {
    let params = LshParams::new(bands, rows, hasher.num_perm())?;
    let sigs = hasher.sign_texts(texts);
    let (exact, lengths): (Vec<u64>, Vec<u64>) = texts
        .par_iter()
        .with_min_len(64)
        .map_init(String::new, |s, t| {
            let t = t.as_ref();
            (
                exact_hash(t, exact_normalize, s) as u64,
                t.chars().count() as u64,
            )
        })
        .unzip();
    write_signature_shard_files(files, &sigs, hasher.num_perm(), params, exact, lengths)?;
    Ok(texts.len())
}

/// File flow, step 1 for token-id documents: lengths are token counts and exact keys hash the
/// id sequence.
pub fn write_token_shard_files<T: AsRef<[u32]> + Sync>(
    token_ids: &[T],
    files: ShardFiles<'_>,
    hasher: &DocumentHasher,
    bands: usize,
    rows: usize,
) -> Result<usize> {
    let params = LshParams::new(bands, rows, hasher.num_perm())?;
    let sigs = hasher.sign_token_seqs(token_ids);
    let exact = token_ids
        .par_iter()
        .map(|t| exact_hash_tokens(t.as_ref()) as u64)
        .collect();
    let lengths = token_ids.iter().map(|t| t.as_ref().len() as u64).collect();
    write_signature_shard_files(files, &sigs, hasher.num_perm(), params, exact, lengths)?;
    Ok(token_ids.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::bucket::{partition_edges, read_lengths_file, write_edge_file};
    use crate::dedup::cluster::cluster_edge_files;
    use crate::dedup::unionfind::Keep;

    fn hasher() -> DocumentHasher {
        DocumentHasher::new(32, 1, 2, "word", "lower", "fast").unwrap()
    }

    #[test]
    fn hasher_parses_names_and_signs_like_the_minhasher() {
        let h = hasher();
        assert_eq!((h.num_perm(), h.shingle_name(), h.ngram), (32, "word", 2));
        let texts = ["the cat sat", "The  CAT sat"];
        let batch = h.sign_texts(&texts);
        assert_eq!(&batch[..32], h.sign_text(texts[0]).as_slice());
        assert_eq!(
            &batch[..32],
            &batch[32..],
            "lower normalisation makes them equal"
        );
        assert!(DocumentHasher::new(32, 1, 2, "byte", "lower", "fast").is_err());
        assert!(DocumentHasher::new(32, 1, 2, "word", "upper", "fast").is_err());
        assert!(DocumentHasher::new(32, 1, 2, "word", "lower", "slow").is_err());
        let tokens = [vec![1u32, 2, 3], vec![1, 2, 3]];
        assert_eq!(
            &h.sign_token_seqs(&tokens)[..32],
            h.sign_tokens(&tokens[0]).as_slice()
        );
    }

    #[test]
    fn exact_keys_and_batch_insert() {
        let texts = ["a b", "A  b", "c"];
        let keys = exact_hashes(&texts, Normalize::Lower);
        assert_eq!(keys[0], keys[1]);
        assert_ne!(keys[0], keys[2]);
        let mut d = ExactDeduper::with_set(Normalize::Lower);
        assert_eq!(d.insert_texts(&texts), vec![true, false, true]);
        assert_eq!((d.seen(), d.removed()), (3, 1));
        let tok = exact_hashes_tokens(&[vec![1u32, 2], vec![1, 2], vec![2, 1]]);
        assert_eq!(tok[0], tok[1]);
        assert_ne!(tok[0], tok[2]);
    }

    #[test]
    fn file_flow_from_texts_finds_duplicates() {
        let dir = std::env::temp_dir().join(format!("ak-doc-flow-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let h = hasher();
        let partitions = 2;
        let paths = |stem: &str| -> (Vec<PathBuf>, PathBuf) {
            let parts = (0..partitions)
                .map(|p| dir.join(format!("{stem}.{p:05}.bkt")))
                .collect();
            (parts, dir.join(format!("{stem}.len")))
        };
        fn files(p: &(Vec<PathBuf>, PathBuf)) -> ShardFiles<'_> {
            ShardFiles {
                partitions: &p.0,
                lengths: &p.1,
            }
        }
        let (a, b, c) = (paths("a"), paths("b"), paths("c"));
        let texts = ["one two three", "four five six"];
        let n = write_text_shard_files(&texts, files(&a), &h, 16, 2, Normalize::Lower).unwrap();
        assert_eq!(n, 2);
        write_token_shard_files(&[vec![7u32, 8, 9]], files(&b), &h, 16, 2).unwrap();
        assert_eq!(read_lengths_file(&a.1).unwrap(), vec![13, 13]);
        // A third shard repeating the first text exactly.
        write_text_shard_files(&["ONE two three"], files(&c), &h, 16, 2, Normalize::Lower).unwrap();
        let edges: Vec<PathBuf> = (0..partitions)
            .map(|p| {
                let shards = [a.0[p].clone(), b.0[p].clone(), c.0[p].clone()];
                let path = dir.join(format!("{p}.edges"));
                write_edge_file(&path, &partition_edges(&shards, p, true, true).unwrap()).unwrap();
                path
            })
            .collect();
        let res = cluster_edge_files(
            &edges,
            &[a.1.clone(), b.1.clone(), c.1.clone()],
            Keep::First,
        )
        .unwrap();
        let mask: Vec<bool> = (0..3)
            .flat_map(|k| res.shard_keep_mask(k).unwrap())
            .collect();
        assert_eq!(mask, vec![true, true, true, false]);
        assert_eq!(res.exact_removed, 1);
        let x = paths("x");
        assert!(write_text_shard_files(&["x"], files(&x), &h, 17, 2, Normalize::Lower).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
