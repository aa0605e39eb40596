//! Fuzz target: arbitrary bytes as a SageMaker Data Capture stream.
//!
//! The reader's contract is that no input panics it: bad lines, records and values are skipped and counted. Each
//! input is read six ways, and the invariants below are asserted on every one:
//!
//! 1. plain, with a fixed 3-feature schema (`a` Integral, `b` Fractional, `c` String), rows sunk into a
//!    `DatasetProfile` of the same schema;
//! 2. plain, with an empty schema (taken from the first row), rows sunk into an empty `DatasetProfile`;
//! 3. the raw bytes through `open_decompressed("x.jsonl.gz", ..)` (arbitrary bytes as a gzip stream: a broken
//!    stream must give `CaptureError::Io`, never a panic);
//! 4. the bytes gzip-compressed by the target, through `open_decompressed("x.jsonl.gz", ..)`: the result must be
//!    the same as reading them plain (differential check of the gzip path);
//! 5. plain with the inferred schema again, through a 3-byte `BufReader`: line splitting must not depend on how
//!    the stream is chunked, so the outcome must equal read 2;
//! 6. plain with a tiny `max_line_bytes` (96) through a 5-byte `BufReader`, so that the too-long path, and its
//!    interplay with chunk boundaries, is hit by the short inputs the fuzzer mostly generates.
//!
//! `max_line_bytes` is otherwise small (4096) so that the too-long path is exercised by long inputs too.
#![no_main]

use std::io::Write as _;

use libfuzzer_sys::fuzz_target;
use modelwatch_core::capture::{
    CaptureError, CaptureReader, CaptureRow, FileSummary, ReaderConfig, Schema, SkipReason, SkipReport, Value,
    open_decompressed,
};
use modelwatch_core::profile::{DatasetProfile, InferredType};

const MAX_LINE_BYTES: usize = 4096;
const TINY_LINE_BYTES: usize = 96;
const MAX_LOCATIONS: usize = 3;

fn config(max_line_bytes: usize) -> ReaderConfig {
    ReaderConfig {
        max_line_bytes,
        max_locations: MAX_LOCATIONS,
        ..ReaderConfig::default()
    }
}

fn fixed_features() -> Vec<(String, Option<InferredType>)> {
    vec![
        ("a".into(), Some(InferredType::Integral)),
        ("b".into(), Some(InferredType::Fractional)),
        ("c".into(), Some(InferredType::String)),
    ]
}

/// What one read produced, for the invariants and the differential check.
#[derive(Debug, PartialEq)]
struct Outcome {
    result: Result<FileSummary, String>,
    skips: SkipReport,
    rows_seen: u64,
    item_count: u64,
    schema_width: usize,
}

/// Checks one row handed to the sink.
fn check_row(row: &CaptureRow<'_>, fixed_width: Option<usize>) {
    assert!(
        row.index < row.rows_in_record,
        "row index {} >= rows_in_record {}",
        row.index,
        row.rows_in_record
    );
    if let Some(width) = fixed_width {
        // An input-bearing row is typed into schema order: exactly the schema's width. An output-only row is empty.
        assert!(
            row.values.is_empty() || row.values.len() == width,
            "row has {} values, schema has {width}",
            row.values.len()
        );
    }
    for value in row.values {
        match *value {
            Value::Number { value, integral } => {
                assert!(value.is_finite(), "non-finite feature value {value}");
                if integral {
                    assert_eq!(value.fract(), 0.0, "integral value {value} has a fraction");
                }
            }
            Value::Text { start, end } => {
                assert!(start <= end, "text range {start}..{end}");
                let _ = row.text(*value);
            }
            Value::Missing => {}
        }
    }
    let _ = row.meta.join_id();
    if let Some(prediction) = row.prediction {
        let _ = prediction.label.as_deref();
    }
}

fn read(input: impl std::io::BufRead, name: &str, fixed: bool, max_line_bytes: usize) -> Outcome {
    let (schema, mut profile) = if fixed {
        (Schema::new(fixed_features()), DatasetProfile::new(fixed_features()))
    } else {
        (Schema::default(), DatasetProfile::new(Vec::new()))
    };
    let fixed_width = fixed.then_some(3);
    let mut reader = CaptureReader::new(config(max_line_bytes), schema);
    let mut rows_seen = 0u64;
    let mut sink = |row: &CaptureRow<'_>| {
        check_row(row, fixed_width);
        rows_seen += 1;
        profile.add_row(row);
    };
    let result = reader.read(name, input, &mut sink);
    let skips = reader.skips().clone();

    // The skip report is consistent: its lines, rows and values add up to its counts, no count is zero, and it keeps
    // at most `max_locations` locations per reason, each for a reason that was counted.
    let sum: u64 = skips.counts.values().sum();
    assert_eq!(
        skips.lines() + skips.rows() + skips.values(),
        sum,
        "lines + rows + values != sum of counts: {skips:?}"
    );
    for (reason, n) in &skips.counts {
        assert!(*n > 0, "zero count for {reason:?}");
    }
    for (reason, locations) in &skips.locations {
        let n = skips.counts.get(reason).copied().unwrap_or(0);
        assert!(
            locations.len() <= MAX_LOCATIONS,
            "{} locations kept for {reason:?}",
            locations.len()
        );
        assert!(locations.len() as u64 <= n, "more locations than skips for {reason:?}");
        for location in locations {
            assert!(location.line >= 1, "location line 0");
        }
    }
    // Every row the sink saw reached the profile.
    assert_eq!(profile.item_count, rows_seen);

    let line_level = |s: &SkipReport| {
        [
            SkipReason::LineTooLong,
            SkipReason::NotUtf8,
            SkipReason::NotJson,
            SkipReason::NotCaptureRecord,
        ]
        .iter()
        .map(|r| s.counts.get(r).copied().unwrap_or(0))
        .sum::<u64>()
    };
    let result = match result {
        Ok(summary) => {
            // rows >= 0 holds by type (u64); the rows counted are the rows handed to the sink.
            assert_eq!(summary.rows, rows_seen, "summary rows != rows seen by the sink");
            assert!(summary.records <= summary.lines, "{summary:?}");
            // Each counted line is either a record (decoded or skipped whole) or skipped at line level.
            assert_eq!(
                summary.lines,
                summary.records + line_level(&skips),
                "line accounting: {summary:?} {skips:?}"
            );
            if summary.lines > 0 {
                assert!(summary.records > 0, "Ok with lines but no record: {summary:?}");
            }
            Ok(summary)
        }
        Err(CaptureError::NoRecords { lines, .. }) => {
            assert!(lines > 0, "NoRecords with 0 lines");
            assert_eq!(rows_seen, 0, "NoRecords but rows were emitted");
            assert_eq!(
                lines,
                line_level(&skips),
                "NoRecords line accounting: {lines} {skips:?}"
            );
            Err(format!("no records in {lines} lines"))
        }
        Err(CaptureError::Io { .. }) => Err("io".to_owned()),
    };
    let schema_width = reader.schema().len();
    if fixed {
        assert_eq!(schema_width, 3, "the given schema changed");
    }
    Outcome {
        result,
        skips,
        rows_seen,
        item_count: profile.item_count,
        schema_width,
    }
}

fuzz_target!(|data: &[u8]| {
    // 1 and 2: plain, fixed and inferred schema.
    let plain_fixed = read(open_decompressed("x.jsonl", data), "x.jsonl", true, MAX_LINE_BYTES);
    let plain_inferred = read(open_decompressed("x.jsonl", data), "x.jsonl", false, MAX_LINE_BYTES);
    // Line-level outcomes do not depend on the schema.
    assert_eq!(plain_fixed.result.is_ok(), plain_inferred.result.is_ok());
    if let (Ok(a), Ok(b)) = (&plain_fixed.result, &plain_inferred.result) {
        assert_eq!(
            (a.lines, a.records),
            (b.lines, b.records),
            "line/record counts depend on the schema"
        );
    }

    // 3: the raw bytes as a gzip stream.
    let _ = read(
        open_decompressed("x.jsonl.gz", data),
        "x.jsonl.gz",
        false,
        MAX_LINE_BYTES,
    );

    // 4: the bytes gzip-compressed, read back through the gzip path: the same outcome as plain. The source name
    // is part of the skip locations, so both reads use the same name.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    let gz = encoder.finish().unwrap();
    let via_gzip = read(
        open_decompressed("x.jsonl.gz", gz.as_slice()),
        "x.jsonl",
        false,
        MAX_LINE_BYTES,
    );
    assert_eq!(via_gzip, plain_inferred, "gzip and plain reads differ");

    // 5: the same stream in 3-byte chunks.
    let chunked = read(
        std::io::BufReader::with_capacity(3, data),
        "x.jsonl",
        false,
        MAX_LINE_BYTES,
    );
    assert_eq!(chunked, plain_inferred, "chunked and whole reads differ");

    // 6: a tiny line limit, in 5-byte chunks. Lines too long are skipped, so no more rows than with the big limit.
    let tiny = read(
        std::io::BufReader::with_capacity(5, data),
        "x.jsonl",
        false,
        TINY_LINE_BYTES,
    );
    assert!(tiny.rows_seen <= plain_inferred.rows_seen || plain_inferred.schema_width != tiny.schema_width);
    if data.split(|b| *b == b'\n').all(|l| l.len() <= TINY_LINE_BYTES) {
        assert_eq!(
            tiny.result, plain_inferred.result,
            "no line is too long, yet the tiny limit changed the result"
        );
    }
});
