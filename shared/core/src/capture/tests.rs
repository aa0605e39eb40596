use std::collections::BTreeMap;
use std::io::Write;

use base64::Engine as _;

use super::*;
use crate::testing::{fixtures, realdata};

/// Rows as (values as text, score, label) for easy assertions.
type Collected = Vec<(Vec<String>, Option<f64>, Option<String>, Option<String>)>;

fn read_all(reader: &mut CaptureReader, name: &str, input: &[u8]) -> Result<(FileSummary, Collected), CaptureError> {
    let mut rows: Collected = Vec::new();
    let mut sink = |row: &CaptureRow<'_>| {
        let values = row
            .values
            .iter()
            .map(|v| match v {
                Value::Missing => "<missing>".to_owned(),
                Value::Number { value, integral: true } => format!("i{value}"),
                Value::Number { value, integral: false } => format!("f{value}"),
                t => row.text(*t).to_owned(),
            })
            .collect();
        let p = row.prediction;
        rows.push((
            values,
            p.and_then(|p| p.score),
            p.and_then(|p| p.label.as_deref().map(str::to_owned)),
            row.meta.join_id().map(str::to_owned),
        ));
    };
    let summary = reader.read(name, input, &mut sink)?;
    Ok((summary, rows))
}

fn line(input: serde_json::Value, output: serde_json::Value, id: &str) -> String {
    serde_json::json!({"captureData": {"endpointInput": input, "endpointOutput": output},
                       "eventMetadata": {"eventId": id, "inferenceTime": "2024-01-19T19:27:57Z"}, "eventVersion": "0"})
    .to_string()
}

fn csv_body(data: &str) -> serde_json::Value {
    serde_json::json!({"observedContentType": "text/csv", "mode": "INPUT", "data": data, "encoding": "CSV"})
}

fn schema3() -> Schema {
    Schema::new([
        ("a".to_owned(), Some(InferredType::Integral)),
        ("b".to_owned(), Some(InferredType::Fractional)),
        ("c".to_owned(), Some(InferredType::String)),
    ])
}

#[test]
fn csv_base64_json_and_output_only_records() {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let lines = [
        line(csv_body("1,2.5,x"), csv_body("0.9"), "e1"),
        line(
            serde_json::json!({"observedContentType": "text/csv; charset=utf-8", "data": b64("2,3.5,y\n3,,z"), "encoding": "BASE64"}),
            serde_json::json!({"observedContentType": "application/json", "data": b64("[0.1, 0.2]"), "encoding": "BASE64"}),
            "e2",
        ),
        line(
            serde_json::json!({"observedContentType": "application/json", "data": "{\"a\": 4, \"b\": 1.5, \"c\": \"w\", \"zz\": 1}", "encoding": "JSON"}),
            serde_json::json!({"observedContentType": "application/json", "data": "{\"predictions\": [{\"score\": 0.4, \"predicted_label\": 0}]}", "encoding": "JSON"}),
            "e3",
        ),
        serde_json::json!({"captureData": {"endpointOutput": csv_body("0.7")}, "eventMetadata": {"eventId": "e4", "inferenceId": "inf-4"}, "eventVersion": "0"}).to_string(),
    ]
    .join("\n");
    let mut reader = CaptureReader::new(ReaderConfig::default(), schema3());
    let (summary, rows) = read_all(&mut reader, "mixed.jsonl", lines.as_bytes()).unwrap();
    assert_eq!((summary.lines, summary.records, summary.rows), (4, 4, 5));
    assert_eq!(rows[0].0, ["i1", "f2.5", "x"]);
    assert_eq!(rows[0].1, Some(0.9));
    assert_eq!(rows[2].0, ["i3", "<missing>", "z"]);
    assert_eq!(rows[2].1, Some(0.2));
    assert_eq!(rows[3].0, ["i4", "f1.5", "w"]);
    assert_eq!((rows[3].1, rows[3].2.as_deref()), (Some(0.4), Some("0")));
    assert_eq!(rows[4].0, Vec::<String>::new(), "output-only capture has no features");
    assert_eq!(
        rows[4].3.as_deref(),
        Some("inf-4"),
        "the inference id wins over the event id"
    );
    assert_eq!(reader.extra_names().get("zz"), Some(&1));
    assert!(reader.skips().is_empty());
}

#[test]
fn bad_input_is_skipped_counted_and_located_never_fatal() {
    let mut text = Vec::new();
    writeln!(text, "{}", line(csv_body("1,2.5,x"), csv_body("0.9"), "ok")).unwrap();
    writeln!(text, "not json").unwrap();
    text.extend_from_slice(b"{\"captureData\": \"\xff\xfe\"}\n");
    writeln!(text, "{{\"hello\": 1}}").unwrap();
    writeln!(
        text,
        "{}",
        line(
            serde_json::json!({"data": "%%%", "encoding": "BASE64"}),
            csv_body("1"),
            "b64"
        )
    )
    .unwrap();
    // Two fields short (one short with a numeric output is Model Monitor's output-first layout: see below).
    writeln!(text, "{}", line(csv_body("1"), csv_body("1"), "narrow")).unwrap();
    writeln!(text, "{}", line(csv_body("x,2.5,y"), csv_body("1"), "nonnum")).unwrap();
    writeln!(text, "{}", line(csv_body("1,\"2"), csv_body("1"), "quote")).unwrap();
    writeln!(text, "{}", line(csv_body("1,2,3\n4,5,6"), csv_body("1"), "mismatch")).unwrap();
    writeln!(text, "{}", "x".repeat(600)).unwrap();
    writeln!(
        text,
        "{}",
        line(
            serde_json::json!({"data": "1", "encoding": "XML"}),
            csv_body("1"),
            "enc"
        )
    )
    .unwrap();
    let config = ReaderConfig {
        max_line_bytes: 512,
        ..Default::default()
    };
    let mut reader = CaptureReader::new(config, schema3());
    let (summary, rows) = read_all(&mut reader, "bad.jsonl", &text).unwrap();
    assert_eq!(summary.lines, 11);
    assert_eq!(rows.len(), 2, "the good record and the one with a non-numeric value");
    assert_eq!(
        rows[1].0,
        ["x", "f2.5", "y"],
        "the non-numeric value is kept as text for the type check"
    );
    let counts = &reader.skips().counts;
    let expect = [
        (SkipReason::NotUtf8, 1),
        (SkipReason::LineTooLong, 1),
        (SkipReason::NotJson, 1),
        (SkipReason::NotCaptureRecord, 1),
        (SkipReason::InvalidBase64, 1),
        (SkipReason::UnsupportedEncoding, 1),
        (SkipReason::BadPayload, 1),
        (SkipReason::FieldCount, 1),
        (SkipReason::NonNumericValue, 1),
        (SkipReason::PredictionCount, 1),
    ];
    assert_eq!(counts, &BTreeMap::from(expect));
    assert_eq!(
        reader.skips().locations[&SkipReason::NotJson],
        [Location {
            source: "bad.jsonl".into(),
            line: 2
        }]
    );
    assert_eq!(reader.skips().locations[&SkipReason::LineTooLong][0].line, 10);
    assert_eq!(reader.field_count_mismatches().get(&1), Some(&1));
    // Eight lines gave nothing, one row of a read record was skipped, one value of a kept row.
    let skips = reader.skips();
    assert_eq!((skips.lines(), skips.rows(), skips.values()), (8, 1, 1));
}

/// A baseline of [`schema3`]'s features.
fn schema3_baseline() -> crate::baseline::Baseline {
    let mut profile = crate::profile::DatasetProfile::new(schema3().features.into_iter().map(|f| (f.name, f.kind)));
    for i in 0..100 {
        profile.features[0].add_number(f64::from(i), true);
        profile.features[1].add_number(f64::from(i) + 0.5, false);
        profile.features[2].add_string(["x", "y"][i as usize % 2]);
        profile.item_count += 1;
    }
    crate::baseline::Baseline::from_profile(&profile)
}

fn scope() -> crate::metrics::MetricScope {
    crate::metrics::MetricScope {
        endpoint: "ep".into(),
        schedule: "s".into(),
        timestamp: chrono::Utc::now(),
    }
}

#[test]
fn the_run_summary_counts_skipped_lines_and_the_report_rows_and_values_apart() {
    let lines = [
        line(csv_body("1,2.5,x"), csv_body("0.9"), "ok"),
        "not json".to_owned(),
        line(csv_body("x,2.5,y"), csv_body("0.9"), "one-bad-value"),
        // Two fields short (one short with a numeric output is Model Monitor's output-first layout).
        line(csv_body("1,2.5,x\n1"), csv_body("0.9\n0.8"), "one-narrow-row"),
    ]
    .join("\n");
    let (baseline, config) = (schema3_baseline(), crate::evaluate::EvaluationConfig::default());
    let mut evaluator = crate::evaluate::Evaluator::new(&baseline, &config);
    evaluator.add_file("mixed.jsonl", lines.as_bytes());
    let evaluation = evaluator.finish(&scope(), None);
    // It was 3, the line, the row and the value added up.
    assert_eq!(evaluation.summary.skipped, 1);
    assert_eq!(evaluation.summary.rows, 3);
    let skips = &evaluation.skips;
    assert_eq!((skips.lines(), skips.rows(), skips.values()), (1, 1, 1));
    let metric = evaluation
        .metrics
        .iter()
        .find(|d| d.metric_name == "dataset_records_skipped")
        .unwrap();
    assert_eq!(metric.value, 1.0);
}

#[test]
fn a_gzip_file_cut_short_counts_the_records_before_the_cut_and_reports_its_error() {
    let plain: String = (0..400)
        .map(|i| line(csv_body(&format!("{i},2.5,x")), csv_body("0.9"), &format!("e{i}")) + "\n")
        .collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(plain.as_bytes()).unwrap();
    let bytes = gz.finish().unwrap();
    let cut = &bytes[..bytes.len() / 2];

    let mut reader = CaptureReader::new(ReaderConfig::default(), schema3());
    let mut rows = 0u64;
    let err = reader
        .read(
            "cut.jsonl.gz",
            open_decompressed("cut.jsonl.gz", cut),
            &mut |_: &CaptureRow<'_>| rows += 1,
        )
        .unwrap_err();
    let before = err.read_before();
    assert!(
        matches!(err, CaptureError::Io { line, .. } if line == before.lines),
        "{err:?}"
    );
    assert!(rows > 0 && rows < 400, "{rows}");
    assert_eq!(
        before,
        FileSummary {
            lines: rows,
            records: rows,
            rows
        }
    );
    assert!(reader.skips().is_empty(), "the cut line is the error, not a skip");

    // The evaluator's file result says the same, and the run's counts agree with the rows profiled.
    let (baseline, config) = (schema3_baseline(), crate::evaluate::EvaluationConfig::default());
    let mut evaluator = crate::evaluate::Evaluator::new(&baseline, &config);
    let file = evaluator.add_file("cut.jsonl.gz", cut).clone();
    assert_eq!(file.summary, before, "it was all zeros");
    assert!(file.error.as_deref().unwrap().contains("cut.jsonl.gz"), "{file:?}");
    let evaluation = evaluator.finish(&scope(), None);
    assert_eq!(
        (
            evaluation.summary.failed_files,
            evaluation.summary.records,
            evaluation.summary.rows
        ),
        (1, rows, rows)
    );
}

#[test]
fn a_byte_order_mark_does_not_cost_the_first_record_or_value() {
    const BOM: &str = "\u{feff}";
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let text = format!(
        "{BOM}{}\n{}\n{}\n",
        line(csv_body(&format!("{BOM}1,2.5,x")), csv_body("0.9"), "e1"),
        line(
            serde_json::json!({"observedContentType": "text/csv", "data": b64(&format!("{BOM}2,3.5,y")), "encoding": "BASE64"}),
            serde_json::json!({"observedContentType": "application/json", "data": b64(&format!("{BOM}[0.1]")), "encoding": "BASE64"}),
            "e2",
        ),
        line(
            serde_json::json!({"observedContentType": "application/json", "data": format!("{BOM}{{\"a\": 3, \"b\": 1.5, \"c\": \"z\"}}"), "encoding": "JSON"}),
            csv_body("0.4"),
            "e3",
        ),
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    let gzipped = gz.finish().unwrap();
    for (name, bytes) in [("bom.jsonl", text.as_bytes()), ("bom.jsonl.gz", &gzipped[..])] {
        let mut reader = CaptureReader::new(ReaderConfig::default(), schema3());
        let mut collected = Vec::new();
        let summary = reader
            .read(name, open_decompressed(name, bytes), &mut |row: &CaptureRow<'_>| {
                let first = match row.values[0] {
                    Value::Number { value, .. } => value,
                    other => panic!("not a number: {:?}", row.text(other)),
                };
                collected.push((first, row.prediction.and_then(|p| p.score)));
            })
            .unwrap();
        assert_eq!((summary.lines, summary.records, summary.rows), (3, 3, 3), "{name}");
        assert_eq!(
            collected,
            [(1.0, Some(0.9)), (2.0, Some(0.1)), (3.0, Some(0.4))],
            "{name}"
        );
        assert!(reader.skips().is_empty(), "{name}: {:?}", reader.skips());
    }
}

#[test]
fn a_file_without_capture_records_is_an_error_naming_it() {
    let mut reader = CaptureReader::new(ReaderConfig::default(), Schema::default());
    let err = read_all(&mut reader, "s3://b/notes.jsonl", b"{\"a\": 1}\nhello\n").unwrap_err();
    assert!(err.to_string().contains("s3://b/notes.jsonl"), "{err}");
    let mut reader = CaptureReader::new(ReaderConfig::default(), Schema::default());
    assert_eq!(
        read_all(&mut reader, "empty.jsonl", b"\n\n").unwrap().0,
        FileSummary::default()
    );
}

#[test]
fn gzip_files_are_read_through() {
    let plain = line(csv_body("1,2.5,x"), csv_body("0.9"), "gz") + "\n";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(plain.as_bytes()).unwrap();
    let bytes = gz.finish().unwrap();
    let mut reader = CaptureReader::new(ReaderConfig::default(), schema3());
    let mut n = 0;
    let summary = reader
        .read(
            "x.jsonl.gz",
            open_decompressed("x.jsonl.gz", &bytes[..]),
            &mut |_: &CaptureRow<'_>| n += 1,
        )
        .unwrap();
    assert_eq!((summary.rows, n), (1, 1));
}
#[test]
fn real_sagemaker_sdk_captures_parse() {
    let Some(root) = realdata().map(|r| r.join("capture")) else {
        return;
    };
    let text = std::fs::read(root.join("sagemaker-python-sdk/capture.jsonl")).unwrap();
    let mut reader = CaptureReader::new(ReaderConfig::default(), Schema::default());
    let (summary, rows) = read_all(&mut reader, "capture.jsonl", &text).unwrap();
    assert_eq!((summary.records, summary.rows), (44, 44));
    assert_eq!(reader.schema().len(), 7, "headerless CSV: _c0.._c6");
    assert_eq!(rows[0].0, ["i9", "i45", "i45", "i42", "i7", "i5", "i0"]);
    assert_eq!(rows[0].1, Some(0.302709460258));
    assert_eq!(rows[0].3.as_deref(), Some("74b0dd56-e7c8-368e-94b1-14a138a96000"));
    assert!(reader.skips().is_empty());

    // TF-serving style JSON: three scalar instances, three predictions.
    let text = std::fs::read(root.join("sagemaker-python-sdk/captured-data.jsonl")).unwrap();
    let mut reader = CaptureReader::new(ReaderConfig::default(), Schema::default());
    let (summary, rows) = read_all(&mut reader, "captured-data.jsonl", &text).unwrap();
    assert_eq!((summary.records, summary.rows), (2, 6));
    assert_eq!(
        rows.iter().map(|r| r.1.unwrap()).collect::<Vec<_>>(),
        [3.5, 4.0, 5.5, 3.5, 4.0, 5.5]
    );
}

#[test]
fn real_multi_instance_and_churn_captures_parse() {
    let Some(root) = realdata().map(|r| r.join("capture")) else {
        return;
    };
    let dir = root.join("sm-examples-notebook-outputs");
    let file = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    let mut reader = CaptureReader::new(ReaderConfig::default(), Schema::default());
    let (summary, rows) = read_all(&mut reader, "clarify.jsonl", &std::fs::read(file).unwrap()).unwrap();
    assert_eq!((summary.records, summary.rows), (2, 3));
    assert_eq!(rows[2].0.len(), 14);
    assert_eq!((rows[2].1, rows[2].2.as_deref()), (Some(0.5041388273239136), Some("1")));

    let text = std::fs::read(root.join("sm-examples-model-monitor-introduction/notebook-output-capture-sample.jsonl"))
        .unwrap();
    let mut reader = CaptureReader::new(ReaderConfig::default(), Schema::default());
    let (summary, rows) = read_all(&mut reader, "churn.jsonl", &text).unwrap();
    assert_eq!(summary.records, 3);
    assert_eq!(rows[0].0.len(), 69);
    assert_eq!(
        rows[0].1,
        Some(0.036397725343704224),
        "content type with charset parameter"
    );
}

/// The shapes of the real captures above, in the project's own fixtures.
#[test]
fn fixture_captures_parse_like_the_real_ones() {
    let dir = fixtures().join("capture");
    // The SDK's headerless CSV captures, with the literal `{%s}` placeholder as inference time.
    let text = std::fs::read(dir.join("sdk-csv.jsonl")).unwrap();
    let mut reader = CaptureReader::new(ReaderConfig::default(), Schema::default());
    let (summary, rows) = read_all(&mut reader, "sdk-csv.jsonl", &text).unwrap();
    assert_eq!((summary.records, summary.rows), (5, 5));
    assert_eq!(reader.schema().len(), 4, "headerless CSV: _c0.._c3");
    assert_eq!(rows[0].0, ["i9", "i45", "i45", "i42"]);
    assert_eq!(rows[0].1, Some(0.9));
    assert_eq!(rows[0].3.as_deref(), Some("aaaaaaaa-0000-4000-8000-000000000001"));
    assert!(reader.skips().is_empty());

    // TF-serving style JSON: three scalar instances, three predictions (pretty-printed).
    let text = std::fs::read(dir.join("tf-serving.jsonl")).unwrap();
    let mut reader = CaptureReader::new(ReaderConfig::default(), Schema::default());
    let (summary, rows) = read_all(&mut reader, "tf-serving.jsonl", &text).unwrap();
    assert_eq!((summary.records, summary.rows), (2, 6));
    assert_eq!(
        rows.iter().map(|r| r.1.unwrap()).collect::<Vec<_>>(),
        [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]
    );

    // Multi-instance requests of feature lists, answered with scores and labels.
    let text = std::fs::read(dir.join("multi-instance.jsonl")).unwrap();
    let mut reader = CaptureReader::new(ReaderConfig::default(), Schema::default());
    let (summary, rows) = read_all(&mut reader, "multi-instance.jsonl", &text).unwrap();
    assert_eq!((summary.records, summary.rows), (2, 3));
    assert_eq!(rows[2].0.len(), 5);
    assert_eq!((rows[2].1, rows[2].2.as_deref()), (Some(0.51), Some("1")));

    let text = std::fs::read(dir.join("charset-output.jsonl")).unwrap();
    let mut reader = CaptureReader::new(ReaderConfig::default(), Schema::default());
    let (summary, rows) = read_all(&mut reader, "charset-output.jsonl", &text).unwrap();
    assert_eq!(summary.records, 2);
    assert_eq!(rows[0].0.len(), 5);
    assert_eq!(rows[0].1, Some(0.0364), "content type with charset parameter");
}

#[test]
fn an_input_one_field_short_is_read_as_model_monitor_reads_it_output_first() {
    // AWS's Model Monitor introduction: the baseline has the label first, the endpoint is sent only the inputs.
    let schema = Schema::new([
        ("Churn".to_owned(), Some(InferredType::Integral)),
        ("a".to_owned(), Some(InferredType::Integral)),
        ("b".to_owned(), Some(InferredType::Fractional)),
    ]);
    let mut reader = CaptureReader::new(ReaderConfig::default(), schema);
    let lines = [
        line(csv_body("7,2.5"), csv_body("0.036397725343704224"), "short"),
        line(csv_body("1,7,2.5"), csv_body("0.5"), "full"),
        line(csv_body("7"), csv_body("0.5"), "two-short"),
        // Without a numeric output the short row stays a field-count mismatch.
        line(
            csv_body("7,2.5"),
            serde_json::json!({"observedContentType": "text/csv", "mode": "OUTPUT", "data": "yes", "encoding": "CSV"}),
            "label-output",
        ),
    ]
    .join("\n");
    let (summary, rows) = read_all(&mut reader, "mm.jsonl", lines.as_bytes()).unwrap();
    assert_eq!(summary.rows, 2);
    assert_eq!(rows[0].0, ["f0.036397725343704224", "i7", "f2.5"]);
    assert_eq!(rows[1].0, ["i1", "i7", "f2.5"]);
    assert_eq!(reader.output_first_rows(), 1);
    assert_eq!(reader.skips().count(SkipReason::FieldCount), 2);
}

#[test]
fn the_model_monitor_example_reports_data_type_check_for_the_label_column() {
    use crate::baseline::Baseline;
    use crate::evaluate::{EvaluationConfig, Evaluator};
    use crate::metrics::MetricScope;
    use crate::profile::DatasetProfile;
    // A baseline in the example's shape: the integer label `Churn` first, then two inputs.
    let mut profile = DatasetProfile::new([
        ("Churn".to_owned(), Some(InferredType::Integral)),
        ("a".to_owned(), Some(InferredType::Integral)),
        ("b".to_owned(), Some(InferredType::Fractional)),
    ]);
    for i in 0..100 {
        profile.features[0].add_number(f64::from(i % 2), true);
        profile.features[1].add_number(f64::from(i), true);
        profile.features[2].add_number(f64::from(i) / 3.0, false);
        profile.item_count += 1;
    }
    let baseline = Baseline::from_profile(&profile);
    let config = EvaluationConfig::default();
    let mut evaluator = Evaluator::new(&baseline, &config);
    let lines: Vec<String> = (0..100)
        .map(|i| {
            line(
                csv_body(&format!("{i},{}", f64::from(i) / 3.0)),
                csv_body("0.25"),
                &i.to_string(),
            )
        })
        .collect();
    evaluator.add_file("mm.jsonl", lines.join("\n").as_bytes());
    let scope = MetricScope {
        endpoint: "churn".into(),
        schedule: "s".into(),
        timestamp: chrono::Utc::now(),
    };
    let evaluation = evaluator.finish(&scope, None);
    assert_eq!((evaluation.summary.rows, evaluation.summary.skipped), (100, 0));
    let checks: Vec<(&str, &str)> = evaluation
        .violations
        .violations
        .iter()
        .map(|v| (v.feature_name.as_str(), v.constraint_check_type.as_str()))
        .collect();
    assert!(checks.contains(&("Churn", "data_type_check")), "{checks:?}");
    assert!(!checks.iter().any(|(f, _)| *f == "a" || *f == "b"), "{checks:?}");
}

/// The fast path never accepts a line serde_json rejects, nor reads one differently: 20,000 edits (inserted
/// quotes, braces, commas, colons, blanks, backslashes, literal letters; deletions, truncations, repeats) of lines
/// near the ones SageMaker writes.
#[test]
fn the_fast_path_reads_what_serde_json_reads() {
    let lines = [
        r#"{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"1,2,a","encoding":"CSV"},"endpointOutput":{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT","data":"0.5","encoding":"CSV"}},"eventMetadata":{"eventId":"e1","inferenceTime":"2026-11-26T08:00:00.000Z"},"eventVersion":"0"}"#,
        r#"{ "eventMetadata" : null , "captureData" : { "endpointOutput" : null, "endpointInput" : { "data" : "MSwy", "encoding" : "BASE64", "x": true } } }"#,
        r#"{"captureData":{"endpointInput":{"data":"{\"a\":1}","encoding":"JSON"}},"eventMetadata":{"eventId":"é","inferenceId":"i","customAttributes":"c"}}"#,
    ];
    let (mut fast, mut declined) = (0, 0);
    for bytes in crate::json_scan::edited_lines(&lines, 11, 20_000) {
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let Some(raw) = reader::scan(text) else {
            declined += 1;
            continue;
        };
        fast += 1;
        let slow: reader::RawRecord = serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(raw, slow, "{text}");
    }
    assert!(
        fast > 2_000 && declined > 2_000,
        "both paths taken: {fast} fast, {declined} declined"
    );
}
