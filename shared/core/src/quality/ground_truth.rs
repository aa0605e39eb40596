//! The reader of SageMaker's ground-truth records.
//!
//! # Format
//!
//! JSON Lines, one record a line, as Model Monitor's ground-truth merge expects them:
//!
//! ```json
//! {"groundTruthData": {"data": "1", "encoding": "CSV"},
//!  "eventMetadata": {"eventId": "74b0dd56-...", "inferenceId": "optional"},
//!  "eventVersion": "0"}
//! ```
//!
//! - The id is `inferenceId` when present and not empty, else `eventId` (see the [crate::quality] module docs for
//!   rows of multi-instance requests).
//! - `encoding` `CSV`: the label is the first field of the first line of `data`, one pair of surrounding double quotes
//!   removed. `JSON`: `data` is a JSON text holding a number, a string or a boolean. `data` may also be a JSON number
//!   instead of a string. Encoding names are matched case-insensitively.
//! - Blank lines are ignored, and so is a UTF-8 byte order mark at the start of the file or of a label's `data`.
//!   Any other line that cannot give an id and a label is skipped and counted in a [`SkipReport`]; reading goes on.
//!   Only an I/O error stops the reader.
//! - Class labels are normalised with [`normalize_class`] (`1.0` becomes `1`); regression labels must be finite
//!   numbers.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufRead};

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{ProblemType, normalize_class};
use crate::capture::{FileSummary, without_bom};
use crate::json_scan::Scanner;
use crate::skip::{SkipReason, SkipReport};

/// A ground-truth label. A class borrows the line it was read from when it can (most labels need no allocation).
#[derive(Debug, Clone, PartialEq)]
pub enum LabelValue<'a> {
    /// A class label, normalised with [`normalize_class`].
    Class(Cow<'a, str>),
    /// A regression target.
    Number(f64),
}

/// One ground-truth record, borrowing the line it was read from where it can.
#[derive(Debug, Clone, PartialEq)]
pub struct GroundTruth<'a> {
    /// `inferenceId` when present, else `eventId`.
    pub id: Cow<'a, str>,
    pub label: LabelValue<'a>,
}

impl GroundTruth<'_> {
    /// The record with its own copies of the texts, to keep beyond the line.
    pub fn into_owned(self) -> GroundTruth<'static> {
        GroundTruth {
            id: Cow::Owned(self.id.into_owned()),
            label: match self.label {
                LabelValue::Class(c) => LabelValue::Class(Cow::Owned(c.into_owned())),
                LabelValue::Number(v) => LabelValue::Number(v),
            },
        }
    }
}

#[derive(Debug, PartialEq, Deserialize)]
struct RawRecord<'a> {
    #[serde(rename = "groundTruthData", borrow)]
    data: Option<RawData<'a>>,
    #[serde(rename = "eventMetadata", borrow)]
    meta: Option<RawMeta<'a>>,
}

#[derive(Debug, PartialEq, Deserialize)]
struct RawData<'a> {
    #[serde(borrow)]
    data: Option<RawLabel<'a>>,
    #[serde(borrow)]
    encoding: Option<Cow<'a, str>>,
}

#[derive(Debug, PartialEq, Deserialize)]
struct RawMeta<'a> {
    #[serde(rename = "eventId", borrow)]
    event_id: Option<Cow<'a, str>>,
    #[serde(rename = "inferenceId", borrow)]
    inference_id: Option<Cow<'a, str>>,
}

/// `groundTruthData.data`: a text (borrowed unless it has escapes), a bare JSON number as its text, or anything else
/// (an object, an array, a boolean), which is not a label. Read without building a `serde_json::Value`.
#[derive(Debug, PartialEq)]
enum RawLabel<'a> {
    Text(Cow<'a, str>),
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for RawLabel<'a> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LabelVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for LabelVisitor<'a> {
            type Value = RawLabel<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a label")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(RawLabel::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawLabel::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(RawLabel::Text(Cow::Owned(v)))
            }
            // Some producers write the label as a bare JSON number: its text as serde_json writes it.
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(RawLabel::Text(Cow::Owned(v.to_string())))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(RawLabel::Text(Cow::Owned(v.to_string())))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(serde_json::Number::from_f64(v)
                    .map_or(RawLabel::Other, |n| RawLabel::Text(Cow::Owned(n.to_string()))))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(RawLabel::Other)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(RawLabel::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(RawLabel::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(RawLabel::Other)
            }
        }
        deserializer.deserialize_any(LabelVisitor(std::marker::PhantomData))
    }
}

/// Why reading ground truth stopped.
#[derive(Debug, thiserror::Error)]
pub enum GroundTruthError {
    #[error("cannot read ground truth from {source_name} after line {line}")]
    Read {
        source_name: String,
        line: u64,
        /// What the file gave before the failure (its labels were handed over).
        summary: FileSummary,
        #[source]
        source: io::Error,
    },
}

impl GroundTruthError {
    /// What the file gave before the error.
    pub fn read_before(&self) -> FileSummary {
        match self {
            Self::Read { summary, .. } => *summary,
        }
    }
}

/// Reads ground-truth records from `reader` (named `source` in skip locations and errors) and hands each good one to
/// `sink`. Labels are parsed for `problem` (classes for classification, numbers for regression). Returns the file's
/// counts: its lines (blank ones not counted) and the labels handed over (as both `records` and `rows`); bad lines
/// are counted in `skips`.
///
/// # Errors
///
/// [`GroundTruthError::Read`] when the reader fails; records read until then have been handed over, and
/// [`GroundTruthError::read_before`] counts them.
pub fn read_ground_truth<R: BufRead>(
    mut reader: R,
    source: &str,
    problem: ProblemType,
    skips: &mut SkipReport,
    mut sink: impl FnMut(GroundTruth<'_>),
) -> Result<FileSummary, GroundTruthError> {
    // A line is parsed where it lies in the reader's buffer; only one that straddles two fills is copied.
    let mut partial = Vec::new();
    let mut line_no = 0u64;
    let mut summary = FileSummary::default();
    let mut take = |line: &[u8], line_no: u64, summary: &mut FileSummary| {
        let line = if line_no == 1 { without_bom(line) } else { line };
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        summary.lines += 1;
        match parse_line(line, problem) {
            Ok(gt) => {
                summary.records += 1;
                summary.rows += 1;
                sink(gt);
            }
            Err(reason) => skips.record(reason, source, line_no),
        }
    };
    loop {
        let available = match reader.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(GroundTruthError::Read {
                    source_name: source.to_owned(),
                    line: line_no,
                    summary,
                    source: e,
                });
            }
        };
        if available.is_empty() {
            if !partial.is_empty() {
                line_no += 1;
                take(&partial, line_no, &mut summary);
            }
            return Ok(summary);
        }
        let used = match memchr::memchr(b'\n', available) {
            Some(end) => {
                line_no += 1;
                if partial.is_empty() {
                    take(&available[..end], line_no, &mut summary);
                } else {
                    partial.extend_from_slice(&available[..end]);
                    take(&partial, line_no, &mut summary);
                    partial.clear();
                }
                end + 1
            }
            None => {
                partial.extend_from_slice(available);
                available.len()
            }
        };
        reader.consume(used);
    }
}

/// Parses one line into a record, or the reason to skip it. The record borrows the line's texts unless they have
/// escapes or need normalising.
fn parse_line(line: &[u8], problem: ProblemType) -> Result<GroundTruth<'_>, SkipReason> {
    let raw = match std::str::from_utf8(line).ok().and_then(scan) {
        Some(raw) => raw,
        None => serde_json::from_slice(line).map_err(|_| SkipReason::NotJson)?,
    };
    let meta = raw.meta.ok_or(SkipReason::MissingField)?;
    let id = meta
        .inference_id
        .filter(|s| !s.is_empty())
        .or(meta.event_id.filter(|s| !s.is_empty()))
        .ok_or(SkipReason::MissingField)?;
    let data = raw.data.ok_or(SkipReason::MissingField)?;
    let encoding = data.encoding.ok_or(SkipReason::MissingField)?;
    let text = match data.data.ok_or(SkipReason::MissingField)? {
        RawLabel::Text(s) => s,
        RawLabel::Other => return Err(SkipReason::UnparsableLabel),
    };
    let text = map_text(text, |t| Cow::Borrowed(t.strip_prefix('\u{feff}').unwrap_or(t)));
    let label_text = if encoding.eq_ignore_ascii_case("CSV") {
        map_text(text, |t| Cow::Borrowed(first_csv_field(t)))
    } else if encoding.eq_ignore_ascii_case("JSON") {
        match serde_json::from_str::<serde_json::Value>(&text).map_err(|_| SkipReason::UnparsableLabel)? {
            serde_json::Value::String(s) => Cow::Owned(s),
            serde_json::Value::Number(n) => Cow::Owned(n.to_string()),
            serde_json::Value::Bool(b) => Cow::Owned(b.to_string()),
            _ => return Err(SkipReason::UnparsableLabel),
        }
    } else {
        return Err(SkipReason::UnsupportedEncoding);
    };
    let label = match problem {
        ProblemType::Regression => parse_label(&label_text, problem),
        ProblemType::BinaryClassification | ProblemType::MulticlassClassification => {
            let class = map_text(label_text, normalize_class);
            (!class.is_empty()).then_some(LabelValue::Class(class))
        }
    }
    .ok_or(SkipReason::UnparsableLabel)?;
    Ok(GroundTruth { id, label })
}

/// The record of a line SageMaker wrote plainly, read by the [`Scanner`]; `None` leaves the line to serde_json.
fn scan(text: &str) -> Option<RawRecord<'_>> {
    let mut s = Scanner::new(text)?;
    let mut record = RawRecord { data: None, meta: None };
    s.object(&["groundTruthData", "eventMetadata"], |s, key| match key {
        "groundTruthData" => {
            if s.null()? {
                return Some(());
            }
            let mut data = RawData {
                data: None,
                encoding: None,
            };
            s.object(&["data", "encoding"], |s, key| {
                match key {
                    "data" => data.data = s.nullable_string()?.map(|v| RawLabel::Text(Cow::Borrowed(v))),
                    "encoding" => data.encoding = s.nullable_string()?.map(Cow::Borrowed),
                    _ => s.ignored()?,
                }
                Some(())
            })?;
            record.data = Some(data);
            Some(())
        }
        "eventMetadata" => {
            if s.null()? {
                return Some(());
            }
            let mut meta = RawMeta {
                event_id: None,
                inference_id: None,
            };
            s.object(&["eventId", "inferenceId"], |s, key| {
                match key {
                    "eventId" => meta.event_id = s.nullable_string()?.map(Cow::Borrowed),
                    "inferenceId" => meta.inference_id = s.nullable_string()?.map(Cow::Borrowed),
                    _ => s.ignored()?,
                }
                Some(())
            })?;
            record.meta = Some(meta);
            Some(())
        }
        _ => s.ignored(),
    })?;
    s.end()?;
    Some(record)
}

/// `f` applied to a text, keeping the borrow when the text is borrowed and `f` returns a part of it.
fn map_text<'a>(text: Cow<'a, str>, f: impl for<'b> Fn(&'b str) -> Cow<'b, str>) -> Cow<'a, str> {
    match text {
        Cow::Borrowed(t) => f(t),
        Cow::Owned(t) => Cow::Owned(f(&t).into_owned()),
    }
}

/// The first field of the first line of a CSV text.
fn first_csv_field(text: &str) -> &str {
    let line = text.lines().next().unwrap_or("");
    line.split(',').next().unwrap_or("")
}

/// A label for `problem` from its text, or `None` when it does not parse.
pub fn parse_label(text: &str, problem: ProblemType) -> Option<LabelValue<'static>> {
    match problem {
        ProblemType::Regression => {
            let v: f64 = text.trim().trim_matches('"').trim().parse().ok()?;
            v.is_finite().then_some(LabelValue::Number(v))
        }
        ProblemType::BinaryClassification | ProblemType::MulticlassClassification => {
            let class = normalize_class(text);
            (!class.is_empty()).then(|| LabelValue::Class(Cow::Owned(class.into_owned())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fixtures, realdata};

    fn read(text: &str, problem: ProblemType) -> (Vec<GroundTruth<'static>>, SkipReport) {
        let mut skips = SkipReport::default();
        let mut out = Vec::new();
        let n = read_ground_truth(text.as_bytes(), "gt.jsonl", problem, &mut skips, |g| {
            out.push(g.into_owned())
        })
        .unwrap();
        assert_eq!((n.records as usize, n.rows as usize), (out.len(), out.len()));
        (out, skips)
    }

    #[test]
    fn reads_csv_and_json_labels_and_prefers_the_inference_id() {
        let text = concat!(
            r#"{"groundTruthData":{"data":"1","encoding":"CSV"},"eventMetadata":{"eventId":"e1"},"eventVersion":"0"}"#,
            "\n",
            r#"{"groundTruthData":{"data":"0.0,extra","encoding":"csv"},"eventMetadata":{"eventId":"e2","inferenceId":"i2"},"eventVersion":"0"}"#,
            "\n\n",
            r#"{"groundTruthData":{"data":"\"cat\"","encoding":"JSON"},"eventMetadata":{"eventId":"e3","inferenceId":""}}"#,
            "\n",
            r#"{"groundTruthData":{"data":1,"encoding":"JSON"},"eventMetadata":{"eventId":"e4"}}"#,
        );
        let (out, skips) = read(text, ProblemType::MulticlassClassification);
        assert!(skips.is_empty());
        let got: Vec<(&str, LabelValue)> = out.iter().map(|g| (g.id.as_ref(), g.label.clone())).collect();
        assert_eq!(
            got,
            vec![
                ("e1", LabelValue::Class("1".into())),
                ("i2", LabelValue::Class("0".into())),
                ("e3", LabelValue::Class("cat".into())),
                ("e4", LabelValue::Class("1".into())),
            ]
        );
    }

    #[test]
    fn bad_lines_are_skipped_by_reason_with_their_line_numbers() {
        let text = concat!(
            "not json\n",
            r#"{"groundTruthData":{"data":"1","encoding":"CSV"}}"#,
            "\n",
            r#"{"groundTruthData":{"data":"abc","encoding":"CSV"},"eventMetadata":{"eventId":"e3"}}"#,
            "\n",
            r#"{"groundTruthData":{"data":"1","encoding":"BASE64"},"eventMetadata":{"eventId":"e4"}}"#,
            "\n",
            r#"{"groundTruthData":{"data":"2.5","encoding":"CSV"},"eventMetadata":{"eventId":"e5"}}"#,
            "\n",
            r#"{"groundTruthData":{"data":{"x":1},"encoding":"JSON"},"eventMetadata":{"eventId":"e6"}}"#,
            "\n",
            r#"[1,2]"#,
            "\n",
            r#"{"groundTruthData":{"data":"","encoding":"CSV"},"eventMetadata":{"eventId":"e8"}}"#,
        );
        let (out, skips) = read(text, ProblemType::Regression);
        assert_eq!(
            out,
            vec![GroundTruth {
                id: "e5".into(),
                label: LabelValue::Number(2.5)
            }]
        );
        assert_eq!(skips.count(SkipReason::NotJson), 2);
        assert_eq!(skips.count(SkipReason::MissingField), 1);
        assert_eq!(skips.count(SkipReason::UnparsableLabel), 3);
        assert_eq!(skips.count(SkipReason::UnsupportedEncoding), 1);
        let lines: Vec<u64> = skips.locations[&SkipReason::UnparsableLabel]
            .iter()
            .map(|l| l.line)
            .collect();
        assert_eq!(lines, vec![3, 6, 8]);
        assert_eq!(skips.locations[&SkipReason::NotJson][1].line, 7);
        let mut skips = SkipReport::default();
        let summary =
            read_ground_truth(text.as_bytes(), "gt.jsonl", ProblemType::Regression, &mut skips, |_| {}).unwrap();
        assert_eq!((summary.lines, summary.records, summary.rows), (8, 1, 1));
        assert_eq!(skips.lines(), 7);
    }

    /// The fast path never accepts a line serde_json rejects, nor reads one differently: 20,000 edits (inserted
    /// quotes, braces, commas, colons, blanks, backslashes, literal letters; deletions, truncations, repeats) of
    /// lines near the ones SageMaker writes.
    #[test]
    fn the_fast_path_reads_what_serde_json_reads() {
        let lines = [
            r#"{"groundTruthData":{"data":"1","encoding":"CSV"},"eventMetadata":{"eventId":"e1"},"eventVersion":"0"}"#,
            r#"{ "eventMetadata" : { "inferenceId" : "i", "eventId" : null } , "groundTruthData" : { "encoding" : "CSV", "data" : "dög" } }"#,
            r#"{"groundTruthData":null,"eventMetadata":{"eventId":"e","x":true,"y":false}}"#,
            r#"{"groundTruthData":{"data":"\"a\"","encoding":"JSON"},"eventMetadata":{"eventId":"e"}}"#,
        ];
        let (mut fast, mut declined) = (0, 0);
        for bytes in crate::json_scan::edited_lines(&lines, 7, 20_000) {
            let Some(raw) = std::str::from_utf8(&bytes).ok().and_then(scan) else {
                declined += 1;
                continue;
            };
            fast += 1;
            let text = String::from_utf8_lossy(&bytes);
            let slow: RawRecord = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(raw, slow, "{text}");
        }
        assert!(
            fast > 2_000 && declined > 2_000,
            "both paths taken: {fast} fast, {declined} declined"
        );
    }

    #[test]
    fn the_fast_path_takes_the_lines_sagemaker_writes() {
        let line = r#"{"groundTruthData":{"data":"1","encoding":"CSV"},"eventMetadata":{"eventId":"e1","inferenceId":"i1"},"eventVersion":"0"}"#;
        let raw = scan(line).expect("a plain line");
        assert_eq!(raw.meta.unwrap().inference_id.as_deref(), Some("i1"));
        assert!(
            scan(r#"{"groundTruthData":{"data":"\"a\"","encoding":"JSON"}}"#).is_none(),
            "escapes"
        );
    }

    #[test]
    fn lines_across_the_readers_buffer_read_as_whole_lines() {
        let text = concat!(
            "\u{feff}",
            r#"{"groundTruthData":{"data":"1","encoding":"CSV"},"eventMetadata":{"eventId":"e1"}}"#,
            "\r\n\n",
            r#"{"groundTruthData":{"data":"\"d\u00f6g\"","encoding":"JSON"},"eventMetadata":{"eventId":"e\u0032"}}"#,
            "\nnot json\n",
            r#"{"groundTruthData":{"data":"0","encoding":"CSV"},"eventMetadata":{"eventId":"e4"}}"#,
        );
        let (whole, whole_skips) = read(text, ProblemType::MulticlassClassification);
        assert_eq!(whole.len(), 3);
        assert_eq!(
            (whole[1].id.as_ref(), &whole[1].label),
            ("e2", &LabelValue::Class("dög".into()))
        );
        assert_eq!(whole_skips.locations[&SkipReason::NotJson][0].line, 4);
        for capacity in [1, 2, 7, 64] {
            let mut skips = SkipReport::default();
            let mut out = Vec::new();
            let reader = io::BufReader::with_capacity(capacity, text.as_bytes());
            let summary = read_ground_truth(
                reader,
                "gt.jsonl",
                ProblemType::MulticlassClassification,
                &mut skips,
                |g| out.push(g.into_owned()),
            )
            .unwrap();
            assert_eq!(out, whole, "capacity {capacity}");
            assert_eq!(skips, whole_skips, "capacity {capacity}");
            assert_eq!((summary.lines, summary.records), (4, 3));
        }
    }

    #[test]
    fn a_byte_order_mark_does_not_cost_the_first_label() {
        let text = concat!(
            "\u{feff}",
            r#"{"groundTruthData":{"data":"1","encoding":"CSV"},"eventMetadata":{"eventId":"e1"}}"#,
            "\n",
            r#"{"groundTruthData":{"data":"\ufeff0","encoding":"CSV"},"eventMetadata":{"eventId":"e2"}}"#,
            "\n",
            r#"{"groundTruthData":{"data":"\ufeff\"cat\"","encoding":"JSON"},"eventMetadata":{"eventId":"e3"}}"#,
        );
        let (out, skips) = read(text, ProblemType::MulticlassClassification);
        assert!(skips.is_empty(), "{skips:?}");
        let labels: Vec<LabelValue> = out.into_iter().map(|g| g.label).collect();
        assert_eq!(
            labels,
            [
                LabelValue::Class("1".into()),
                LabelValue::Class("0".into()),
                LabelValue::Class("cat".into())
            ]
        );
    }

    #[test]
    fn ground_truth_files_report_their_lines_and_labels_even_when_cut_short() {
        use std::io::Write as _;

        use crate::baseline::Baseline;
        use crate::evaluate::{EvaluationConfig, Evaluator, QualityConfig};
        use crate::profile::DatasetProfile;
        let label = |i: usize| {
            format!(
                r#"{{"groundTruthData":{{"data":"{}","encoding":"CSV"}},"eventMetadata":{{"eventId":"e{i}"}}}}"#,
                i % 2
            )
        };
        let mut text: Vec<String> = (0..3).map(label).collect();
        text.insert(1, "not json".into());
        let text = text.join("\n\n");
        let many: String = (0..400).map(|i| label(i) + "\n").collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(many.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();

        let baseline = Baseline::from_profile(&DatasetProfile::new(std::iter::empty()));
        let config = EvaluationConfig {
            quality: Some(QualityConfig::new(ProblemType::BinaryClassification)),
            ..EvaluationConfig::default()
        };
        let mut evaluator = Evaluator::new(&baseline, &config);
        evaluator.add_ground_truth("labels.jsonl", text.as_bytes());
        evaluator.add_ground_truth("cut.jsonl.gz", &gz[..gz.len() / 2]);
        let scope = crate::metrics::MetricScope {
            endpoint: "ep".into(),
            schedule: "s".into(),
            timestamp: chrono::Utc::now(),
        };
        let quality = evaluator.finish(&scope, None).quality.unwrap();
        let files = &quality.ground_truth_files;
        // Four lines (blank ones not counted), three labels. Before, `lines` was always 0.
        assert_eq!(
            (
                files[0].summary.lines,
                files[0].summary.records,
                files[0].error.as_ref()
            ),
            (4, 3, None)
        );
        // The cut file counts the labels read before the cut (they were joined), and says why it stopped.
        let cut = &files[1];
        assert!(cut.error.as_deref().unwrap().contains("cut.jsonl.gz"), "{cut:?}");
        assert!(cut.summary.records > 0 && cut.summary.records < 400, "{cut:?}");
        assert_eq!(cut.summary.lines, cut.summary.records);
        assert_eq!(quality.join.labels, 3 + cut.summary.records);
    }

    #[test]
    fn a_failing_reader_is_an_error_naming_the_source() {
        struct Failing;
        impl io::Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("boom"))
            }
        }
        let mut skips = SkipReport::default();
        let err = read_ground_truth(
            io::BufReader::new(Failing),
            "s3://b/k",
            ProblemType::BinaryClassification,
            &mut skips,
            |_| {},
        )
        .unwrap_err();
        assert!(err.to_string().contains("s3://b/k"));
    }

    #[test]
    fn reads_the_real_ground_truth_files() {
        let Some(root) = realdata() else { return };
        let file = std::fs::File::open(root.join("capture/sagemaker-python-sdk/actuals.jsonl")).unwrap();
        let mut skips = SkipReport::default();
        let mut labels = Vec::new();
        read_ground_truth(
            io::BufReader::new(file),
            "actuals.jsonl",
            ProblemType::BinaryClassification,
            &mut skips,
            |g| labels.push(g.into_owned()),
        )
        .unwrap();
        assert_eq!(labels.len(), 44);
        assert!(skips.is_empty());
        let positives = labels
            .iter()
            .filter(|g| g.label == LabelValue::Class("1".into()))
            .count();
        assert_eq!(positives, 34);

        let dir = root.join("capture/sm-examples-test_gt/test_gt");
        let mut n = 0;
        let mut files = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let file = std::fs::File::open(&path).unwrap();
            files += 1;
            read_ground_truth(
                io::BufReader::new(file),
                &name,
                ProblemType::BinaryClassification,
                &mut skips,
                |g| {
                    // Each file is named after its record's event id.
                    assert_eq!(format!("{}.jsonl", g.id), name);
                    n += 1;
                },
            )
            .unwrap();
        }
        assert_eq!((files, n), (334, 334));
        assert!(skips.is_empty());
    }

    /// The shapes of the real ground truth above (one file of many records, and one record a file named after its
    /// event id), in the project's own fixtures.
    #[test]
    fn reads_the_fixture_ground_truth_files() {
        let dir = fixtures().join("ground-truth");
        let file = std::fs::File::open(dir.join("actuals.jsonl")).unwrap();
        let mut skips = SkipReport::default();
        let mut labels = Vec::new();
        read_ground_truth(
            io::BufReader::new(file),
            "actuals.jsonl",
            ProblemType::BinaryClassification,
            &mut skips,
            |g| labels.push(g.into_owned()),
        )
        .unwrap();
        assert_eq!(labels.len(), 5);
        assert!(skips.is_empty());
        let positives = labels
            .iter()
            .filter(|g| g.label == LabelValue::Class("1".into()))
            .count();
        assert_eq!(positives, 3);

        let mut n = 0;
        let mut files = 0;
        for entry in std::fs::read_dir(dir.join("single")).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let file = std::fs::File::open(&path).unwrap();
            files += 1;
            read_ground_truth(
                io::BufReader::new(file),
                &name,
                ProblemType::BinaryClassification,
                &mut skips,
                |g| {
                    assert_eq!(format!("{}.jsonl", g.id), name);
                    n += 1;
                },
            )
            .unwrap();
        }
        assert_eq!((files, n), (3, 3));
        assert!(skips.is_empty());
    }
}
