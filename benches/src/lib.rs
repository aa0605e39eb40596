//! Generated capture streams (and training rows) for the benchmarks: 25 features (20 numeric, 5 string), CSV-encoded, as a reader
//! that produces records on the fly, so that generating a million records costs no memory.
//!
//! # Layout
//!
//! - `lib.rs`: the generator ([`CaptureStream`]) and the schema it matches ([`schema`]).
//! - `benches/ingest.rs`: the criterion benchmark of parse + profile.
//! - `src/bin/ingest.rs`: a command that streams N records through the evaluator, for peak-memory runs
//!   (`benches/memory.sh`).
//! - `src/bin/dataset.rs`: writes a training data set of the same rows (CSV or Parquet) and profiles it into a
//!   baseline, for the larger-than-memory runs (`benches/baseline.sh`).

use std::io::Read;

use modelwatch_core::capture::Schema;
use modelwatch_core::profile::InferredType;

pub const NUMERIC: usize = 20;
pub const STRINGS: usize = 5;

/// The 25 features the generated captures carry.
pub fn schema() -> Schema {
    Schema::new(
        (0..NUMERIC)
            .map(|i| (format!("n{i}"), Some(InferredType::Fractional)))
            .chain((0..STRINGS).map(|i| (format!("s{i}"), Some(InferredType::String)))),
    )
}

const CATEGORIES: [&str; 8] = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"];

/// An endless (up to `records`) stream of capture lines.
pub struct CaptureStream {
    records: usize,
    produced: usize,
    state: u64,
    row: Row,
    line: Vec<u8>,
    pos: usize,
}

impl CaptureStream {
    pub fn new(records: usize) -> Self {
        Self {
            records,
            produced: 0,
            state: 0x2545_F491_4F6C_DD1D,
            row: Row::new(),
            line: Vec::new(),
            pos: 0,
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    fn fill_line(&mut self) {
        use std::io::Write;
        self.line.clear();
        self.row.next();
        let data = self.row.csv();
        let score = (self.next_u64() % 10_000) as f64 / 10_000.0;
        let _ = write!(
            self.line,
            r#"{{"captureData":{{"endpointInput":{{"observedContentType":"text/csv","mode":"INPUT","data":"{data}","encoding":"CSV"}},"endpointOutput":{{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT","data":"{score}","encoding":"CSV"}}}},"eventMetadata":{{"eventId":"{:016x}-{:08x}","inferenceTime":"2026-11-26T08:00:00.000Z"}},"eventVersion":"0"}}"#,
            self.state, self.produced
        );
        self.line.push(b'\n');
        self.pos = 0;
    }
}

impl Read for CaptureStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.line.len() {
            if self.produced == self.records {
                return Ok(0);
            }
            self.fill_line();
            self.produced += 1;
        }
        let n = buf.len().min(self.line.len() - self.pos);
        buf[..n].copy_from_slice(&self.line[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Rows of a training data set with the captures' features and distributions, one at a time.
pub struct Row {
    state: u64,
    numbers: [f64; NUMERIC],
    strings: [&'static str; STRINGS],
}

impl Default for Row {
    fn default() -> Self {
        Self::new()
    }
}

impl Row {
    pub fn new() -> Self {
        Self {
            state: 0x9E37_79B9_7F4A_7C15,
            numbers: [0.0; NUMERIC],
            strings: [""; STRINGS],
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    /// Draws the next row.
    pub fn next(&mut self) {
        for i in 0..NUMERIC {
            self.numbers[i] = (self.next_u64() % 1_000_000) as f64 / 1000.0 + i as f64;
        }
        for i in 0..STRINGS {
            self.strings[i] = CATEGORIES[(self.next_u64() % CATEGORIES.len() as u64) as usize];
        }
    }

    pub fn numbers(&self) -> &[f64] {
        &self.numbers
    }

    pub fn strings(&self) -> &[&'static str] {
        &self.strings
    }

    /// The row as CSV, as the captures write their features.
    pub fn csv(&self) -> String {
        let mut data = String::with_capacity(256);
        for (i, v) in self.numbers.iter().enumerate() {
            if i > 0 {
                data.push(',');
            }
            data.push_str(&format!("{v:.3}"));
        }
        for s in &self.strings {
            data.push(',');
            data.push_str(s);
        }
        data
    }
}

/// The stream's bytes, materialised (for the criterion benchmark, which should not time the generator).
pub fn capture_bytes(records: usize) -> Vec<u8> {
    let mut out = Vec::new();
    CaptureStream::new(records)
        .read_to_end(&mut out)
        .expect("in-memory read");
    out
}
