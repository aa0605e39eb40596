//! Profiling a training data set (CSV or Parquet) into a baseline, in one streaming pass.
//!
//! Values are typed as the capture reader types a window's values ([`classify`]: Model Monitor's rules), value by
//! value, and a column's type is settled at the end from all of them: String if any value is not a number, else
//! Fractional if any has a fraction, else Integral. So a `1.5` late in an integer column makes the baseline
//! Fractional exactly as it makes the window Fractional (a reader that infers from the first rows, as polars and
//! pandas do, would not agree with the captures). Parquet's numbers keep their declared kind (integers Integral,
//! floating point Fractional, non-finite floats missing); its strings, booleans, dates and nested values are typed
//! by their text, as they would be in a capture. A headerless CSV's columns are named `_c0`, `_c1`, ... as Model
//! Monitor names them; a `.csv.gz` is read through gzip.
//!
//! Memory does not grow with the data set: CSV is read record by record, Parquet a batch of rows at a time (column
//! readers for flat files of plain numbers, booleans and strings, which is what training data holds; the row reader
//! for any other, such as dates, decimals or nested columns), and the profiles are sketches ([`crate::profile`]). [`profile_and_label`] keeps the labelled rows it
//! returns, read in the same pass.

use std::borrow::Cow;
use std::fs::File;
use std::path::Path;

use parquet::basic::{ConvertedType, LogicalType, Type as PhysicalType};
use parquet::column::reader::ColumnReader;
use parquet::data_type::ByteArray;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field as ParquetField;
use parquet::schema::types::ColumnDescriptor;

use crate::capture::FeatureSpec;
use crate::capture::{InferredType, Value, classify, open_decompressed};
use crate::profile::{DatasetProfile, FeatureProfile, PREDICTION_SCORE, Tracking, number_text, profile_score};

/// How to read a data set.
#[derive(Debug, Clone, Default)]
pub struct DatasetOptions {
    /// Whether the first CSV line is a header (ignored for Parquet).
    pub has_header: bool,
    /// A column to leave out of the features (the label).
    pub label_column: Option<String>,
    /// A column holding the model's score on this data (profiled as the prediction baseline).
    pub prediction_column: Option<String>,
    /// More columns to leave out of the features (ids, timestamps, anything that is not a model input).
    pub exclude_columns: Vec<String>,
}

/// The data set could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("opening {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("reading {path} as CSV")]
    Csv {
        path: String,
        #[source]
        source: csv::Error,
    },
    #[error("reading {path} as Parquet")]
    Parquet {
        path: String,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("{path}, line {line}: {found} fields where the header has {expected}")]
    Width {
        path: String,
        line: u64,
        found: usize,
        expected: usize,
    },
    #[error("{path} names column {column:?} twice")]
    DuplicateColumn { path: String, column: String },
    #[error("{path} has no column {column:?} (columns: {columns})")]
    NoColumn {
        path: String,
        column: String,
        columns: String,
    },
    #[error("{path} has no column for the baseline's features {features} (columns: {columns})")]
    MissingFeatures {
        path: String,
        features: String,
        columns: String,
    },
}

impl DatasetError {
    /// Whether the file could not be read from its storage (worth retrying), rather than being bad input.
    pub fn is_storage(&self) -> bool {
        match self {
            Self::Io { .. } => true,
            Self::Csv { source, .. } => matches!(source.kind(), csv::ErrorKind::Io(_)),
            Self::Parquet { .. }
            | Self::Width { .. }
            | Self::DuplicateColumn { .. }
            | Self::NoColumn { .. }
            | Self::MissingFeatures { .. } => false,
        }
    }
}

/// One value of a data set's row, typed as the capture reader types it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cell<'a> {
    Missing,
    /// A number; `written` is its text when the file is text (CSV).
    Number {
        value: f64,
        integral: bool,
        written: Option<&'a str>,
    },
    Text(&'a str),
}

impl<'a> Cell<'a> {
    /// A value of a text file: blanks around it trimmed as the capture reader trims them, empty as missing.
    fn of_text(text: &'a str) -> Self {
        let text = text.trim_matches(|c| c == ' ' || c == '\t');
        if text.is_empty() {
            return Cell::Missing;
        }
        match classify(text) {
            Some(Value::Number { value, integral }) => Cell::Number {
                value,
                integral,
                written: Some(text),
            },
            _ => Cell::Text(text),
        }
    }

    fn add_to(self, profile: &mut FeatureProfile) {
        match self {
            Cell::Missing => profile.add_missing(),
            Cell::Number { value, integral, .. } => profile.add_number(value, integral),
            Cell::Text(text) => profile.add_string(text),
        }
    }

    /// The value as a label: its text as written, a Parquet number as a category's text; `None` when missing.
    fn label(self) -> Option<Cow<'a, str>> {
        match self {
            Cell::Missing => None,
            Cell::Number {
                written: Some(text), ..
            }
            | Cell::Text(text) => Some(Cow::Borrowed(text)),
            Cell::Number { value, .. } => Some(Cow::Owned(number_text(value))),
        }
    }

    fn number(self) -> Option<f64> {
        match self {
            Cell::Number { value, .. } => Some(value),
            _ => None,
        }
    }
}

/// What receives a data set's rows, one cell at a time.
trait RowSink {
    /// The column names, before any row.
    fn columns(&mut self, path: &str, names: &[String]) -> Result<(), DatasetError>;
    fn cell(&mut self, column: usize, cell: Cell<'_>);
    fn end_row(&mut self);
}

/// Reads a data set (`.parquet`, or CSV otherwise) and profiles every column but the label.
///
/// One pass when every column's values are all numbers or start with text, which is what training data holds; a
/// column of numbers with text later (an `N/A`) is a String column whose categories must count the numbers seen
/// before the text too, so the file is then read a second time with every column's type known.
///
/// # Errors
///
/// [`DatasetError`] naming the file when it cannot be opened or parsed, or when a named column is absent.
pub fn profile_dataset(path: &Path, options: &DatasetOptions) -> Result<DatasetProfile, DatasetError> {
    read_dataset(path, options, None).map(|(profile, _)| profile)
}

/// [`profile_dataset`], and in the same pass the label, score and predicted label of every row of a labelled
/// validation set that has a label, for the model-quality baseline. The columns are named as in [`DatasetOptions`]
/// (`prediction_column` is the score).
///
/// # Errors
///
/// As [`profile_dataset`], and when the label or predicted-label column is absent.
pub fn profile_and_label(
    path: &Path,
    options: &DatasetOptions,
    predicted_label_column: Option<&str>,
) -> Result<(DatasetProfile, Vec<LabelledRow>), DatasetError> {
    let labels = LabelSink {
        wanted: [
            Some(options.label_column.as_deref().unwrap_or("label")),
            options.prediction_column.as_deref(),
            predicted_label_column,
        ],
        columns: [None; 3],
        row: (None, None, None),
        rows: Vec::new(),
    };
    let (profile, labels) = read_dataset(path, options, Some(labels))?;
    Ok((profile, labels.map(|l| l.rows).unwrap_or_default()))
}

fn read_dataset<'o>(
    path: &Path,
    options: &'o DatasetOptions,
    labels: Option<LabelSink<'o>>,
) -> Result<(DatasetProfile, Option<LabelSink<'o>>), DatasetError> {
    let mut pass = Pass {
        profile: ProfileSink::new(options, None),
        labels,
    };
    read_rows(path, options.has_header, &mut pass)?;
    let Pass {
        profile: mut sink,
        labels,
    } = pass;
    if sink.reread {
        let types = sink
            .profile
            .features
            .iter()
            .map(FeatureProfile::inferred_type)
            .collect();
        let score = sink.profile.prediction_score.inferred_type();
        sink = ProfileSink::new(options, Some((types, score)));
        read_rows(path, options.has_header, &mut sink)?;
    }
    let mut profile = sink.profile;
    for feature in &mut profile.features {
        feature.settle();
    }
    profile.prediction_score.settle();
    Ok((profile, labels))
}

/// One reading of the file for both the profile and the labelled rows.
struct Pass<'o> {
    profile: ProfileSink<'o>,
    labels: Option<LabelSink<'o>>,
}

impl RowSink for Pass<'_> {
    fn columns(&mut self, path: &str, names: &[String]) -> Result<(), DatasetError> {
        self.profile.columns(path, names)?;
        self.labels.as_mut().map_or(Ok(()), |l| l.columns(path, names))
    }

    fn cell(&mut self, column: usize, cell: Cell<'_>) {
        self.profile.cell(column, cell);
        if let Some(labels) = &mut self.labels {
            labels.cell(column, cell);
        }
    }

    fn end_row(&mut self) {
        self.profile.end_row();
        if let Some(labels) = &mut self.labels {
            labels.end_row();
        }
    }
}

/// Where a column's values go.
#[derive(Debug, Clone, Copy)]
enum Target {
    Skip,
    Feature(usize),
    Score,
}

struct ProfileSink<'o> {
    options: &'o DatasetOptions,
    /// The features' and the score's types, when a first pass has settled them.
    types: Option<(Vec<InferredType>, InferredType)>,
    profile: DatasetProfile,
    targets: Vec<Target>,
    /// Whether a column of numbers met text, so that its numbers' categories were not counted.
    reread: bool,
}

impl<'o> ProfileSink<'o> {
    fn new(options: &'o DatasetOptions, types: Option<(Vec<InferredType>, InferredType)>) -> Self {
        Self {
            options,
            types,
            profile: DatasetProfile::new(std::iter::empty()),
            targets: Vec::new(),
            reread: false,
        }
    }

    /// A column's profile: of its known type, or numeric until it meets text (counting categories of every
    /// number would cost more than the rest of the profile, and numeric columns are the common case).
    fn column(name: &str, known: Option<InferredType>) -> FeatureProfile {
        let tracking = known.map_or(Tracking::Numeric, |kind| Tracking::for_type(Some(kind)));
        FeatureProfile::new(name, tracking)
    }

    fn add(profile: &mut FeatureProfile, cell: Cell<'_>, reread: &mut bool) {
        if let Cell::Text(_) = cell
            && profile.tracking == Tracking::Numeric
            && profile.string == 0
        {
            if profile.integral + profile.fractional == 0 {
                // Text first: a categorical column, tracked as both until its end settles it.
                let missing = profile.missing;
                *profile = FeatureProfile::new(std::mem::take(&mut profile.name), Tracking::Both);
                profile.missing = missing;
            } else {
                *reread = true;
            }
        }
        cell.add_to(profile);
    }
}

impl RowSink for ProfileSink<'_> {
    fn columns(&mut self, path: &str, names: &[String]) -> Result<(), DatasetError> {
        let options = self.options;
        for wanted in options
            .label_column
            .iter()
            .chain(&options.prediction_column)
            .chain(&options.exclude_columns)
        {
            column_index(path, names, wanted)?;
        }
        for name in names {
            let target =
                if options.label_column.as_deref() == Some(name.as_str()) || options.exclude_columns.contains(name) {
                    Target::Skip
                } else if options.prediction_column.as_deref() == Some(name.as_str()) {
                    let known = self.types.as_ref().map(|(_, score)| *score);
                    self.profile.prediction_score = Self::column(PREDICTION_SCORE, known);
                    Target::Score
                } else {
                    let i = self.profile.features.len();
                    let known = self.types.as_ref().map(|(features, _)| features[i]);
                    let feature = Self::column(name, known);
                    self.profile.features.push(feature);
                    Target::Feature(i)
                };
            self.targets.push(target);
        }
        Ok(())
    }

    fn cell(&mut self, column: usize, cell: Cell<'_>) {
        let profile = match self.targets[column] {
            Target::Skip => return,
            Target::Feature(i) => &mut self.profile.features[i],
            Target::Score => &mut self.profile.prediction_score,
        };
        Self::add(profile, cell, &mut self.reread);
    }

    fn end_row(&mut self) {
        self.profile.item_count += 1;
    }
}

/// Profiles a data set as a window of the baseline's `features` (a day's feature table, a batch scoring output):
/// each feature from the column of its name, its values typed as a window's captured values are and profiled for
/// the baseline's kind; the label, the excluded columns and the columns the baseline does not know are left out
/// (the last are returned, to report); the prediction column, when named, as the window's predictions (a number is
/// a score, a text a predicted label). Read once, in memory that does not grow with the file.
///
/// # Errors
///
/// As [`profile_dataset`], and [`DatasetError::MissingFeatures`] when a feature of the baseline has no column.
pub fn profile_as_window(
    path: &Path,
    options: &DatasetOptions,
    features: &[FeatureSpec],
) -> Result<(DatasetProfile, Vec<String>), DatasetError> {
    let mut sink = WindowSink {
        options,
        features,
        profile: DatasetProfile::new(features.iter().map(|f| (f.name.clone(), f.kind))),
        targets: Vec::new(),
        unknown: Vec::new(),
    };
    read_rows(path, options.has_header, &mut sink)?;
    Ok((sink.profile, sink.unknown))
}

struct WindowSink<'o> {
    options: &'o DatasetOptions,
    features: &'o [FeatureSpec],
    profile: DatasetProfile,
    targets: Vec<Target>,
    unknown: Vec<String>,
}

impl RowSink for WindowSink<'_> {
    fn columns(&mut self, path: &str, names: &[String]) -> Result<(), DatasetError> {
        let options = self.options;
        for wanted in options
            .label_column
            .iter()
            .chain(&options.prediction_column)
            .chain(&options.exclude_columns)
        {
            column_index(path, names, wanted)?;
        }
        let absent: Vec<&str> = self
            .features
            .iter()
            .map(|f| f.name.as_str())
            .filter(|f| !names.iter().any(|n| n == f))
            .collect();
        if !absent.is_empty() {
            return Err(DatasetError::MissingFeatures {
                path: path.to_owned(),
                features: absent.join(", "),
                columns: names.join(", "),
            });
        }
        for name in names {
            let target = if options.label_column.as_ref() == Some(name) || options.exclude_columns.contains(name) {
                Target::Skip
            } else if options.prediction_column.as_ref() == Some(name) {
                Target::Score
            } else if let Some(i) = self.features.iter().position(|f| &f.name == name) {
                Target::Feature(i)
            } else {
                self.unknown.push(name.clone());
                Target::Skip
            };
            self.targets.push(target);
        }
        Ok(())
    }

    fn cell(&mut self, column: usize, cell: Cell<'_>) {
        match self.targets[column] {
            Target::Skip => {}
            Target::Feature(i) => cell.add_to(&mut self.profile.features[i]),
            Target::Score => {
                let (score, label) = (&mut self.profile.prediction_score, &mut self.profile.prediction_label);
                match cell {
                    Cell::Number { value, .. } => {
                        profile_score(score, value);
                        label.add_missing();
                    }
                    Cell::Text(text) => {
                        score.add_missing();
                        label.add_string(text);
                    }
                    Cell::Missing => {
                        score.add_missing();
                        label.add_missing();
                    }
                }
            }
        }
    }

    fn end_row(&mut self) {
        self.profile.item_count += 1;
    }
}

/// One row of a validation set: the true label, the model's score, the model's predicted label.
pub type LabelledRow = (String, Option<f64>, Option<String>);

struct LabelSink<'w> {
    /// The label, score and predicted-label columns' names.
    wanted: [Option<&'w str>; 3],
    /// Their indices.
    columns: [Option<usize>; 3],
    row: (Option<String>, Option<f64>, Option<String>),
    rows: Vec<LabelledRow>,
}

impl RowSink for LabelSink<'_> {
    fn columns(&mut self, path: &str, names: &[String]) -> Result<(), DatasetError> {
        for (slot, wanted) in self.columns.iter_mut().zip(self.wanted) {
            if let Some(name) = wanted {
                *slot = Some(column_index(path, names, name)?);
            }
        }
        Ok(())
    }

    fn cell(&mut self, column: usize, cell: Cell<'_>) {
        let is = |slot: usize| self.columns[slot] == Some(column);
        if is(0) {
            self.row.0 = cell.label().map(Cow::into_owned);
        }
        if is(1) {
            self.row.1 = cell.number();
        }
        if is(2) {
            self.row.2 = cell.label().map(Cow::into_owned);
        }
    }

    fn end_row(&mut self) {
        let (label, score, predicted) = std::mem::take(&mut self.row);
        if let Some(label) = label {
            self.rows.push((label, score, predicted));
        }
    }
}

fn column_index(path: &str, names: &[String], wanted: &str) -> Result<usize, DatasetError> {
    names
        .iter()
        .position(|n| n == wanted)
        .ok_or_else(|| DatasetError::NoColumn {
            path: path.to_owned(),
            column: wanted.to_owned(),
            columns: names.join(", "),
        })
}

fn read_rows(path: &Path, has_header: bool, sink: &mut dyn RowSink) -> Result<(), DatasetError> {
    let display = path.display().to_string();
    let file = File::open(path).map_err(|source| DatasetError::Io {
        path: display.clone(),
        source,
    })?;
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet")) {
        read_parquet(&display, file, sink)
    } else {
        read_csv(&display, file, has_header, sink)
    }
}

fn read_csv(path: &str, file: File, has_header: bool, sink: &mut dyn RowSink) -> Result<(), DatasetError> {
    let csv_err = |source| DatasetError::Csv {
        path: path.to_owned(),
        source,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(open_decompressed(path, file));
    let mut record = csv::ByteRecord::new();
    let mut width = None;
    while reader.read_byte_record(&mut record).map_err(csv_err)? {
        let expected = match width {
            Some(w) => w,
            None => {
                let names: Vec<String> = if has_header {
                    record
                        .iter()
                        .map(|f| String::from_utf8_lossy(f).trim_matches([' ', '\t']).to_owned())
                        .collect()
                } else {
                    (0..record.len()).map(|i| format!("_c{i}")).collect()
                };
                if let Some(column) = duplicate(&names) {
                    return Err(DatasetError::DuplicateColumn {
                        path: path.to_owned(),
                        column: column.to_owned(),
                    });
                }
                sink.columns(path, &names)?;
                width = Some(names.len());
                if has_header {
                    continue;
                }
                names.len()
            }
        };
        if record.len() != expected {
            return Err(DatasetError::Width {
                path: path.to_owned(),
                line: record.position().map_or(0, csv::Position::line),
                found: record.len(),
                expected,
            });
        }
        for (i, field) in record.iter().enumerate() {
            let text = String::from_utf8_lossy(field);
            sink.cell(i, Cell::of_text(&text));
        }
        sink.end_row();
    }
    if width.is_none() {
        sink.columns(path, &[])?;
    }
    Ok(())
}

fn duplicate(names: &[String]) -> Option<&str> {
    let mut seen = std::collections::HashSet::new();
    names.iter().find(|n| !seen.insert(n.as_str())).map(String::as_str)
}

fn read_parquet(path: &str, file: File, sink: &mut dyn RowSink) -> Result<(), DatasetError> {
    let parquet_err = |source| DatasetError::Parquet {
        path: path.to_owned(),
        source,
    };
    let reader = SerializedFileReader::new(file).map_err(parquet_err)?;
    let names: Vec<String> = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .root_schema()
        .get_fields()
        .iter()
        .map(|f| f.name().to_owned())
        .collect();
    sink.columns(path, &names)?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let flat: Option<Vec<FlatColumn>> = (schema.num_columns() == names.len())
        .then(|| schema.columns().iter().map(|c| FlatColumn::new(c)).collect())
        .flatten();
    match flat {
        Some(mut columns) => read_parquet_columns(&reader, &mut columns, sink),
        None => read_parquet_rows(&reader, sink),
    }
    .map_err(parquet_err)
}

/// Reads a Parquet file through its row reader (any schema), typing values with [`parquet_cell`].
fn read_parquet_rows(reader: &SerializedFileReader<File>, sink: &mut dyn RowSink) -> parquet::errors::Result<()> {
    let mut text = String::new();
    for row in reader.get_row_iter(None)? {
        let row = row?;
        for (i, (_, field)) in row.get_column_iter().enumerate() {
            sink.cell(i, parquet_cell(field, &mut text));
        }
        sink.end_row();
    }
    Ok(())
}

/// Rows read at a time from each column of a flat Parquet file.
const PARQUET_BATCH_ROWS: usize = 4096;

/// A column of a flat Parquet file read by its column reader: its values of the current batch, typed as
/// [`parquet_cell`] types the row reader's values.
struct FlatColumn {
    /// Above 0 when the column is optional: a row whose level is below it is null.
    max_def_level: i16,
    levels: Vec<i16>,
    values: FlatValues,
    /// Unsigned integers (only their physical type is signed).
    unsigned: bool,
    next_level: usize,
    next_value: usize,
}

enum FlatValues {
    Bool(Vec<bool>),
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Float(Vec<f32>),
    Double(Vec<f64>),
    Utf8(Vec<ByteArray>),
}

impl FlatColumn {
    /// The reader of a top-level, non-repeated column of plain integers, floating point numbers, booleans or UTF-8
    /// strings; `None` for any other (dates, decimals, timestamps, binary, nested), which the row reader types.
    fn new(c: &ColumnDescriptor) -> Option<FlatColumn> {
        if c.max_rep_level() > 0 || c.path().parts().len() != 1 {
            return None;
        }
        let integer = |converted: ConvertedType| match (c.logical_type_ref(), converted) {
            (Some(LogicalType::Integer { is_signed, .. }), _) => Some(!is_signed),
            (None, ConvertedType::NONE | ConvertedType::INT_8 | ConvertedType::INT_16) => Some(false),
            (None, ConvertedType::INT_32 | ConvertedType::INT_64) => Some(false),
            (None, ConvertedType::UINT_8 | ConvertedType::UINT_16) => Some(true),
            (None, ConvertedType::UINT_32 | ConvertedType::UINT_64) => Some(true),
            _ => None,
        };
        let plain = c.logical_type_ref().is_none() && c.converted_type() == ConvertedType::NONE;
        let (values, unsigned) = match c.physical_type() {
            PhysicalType::BOOLEAN if plain => (FlatValues::Bool(Vec::new()), false),
            PhysicalType::INT32 => (FlatValues::Int32(Vec::new()), integer(c.converted_type())?),
            PhysicalType::INT64 => (FlatValues::Int64(Vec::new()), integer(c.converted_type())?),
            PhysicalType::FLOAT if plain => (FlatValues::Float(Vec::new()), false),
            PhysicalType::DOUBLE if plain => (FlatValues::Double(Vec::new()), false),
            PhysicalType::BYTE_ARRAY
                if matches!(c.logical_type_ref(), Some(LogicalType::String))
                    || (c.logical_type_ref().is_none() && c.converted_type() == ConvertedType::UTF8) =>
            {
                (FlatValues::Utf8(Vec::new()), false)
            }
            _ => return None,
        };
        Some(FlatColumn {
            max_def_level: c.max_def_level(),
            levels: Vec::new(),
            values,
            unsigned,
            next_level: 0,
            next_value: 0,
        })
    }

    /// Reads the next `rows` rows of the column.
    fn read(&mut self, reader: &mut ColumnReader, rows: usize) -> parquet::errors::Result<()> {
        self.levels.clear();
        (self.next_level, self.next_value) = (0, 0);
        let levels = (self.max_def_level > 0).then_some(&mut self.levels);
        let read = match (reader, &mut self.values) {
            (ColumnReader::BoolColumnReader(r), FlatValues::Bool(v)) => {
                v.clear();
                r.read_records(rows, levels, None, v)?.0
            }
            (ColumnReader::Int32ColumnReader(r), FlatValues::Int32(v)) => {
                v.clear();
                r.read_records(rows, levels, None, v)?.0
            }
            (ColumnReader::Int64ColumnReader(r), FlatValues::Int64(v)) => {
                v.clear();
                r.read_records(rows, levels, None, v)?.0
            }
            (ColumnReader::FloatColumnReader(r), FlatValues::Float(v)) => {
                v.clear();
                r.read_records(rows, levels, None, v)?.0
            }
            (ColumnReader::DoubleColumnReader(r), FlatValues::Double(v)) => {
                v.clear();
                r.read_records(rows, levels, None, v)?.0
            }
            (ColumnReader::ByteArrayColumnReader(r), FlatValues::Utf8(v)) => {
                v.clear();
                r.read_records(rows, levels, None, v)?.0
            }
            _ => {
                return Err(parquet::errors::ParquetError::General(
                    "column reader of another type".into(),
                ));
            }
        };
        if read == rows {
            Ok(())
        } else {
            Err(parquet::errors::ParquetError::General(format!(
                "a column chunk ended after {read} of the row group's {rows} rows"
            )))
        }
    }

    /// The next row's value.
    fn cell(&mut self) -> parquet::errors::Result<Cell<'_>> {
        if self.max_def_level > 0 {
            let level = self.levels[self.next_level];
            self.next_level += 1;
            if level < self.max_def_level {
                return Ok(Cell::Missing);
            }
        }
        let i = self.next_value;
        self.next_value += 1;
        let integer = |value: f64| Cell::Number {
            value,
            integral: true,
            written: None,
        };
        let float = |value: f64| {
            if value.is_finite() {
                Cell::Number {
                    value,
                    integral: false,
                    written: None,
                }
            } else {
                Cell::Missing
            }
        };
        Ok(match &self.values {
            FlatValues::Bool(v) => Cell::Text(if v[i] { "true" } else { "false" }),
            FlatValues::Int32(v) if self.unsigned => integer(f64::from(v[i] as u32)),
            FlatValues::Int32(v) => integer(f64::from(v[i])),
            FlatValues::Int64(v) if self.unsigned => integer(v[i] as u64 as f64),
            FlatValues::Int64(v) => integer(v[i] as f64),
            FlatValues::Float(v) => float(f64::from(v[i])),
            FlatValues::Double(v) => float(v[i]),
            FlatValues::Utf8(v) => Cell::of_text(v[i].as_utf8()?),
        })
    }
}

/// Reads a flat Parquet file row group by row group, [`PARQUET_BATCH_ROWS`] rows at a time from each column.
fn read_parquet_columns(
    reader: &SerializedFileReader<File>,
    columns: &mut [FlatColumn],
    sink: &mut dyn RowSink,
) -> parquet::errors::Result<()> {
    for g in 0..reader.num_row_groups() {
        let group = reader.get_row_group(g)?;
        let rows = usize::try_from(group.metadata().num_rows())
            .map_err(|_| parquet::errors::ParquetError::General("a negative row count".into()))?;
        let mut readers = (0..columns.len())
            .map(|i| group.get_column_reader(i))
            .collect::<parquet::errors::Result<Vec<_>>>()?;
        let mut done = 0;
        while done < rows {
            let n = PARQUET_BATCH_ROWS.min(rows - done);
            for (column, reader) in columns.iter_mut().zip(&mut readers) {
                column.read(reader, n)?;
            }
            for _ in 0..n {
                for (i, column) in columns.iter_mut().enumerate() {
                    sink.cell(i, column.cell()?);
                }
                sink.end_row();
            }
            done += n;
        }
    }
    Ok(())
}

/// A Parquet value as a cell: numbers by their declared kind, everything else by its text.
fn parquet_cell<'a>(field: &'a ParquetField, text: &'a mut String) -> Cell<'a> {
    use std::fmt::Write;
    let integer = |value: f64| Cell::Number {
        value,
        integral: true,
        written: None,
    };
    let float = |value: f64| {
        if value.is_finite() {
            Cell::Number {
                value,
                integral: false,
                written: None,
            }
        } else {
            Cell::Missing
        }
    };
    match field {
        ParquetField::Null => Cell::Missing,
        ParquetField::Byte(v) => integer(f64::from(*v)),
        ParquetField::Short(v) => integer(f64::from(*v)),
        ParquetField::Int(v) => integer(f64::from(*v)),
        ParquetField::Long(v) => integer(*v as f64),
        ParquetField::UByte(v) => integer(f64::from(*v)),
        ParquetField::UShort(v) => integer(f64::from(*v)),
        ParquetField::UInt(v) => integer(f64::from(*v)),
        ParquetField::ULong(v) => integer(*v as f64),
        ParquetField::Float16(v) => float(f64::from(*v)),
        ParquetField::Float(v) => float(f64::from(*v)),
        ParquetField::Double(v) => float(*v),
        ParquetField::Str(s) => Cell::of_text(s),
        ParquetField::Bool(b) => Cell::Text(if *b { "true" } else { "false" }),
        other => {
            text.clear();
            let _ = write!(text, "{other}");
            Cell::of_text(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::Baseline;

    #[test]
    fn csv_with_header_label_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train.csv");
        std::fs::write(&path, "label,a,b,c\n1,3,0.5,x\n0,4,1.5,y\n1,,2.5,x\n").unwrap();
        let options = DatasetOptions {
            has_header: true,
            label_column: Some("label".into()),
            ..Default::default()
        };
        let profile = profile_dataset(&path, &options).unwrap();
        let names: Vec<&str> = profile.features.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(profile.item_count, 3);
        assert_eq!(profile.features[0].inferred_type(), InferredType::Integral);
        assert_eq!(profile.features[0].missing, 1);
        assert_eq!(profile.features[1].inferred_type(), InferredType::Fractional);
        assert_eq!(profile.features[2].inferred_type(), InferredType::String);
        let baseline = Baseline::from_profile(&profile);
        assert_eq!(
            baseline.statistics.features[1]
                .numerical_statistics
                .as_ref()
                .unwrap()
                .std_dev,
            (2.0f64 / 3.0).sqrt()
        );
    }

    #[test]
    fn headerless_columns_are_named_like_model_monitor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train.csv");
        std::fs::write(&path, "1,2\n3,4\n").unwrap();
        let profile = profile_dataset(&path, &DatasetOptions::default()).unwrap();
        assert_eq!(profile.features[1].name, "_c1");
        let missing = DatasetOptions {
            label_column: Some("nope".into()),
            ..Default::default()
        };
        assert!(matches!(
            profile_dataset(&path, &missing),
            Err(DatasetError::NoColumn { .. })
        ));
    }

    fn write(dir: &tempfile::TempDir, name: &str, content: &[u8]) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    /// The inferred types of `csv`'s columns when the same rows arrive as captures (CSV request bodies).
    fn capture_types(csv: &str) -> Vec<InferredType> {
        use crate::capture::{CaptureReader, CaptureRow, ReaderConfig, Schema};
        let lines: String = csv
            .lines()
            .enumerate()
            .map(|(i, row)| {
                let body = |data: &str| {
                    serde_json::json!({"observedContentType": "text/csv", "mode": "INPUT", "data": data,
                                       "encoding": "CSV"})
                };
                serde_json::json!({"captureData": {"endpointInput": body(row), "endpointOutput": body("0.5")},
                                   "eventMetadata": {"eventId": format!("e{i}"),
                                                     "inferenceTime": "2024-01-19T19:27:57Z"},
                                   "eventVersion": "0"})
                .to_string()
                    + "\n"
            })
            .collect();
        let mut reader = CaptureReader::new(ReaderConfig::default(), Schema::default());
        let mut profile = DatasetProfile::new(std::iter::empty());
        let mut sink = |row: &CaptureRow<'_>| profile.add_row(row);
        reader.read("captures.jsonl", lines.as_bytes(), &mut sink).unwrap();
        profile.features.iter().map(FeatureProfile::inferred_type).collect()
    }

    #[test]
    fn types_are_inferred_from_every_value_as_the_capture_reader_infers_them() {
        // Column a: integers, then a `1.5` after 20,000 rows (beyond any first-rows inference); b: integers only;
        // c: numbers, then a word; d: words Rust would parse as numbers; e: blanks around integers, and gaps.
        let mut csv = String::new();
        for i in 0..20_000 {
            csv += &format!("{i},{},{}.5,1e3,  {} \n", i % 7, i % 3, i % 5);
        }
        csv += "1.5,3,abc,NaN,\n";
        csv += "2,4,5,inf,  \n";
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "late.csv", csv.as_bytes());
        let profile = profile_dataset(&path, &DatasetOptions::default()).unwrap();
        let types: Vec<InferredType> = profile.features.iter().map(FeatureProfile::inferred_type).collect();
        use InferredType::{Fractional, Integral, String as Text};
        assert_eq!(types, [Fractional, Integral, Text, Text, Integral]);
        assert_eq!(types, capture_types(&csv));
        assert_eq!(profile.item_count, 20_002);
        assert_eq!(profile.features[4].missing, 2);
        // Settled: numeric columns keep no categories, string columns no sketch.
        assert!(profile.features[0].categories.is_none() && profile.features[0].sketch.is_some());
        // Column c met text after 20,000 numbers: read again as a String column, its numbers counted as categories.
        let c = profile.features[2].categories.as_ref().unwrap();
        assert!(profile.features[2].sketch.is_none());
        assert_eq!(
            (c.count("0.5"), c.count("abc"), c.count("5"), c.total()),
            (6667, 1, 1, 20_002)
        );
        assert_eq!(profile.features[2].missing + profile.features[2].present(), 20_002);
    }

    #[test]
    fn gzip_bom_quotes_and_bad_rows() {
        use std::io::Write as _;
        let dir = tempfile::tempdir().unwrap();
        let text = "\u{feff}label,a,note\n1,3,\"x, with comma\"\n0,4,\"two\nlines\"\n";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        let path = write(&dir, "train.csv.gz", &gz.finish().unwrap());
        let options = DatasetOptions {
            has_header: true,
            label_column: Some("label".into()),
            ..Default::default()
        };
        let profile = profile_dataset(&path, &options).unwrap();
        assert_eq!(profile.item_count, 2);
        let names: Vec<&str> = profile.features.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a", "note"]);
        assert_eq!(profile.features[1].categories.as_ref().unwrap().distinct(), 2);
        let (_, rows) = profile_and_label(&path, &options, Some("a")).unwrap();
        assert_eq!(
            rows,
            [
                ("1".into(), None, Some("3".into())),
                ("0".into(), None, Some("4".into()))
            ]
        );

        let short = write(&dir, "short.csv", b"a,b\n1,2\n3\n");
        let err = profile_dataset(&short, &options_with_header()).unwrap_err();
        assert!(
            matches!(
                err,
                DatasetError::Width {
                    line: 3,
                    found: 1,
                    expected: 2,
                    ..
                }
            ),
            "{err}"
        );
        let twice = write(&dir, "twice.csv", b"a,b,a\n1,2,3\n");
        let err = profile_dataset(&twice, &options_with_header()).unwrap_err();
        assert!(
            matches!(err, DatasetError::DuplicateColumn { ref column, .. } if column == "a"),
            "{err}"
        );
        let err = profile_dataset(&dir.path().join("absent.csv"), &options_with_header()).unwrap_err();
        assert!(matches!(err, DatasetError::Io { .. }), "{err}");
    }

    fn options_with_header() -> DatasetOptions {
        DatasetOptions {
            has_header: true,
            ..Default::default()
        }
    }

    /// A Parquet file of an int64, a double, a string and a boolean column (the second row null throughout),
    /// compressed with `codec`.
    fn parquet_file(path: &Path, codec: parquet::basic::Compression) {
        use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
        use parquet::file::properties::WriterProperties;
        use parquet::file::writer::SerializedFileWriter;
        use parquet::schema::parser::parse_message_type;
        let schema = parse_message_type(
            "message m { optional int64 n; optional double x; optional binary s (UTF8); optional boolean b; }",
        )
        .unwrap();
        let props = WriterProperties::builder().set_compression(codec).build();
        let file = File::create(path).unwrap();
        let mut writer = SerializedFileWriter::new(file, schema.into(), props.into()).unwrap();
        let mut group = writer.next_row_group().unwrap();
        let defined = [1, 0, 1, 1];
        let mut column = group.next_column().unwrap().unwrap();
        column
            .typed::<Int64Type>()
            .write_batch(&[1, 2, 3], Some(&defined), None)
            .unwrap();
        column.close().unwrap();
        let mut column = group.next_column().unwrap().unwrap();
        column
            .typed::<DoubleType>()
            .write_batch(&[0.5, 1.0, f64::NAN], Some(&defined), None)
            .unwrap();
        column.close().unwrap();
        let mut column = group.next_column().unwrap().unwrap();
        let strings: Vec<ByteArray> = ["a", "12", "a"].into_iter().map(ByteArray::from).collect();
        column
            .typed::<ByteArrayType>()
            .write_batch(&strings, Some(&defined), None)
            .unwrap();
        column.close().unwrap();
        let mut column = group.next_column().unwrap().unwrap();
        column
            .typed::<BoolType>()
            .write_batch(&[true, false, true], Some(&defined), None)
            .unwrap();
        column.close().unwrap();
        group.close().unwrap();
        writer.close().unwrap();
    }

    #[test]
    fn parquet_columns_of_every_kind_and_codec() {
        use parquet::basic::{Compression, GzipLevel, ZstdLevel};
        let dir = tempfile::tempdir().unwrap();
        for codec in [
            Compression::UNCOMPRESSED,
            Compression::SNAPPY,
            Compression::ZSTD(ZstdLevel::default()),
            Compression::GZIP(GzipLevel::default()),
            Compression::LZ4_RAW,
        ] {
            let path = dir.path().join("t.parquet");
            parquet_file(&path, codec);
            let profile = profile_dataset(&path, &DatasetOptions::default()).unwrap();
            assert_eq!(profile.item_count, 4, "{codec:?}");
            let kinds: Vec<InferredType> = profile.features.iter().map(FeatureProfile::inferred_type).collect();
            use InferredType::{Fractional, Integral, String as Text};
            assert_eq!(kinds, [Integral, Fractional, Text, Text], "{codec:?}");
            // The null row is missing everywhere; NaN is missing too (pandas' missing float).
            let missing: Vec<u64> = profile.features.iter().map(|f| f.missing).collect();
            assert_eq!(missing, [1, 2, 1, 1], "{codec:?}");
            assert_eq!(profile.features[0].moments.mean, 2.0);
            let options = DatasetOptions {
                label_column: Some("b".into()),
                prediction_column: Some("x".into()),
                ..Default::default()
            };
            let (_, rows) = profile_and_label(&path, &options, Some("n")).unwrap();
            assert_eq!(
                rows,
                [
                    ("true".into(), Some(0.5), Some("1".into())),
                    ("false".into(), Some(1.0), Some("2".into())),
                    ("true".into(), None, Some("3".into()))
                ]
            );
        }
    }

    /// Every cell a reader hands over, as text, rows ended by `|`.
    #[derive(Default)]
    struct Recorder(Vec<String>);

    impl RowSink for Recorder {
        fn columns(&mut self, _: &str, names: &[String]) -> Result<(), DatasetError> {
            self.0.push(names.join(","));
            Ok(())
        }
        fn cell(&mut self, column: usize, cell: Cell<'_>) {
            self.0.push(format!("{column}={cell:?}"));
        }
        fn end_row(&mut self) {
            self.0.push("|".into());
        }
    }

    /// What the column readers and the row reader hand over for the file at `path` (the column readers' `None`
    /// when the file is not flat).
    fn both_readers(path: &Path) -> (Option<Vec<String>>, Vec<String>) {
        let reader = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
        let schema = reader.metadata().file_metadata().schema_descr_ptr();
        let columns: Option<Vec<FlatColumn>> = schema.columns().iter().map(|c| FlatColumn::new(c)).collect();
        let flat = columns.map(|mut columns| {
            let mut r = Recorder::default();
            read_parquet_columns(&reader, &mut columns, &mut r).unwrap();
            r.0
        });
        let mut rows = Recorder::default();
        read_parquet_rows(&reader, &mut rows).unwrap();
        (flat, rows.0)
    }

    #[test]
    fn parquet_column_readers_hand_over_what_the_row_reader_does() {
        use parquet::basic::Compression;
        use parquet::data_type::{ByteArray, ByteArrayType, FloatType, Int32Type, Int64Type};
        use parquet::file::properties::WriterProperties;
        use parquet::file::writer::SerializedFileWriter;
        use parquet::schema::parser::parse_message_type;
        let dir = tempfile::tempdir().unwrap();
        for codec in [Compression::UNCOMPRESSED, Compression::SNAPPY] {
            let path = dir.path().join("t.parquet");
            parquet_file(&path, codec);
            let (flat, rows) = both_readers(&path);
            assert_eq!(flat.as_ref(), Some(&rows), "{codec:?}");
            assert_eq!(rows.iter().filter(|c| *c == "|").count(), 4);
        }
        // Two row groups of 5,000 rows (batches end inside them), small pages, unsigned and 32-bit integers,
        // floats, required and optional columns with nulls in every column.
        let schema = parse_message_type(
            "message m { required int32 a; optional int64 u (INTEGER(64,false)); optional float f; \
             optional binary s (STRING); optional int32 small (INTEGER(8,true)); }",
        )
        .unwrap();
        let props = WriterProperties::builder().set_data_page_row_count_limit(700).build();
        let path = dir.path().join("groups.parquet");
        let mut writer = SerializedFileWriter::new(File::create(&path).unwrap(), schema.into(), props.into()).unwrap();
        for g in 0..2i64 {
            let n = 5_000usize;
            let defined: Vec<i16> = (0..n).map(|i| i16::from(i % 7 != 3)).collect();
            let present = defined.iter().filter(|d| **d == 1).count();
            let mut group = writer.next_row_group().unwrap();
            let mut c = group.next_column().unwrap().unwrap();
            let a: Vec<i32> = (0..n as i32).map(|i| i - 2_500).collect();
            c.typed::<Int32Type>().write_batch(&a, None, None).unwrap();
            c.close().unwrap();
            let mut c = group.next_column().unwrap().unwrap();
            let u: Vec<i64> = (0..present as i64)
                .map(|i| if i % 11 == 0 { -1 } else { i + g })
                .collect();
            c.typed::<Int64Type>().write_batch(&u, Some(&defined), None).unwrap();
            c.close().unwrap();
            let mut c = group.next_column().unwrap().unwrap();
            let f: Vec<f32> = (0..present)
                .map(|i| if i % 13 == 0 { f32::NAN } else { i as f32 / 8.0 })
                .collect();
            c.typed::<FloatType>().write_batch(&f, Some(&defined), None).unwrap();
            c.close().unwrap();
            let mut c = group.next_column().unwrap().unwrap();
            let texts: Vec<ByteArray> = (0..present)
                .map(|i| {
                    ByteArray::from(match i % 4 {
                        0 => "7",
                        1 => " 2.5 ",
                        2 => "",
                        _ => "cat",
                    })
                })
                .collect();
            c.typed::<ByteArrayType>()
                .write_batch(&texts, Some(&defined), None)
                .unwrap();
            c.close().unwrap();
            let mut c = group.next_column().unwrap().unwrap();
            let small: Vec<i32> = (0..present as i32).map(|i| i % 256 - 128).collect();
            c.typed::<Int32Type>()
                .write_batch(&small, Some(&defined), None)
                .unwrap();
            c.close().unwrap();
            group.close().unwrap();
        }
        writer.close().unwrap();
        let (flat, rows) = both_readers(&path);
        assert_eq!(rows.iter().filter(|c| *c == "|").count(), 10_000);
        assert!(
            rows.iter()
                .any(|c| c == "1=Number { value: 1.8446744073709552e19, integral: true, written: None }")
        );
        assert_eq!(flat, Some(rows));
    }

    #[test]
    fn parquet_dates_are_read_by_the_row_reader_as_text() {
        use parquet::data_type::Int32Type;
        use parquet::file::writer::SerializedFileWriter;
        use parquet::schema::parser::parse_message_type;
        let dir = tempfile::tempdir().unwrap();
        let schema = parse_message_type("message m { required int32 d (DATE); required int32 n; }").unwrap();
        let path = dir.path().join("dates.parquet");
        let mut writer =
            SerializedFileWriter::new(File::create(&path).unwrap(), schema.into(), Default::default()).unwrap();
        let mut group = writer.next_row_group().unwrap();
        for values in [[19_000, 19_001], [1, 2]] {
            let mut c = group.next_column().unwrap().unwrap();
            c.typed::<Int32Type>().write_batch(&values, None, None).unwrap();
            c.close().unwrap();
        }
        group.close().unwrap();
        writer.close().unwrap();
        assert_eq!(both_readers(&path).0, None, "a DATE column is not flat");
        let profile = profile_dataset(&path, &DatasetOptions::default()).unwrap();
        let kinds: Vec<InferredType> = profile.features.iter().map(FeatureProfile::inferred_type).collect();
        assert_eq!(kinds, [InferredType::String, InferredType::Integral]);
    }

    #[test]
    fn real_parquet_matches_pandas() {
        let Some(root) = crate::testing::realdata() else { return };
        let path = &root.join("datasets/adult_evidently/adults.parquet");
        let options = DatasetOptions {
            has_header: true,
            label_column: Some("class".into()),
            ..Default::default()
        };
        let profile = profile_dataset(path, &options).unwrap();
        assert_eq!(profile.item_count, 48_842);
        assert_eq!(profile.features.len(), 14);
        // pandas 2.x: df["age"].mean() == 38.64358543876172, df["age"].std(ddof=0) == 13.71036957798689
        let age = profile.feature("age").unwrap();
        assert_eq!(age.inferred_type(), InferredType::Integral);
        assert!((age.moments.mean - 38.64358543876172).abs() < 1e-9);
        assert!((age.moments.std_dev() - 13.71036957798689).abs() < 1e-9);
        // df["workclass"].isna().sum() == 2799, df["workclass"].nunique() == 8
        let workclass = profile.feature("workclass").unwrap();
        assert_eq!(workclass.inferred_type(), InferredType::String);
        assert_eq!(workclass.missing, 2799);
        assert_eq!(workclass.categories.as_ref().unwrap().distinct(), 8);
    }
}
