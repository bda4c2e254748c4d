//! A longest-matching-block sequence matcher whose output equals
//! `difflib.SequenceMatcher(None, a, b, autojunk=True).get_opcodes()` on hashable items.
//!
//! The algorithm is the Ratcliff/Obershelp-style recursion difflib uses: find the longest
//! matching block (earliest in `a`, then earliest in `b`), recurse left and right of it, merge
//! adjacent blocks, emit opcodes. The "popular" rule (`len(b) >= 200`, an item occurring more
//! than `len(b) / 100 + 1` times in `b`) removes items from the index, so a block can never
//! *start* from them, but the block is then extended over equal neighbours (popular or not),
//! exactly as difflib's extension loops do when no junk predicate is given.
//!
//! Speed comes from working on dense item ids: `b`'s distinct items get ids `0..m`, `a`'s items
//! map to those ids (or to "absent"), the `b2j` index is one CSR array, and the per-row
//! "length of the match ending at `j`" table is two stamped arrays, so nothing is cleared
//! between rows or calls. All buffers live in [`SequenceMatcher`] and are reused.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// What a stretch of `a[i1..i2]` / `b[j1..j2]` is, as difflib's opcode tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tag {
    Replace,
    Delete,
    Insert,
    Equal,
}

impl Tag {
    /// difflib's tag string.
    pub fn as_str(self) -> &'static str {
        match self {
            Tag::Replace => "replace",
            Tag::Delete => "delete",
            Tag::Insert => "insert",
            Tag::Equal => "equal",
        }
    }
}

/// One opcode `(tag, i1, i2, j1, j2)`: turn `a[i1..i2]` into `b[j1..j2]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Opcode {
    pub tag: Tag,
    pub i1: usize,
    pub i2: usize,
    pub j1: usize,
    pub j2: usize,
}

/// A matching block: `a[a..a+size] == b[b..b+size]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Match {
    pub a: usize,
    pub b: usize,
    pub size: usize,
}

/// Integer items a matcher can compare (token ids). `key` must be injective within the type;
/// small keys get a direct table slot, the rest go through a hash map.
pub trait Item: Copy {
    fn key(self) -> u64;
}

/// Keys below this get a table slot; the table is sized by the largest key seen (a tokenizer
/// vocabulary), so anything larger takes the hash-map path instead of a huge allocation.
const DENSE_LIMIT: u64 = 1 << 22;

macro_rules! int_item {
    ($($t:ty),*) => {$(
        impl Item for $t {
            #[inline]
            fn key(self) -> u64 {
                // Sign-extending for signed types: injective, and negatives land far above
                // DENSE_LIMIT.
                self as u64
            }
        }
    )*};
}
int_item!(u8, u16, u32, u64, usize, i8, i16, i32, i64);

/// Multiplicative hash for integer keys (the std SipHash is needlessly slow here).
#[derive(Default)]
struct FoldHasher(u64);

impl Hasher for FoldHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type FoldMap<K, V> = HashMap<K, V, BuildHasherDefault<FoldHasher>>;

const ABSENT: u32 = u32::MAX;

/// One cell of the match-length table: valid only when `stamp` is the row that wrote it.
#[derive(Clone, Copy, Default)]
struct Cell {
    stamp: u32,
    len: u32,
}

/// Reusable matcher state; one per thread. [`SequenceMatcher::opcodes`] and
/// [`SequenceMatcher::matching_blocks`] take the two sequences each call.
#[derive(Default)]
pub struct SequenceMatcher {
    /// item -> dense id + 1 (0 = not in `b`) for table-indexable items.
    table: Vec<u32>,
    /// Items outside the table.
    map: FoldMap<u64, u32>,
    /// Dense ids of `a` (ABSENT when the item is not in `b`) and of `b`.
    a_ids: Vec<u32>,
    b_ids: Vec<u32>,
    /// CSR index of `b`: positions of id `d` are `positions[starts[d]..starts[d + 1]]`,
    /// ascending; popular ids have an empty range.
    starts: Vec<u32>,
    positions: Vec<u32>,
    fill: Vec<u32>,
    /// Match lengths of the previous and current row, by parity of the row stamp.
    rows: [Vec<Cell>; 2],
    /// Row stamp of the last row written (visible to the tests, which force a wrap-around).
    pub(super) stamp: u32,
    queue: Vec<(usize, usize, usize, usize)>,
    blocks: Vec<Match>,
}

impl SequenceMatcher {
    pub fn new() -> Self {
        Self::default()
    }

    /// `difflib.SequenceMatcher(None, a, b).get_opcodes()`.
    pub fn opcodes<T: Item>(&mut self, a: &[T], b: &[T]) -> Vec<Opcode> {
        let mut out = Vec::new();
        self.opcodes_into(a, b, &mut out);
        out
    }

    /// Like [`Self::opcodes`], appending to a caller-owned buffer (cleared first).
    pub fn opcodes_into<T: Item>(&mut self, a: &[T], b: &[T], out: &mut Vec<Opcode>) {
        out.clear();
        self.compute_blocks(a, b);
        let (mut i, mut j) = (0usize, 0usize);
        for m in &self.blocks {
            let tag = match (i < m.a, j < m.b) {
                (true, true) => Some(Tag::Replace),
                (true, false) => Some(Tag::Delete),
                (false, true) => Some(Tag::Insert),
                (false, false) => None,
            };
            if let Some(tag) = tag {
                out.push(Opcode {
                    tag,
                    i1: i,
                    i2: m.a,
                    j1: j,
                    j2: m.b,
                });
            }
            i = m.a + m.size;
            j = m.b + m.size;
            if m.size > 0 {
                out.push(Opcode {
                    tag: Tag::Equal,
                    i1: m.a,
                    i2: i,
                    j1: m.b,
                    j2: j,
                });
            }
        }
    }

    /// `difflib.SequenceMatcher(None, a, b).get_matching_blocks()`, ending with the
    /// `(len(a), len(b), 0)` sentinel.
    pub fn matching_blocks<T: Item>(&mut self, a: &[T], b: &[T]) -> &[Match] {
        self.compute_blocks(a, b);
        &self.blocks
    }

    /// `difflib.SequenceMatcher(None, a, b).find_longest_match(alo, ahi, blo, bhi)`.
    ///
    /// # Panics
    /// If the ranges are not within the sequences (`alo <= ahi <= len(a)`, same for `b`).
    pub fn find_longest_match<T: Item>(
        &mut self,
        a: &[T],
        b: &[T],
        (alo, ahi): (usize, usize),
        (blo, bhi): (usize, usize),
    ) -> Match {
        assert!(alo <= ahi && ahi <= a.len() && blo <= bhi && bhi <= b.len());
        self.index(a, b);
        self.longest(alo, ahi, blo, bhi)
    }

    fn compute_blocks<T: Item>(&mut self, a: &[T], b: &[T]) {
        self.index(a, b);
        let (la, lb) = (a.len(), b.len());
        let mut found = std::mem::take(&mut self.blocks);
        found.clear();
        self.queue.clear();
        self.queue.push((0, la, 0, lb));
        // Depth-first like difflib's list-as-stack; the order is irrelevant once sorted.
        while let Some((alo, ahi, blo, bhi)) = self.queue.pop() {
            let m = self.longest(alo, ahi, blo, bhi);
            if m.size > 0 {
                found.push(m);
                if alo < m.a && blo < m.b {
                    self.queue.push((alo, m.a, blo, m.b));
                }
                if m.a + m.size < ahi && m.b + m.size < bhi {
                    self.queue.push((m.a + m.size, ahi, m.b + m.size, bhi));
                }
            }
        }
        found.sort_unstable();
        // Merge blocks that touch in both sequences, in place.
        let mut merged = 0usize;
        for k in 0..found.len() {
            let m = found[k];
            if merged > 0 {
                let last = &mut found[merged - 1];
                if last.a + last.size == m.a && last.b + last.size == m.b {
                    last.size += m.size;
                    continue;
                }
            }
            found[merged] = m;
            merged += 1;
        }
        found.truncate(merged);
        found.push(Match {
            a: la,
            b: lb,
            size: 0,
        });
        self.blocks = found;
    }

    /// Dense ids for both sequences and the CSR `b2j` index without popular items.
    fn index<T: Item>(&mut self, a: &[T], b: &[T]) {
        assert!(
            b.len() < ABSENT as usize && a.len() < ABSENT as usize,
            "sequences longer than 2^32 - 2 items are not supported"
        );
        let mut distinct = 0u32;
        self.b_ids.clear();
        self.b_ids.reserve(b.len());
        for &item in b {
            let key = item.key();
            let id = if key < DENSE_LIMIT {
                let v = key as usize;
                {
                    if v >= self.table.len() {
                        self.table.resize(v + 1, 0);
                    }
                    let slot = &mut self.table[v];
                    if *slot == 0 {
                        distinct += 1;
                        *slot = distinct;
                    }
                    *slot - 1
                }
            } else {
                *self.map.entry(key).or_insert_with(|| {
                    distinct += 1;
                    distinct - 1
                })
            };
            self.b_ids.push(id);
        }
        self.a_ids.clear();
        self.a_ids.reserve(a.len());
        for &item in a {
            let key = item.key();
            let id = if key < DENSE_LIMIT {
                match self.table.get(key as usize) {
                    Some(&slot) if slot != 0 => slot - 1,
                    _ => ABSENT,
                }
            } else {
                self.map.get(&key).copied().unwrap_or(ABSENT)
            };
            self.a_ids.push(id);
        }
        // Reset only the slots `b` touched, so the table is reusable at O(len(b)).
        for &item in b {
            let key = item.key();
            if key < DENSE_LIMIT {
                self.table[key as usize] = 0;
            }
        }
        self.map.clear();

        // Counting sort of b's positions by id = the CSR index, positions ascending.
        let m = distinct as usize;
        self.starts.clear();
        self.starts.resize(m + 1, 0);
        for &id in &self.b_ids {
            self.starts[id as usize + 1] += 1;
        }
        let n = b.len();
        if n >= 200 {
            let limit = (n / 100 + 1) as u32;
            for count in &mut self.starts[1..] {
                if *count > limit {
                    *count = 0; // popular: never a block start
                }
            }
        }
        for d in 0..m {
            self.starts[d + 1] += self.starts[d];
        }
        self.fill.clear();
        self.fill.extend_from_slice(&self.starts[..m]);
        self.positions.clear();
        self.positions.resize(self.starts[m] as usize, 0);
        for (j, &id) in self.b_ids.iter().enumerate() {
            let d = id as usize;
            if self.fill[d] < self.starts[d + 1] {
                self.positions[self.fill[d] as usize] = j as u32;
                self.fill[d] += 1;
            }
        }
        for row in &mut self.rows {
            if row.len() < n {
                row.resize(n, Cell::default());
            }
        }
    }

    fn longest(&mut self, alo: usize, ahi: usize, blo: usize, bhi: usize) -> Match {
        // Each row gets a fresh stamp; one unused stamp first, so the first row sees no
        // "previous row" left over from an earlier call.
        if self.stamp as usize >= (u32::MAX as usize) - (ahi - alo) - 2 {
            for row in &mut self.rows {
                row.iter_mut().for_each(|c| *c = Cell::default());
            }
            self.stamp = 0;
        }
        self.stamp += 1;
        let (mut besti, mut bestj, mut best) = (alo, blo, 0usize);
        let [even, odd] = &mut self.rows;
        for i in alo..ahi {
            self.stamp += 1;
            let stamp = self.stamp;
            let (cur, prev) = if stamp & 1 == 0 {
                (&mut *even, &*odd)
            } else {
                (&mut *odd, &*even)
            };
            let id = self.a_ids[i];
            if id == ABSENT {
                continue;
            }
            let d = id as usize;
            let list = &self.positions[self.starts[d] as usize..self.starts[d + 1] as usize];
            let first = list.partition_point(|&j| (j as usize) < blo);
            for &j in &list[first..] {
                let j = j as usize;
                if j >= bhi {
                    break;
                }
                let k = if j > 0 && prev[j - 1].stamp == stamp - 1 {
                    prev[j - 1].len + 1
                } else {
                    1
                };
                cur[j] = Cell { stamp, len: k };
                let k = k as usize;
                if k > best {
                    besti = i + 1 - k;
                    bestj = j + 1 - k;
                    best = k;
                }
            }
        }
        // Extend over equal neighbours; this is where popular items join a block.
        let (a, b) = (&self.a_ids, &self.b_ids);
        while besti > alo && bestj > blo && a[besti - 1] == b[bestj - 1] {
            besti -= 1;
            bestj -= 1;
            best += 1;
        }
        while besti + best < ahi && bestj + best < bhi && a[besti + best] == b[bestj + best] {
            best += 1;
        }
        Match {
            a: besti,
            b: bestj,
            size: best,
        }
    }
}

/// One-shot convenience: `difflib.SequenceMatcher(None, a, b).get_opcodes()`.
pub fn opcodes<T: Item>(a: &[T], b: &[T]) -> Vec<Opcode> {
    SequenceMatcher::new().opcodes(a, b)
}
