//! The event: which data set, where to write, and how to read it.

use modelwatch_core::dataset::DatasetOptions;
use modelwatch_core::evaluate::{DEFAULT_QUALITY_TOLERANCE, QualityConfig};
use modelwatch_core::quality::ProblemType;
use modelwatch_core::suggest::QualityRequest;
use serde::Deserialize;

/// `{"dataset": "s3://bucket/train.csv", "baseline": "s3://bucket/baselines/ep/AllTraffic", ...}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuggestRequest {
    /// The data set: `.parquet`, or CSV otherwise.
    pub dataset: String,
    /// The baseline folder to write.
    pub baseline: String,
    /// Whether the CSV's first line is a header (default true).
    #[serde(default = "yes")]
    pub header: bool,
    /// The label column, left out of the features (and the ground truth of a quality baseline).
    #[serde(default)]
    pub label_column: Option<String>,
    /// The model's score column (profiled as the prediction baseline; the scores of a quality baseline).
    #[serde(default)]
    pub prediction_column: Option<String>,
    /// The predicted-label column of a quality baseline.
    #[serde(default)]
    pub predicted_label_column: Option<String>,
    /// With a problem type, the model-quality baseline too.
    #[serde(default)]
    pub problem_type: Option<ProblemType>,
    /// Binary classification's decision threshold (default 0.5).
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Relative tolerance of the suggested quality thresholds (default 0.1).
    #[serde(default)]
    pub tolerance: Option<f64>,
    /// Write only the model-quality files (a validation set beside a training set's baseline).
    #[serde(default)]
    pub quality_only: bool,
}

fn yes() -> bool {
    true
}

impl SuggestRequest {
    /// How the core reads the data set.
    pub fn options(&self) -> DatasetOptions {
        DatasetOptions {
            has_header: self.header,
            label_column: self.label_column.clone(),
            prediction_column: self.prediction_column.clone(),
        }
    }

    /// The quality request, when a problem type is given.
    pub fn quality(&self) -> Option<QualityRequest> {
        let problem = self.problem_type?;
        let mut config = QualityConfig::new(problem);
        if let Some(t) = self.threshold {
            config.threshold = t;
        }
        Some(QualityRequest {
            config,
            predicted_label_column: self.predicted_label_column.clone(),
            tolerance: self.tolerance.unwrap_or(DEFAULT_QUALITY_TOLERANCE),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_event_with_defaults() {
        let r: SuggestRequest = serde_json::from_value(serde_json::json!({
            "dataset": "s3://b/train.csv", "baseline": "s3://b/baselines/ep/AllTraffic", "label_column": "y"
        }))
        .unwrap();
        assert!(r.header && !r.quality_only);
        assert_eq!(r.options().label_column.as_deref(), Some("y"));
        assert!(r.quality().is_none());
        let q: SuggestRequest = serde_json::from_value(serde_json::json!({
            "dataset": "s3://b/v.csv", "baseline": "s3://b/x", "label_column": "y", "prediction_column": "score",
            "problem_type": "BinaryClassification", "threshold": 0.7, "quality_only": true
        }))
        .unwrap();
        let quality = q.quality().unwrap();
        assert_eq!(quality.config.threshold, 0.7);
        assert_eq!(quality.tolerance, DEFAULT_QUALITY_TOLERANCE);
        let typo = serde_json::from_value::<SuggestRequest>(serde_json::json!({
            "dataset": "s3://b/v.csv", "baseline": "s3://b/x", "label": "y"
        }));
        assert!(typo.unwrap_err().to_string().contains("unknown field `label`"));
    }
}
