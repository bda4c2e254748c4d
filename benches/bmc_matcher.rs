//! Criterion bench for `alignkit_core::bmc`: difflib-exact opcodes of revision-like token pairs
//! (300-1000 ids, vocabulary-sized alphabet) and the parallel varied-mask batch.

use std::collections::HashSet;
use std::hint::black_box;

use alignkit_core::bmc::{varied_masks_batch, SequenceMatcher};
use alignkit_core::dedup::hash::splitmix64;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// A Zipf-ish token sequence (frequent ids repeat, like function words) and a copy with a few
/// replaced, deleted and inserted runs.
fn pair(len: usize, state: &mut u64) -> (Vec<u32>, Vec<u32>) {
    let token = |s: &mut u64| {
        let r = splitmix64(s) % 1000;
        if r < 300 {
            (r % 30) as u32
        } else {
            (splitmix64(s) % 50_000) as u32
        }
    };
    let a: Vec<u32> = (0..len).map(|_| token(state)).collect();
    let mut b = Vec::with_capacity(len + 32);
    let mut i = 0;
    while i < a.len() {
        match splitmix64(state) % 40 {
            0 => i += 1 + (splitmix64(state) % 4) as usize,
            1 => b.extend((0..1 + splitmix64(state) % 4).map(|_| token(state))),
            2 => {
                b.push(token(state));
                i += 1;
            }
            _ => {
                b.push(a[i]);
                i += 1;
            }
        }
    }
    (a, b)
}

fn opcodes(c: &mut Criterion) {
    let mut group = c.benchmark_group("bmc_opcodes");
    let mut state = 11u64;
    for len in [300usize, 1000] {
        let (a, b) = pair(len, &mut state);
        let mut matcher = SequenceMatcher::new();
        let mut out = Vec::new();
        group.throughput(Throughput::Elements(len as u64));
        group.bench_with_input(BenchmarkId::from_parameter(len), &len, |bench, _| {
            bench.iter(|| {
                matcher.opcodes_into(black_box(&a), black_box(&b), &mut out);
                black_box(&out);
            })
        });
    }
    group.finish();
}

fn masks(c: &mut Criterion) {
    let mut state = 5u64;
    let (rejected, chosen): (Vec<Vec<u32>>, Vec<Vec<u32>>) =
        (0..256).map(|k| pair(300 + k * 3, &mut state)).unzip();
    let stop: HashSet<u32> = (0..30).collect();
    c.bench_function("bmc_varied_masks_batch_256", |bench| {
        bench.iter(|| black_box(varied_masks_batch(&chosen, &rejected, &stop)))
    });
}

criterion_group!(benches, opcodes, masks);
criterion_main!(benches);
