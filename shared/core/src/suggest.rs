//! The baseline use case: a training (or labelled validation) data set in, Model Monitor's `statistics.json` and
//! `constraints.json` out, and with a problem type the model-quality baseline and the CBPE calibration beside
//! them in `model-quality/`. The CLI's `baseline` command and the `suggest-baseline` function both call this.

use std::path::Path;

use crate::baseline::{Baseline, CONSTRAINTS_FILE, STATISTICS_FILE};
use crate::dataset::{DatasetError, DatasetOptions, LabelledRow, profile_and_label, profile_dataset};
use crate::evaluate::QualityConfig;
use crate::ports::{PortError, PortErrorKind, ReportStore};
use crate::quality::{
    CBPE_CALIBRATION_FILE, CbpeCalibration, CbpeError, ModelQualityConstraints, ModelQualityStatistics,
};
use crate::report::QUALITY_DIR;
use crate::suggest_quality::{estimate_baseline, quality_baseline};

/// What to suggest a model-quality baseline from.
#[derive(Debug, Clone)]
pub struct QualityRequest {
    pub config: QualityConfig,
    /// A column of predicted labels (instead of, or beside, the score column).
    pub predicted_label_column: Option<String>,
    /// Relative tolerance of the suggested thresholds (see [`quality_baseline`]).
    pub tolerance: f64,
}

/// A suggested baseline.
#[derive(Debug, Clone)]
pub struct Suggested {
    pub baseline: Baseline,
    pub quality: Option<SuggestedQuality>,
}

/// A suggested model-quality baseline.
#[derive(Debug, Clone)]
pub struct SuggestedQuality {
    pub statistics: ModelQualityStatistics,
    pub constraints: ModelQualityConstraints,
    /// The label-free estimate's calibration; `None` without scores or for other problems than binary.
    pub calibration: Option<CbpeCalibration>,
}

/// The baseline could not be suggested.
#[derive(Debug, thiserror::Error)]
pub enum SuggestError {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error("a model-quality baseline needs {0}")]
    Missing(&'static str),
    #[error("calibrating the label-free estimate")]
    Calibration(#[from] CbpeError),
    /// A data set without rows gives no distribution to compare with: such a baseline would be refused when read.
    #[error("{0} has no rows: a baseline needs data")]
    Empty(String),
}

/// Profiles `dataset` into a baseline, and with `quality`, its model-quality baseline.
///
/// # Errors
///
/// A [`SuggestError`] naming what is missing or which file could not be read.
pub fn suggest(
    dataset: &Path,
    options: &DatasetOptions,
    quality: Option<&QualityRequest>,
) -> Result<Suggested, SuggestError> {
    // With a quality request that names its columns, the labelled rows are read in the profile's pass.
    let (profile, quality) = match quality.map(|request| (request, missing_quality_column(options, request))) {
        None => (profile_dataset(dataset, options)?, None),
        Some((_, Some(what))) => (profile_dataset(dataset, options)?, Some(Err(what))),
        Some((request, None)) => {
            let (profile, rows) = profile_and_label(dataset, options, request.predicted_label_column.as_deref())?;
            (profile, Some(Ok((request, rows))))
        }
    };
    if profile.item_count == 0 {
        return Err(SuggestError::Empty(dataset.display().to_string()));
    }
    let baseline = Baseline::from_profile(&profile);
    let quality = match quality {
        None => None,
        Some(Err(what)) => return Err(SuggestError::Missing(what)),
        Some(Ok((request, rows))) => Some(quality_from(request, rows)?),
    };
    Ok(Suggested { baseline, quality })
}

/// What a model-quality request lacks among the data set's columns: the label, and a score or a predicted label.
fn missing_quality_column(options: &DatasetOptions, request: &QualityRequest) -> Option<&'static str> {
    if options.label_column.is_none() {
        Some("a label column (the ground truth of the validation set)")
    } else if options.prediction_column.is_none() && request.predicted_label_column.is_none() {
        Some("a prediction (score) column or a predicted-label column")
    } else {
        None
    }
}

/// The model-quality baseline and the label-free estimate's calibration of a validation set's labelled rows.
fn quality_from(request: &QualityRequest, rows: Vec<LabelledRow>) -> Result<SuggestedQuality, SuggestError> {
    let calibration = match estimate_baseline(&request.config, &rows) {
        Ok(c) => c,
        // A validation set of predicted labels only: quality works, estimates need scores.
        Err(CbpeError::EmptyReference) => None,
        Err(e) => return Err(e.into()),
    };
    let (statistics, constraints) = quality_baseline(&request.config, rows, request.tolerance);
    Ok(SuggestedQuality {
        statistics,
        constraints,
        calibration,
    })
}

/// Writes a suggested baseline: `statistics.json`, `constraints.json`, and with quality [`write_quality`]'s files.
/// Returns the names written.
///
/// # Errors
///
/// The first [`PortError`] of the store.
pub fn write(store: &dyn ReportStore, suggested: &Suggested) -> Result<Vec<String>, PortError> {
    let mut files = vec![
        (
            STATISTICS_FILE.to_owned(),
            json(serde_json::to_vec_pretty(&suggested.baseline.statistics))?,
        ),
        (
            CONSTRAINTS_FILE.to_owned(),
            json(serde_json::to_vec_pretty(&suggested.baseline.constraints))?,
        ),
    ];
    if let Some(q) = &suggested.quality {
        files.extend(quality_files(q)?);
    }
    put_all(store, files)
}

/// Writes only a model-quality baseline: `model-quality/{statistics.json, constraints.json}` and, when fitted,
/// `model-quality/cbpe_calibration.json` (for a validation set profiled beside a training set's baseline).
///
/// # Errors
///
/// The first [`PortError`] of the store.
pub fn write_quality(store: &dyn ReportStore, quality: &SuggestedQuality) -> Result<Vec<String>, PortError> {
    put_all(store, quality_files(quality)?)
}

fn json(value: Result<Vec<u8>, serde_json::Error>) -> Result<Vec<u8>, PortError> {
    value.map_err(|e| PortError::new("serialising", "the baseline", PortErrorKind::Other, e))
}

fn quality_files(q: &SuggestedQuality) -> Result<Vec<(String, Vec<u8>)>, PortError> {
    let mut files = vec![
        (
            format!("{QUALITY_DIR}/{STATISTICS_FILE}"),
            json(serde_json::to_vec_pretty(&q.statistics))?,
        ),
        (
            format!("{QUALITY_DIR}/{CONSTRAINTS_FILE}"),
            json(serde_json::to_vec_pretty(&q.constraints))?,
        ),
    ];
    if let Some(c) = &q.calibration {
        files.push((
            format!("{QUALITY_DIR}/{CBPE_CALIBRATION_FILE}"),
            c.to_json().into_bytes(),
        ));
    }
    Ok(files)
}

fn put_all(store: &dyn ReportStore, files: Vec<(String, Vec<u8>)>) -> Result<Vec<String>, PortError> {
    let mut names = Vec::new();
    for (name, body) in files {
        store.put(&name, &body)?;
        names.push(name);
    }
    Ok(names)
}
