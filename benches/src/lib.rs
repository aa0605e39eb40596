//! Generated capture streams for the benchmarks: 25 features (20 numeric, 5 string), CSV-encoded, as a reader
//! that produces records on the fly, so that generating a million records costs no memory.
//!
//! # Layout
//!
//! - `lib.rs`: the generator ([`CaptureStream`]) and the schema it matches ([`schema`]).
//! - `benches/ingest.rs`: the criterion benchmark of parse + profile.
//! - `src/bin/ingest.rs`: a command that streams N records through the evaluator, for peak-memory runs
//!   (`benches/memory.sh`).

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
    line: Vec<u8>,
    pos: usize,
}

impl CaptureStream {
    pub fn new(records: usize) -> Self {
        Self {
            records,
            produced: 0,
            state: 0x2545_F491_4F6C_DD1D,
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
        let mut data = String::with_capacity(256);
        for i in 0..NUMERIC {
            let v = (self.next_u64() % 1_000_000) as f64 / 1000.0 + i as f64;
            if i > 0 {
                data.push(',');
            }
            data.push_str(&format!("{v:.3}"));
        }
        for _ in 0..STRINGS {
            data.push(',');
            data.push_str(CATEGORIES[(self.next_u64() % CATEGORIES.len() as u64) as usize]);
        }
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

/// The stream's bytes, materialised (for the criterion benchmark, which should not time the generator).
pub fn capture_bytes(records: usize) -> Vec<u8> {
    let mut out = Vec::new();
    CaptureStream::new(records)
        .read_to_end(&mut out)
        .expect("in-memory read");
    out
}
