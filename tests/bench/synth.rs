//! Synthetic items for the benchmarks: prompt ~300 characters, response ~2 KB, with
//! non-ASCII text (accents, CJK, emoji with ZWJ), quotes, commas and newlines.
#![allow(clippy::unwrap_used, dead_code)]

use std::io::Write;
use std::path::Path;

const WORDS: &[&str] = &[
    "the",
    "model",
    "response",
    "explains",
    "how",
    "to",
    "safely",
    "store",
    "chemicals",
    "über",
    "naïve",
    "café",
    "日本語の",
    "テキスト",
    "中文",
    "内容",
    "🙂",
    "👩‍💻",
    "résumé",
    "harm",
    "refuse",
    "policy",
    "instructions",
    "\"quoted\"",
    "comma,",
    "data",
    "user",
];

pub fn text(rng: &mut u64, bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 16);
    while s.len() < bytes {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        s.push_str(WORDS[(*rng % WORDS.len() as u64) as usize]);
        s.push(if rng.is_multiple_of(97) { '\n' } else { ' ' });
    }
    s
}

fn csv_field(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Writes `n` items as CSV (id, prompt, response, model).
pub fn generate(path: &Path, n: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(f, "id,prompt,response,model").unwrap();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..n {
        let prompt = text(&mut rng, 300);
        let response = text(&mut rng, 2048);
        writeln!(
            f,
            "item-{i},{},{},model-{}",
            csv_field(&prompt),
            csv_field(&response),
            i % 5
        )
        .unwrap();
    }
}

/// `--items N` from the command line (default 100,000).
pub fn items_arg() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--items")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000)
}
