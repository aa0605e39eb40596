//! The model-quality half of the baseline use case, without the data set readers: a labelled validation set's model-quality
//! statistics and suggested constraints (loosened by a tolerance), and the label-free estimate's calibration.
//!
//! The `suggest` module (feature `datasets`) calls these after reading the data set; they live outside it so that
//! builds without the readers (the Lambda functions, the CLI's defaults) keep [`DEFAULT_QUALITY_TOLERANCE`] and can
//! build a model-quality baseline from rows they already have.

use crate::evaluate::config::QualityConfig;
use crate::quality::{
    self, CbpeCalibration, CbpeError, GroundTruth, ModelQualityConstraints, ModelQualityStatistics, ProblemSpec,
    QualityJoin,
};

/// The default relative tolerance of suggested model-quality thresholds: a metric 10% worse than on the
/// validation set is a violation. Model Monitor puts thresholds at the baseline value itself, which makes an
/// ordinary window's sampling noise fire half the alarms; the tolerance keeps the alarms for real degradation.
pub const DEFAULT_QUALITY_TOLERANCE: f64 = 0.1;

/// The model-quality baseline of a labelled validation set: `(label, score, predicted label)` per row. Its
/// statistics, and the constraints suggested from them, loosened by the relative `tolerance` (thresholds of
/// higher-is-better metrics scaled by `1 - tolerance`, lower-is-better ones by `1 + tolerance`).
pub fn quality_baseline(
    config: &QualityConfig,
    rows: impl IntoIterator<Item = (String, Option<f64>, Option<String>)>,
    tolerance: f64,
) -> (ModelQualityStatistics, ModelQualityConstraints) {
    let mut join = QualityJoin::new(config.spec());
    for (i, (label, score, predicted)) in rows.into_iter().enumerate() {
        let id = i.to_string();
        // Too many classes is reported by the statistics (empty); a baseline has no run to keep going.
        let _ = join.add_capture(&id, None, score, predicted.as_deref(), None);
        if let Some(label) = quality::ground_truth::parse_label(&label, config.problem_type) {
            let _ = join.add_label(&GroundTruth { id: id.into(), label });
        }
    }
    let statistics = join.evaluate().statistics;
    let mut constraints = quality::suggest_constraints(&statistics, &quality::SuggestOptions::default());
    for map in [
        &mut constraints.binary_classification_constraints,
        &mut constraints.multiclass_classification_constraints,
        &mut constraints.regression_constraints,
    ]
    .into_iter()
    .flatten()
    {
        for (metric, c) in map.iter_mut() {
            let factor = if quality::report::lower_is_better(metric) {
                1.0 + tolerance
            } else {
                1.0 - tolerance
            };
            c.threshold *= factor;
        }
    }
    (statistics, constraints)
}

/// The label-free estimate's calibration from the same labelled validation set as [`quality_baseline`]: `None`
/// unless the problem is binary classification.
///
/// # Errors
///
/// [`CbpeError::EmptyReference`] when no row has a finite score (a validation set with predicted labels only).
pub fn estimate_baseline<'r>(
    config: &QualityConfig,
    rows: impl IntoIterator<Item = &'r (String, Option<f64>, Option<String>)>,
) -> Result<Option<CbpeCalibration>, CbpeError> {
    let ProblemSpec::Binary(options) = config.spec() else {
        return Ok(None);
    };
    CbpeCalibration::fit(
        options,
        rows.into_iter().map(|(label, score, _)| (label.as_str(), *score)),
    )
    .map(Some)
}
