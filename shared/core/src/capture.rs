//! The streaming reader of SageMaker Data Capture files.
//!
//! One pass over any byte stream, memory independent of the number of records: each line is parsed in place
//! (strings borrowed from the line buffer where they need no unescaping), decoded into typed rows in reused
//! buffers, and handed to a [`CaptureSink`]. Bad input never stops the run: a bad line, record or value is skipped
//! and counted by reason in a [`SkipReport`], with the first few locations (source and line, never the payload).
//!
//! # Format
//!
//! JSON Lines, one capture record a line (`eventVersion` "0"):
//!
//! ```json
//! {"captureData": {"endpointInput":  {"observedContentType": "text/csv", "mode": "INPUT",  "data": "1,2", "encoding": "CSV"},
//!                  "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": "0.3", "encoding": "CSV"}},
//!  "eventMetadata": {"eventId": "...", "inferenceId": "...", "inferenceTime": "2024-01-19T19:27:57Z", "customAttributes": [..]},
//!  "eventVersion": "0"}
//! ```
//!
//! `encoding` is `CSV`, `JSON` or `BASE64`; a BASE64 body is CSV or JSON according to `observedContentType`
//! (`json` anywhere in it means JSON; parameters such as `; charset=utf-8` are ignored). Either side may be absent
//! (input-only or output-only capture). Bodies are decoded by [`crate::payload`]. Files ending in `.gz` are
//! gzip-compressed (see [`open_decompressed`]).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::payload::{self, Field, JsonSelectors, NameIndex, Prediction, Rows};
use crate::profile::InferredType;

/// The default longest line the reader accepts: SageMaker's synchronous payload limit is 6 MB, but a capture line
/// above 1 MiB is almost always a broken write, and the limit bounds the reader's memory.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;
/// How many locations the skip report keeps per reason.
pub const DEFAULT_MAX_LOCATIONS: usize = 5;

/// How the reader treats its input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReaderConfig {
    /// Lines longer than this many bytes are skipped (`line_too_long`).
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
    /// How many locations the skip report keeps per reason.
    #[serde(default = "default_max_locations")]
    pub max_locations: usize,
    /// Where to find features and predictions in JSON bodies.
    #[serde(default)]
    pub json: JsonSelectors,
}

fn default_max_line_bytes() -> usize {
    DEFAULT_MAX_LINE_BYTES
}

fn default_max_locations() -> usize {
    DEFAULT_MAX_LOCATIONS
}

impl Default for ReaderConfig {
    fn default() -> Self {
        Self {
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_locations: DEFAULT_MAX_LOCATIONS,
            json: Default::default(),
        }
    }
}

/// The features the reader expects, in the order of a CSV request's columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schema {
    pub features: Vec<FeatureSpec>,
}

/// One expected feature.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSpec {
    pub name: String,
    /// The baseline's type; `None` when unknown (values are then classified one by one).
    pub kind: Option<InferredType>,
}

impl Schema {
    /// A schema of named features of known types.
    pub fn new(features: impl IntoIterator<Item = (String, Option<InferredType>)>) -> Self {
        Self {
            features: features
                .into_iter()
                .map(|(name, kind)| FeatureSpec { name, kind })
                .collect(),
        }
    }

    /// Model Monitor's names for headerless columns: `_c0`, `_c1`, ...
    pub fn positional(width: usize) -> Self {
        Self::new((0..width).map(|i| (format!("_c{i}"), None)))
    }

    /// The number of features.
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// Whether the schema has no features.
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }
}

/// Why a line, record or value was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The line is not valid UTF-8.
    NotUtf8,
    /// The line is longer than the configured limit.
    LineTooLong,
    /// The line is not JSON.
    NotJson,
    /// The line is JSON but not a capture record.
    NotCaptureRecord,
    /// A BASE64 body does not decode.
    InvalidBase64,
    /// A body's encoding is not CSV, JSON or BASE64.
    UnsupportedEncoding,
    /// A body does not parse as its encoding says (an unbalanced CSV quote, broken JSON, an unknown shape).
    BadPayload,
    /// A CSV row has a different number of fields than the baseline.
    FieldCount,
    /// A value of a numeric feature is not a number (the value is skipped, the row kept).
    NonNumericValue,
    /// The response holds a different number of predictions than the request has rows.
    PredictionCount,
}

impl SkipReason {
    /// The snake_case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotUtf8 => "not_utf8",
            Self::LineTooLong => "line_too_long",
            Self::NotJson => "not_json",
            Self::NotCaptureRecord => "not_capture_record",
            Self::InvalidBase64 => "invalid_base64",
            Self::UnsupportedEncoding => "unsupported_encoding",
            Self::BadPayload => "bad_payload",
            Self::FieldCount => "field_count",
            Self::NonNumericValue => "non_numeric_value",
            Self::PredictionCount => "prediction_count",
        }
    }
}

/// A place in the input: never the payload itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub source: String,
    pub line: u64,
}

/// Counts of skipped input by reason, with the first few locations of each.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkipReport {
    pub counts: BTreeMap<SkipReason, u64>,
    pub locations: BTreeMap<SkipReason, Vec<Location>>,
    /// Locations kept per reason.
    #[serde(default = "default_max_locations")]
    pub max_locations: usize,
}

impl SkipReport {
    /// An empty report keeping `max_locations` locations per reason.
    pub fn new(max_locations: usize) -> Self {
        Self {
            max_locations,
            ..Default::default()
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

    /// The number of skips of all reasons.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Adds another report's counts and locations (up to the limit).
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

/// A capture record's metadata.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventMeta<'a> {
    pub event_id: Option<Cow<'a, str>>,
    pub inference_id: Option<Cow<'a, str>>,
    /// `None` when absent or not RFC 3339.
    pub inference_time: Option<DateTime<Utc>>,
    /// The custom attributes, as the JSON text of whatever the record held.
    pub custom_attributes: Option<String>,
}

impl EventMeta<'_> {
    /// The id ground truth joins on: the inference id when the caller set one, else the event id.
    pub fn join_id(&self) -> Option<&str> {
        self.inference_id.as_deref().or(self.event_id.as_deref())
    }
}

/// One typed feature value of a row. Text lives in the row's [`Rows`] arena, so the type has no lifetime and its
/// buffer is reused across records.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Missing,
    /// A number; `integral` when written without a fraction or exponent.
    Number {
        value: f64,
        integral: bool,
    },
    /// Text that is not a number (or any text of a String feature).
    Text {
        start: u32,
        end: u32,
    },
}

/// One row of a capture record, handed to the sink.
#[derive(Debug)]
pub struct CaptureRow<'a> {
    pub meta: &'a EventMeta<'a>,
    /// The row's position within its record (multi-record requests have several rows).
    pub index: usize,
    /// How many rows its record has.
    pub rows_in_record: usize,
    /// Feature values in schema order; empty for an output-only capture.
    pub values: &'a [Value],
    pub prediction: Option<&'a Prediction<'a>>,
    rows: &'a Rows,
}

impl CaptureRow<'_> {
    /// The text of a [`Value::Text`]; empty for other values.
    pub fn text(&self, value: Value) -> &str {
        match value {
            Value::Text { start, end } => self.rows.text(Field::Text { start, end }),
            _ => "",
        }
    }
}

/// What receives the rows of a capture stream.
pub trait CaptureSink {
    fn row(&mut self, row: &CaptureRow<'_>);
}

impl<F: FnMut(&CaptureRow<'_>)> CaptureSink for F {
    fn row(&mut self, row: &CaptureRow<'_>) {
        self(row)
    }
}

/// What one file held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSummary {
    pub lines: u64,
    pub records: u64,
    pub rows: u64,
}

/// A capture file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("reading {source_name}")]
    Io {
        source_name: String,
        #[source]
        source: io::Error,
    },
    #[error("{source_name} holds no capture record in {lines} lines: is it a Data Capture file?")]
    NoRecords { source_name: String, lines: u64 },
}

#[derive(Deserialize)]
struct RawRecord<'a> {
    #[serde(rename = "captureData", borrow)]
    capture_data: RawCaptureData<'a>,
    #[serde(rename = "eventMetadata", borrow, default)]
    event_metadata: Option<RawMeta<'a>>,
}

#[derive(Deserialize)]
struct RawCaptureData<'a> {
    #[serde(rename = "endpointInput", borrow, default)]
    endpoint_input: Option<RawPayload<'a>>,
    #[serde(rename = "endpointOutput", borrow, default)]
    endpoint_output: Option<RawPayload<'a>>,
}

#[derive(Deserialize)]
struct RawPayload<'a> {
    #[serde(rename = "observedContentType", borrow, default, deserialize_with = "borrowed_str")]
    observed_content_type: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    data: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    encoding: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawMeta<'a> {
    #[serde(rename = "eventId", borrow, default, deserialize_with = "borrowed_str")]
    event_id: Option<Cow<'a, str>>,
    #[serde(rename = "inferenceId", borrow, default, deserialize_with = "borrowed_str")]
    inference_id: Option<Cow<'a, str>>,
    #[serde(rename = "inferenceTime", borrow, default, deserialize_with = "borrowed_str")]
    inference_time: Option<Cow<'a, str>>,
    #[serde(rename = "customAttributes", default)]
    custom_attributes: Option<serde_json::Value>,
}

/// An optional string borrowed from the line when it needs no unescaping. serde borrows a `Cow<str>` field only
/// when the field's type is exactly `Cow<str>`; inside an `Option` it would allocate every string.
fn borrowed_str<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    #[derive(Deserialize)]
    struct Borrowed<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Borrowed<'de>>::deserialize(d)?.map(|b| b.0))
}

enum Body<'a> {
    Csv(Cow<'a, str>),
    Json(serde_json::Value),
}

/// The streaming capture reader. Keep one per run: it accumulates the skip report across files.
#[derive(Debug)]
pub struct CaptureReader {
    config: ReaderConfig,
    schema: Schema,
    names: NameIndex,
    /// Whether the schema came from the first row rather than a baseline.
    schema_inferred: bool,
    skips: SkipReport,
    /// Widths of rows that did not match the schema, for the missing and extra column checks.
    field_count_mismatches: BTreeMap<usize, u64>,
    /// Names in JSON bodies that the schema does not know, with their counts.
    extra_names: BTreeMap<String, u64>,
    line: Vec<u8>,
    rows: Rows,
    values: Vec<Value>,
    predictions: Vec<Prediction<'static>>,
}

impl CaptureReader {
    /// A reader expecting `schema`; an empty schema is taken from the first row (columns `_c0`, `_c1`, ...).
    pub fn new(config: ReaderConfig, schema: Schema) -> Self {
        let names = NameIndex::new(schema.features.iter().map(|f| f.name.as_str()));
        Self {
            skips: SkipReport::new(config.max_locations),
            schema_inferred: schema.is_empty(),
            config,
            schema,
            names,
            field_count_mismatches: BTreeMap::new(),
            extra_names: BTreeMap::new(),
            line: Vec::new(),
            rows: Rows::default(),
            values: Vec::new(),
            predictions: Vec::new(),
        }
    }

    /// The schema in use (the inferred one, after the first row, when none was given).
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// What was skipped so far.
    pub fn skips(&self) -> &SkipReport {
        &self.skips
    }

    /// Row widths that did not match the schema, with how many rows had each.
    pub fn field_count_mismatches(&self) -> &BTreeMap<usize, u64> {
        &self.field_count_mismatches
    }

    /// Feature names in JSON bodies that the schema does not know, with their counts.
    pub fn extra_names(&self) -> &BTreeMap<String, u64> {
        &self.extra_names
    }

    /// Reads one capture stream to its end, handing every row to `sink`.
    ///
    /// # Errors
    ///
    /// [`CaptureError::Io`] when the stream fails, [`CaptureError::NoRecords`] when it has lines but none of them
    /// is a capture record. Bad lines are not errors: they are counted in [`CaptureReader::skips`].
    pub fn read<R: BufRead>(
        &mut self,
        source_name: &str,
        mut input: R,
        sink: &mut impl CaptureSink,
    ) -> Result<FileSummary, CaptureError> {
        let mut summary = FileSummary::default();
        let mut line_no = 0u64;
        let mut line = std::mem::take(&mut self.line);
        loop {
            line.clear();
            let status = read_line_limited(&mut input, &mut line, self.config.max_line_bytes).map_err(|source| {
                CaptureError::Io {
                    source_name: source_name.to_owned(),
                    source,
                }
            })?;
            let too_long = match status {
                LineStatus::End => break,
                LineStatus::Line => false,
                LineStatus::TooLong => true,
            };
            line_no += 1;
            if too_long {
                summary.lines += 1;
                self.skips.record(SkipReason::LineTooLong, source_name, line_no);
                continue;
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            summary.lines += 1;
            let Ok(text) = std::str::from_utf8(&line) else {
                self.skips.record(SkipReason::NotUtf8, source_name, line_no);
                continue;
            };
            match self.record(text, source_name, line_no, sink) {
                Ok(rows) => {
                    summary.records += 1;
                    summary.rows += rows as u64;
                }
                Err(reason) => {
                    if !matches!(reason, SkipReason::NotJson | SkipReason::NotCaptureRecord) {
                        summary.records += 1;
                    }
                    self.skips.record(reason, source_name, line_no)
                }
            }
        }
        self.line = line;
        if summary.records == 0 && summary.lines > 0 {
            return Err(CaptureError::NoRecords {
                source_name: source_name.to_owned(),
                lines: summary.lines,
            });
        }
        Ok(summary)
    }
}

impl CaptureReader {
    /// Decodes one line and hands its rows to the sink; returns the number of rows, or why the whole record was
    /// skipped. Row- and value-level skips are recorded here.
    fn record(
        &mut self,
        text: &str,
        source_name: &str,
        line_no: u64,
        sink: &mut impl CaptureSink,
    ) -> Result<usize, SkipReason> {
        let raw: RawRecord<'_> = serde_json::from_str(text).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => SkipReason::NotCaptureRecord,
            _ => SkipReason::NotJson,
        })?;
        let meta = raw.event_metadata.map(meta_of).unwrap_or_default();

        self.rows.clear();
        self.predictions.clear();
        let has_input = match &raw.capture_data.endpoint_input {
            Some(input) => {
                match decode_body(input)? {
                    Body::Csv(data) => payload::decode_csv(&data, &mut self.rows),
                    Body::Json(json) => payload::decode_json_input(&json, &self.config.json, &mut self.rows),
                }
                .map_err(|_| SkipReason::BadPayload)?;
                true
            }
            None => false,
        };
        if let Some(output) = &raw.capture_data.endpoint_output {
            match decode_body(output)? {
                Body::Csv(data) => self
                    .predictions
                    .extend(payload::csv_predictions(&data).map(|p| Prediction {
                        score: p.score,
                        label: p.label.map(|l| Cow::Owned(l.into_owned())),
                    })),
                Body::Json(json) => payload::decode_json_output(&json, &self.config.json, &mut self.predictions)
                    .map_err(|_| SkipReason::BadPayload)?,
            }
        }
        if !has_input && self.predictions.is_empty() {
            return Err(SkipReason::BadPayload);
        }
        let row_count = if has_input {
            self.rows.len()
        } else {
            self.predictions.len()
        };
        if has_input && !self.predictions.is_empty() && self.predictions.len() != row_count {
            return Err(SkipReason::PredictionCount);
        }
        if self.schema_inferred && self.schema.is_empty() && has_input && row_count > 0 {
            self.schema = Schema::positional(self.rows.row(0).len());
            self.names = NameIndex::new(self.schema.features.iter().map(|f| f.name.as_str()));
        }

        let mut emitted = 0;
        for i in 0..row_count {
            self.values.clear();
            if has_input {
                let ok = type_row(
                    &self.rows,
                    i,
                    &self.schema,
                    &self.names,
                    &mut self.values,
                    &mut self.extra_names,
                    &mut self.skips,
                    source_name,
                    line_no,
                );
                if !ok {
                    *self.field_count_mismatches.entry(self.rows.row(i).len()).or_default() += 1;
                    self.skips.record(SkipReason::FieldCount, source_name, line_no);
                    continue;
                }
            }
            let row = CaptureRow {
                meta: &meta,
                index: i,
                rows_in_record: row_count,
                values: &self.values,
                prediction: self.predictions.get(i),
                rows: &self.rows,
            };
            sink.row(&row);
            emitted += 1;
        }
        Ok(emitted)
    }
}

fn meta_of(raw: RawMeta<'_>) -> EventMeta<'_> {
    EventMeta {
        event_id: raw.event_id,
        inference_id: raw.inference_id,
        inference_time: raw
            .inference_time
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc)),
        custom_attributes: raw.custom_attributes.map(|v| match v {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        }),
    }
}

fn decode_body<'a>(payload: &'a RawPayload<'a>) -> Result<Body<'a>, SkipReason> {
    let data = payload.data.as_deref().unwrap_or("");
    let is_json_type = || {
        payload.observed_content_type.as_deref().is_some_and(|t| {
            let media = t.split(';').next().unwrap_or("").trim();
            media.as_bytes().windows(4).any(|w| w.eq_ignore_ascii_case(b"json"))
        })
    };
    let encoding = payload.encoding.as_deref().unwrap_or("");
    if encoding.eq_ignore_ascii_case("CSV") {
        Ok(Body::Csv(Cow::Borrowed(data)))
    } else if encoding.eq_ignore_ascii_case("JSON") {
        serde_json::from_str(data)
            .map(Body::Json)
            .map_err(|_| SkipReason::BadPayload)
    } else if encoding.eq_ignore_ascii_case("BASE64") {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|_| SkipReason::InvalidBase64)?;
        if is_json_type() {
            serde_json::from_slice(&bytes)
                .map(Body::Json)
                .map_err(|_| SkipReason::BadPayload)
        } else {
            String::from_utf8(bytes)
                .map(|s| Body::Csv(Cow::Owned(s)))
                .map_err(|_| SkipReason::BadPayload)
        }
    } else {
        Err(SkipReason::UnsupportedEncoding)
    }
}

/// Types row `i` into `values` in schema order. Returns false when a positional row's width does not match the
/// schema (the row is skipped); counts non-numeric values of numeric features.
#[allow(clippy::too_many_arguments)]
fn type_row(
    rows: &Rows,
    i: usize,
    schema: &Schema,
    names: &NameIndex,
    values: &mut Vec<Value>,
    extra_names: &mut BTreeMap<String, u64>,
    skips: &mut SkipReport,
    source_name: &str,
    line_no: u64,
) -> bool {
    let fields = rows.row(i);
    if rows.is_named() {
        values.resize(schema.len(), Value::Missing);
        for (j, field) in fields.iter().enumerate() {
            let name = rows.name(i, j).unwrap_or("");
            match names.get(name) {
                Some(pos) => {
                    values[pos] = type_field(*field, rows, schema.features[pos].kind, skips, source_name, line_no)
                }
                None => {
                    // Bounded: a body with ever-new keys must not grow memory without limit.
                    if extra_names.len() < MAX_EXTRA_NAMES || extra_names.contains_key(name) {
                        *extra_names.entry(name.to_owned()).or_default() += 1;
                    }
                }
            }
        }
        return true;
    }
    if fields.len() != schema.len() {
        return false;
    }
    values.extend(
        fields
            .iter()
            .zip(&schema.features)
            .map(|(f, spec)| type_field(*f, rows, spec.kind, skips, source_name, line_no)),
    );
    true
}

/// How many distinct unknown names the reader remembers.
const MAX_EXTRA_NAMES: usize = 1000;

fn type_field(
    field: Field,
    rows: &Rows,
    kind: Option<InferredType>,
    skips: &mut SkipReport,
    source_name: &str,
    line_no: u64,
) -> Value {
    match field {
        Field::Missing => Value::Missing,
        Field::Number(value) => Value::Number {
            value,
            integral: value.fract() == 0.0 && value.is_finite(),
        },
        Field::Text { start, end } => {
            let text = rows.text(field);
            match classify(text) {
                Some(number) => number,
                None => {
                    if matches!(kind, Some(InferredType::Integral | InferredType::Fractional)) {
                        skips.record(SkipReason::NonNumericValue, source_name, line_no);
                    }
                    Value::Text { start, end }
                }
            }
        }
    }
}

/// Classifies text as Model Monitor (Deequ) does: integral digits, a fractional number, or a string. Words such as
/// `inf` and `NaN`, which Rust would parse, are strings.
pub fn classify(text: &str) -> Option<Value> {
    let bytes = text.as_bytes();
    let first = *bytes.first()?;
    if !(first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.') {
        return None;
    }
    parse_plain_decimal(bytes).or_else(|| classify_parsed(text))
}

/// [`classify`] through the standard library's parser, for what [`parse_plain_decimal`] leaves.
fn classify_parsed(text: &str) -> Option<Value> {
    let bytes = text.as_bytes();
    let first = *bytes.first()?;
    let value: f64 = text.parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    let digits = if first == b'-' || first == b'+' {
        &bytes[1..]
    } else {
        bytes
    };
    let integral = !digits.is_empty() && digits.iter().all(u8::is_ascii_digit);
    Some(Value::Number { value, integral })
}

/// Powers of ten that an `f64` holds exactly.
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// The common case of [`classify`], without the general parser: an optional sign, digits and at most one `.`, with
/// a mantissa below 2^53 and at most 22 fractional digits. Both the mantissa and the power of ten are then exact,
/// so one IEEE division rounds correctly and gives the very value `str::parse` gives (Clinger's fast path, which
/// the standard library takes too). `None` for anything else, which the general parser then handles.
fn parse_plain_decimal(bytes: &[u8]) -> Option<Value> {
    let (negative, digits) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let mut mantissa = 0u64;
    let mut digit_count = 0usize;
    let mut point = None;
    for (i, &b) in digits.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                // 19 digits cannot overflow a u64; the mantissa is checked against 2^53 below.
                if digit_count == 19 {
                    return None;
                }
                mantissa = mantissa * 10 + u64::from(b - b'0');
                digit_count += 1;
            }
            b'.' if point.is_none() => point = Some(i),
            _ => return None,
        }
    }
    let fraction_digits = point.map_or(0, |p| digits.len() - p - 1);
    if digit_count == 0 || mantissa >= 1 << 53 || fraction_digits >= EXACT_POWERS_OF_TEN.len() {
        return None;
    }
    let magnitude = mantissa as f64 / EXACT_POWERS_OF_TEN[fraction_digits];
    Some(Value::Number {
        value: if negative { -magnitude } else { magnitude },
        integral: point.is_none(),
    })
}

enum LineStatus {
    Line,
    TooLong,
    End,
}

/// Reads up to and including the next `\n` into `buf`, never holding more than `max` bytes: a longer line is
/// consumed and reported as too long.
fn read_line_limited<R: BufRead>(input: &mut R, buf: &mut Vec<u8>, max: usize) -> io::Result<LineStatus> {
    let mut too_long = false;
    let mut read_any = false;
    loop {
        let available = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(match (read_any, too_long) {
                (false, _) => LineStatus::End,
                (true, true) => LineStatus::TooLong,
                (true, false) => LineStatus::Line,
            });
        }
        read_any = true;
        let (chunk, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (&available[..i], i + 1),
            None => (available, available.len()),
        };
        if !too_long {
            if buf.len() + chunk.len() > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        let found_newline = done > chunk.len();
        input.consume(done);
        if found_newline {
            return Ok(if too_long {
                LineStatus::TooLong
            } else {
                LineStatus::Line
            });
        }
    }
}

/// Wraps `reader` in a gzip decoder when `name` ends in `.gz` (concatenated members are read through).
pub fn open_decompressed<'a, R: Read + 'a>(name: &str, reader: R) -> Box<dyn BufRead + 'a> {
    if name.ends_with(".gz") {
        Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::read::MultiGzDecoder::new(reader),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 16, reader))
    }
}

/// Whether a file or object name is a capture file modelwatch reads.
pub fn is_capture_file(name: &str) -> bool {
    name.ends_with(".jsonl") || name.ends_with(".jsonl.gz") || name.ends_with(".json") || name.ends_with(".json.gz")
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn realdata() -> Option<std::path::PathBuf> {
        let p = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/realdata/capture"));
        if p.exists() {
            Some(p.to_path_buf())
        } else {
            eprintln!("../shared/realdata is absent: skipping");
            None
        }
    }

    /// Rows as (values as text, score, label) for easy assertions.
    type Collected = Vec<(Vec<String>, Option<f64>, Option<String>, Option<String>)>;

    fn read_all(
        reader: &mut CaptureReader,
        name: &str,
        input: &[u8],
    ) -> Result<(FileSummary, Collected), CaptureError> {
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
        assert_eq!(reader.skips().total(), 0);
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
        writeln!(text, "{}", line(csv_body("1,2"), csv_body("1"), "narrow")).unwrap();
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
        assert_eq!(reader.field_count_mismatches().get(&2), Some(&1));
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
    fn deequ_value_classification() {
        let num = |s: &str| match classify(s) {
            Some(Value::Number { integral, .. }) => Some(integral),
            _ => None,
        };
        assert_eq!(num("42"), Some(true));
        assert_eq!(num("-7"), Some(true));
        assert_eq!(num("3.0"), Some(false));
        assert_eq!(num("1e5"), Some(false));
        assert_eq!(num("NaN"), None);
        assert_eq!(num("inf"), None);
        assert_eq!(num("abc"), None);
        assert_eq!(num(""), None);
    }

    /// A number's value and type, with the sign of zero, for exact comparisons.
    fn bits(value: Option<Value>) -> Option<(u64, bool)> {
        match value? {
            Value::Number { value, integral } => Some((value.to_bits(), integral)),
            _ => None,
        }
    }

    #[test]
    fn plain_decimals_take_the_fast_path() {
        for text in ["123.456", "-0.001", "+7", "0", "-0", "5.", ".5", "9007199254740991"] {
            assert!(parse_plain_decimal(text.as_bytes()).is_some(), "{text}");
            assert_eq!(bits(classify(text)), bits(classify_parsed(text)), "{text}");
        }
        for text in [
            "",
            "-",
            ".",
            "1.2.3",
            "1e5",
            "9007199254740992",
            "1.00000000000000000000001",
            "--1",
        ] {
            assert!(parse_plain_decimal(text.as_bytes()).is_none(), "{text}");
        }
    }

    proptest::proptest! {
        /// The fast path gives exactly what the standard library's parser gives, sign of zero included.
        #[test]
        fn fast_path_classifies_as_the_standard_parser(
            sign in "[-+]?", int in "[0-9]{0,20}", fraction in proptest::option::of("[0-9]{0,25}"),
        ) {
            let text = format!("{sign}{int}{}", fraction.map(|f| format!(".{f}")).unwrap_or_default());
            proptest::prop_assert_eq!(bits(classify(&text)), bits(classify_parsed(&text)), "{}", text);
        }

        #[test]
        fn fast_path_reads_printed_floats_exactly(value in proptest::num::f64::NORMAL, places in 0usize..17) {
            for text in [format!("{value}"), format!("{value:.places$}")] {
                proptest::prop_assert_eq!(bits(classify(&text)), bits(classify_parsed(&text)), "{}", text);
            }
        }
    }

    #[test]
    fn real_sagemaker_sdk_captures_parse() {
        let Some(root) = realdata() else { return };
        let text = std::fs::read(root.join("sagemaker-python-sdk/capture.jsonl")).unwrap();
        let mut reader = CaptureReader::new(ReaderConfig::default(), Schema::default());
        let (summary, rows) = read_all(&mut reader, "capture.jsonl", &text).unwrap();
        assert_eq!((summary.records, summary.rows), (44, 44));
        assert_eq!(reader.schema().len(), 7, "headerless CSV: _c0.._c6");
        assert_eq!(rows[0].0, ["i9", "i45", "i45", "i42", "i7", "i5", "i0"]);
        assert_eq!(rows[0].1, Some(0.302709460258));
        assert_eq!(rows[0].3.as_deref(), Some("74b0dd56-e7c8-368e-94b1-14a138a96000"));
        assert_eq!(reader.skips().total(), 0);

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
        let Some(root) = realdata() else { return };
        let dir = root.join("sm-examples-notebook-outputs");
        let file = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
        let mut reader = CaptureReader::new(ReaderConfig::default(), Schema::default());
        let (summary, rows) = read_all(&mut reader, "clarify.jsonl", &std::fs::read(file).unwrap()).unwrap();
        assert_eq!((summary.records, summary.rows), (2, 3));
        assert_eq!(rows[2].0.len(), 14);
        assert_eq!((rows[2].1, rows[2].2.as_deref()), (Some(0.5041388273239136), Some("1")));

        let text =
            std::fs::read(root.join("sm-examples-model-monitor-introduction/notebook-output-capture-sample.jsonl"))
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
}
