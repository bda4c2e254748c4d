//! Criterion benches for `alignkit_core::dedup`: the MinHash kernel on pre-hashed shingles,
//! end-to-end text signatures, LSH sealing/clustering, and exact dedup (set vs blocked Bloom).

use std::hint::black_box;

use alignkit_core::dedup::exact::ExactDeduper;
use alignkit_core::dedup::hash::splitmix64;
use alignkit_core::dedup::lsh::{band_hashes_batch, LshIndex, LshParams};
use alignkit_core::dedup::minhash::{HashScheme, MinHasher, Shingles};
use alignkit_core::dedup::normalize::Normalize;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn texts(n: usize, words: usize) -> Vec<String> {
    let mut state = 42u64;
    (0..n)
        .map(|_| {
            (0..words)
                .map(|_| format!("w{}", splitmix64(&mut state) % 50_000))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn kernel(c: &mut Criterion) {
    let mut group = c.benchmark_group("minhash_kernel");
    let mut state = 7u64;
    let values: Vec<u32> = (0..200_000)
        .map(|_| splitmix64(&mut state) as u32)
        .collect();
    group.throughput(Throughput::Elements(values.len() as u64));
    for num_perm in [64usize, 128, 256] {
        let h = MinHasher::new(num_perm, 1, HashScheme::Fast).unwrap();
        let mut sig = vec![0u32; num_perm];
        group.bench_with_input(BenchmarkId::from_parameter(num_perm), &num_perm, |b, _| {
            b.iter(|| {
                MinHasher::clear(&mut sig);
                h.update(&mut sig, black_box(&values));
                black_box(&sig);
            })
        });
    }
    group.finish();
}

fn signatures(c: &mut Criterion) {
    let docs = texts(2_000, 200);
    let bytes: usize = docs.iter().map(|d| d.len()).sum();
    let mut group = c.benchmark_group("signatures_word5_128");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(20);
    for scheme in [HashScheme::Fast, HashScheme::Datasketch] {
        let h = MinHasher::new(128, 1, scheme).unwrap();
        let mut out = vec![0u32; docs.len() * 128];
        group.bench_function(scheme.name(), |b| {
            b.iter(|| {
                h.sign_texts(
                    black_box(&docs),
                    Shingles::Words(5),
                    Normalize::Lower,
                    &mut out,
                )
            })
        });
    }
    group.finish();
}

fn lsh(c: &mut Criterion) {
    let n = 100_000usize;
    let mut state = 9u64;
    let sigs: Vec<u32> = (0..n * 128)
        .map(|_| splitmix64(&mut state) as u32)
        .collect();
    let params = LshParams::new(14, 9, 128).unwrap();
    let hashes = band_hashes_batch(&sigs, 128, params);
    let mut group = c.benchmark_group("lsh_100k");
    group.sample_size(10);
    group.bench_function("band_hashes", |b| {
        b.iter(|| band_hashes_batch(black_box(&sigs), 128, params))
    });
    group.bench_function("insert_seal_cluster", |b| {
        b.iter(|| {
            let mut index = LshIndex::with_capacity(params, n);
            index.extend_band_hashes(&hashes).unwrap();
            index.seal();
            black_box(index.clusters(None).unwrap().components())
        })
    });
    group.finish();
}

fn exact(c: &mut Criterion) {
    let docs = texts(20_000, 50);
    let mut group = c.benchmark_group("exact_20k");
    group.throughput(Throughput::Elements(docs.len() as u64));
    group.bench_function("hash_set", |b| {
        b.iter(|| {
            let mut d = ExactDeduper::with_set(Normalize::Lower);
            docs.iter().filter(|t| d.insert_text(t)).count()
        })
    });
    group.bench_function("blocked_bloom", |b| {
        b.iter(|| {
            let mut d =
                ExactDeduper::with_bloom(Normalize::Lower, docs.len() as u64, 1e-3).unwrap();
            docs.iter().filter(|t| d.insert_text(t)).count()
        })
    });
    group.finish();
}

criterion_group!(benches, kernel, signatures, lsh, exact);
criterion_main!(benches);
