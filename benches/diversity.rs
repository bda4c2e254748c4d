//! Criterion benches for `alignkit_core::diversity`: the one-pass pairwise diversity, the
//! Vendi score through the d x d Gram matrix, and the exact / LSH nearest-neighbour search.

use std::hint::black_box;

use alignkit_core::dedup::hash::splitmix64;
use alignkit_core::diversity::{
    embedding_diversity, nearest_neighbor_distances, vendi_score, LshParams, Matrix,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Uniform in [-1, 1): enough for timing (the metrics only see directions).
fn random(n: usize, d: usize) -> Vec<f32> {
    let mut state = 11u64;
    (0..n * d)
        .map(|_| (splitmix64(&mut state) >> 40) as f32 / (1u64 << 23) as f32 - 1.0)
        .collect()
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("diversity");
    group.sample_size(10);

    let (n, d) = (50_000, 768);
    let x = random(n, d);
    let m = Matrix::new(&x, n, d).unwrap();
    group.throughput(Throughput::Bytes((n * d * 4) as u64));
    group.bench_function("embedding_diversity_50k_768", |b| {
        b.iter(|| embedding_diversity(black_box(&m)).unwrap())
    });
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("vendi_score_50k_768", |b| {
        b.iter(|| vendi_score(black_box(&m)).unwrap())
    });

    let (n, d) = (8_000, 384);
    let x = random(n, d);
    let m = Matrix::new(&x, n, d).unwrap();
    group.throughput(Throughput::Elements((n * n / 2) as u64));
    group.bench_function("nn_exact_8k_384", |b| {
        b.iter(|| nearest_neighbor_distances(black_box(&m), None).unwrap())
    });
    group.bench_function("nn_lsh_8k_384", |b| {
        b.iter(|| nearest_neighbor_distances(black_box(&m), Some(LshParams::default())).unwrap())
    });
    group.finish();
}

criterion_group!(diversity, benches);
criterion_main!(diversity);
