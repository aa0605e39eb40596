//! Parse + profile throughput of CSV-encoded captures (25 features), one core.
//!
//! `cargo bench -p modelwatch-benches --bench ingest`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use modelwatch_benches::{capture_bytes, schema};
use modelwatch_core::capture::{CaptureReader, CaptureRow, ReaderConfig};
use modelwatch_core::profile::DatasetProfile;

const RECORDS: usize = 100_000;

fn ingest(c: &mut Criterion) {
    let bytes = capture_bytes(RECORDS);
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.sample_size(10);
    group.bench_function("parse_and_profile_csv_25_features", |b| {
        b.iter(|| {
            let schema = schema();
            let mut profile = DatasetProfile::new(schema.features.iter().map(|f| (f.name.clone(), f.kind)));
            let mut reader = CaptureReader::new(ReaderConfig::default(), schema);
            let mut sink = |row: &CaptureRow<'_>| profile.add_row(row);
            let summary = reader.read("bench", &bytes[..], &mut sink).expect("valid captures");
            assert_eq!(summary.rows, RECORDS as u64);
            profile
        })
    });
    group.bench_function("parse_only_csv_25_features", |b| {
        b.iter(|| {
            let mut reader = CaptureReader::new(ReaderConfig::default(), schema());
            let mut rows = 0u64;
            let mut sink = |_: &CaptureRow<'_>| rows += 1;
            reader.read("bench", &bytes[..], &mut sink).expect("valid captures");
            rows
        })
    });
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
