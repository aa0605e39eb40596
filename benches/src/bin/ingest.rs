//! Streams N generated records through the reader and the profile; prints records per second. Run under
//! `/usr/bin/time -v` (see `benches/memory.sh`) to see that peak memory does not grow with N.

use std::io::BufReader;
use std::time::Instant;

use modelwatch_benches::{CaptureStream, schema};
use modelwatch_core::capture::{CaptureReader, CaptureRow, ReaderConfig};
use modelwatch_core::profile::DatasetProfile;

fn main() {
    let records: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let schema = schema();
    let mut profile = DatasetProfile::new(schema.features.iter().map(|f| (f.name.clone(), f.kind)));
    let mut reader = CaptureReader::new(ReaderConfig::default(), schema);
    let started = Instant::now();
    let mut sink = |row: &CaptureRow<'_>| profile.add_row(row);
    let summary = reader
        .read(
            "generated",
            BufReader::with_capacity(1 << 16, CaptureStream::new(records)),
            &mut sink,
        )
        .expect("generated captures are valid");
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{} records in {:.3} s: {:.0} records/s (includes generating them); skipped {} lines",
        summary.rows,
        seconds,
        summary.rows as f64 / seconds,
        reader.skips().lines()
    );
}
