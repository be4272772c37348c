//! CPU-bound workloads for `cargo run -p unikernel-bench -- pgo`, where a profile can
//! change code layout and inlining (the microbench operations are system-call bound).
//!
//! `pgo-workloads [--iterations N] [--seed S] OP...` runs each operation N times after a
//! warm-up of N/10 and prints, like `examples/microbench`:
//!
//! ```text
//! op json iterations 200 ns 5123456 checksum 123
//! ```
//!
//! `--seed` changes the generated input (the benchmark trains on one seed and measures
//! on another). Operations: `json` (build a document of records, serialize it with
//! serde_json, parse it back), `regex` (regex-lite: find e-mail-like words and dates in
//! generated text).

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use regex_lite::Regex;
use serde_json::{Value, json};

/// SplitMix64: deterministic input from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn word(&mut self) -> String {
        let len = 2 + self.next() % 9;
        (0..len)
            .map(|_| char::from(b'a' + (self.next() % 26) as u8))
            .collect()
    }
}

fn document(rng: &mut Rng, records: u64) -> Value {
    let items: Vec<Value> = (0..records)
        .map(|id| {
            let tags: Vec<Value> = (0..rng.next() % 5).map(|_| rng.word().into()).collect();
            json!({
                "id": id,
                "name": rng.word(),
                "score": (rng.next() % 100_000) as f64 / 7.0,
                "active": rng.next() % 2 == 0,
                "tags": tags,
                "owner": { "name": rng.word(), "age": rng.next() % 90 },
                "note": if rng.next() % 3 == 0 { Value::Null } else { rng.word().into() },
            })
        })
        .collect();
    json!({ "items": items })
}

/// Serialize a 40-record document and parse it back, per iteration.
fn json_op(seed: u64, iterations: u64) -> u64 {
    let mut rng = Rng(seed);
    let doc = document(&mut rng, 40);
    let mut sum = 0u64;
    for _ in 0..iterations {
        let text = serde_json::to_string(black_box(&doc)).expect("serializable");
        let back: Value = serde_json::from_str(&text).expect("parses");
        sum = sum.wrapping_add(text.len() as u64);
        sum = sum.wrapping_add(back["items"].as_array().map_or(0, |a| a.len() as u64));
    }
    sum
}

/// Scan 8 KiB of generated text for e-mail-like words and dates, per iteration.
fn regex_op(seed: u64, iterations: u64) -> u64 {
    let mut rng = Rng(seed);
    let mut text = String::new();
    while text.len() < 8 * 1024 {
        match rng.next() % 8 {
            0 => text.push_str(&format!("{}@{}.org ", rng.word(), rng.word())),
            1 => text.push_str(&format!(
                "20{:02}-{:02}-{:02} ",
                rng.next() % 30,
                1 + rng.next() % 12,
                1 + rng.next() % 28
            )),
            _ => {
                text.push_str(&rng.word());
                text.push(' ');
            }
        }
    }
    let email = Regex::new(r"[a-z]+@[a-z]+\.(org|com)").expect("valid");
    let date = Regex::new(r"(\d{4})-(\d{2})-(\d{2})").expect("valid");
    let mut sum = 0u64;
    for _ in 0..iterations {
        let text = black_box(text.as_str());
        sum = sum.wrapping_add(email.find_iter(text).count() as u64);
        for caps in date.captures_iter(text) {
            sum = sum.wrapping_add(caps[2].parse::<u64>().unwrap_or(0));
        }
    }
    sum
}

fn main() -> ExitCode {
    let mut iterations = 100u64;
    let mut seed = 1u64;
    let mut ops = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |what: &str| {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{what} needs a number"))
        };
        match arg.as_str() {
            "--iterations" => iterations = number("--iterations"),
            "--seed" => seed = number("--seed"),
            op => ops.push(op.to_owned()),
        }
    }
    for op in &ops {
        let run: fn(u64, u64) -> u64 = match op.as_str() {
            "json" => json_op,
            "regex" => regex_op,
            other => {
                eprintln!("unknown operation `{other}` (json, regex)");
                return ExitCode::from(2);
            }
        };
        run(seed, (iterations / 10).max(1));
        let started = Instant::now();
        let checksum = run(seed, iterations);
        let ns = started.elapsed().as_nanos();
        println!("op {op} iterations {iterations} ns {ns} checksum {checksum}");
    }
    ExitCode::SUCCESS
}
