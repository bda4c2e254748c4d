//! Criterion bench for HTML-to-text extraction on a built-in synthetic page set.
//!
//! The pages are generated in code (no external data) and mimic real ones: a head with
//! meta tags, styles and scripts, navigation lists, an article with headings, paragraphs,
//! links, entities and a table, a sidebar, hidden widgets, comments and a footer.

use std::fmt::Write;
use std::hint::black_box;

use alignkit_core::html::{blocks, extract_batch, extract_text, ExtractMode, ExtractOptions};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "the",
    "data",
    "model",
    "alignment",
    "pipeline",
    "für",
    "über",
    "naïve",
    "résumé",
    "text",
    "quality",
    "filter",
    "token",
    "日本語",
    "вектор",
    "example",
    "page",
    "news",
    "report",
    "city",
    "market",
    "science",
    "study",
    "results",
    "people",
    "time",
    "year",
    "world",
    "water",
    "system",
];

fn sentence(r: &mut Rng, out: &mut String, links: bool) {
    let n = 6 + r.below(18);
    for i in 0..n {
        if i > 0 {
            out.push(' ');
        }
        match r.below(40) {
            0 if links => {
                let _ = write!(
                    out,
                    "<a href=\"/wiki/{}\" class=\"link\">{}</a>",
                    r.below(9999),
                    WORDS[r.below(WORDS.len())]
                );
            }
            1 => out.push_str("&amp;"),
            2 => out.push_str("&nbsp;"),
            3 => {
                let _ = write!(out, "<b>{}</b>", WORDS[r.below(WORDS.len())]);
            }
            4 => out.push_str("&#8220;quoted&#8221;"),
            _ => out.push_str(WORDS[r.below(WORDS.len())]),
        }
    }
    out.push_str(". ");
}

fn page(seed: u64) -> String {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut h = String::with_capacity(64 * 1024);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en-US\"><head><meta charset=\"utf-8\">\n");
    let _ = writeln!(
        h,
        "<title>Synthetic page {seed} &ndash; Example News</title>"
    );
    h.push_str("<meta property=\"og:title\" content=\"Synthetic\"><link rel=\"stylesheet\" href=\"/s.css\">\n");
    h.push_str("<style>body{margin:0}.nav>li{display:inline-block}@media(max-width:600px){.side{display:none}}</style>\n");
    for _ in 0..3 + r.below(4) {
        h.push_str("<script type=\"text/javascript\">(function(w,d){var s=d.createElement('script');s.src='/a.js';if(w.x<3){d.write('<div></div>');}})(window,document);</script>\n");
    }
    h.push_str("</head>\n<body class=\"page home\">\n<header id=\"top\"><div class=\"logo\"><a href=\"/\">Example</a></div>\n<nav class=\"main-nav\"><ul>");
    for i in 0..8 + r.below(10) {
        let _ = write!(
            h,
            "<li class=\"menu-item\"><a href=\"/section/{i}\">{}</a></li>",
            WORDS[r.below(WORDS.len())]
        );
    }
    h.push_str("</ul></nav></header>\n<main><article class=\"post entry\">\n");
    let _ = writeln!(h, "<h1 class=\"entry-title\">Headline number {seed}</h1>");
    for s in 0..3 + r.below(5) {
        let _ = writeln!(h, "<h2 id=\"s{s}\">Section {s}</h2>");
        for _ in 0..2 + r.below(5) {
            h.push_str("<p>");
            for _ in 0..2 + r.below(6) {
                sentence(&mut r, &mut h, true);
            }
            h.push_str("</p>\n");
        }
        if r.below(3) == 0 {
            h.push_str("<ul>");
            for _ in 0..3 + r.below(5) {
                h.push_str("<li>");
                sentence(&mut r, &mut h, true);
                h.push_str("</li>");
            }
            h.push_str("</ul>\n");
        }
        if r.below(4) == 0 {
            h.push_str("<table class=\"data\"><thead><tr><th>Name</th><th>Value</th><th>Unit</th></tr></thead><tbody>");
            for i in 0..4 + r.below(8) {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>kg</td></tr>",
                    WORDS[r.below(WORDS.len())],
                    i * 7
                );
            }
            h.push_str("</tbody></table>\n");
        }
        if r.below(5) == 0 {
            h.push_str("<pre><code>fn main() {\n    println!(\"hi &lt;3\");\n}\n</code></pre>\n");
        }
    }
    h.push_str(
        "<div class=\"share\" aria-hidden=\"true\"><span>Share</span></div>\n</article></main>\n",
    );
    h.push_str("<aside class=\"sidebar\"><div class=\"widget\"><h3>Related</h3><ul>");
    for _ in 0..5 {
        h.push_str("<li><a href=\"/r\">");
        sentence(&mut r, &mut h, false);
        h.push_str("</a></li>");
    }
    h.push_str("</ul></div><div style=\"display:none\">hidden promo</div></aside>\n");
    h.push_str("<!-- comments --><section id=\"comments\"><h3>3 Comments</h3>");
    for _ in 0..r.below(6) {
        h.push_str("<div class=\"comment\"><p>");
        sentence(&mut r, &mut h, false);
        h.push_str("</p></div>");
    }
    h.push_str("<form><label>Name <input name=n></label><select><option>A<option>B</select><button>Send</button></form></section>\n");
    h.push_str("<footer><p>&copy; 2024 Example Ltd. &middot; <a href=\"/imprint\">Imprint</a></p></footer>\n");
    h.push_str("<script>window.dataLayer=window.dataLayer||[];function g(){dataLayer.push(arguments)}</script>\n</body></html>\n");
    h
}

fn bench(c: &mut Criterion) {
    let pages: Vec<String> = (1..=32).map(page).collect();
    let bytes: usize = pages.iter().map(|p| p.len()).sum();
    let opts = ExtractOptions::default();
    let mut g = c.benchmark_group("html_extract");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("extract_text_plain", |b| {
        b.iter(|| {
            for p in &pages {
                black_box(extract_text(black_box(p), &opts).unwrap());
            }
        })
    });
    let main_opts = ExtractOptions {
        mode: ExtractMode::Main,
        ..ExtractOptions::default()
    };
    g.bench_function("extract_text_main", |b| {
        b.iter(|| {
            for p in &pages {
                black_box(extract_text(black_box(p), &main_opts).unwrap());
            }
        })
    });
    g.bench_function("blocks_with_features", |b| {
        b.iter(|| {
            for p in &pages {
                black_box(blocks(black_box(p), &opts));
            }
        })
    });
    let refs: Vec<&str> = pages.iter().map(|p| p.as_str()).collect();
    g.bench_function("extract_batch_rayon", |b| {
        b.iter(|| black_box(extract_batch(black_box(&refs), &opts)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
