//! The `suggest-baseline` request: which data set to profile, where to write its baseline, and how to read it.
//! The function parses its events into it, and a retraining file's `new_baseline` is one, sent by
//! `launch-retraining` (as a "Baseline Requested" event) with `{date}` and `{version}` filled in.
//!
//! # Format
//!
//! One JSON object; unknown fields are rejected. Only `dataset` and `baseline` are required:
//!
//! ```json
//! {"dataset": "s3://ml/churn/2026-11-27/train.csv", "baseline": "s3://ml/baselines/churn-prod/AllTraffic",
//!  "label_column": "churned"}
//! ```

use serde::{Deserialize, Serialize};

use crate::quality::ProblemType;

/// Why a baseline request was rejected.
#[derive(Debug, thiserror::Error)]
pub enum BaselineRequestError {
    /// The JSON is malformed or has unknown or mistyped fields.
    #[error("{0}")]
    Json(#[source] serde_json::Error),
    /// A field's value is unusable.
    #[error("{field}: {why}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        why: String,
    },
}

/// A `suggest-baseline` request: `{"dataset": "s3://bucket/train.csv", "baseline": "s3://bucket/baselines/ep/AllTraffic", ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineRequest {
    /// The data set, an `s3://` URI of one object: `.parquet`, or CSV otherwise. In a retraining file's
    /// `new_baseline`, `{date}` (the launch date of the version's training job, `yyyy-mm-dd`) and `{version}` (the
    /// version) are replaced (see [`BaselineRequest::filled`]).
    pub dataset: String,
    /// The baseline folder to write, an `s3://` URI. `{date}` and `{version}` are replaced as in `dataset`.
    pub baseline: String,
    /// Whether the CSV's first line is a header (default true).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub header: bool,
    /// The label column, left out of the features (and the ground truth of a quality baseline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_column: Option<String>,
    /// The model's score column (profiled as the prediction baseline; the scores of a quality baseline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction_column: Option<String>,
    /// More columns left out of the features (ids, timestamps).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_columns: Vec<String>,
    /// The predicted-label column of a quality baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_label_column: Option<String>,
    /// With a problem type, the model-quality baseline too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem_type: Option<ProblemType>,
    /// Binary classification's decision threshold (default 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Relative tolerance of the suggested quality thresholds, at least 0 (default
    /// [`crate::suggest_quality::DEFAULT_QUALITY_TOLERANCE`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f64>,
    /// Write only the model-quality files (a validation set beside a training set's baseline); needs
    /// `problem_type`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub quality_only: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl BaselineRequest {
    /// Reads and validates a request (an event's payload).
    ///
    /// # Errors
    ///
    /// A [`BaselineRequestError`]: the JSON's, or naming the first offending field.
    pub fn from_json(value: serde_json::Value) -> Result<Self, BaselineRequestError> {
        let request: Self = serde_json::from_value(value).map_err(BaselineRequestError::Json)?;
        request.validate()?;
        Ok(request)
    }

    /// Checks the fields' values.
    ///
    /// # Errors
    ///
    /// A [`BaselineRequestError::Invalid`] naming the first offending field.
    pub fn validate(&self) -> Result<(), BaselineRequestError> {
        let bad = |field: &'static str, why: &str| BaselineRequestError::Invalid {
            field,
            why: why.to_owned(),
        };
        // The dataset is one object: a bucket and a key that is not a folder.
        let object = self
            .dataset
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
            .is_some_and(|(bucket, key)| !bucket.is_empty() && !key.is_empty() && !key.ends_with('/'));
        if !object {
            return Err(bad("dataset", "must be the s3:// URI of an object (s3://bucket/key)"));
        }
        let folder = self
            .baseline
            .strip_prefix("s3://")
            .is_some_and(|rest| !rest.split('/').next().unwrap_or_default().is_empty());
        if !folder {
            return Err(bad("baseline", "must be an s3:// URI (s3://bucket/prefix)"));
        }
        if self.threshold.is_some_and(|t| !t.is_finite()) {
            return Err(bad("threshold", "must be a finite number"));
        }
        if self.tolerance.is_some_and(|t| !(t.is_finite() && t >= 0.0)) {
            return Err(bad("tolerance", "must be a finite number >= 0"));
        }
        if self.quality_only && self.problem_type.is_none() {
            return Err(bad("quality_only", "needs a problem_type"));
        }
        Ok(())
    }

    /// This request as a template (a retraining file's `new_baseline`) filled for a version trained on data of
    /// `date`: `{date}` (`yyyy-mm-dd`) and `{version}` replaced in `dataset` and `baseline`, the only fields that
    /// take them.
    pub fn filled(&self, date: chrono::NaiveDate, version: &str) -> Self {
        let date = date.format("%Y-%m-%d").to_string();
        let fill = |uri: &str| uri.replace("{date}", &date).replace("{version}", version);
        Self {
            dataset: fill(&self.dataset),
            baseline: fill(&self.baseline),
            ..self.clone()
        }
    }

    /// The request's JSON, as `suggest-baseline` reads it (fields at their defaults left out).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a baseline request is plain data")
    }
}

#[cfg(feature = "datasets")]
impl BaselineRequest {
    /// How the core reads the data set.
    pub fn options(&self) -> crate::dataset::DatasetOptions {
        crate::dataset::DatasetOptions {
            has_header: self.header,
            label_column: self.label_column.clone(),
            prediction_column: self.prediction_column.clone(),
            exclude_columns: self.exclude_columns.clone(),
        }
    }

    /// The quality request, when a problem type is given.
    pub fn quality(&self) -> Option<crate::suggest::QualityRequest> {
        let problem = self.problem_type?;
        let mut config = crate::evaluate::QualityConfig::new(problem);
        if let Some(t) = self.threshold {
            config.threshold = t;
        }
        Some(crate::suggest::QualityRequest {
            config,
            predicted_label_column: self.predicted_label_column.clone(),
            tolerance: self
                .tolerance
                .unwrap_or(crate::suggest_quality::DEFAULT_QUALITY_TOLERANCE),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(value: serde_json::Value) -> Result<BaselineRequest, BaselineRequestError> {
        BaselineRequest::from_json(value)
    }

    #[test]
    fn reads_the_event_with_defaults() {
        let r = read(json!({
            "dataset": "s3://b/train.csv", "baseline": "s3://b/baselines/ep/AllTraffic", "label_column": "y"
        }))
        .unwrap();
        assert!(r.header && !r.quality_only);
        assert_eq!(r.label_column.as_deref(), Some("y"));
        assert_eq!(r.problem_type, None);
        let q = read(json!({
            "dataset": "s3://b/v.csv", "baseline": "s3://b/x", "label_column": "y", "prediction_column": "score",
            "problem_type": "BinaryClassification", "threshold": 0.7, "quality_only": true
        }))
        .unwrap();
        assert_eq!(q.problem_type, Some(ProblemType::BinaryClassification));
        assert_eq!((q.threshold, q.tolerance, q.quality_only), (Some(0.7), None, true));
        assert!(q.exclude_columns.is_empty());
        let e = read(json!({
            "dataset": "s3://b/t.csv", "baseline": "s3://b/x", "exclude_columns": ["id", "ts"]
        }))
        .unwrap();
        #[cfg(feature = "datasets")]
        assert_eq!(e.options().exclude_columns, ["id", "ts"]);
        assert_eq!(e.exclude_columns, ["id", "ts"]);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let typo = read(json!({"dataset": "s3://b/v.csv", "baseline": "s3://b/x", "label": "y"}));
        assert!(
            matches!(&typo, Err(BaselineRequestError::Json(e)) if e.to_string().contains("unknown field `label`")),
            "{typo:?}"
        );
        let missing = read(json!({"dataset": "s3://b/v.csv"}));
        assert!(
            missing.unwrap_err().to_string().contains("missing field `baseline`"),
            "baseline is required"
        );
    }

    #[test]
    fn invalid_values_are_named() {
        let base = json!({"dataset": "s3://b/train.csv", "baseline": "s3://b/baselines/ep"});
        let cases = [
            (json!({"dataset": "b/train.csv"}), "dataset"),
            (json!({"dataset": "s3://b/train/"}), "dataset"),
            (json!({"dataset": "s3://b"}), "dataset"),
            (json!({"dataset": "s3:///train.csv"}), "dataset"),
            (json!({"baseline": "/tmp/baselines"}), "baseline"),
            (json!({"baseline": "s3://"}), "baseline"),
            (json!({"tolerance": -0.1}), "tolerance"),
            (json!({"quality_only": true}), "quality_only"),
        ];
        for (change, field) in cases {
            let mut value = base.clone();
            for (k, v) in change.as_object().unwrap() {
                value[k] = v.clone();
            }
            match read(value) {
                Err(BaselineRequestError::Invalid { field: f, .. }) => assert_eq!(f, field, "{change}"),
                other => panic!("{change}: {other:?}"),
            }
        }
        let e = read(json!({"dataset": "train.csv", "baseline": "s3://b/x"})).unwrap_err();
        assert!(e.to_string().starts_with("dataset: "), "{e}");
        assert!(read(base).is_ok());
    }

    #[test]
    fn a_template_is_filled_in_its_uris_only() {
        let template = read(json!({
            "dataset": "s3://ml/churn/{date}/train.csv", "baseline": "s3://b/baselines/{version}/AllTraffic",
            "label_column": "{date}"
        }))
        .unwrap();
        let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        let r = template.filled(date, "3");
        assert_eq!(r.dataset, "s3://ml/churn/2026-11-27/train.csv");
        assert_eq!(r.baseline, "s3://b/baselines/3/AllTraffic");
        assert_eq!(r.label_column.as_deref(), Some("{date}"), "a column name is not a URI");
        assert_eq!(template.filled(date, "3"), r);
    }

    #[test]
    fn the_json_sent_is_the_documented_shape_and_reads_back() {
        // The module's `# Format` example and the README's `new_baseline`: fields at their defaults are left out.
        let documented = json!({"dataset": "s3://ml/churn/2026-11-27/train.csv",
            "baseline": "s3://ml/baselines/churn-prod/AllTraffic", "label_column": "churned"});
        let r = read(documented.clone()).unwrap();
        assert_eq!(r.to_json(), documented);
        let full = json!({"dataset": "s3://b/v.parquet", "baseline": "s3://b/x", "header": false,
            "label_column": "y", "prediction_column": "score", "predicted_label_column": "label",
            "problem_type": "MulticlassClassification", "threshold": 0.7, "tolerance": 0.2, "quality_only": true});
        let r = read(full.clone()).unwrap();
        assert_eq!(r.to_json(), full);
        assert_eq!(read(r.to_json()).unwrap(), r);
    }

    #[cfg(feature = "datasets")]
    #[test]
    fn options_and_quality_come_from_the_request() {
        let r = read(json!({"dataset": "s3://b/train.csv", "baseline": "s3://b/x", "label_column": "y"})).unwrap();
        assert!(r.options().has_header);
        assert_eq!(r.options().label_column.as_deref(), Some("y"));
        assert!(r.quality().is_none());
        let q = read(json!({
            "dataset": "s3://b/v.csv", "baseline": "s3://b/x", "label_column": "y", "prediction_column": "score",
            "problem_type": "BinaryClassification", "threshold": 0.7, "quality_only": true
        }))
        .unwrap();
        let quality = q.quality().unwrap();
        assert_eq!(quality.config.threshold, 0.7);
        assert_eq!(quality.tolerance, crate::suggest_quality::DEFAULT_QUALITY_TOLERANCE);
    }
}
