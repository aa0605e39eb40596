//! The streaming reader: lines to records to typed rows, bad input skipped and counted.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::number::classify;
use super::types::{CaptureRow, CaptureSink, EventMeta, FileSummary, InferredType, Schema, Value};
use crate::json_scan::Scanner;
use crate::payload::{self, Field, JsonSelectors, NameIndex, Prediction, Rows};
use crate::skip::{DEFAULT_MAX_LOCATIONS, SkipReason, SkipReport};

/// The default longest line the reader accepts: SageMaker's synchronous payload limit is 6 MB, but a capture line
/// above 1 MiB is almost always a broken write, and the limit bounds the reader's memory.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

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
    /// Threads that read captures (0, the default: one a core). The reports do not depend on it: files are cut
    /// into the same chunks and merged in the same order whatever the number (see [`crate::evaluate`]).
    #[serde(default)]
    pub threads: usize,
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
            threads: 0,
        }
    }
}

/// A capture file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The stream failed (a broken connection, a gzip file cut short); what was read before counts.
    #[error("reading {source_name} after line {line}")]
    Io {
        source_name: String,
        /// The last line read whole (1-based; 0 when none was).
        line: u64,
        /// What the file gave before the failure: its rows were handed to the sink.
        summary: FileSummary,
        #[source]
        source: io::Error,
    },
    #[error("{source_name} holds no capture record in {lines} lines: is it a Data Capture file?")]
    NoRecords { source_name: String, lines: u64 },
}

impl CaptureError {
    /// What the file gave before the error: the lines, records and rows read (their rows were handed to the sink,
    /// and their skips counted).
    pub fn read_before(&self) -> FileSummary {
        match self {
            Self::Io { summary, .. } => *summary,
            Self::NoRecords { lines, .. } => FileSummary {
                lines: *lines,
                ..FileSummary::default()
            },
        }
    }
}

/// The UTF-8 byte order mark, which some writers (Windows tools, spreadsheet exports) put at the start of a text:
/// it is not part of the first line's content.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// `bytes` without a leading UTF-8 byte order mark.
pub(crate) fn without_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes)
}

#[derive(Debug, PartialEq, Deserialize)]
pub(super) struct RawRecord<'a> {
    #[serde(rename = "captureData", borrow)]
    capture_data: RawCaptureData<'a>,
    #[serde(rename = "eventMetadata", borrow, default)]
    event_metadata: Option<RawMeta<'a>>,
}

#[derive(Debug, PartialEq, Deserialize)]
struct RawCaptureData<'a> {
    #[serde(rename = "endpointInput", borrow, default)]
    endpoint_input: Option<RawPayload<'a>>,
    #[serde(rename = "endpointOutput", borrow, default)]
    endpoint_output: Option<RawPayload<'a>>,
}

#[derive(Debug, PartialEq, Deserialize)]
struct RawPayload<'a> {
    #[serde(rename = "observedContentType", borrow, default, deserialize_with = "borrowed_str")]
    observed_content_type: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    data: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    encoding: Option<Cow<'a, str>>,
}

#[derive(Debug, PartialEq, Deserialize)]
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

/// The record of a line SageMaker wrote plainly (a CSV or base64 body: no escapes), read by the [`Scanner`];
/// `None` leaves the line to serde_json (JSON bodies, custom attributes, anything unusual).
pub(super) fn scan(text: &str) -> Option<RawRecord<'_>> {
    let mut s = Scanner::new(text)?;
    let (mut capture_data, mut event_metadata) = (None, None);
    s.object(&["captureData", "eventMetadata"], |s, key| {
        match key {
            "captureData" => {
                let mut data = RawCaptureData {
                    endpoint_input: None,
                    endpoint_output: None,
                };
                s.object(&["endpointInput", "endpointOutput"], |s, key| {
                    match key {
                        "endpointInput" => data.endpoint_input = scan_payload(s)?,
                        "endpointOutput" => data.endpoint_output = scan_payload(s)?,
                        _ => s.ignored()?,
                    }
                    Some(())
                })?;
                capture_data = Some(data);
            }
            "eventMetadata" if !s.null()? => {
                let mut meta = RawMeta {
                    event_id: None,
                    inference_id: None,
                    inference_time: None,
                    custom_attributes: None,
                };
                s.object(&["eventId", "inferenceId", "inferenceTime"], |s, key| {
                    match key {
                        "eventId" => meta.event_id = s.nullable_string()?.map(Cow::Borrowed),
                        "inferenceId" => meta.inference_id = s.nullable_string()?.map(Cow::Borrowed),
                        "inferenceTime" => meta.inference_time = s.nullable_string()?.map(Cow::Borrowed),
                        "customAttributes" => return None,
                        _ => s.ignored()?,
                    }
                    Some(())
                })?;
                event_metadata = Some(meta);
            }
            "eventMetadata" => {}
            _ => s.ignored()?,
        }
        Some(())
    })?;
    s.end()?;
    Some(RawRecord {
        capture_data: capture_data?,
        event_metadata,
    })
}

/// An `endpointInput` or `endpointOutput`: `null` or an object of strings.
fn scan_payload<'a>(s: &mut Scanner<'a>) -> Option<Option<RawPayload<'a>>> {
    if s.null()? {
        return Some(None);
    }
    let mut payload = RawPayload {
        observed_content_type: None,
        data: None,
        encoding: None,
    };
    s.object(&["observedContentType", "data", "encoding"], |s, key| {
        match key {
            "observedContentType" => payload.observed_content_type = s.nullable_string()?.map(Cow::Borrowed),
            "data" => payload.data = s.nullable_string()?.map(Cow::Borrowed),
            "encoding" => payload.encoding = s.nullable_string()?.map(Cow::Borrowed),
            _ => s.ignored()?,
        }
        Some(())
    })?;
    Some(Some(payload))
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
    /// Rows read in Model Monitor's CSV layout: the endpoint's output in the baseline's first column.
    output_first_rows: u64,
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
            output_first_rows: 0,
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

    /// Rows whose CSV input had one field fewer than the baseline and that were read as Model Monitor reads them:
    /// the endpoint's output (a number) as the baseline's first column, then the input ([`output_first`]).
    pub fn output_first_rows(&self) -> u64 {
        self.output_first_rows
    }

    /// A reader of the same configuration and schema with nothing counted yet: one per worker when a run reads on
    /// several cores. Its counts go back with [`CaptureReader::take_counts`] and [`CaptureReader::add_counts`].
    pub fn fork(&self) -> CaptureReader {
        let mut reader = CaptureReader::new(self.config.clone(), self.schema.clone());
        reader.schema_inferred = self.schema_inferred;
        reader
    }

    /// What this reader counted so far (skips, row widths, unknown names, output-first rows), taken out: the
    /// reader's counts start again from zero.
    pub fn take_counts(&mut self) -> ReaderCounts {
        ReaderCounts {
            skips: std::mem::replace(&mut self.skips, SkipReport::new(self.config.max_locations)),
            field_count_mismatches: std::mem::take(&mut self.field_count_mismatches),
            extra_names: std::mem::take(&mut self.extra_names),
            output_first_rows: std::mem::take(&mut self.output_first_rows),
        }
    }

    /// Adds counts another reader took (of input that comes after what this one read: skip locations are kept in
    /// the order they are added).
    pub fn add_counts(&mut self, counts: &ReaderCounts) {
        self.skips.merge(&counts.skips);
        for (width, n) in &counts.field_count_mismatches {
            *self.field_count_mismatches.entry(*width).or_default() += n;
        }
        for (name, n) in &counts.extra_names {
            *self.extra_names.entry(name.clone()).or_default() += n;
        }
        self.output_first_rows += counts.output_first_rows;
    }

    /// Reads one capture stream to its end, handing every row to `sink`.
    ///
    /// # Errors
    ///
    /// [`CaptureError::Io`] when the stream fails (a gzip file cut short among them), [`CaptureError::NoRecords`]
    /// when it has lines but none of them is a capture record; either way [`CaptureError::read_before`] is what the
    /// file gave until then. Bad lines are not errors: they are counted in [`CaptureReader::skips`].
    ///
    /// A UTF-8 byte order mark at the start of the stream is not part of the first line.
    pub fn read<R: BufRead>(
        &mut self,
        source_name: &str,
        input: R,
        sink: &mut impl CaptureSink,
    ) -> Result<FileSummary, CaptureError> {
        let mut summary = FileSummary::default();
        if let Err((source, line)) = self.read_lines(source_name, input, 0, &mut summary, sink) {
            return Err(CaptureError::Io {
                source_name: source_name.to_owned(),
                line,
                summary,
                source,
            });
        }
        records_read(source_name, summary)
    }

    /// Reads the lines of a stream that starts after line `first_line` of its file (a chunk of it, or the whole
    /// file from 0), counting into `summary` and handing every row to `sink`; returns the number of lines read.
    ///
    /// # Errors
    ///
    /// The stream's error, with the number of the last line read before it.
    pub fn read_lines<R: BufRead>(
        &mut self,
        source_name: &str,
        mut input: R,
        first_line: u64,
        summary: &mut FileSummary,
        sink: &mut impl CaptureSink,
    ) -> Result<u64, (io::Error, u64)> {
        let mut line_no = first_line;
        let mut line = std::mem::take(&mut self.line);
        let result = loop {
            line.clear();
            let status = match read_line_limited(&mut input, &mut line, self.config.max_line_bytes) {
                Ok(status) => status,
                Err(e) => break Err((e, line_no)),
            };
            let too_long = match status {
                LineStatus::End => break Ok(line_no - first_line),
                LineStatus::Line => false,
                LineStatus::TooLong => true,
            };
            line_no += 1;
            if too_long {
                summary.lines += 1;
                self.skips.record(SkipReason::LineTooLong, source_name, line_no);
                continue;
            }
            let content = if line_no == 1 { without_bom(&line) } else { &line };
            if content.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            summary.lines += 1;
            let Ok(text) = std::str::from_utf8(content) else {
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
        };
        self.line = line;
        result
    }
}

/// A file's summary once all of it was read: [`CaptureError::NoRecords`] when it has lines but no capture record.
///
/// # Errors
///
/// As said.
pub fn records_read(source_name: &str, summary: FileSummary) -> Result<FileSummary, CaptureError> {
    if summary.records == 0 && summary.lines > 0 {
        return Err(CaptureError::NoRecords {
            source_name: source_name.to_owned(),
            lines: summary.lines,
        });
    }
    Ok(summary)
}

/// What a [`CaptureReader`] counts besides rows, taken out of one reader and added to another
/// ([`CaptureReader::take_counts`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReaderCounts {
    pub skips: SkipReport,
    pub field_count_mismatches: BTreeMap<usize, u64>,
    pub extra_names: BTreeMap<String, u64>,
    pub output_first_rows: u64,
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
        let raw = match scan(text) {
            Some(raw) => raw,
            None => serde_json::from_str(text).map_err(|e| match e.classify() {
                serde_json::error::Category::Data => SkipReason::NotCaptureRecord,
                _ => SkipReason::NotJson,
            })?,
        };
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
                let output_first = output_first(&self.rows, i, &self.schema, self.predictions.get(i));
                let ok = match output_first {
                    Some(score) => {
                        self.values.push(score);
                        let fields = self.rows.row(i);
                        let kinds = self.schema.features[1..].iter().map(|f| f.kind);
                        for (field, kind) in fields.iter().zip(kinds) {
                            let value = type_field(*field, &self.rows, kind, &mut self.skips, source_name, line_no);
                            self.values.push(value);
                        }
                        self.output_first_rows += 1;
                        true
                    }
                    None => type_row(
                        &self.rows,
                        i,
                        &self.schema,
                        &self.names,
                        &mut self.values,
                        &mut self.extra_names,
                        &mut self.skips,
                        source_name,
                        line_no,
                    ),
                };
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

/// Decodes a body as its encoding says; a byte order mark at the start of the body (a CSV file sent as it was saved)
/// is not part of its first field.
fn decode_body<'a>(payload: &'a RawPayload<'a>) -> Result<Body<'a>, SkipReason> {
    let data = payload.data.as_deref().unwrap_or("");
    let data = data.strip_prefix('\u{feff}').unwrap_or(data);
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
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|_| SkipReason::InvalidBase64)?;
        if bytes.starts_with(UTF8_BOM) {
            bytes.drain(..UTF8_BOM.len());
        }
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

/// Model Monitor's CSV layout: a baseline profiled from a training set with the label first (as AWS's own Model
/// Monitor example does) while the endpoint is sent only the inputs. Model Monitor then reads the captured row as
/// the endpoint's output followed by the input, so the output lands in the label's column (its introduction
/// example reports a `data_type_check` violation for `Churn`, a float score where the baseline has the integer
/// label). The row of `i` is read that way when its input is positional, has exactly one field fewer than the
/// schema, and its output is a number; the value to put first is returned.
fn output_first(rows: &Rows, i: usize, schema: &Schema, prediction: Option<&Prediction<'_>>) -> Option<Value> {
    if rows.is_named() || schema.is_empty() || rows.row(i).len() + 1 != schema.len() {
        return None;
    }
    let score = prediction?.score?;
    Some(Value::Number {
        value: score,
        integral: score.fract() == 0.0 && score.is_finite(),
    })
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
