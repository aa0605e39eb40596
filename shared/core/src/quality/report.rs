//! Model Monitor's model-quality files and data: `statistics.json`, `constraints.json`, the violations of a check,
//! and the CloudWatch metrics.
//!
//! # Format
//!
//! `statistics.json` (Model Monitor's "Model quality metrics" documentation page):
//!
//! ```json
//! {"version": 0.0,
//!  "dataset": {"item_count": 201},
//!  "binary_classification_metrics": {
//!     "confusion_matrix": {"0": {"0": 173, "1": 0}, "1": {"0": 12, "1": 16}},
//!     "f1": {"value": 0.727, "standard_deviation": "NaN"}, ...}}
//! ```
//!
//! One of `binary_classification_metrics`, `multiclass_classification_metrics`, `regression_metrics`; the confusion
//! matrix is keyed actual label, then predicted label; each metric is `{"value", "standard_deviation"}` where a
//! non-finite number is written as the string `"NaN"` (`"Infinity"`, `"-Infinity"`) as Model Monitor writes it,
//! and either form is read. Keys this module does not model (`receiver_operating_characteristic_curve`,
//! `precision_recall_curve`, ...) are kept on reading and written back. `version` and `dataset` are optional on
//! reading.
//!
//! `constraints.json`:
//!
//! ```json
//! {"version": 0.0,
//!  "binary_classification_constraints": {"f1": {"threshold": 0.9, "comparison_operator": "LessThanThreshold"}}}
//! ```
//!
//! with `multiclass_classification_constraints` and `regression_constraints` likewise. A constraint is violated
//! when `value <operator> threshold` holds, e.g. `LessThanThreshold`: the metric fell below the threshold.
//!
//! Violations are `constraint_violations.json` entries as Model Monitor's model-quality checks write them:
//! `{"metric_name": "f1", "constraint_check_type": "LessThanThreshold", "description": "Metric f1 with 0.5 was
//! LessThanThreshold 0.9"}` (the check type is the constraint's operator).
//!
//! CloudWatch: every finite metric of the statistics, under [`MODEL_METRICS_NAMESPACE`], named as its key in
//! `statistics.json` (`f1`, `auc`, `au_prc`, `weighted_f1`, `mae`, ...), which are Model Monitor's metric names.

use std::collections::BTreeMap;

use serde::de::Deserializer;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ProblemType;
use crate::metrics::{MODEL_METRICS_NAMESPACE, MetricDatum, MetricScope, Unit};

/// Serde for an `f64` that Model Monitor writes as a string when not finite.
mod lenient_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_nan() {
            s.serialize_str("NaN")
        } else if v.is_infinite() {
            s.serialize_str(if *v > 0.0 { "Infinity" } else { "-Infinity" })
        } else {
            s.serialize_f64(*v)
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(f64),
        Text(String),
        Null(()),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match Raw::deserialize(d)? {
            Raw::Number(v) => Ok(v),
            Raw::Null(()) => Ok(f64::NAN),
            Raw::Text(t) => match t.as_str() {
                "NaN" | "nan" => Ok(f64::NAN),
                "Infinity" | "inf" => Ok(f64::INFINITY),
                "-Infinity" | "-inf" => Ok(f64::NEG_INFINITY),
                other => other
                    .parse()
                    .map_err(|_| serde::de::Error::custom("expected a number or \"NaN\"")),
            },
        }
    }
}

fn nan() -> f64 {
    f64::NAN
}

/// One metric of `statistics.json`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricValue {
    #[serde(with = "lenient_f64")]
    pub value: f64,
    /// NaN when unknown (fewer than 200 samples), written `"NaN"`.
    #[serde(with = "lenient_f64", default = "nan")]
    pub standard_deviation: f64,
}

/// A confusion matrix as `statistics.json` writes it: actual label, then predicted label, then the count.
pub type ConfusionMatrix = BTreeMap<String, BTreeMap<String, u64>>;

/// One `*_metrics` object of `statistics.json`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsBlock {
    pub confusion_matrix: Option<ConfusionMatrix>,
    /// The metrics, by Model Monitor's name.
    pub metrics: BTreeMap<String, MetricValue>,
    /// Keys kept as read (curves and anything newer), written back unchanged.
    pub other: BTreeMap<String, Value>,
}

impl MetricsBlock {
    /// A metric's value, if present.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.metrics.get(name).map(|m| m.value)
    }
}

impl Serialize for MetricsBlock {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        if let Some(cm) = &self.confusion_matrix {
            map.serialize_entry("confusion_matrix", cm)?;
        }
        for (k, v) in &self.metrics {
            map.serialize_entry(k, v)?;
        }
        for (k, v) in &self.other {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for MetricsBlock {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = serde_json::Map::<String, Value>::deserialize(d)?;
        let mut block = MetricsBlock::default();
        for (k, v) in raw {
            if k == "confusion_matrix" {
                // Counts may be written as floats by some producers; a non-integral count is an error.
                let cm: BTreeMap<String, BTreeMap<String, f64>> =
                    serde_json::from_value(v).map_err(serde::de::Error::custom)?;
                block.confusion_matrix = Some(
                    cm.into_iter()
                        .map(|(a, row)| (a, row.into_iter().map(|(p, c)| (p, c as u64)).collect()))
                        .collect(),
                );
            } else if v.get("value").is_some() {
                let m: MetricValue = serde_json::from_value(v).map_err(serde::de::Error::custom)?;
                block.metrics.insert(k, m);
            } else {
                block.other.insert(k, v);
            }
        }
        Ok(block)
    }
}

/// The `dataset` object of `statistics.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// Labelled samples evaluated.
    pub item_count: u64,
}

/// Model Monitor's model-quality `statistics.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelQualityStatistics {
    #[serde(default)]
    pub version: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<DatasetInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_classification_metrics: Option<MetricsBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiclass_classification_metrics: Option<MetricsBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regression_metrics: Option<MetricsBlock>,
}

/// Why a model-quality file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{file} is not valid model-quality JSON")]
    Parse {
        file: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot write {file}")]
    Write {
        file: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl ModelQualityStatistics {
    /// Statistics holding one metrics block for `problem`.
    pub fn new(problem: ProblemType, item_count: u64, block: MetricsBlock) -> Self {
        let mut s = ModelQualityStatistics {
            dataset: Some(DatasetInfo { item_count }),
            ..Default::default()
        };
        *s.block_mut(problem) = Some(block);
        s
    }

    fn block_mut(&mut self, problem: ProblemType) -> &mut Option<MetricsBlock> {
        match problem {
            ProblemType::BinaryClassification => &mut self.binary_classification_metrics,
            ProblemType::MulticlassClassification => &mut self.multiclass_classification_metrics,
            ProblemType::Regression => &mut self.regression_metrics,
        }
    }

    /// The blocks present, with their problem types.
    pub fn blocks(&self) -> impl Iterator<Item = (ProblemType, &MetricsBlock)> {
        [
            (ProblemType::BinaryClassification, &self.binary_classification_metrics),
            (
                ProblemType::MulticlassClassification,
                &self.multiclass_classification_metrics,
            ),
            (ProblemType::Regression, &self.regression_metrics),
        ]
        .into_iter()
        .filter_map(|(p, b)| b.as_ref().map(|b| (p, b)))
    }

    /// Reads `statistics.json`.
    ///
    /// # Errors
    ///
    /// [`ReportError::Parse`] when the text is not a model-quality statistics object.
    pub fn from_json(text: &str) -> Result<Self, ReportError> {
        serde_json::from_str(text).map_err(|source| ReportError::Parse {
            file: "statistics.json",
            source,
        })
    }

    /// Writes `statistics.json`, pretty-printed.
    ///
    /// # Errors
    ///
    /// [`ReportError::Write`] if serialisation fails (it does not for values built by this crate).
    pub fn to_json(&self) -> Result<String, ReportError> {
        serde_json::to_string_pretty(self).map_err(|source| ReportError::Write {
            file: "statistics.json",
            source,
        })
    }
}

/// The comparison operators of model-quality constraints. Model Monitor's suggested constraints use
/// `LessThanThreshold` and `GreaterThanThreshold`; the `OrEqualTo` forms (CloudWatch's names) are accepted for
/// hand-written files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ComparisonOperator {
    LessThanThreshold,
    GreaterThanThreshold,
    LessThanOrEqualToThreshold,
    GreaterThanOrEqualToThreshold,
}

impl ComparisonOperator {
    /// Whether `value <operator> threshold` holds, i.e. the constraint is violated. NaN never violates.
    pub fn violated_by(self, value: f64, threshold: f64) -> bool {
        match self {
            ComparisonOperator::LessThanThreshold => value < threshold,
            ComparisonOperator::GreaterThanThreshold => value > threshold,
            ComparisonOperator::LessThanOrEqualToThreshold => value <= threshold,
            ComparisonOperator::GreaterThanOrEqualToThreshold => value >= threshold,
        }
    }

    /// The operator's name as written in files.
    pub fn as_str(self) -> &'static str {
        match self {
            ComparisonOperator::LessThanThreshold => "LessThanThreshold",
            ComparisonOperator::GreaterThanThreshold => "GreaterThanThreshold",
            ComparisonOperator::LessThanOrEqualToThreshold => "LessThanOrEqualToThreshold",
            ComparisonOperator::GreaterThanOrEqualToThreshold => "GreaterThanOrEqualToThreshold",
        }
    }
}

/// One metric constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdConstraint {
    pub threshold: f64,
    pub comparison_operator: ComparisonOperator,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_properties: Option<Value>,
}

/// Constraints by metric name.
pub type ConstraintMap = BTreeMap<String, ThresholdConstraint>;

/// Model Monitor's model-quality `constraints.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelQualityConstraints {
    #[serde(default)]
    pub version: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_classification_constraints: Option<ConstraintMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiclass_classification_constraints: Option<ConstraintMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regression_constraints: Option<ConstraintMap>,
}

impl ModelQualityConstraints {
    /// The constraints for `problem`, if any.
    pub fn for_problem(&self, problem: ProblemType) -> Option<&ConstraintMap> {
        match problem {
            ProblemType::BinaryClassification => self.binary_classification_constraints.as_ref(),
            ProblemType::MulticlassClassification => self.multiclass_classification_constraints.as_ref(),
            ProblemType::Regression => self.regression_constraints.as_ref(),
        }
    }

    /// The problem type the constraints are for: that of their one block (`None` with none or several).
    pub fn problem_type(&self) -> Option<ProblemType> {
        let blocks = [
            (
                ProblemType::BinaryClassification,
                &self.binary_classification_constraints,
            ),
            (
                ProblemType::MulticlassClassification,
                &self.multiclass_classification_constraints,
            ),
            (ProblemType::Regression, &self.regression_constraints),
        ];
        let mut present = blocks.iter().filter(|(_, b)| b.is_some()).map(|(p, _)| *p);
        match (present.next(), present.next()) {
            (Some(p), None) => Some(p),
            _ => None,
        }
    }

    /// Reads `constraints.json`.
    ///
    /// # Errors
    ///
    /// [`ReportError::Parse`] when the text is not a model-quality constraints object (for example an unknown
    /// comparison operator).
    pub fn from_json(text: &str) -> Result<Self, ReportError> {
        serde_json::from_str(text).map_err(|source| ReportError::Parse {
            file: "constraints.json",
            source,
        })
    }

    /// Writes `constraints.json`, pretty-printed.
    ///
    /// # Errors
    ///
    /// [`ReportError::Write`] if serialisation fails (it does not for finite thresholds).
    pub fn to_json(&self) -> Result<String, ReportError> {
        serde_json::to_string_pretty(self).map_err(|source| ReportError::Write {
            file: "constraints.json",
            source,
        })
    }
}

/// How constraints are suggested from a labelled validation set's statistics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SuggestOptions {
    /// Slack in standard deviations: the threshold is `value - k * std` for a metric where higher is better and
    /// `value + k * std` where lower is better (a NaN std counts as 0). The default 0 puts the threshold at the
    /// baseline value itself, which is what Model Monitor's published suggested constraints show (its
    /// documented multiclass example suggests `weighted_precision` 0.6983172269629505 for a baseline value of
    /// 0.6983172269629505); its exact rule is not documented.
    pub std_devs: f64,
}

impl Default for SuggestOptions {
    fn default() -> Self {
        Self { std_devs: 0.0 }
    }
}

/// Whether a lower value of the metric is better (errors and error rates).
pub fn lower_is_better(metric: &str) -> bool {
    matches!(
        metric,
        "false_positive_rate" | "false_negative_rate" | "mae" | "mse" | "rmse" | "mape"
    )
}

/// Suggests constraints from the statistics of a labelled validation set: one per finite metric, `LessThanThreshold`
/// where higher is better and `GreaterThanThreshold` where lower is better, at the threshold of [`SuggestOptions`].
/// The `*_best_constant_classifier` metrics describe the data, not the model, and get no constraint.
pub fn suggest_constraints(stats: &ModelQualityStatistics, options: &SuggestOptions) -> ModelQualityConstraints {
    let mut out = ModelQualityConstraints::default();
    for (problem, block) in stats.blocks() {
        let mut map = ConstraintMap::new();
        for (name, m) in &block.metrics {
            if name.ends_with("_best_constant_classifier") || !m.value.is_finite() {
                continue;
            }
            let slack = if m.standard_deviation.is_finite() {
                options.std_devs * m.standard_deviation
            } else {
                0.0
            };
            let (threshold, op) = if lower_is_better(name) {
                (m.value + slack, ComparisonOperator::GreaterThanThreshold)
            } else {
                (m.value - slack, ComparisonOperator::LessThanThreshold)
            };
            map.insert(
                name.clone(),
                ThresholdConstraint {
                    threshold,
                    comparison_operator: op,
                    additional_properties: None,
                },
            );
        }
        match problem {
            ProblemType::BinaryClassification => out.binary_classification_constraints = Some(map),
            ProblemType::MulticlassClassification => out.multiclass_classification_constraints = Some(map),
            ProblemType::Regression => out.regression_constraints = Some(map),
        }
    }
    out
}

/// One model-quality entry of `constraint_violations.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualityViolation {
    pub metric_name: String,
    /// The violated constraint's operator, e.g. `LessThanThreshold`.
    pub constraint_check_type: String,
    pub description: String,
}

/// The outcome of checking statistics against constraints.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConstraintCheck {
    pub violations: Vec<QualityViolation>,
    /// Constrained metrics that could not be checked: absent from the statistics, or NaN (e.g. AUC of one class).
    pub not_evaluated: Vec<String>,
}

/// Checks every constraint of the statistics' problem types against the statistics' values.
pub fn check_constraints(stats: &ModelQualityStatistics, constraints: &ModelQualityConstraints) -> ConstraintCheck {
    let mut out = ConstraintCheck::default();
    for (problem, block) in stats.blocks() {
        let Some(map) = constraints.for_problem(problem) else {
            continue;
        };
        for (name, c) in map {
            let Some(m) = block.metrics.get(name).filter(|m| !m.value.is_nan()) else {
                out.not_evaluated.push(name.clone());
                continue;
            };
            if c.comparison_operator.violated_by(m.value, c.threshold) {
                let op = c.comparison_operator.as_str();
                let with = if m.standard_deviation.is_finite() {
                    format!("{} +/- {}", m.value, m.standard_deviation)
                } else {
                    m.value.to_string()
                };
                out.violations.push(QualityViolation {
                    metric_name: name.clone(),
                    constraint_check_type: op.to_owned(),
                    description: format!("Metric {name} with {with} was {op} {}", c.threshold),
                });
            }
        }
    }
    out
}

/// The CloudWatch data of the statistics: each finite metric under [`MODEL_METRICS_NAMESPACE`] with its
/// `statistics.json` name, unit `None`.
pub fn quality_metric_data(stats: &ModelQualityStatistics, scope: &MetricScope) -> Vec<MetricDatum> {
    stats
        .blocks()
        .flat_map(|(_, b)| b.metrics.iter())
        .filter(|(_, m)| m.value.is_finite())
        .map(|(name, m)| scope.datum(MODEL_METRICS_NAMESPACE, name.as_str(), m.value, Unit::None))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Model Monitor's documented binary example, abridged (curves kept to check they survive a round trip).
    const DOC_STATISTICS: &str = r#"{
      "version": 0.0,
      "dataset": {"item_count": 4},
      "binary_classification_metrics" : {
        "confusion_matrix" : {"0" : {"0" : 1, "1" : 2}, "1" : {"0" : 0, "1" : 1}},
        "recall" : {"value" : 1.0, "standard_deviation" : "NaN"},
        "precision" : {"value" : 0.3333333333333333, "standard_deviation" : "NaN"},
        "accuracy" : {"value" : 0.5, "standard_deviation" : "NaN"},
        "false_positive_rate" : {"value" : 0.6666666666666666, "standard_deviation" : "NaN"},
        "receiver_operating_characteristic_curve" : {
          "false_positive_rates" : [ 0.0, 0.0, 0.0, 0.0, 0.0, 1.0 ],
          "true_positive_rates" : [ 0.0, 0.25, 0.5, 0.75, 1.0, 1.0 ]},
        "auc" : {"value" : 1.0, "standard_deviation" : "NaN"},
        "f1" : {"value" : 0.5, "standard_deviation" : 0.01},
        "f1_best_constant_classifier" : {"value" : 0.4, "standard_deviation" : "NaN"}
      }
    }"#;

    fn scope() -> MetricScope {
        MetricScope {
            endpoint: "ep".into(),
            schedule: "sched".into(),
            timestamp: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn statistics_round_trip_with_nan_strings_and_unknown_keys() {
        let s = ModelQualityStatistics::from_json(DOC_STATISTICS).unwrap();
        let b = s.binary_classification_metrics.as_ref().unwrap();
        assert_eq!(b.value("precision"), Some(0.3333333333333333));
        assert!(b.metrics["recall"].standard_deviation.is_nan());
        assert_eq!(b.confusion_matrix.as_ref().unwrap()["0"]["1"], 2);
        assert!(b.other.contains_key("receiver_operating_characteristic_curve"));
        let text = s.to_json().unwrap();
        assert!(text.contains(r#""standard_deviation": "NaN""#));
        let back = ModelQualityStatistics::from_json(&text).unwrap();
        // NaN != NaN, so compare the written forms.
        assert_eq!(back.to_json().unwrap(), text);
        assert_eq!(back.dataset.unwrap().item_count, 4);
    }

    #[test]
    fn constraints_are_suggested_checked_and_round_trip() {
        let s = ModelQualityStatistics::from_json(DOC_STATISTICS).unwrap();
        let c = suggest_constraints(&s, &SuggestOptions { std_devs: 2.0 });
        let map = c.binary_classification_constraints.as_ref().unwrap();
        assert_eq!(map["f1"].comparison_operator, ComparisonOperator::LessThanThreshold);
        assert!((map["f1"].threshold - 0.48).abs() < 1e-12, "0.5 - 2 * 0.01");
        assert_eq!(
            map["false_positive_rate"].comparison_operator,
            ComparisonOperator::GreaterThanThreshold
        );
        assert_eq!(map["recall"].threshold, 1.0, "NaN std: no slack");
        assert!(!map.contains_key("f1_best_constant_classifier"));
        let text = c.to_json().unwrap();
        assert!(text.contains(r#""comparison_operator": "LessThanThreshold""#));
        assert_eq!(ModelQualityConstraints::from_json(&text).unwrap(), c);

        // The statistics satisfy their own suggestions.
        assert!(check_constraints(&s, &c).violations.is_empty());

        let strict = ModelQualityConstraints::from_json(
            r#"{"version": 0.0, "binary_classification_constraints": {
                "f1": {"threshold": 0.9, "comparison_operator": "LessThanThreshold"},
                "false_positive_rate": {"threshold": 0.5, "comparison_operator": "GreaterThanThreshold"},
                "accuracy": {"threshold": 0.5, "comparison_operator": "LessThanOrEqualToThreshold"},
                "au_prc": {"threshold": 0.5, "comparison_operator": "LessThanThreshold"}},
               "regression_constraints": {"mae": {"threshold": 1.0, "comparison_operator": "GreaterThanThreshold"}}}"#,
        )
        .unwrap();
        let check = check_constraints(&s, &strict);
        let names: Vec<&str> = check.violations.iter().map(|v| v.metric_name.as_str()).collect();
        assert_eq!(names, vec!["accuracy", "f1", "false_positive_rate"]);
        assert_eq!(check.violations[1].constraint_check_type, "LessThanThreshold");
        assert_eq!(
            check.violations[1].description,
            "Metric f1 with 0.5 +/- 0.01 was LessThanThreshold 0.9"
        );
        assert_eq!(check.not_evaluated, vec!["au_prc".to_owned()]);
        let json = serde_json::to_value(&check.violations[0]).unwrap();
        assert_eq!(json["constraint_check_type"], "LessThanOrEqualToThreshold");
        assert!(
            ModelQualityConstraints::from_json(
                r#"{"binary_classification_constraints": {"f1": {"threshold": 1, "comparison_operator": "Bigger"}}}"#
            )
            .is_err()
        );
    }

    #[test]
    fn cloudwatch_data_has_model_monitors_names_and_skips_nan() {
        let mut s = ModelQualityStatistics::from_json(DOC_STATISTICS).unwrap();
        s.binary_classification_metrics.as_mut().unwrap().metrics.insert(
            "auc".into(),
            MetricValue {
                value: f64::NAN,
                standard_deviation: f64::NAN,
            },
        );
        let data = quality_metric_data(&s, &scope());
        let names: Vec<&str> = data.iter().map(|d| d.metric_name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "accuracy",
                "f1",
                "f1_best_constant_classifier",
                "false_positive_rate",
                "precision",
                "recall"
            ]
        );
        assert!(
            data.iter()
                .all(|d| d.namespace == MODEL_METRICS_NAMESPACE && d.unit == Unit::None)
        );
        assert_eq!(data[1].value, 0.5);
        assert_eq!(data[1].dimensions[0], ("Endpoint".to_owned(), "ep".to_owned()));
    }
}
