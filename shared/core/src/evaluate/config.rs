//! The evaluation's configuration: the `--config` file (JSON) and its defaults.

use serde::{Deserialize, Serialize};

use crate::capture::ReaderConfig;
use crate::drift::DriftConfig;
use crate::history::HistoryConfig;
use crate::quality::{BinaryOptions, ProblemSpec, ProblemType};
use crate::window::Window;

/// The evaluation's configuration (the `--config` file, JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
