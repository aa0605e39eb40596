//! The reference for evaluate's speed (`benches/ratio.sh`): what no evaluator of these captures can beat by much.
//! Each capture line parsed with simd-json (SIMD, into reused buffers), the CSV request body split, every numeric
//! value parsed and counted into a fixed 256-bin histogram of its feature, every category counted, the response's
//! score parsed. No type inference, skip reporting, sketches, drift or metrics: evaluate does all of those besides.
//!
//! Usage: `reference FILE` (a capture file of `dataset captures`); prints the records read and a checksum.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};

use modelwatch_benches::{NUMERIC, STRINGS};
use simd_json::prelude::*;

fn main() {
    let path = std::env::args().nth(1).expect("usage: reference FILE");
    let file = std::fs::File::open(&path).expect("the capture file");
    let mut input = BufReader::with_capacity(1 << 16, file);
    let mut buffers = simd_json::Buffers::default();
    let mut line = Vec::new();
    let mut numeric = vec![[0u64; 256]; NUMERIC];
    let mut categories: Vec<HashMap<String, u64>> = vec![HashMap::new(); STRINGS];
    let mut scores = [0u64; 256];
    let mut records = 0u64;
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line).expect("read") == 0 {
            break;
        }
        let Ok(value) = simd_json::to_borrowed_value_with_buffers(&mut line, &mut buffers) else {
            continue;
        };
        let capture = value.get("captureData");
        let body = |side: &str| {
            capture
                .and_then(|c| c.get(side))
                .and_then(|b| b.get("data"))
                .and_then(|d| d.as_str())
        };
        let (Some(features), Some(score)) = (body("endpointInput"), body("endpointOutput")) else {
            continue;
        };
        for (i, field) in features.split(',').enumerate() {
            if i < NUMERIC {
                if let Ok(v) = field.parse::<f64>() {
                    numeric[i][((v - i as f64) * 0.256).clamp(0.0, 255.0) as usize] += 1;
                }
            } else if let Some(counts) = categories.get_mut(i - NUMERIC) {
                match counts.get_mut(field) {
                    Some(n) => *n += 1,
                    None => {
                        counts.insert(field.to_owned(), 1);
                    }
                }
            }
        }
        if let Ok(s) = score.trim().parse::<f64>() {
            scores[(s * 256.0).clamp(0.0, 255.0) as usize] += 1;
        }
        records += 1;
    }
    let checksum: u64 = numeric
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, n)| i as u64 * n)
        .sum::<u64>()
        + categories.iter().flat_map(|c| c.values()).sum::<u64>()
        + scores.iter().sum::<u64>();
    println!("{records} records, checksum {checksum}");
}
