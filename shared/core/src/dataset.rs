//! Profiling a training data set (CSV or Parquet) into a baseline, read with polars.
//!
//! Column types follow polars' inference, mapped to Model Monitor's: integer columns are Integral, floating-point
//! columns Fractional, everything else String (booleans as `true`/`false`). A headerless CSV's columns are named
//! `_c0`, `_c1`, ... as Model Monitor names them.

use std::path::Path;

use polars::prelude::*;

use crate::profile::{DatasetProfile, FeatureProfile, InferredType, Tracking};

/// How to read a data set.
#[derive(Debug, Clone, Default)]
pub struct DatasetOptions {
    /// Whether the first CSV line is a header (ignored for Parquet).
    pub has_header: bool,
    /// A column to leave out of the features (the label).
    pub label_column: Option<String>,
    /// A column holding the model's score on this data (profiled as the prediction baseline).
    pub prediction_column: Option<String>,
}

/// The data set could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("reading {path}")]
    Read {
        path: String,
        #[source]
        source: PolarsError,
    },
    #[error("opening {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} has no column {column:?} (columns: {columns})")]
    NoColumn {
        path: String,
        column: String,
        columns: String,
    },
}

/// Reads a data set (`.parquet`, or CSV otherwise) and profiles every column but the label.
///
/// # Errors
///
/// [`DatasetError`] naming the file when it cannot be opened or parsed, or when a named column is absent.
pub fn profile_dataset(path: &Path, options: &DatasetOptions) -> Result<DatasetProfile, DatasetError> {
    let display = path.display().to_string();
    let read_err = |source| DatasetError::Read {
        path: display.clone(),
        source,
    };
    let df = read_frame(path, options.has_header)?;
    let columns: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
    for wanted in options.label_column.iter().chain(options.prediction_column.iter()) {
        if !columns.contains(wanted) {
            return Err(DatasetError::NoColumn {
                path: display,
                column: wanted.clone(),
                columns: columns.join(", "),
            });
        }
    }

    let mut profile = DatasetProfile::new(std::iter::empty());
    profile.item_count = df.height() as u64;
    for column in df.columns() {
        let name = column.name().to_string();
        if options.label_column.as_deref() == Some(name.as_str()) {
            continue;
        }
        let series = column.as_materialized_series();
        let is_prediction = options.prediction_column.as_deref() == Some(name.as_str());
        let target_name = if is_prediction {
            crate::profile::PREDICTION_SCORE.to_owned()
        } else {
            name
        };
        let feature = profile_series(&target_name, series).map_err(read_err)?;
        if is_prediction {
            profile.prediction_score = feature;
        } else {
            profile.features.push(feature);
        }
    }
    Ok(profile)
}

/// One row of a validation set: the true label, the model's score, the model's predicted label.
pub type LabelledRow = (String, Option<f64>, Option<String>);

/// The label, score and predicted label of every row of a labelled validation set, for the model-quality
/// baseline. The columns are named as in [`DatasetOptions`] (`prediction_column` is the score).
///
/// # Errors
///
/// [`DatasetError`] naming the file when it cannot be read or lacks the label column.
pub fn labelled_predictions(
    path: &Path,
    options: &DatasetOptions,
    predicted_label_column: Option<&str>,
) -> Result<Vec<LabelledRow>, DatasetError> {
    let display = path.display().to_string();
    let read_err = |source| DatasetError::Read {
        path: display.clone(),
        source,
    };
    let df = read_frame(path, options.has_header)?;
    let columns: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
    let column = |name: &str| {
        df.column(name).map_err(|_| DatasetError::NoColumn {
            path: display.clone(),
            column: name.to_owned(),
            columns: columns.join(", "),
        })
    };
    let label_name = options.label_column.as_deref().unwrap_or("label");
    let labels = column(label_name)?
        .as_materialized_series()
        .cast(&DataType::String)
        .map_err(read_err)?;
    let scores = match &options.prediction_column {
        Some(name) => Some(
            column(name)?
                .as_materialized_series()
                .cast(&DataType::Float64)
                .map_err(read_err)?,
        ),
        None => None,
    };
    let predicted = match predicted_label_column {
        Some(name) => Some(
            column(name)?
                .as_materialized_series()
                .cast(&DataType::String)
                .map_err(read_err)?,
        ),
        None => None,
    };
    let labels = labels.str().map_err(read_err)?;
    let scores = scores.as_ref().map(|s| s.f64()).transpose().map_err(read_err)?;
    let predicted = predicted.as_ref().map(|s| s.str()).transpose().map_err(read_err)?;
    Ok((0..df.height())
        .filter_map(|i| {
            let label = labels.get(i)?.to_owned();
            Some((
                label,
                scores.and_then(|s| s.get(i)),
                predicted.and_then(|p| p.get(i)).map(str::to_owned),
            ))
        })
        .collect())
}

fn read_frame(path: &Path, has_header: bool) -> Result<DataFrame, DatasetError> {
    let display = || path.display().to_string();
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet")) {
        let file = std::fs::File::open(path).map_err(|source| DatasetError::Io {
            path: display(),
            source,
        })?;
        return ParquetReader::new(file).finish().map_err(|source| DatasetError::Read {
            path: display(),
            source,
        });
    }
    let mut df = CsvReadOptions::default()
        .with_has_header(has_header)
        .with_infer_schema_length(Some(10_000))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish())
        .map_err(|source| DatasetError::Read {
            path: display(),
            source,
        })?;
    if !has_header {
        let names: Vec<String> = (0..df.width()).map(|i| format!("_c{i}")).collect();
        df.set_column_names(&names).map_err(|source| DatasetError::Read {
            path: display(),
            source,
        })?;
    }
    Ok(df)
}

fn profile_series(name: &str, series: &Series) -> PolarsResult<FeatureProfile> {
    let dtype = series.dtype();
    let kind = if dtype.is_integer() {
        InferredType::Integral
    } else if dtype.is_float() {
        InferredType::Fractional
    } else {
        InferredType::String
    };
    let mut profile = FeatureProfile::new(name, Tracking::for_type(Some(kind)));
    match kind {
        InferredType::Integral | InferredType::Fractional => {
            let values = series.cast(&DataType::Float64)?;
            for v in values.f64()?.iter() {
                match v {
                    Some(x) if x.is_finite() => profile.add_number(x, kind == InferredType::Integral),
                    Some(_) | None => profile.add_missing(),
                }
            }
        }
        _ => {
            let values = series.cast(&DataType::String)?;
            for v in values.str()?.iter() {
                match v {
                    Some(s) if !s.is_empty() => profile.add_string(s),
                    _ => profile.add_missing(),
                }
            }
        }
    }
    Ok(profile)
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
