//! The row and schema types of a capture stream: what the reader hands out and what it expects.
//!
//! A leaf: nothing here imports the reader or the profiles, so both can import it without a cycle. [`InferredType`]
//! lives here because the schema names it; the profiles re-export it.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::payload::{Field, Prediction, Rows};

/// A column's type, as Model Monitor infers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InferredType {
    Integral,
    Fractional,
    String,
    Unknown,
}

impl InferredType {
    /// Whether values of this type are numbers.
    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Integral | Self::Fractional)
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
    pub(super) rows: &'a Rows,
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

/// What one file held (for a file that failed part-way, what it held before the failure).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSummary {
    /// Lines read, blank lines not counted.
    pub lines: u64,
    /// Records among those lines: capture records (those skipped whole for a bad body counted too), or for ground
    /// truth the labels read.
    pub records: u64,
    /// Rows handed on: capture rows profiled (a multi-row request gives several), or labels.
    pub rows: u64,
}
