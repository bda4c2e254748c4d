use super::lcs::{could_exceed, f1_from_lcs, Pattern};
use super::*;
use crate::dedup::hash::splitmix64;

/// Textbook O(m n) LCS table, the reference for the bit-parallel one.
fn lcs_table<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut prev = vec![0usize; b.len() + 1];
    for x in a {
        let mut cur = vec![0usize; b.len() + 1];
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = if x == y {
                prev[j] + 1
            } else {
                prev[j + 1].max(cur[j])
            };
        }
        prev = cur;
    }
    prev[b.len()]
}

fn reference_f1(target: &str, prediction: &str) -> f64 {
    let t = Tokenizer::RougeScore.tokenize(target);
    let p = Tokenizer::RougeScore.tokenize(prediction);
    f1_from_lcs(lcs_table(&t, &p), t.len(), p.len())
}

fn random_ids(len: usize, alphabet: u64, state: &mut u64) -> Vec<u32> {
    (0..len)
        .map(|_| (splitmix64(state) % alphabet) as u32)
        .collect()
}

/// Texts of 0-40 words over a small vocabulary, so near duplicates and ties are common.
fn random_texts(count: usize, state: &mut u64) -> Vec<String> {
    const WORDS: [&str; 12] = [
        "write", "a", "poem", "about", "the", "sea", "Explain", "why", "sky", "is", "blue", "2",
    ];
    (0..count)
        .map(|_| {
            let len = (splitmix64(state) % 41) as usize;
            (0..len)
                .map(|_| WORDS[(splitmix64(state) % WORDS.len() as u64) as usize])
                .collect::<Vec<_>>()
                .join(if splitmix64(state).is_multiple_of(2) {
                    " "
                } else {
                    ", "
                })
        })
        .collect()
}

#[test]
fn rouge_score_tokenizer_matches_python_rules() {
    let tok = |s: &str| Tokenizer::RougeScore.tokenize(s);
    assert_eq!(
        tok("Hello, World! 123abc x_y"),
        ["hello", "world", "123abc", "x", "y"]
    );
    assert_eq!(tok("café au lait"), ["caf", "au", "lait"]);
    assert_eq!(tok("\u{130}stanbul"), ["i", "stanbul"]);
    assert_eq!(tok("\u{212A}elvin"), ["kelvin"]);
    assert!(tok("中文文本").is_empty());
    assert!(tok("").is_empty());
    assert!(tok("--- !!! ...").is_empty());
}

#[test]
fn unicode_tokenizer_keeps_non_ascii_words() {
    let tok = |s: &str| Tokenizer::Unicode.tokenize(s);
    assert_eq!(tok("Héllo, WÖRLD_2"), ["héllo", "wörld", "2"]);
    assert_eq!(tok("我爱北京"), ["我", "爱", "北", "京"]);
    assert_eq!(tok("abc日本def"), ["abc", "日", "本", "def"]);
    assert_eq!(tok("ΟΔΟΣ οδος"), ["οδοσ", "οδοσ"]);
    assert_eq!(tok("Привет, мир!"), ["привет", "мир"]);
    assert!(tok(" .,; ").is_empty());
}

#[test]
fn tokenizer_names_round_trip_and_unknown_is_an_error() {
    for name in Tokenizer::NAMES {
        assert_eq!(Tokenizer::from_name(name).unwrap().name(), name);
    }
    let err = Tokenizer::from_name("spacy").unwrap_err().to_string();
    assert!(err.contains("unknown tokenizer \"spacy\"") && err.contains("rouge_score"));
}

#[test]
fn bit_parallel_lcs_equals_the_table() {
    let mut state = 7u64;
    let mut pattern = Pattern::new();
    let mut row = Vec::new();
    for len_a in [0usize, 1, 5, 63, 64, 65, 127, 128, 129, 200] {
        for len_b in [0usize, 1, 30, 64, 150] {
            for alphabet in [2u64, 5, 50] {
                let a = random_ids(len_a, alphabet, &mut state);
                let b = random_ids(len_b, alphabet, &mut state);
                pattern.set(&a, alphabet as usize);
                assert_eq!(
                    pattern.lcs(&b, &mut row),
                    lcs_table(&a, &b),
                    "{len_a}x{len_b} over {alphabet}"
                );
            }
        }
    }
}

#[test]
fn ids_outside_the_vocabulary_take_a_position_but_never_match() {
    let mut pattern = Pattern::new();
    pattern.set(&[0, 9, 1, 9], 2);
    assert_eq!(pattern.len(), 4);
    assert_eq!(pattern.lcs(&[0, 1, 1], &mut Vec::new()), 2);
}

#[test]
fn f_measure_follows_rouge_score() {
    assert_eq!(f1_from_lcs(0, 3, 4), 0.0);
    assert_eq!(f1_from_lcs(0, 0, 4), 0.0);
    assert_eq!(f1_from_lcs(3, 3, 3), 1.0);
    let (p, r) = (2.0 / 4.0, 2.0 / 3.0);
    assert_eq!(f1_from_lcs(2, 3, 4), 2.0 * p * r / (p + r));
    assert_eq!(
        rouge_l_f1("The cat sat", "the cat sat down", Tokenizer::RougeScore).unwrap(),
        f1_from_lcs(3, 3, 4)
    );
    assert_eq!(
        rouge_l_f1("中文", "中文", Tokenizer::RougeScore).unwrap(),
        0.0
    );
    assert_eq!(rouge_l_f1("中文", "中文", Tokenizer::Unicode).unwrap(), 1.0);
}

#[test]
fn length_bound_never_skips_a_pair_that_exceeds() {
    for m in 0..80usize {
        for n in 0..80usize {
            for lcs in 0..=m.min(n) {
                let f = f1_from_lcs(lcs, m, n);
                assert!(could_exceed(m, n, f - 1e-12) || f == 0.0, "{lcs} {m} {n}");
                for floor in [0.0, 0.5, 0.7, f] {
                    if f > floor {
                        assert!(could_exceed(m, n, floor), "{lcs} {m} {n} {floor}");
                    }
                }
            }
        }
    }
    assert!(!could_exceed(2, 10, 0.7));
    assert!(could_exceed(0, 5, f64::NEG_INFINITY));
}

fn check_queries_against_reference(pool_size: usize, seed: u64) {
    let mut state = seed;
    let texts = random_texts(pool_size, &mut state);
    let candidates = random_texts(12, &mut state);
    let mut pool = RougeLPool::new(Tokenizer::RougeScore);
    pool.add(&texts).unwrap();
    assert_eq!(pool.len(), pool_size);

    let maxima = pool.max_similarity(&candidates);
    for (c, &(best, index)) in candidates.iter().zip(&maxima) {
        let scores: Vec<f64> = texts.iter().map(|t| reference_f1(c, t)).collect();
        let want = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let first = scores.iter().position(|&s| s == want).unwrap();
        assert_eq!((best, index), (want, Some(first)));

        let mut ranked: Vec<(usize, f64)> = scores.iter().copied().enumerate().collect();
        ranked.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        ranked.truncate(7);
        assert_eq!(pool.top_k(c, 7).unwrap(), ranked);
    }

    let novel = pool.filter_novel(&candidates, 0.7, true).unwrap();
    let mut seen = texts.clone();
    let mut want = Vec::new();
    for c in &candidates {
        let keep = seen.iter().all(|t| reference_f1(c, t) <= 0.7);
        if keep {
            seen.push(c.clone());
        }
        want.push(keep);
    }
    assert_eq!(novel, want);
    assert_eq!(pool.len(), seen.len());
    assert_eq!(pool.text(pool.len() - 1), seen.last().map(String::as_str));
}

#[test]
fn small_pool_queries_are_exact() {
    check_queries_against_reference(300, 3);
}

#[test]
fn large_pool_queries_are_exact_on_the_parallel_path() {
    let mut pool = RougeLPool::new(Tokenizer::RougeScore);
    pool.add(&random_texts(2500, &mut 5)).unwrap();
    assert!(pool.scan_in_parallel());
    check_queries_against_reference(2500, 5);
}

#[test]
fn long_texts_use_multi_word_rows() {
    let mut state = 11u64;
    let long: Vec<String> = (0..20)
        .map(|_| random_texts(6, &mut state).join(" "))
        .collect();
    let mut pool = RougeLPool::new(Tokenizer::RougeScore);
    pool.add(&long).unwrap();
    for (c, (best, index)) in long.iter().zip(pool.max_similarity(&long)) {
        let want = long.iter().map(|t| reference_f1(c, t)).fold(0.0, f64::max);
        assert_eq!(best, want);
        assert_eq!(reference_f1(c, &long[index.unwrap()]), want);
    }
}

#[test]
fn empty_pool_and_empty_candidates() {
    let mut pool = RougeLPool::new(Tokenizer::RougeScore);
    assert_eq!(pool.max_similarity(&["a b"]), [(0.0, None)]);
    assert!(pool.top_k("a b", 3).unwrap().is_empty());
    pool.add(&["x y", "", "中文"]).unwrap();
    assert_eq!(
        pool.max_similarity(&["", "!!"]),
        [(0.0, Some(0)), (0.0, Some(0))]
    );
    assert_eq!(pool.top_k("zz", 5).unwrap(), [(0, 0.0), (1, 0.0), (2, 0.0)]);
    // Empty candidates score 0 against everything, so they are always novel.
    assert_eq!(
        pool.filter_novel(&["", "", "x y"], 0.0, true).unwrap(),
        [true, true, false]
    );
}

#[test]
fn filter_without_add_gives_the_same_answer_and_leaves_the_pool() {
    let mut state = 13u64;
    let texts = random_texts(100, &mut state);
    let candidates = random_texts(30, &mut state);
    let mut kept = RougeLPool::new(Tokenizer::RougeScore);
    kept.add(&texts).unwrap();
    let mut unchanged = RougeLPool::new(Tokenizer::RougeScore);
    unchanged.add(&texts).unwrap();
    let with_add = kept.filter_novel(&candidates, 0.5, true).unwrap();
    let without = unchanged.filter_novel(&candidates, 0.5, false).unwrap();
    assert_eq!(with_add, without);
    assert_eq!(unchanged.len(), 100);
    assert_eq!(kept.len(), 100 + with_add.iter().filter(|&&k| k).count());
    assert_eq!(unchanged.max_similarity(&candidates[..1]), {
        let mut fresh = RougeLPool::new(Tokenizer::RougeScore);
        fresh.add(&texts).unwrap();
        fresh.max_similarity(&candidates[..1])
    });
}

#[test]
fn bad_arguments_are_errors() {
    let mut pool = RougeLPool::new(Tokenizer::RougeScore);
    pool.add(&["a b c"]).unwrap();
    for bad in [f64::NAN, f64::INFINITY, -0.1, 1.5] {
        let err = pool
            .filter_novel(&["a"], bad, true)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("threshold must be a finite number in [0, 1]"),
            "{err}"
        );
    }
    assert!(pool.filter_novel(&["a b c"], 1.0, true).unwrap()[0]);
    assert_eq!(pool.top_k("a b", usize::MAX).unwrap().len(), 2);
    let err = pool.top_k("a", 0).unwrap_err().to_string();
    assert!(err.contains("k must be at least 1"));
    assert_eq!(pool.len(), 2);
}
