//! Tests against straightforward O(n²) f64 implementations.

use super::nn::SplitMix;
use super::*;

fn random(n: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix(seed);
    (0..n * d).map(|_| rng.normal() as f32).collect()
}

fn units(x: &[f32], d: usize) -> Vec<Vec<f64>> {
    x.chunks(d)
        .map(|r| {
            let norm = r.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt();
            r.iter().map(|&v| v as f64 / norm).collect()
        })
        .collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn naive_diversity(x: &[f32], d: usize) -> f64 {
    let u = units(x, d);
    let (mut s, mut c) = (0.0, 0usize);
    for i in 0..u.len() {
        for j in i + 1..u.len() {
            s += 1.0 - dot(&u[i], &u[j]);
            c += 1;
        }
    }
    s / c as f64
}

fn naive_nn(x: &[f32], y: Option<&[f32]>, d: usize) -> Vec<f64> {
    let u = units(x, d);
    let v = y.map(|y| units(y, d));
    let others = v.as_ref().unwrap_or(&u);
    (0..u.len())
        .map(|i| {
            let best = (0..others.len())
                .filter(|&j| y.is_some() || j != i)
                .map(|j| dot(&u[i], &others[j]))
                .fold(f64::NEG_INFINITY, f64::max);
            (1.0 - best).max(0.0)
        })
        .collect()
}

fn naive_vendi(x: &[f32], d: usize) -> f64 {
    let u = units(x, d);
    let n = u.len();
    let k = nalgebra::DMatrix::from_fn(n, n, |i, j| dot(&u[i], &u[j]) / n as f64);
    vendi_from_eigenvalues(k.symmetric_eigenvalues().as_slice())
}

fn mat(x: &[f32], d: usize) -> Matrix<'_, f32> {
    Matrix::new(x, x.len() / d, d).unwrap()
}

#[test]
fn diversity_matches_naive() {
    for (n, d, seed) in [(2, 5, 1), (3, 1, 2), (57, 17, 3), (300, 64, 4), (600, 9, 5)] {
        let x = random(n, d, seed);
        let got = embedding_diversity(&mat(&x, d)).unwrap();
        let want = naive_diversity(&x, d);
        assert!((got - want).abs() < 1e-9, "n={n} d={d}: {got} vs {want}");
    }
    // Strongly correlated rows (mean similarity far from 0).
    let mut x = random(200, 32, 6);
    for v in x.chunks_mut(32) {
        v[0] += 20.0;
    }
    let got = embedding_diversity(&mat(&x, 32)).unwrap();
    assert!((got - naive_diversity(&x, 32)).abs() < 1e-9);
}

#[test]
fn centroid_and_cross_match_naive() {
    let (d, x, y) = (13, random(80, 13, 7), random(45, 13, 8));
    let u = units(&x, d);
    let mut c = vec![0.0; d];
    for r in &u {
        for (a, b) in c.iter_mut().zip(r) {
            *a += b;
        }
    }
    let norm = dot(&c, &c).sqrt();
    let want = u.iter().map(|r| 1.0 - dot(r, &c) / norm).sum::<f64>() / u.len() as f64;
    let got = centroid_distance(&mat(&x, d)).unwrap();
    assert!((got - want).abs() < 1e-9, "{got} vs {want}");

    let v = units(&y, d);
    let mut want = 0.0;
    for a in &u {
        for b in &v {
            want += 1.0 - dot(a, b);
        }
    }
    want /= (u.len() * v.len()) as f64;
    let got = cross_diversity(&mat(&x, d), &mat(&y, d)).unwrap();
    assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    assert!(cross_diversity(&mat(&x, d), &mat(&random(3, 4, 1), 4)).is_err());
}

#[test]
fn exact_nn_matches_naive() {
    // 1100 rows cross tile boundaries (TILE = 512): diagonal, off-diagonal and ragged tiles.
    for (n, d, seed) in [(2, 3, 1), (7, 48, 2), (1100, 8, 3), (530, 48, 4)] {
        let x = random(n, d, seed);
        let got = nearest_neighbor_distances(&mat(&x, d), None).unwrap();
        let want = naive_nn(&x, None, d);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((*g as f64 - w).abs() < 1e-6, "n={n} row {i}: {g} vs {w}");
        }
    }
}

#[test]
fn coverage_matches_naive() {
    let (d, a, b) = (24, random(700, 24, 11), random(520, 24, 12));
    let got = coverage_distances(&mat(&a, d), &mat(&b, d)).unwrap();
    let want = naive_nn(&a, Some(&b), d);
    for (g, w) in got.iter().zip(&want) {
        assert!((*g as f64 - w).abs() < 1e-6, "{g} vs {w}");
    }
    // A inside B: everything covered at distance 0.
    let got = coverage_distances(&mat(&b[..10 * d], d), &mat(&b, d)).unwrap();
    assert!(got.iter().all(|&v| v < 1e-6));
}

#[test]
fn vendi_matches_naive_kernel() {
    // n > d takes the d x d Gram path (with ragged column tiles); n <= d the n x n one.
    for (n, d, seed) in [(300, 20, 1), (400, 130, 2), (10, 40, 3), (1, 5, 4)] {
        let x = random(n, d, seed);
        let got = vendi_score(&mat(&x, d)).unwrap();
        let want = naive_vendi(&x, d);
        assert!(
            (got - want).abs() < 1e-5 * want,
            "n={n} d={d}: {got} vs {want}"
        );
    }
    // Identical rows: one direction, score 1; orthogonal rows: score n.
    let x = [1.0f32, 2.0, 3.0].repeat(50);
    assert!((vendi_score(&mat(&x, 3)).unwrap() - 1.0).abs() < 1e-6);
    let eye = [1.0f32, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
    assert!((vendi_score(&mat(&eye, 3)).unwrap() - 3.0).abs() < 1e-9);
}

#[test]
fn edge_cases() {
    let one = [1.0f32, 2.0];
    let m = mat(&one, 2);
    assert!(embedding_diversity(&m).is_err());
    assert!(nearest_neighbor_distances(&m, None).is_err());
    assert!(centroid_distance(&m).unwrap().abs() < 1e-12);
    let s = diversity_summary(&m, Some(None)).unwrap();
    assert!(s.diversity.is_none() && s.nn.is_none());

    let two = [1.0f32, 0.0, 0.0, 3.0];
    assert!((embedding_diversity(&mat(&two, 2)).unwrap() - 1.0).abs() < 1e-12);
    assert_eq!(
        nearest_neighbor_distances(&mat(&two, 2), None).unwrap(),
        vec![1.0, 1.0]
    );
    // Opposite rows: the centroid has no direction.
    let opp = [1.0f32, 0.0, -2.0, 0.0];
    assert!(centroid_distance(&mat(&opp, 2)).is_err());
    assert!((embedding_diversity(&mat(&opp, 2)).unwrap() - 2.0).abs() < 1e-12);

    // Duplicates: distance 0 (scaled copies are the same direction).
    let dup = [1.0f32, 2.0, 2.0, 4.0, 0.0, 1.0];
    let nn = nearest_neighbor_distances(&mat(&dup, 2), None).unwrap();
    assert!(nn[0] < 1e-7 && nn[1] < 1e-7 && nn[2] > 0.1);

    // Zero and non-finite rows are errors naming the row.
    let zero = [1.0f32, 2.0, 0.0, 0.0];
    let err = embedding_diversity(&mat(&zero, 2)).unwrap_err().to_string();
    assert!(err.contains("row 1"), "{err}");
    assert!(nearest_neighbor_distances(&mat(&zero, 2), None).is_err());
    assert!(vendi_score(&mat(&zero, 2)).is_err());
    assert!(embedding_diversity(&mat(&[f32::NAN, 1.0, 1.0, 1.0], 2)).is_err());

    assert!(Matrix::new(&one, 3, 1).is_err());
    assert!(Matrix::<f32>::new(&[], 2, 0).is_err());
}

#[test]
fn f16_matches_f32_of_the_same_values() {
    let (n, d) = (600, 40);
    let h: Vec<half::f16> = random(n, d, 21)
        .into_iter()
        .map(half::f16::from_f32)
        .collect();
    let f: Vec<f32> = h.iter().map(|v| v.to_f32()).collect();
    let (mh, mf) = (Matrix::new(&h, n, d).unwrap(), mat(&f, d));
    assert_eq!(
        embedding_diversity(&mh).unwrap(),
        embedding_diversity(&mf).unwrap()
    );
    assert!((embedding_diversity(&mh).unwrap() - naive_diversity(&f, d)).abs() < 1e-9);
    assert_eq!(
        nearest_neighbor_distances(&mh, None).unwrap(),
        nearest_neighbor_distances(&mf, None).unwrap()
    );
    assert_eq!(vendi_score(&mh).unwrap(), vendi_score(&mf).unwrap());
    assert_eq!(
        cross_diversity(&mh, &mf).unwrap(),
        cross_diversity(&mf, &mf).unwrap()
    );
}

#[test]
fn lsh_is_an_upper_bound_with_high_recall_on_clustered_data() {
    // 100 random centres, 30 noisy points each: neighbours are well separated from the rest.
    let (d, centres, per) = (64, 100, 30);
    let c = random(centres, d, 31);
    let noise = random(centres * per, d, 32);
    let x: Vec<f32> = (0..centres * per)
        .flat_map(|i| {
            let k = i / per;
            (0..d).map(move |j| (k, j, i))
        })
        .map(|(k, j, i)| c[k * d + j] + 0.3 * noise[i * d + j])
        .collect();
    let m = mat(&x, d);
    let exact = nearest_neighbor_distances(&m, None).unwrap();
    let approx = nearest_neighbor_distances(&m, Some(LshParams::default())).unwrap();
    let hits = exact
        .iter()
        .zip(&approx)
        .inspect(|(e, a)| assert!(**a >= **e - 1e-6))
        .filter(|(e, a)| (**a - **e).abs() < 1e-6)
        .count();
    let recall = hits as f64 / exact.len() as f64;
    assert!(recall > 0.9, "recall {recall}");
    // Pure random data: every value is still some other row's distance (an upper bound).
    let x = random(2000, 64, 33);
    let m = mat(&x, 64);
    let exact = nearest_neighbor_distances(&m, None).unwrap();
    let approx = nearest_neighbor_distances(&m, Some(LshParams::default())).unwrap();
    assert!(exact
        .iter()
        .zip(&approx)
        .all(|(e, a)| *a >= *e - 1e-6 && *a <= 2.0));
}

#[test]
fn stats_quantiles_are_numpys_linear() {
    let s = Stats::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
    assert_eq!(s.mean, 2.5);
    assert_eq!((s.min, s.max), (1.0, 4.0));
    // numpy.quantile([1,2,3,4], 0.25) == 1.75, 0.05 -> 1.15
    assert!((s.quantiles[1].1 - 1.75).abs() < 1e-12);
    assert!((s.quantiles[0].1 - 1.15).abs() < 1e-12);
    assert!(Stats::of(&[]).is_none());
}

#[test]
fn coverage_summary_counts_rows_within_threshold() {
    // A = {e1, e2}; B = {e1}: distances 0 and 1.
    let a = [1.0f32, 0.0, 0.0, 1.0];
    let b = [1.0f32, 0.0];
    let (ma, mb) = (
        Matrix::new(&a, 2, 2).unwrap(),
        Matrix::new(&b, 1, 2).unwrap(),
    );
    let c = coverage(&ma, &mb, Some(0.5)).unwrap();
    assert_eq!(c.n, 2);
    assert_eq!(c.covered, Some(0.5));
    let stats = c.stats.unwrap();
    assert!(stats.min.abs() < 1e-6 && (stats.max - 1.0).abs() < 1e-6);
    assert_eq!(coverage(&ma, &mb, None).unwrap().covered, None);
    let err = coverage(&ma, &mb, Some(f64::NAN)).unwrap_err();
    assert!(err.to_string().contains("threshold must be finite"));
}
