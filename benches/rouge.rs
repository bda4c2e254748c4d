//! Criterion benches for `alignkit_core::rouge`: one bit-parallel LCS pair (short and
//! multi-word), and Lion's novelty filter of 200 instruction-like candidates against a pool of
//! 5,000 (every candidate scanned against the pool and the kept ones).

use std::hint::black_box;

use alignkit_core::dedup::hash::splitmix64;
use alignkit_core::rouge::lcs::Pattern;
use alignkit_core::rouge::{RougeLPool, Tokenizer};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// Instruction-like texts: 6-40 words, Zipf-ish over a 5,000-word vocabulary.
fn texts(count: usize, state: &mut u64) -> Vec<String> {
    (0..count)
        .map(|_| {
            let len = 6 + (splitmix64(state) % 35) as usize;
            (0..len)
                .map(|_| {
                    let r = splitmix64(state) % 1000;
                    let word = if r < 400 {
                        r % 40
                    } else {
                        splitmix64(state) % 5000
                    };
                    format!("w{word}")
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn ids(len: usize, state: &mut u64) -> Vec<u32> {
    (0..len).map(|_| (splitmix64(state) % 200) as u32).collect()
}

fn lcs_pair(c: &mut Criterion) {
    let mut group = c.benchmark_group("rouge_lcs_pair");
    let mut state = 3u64;
    let mut pattern = Pattern::new();
    let mut row = Vec::new();
    for len in [20usize, 300] {
        let (a, b) = (ids(len, &mut state), ids(len, &mut state));
        pattern.set(&a, 200);
        group.throughput(Throughput::Elements(len as u64));
        group.bench_with_input(BenchmarkId::from_parameter(len), &len, |bench, _| {
            bench.iter(|| black_box(pattern.lcs(black_box(&b), &mut row)))
        });
    }
    group.finish();
}

fn novelty_filter(c: &mut Criterion) {
    let mut state = 7u64;
    let pool_texts = texts(5000, &mut state);
    let candidates = texts(200, &mut state);
    let mut pool = RougeLPool::new(Tokenizer::RougeScore);
    pool.add(&pool_texts).unwrap();
    let mut group = c.benchmark_group("rouge_filter_novel");
    group.sample_size(20);
    group.bench_function("200_vs_5000", |bench| {
        bench.iter(|| black_box(pool.filter_novel(&candidates, 0.7, false).unwrap()))
    });
    group.bench_function("max_similarity_200_vs_5000", |bench| {
        bench.iter(|| black_box(pool.max_similarity(&candidates)))
    });
    group.finish();
}

criterion_group!(benches, lcs_pair, novelty_filter);
criterion_main!(benches);
