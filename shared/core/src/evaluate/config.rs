//! The evaluation's configuration: the `--config` file (JSON) and its defaults.
//!
//! Absurd settings are refused with the field's path and the allowed range, never taken silently: what can be
//! checked from the configuration alone ([`EvaluationConfig::check`]) is checked when it is deserialised, so the
//! CLI's `--config` and the function's `EVALUATION_CONFIG` fail as they are read; what needs the baseline (the
//! feature names of `drift.features`) is [`EvaluationConfig::validate`], for the caller to run once the baseline
//! is loaded.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::baseline::{Baseline, is_prediction_feature};
use crate::capture::ReaderConfig;
use crate::drift::DriftConfig;
use crate::history::HistoryConfig;
use crate::quality::{BinaryOptions, ProblemSpec, ProblemType};
use crate::window::Window;

/// A setting out of its range: the field's path in the configuration (`drift.dataset_drift_share`) and why,
/// with the allowed range (`1.5 is outside [0, 1]`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {why}")]
pub struct SettingsError {
    /// The field's path, its sections joined by `.`.
    pub field: String,
    /// The value and what is allowed.
    pub why: String,
}

impl SettingsError {
    pub fn new(field: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            why: why.into(),
        }
    }
}

/// The evaluation's configuration (the `--config` file, JSON). Deserialising it runs [`EvaluationConfig::check`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
// `remote = "Self"`: the derives become inherent functions, which the trait impls below wrap with the check.
#[serde(remote = "Self", deny_unknown_fields)]
pub struct EvaluationConfig {
    /// How captures are read.
    #[serde(default)]
    pub reader: ReaderConfig,
    /// How drift is measured.
    #[serde(default)]
    pub drift: DriftConfig,
    /// Model quality against ground truth; off when absent.
    #[serde(default)]
    pub quality: Option<QualityConfig>,
    /// How the endpoint's outputs read when no `quality` section says so (for the prediction history's positive
    /// rate). Without either, a CBPE calibration in the baseline makes the problem binary with its threshold.
    #[serde(default)]
    pub predictions: Option<PredictionConfig>,
    /// How the prediction history is kept and judged (used when a state store is given).
    #[serde(default)]
    pub history: HistoryConfig,
}

impl Serialize for EvaluationConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        EvaluationConfig::serialize(self, serializer)
    }
}

impl<'de> Deserialize<'de> for EvaluationConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let config = EvaluationConfig::deserialize(deserializer)?;
        config.check().map_err(serde::de::Error::custom)?;
        Ok(config)
    }
}

impl EvaluationConfig {
    /// Checks every setting that does not need the baseline:
    ///
    /// - `reader.max_line_bytes` at least 1 (0 skips every line); `reader.json.features` and
    ///   `reader.json.predictions` RFC 6901 JSON pointers (empty or starting with `/`); `reader.json.score_key`
    ///   and `reader.json.label_key` not empty;
    /// - `drift`: see [`DriftConfig::check`] (thresholds within their method's range, `dataset_drift_share` in
    ///   [0, 1], methods that apply to their kind);
    /// - `quality.threshold` and `predictions.threshold` finite, their `positive_label` not empty;
    /// - `history.max_windows` at least 1, `history.detector` thresholds above 0, its window counts at least 1
    ///   and `recent_windows` at least `min_reference` (else the recent-history fallback never has enough).
    ///
    /// # Errors
    ///
    /// A [`SettingsError`] naming the first offending field, its value and the allowed range.
    pub fn check(&self) -> Result<(), SettingsError> {
        if self.reader.max_line_bytes == 0 {
            return Err(SettingsError::new("reader.max_line_bytes", "0 is outside [1, inf)"));
        }
        self.reader
            .json
            .check()
            .map_err(|(field, why)| SettingsError::new(format!("reader.json.{field}"), why))?;
        self.drift.check()?;
        let outputs = [
            (
                "quality",
                self.quality.as_ref().map(|q| (q.threshold, &q.positive_label)),
            ),
            (
                "predictions",
                self.predictions.as_ref().map(|p| (p.threshold, &p.positive_label)),
            ),
        ];
        for (section, values) in outputs {
            let Some((threshold, positive_label)) = values else {
                continue;
            };
            if !threshold.is_finite() {
                return Err(SettingsError::new(
                    format!("{section}.threshold"),
                    format!("{threshold} is not a finite number"),
                ));
            }
            if positive_label.is_empty() {
                return Err(SettingsError::new(
                    format!("{section}.positive_label"),
                    "must not be empty",
                ));
            }
        }
        let history = &self.history;
        if history.max_windows == 0 {
            return Err(SettingsError::new("history.max_windows", "0 is outside [1, inf)"));
        }
        let d = &history.detector;
        for (field, value) in [("threshold", d.threshold), ("shift_threshold", d.shift_threshold)] {
            if !(value.is_finite() && value > 0.0) {
                return Err(SettingsError::new(
                    format!("history.detector.{field}"),
                    format!("{value} is outside (0, inf)"),
                ));
            }
        }
        let counts = [
            ("shift_windows", d.shift_windows),
            ("min_reference", d.min_reference),
            ("recent_windows", d.recent_windows),
        ];
        for (field, value) in counts {
            if value == 0 {
                return Err(SettingsError::new(
                    format!("history.detector.{field}"),
                    "0 is outside [1, inf)",
                ));
            }
        }
        if d.recent_windows < d.min_reference {
            return Err(SettingsError::new(
                "history.detector.recent_windows",
                format!(
                    "{} is below min_reference ({}): the recent-history fallback could never be used",
                    d.recent_windows, d.min_reference
                ),
            ));
        }
        Ok(())
    }

    /// [`Self::check`], and the settings that name the baseline's features: each key of `drift.features` names
    /// a feature of `baseline` (of its statistics or its constraints; a typo would otherwise silently configure
    /// nothing), and its method applies to that feature's type.
    ///
    /// # Errors
    ///
    /// A [`SettingsError`] naming the first offending field.
    pub fn validate(&self, baseline: &Baseline) -> Result<(), SettingsError> {
        self.check()?;
        for (name, choice) in &self.drift.features {
            let field = || format!("drift.features.{name}");
            let inferred = baseline
                .statistics
                .feature(name)
                .map(|f| f.inferred_type)
                .or_else(|| baseline.constraints.feature(name).and_then(|f| f.inferred_type));
            let known = inferred.is_some() || baseline.constraints.feature(name).is_some();
            if !known {
                let mut names: Vec<&str> = baseline
                    .constraints
                    .features
                    .iter()
                    .map(|f| f.name.as_str())
                    .chain(baseline.statistics.features.iter().map(|f| f.name.as_str()))
                    .filter(|n| !is_prediction_feature(n) || baseline.statistics.feature(n).is_some())
                    .collect();
                names.sort_unstable();
                names.dedup();
                let shown = names.iter().take(10).copied().collect::<Vec<_>>().join(", ");
                let more = if names.len() > 10 { ", ..." } else { "" };
                return Err(SettingsError::new(
                    field(),
                    format!("names no feature of the baseline (its features: {shown}{more})"),
                ));
            }
            let applies = match inferred {
                Some(t) if t.is_numeric() => choice.method.applies_to_numbers(),
                Some(crate::profile::InferredType::String) => choice.method.applies_to_strings(),
                _ => true,
            };
            if !applies {
                return Err(SettingsError::new(
                    format!("{}.method", field()),
                    format!(
                        "{} does not compare {} features",
                        choice.method.as_str(),
                        if inferred.is_some_and(|t| t.is_numeric()) {
                            "numeric"
                        } else {
                            "string"
                        }
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// What the endpoint predicts, for reading its outputs without ground truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictionConfig {
    /// `BinaryClassification`, `MulticlassClassification` or `Regression`.
    pub problem_type: ProblemType,
    /// A score at or above it predicts the positive class (binary; default 0.5).
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// The positive class (binary; default `"1"`).
    #[serde(default = "default_positive_label")]
    pub positive_label: String,
}

impl PredictionConfig {
    /// The outputs of a `problem_type` model, with the default threshold and positive label.
    pub fn new(problem_type: ProblemType) -> Self {
        Self {
            problem_type,
            threshold: default_threshold(),
            positive_label: default_positive_label(),
        }
    }

    /// How outputs are decided.
    pub fn spec(&self) -> ProblemSpec {
        spec_of(self.problem_type, self.threshold, &self.positive_label)
    }
}

fn spec_of(problem_type: ProblemType, threshold: f64, positive_label: &str) -> ProblemSpec {
    match problem_type {
        ProblemType::BinaryClassification => ProblemSpec::Binary(BinaryOptions {
            positive_label: positive_label.to_owned(),
            threshold,
            ..BinaryOptions::default()
        }),
        ProblemType::MulticlassClassification => ProblemSpec::Multiclass,
        ProblemType::Regression => ProblemSpec::Regression,
    }
}

/// How predictions are judged against ground truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityConfig {
    /// `BinaryClassification`, `MulticlassClassification` or `Regression`.
    pub problem_type: ProblemType,
    /// A score at or above it predicts the positive class (binary; default 0.5).
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// The positive class (binary; default `"1"`).
    #[serde(default = "default_positive_label")]
    pub positive_label: String,
    /// Labels arrive late: label files up to this many hours after the window's end are read (default 24).
    #[serde(default = "default_label_lookback_hours")]
    pub label_lookback_hours: u32,
    /// Fewer labelled predictions than this in a window and its realised metrics are not measured: not published,
    /// not checked against the constraints, not written as `model-quality/statistics.json` (default
    /// [`DEFAULT_MIN_LABELS`]; 0 is taken as 1).
    #[serde(default = "default_min_labels")]
    pub min_labels: u64,
}

/// The default least number of labelled predictions a window's realised quality is measured on. Labels arrive
/// hours late: a window evaluated before they came has none, and its accuracy is not 0. At 30 pairs the standard
/// error of an accuracy near 0.8 is already 0.07, so fewer would turn sampling noise into quality alarms.
pub const DEFAULT_MIN_LABELS: u64 = 30;

fn default_min_labels() -> u64 {
    DEFAULT_MIN_LABELS
}

fn default_threshold() -> f64 {
    0.5
}

fn default_positive_label() -> String {
    "1".to_owned()
}

fn default_label_lookback_hours() -> u32 {
    24
}

impl QualityConfig {
    /// The quality settings for `problem_type` with the defaults.
    pub fn new(problem_type: ProblemType) -> Self {
        Self {
            problem_type,
            threshold: default_threshold(),
            positive_label: default_positive_label(),
            label_lookback_hours: default_label_lookback_hours(),
            min_labels: default_min_labels(),
        }
    }

    /// The join's problem specification.
    pub fn spec(&self) -> ProblemSpec {
        spec_of(self.problem_type, self.threshold, &self.positive_label)
    }

    /// The hours of label folders to read for a capture window.
    pub fn label_window(&self, window: &Window) -> Window {
        Window {
            start: window.start,
            end: window.end + chrono::Duration::hours(i64::from(self.label_lookback_hours)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{DatasetProfile, FeatureProfile};
    use serde_json::json;

    /// A baseline of a numeric `x` and a string `s`.
    fn baseline() -> Baseline {
        let mut p = DatasetProfile::new([("x".to_owned(), None), ("s".to_owned(), None)]);
        for i in 0..100 {
            p.features[0].add_number(f64::from(i), false);
            p.features[1].add_string(["a", "b"][i as usize % 2]);
        }
        p.item_count = 100;
        p.features.iter_mut().for_each(FeatureProfile::settle);
        Baseline::from_profile(&p)
    }

    /// The message of the configuration `json` refused as it is read.
    fn refused(json: serde_json::Value) -> String {
        let err = serde_json::from_value::<EvaluationConfig>(json.clone()).expect_err(&json.to_string());
        err.to_string()
    }

    #[test]
    fn the_defaults_and_a_full_sensible_configuration_are_accepted() {
        let baseline = baseline();
        EvaluationConfig::default().validate(&baseline).unwrap();
        let empty: EvaluationConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, EvaluationConfig::default());
        // Unknown fields are still refused.
        assert!(refused(json!({"drfit": {}})).contains("unknown field `drfit`"));
        let config: EvaluationConfig = serde_json::from_value(json!({
            "reader": {"max_line_bytes": 1000, "json": {"features": "/data/instances", "predictions": "",
                       "score_key": "score"}},
            "drift": {"numeric": {"method": "ks", "threshold": 0.01},
                      "categorical": {"method": "psi", "threshold": 0.25},
                      "features": {"x": {"method": "wasserstein_normed", "threshold": 0.0},
                                   "s": {"method": "jensen_shannon", "threshold": 1.0}},
                      "dataset_drift_share": 1.0, "min_current_values": 1},
            "quality": {"problem_type": "BinaryClassification", "threshold": 0.8},
            "predictions": {"problem_type": "Regression"},
            "history": {"max_windows": 1, "detector": {"min_reference": 3, "recent_windows": 3}}
        }))
        .unwrap();
        config.validate(&baseline).unwrap();
        // A serialised configuration reads back.
        let back: EvaluationConfig = serde_json::from_value(serde_json::to_value(&config).unwrap()).unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn absurd_settings_are_refused_as_they_are_read_with_the_field_and_the_range() {
        let cases = [
            (
                json!({"drift": {"dataset_drift_share": 1.5}}),
                "drift.dataset_drift_share: 1.5 is outside [0, 1]",
            ),
            (
                json!({"drift": {"dataset_drift_share": -0.1}}),
                "drift.dataset_drift_share: -0.1 is outside [0, 1]",
            ),
            (
                json!({"drift": {"numeric": {"method": "ks", "threshold": 0.0}}}),
                "drift.numeric.threshold: 0 is outside (0, 1) (the range of ks)",
            ),
            (
                json!({"drift": {"categorical": {"method": "chi_square", "threshold": 1.0}}}),
                "drift.categorical.threshold: 1 is outside (0, 1) (the range of chi_square)",
            ),
            (
                json!({"drift": {"features": {"x": {"method": "psi", "threshold": -0.2}}}}),
                "drift.features.x.threshold: -0.2 is outside [0, inf) (the range of psi)",
            ),
            (
                json!({"drift": {"features": {"s": {"method": "jensen_shannon", "threshold": 1.5}}}}),
                "drift.features.s.threshold: 1.5 is outside [0, 1] (the range of jensen_shannon)",
            ),
            (
                json!({"drift": {"numeric": {"method": "chi_square"}}}),
                "drift.numeric.method: chi_square does not compare numbers",
            ),
            (
                json!({"drift": {"categorical": {"method": "ks"}}}),
                "drift.categorical.method: ks does not compare categories",
            ),
            (
                json!({"reader": {"max_line_bytes": 0}}),
                "reader.max_line_bytes: 0 is outside [1, inf)",
            ),
            (
                json!({"reader": {"json": {"features": "data/instances"}}}),
                r#"reader.json.features: "data/instances" is not a JSON pointer: it must be empty or start with "/" ("/data/instances"?)"#,
            ),
            (
                json!({"reader": {"json": {"predictions": "/outputs/~2"}}}),
                r#"reader.json.predictions: "/outputs/~2" is not a JSON pointer: "~" must be followed by 0 or 1"#,
            ),
            (
                json!({"reader": {"json": {"label_key": ""}}}),
                "reader.json.label_key: must not be empty",
            ),
            (
                json!({"quality": {"problem_type": "BinaryClassification", "positive_label": ""}}),
                "quality.positive_label: must not be empty",
            ),
            (
                json!({"history": {"max_windows": 0}}),
                "history.max_windows: 0 is outside [1, inf)",
            ),
            (
                json!({"history": {"detector": {"threshold": -3.5}}}),
                "history.detector.threshold: -3.5 is outside (0, inf)",
            ),
            (
                json!({"history": {"detector": {"shift_windows": 0}}}),
                "history.detector.shift_windows: 0 is outside [1, inf)",
            ),
            (
                json!({"history": {"detector": {"min_reference": 5, "recent_windows": 4}}}),
                "history.detector.recent_windows: 4 is below min_reference (5): the recent-history fallback could \
                 never be used",
            ),
        ];
        for (json, expected) in cases {
            let message = refused(json);
            assert!(message.starts_with(expected), "{message}\nexpected: {expected}");
        }
        // `min_current_values` keeps its own message, from when it was first refused.
        assert!(refused(json!({"drift": {"min_current_values": 0}})).contains("min_current_values"));
    }

    #[test]
    fn settings_built_in_code_are_checked_too() {
        let mut config = EvaluationConfig::default();
        config.drift.dataset_drift_share = Some(2.0);
        assert_eq!(
            config.check().unwrap_err(),
            SettingsError::new("drift.dataset_drift_share", "2 is outside [0, 1]")
        );
        let config = EvaluationConfig {
            predictions: Some(PredictionConfig {
                threshold: f64::INFINITY,
                ..PredictionConfig::new(ProblemType::BinaryClassification)
            }),
            ..EvaluationConfig::default()
        };
        assert_eq!(
            config.validate(&baseline()).unwrap_err().to_string(),
            "predictions.threshold: inf is not a finite number"
        );
        let mut config = EvaluationConfig::default();
        config.drift.min_current_values = Some(0);
        assert_eq!(config.check().unwrap_err().field, "drift.min_current_values");
    }

    #[test]
    fn drift_features_must_name_a_feature_of_the_baseline_and_suit_its_type() {
        let baseline = baseline();
        let config: EvaluationConfig =
            serde_json::from_value(json!({"drift": {"features": {"X": {"method": "ks"}}}})).unwrap();
        assert_eq!(
            config.validate(&baseline).unwrap_err().to_string(),
            "drift.features.X: names no feature of the baseline (its features: s, x)"
        );
        let config: EvaluationConfig =
            serde_json::from_value(json!({"drift": {"features": {"s": {"method": "mann_whitney_u"}}}})).unwrap();
        assert_eq!(
            config.validate(&baseline).unwrap_err().to_string(),
            "drift.features.s.method: mann_whitney_u does not compare string features"
        );
        let config: EvaluationConfig =
            serde_json::from_value(json!({"drift": {"features": {"x": {"method": "unseen_share"}}}})).unwrap();
        assert_eq!(
            config.validate(&baseline).unwrap_err().to_string(),
            "drift.features.x.method: unseen_share does not compare numeric features"
        );
        // A feature the constraints name but the statistics do not describe is still a feature of the baseline.
        let mut partial = baseline.clone();
        partial.statistics.features.retain(|f| f.name != "s");
        let config: EvaluationConfig =
            serde_json::from_value(json!({"drift": {"features": {"s": {"method": "psi"}}}})).unwrap();
        config.validate(&partial).unwrap();
    }
}
