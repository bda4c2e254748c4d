//! Extract text from HTML files (plain or `.gz`).
//!
//! ```text
//! html2text FILE...                 # print text of each file to stdout
//! html2text --out DIR FILE...       # write DIR/<file name>.txt for each file
//! html2text --bench N FILE...       # time N extraction rounds over the files (no I/O)
//! html2text --blocks --bench N FILE...  # same, timing `blocks()` (all block features)
//! html2text --main [--out DIR | --bench N] FILE...  # main-content mode
//! ```
//! Non-UTF-8 bytes are replaced (lossy) before extraction.

use std::io::Read;
use std::path::Path;
use std::time::Instant;

use alignkit_core::html::{blocks, extract_text, main_blocks, ExtractMode, ExtractOptions};

fn load(path: &Path) -> std::io::Result<String> {
    let raw = std::fs::read(path)?;
    let bytes = if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..]).read_to_end(&mut out)?;
        out
    } else {
        raw
    };
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut out_dir = None;
    let mut bench = None;
    let mut use_blocks = false;
    let mut opts = ExtractOptions::default();
    if args.first().is_some_and(|a| a == "--blocks") {
        use_blocks = true;
        args.remove(0);
    }
    if args.first().is_some_and(|a| a == "--debug") {
        // One line per block: kept-by-main flag, element id, chars, link density, hints, path, text.
        let opts = ExtractOptions::default();
        for a in &args[1..] {
            let html = load(Path::new(a))?;
            let kept = main_blocks(&html, &opts);
            let mut k = kept.iter().peekable();
            for b in blocks(&html, &opts) {
                let hit = k
                    .peek()
                    .is_some_and(|x| x.node == b.node && x.text == b.text);
                if hit {
                    k.next();
                }
                let text: String = b.text.chars().take(60).collect();
                println!(
                    "{} {:5} {:5} {:.2} {:04x} h{} {} | {}",
                    if hit { '+' } else { ' ' },
                    b.node,
                    b.text_chars,
                    b.link_density(),
                    b.hints.0,
                    b.heading_level,
                    b.path,
                    text.replace('\n', " ")
                );
            }
        }
        return Ok(());
    }
    if args.first().is_some_and(|a| a == "--main") {
        opts.mode = ExtractMode::Main;
        args.remove(0);
    }
    while args.len() >= 2 && (args[0] == "--out" || args[0] == "--bench") {
        let flag = args.remove(0);
        let v = args.remove(0);
        if flag == "--out" {
            out_dir = Some(v);
        } else {
            bench = Some(v.parse::<usize>()?);
        }
    }
    if args.is_empty() {
        eprintln!("usage: html2text [--out DIR | --bench N] FILE...");
        std::process::exit(2);
    }
    let docs: Vec<(String, String)> = args
        .iter()
        .map(|a| Ok((a.clone(), load(Path::new(a))?)))
        .collect::<std::io::Result<_>>()?;
    if let Some(rounds) = bench {
        let bytes: usize = docs.iter().map(|d| d.1.len()).sum();
        let mut sink = 0usize;
        let t = Instant::now();
        for _ in 0..rounds {
            for (_, html) in &docs {
                sink += if use_blocks {
                    blocks(html, &opts).iter().map(|b| b.text.len()).sum()
                } else {
                    extract_text(html, &opts)?.text.len()
                };
            }
        }
        let secs = t.elapsed().as_secs_f64();
        let n = (docs.len() * rounds) as f64;
        println!(
            "{} docs x {} rounds: {:.1} docs/s, {:.1} MB/s, {:.3} ms/doc (out {} bytes)",
            docs.len(),
            rounds,
            n / secs,
            (bytes * rounds) as f64 / secs / 1e6,
            secs * 1e3 / n,
            sink / rounds.max(1)
        );
        return Ok(());
    }
    for (name, html) in &docs {
        let ex = extract_text(html, &opts)?;
        match &out_dir {
            Some(dir) => {
                let base = Path::new(name)
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy();
                let target = Path::new(dir).join(format!("{base}.txt"));
                let meta = format!(
                    "{}\n{}\n",
                    ex.title.as_deref().unwrap_or(""),
                    ex.lang_hint.as_deref().unwrap_or("")
                );
                std::fs::write(&target, meta + &ex.text)?;
            }
            None => {
                println!(
                    "== {name}\ntitle: {:?}\nlang: {:?}\n{}\n",
                    ex.title, ex.lang_hint, ex.text
                );
            }
        }
    }
    Ok(())
}
