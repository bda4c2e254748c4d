//! Deduplication at corpus scale: exact (hash set or blocked Bloom filter) and near-duplicate
//! (MinHash + LSH banding + union-find clustering), in memory and as a multi-shard file flow.
//!
//! Design in one page:
//!
//! * **Normalisation** ([`normalize`]): `none` (bytes as given), `lower` (lowercase, whitespace runs
//!   collapsed to one space) or `strict` (`lower` plus every non-alphanumeric character treated as
//!   whitespace).
//! * **Shingles** ([`minhash::Shingles`]): word n-grams, character n-grams, or n-grams of
//!   caller-provided token ids. A document shorter than `n` yields one shingle of all it has;
//!   an empty one yields none (its signature is all `u32::MAX`, like datasketch's empty MinHash).
//! * **Permutations**: both schemes use the affine map `a*h + b mod 2^32` with odd `a` on a
//!   32-bit shingle value `h` (a bijection on `u32`, the scheme datasketch >= 2.0 calls
//!   `affine32`). The kernel keeps 32 accumulators in SIMD registers and is compiled twice
//!   (baseline and AVX2, picked at run time).
//!   - [`minhash::HashScheme::Fast`]: `h` = xxh3-64 of the shingle (word n-grams combine per-word
//!     hashes, so no n-gram string is built); `(a, b)` from a splitmix64 stream seeded by `seed`.
//!   - [`minhash::HashScheme::Datasketch`]: reproduces datasketch `MinHash(num_perm, seed)` bit for
//!     bit: `h = fmix32(sha1_hash32(shingle bytes))`, `(a, b)` drawn from numpy's
//!     `RandomState(seed)` (MT19937). Shingle bytes: the UTF-8 of the n-gram, words joined by one
//!     space; token n-grams are the decimal ids joined by one space.
//! * **LSH** ([`lsh`]): `(bands, rows)` minimise the weighted false-positive + false-negative
//!   integrals exactly like datasketch's `_optimal_param`. Each band is reduced to one 64-bit hash
//!   (xxh3 seeded by the band number). The index stores only those: one `Vec<u64>` per band, the
//!   document id implicit in the position while inserting and packed into the low bits when the
//!   index is sealed and sorted in place, so 14 bands cost 112 bytes per document.
//! * **Clustering** ([`unionfind`]): union-find whose root is always the smallest id, so clusters
//!   and representatives do not depend on the order of unions; a cluster keeps its lowest id or its
//!   longest document (ties to the lowest id). A greedy mode reproduces the usual
//!   "query, then insert if new" loop over datasketch's `MinHashLSH`.
//! * **File flow** ([`bucket`], [`cluster`]), three steps of independent tasks: per shard, its
//!   band and exact keys split into partition files; per partition, that partition of every shard
//!   turned into union edges between global ids (shards in plan order); then one reduce that
//!   unites the edges alone (a union-find over the documents that have a duplicate) and writes a
//!   keep mask per shard. No process holds the signatures or keys of the whole corpus.

pub mod bucket;
pub mod cluster;
pub mod document;
pub mod exact;
pub mod hash;
pub mod lsh;
pub mod minhash;
pub mod near;
pub mod normalize;
pub mod unionfind;

pub use document::DocumentHasher;
pub use exact::{BlockedBloom, ExactDeduper};
pub use lsh::{optimal_param, LshIndex, LshParams};
pub use minhash::{jaccard, HashScheme, MinHasher, Shingles};
pub use near::{near_dup_keep, NearDupMode};
pub use normalize::Normalize;
pub use unionfind::UnionFind;
