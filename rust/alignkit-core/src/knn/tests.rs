//! The index against an f64 brute-force search, plus ids, removal and the file format.

use std::path::PathBuf;

use super::*;
use crate::diversity::nn::SplitMix;
use crate::pool::thread_pool;

fn random(n: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix(seed);
    (0..n * d).map(|_| rng.normal() as f32).collect()
}

fn mat(x: &[f32], d: usize) -> Matrix<'_, f32> {
    Matrix::new(x, x.len() / d, d).unwrap()
}

/// Ids unlike positions, so a position leaking out as an id shows.
fn ids_for(range: std::ops::Range<usize>) -> Vec<u64> {
    range.map(|i| 1_000 + 7 * i as u64).collect()
}

fn unit_f64(r: &[f32], normalize: bool) -> Vec<f64> {
    let norm = if normalize {
        r.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt()
    } else {
        1.0
    };
    r.iter().map(|&v| v as f64 / norm).collect()
}

/// Every (score, position) of each query, best first, ties by position.
fn brute(rows: &[f32], queries: &[f32], d: usize, normalize: bool) -> Vec<Vec<(f64, usize)>> {
    let rows: Vec<Vec<f64>> = rows.chunks(d).map(|r| unit_f64(r, normalize)).collect();
    queries
        .chunks(d)
        .map(|q| {
            let q = unit_f64(q, normalize);
            let mut all: Vec<(f64, usize)> = rows
                .iter()
                .enumerate()
                .map(|(p, r)| (r.iter().zip(&q).map(|(a, b)| a * b).sum(), p))
                .collect();
            all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            all
        })
        .collect()
}

/// `got` agrees with brute force: same scores rank by rank, and the same ids wherever the
/// exact scores around that rank are not within float error of each other.
fn assert_matches_brute(got: &Neighbors, want: &[Vec<(f64, usize)>], ids: &[u64], k: usize) {
    assert_eq!(got.queries, want.len());
    assert_eq!(got.k, k.min(ids.len()));
    let tol = 1e-4;
    for (qi, all) in want.iter().enumerate() {
        for r in 0..got.k {
            let (s, p) = all[r];
            let (gs, gid) = (got.scores[qi * got.k + r], got.ids[qi * got.k + r]);
            assert!(
                (gs as f64 - s).abs() < tol,
                "query {qi} rank {r}: {gs} vs {s}"
            );
            let near_tie =
                (r > 0 && all[r - 1].0 - s < tol) || all.get(r + 1).is_some_and(|n| s - n.0 < tol);
            if !near_tie {
                assert_eq!(gid, ids[p], "query {qi} rank {r}");
            }
        }
    }
}

#[test]
fn search_equals_brute_force_for_any_pool_size() {
    // Sizes that leave partial query and row blocks; d not a multiple of the SIMD width.
    let (n, nq, d) = (1_300, 300, 13);
    let rows = random(n, d, 1);
    let queries = random(nq, d, 2);
    for normalize in [true, false] {
        let mut index = KnnIndex::new(d, normalize).unwrap();
        let ids = ids_for(0..n);
        index.add(&mat(&rows, d), &ids).unwrap();
        let want = brute(&rows, &queries, d, normalize);
        for k in [1, 5, n + 3] {
            let mut first: Option<Neighbors> = None;
            for workers in [1, 2, 3] {
                let pool = thread_pool(Some(workers)).unwrap();
                let got = pool.install(|| index.search(&mat(&queries, d), k)).unwrap();
                match &first {
                    None => {
                        assert_matches_brute(&got, &want, &ids, k);
                        first = Some(got);
                    }
                    Some(f) => assert_eq!(f, &got, "workers={workers} changed the result"),
                }
            }
        }
    }
}

#[test]
fn few_queries_split_the_rows_and_still_match() {
    let (n, d) = (2_000, 24);
    let rows = random(n, d, 3);
    let queries = random(3, d, 4);
    let mut index = KnnIndex::new(d, true).unwrap();
    let ids = ids_for(0..n);
    index.add(&mat(&rows, d), &ids).unwrap();
    let want = brute(&rows, &queries, d, true);
    let pool = thread_pool(Some(4)).unwrap();
    let got = pool.install(|| index.search(&mat(&queries, d), 7)).unwrap();
    assert_matches_brute(&got, &want, &ids, 7);
}

#[test]
fn exact_ties_rank_earlier_insertions_first() {
    // Values in {-1, 0, 1}: every score is an exact small integer, so ties are real ties.
    let (n, nq, d) = (1_200, 120, 16);
    let mut rng = SplitMix(5);
    let small = |rng: &mut SplitMix| (rng.next_u64() % 3) as f32 - 1.0;
    let rows: Vec<f32> = (0..n * d).map(|_| small(&mut rng)).collect();
    let queries: Vec<f32> = (0..nq * d).map(|_| small(&mut rng)).collect();
    let mut index = KnnIndex::new(d, false).unwrap();
    let ids = ids_for(0..n);
    index.add(&mat(&rows, d), &ids).unwrap();
    let want = brute(&rows, &queries, d, false);
    for workers in [1, 3] {
        let pool = thread_pool(Some(workers)).unwrap();
        let got = pool.install(|| index.search(&mat(&queries, d), 9)).unwrap();
        for (qi, all) in want.iter().enumerate() {
            let expect: Vec<u64> = all[..9].iter().map(|&(_, p)| ids[p]).collect();
            assert_eq!(&got.ids[qi * 9..(qi + 1) * 9], &expect[..], "query {qi}");
        }
    }
}

#[test]
fn identical_rows_in_different_tiles_score_identically() {
    // The same real-valued row stored at positions in different row blocks and pool splits.
    let (n, d) = (1_100, 384);
    let mut rows = random(n, d, 6);
    let copy: Vec<f32> = rows[5 * d..6 * d].to_vec();
    for p in [530, 1_099] {
        rows[p * d..(p + 1) * d].copy_from_slice(&copy);
    }
    let mut query = copy.clone();
    query[0] += 0.05;
    let mut index = KnnIndex::new(d, true).unwrap();
    let ids = ids_for(0..n);
    index.add(&mat(&rows, d), &ids).unwrap();
    for workers in [1, 2, 3] {
        let pool = thread_pool(Some(workers)).unwrap();
        let got = pool.install(|| index.search(&mat(&query, d), 3)).unwrap();
        assert_eq!(got.ids, vec![ids[5], ids[530], ids[1_099]]);
        assert!(
            got.scores.iter().all(|&s| s == got.scores[0]),
            "{:?}",
            got.scores
        );
    }
}

#[test]
fn small_k_and_empty_cases() {
    let d = 4;
    let mut index = KnnIndex::new(d, true).unwrap();
    let q = random(2, d, 7);
    let empty = index.search(&mat(&q, d), 3).unwrap();
    assert_eq!((empty.queries, empty.k, empty.ids.len()), (2, 0, 0));
    let rows = random(2, d, 8);
    index.add(&mat(&rows, d), &[10, 20]).unwrap();
    let got = index.search(&mat(&q, d), 5).unwrap();
    assert_eq!((got.k, got.ids.len()), (2, 4));
    let no_queries = index.search(&mat(&[], d), 1).unwrap();
    assert_eq!((no_queries.queries, no_queries.ids.len()), (0, 0));
    let err = index.search(&mat(&q, d), 0).unwrap_err().to_string();
    assert!(err.contains("k must be at least 1"), "{err}");
    let half: Vec<half::f16> = q.iter().map(|&v| half::f16::from_f32(v)).collect();
    let from_half = index.search(&Matrix::new(&half, 2, d).unwrap(), 1).unwrap();
    assert_eq!(from_half.queries, 2);
    assert!(KnnIndex::new(0, true).is_err());
}

#[test]
fn bad_adds_are_errors_and_change_nothing() {
    let d = 3;
    let mut index = KnnIndex::new(d, true).unwrap();
    index.add(&mat(&[1.0, 0.0, 0.0], d), &[1]).unwrap();
    let cases: Vec<(Vec<f32>, usize, Vec<u64>, &str)> = vec![
        (vec![1.0; 4], 2, vec![2, 3], "dimensions"),
        (vec![1.0; 6], 3, vec![2], "2 rows but 1 ids"),
        (vec![1.0; 6], 3, vec![2, 2], "already in the index"),
        (vec![1.0; 3], 3, vec![1], "already in the index"),
        (vec![0.0; 3], 3, vec![2], "zero or non-finite norm"),
        (
            vec![f32::NAN, 1.0, 1.0],
            3,
            vec![2],
            "zero or non-finite norm",
        ),
    ];
    for (data, dim, ids, msg) in cases {
        let m = Matrix::new(&data, data.len() / dim, dim).unwrap();
        let err = index.add(&m, &ids).unwrap_err().to_string();
        assert!(err.contains(msg), "{err} lacks {msg}");
        assert_eq!(index.ids(), &[1]);
        assert_eq!(index.rows().len(), d);
    }
    let mut raw = KnnIndex::new(d, false).unwrap();
    let err = raw
        .add(&mat(&[1.0, f32::INFINITY, 0.0], d), &[1])
        .unwrap_err();
    assert!(err.to_string().contains("non-finite"));
    assert!(raw.is_empty() && raw.rows().is_empty() && !raw.contains(1));
    let err = raw.search(&mat(&[f32::NAN, 0.0, 0.0], d), 1).unwrap_err();
    assert!(err.to_string().contains("non-finite"));
    raw.add(&mat(&[0.0; 3], d), &[9]).unwrap(); // a zero row is fine without normalising
    assert!(raw.contains(9));
}

#[test]
fn remove_keeps_order_and_matches_brute_force_on_the_rest() {
    let (n, nq, d) = (800, 20, 12);
    let rows = random(n, d, 9);
    let queries = random(nq, d, 10);
    let ids = ids_for(0..n);
    let mut index = KnnIndex::new(d, true).unwrap();
    index.add(&mat(&rows, d), &ids).unwrap();
    let gone: Vec<u64> = ids.iter().copied().step_by(3).collect();
    let err = index.remove(&[ids[1], 5]).unwrap_err().to_string();
    assert!(err.contains("id 5 is not in the index"), "{err}");
    assert_eq!(index.len(), n);
    index.remove(&gone).unwrap();
    let keep: Vec<usize> = (0..n).filter(|i| i % 3 != 0).collect();
    let kept_ids: Vec<u64> = keep.iter().map(|&i| ids[i]).collect();
    assert_eq!(index.ids(), &kept_ids[..]);
    assert!(!index.contains(ids[0]) && index.contains(ids[1]));
    let kept_rows: Vec<f32> = keep
        .iter()
        .flat_map(|&i| rows[i * d..(i + 1) * d].iter().copied())
        .collect();
    let got = index.search(&mat(&queries, d), 4).unwrap();
    assert_matches_brute(&got, &brute(&kept_rows, &queries, d, true), &kept_ids, 4);
    // A removed id may come back; it is then the newest row.
    index.add(&mat(&rows[..d], d), &[ids[0]]).unwrap();
    assert_eq!(index.ids().last(), Some(&ids[0]));
}

fn tmpdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alignkit-knn-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn save_and_load_round_trip() {
    let dir = tmpdir("roundtrip");
    let path = dir.join("index.knn");
    let (n, d) = (700, 9);
    let rows = random(n, d, 11);
    for normalize in [true, false] {
        let mut index = KnnIndex::new(d, normalize).unwrap();
        index.add(&mat(&rows, d), &ids_for(0..n)).unwrap();
        index.remove(&[1_000, 1_007]).unwrap();
        index.save(&path).unwrap(); // the second pass overwrites the first file
        let back = KnnIndex::load(&path).unwrap();
        assert_eq!(back.normalizes(), normalize);
        assert_eq!(back.ids(), index.ids());
        assert_eq!(back.rows(), index.rows());
        let q = random(5, d, 12);
        assert_eq!(
            back.search(&mat(&q, d), 3).unwrap(),
            index.search(&mat(&q, d), 3).unwrap()
        );
    }
    let empty = KnnIndex::new(d, true).unwrap();
    empty.save(&path).unwrap();
    assert!(KnnIndex::load(&path).unwrap().is_empty());
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(names.len(), 1, "a temporary file was left behind");
    let err = empty.save(&dir.join("missing").join("x.knn")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupt_and_truncated_files_are_clear_errors() {
    let mut index = KnnIndex::new(4, true).unwrap();
    index
        .add(&mat(&random(10, 4, 13), 4), &ids_for(0..10))
        .unwrap();
    let good = index.to_bytes();
    let malformed = |bytes: &[u8], want: &str| {
        let err = KnnIndex::from_bytes(bytes, "test.knn").unwrap_err();
        assert!(matches!(err, Error::Malformed(_)), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("test.knn") && msg.contains(want),
            "{msg} lacks {want}"
        );
    };
    let mut flipped = good.clone();
    flipped[100] ^= 0x10;
    malformed(&flipped, "checksum mismatch");
    malformed(&good[..good.len() - 5], "truncated");
    malformed(&good[..20], "truncated");
    malformed(&good[..0], "truncated");
    let mut longer = good.clone();
    longer.push(0);
    malformed(&longer, "1 unexpected bytes");
    let mut magic = good.clone();
    magic[0] = b'X';
    malformed(&magic, "wrong magic");
    let mut huge = good.clone();
    huge[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
    malformed(&huge, "impossible sizes");
    let mut flags = good.clone();
    flags[12] = 0x80;
    malformed(&flags, "unknown flags");
    let mut version = good.clone();
    version[8] = 2;
    let err = KnnIndex::from_bytes(&version, "test.knn").unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
    let missing = KnnIndex::load(std::path::Path::new("/nonexistent/alignkit.knn")).unwrap_err();
    assert!(matches!(missing, Error::Io { .. }), "{missing}");
}
