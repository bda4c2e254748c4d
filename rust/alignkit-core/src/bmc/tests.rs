use std::collections::{HashMap, HashSet};

use super::*;

/// A plain transliteration of difflib's algorithm (hash maps, no tricks): the oracle for the
/// optimised matcher on random inputs. Fixed cases below pin both to real difflib output.
fn oracle_opcodes(a: &[i64], b: &[i64]) -> Vec<(Tag, usize, usize, usize, usize)> {
    let mut b2j: HashMap<i64, Vec<usize>> = HashMap::new();
    for (j, &x) in b.iter().enumerate() {
        b2j.entry(x).or_default().push(j);
    }
    if b.len() >= 200 {
        let ntest = b.len() / 100 + 1;
        b2j.retain(|_, v| v.len() <= ntest);
    }
    let longest = |alo: usize, ahi: usize, blo: usize, bhi: usize| {
        let (mut bi, mut bj, mut bs) = (alo, blo, 0usize);
        let mut j2len: HashMap<usize, usize> = HashMap::new();
        for (i, item) in a.iter().enumerate().take(ahi).skip(alo) {
            let mut new: HashMap<usize, usize> = HashMap::new();
            for &j in b2j.get(item).map(|v| v.as_slice()).unwrap_or(&[]) {
                if j < blo {
                    continue;
                }
                if j >= bhi {
                    break;
                }
                let k = if j > 0 {
                    j2len.get(&(j - 1)).copied().unwrap_or(0)
                } else {
                    0
                } + 1;
                new.insert(j, k);
                if k > bs {
                    (bi, bj, bs) = (i + 1 - k, j + 1 - k, k);
                }
            }
            j2len = new;
        }
        while bi > alo && bj > blo && a[bi - 1] == b[bj - 1] {
            (bi, bj, bs) = (bi - 1, bj - 1, bs + 1);
        }
        while bi + bs < ahi && bj + bs < bhi && a[bi + bs] == b[bj + bs] {
            bs += 1;
        }
        (bi, bj, bs)
    };
    let mut queue = vec![(0, a.len(), 0, b.len())];
    let mut blocks = Vec::new();
    while let Some((alo, ahi, blo, bhi)) = queue.pop() {
        let (i, j, k) = longest(alo, ahi, blo, bhi);
        if k > 0 {
            blocks.push((i, j, k));
            if alo < i && blo < j {
                queue.push((alo, i, blo, j));
            }
            if i + k < ahi && j + k < bhi {
                queue.push((i + k, ahi, j + k, bhi));
            }
        }
    }
    blocks.sort();
    let mut merged: Vec<(usize, usize, usize)> = Vec::new();
    for (i, j, k) in blocks {
        match merged.last_mut() {
            Some(l) if l.0 + l.2 == i && l.1 + l.2 == j => l.2 += k,
            _ => merged.push((i, j, k)),
        }
    }
    merged.push((a.len(), b.len(), 0));
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    for (ai, bj, size) in merged {
        let tag = match (i < ai, j < bj) {
            (true, true) => Some(Tag::Replace),
            (true, false) => Some(Tag::Delete),
            (false, true) => Some(Tag::Insert),
            _ => None,
        };
        if let Some(t) = tag {
            out.push((t, i, ai, j, bj));
        }
        (i, j) = (ai + size, bj + size);
        if size > 0 {
            out.push((Tag::Equal, ai, i, bj, j));
        }
    }
    out
}

fn tuples(ops: &[Opcode]) -> Vec<(Tag, usize, usize, usize, usize)> {
    ops.iter()
        .map(|o| (o.tag, o.i1, o.i2, o.j1, o.j2))
        .collect()
}

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn random_seq(rng: &mut Lcg, len: usize, alphabet: u64, offset: i64) -> Vec<i64> {
    (0..len)
        .map(|_| rng.below(alphabet) as i64 + offset)
        .collect()
}

/// `b` = `a` with random replaced, deleted and inserted runs (what a revision looks like).
fn mutate(rng: &mut Lcg, a: &[i64], alphabet: u64, offset: i64) -> Vec<i64> {
    let mut out = Vec::with_capacity(a.len() + 16);
    let mut i = 0;
    while i < a.len() {
        match rng.below(20) {
            0 => i += 1 + rng.below(5) as usize,
            1 => {
                for _ in 0..1 + rng.below(5) {
                    out.push(rng.below(alphabet) as i64 + offset);
                }
            }
            2 => {
                out.push(rng.below(alphabet) as i64 + offset);
                i += 1;
            }
            _ => {
                out.push(a[i]);
                i += 1;
            }
        }
    }
    out
}

#[test]
fn matches_difflib_docstring_examples() {
    let a: Vec<u8> = b"qabxcd".to_vec();
    let b: Vec<u8> = b"abycdf".to_vec();
    assert_eq!(
        tuples(&opcodes(&a, &b)),
        vec![
            (Tag::Delete, 0, 1, 0, 0),
            (Tag::Equal, 1, 3, 0, 2),
            (Tag::Replace, 3, 4, 2, 3),
            (Tag::Equal, 4, 6, 3, 5),
            (Tag::Insert, 6, 6, 5, 6),
        ]
    );
    let (a, b) = (b" abcd".to_vec(), b"abcd abcd".to_vec());
    let m = SequenceMatcher::new().find_longest_match(&a, &b, (0, 5), (0, 9));
    assert_eq!((m.a, m.b, m.size), (0, 4, 5));
    let m = SequenceMatcher::new().find_longest_match(b"ab", b"c", (0, 2), (0, 1));
    assert_eq!((m.a, m.b, m.size), (0, 0, 0));
}

#[test]
fn popular_items_only_join_by_extension() {
    // Expected values are difflib's (Python 3.11) output for the same inputs.
    let a: Vec<u32> = vec![7, 7, 7];
    let b: Vec<u32> = vec![7; 250];
    assert_eq!(
        tuples(&opcodes(&a, &b)),
        vec![(Tag::Equal, 0, 3, 0, 3), (Tag::Insert, 3, 3, 3, 250)]
    );
    let a: Vec<u32> = vec![1, 7, 7, 2];
    let mut b: Vec<u32> = vec![7; 100];
    b.extend([1, 7, 7, 2]);
    b.extend(vec![7; 100]);
    assert_eq!(
        tuples(&opcodes(&a, &b)),
        vec![
            (Tag::Insert, 0, 0, 0, 100),
            (Tag::Equal, 0, 4, 100, 104),
            (Tag::Insert, 4, 4, 104, 204),
        ]
    );
    // 7 occurs 4 > 200 / 100 + 1 times in b: popular, so the tail 9s find nothing to anchor.
    let a: Vec<u32> = vec![7, 7, 1, 2, 3, 9, 9, 9];
    let mut b: Vec<u32> = vec![7, 7, 1, 2, 3];
    b.extend(100..295);
    b[50] = 7;
    b[60] = 7;
    assert_eq!(
        tuples(&opcodes(&a, &b)),
        vec![(Tag::Equal, 0, 5, 0, 5), (Tag::Replace, 5, 8, 5, 200)]
    );
}

#[test]
fn empty_sequences() {
    let e: Vec<u32> = vec![];
    assert!(opcodes(&e, &e).is_empty());
    assert_eq!(
        tuples(&opcodes(&[1u32, 2], &e)),
        vec![(Tag::Delete, 0, 2, 0, 0)]
    );
    assert_eq!(
        tuples(&opcodes(&e, &[1u32, 2])),
        vec![(Tag::Insert, 0, 0, 0, 2)]
    );
    let blocks = SequenceMatcher::new().matching_blocks(&e, &e).to_vec();
    assert_eq!(
        blocks,
        vec![Match {
            a: 0,
            b: 0,
            size: 0
        }]
    );
}

#[test]
fn agrees_with_oracle_on_random_edits() {
    let mut rng = Lcg(12345);
    let mut matcher = SequenceMatcher::new();
    for case in 0..400 {
        let alphabet = [2u64, 5, 30, 300, 50_000][case % 5];
        let len = rng.below(700) as usize;
        // Negative offsets and huge ids take the hash-map path.
        let offset = [0i64, -1_000, 1 << 40][case % 3];
        let a = random_seq(&mut rng, len, alphabet, offset);
        let b = if case % 2 == 0 {
            mutate(&mut rng, &a, alphabet, offset)
        } else {
            let len_b = rng.below(700) as usize;
            random_seq(&mut rng, len_b, alphabet, offset)
        };
        // The reused matcher must give what a fresh one gives.
        let got = tuples(&matcher.opcodes(&a, &b));
        assert_eq!(got, oracle_opcodes(&a, &b), "case {case}");
        assert_eq!(got, tuples(&opcodes(&a, &b)), "case {case} fresh");
    }
}

#[test]
fn opcodes_tile_both_sequences() {
    let mut rng = Lcg(7);
    for _ in 0..50 {
        let a = random_seq(&mut rng, 300, 40, 0);
        let b = mutate(&mut rng, &a, 40, 0);
        let ops = opcodes(&a, &b);
        let (mut i, mut j) = (0, 0);
        for o in &ops {
            assert_eq!((o.i1, o.j1), (i, j));
            if o.tag == Tag::Equal {
                assert_eq!(a[o.i1..o.i2], b[o.j1..o.j2]);
            }
            (i, j) = (o.i2, o.j2);
        }
        assert_eq!((i, j), (a.len(), b.len()));
    }
}

#[test]
fn varied_masks_mark_changed_tokens_except_stop_words() {
    // rejected: the cat sat on a mat ; chosen: the dog sat on the mat today
    let rejected = [1u32, 2, 3, 4, 5, 6];
    let chosen = [1u32, 9, 3, 4, 1, 6, 10];
    let stop: HashSet<u32> = [1, 4, 5].into_iter().collect();
    let m = varied_masks(&chosen, &rejected, &stop);
    assert_eq!(m.rejected, vec![false, true, false, false, false, false]);
    assert_eq!(
        m.chosen,
        vec![false, true, false, false, false, false, true]
    );
    let none = varied_masks(&chosen, &rejected, &HashSet::new());
    assert_eq!(none.rejected, vec![false, true, false, false, true, false]);
    assert_eq!(
        none.chosen,
        vec![false, true, false, false, true, false, true]
    );
    let batch = varied_masks_batch(
        &[chosen.to_vec(), vec![]],
        &[rejected.to_vec(), vec![3]],
        &stop,
    );
    assert_eq!(batch[0], m);
    assert_eq!(batch[1].chosen, Vec::<bool>::new());
    assert_eq!(batch[1].rejected, vec![true]);
}

#[test]
fn row_stamps_wrap_without_stale_matches() {
    let mut rng = Lcg(99);
    let a = random_seq(&mut rng, 400, 50, 0);
    let b = mutate(&mut rng, &a, 50, 0);
    let expected = oracle_opcodes(&a, &b);
    let mut matcher = SequenceMatcher::new();
    assert_eq!(tuples(&matcher.opcodes(&a, &b)), expected);
    // Near the end of the stamp range the rows are reset mid-computation; results must not
    // change, and stale cells from the previous call must not count as matches.
    matcher.stamp = u32::MAX - 500;
    assert_eq!(tuples(&matcher.opcodes(&a, &b)), expected);
    assert!(matcher.stamp < 1_000_000);
    assert_eq!(tuples(&matcher.opcodes(&a, &b)), expected);
}

#[test]
fn checked_batch_and_token_ids() {
    let stop = stop_token_set([5, -1, 1 << 40]);
    assert_eq!(stop, HashSet::from([5]));
    let err = try_varied_masks_batch(&[vec![1u32]], &[] as &[Vec<u32>], &stop).unwrap_err();
    assert!(err
        .to_string()
        .contains("1 pseudo-chosen sequences but 0 rejected ones"));
    let ok = try_varied_masks_batch(&[vec![1u32]], &[vec![2u32]], &stop).unwrap();
    assert_eq!(ok, varied_masks_batch(&[vec![1u32]], &[vec![2u32]], &stop));
    assert_eq!(token_ids(&[0, 7], "ids", 0).unwrap(), vec![0, 7]);
    let err = token_ids(&[3, -2], "rejected_ids", 4)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("rejected_ids[4][1] = -2 is not a token id"),
        "{err}"
    );
}
