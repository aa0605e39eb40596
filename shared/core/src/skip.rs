//! The one skip report for bad input, shared by the capture reader and the ground-truth reader.
//!
//! Bad input never stops a run: a bad line, row or value is skipped and counted here by reason, with the first few
//! locations of each (source name and 1-based line number). Values are never kept, because captured payloads and
//! labels can be sensitive.
//!
//! Each reason skips one kind of thing ([`SkipReason::unit`]), and the report counts the three apart, so that no
//! count adds lines to values:
//!
//! - [`SkipUnit::Line`]: a whole line, nothing of it read. A line holds one record, so this is also the records
//!   skipped: lines that are not records (not JSON, too long) and records that could not be used (a body that does
//!   not decode, a label that does not parse).
//! - [`SkipUnit::Row`]: one row of a record that was read (a multi-row request keeps its other rows).
//! - [`SkipUnit::Value`]: one value of a row that was kept (the row is profiled with the value as text).
//!
//! # Format
//!
//! Serialised as `{"lines": n, "rows": n, "values": n, "counts": {"<reason>": n}, "locations": {"<reason>":
//! [{"source": .., "line": ..}]}, "max_locations": 5}`, reasons in snake_case (see [`SkipReason::as_str`]); `lines`,
//! `rows` and `values` are the sums of the counts by [`SkipUnit`], written for readers and ignored when reading. The
//! ground-truth reader's former report called `locations` `first`; that name is still accepted when reading.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};

/// How many locations a report keeps per reason unless told otherwise: enough to find the pattern in a file, small
/// enough for a report.
pub const DEFAULT_MAX_LOCATIONS: usize = 5;

/// Why a line, row or value was skipped, by the capture reader or the ground-truth reader; what it skipped is its
/// [`SkipReason::unit`].
///
/// The order of the variants is the order of the reasons in a report's maps: each reader's own reasons keep the
/// relative order they had before the two readers shared this type, so reports list them as they did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The line is not valid UTF-8 (captures).
    NotUtf8,
    /// The line is longer than the configured limit (captures).
    LineTooLong,
    /// The line is not JSON; for ground truth, also not UTF-8 or not a JSON object.
    NotJson,
    /// The line is JSON but not a capture record (captures).
    NotCaptureRecord,
    /// `groundTruthData.data`, `groundTruthData.encoding` or both ids of `eventMetadata` are missing (ground truth).
    MissingField,
    /// A BASE64 body does not decode (captures).
    InvalidBase64,
    /// A body's encoding is not one the reader knows: CSV, JSON or BASE64 for captures, CSV or JSON for ground truth.
    UnsupportedEncoding,
    /// A body does not parse as its encoding says (an unbalanced CSV quote, broken JSON, an unknown shape) (captures).
    BadPayload,
    /// A CSV row has a different number of fields than the baseline (the row is skipped, the record's other rows
    /// kept) (captures).
    FieldCount,
    /// A value of a numeric feature is not a number (the value is skipped, the row kept) (captures).
    NonNumericValue,
    /// The response holds a different number of predictions than the request has rows (captures).
    PredictionCount,
    /// The label is empty, not a scalar, or (for regression) not a finite number (ground truth).
    UnparsableLabel,
}

/// What one skip skipped (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipUnit {
    /// A whole line (one record, or a line that is not a record).
    Line,
    /// One row of a record that was read.
    Row,
    /// One value of a row that was kept.
    Value,
}

impl SkipReason {
    /// What a skip for this reason skipped.
    pub fn unit(self) -> SkipUnit {
        match self {
            Self::FieldCount => SkipUnit::Row,
            Self::NonNumericValue => SkipUnit::Value,
            Self::NotUtf8
            | Self::LineTooLong
            | Self::NotJson
            | Self::NotCaptureRecord
            | Self::MissingField
            | Self::InvalidBase64
            | Self::UnsupportedEncoding
            | Self::BadPayload
            | Self::PredictionCount
            | Self::UnparsableLabel => SkipUnit::Line,
        }
    }

    /// The snake_case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotUtf8 => "not_utf8",
            Self::LineTooLong => "line_too_long",
            Self::NotJson => "not_json",
            Self::NotCaptureRecord => "not_capture_record",
            Self::MissingField => "missing_field",
            Self::InvalidBase64 => "invalid_base64",
            Self::UnsupportedEncoding => "unsupported_encoding",
            Self::BadPayload => "bad_payload",
            Self::FieldCount => "field_count",
            Self::NonNumericValue => "non_numeric_value",
            Self::PredictionCount => "prediction_count",
            Self::UnparsableLabel => "unparsable_label",
        }
    }
}

/// A place in the input: never the payload itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub source: String,
    /// 1-based line number.
    pub line: u64,
}

/// Counts of skipped input by reason, with the first few locations of each (the JSON shape is in the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SkipReport {
    pub counts: BTreeMap<SkipReason, u64>,
    /// The first `max_locations` locations of each reason.
    #[serde(alias = "first")]
    pub locations: BTreeMap<SkipReason, Vec<Location>>,
    /// Locations kept per reason.
    #[serde(default = "default_max_locations")]
    pub max_locations: usize,
}

fn default_max_locations() -> usize {
    DEFAULT_MAX_LOCATIONS
}

/// An empty report keeping [`DEFAULT_MAX_LOCATIONS`] locations per reason (a report read from JSON without
/// `max_locations` gets the same).
impl Default for SkipReport {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_LOCATIONS)
    }
}

impl SkipReport {
    /// An empty report keeping `max_locations` locations per reason.
    pub fn new(max_locations: usize) -> Self {
        Self {
            counts: BTreeMap::new(),
            locations: BTreeMap::new(),
            max_locations,
        }
    }

    /// Counts one skip.
    pub fn record(&mut self, reason: SkipReason, source: &str, line: u64) {
        *self.counts.entry(reason).or_default() += 1;
        let locations = self.locations.entry(reason).or_default();
        if locations.len() < self.max_locations {
            locations.push(Location {
                source: source.to_owned(),
                line,
            });
        }
    }

    /// Skips of one reason.
    pub fn count(&self, reason: SkipReason) -> u64 {
        self.counts.get(&reason).copied().unwrap_or(0)
    }

    /// Skips of one unit: whole lines, rows of read records, or values of kept rows.
    pub fn count_of(&self, unit: SkipUnit) -> u64 {
        self.counts
            .iter()
            .filter(|(r, _)| r.unit() == unit)
            .map(|(_, n)| n)
            .sum()
    }

    /// Whole lines skipped (each a record, or a line that is not one): nothing of them was read.
    pub fn lines(&self) -> u64 {
        self.count_of(SkipUnit::Line)
    }

    /// Rows skipped in records that were read.
    pub fn rows(&self) -> u64 {
        self.count_of(SkipUnit::Row)
    }

    /// Values skipped in rows that were kept.
    pub fn values(&self) -> u64 {
        self.count_of(SkipUnit::Value)
    }

    /// Whether nothing was skipped.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Adds another report's counts and locations (from another file), keeping the location limit.
    pub fn merge(&mut self, other: &SkipReport) {
        for (reason, n) in &other.counts {
            *self.counts.entry(*reason).or_default() += n;
        }
        for (reason, locs) in &other.locations {
            let mine = self.locations.entry(*reason).or_default();
            for loc in locs {
                if mine.len() >= self.max_locations.max(1) {
                    break;
                }
                mine.push(loc.clone());
            }
        }
    }
}

/// The report with its counts by unit, for readers of the JSON (see the module docs).
impl Serialize for SkipReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shape<'a> {
            lines: u64,
            rows: u64,
            values: u64,
            counts: &'a BTreeMap<SkipReason, u64>,
            locations: &'a BTreeMap<SkipReason, Vec<Location>>,
            max_locations: usize,
        }
        Shape {
            lines: self.lines(),
            rows: self.rows(),
            values: self.values(),
            counts: &self.counts,
            locations: &self.locations,
            max_locations: self.max_locations,
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_all_and_keeps_the_first_locations() {
        let mut s = SkipReport::default();
        for line in 1..=8 {
            s.record(SkipReason::NotJson, "a.jsonl", line);
        }
        s.record(SkipReason::UnparsableLabel, "a.jsonl", 9);
        assert_eq!(s.count(SkipReason::NotJson), 8);
        assert_eq!((s.lines(), s.rows(), s.values()), (9, 0, 0));
        assert_eq!(s.locations[&SkipReason::NotJson].len(), DEFAULT_MAX_LOCATIONS);
        assert_eq!(s.locations[&SkipReason::NotJson][0].line, 1);

        let mut t = SkipReport::default();
        t.record(SkipReason::UnparsableLabel, "b.jsonl", 3);
        t.merge(&s);
        assert_eq!(t.count(SkipReason::UnparsableLabel), 2);
        assert_eq!(t.locations[&SkipReason::UnparsableLabel][0].source, "b.jsonl");
        assert_eq!(t.locations[&SkipReason::NotJson].len(), DEFAULT_MAX_LOCATIONS);
    }

    #[test]
    fn lines_rows_and_values_are_counted_apart() {
        let mut s = SkipReport::default();
        s.record(SkipReason::NotJson, "a.jsonl", 1);
        s.record(SkipReason::BadPayload, "a.jsonl", 2);
        s.record(SkipReason::FieldCount, "a.jsonl", 3);
        for _ in 0..3 {
            s.record(SkipReason::NonNumericValue, "a.jsonl", 4);
        }
        assert_eq!((s.lines(), s.rows(), s.values()), (2, 1, 3));
        assert!(!s.is_empty() && SkipReport::default().is_empty());
    }

    #[test]
    fn json_shape_is_the_capture_reports_and_reads_the_ground_truth_one() {
        let mut s = SkipReport::new(2);
        s.record(SkipReason::LineTooLong, "a.jsonl", 4);
        s.record(SkipReason::NonNumericValue, "a.jsonl", 5);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"lines": 1, "rows": 0, "values": 1,
                               "counts": {"line_too_long": 1, "non_numeric_value": 1},
                               "locations": {"line_too_long": [{"source": "a.jsonl", "line": 4}],
                                             "non_numeric_value": [{"source": "a.jsonl", "line": 5}]},
                               "max_locations": 2})
        );
        // The sums by unit are derived: reading the report back gives the same report.
        assert_eq!(serde_json::from_value::<SkipReport>(json).unwrap(), s);
        // What the ground-truth reader's report (`SkipCounts`) wrote before the two became one.
        let old: SkipReport = serde_json::from_value(serde_json::json!({
            "counts": {"missing_field": 1}, "first": {"missing_field": [{"source": "gt.jsonl", "line": 2}]}}))
        .unwrap();
        assert_eq!(old.count(SkipReason::MissingField), 1);
        assert_eq!(old.locations[&SkipReason::MissingField][0].line, 2);
        assert_eq!(old.max_locations, DEFAULT_MAX_LOCATIONS);
    }

    #[test]
    fn reasons_sort_as_each_reader_listed_them() {
        use SkipReason::*;
        let capture = [
            NotUtf8,
            LineTooLong,
            NotJson,
            NotCaptureRecord,
            InvalidBase64,
            UnsupportedEncoding,
            BadPayload,
            FieldCount,
            NonNumericValue,
            PredictionCount,
        ];
        let ground_truth = [NotJson, MissingField, UnsupportedEncoding, UnparsableLabel];
        assert!(capture.is_sorted());
        assert!(ground_truth.is_sorted());
    }
}
