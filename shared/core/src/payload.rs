//! Decoding of the request and response bodies inside a capture record.
//!
//! A capture line carries the endpoint's input and output as text (CSV or JSON, possibly BASE64-wrapped). This
//! module turns that text into rows of fields and into predictions. It allocates nothing per record in the common
//! CSV case: fields are ranges into a reused text arena.
//!
//! # Format
//!
//! CSV bodies: one row per line (multi-record requests give one row each), fields separated by commas, fields may
//! be double-quoted with `""` as an escaped quote. Empty lines are ignored.
//!
//! JSON request bodies, in the order they are tried:
//! - with a configured [`JsonSelectors::features`] pointer, the value it selects;
//! - `{"instances": [...]}` or `{"inputs": [...]}`: one row per element; an element is a scalar (a one-feature
//!   row), an array of scalars, `{"features": [...]}`, or an object keyed by feature name;
//! - `{"features": [...]}`: one row;
//! - a flat array of scalars: one row; an array of arrays: one row each;
//! - any other object: one row keyed by feature name.
//!
//! JSON response bodies: a scalar; an array (one prediction per element); `{"predictions": [...]}`; an object with
//! a score and/or a label. An element may be a number (a score), a string (a label), an object with `score` /
//! `predicted_label` (or the configured keys), or an array of class probabilities (score = the largest, label =
//! its index).

use std::borrow::Cow;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// One field of a decoded row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Field {
    /// Null, absent, or an empty CSV field.
    Missing,
    /// A JSON number.
    Number(f64),
    /// Text in the row set's arena, `start..end`.
    Text { start: u32, end: u32 },
}

/// Rows of fields, decoded from one request body. Reused across records to avoid allocation.
#[derive(Debug, Default, Clone)]
pub struct Rows {
    text: String,
    fields: Vec<Field>,
    /// End offset in `fields` of each row.
    row_ends: Vec<usize>,
    /// Field names, when the body named its fields (JSON objects); parallel to `fields`.
    names: Vec<Option<(u32, u32)>>,
    named: bool,
}

impl Rows {
    /// Empties the set, keeping its capacity.
    pub fn clear(&mut self) {
        self.text.clear();
        self.fields.clear();
        self.row_ends.clear();
        self.names.clear();
        self.named = false;
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.row_ends.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.row_ends.is_empty()
    }

    /// Whether fields carry names (decoded from JSON objects) rather than positions.
    pub fn is_named(&self) -> bool {
        self.named
    }

    /// The fields of row `i`.
    pub fn row(&self, i: usize) -> &[Field] {
        let start = if i == 0 { 0 } else { self.row_ends[i - 1] };
        &self.fields[start..self.row_ends[i]]
    }

    /// The name of field `j` of row `i`, when the body named it.
    pub fn name(&self, i: usize, j: usize) -> Option<&str> {
        let start = if i == 0 { 0 } else { self.row_ends[i - 1] };
        self.names
            .get(start + j)
            .copied()
            .flatten()
            .map(|(s, e)| &self.text[s as usize..e as usize])
    }

    /// The text of a [`Field::Text`]; empty for other fields.
    pub fn text(&self, field: Field) -> &str {
        match field {
            Field::Text { start, end } => &self.text[start as usize..end as usize],
            _ => "",
        }
    }

    fn push_text(&mut self, s: &str) -> Field {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        Field::Text {
            start,
            end: self.text.len() as u32,
        }
    }

    fn push_field(&mut self, field: Field, name: Option<&str>) {
        let name = name.map(|n| {
            let start = self.text.len() as u32;
            self.text.push_str(n);
            (start, self.text.len() as u32)
        });
        self.fields.push(field);
        self.names.push(name);
    }

    fn end_row(&mut self) {
        self.row_ends.push(self.fields.len());
    }
}

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the body is not valid JSON")]
    Json,
    #[error("the body has an unbalanced quote")]
    UnbalancedQuote,
    #[error("the JSON body has no shape modelwatch recognises; configure a JSON pointer for it")]
    UnknownShape,
    #[error("the JSON pointer {0} selects nothing in the body")]
    PointerMissing(String),
}

/// Where to find features and predictions in JSON bodies whose shape is ambiguous.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonSelectors {
    /// RFC 6901 JSON pointer to the features in the request (e.g. `/data/instances`).
    #[serde(default)]
    pub features: Option<String>,
    /// RFC 6901 JSON pointer to the predictions in the response (e.g. `/outputs/scores`).
    #[serde(default)]
    pub predictions: Option<String>,
    /// Key of the score in a prediction object; default tries `score`, `probability`, `prediction`.
    #[serde(default)]
    pub score_key: Option<String>,
    /// Key of the label in a prediction object; default tries `predicted_label`, `label`.
    #[serde(default)]
    pub label_key: Option<String>,
}

impl JsonSelectors {
    /// Checks the selectors: each pointer is an RFC 6901 JSON pointer (empty, the whole body, or starting with
    /// `/`, and `~` only in `~0` and `~1`); a key is not empty. A pointer without its leading `/` selects nothing
    /// in any body, so every record would be skipped. Returns the offending field (`features`, `predictions`,
    /// `score_key`, `label_key`) and why.
    ///
    /// # Errors
    ///
    /// The first offending field and why.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        for (field, pointer) in [("features", &self.features), ("predictions", &self.predictions)] {
            let Some(p) = pointer else { continue };
            if !p.is_empty() && !p.starts_with('/') {
                return Err((
                    field,
                    format!("{p:?} is not a JSON pointer: it must be empty or start with \"/\" (\"/{p}\"?)"),
                ));
            }
            let mut escapes = p.match_indices('~').map(|(i, _)| &p[i + 1..]);
            if escapes.any(|rest| !rest.starts_with('0') && !rest.starts_with('1')) {
                return Err((
                    field,
                    format!("{p:?} is not a JSON pointer: \"~\" must be followed by 0 or 1"),
                ));
            }
        }
        for (field, key) in [("score_key", &self.score_key), ("label_key", &self.label_key)] {
            if key.as_deref().is_some_and(str::is_empty) {
                return Err((field, "must not be empty".to_owned()));
            }
        }
        Ok(())
    }
}

/// A model's output for one row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Prediction<'a> {
    /// The probability of the positive class, or the regression output.
    pub score: Option<f64>,
    /// The predicted class.
    pub label: Option<Cow<'a, str>>,
}

/// Splits a CSV body into rows of text fields, appending to `out`.
///
/// # Errors
///
/// [`PayloadError::UnbalancedQuote`] when a quoted field does not end.
pub fn decode_csv(data: &str, out: &mut Rows) -> Result<(), PayloadError> {
    for line in data.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        if memchr::memchr(b'"', line.as_bytes()).is_none() {
            split_plain(line, out);
        } else {
            split_quoted(line, out)?;
        }
        out.end_row();
    }
    Ok(())
}

/// Splits a line without quotes: the line is copied into the arena once and each field is a range of it.
fn split_plain(line: &str, out: &mut Rows) {
    let bytes = line.as_bytes();
    let base = out.text.len();
    out.text.push_str(line);
    let mut start = 0;
    for field in bytes.split(|&b| b == b',') {
        let end = start + field.len();
        let (mut s, mut e) = (start, end);
        while s < e && matches!(bytes[s], b' ' | b'\t') {
            s += 1;
        }
        while e > s && matches!(bytes[e - 1], b' ' | b'\t') {
            e -= 1;
        }
        let f = if s == e {
            Field::Missing
        } else {
            Field::Text {
                start: (base + s) as u32,
                end: (base + e) as u32,
            }
        };
        out.push_field(f, None);
        start = end + 1;
    }
}

fn trim_ascii(s: &str) -> &str {
    s.trim_matches(|c: char| c == ' ' || c == '\t')
}

fn split_quoted(line: &str, out: &mut Rows) -> Result<(), PayloadError> {
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    loop {
        field.clear();
        let mut quoted_field = false;
        // Leading blanks before a quote are tolerated.
        while matches!(chars.peek(), Some(' ') | Some('\t')) {
            chars.next();
        }
        if chars.peek() == Some(&'"') {
            quoted_field = true;
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(PayloadError::UnbalancedQuote),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            // Skip anything between the closing quote and the separator.
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                chars.next();
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                field.push(c);
                chars.next();
            }
        }
        let text = if quoted_field {
            field.as_str()
        } else {
            trim_ascii(&field)
        };
        let f = if text.is_empty() && !quoted_field {
            Field::Missing
        } else {
            out.push_text(text)
        };
        out.push_field(f, None);
        if chars.next().is_none() {
            return Ok(());
        }
    }
}

/// Decodes a JSON request body into rows, appending to `out`.
///
/// # Errors
///
/// [`PayloadError::PointerMissing`] when a configured pointer selects nothing, [`PayloadError::UnknownShape`] when
/// the body is a bare scalar.
pub fn decode_json_input(body: &Json, selectors: &JsonSelectors, out: &mut Rows) -> Result<(), PayloadError> {
    if let Some(pointer) = &selectors.features {
        let selected = body
            .pointer(pointer)
            .ok_or_else(|| PayloadError::PointerMissing(pointer.clone()))?;
        return decode_instances_or_row(selected, out);
    }
    match body {
        Json::Object(map) => {
            if let Some(instances) = map.get("instances").or_else(|| map.get("inputs")) {
                match instances {
                    Json::Array(items) => {
                        for item in items {
                            decode_instance(item, out)?;
                        }
                        Ok(())
                    }
                    other => decode_instance(other, out),
                }
            } else if let Some(features @ Json::Array(_)) = map.get("features") {
                decode_instance(features, out)
            } else {
                decode_instance(body, out)
            }
        }
        Json::Array(_) => decode_instances_or_row(body, out),
        _ => Err(PayloadError::UnknownShape),
    }
}

/// An array of arrays or objects is several rows; an array of scalars is one row.
fn decode_instances_or_row(value: &Json, out: &mut Rows) -> Result<(), PayloadError> {
    match value {
        Json::Array(items) if items.iter().any(|v| v.is_array() || v.is_object()) => {
            for item in items {
                decode_instance(item, out)?;
            }
            Ok(())
        }
        other => decode_instance(other, out),
    }
}

fn decode_instance(value: &Json, out: &mut Rows) -> Result<(), PayloadError> {
    match value {
        Json::Array(items) => {
            for item in items {
                let f = scalar_field(item, out);
                out.push_field(f, None);
            }
        }
        Json::Object(map) => {
            if let Some(Json::Array(items)) = map.get("features") {
                for item in items {
                    let f = scalar_field(item, out);
                    out.push_field(f, None);
                }
            } else {
                out.named = true;
                for (name, item) in map {
                    let f = scalar_field(item, out);
                    out.push_field(f, Some(name));
                }
            }
        }
        scalar => {
            let f = scalar_field(scalar, out);
            out.push_field(f, None);
        }
    }
    out.end_row();
    Ok(())
}

fn scalar_field(value: &Json, out: &mut Rows) -> Field {
    match value {
        Json::Null => Field::Missing,
        Json::Number(n) => n.as_f64().map_or(Field::Missing, Field::Number),
        Json::String(s) if s.is_empty() => Field::Missing,
        Json::String(s) => out.push_text(s),
        Json::Bool(b) => out.push_text(if *b { "true" } else { "false" }),
        // A nested structure inside a feature is kept as its JSON text: it is a string-typed value.
        nested => {
            let text = nested.to_string();
            out.push_text(&text)
        }
    }
}

/// Decodes a CSV response body: one prediction per row, from its first field (a number is a score, text a label);
/// a second numeric field after a label is its score.
pub fn decode_csv_output<'a>(data: &'a str, out: &mut Vec<Prediction<'a>>) {
    out.extend(csv_predictions(data));
}

/// The predictions of a CSV response body, as [`decode_csv_output`] appends them.
pub(crate) fn csv_predictions(data: &str) -> impl Iterator<Item = Prediction<'_>> {
    data.split('\n').filter_map(|line| {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            return None;
        }
        let mut fields = line.split(',').map(|f| f.trim().trim_matches('"'));
        let first = fields.next().unwrap_or("");
        let mut prediction = Prediction::default();
        match first.parse::<f64>() {
            Ok(v) => prediction.score = Some(v),
            Err(_) if !first.is_empty() => {
                prediction.label = Some(Cow::Borrowed(first));
                prediction.score = fields.next().and_then(|s| s.parse().ok());
            }
            Err(_) => {}
        }
        Some(prediction)
    })
}

/// Decodes a JSON response body into predictions, appending to `out`.
///
/// # Errors
///
/// [`PayloadError::PointerMissing`] when a configured pointer selects nothing, [`PayloadError::UnknownShape`] when
/// no score or label can be found.
pub fn decode_json_output(
    body: &Json,
    selectors: &JsonSelectors,
    out: &mut Vec<Prediction<'static>>,
) -> Result<(), PayloadError> {
    let selected = match &selectors.predictions {
        Some(pointer) => body
            .pointer(pointer)
            .ok_or_else(|| PayloadError::PointerMissing(pointer.clone()))?,
        None => match body {
            Json::Object(map) => map.get("predictions").or_else(|| map.get("outputs")).unwrap_or(body),
            other => other,
        },
    };
    match selected {
        Json::Array(items) => {
            for item in items {
                out.push(prediction_of(item, selectors)?);
            }
            Ok(())
        }
        other => {
            out.push(prediction_of(other, selectors)?);
            Ok(())
        }
    }
}

const SCORE_KEYS: [&str; 3] = ["score", "probability", "prediction"];
const LABEL_KEYS: [&str; 2] = ["predicted_label", "label"];

fn prediction_of(value: &Json, selectors: &JsonSelectors) -> Result<Prediction<'static>, PayloadError> {
    match value {
        Json::Number(n) => Ok(Prediction {
            score: n.as_f64(),
            label: None,
        }),
        Json::String(s) => Ok(Prediction {
            score: s.parse().ok(),
            label: Some(Cow::Owned(s.clone())),
        }),
        Json::Null => Ok(Prediction::default()),
        Json::Array(probabilities) => {
            let best = probabilities
                .iter()
                .enumerate()
                .filter_map(|(i, p)| p.as_f64().map(|p| (i, p)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            match best {
                Some((i, p)) => Ok(Prediction {
                    score: Some(p),
                    label: Some(Cow::Owned(i.to_string())),
                }),
                None => Err(PayloadError::UnknownShape),
            }
        }
        Json::Object(map) => {
            let score = match &selectors.score_key {
                Some(k) => map.get(k).and_then(number_of),
                None => SCORE_KEYS.iter().find_map(|k| map.get(*k).and_then(number_of)),
            };
            let label = match &selectors.label_key {
                Some(k) => map.get(k).and_then(label_of),
                None => LABEL_KEYS.iter().find_map(|k| map.get(*k).and_then(label_of)),
            };
            if score.is_none() && label.is_none() {
                return Err(PayloadError::UnknownShape);
            }
            Ok(Prediction { score, label })
        }
        Json::Bool(b) => Ok(Prediction {
            score: None,
            label: Some(Cow::Owned(b.to_string())),
        }),
    }
}

fn number_of(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.parse().ok(),
        Json::Array(a) if a.len() == 1 => number_of(&a[0]),
        _ => None,
    }
}

fn label_of(v: &Json) -> Option<Cow<'static, str>> {
    match v {
        Json::String(s) => Some(Cow::Owned(s.clone())),
        Json::Number(n) => Some(Cow::Owned(format_label_number(n))),
        Json::Bool(b) => Some(Cow::Owned(b.to_string())),
        _ => None,
    }
}

/// Labels `1` and `1.0` are the same class: integral numbers print without a fraction.
fn format_label_number(n: &serde_json::Number) -> String {
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        _ => n.to_string(),
    }
}

/// Maps feature names to positions, for JSON bodies keyed by name.
#[derive(Debug, Clone, Default)]
pub struct NameIndex {
    positions: HashMap<String, usize>,
}

impl NameIndex {
    /// An index over `names`, in order.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            positions: names.into_iter().enumerate().map(|(i, n)| (n.to_owned(), i)).collect(),
        }
    }

    /// The position of `name`.
    pub fn get(&self, name: &str) -> Option<usize> {
        self.positions.get(name).copied()
    }

    /// The number of names.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(rows: &Rows, i: usize) -> Vec<String> {
        rows.row(i)
            .iter()
            .map(|f| match f {
                Field::Missing => "<missing>".to_owned(),
                Field::Number(n) => format!("#{n}"),
                t => rows.text(*t).to_owned(),
            })
            .collect()
    }

    #[test]
    fn csv_single_and_multi_row_with_quotes() {
        let mut rows = Rows::default();
        decode_csv("1,2.5,abc", &mut rows).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(texts(&rows, 0), ["1", "2.5", "abc"]);

        rows.clear();
        decode_csv("1,\"a,b\",\"say \"\"hi\"\"\"\r\n2,,x\n", &mut rows).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(texts(&rows, 0), ["1", "a,b", "say \"hi\""]);
        assert_eq!(texts(&rows, 1), ["2", "<missing>", "x"]);
    }

    #[test]
    fn csv_fields_are_trimmed_of_blanks_and_empty_ones_are_missing() {
        let mut rows = Rows::default();
        decode_csv(" 1 ,\t2\t, ,x y,\r\n\n,", &mut rows).unwrap();
        assert_eq!(texts(&rows, 0), ["1", "2", "<missing>", "x y", "<missing>"]);
        assert_eq!(texts(&rows, 1), ["<missing>", "<missing>"]);
    }

    proptest::proptest! {
        /// Unquoted rows split as `split(',')` and a blank trim would split them, also after earlier rows.
        #[test]
        fn unquoted_csv_splits_like_str_split(first in "[a1 \t,]{0,12}", data in "[a1 .\t,\r\n]{0,60}") {
            let mut rows = Rows::default();
            decode_csv(&first, &mut rows).unwrap();
            let before = rows.len();
            decode_csv(&data, &mut rows).unwrap();
            let expected: Vec<Vec<String>> = data
                .split('\n')
                .map(|l| l.strip_suffix('\r').unwrap_or(l))
                .filter(|l| !l.trim().is_empty())
                .map(|l| {
                    l.split(',')
                        .map(|f| match trim_ascii(f) {
                            "" => "<missing>".to_owned(),
                            t => t.to_owned(),
                        })
                        .collect()
                })
                .collect();
            let got: Vec<Vec<String>> = (before..rows.len()).map(|i| texts(&rows, i)).collect();
            proptest::prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn csv_unbalanced_quote_is_an_error() {
        let mut rows = Rows::default();
        assert_eq!(decode_csv("1,\"abc", &mut rows), Err(PayloadError::UnbalancedQuote));
    }

    #[test]
    fn json_input_shapes() {
        let sel = JsonSelectors::default();
        let mut rows = Rows::default();
        decode_json_input(&serde_json::json!([1, 2.5, "x"]), &sel, &mut rows).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(texts(&rows, 0), ["#1", "#2.5", "x"]);

        rows.clear();
        decode_json_input(&serde_json::json!({"instances": [[1, 2], [3, null]]}), &sel, &mut rows).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(texts(&rows, 1), ["#3", "<missing>"]);

        rows.clear();
        let body = serde_json::json!({"instances": [{"features": [1, 2]}, {"features": [3, 4]}]});
        decode_json_input(&body, &sel, &mut rows).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(texts(&rows, 1), ["#3", "#4"]);

        // TF-serving style: a list of scalars under "instances" is one instance each.
        rows.clear();
        decode_json_input(&serde_json::json!({"instances": [1.0, 2.0, 5.0]}), &sel, &mut rows).unwrap();
        assert_eq!(rows.len(), 3);

        rows.clear();
        decode_json_input(&serde_json::json!({"age": 3, "region": "eu"}), &sel, &mut rows).unwrap();
        assert!(rows.is_named());
        assert_eq!(rows.name(0, 0), Some("age"));
        assert_eq!(rows.name(0, 1), Some("region"));

        rows.clear();
        let sel = JsonSelectors {
            features: Some("/payload/x".into()),
            ..Default::default()
        };
        decode_json_input(&serde_json::json!({"payload": {"x": [[1], [2]]}}), &sel, &mut rows).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            decode_json_input(&serde_json::json!({}), &sel, &mut rows),
            Err(PayloadError::PointerMissing("/payload/x".into()))
        );
    }

    #[test]
    fn json_output_shapes() {
        let sel = JsonSelectors::default();
        let mut out = Vec::new();
        decode_json_output(&serde_json::json!(0.7), &sel, &mut out).unwrap();
        decode_json_output(&serde_json::json!({"predictions": [3.5, 4.0]}), &sel, &mut out).unwrap();
        let body = serde_json::json!({"predictions": [{"score": 0.9, "predicted_label": 1}]});
        decode_json_output(&body, &sel, &mut out).unwrap();
        decode_json_output(&serde_json::json!([[0.1, 0.7, 0.2]]), &sel, &mut out).unwrap();
        let scores: Vec<_> = out.iter().map(|p| p.score).collect();
        assert_eq!(scores, [Some(0.7), Some(3.5), Some(4.0), Some(0.9), Some(0.7)]);
        assert_eq!(out[3].label.as_deref(), Some("1"));
        assert_eq!(out[4].label.as_deref(), Some("1"));
        assert_eq!(
            decode_json_output(&serde_json::json!({"x": 1}), &sel, &mut Vec::new()),
            Err(PayloadError::UnknownShape)
        );
    }

    #[test]
    fn csv_output_scores_and_labels() {
        let mut out = Vec::new();
        decode_csv_output("0.25\n0.75\n", &mut out);
        decode_csv_output("cat,0.9", &mut out);
        assert_eq!(out[0].score, Some(0.25));
        assert_eq!(out[1].score, Some(0.75));
        assert_eq!(out[2].label.as_deref(), Some("cat"));
        assert_eq!(out[2].score, Some(0.9));
    }
}
