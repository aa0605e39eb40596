//! What the retraining decision looks at: per evaluated window, its data-quality violations, its drift and its
//! model-quality values against their thresholds.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::drift::DriftReport;
use crate::quality::report::{ComparisonOperator, ModelQualityConstraints, ModelQualityStatistics};
use crate::violations::{CheckType, Violations};
use crate::window::Window;

/// One data-quality violation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataQualitySignal {
    /// Model Monitor's check type.
    pub check_type: CheckType,
    /// The feature it is about.
    pub feature: String,
}

/// One constrained model-quality metric of a window: its value and its constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualitySignal {
    /// The metric's `statistics.json` name.
    pub metric: String,
    /// Its value in the window.
    pub value: f64,
    /// The constraint's threshold.
    pub threshold: f64,
    /// The constraint's operator: the metric is violated when `value <operator> threshold`.
    pub operator: ComparisonOperator,
}

impl QualitySignal {
    /// Whether the value violates the constraint (NaN never does).
    pub fn violated(&self) -> bool {
        self.operator.violated_by(self.value, self.threshold)
    }
}

/// What one evaluated window showed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSignals {
    /// The window's start.
    pub start: DateTime<Utc>,
    /// The window's end (the next window of a run starts here; a later start is a gap).
    pub end: DateTime<Utc>,
    /// Data-quality violations.
    #[serde(default)]
    pub data_quality: Vec<DataQualitySignal>,
    /// The share of compared features that drifted; `None` when drift was not computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_share: Option<f64>,
    /// The features that drifted.
    #[serde(default)]
    pub drifted_features: Vec<String>,
    /// Every constrained model-quality metric, violated or not; empty when the window had no ground truth.
    #[serde(default)]
    pub model_quality: Vec<QualitySignal>,
}

impl WindowSignals {
    /// A window that showed nothing (yet).
    pub fn quiet(window: Window) -> Self {
        Self {
            start: window.start,
            end: window.end,
            data_quality: Vec::new(),
            drift_share: None,
            drifted_features: Vec::new(),
            model_quality: Vec::new(),
        }
    }

    /// The signals of an evaluation's reports: `constraint_violations.json`, `drift.json` and, when the window
    /// had ground truth, the model-quality statistics with the constraints they were checked against.
    pub fn from_reports(
        window: Window,
        violations: &Violations,
        drift: &DriftReport,
        quality: Option<(&ModelQualityStatistics, &ModelQualityConstraints)>,
    ) -> Self {
        let mut out = Self::quiet(window);
        out.data_quality = violations
            .violations
            .iter()
            .map(|v| DataQualitySignal {
                check_type: v.constraint_check_type,
                feature: v.feature_name.clone(),
            })
            .collect();
        out.drift_share = (drift.compared > 0).then_some(drift.drift_share);
        out.drifted_features = drift
            .features
            .iter()
            .filter(|f| f.drifted)
            .map(|f| f.feature.clone())
            .collect();
        if let Some((stats, constraints)) = quality {
            for (problem, block) in stats.blocks() {
                let Some(map) = constraints.for_problem(problem) else {
                    continue;
                };
                for (name, c) in map {
                    if let Some(m) = block.metrics.get(name) {
                        out.model_quality.push(QualitySignal {
                            metric: name.clone(),
                            value: m.value,
                            threshold: c.threshold,
                            operator: c.comparison_operator,
                        });
                    }
                }
            }
        }
        out
    }
}

/// The recent windows of one model, in any order (the decision sorts them by start; of two with the same start
/// the later in the list wins, as a re-run replaces a window).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signals {
    /// The windows.
    pub windows: Vec<WindowSignals>,
}

impl Signals {
    /// The windows sorted by start, one per start.
    pub fn sorted(&self) -> Vec<&WindowSignals> {
        let mut out: Vec<&WindowSignals> = Vec::with_capacity(self.windows.len());
        let mut order: Vec<usize> = (0..self.windows.len()).collect();
        // Stable sort: of equal starts, list order is kept, and the last one replaces the others below.
        order.sort_by_key(|&i| self.windows[i].start);
        for i in order {
            let w = &self.windows[i];
            match out.last_mut() {
                Some(last) if last.start == w.start => *last = w,
                _ => out.push(w),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::drift::FeatureDrift;
    use crate::quality::ProblemType;
    use crate::quality::report::{MetricValue, MetricsBlock, ThresholdConstraint};
    use crate::violations::Violation;

    fn window() -> Window {
        let start = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
        Window {
            start,
            end: start + Duration::hours(1),
        }
    }

    #[test]
    fn from_reports_keeps_violations_drift_and_constrained_metrics() {
        let violations = Violations {
            violations: vec![Violation {
                feature_name: "region".to_owned(),
                constraint_check_type: CheckType::CategoricalValuesCheck,
                description: "d".to_owned(),
            }],
        };
        let feature = |name: &str, drifted: bool| {
            serde_json::from_value::<FeatureDrift>(serde_json::json!({
                "feature": name, "kind": "numeric", "method": "ks", "score": 0.3, "threshold": 0.05,
                "drifted": drifted, "model_monitor_distance": 0.2, "scores": {}, "baseline_count": 10.0,
                "current_count": 10.0}))
            .unwrap()
        };
        let drift = DriftReport {
            features: vec![feature("income", true), feature("age", false)],
            compared: 2,
            drifted: 1,
            drift_share: 0.5,
            ..DriftReport::default()
        };
        let mut metrics = BTreeMap::new();
        for (name, value) in [("f1", 0.61), ("accuracy", 0.9), ("auc", 0.8)] {
            metrics.insert(
                name.to_owned(),
                MetricValue {
                    value,
                    standard_deviation: f64::NAN,
                },
            );
        }
        let stats = ModelQualityStatistics::new(
            ProblemType::BinaryClassification,
            100,
            MetricsBlock {
                confusion_matrix: None,
                metrics,
                other: BTreeMap::new(),
            },
        );
        let constraint = |threshold| ThresholdConstraint {
            threshold,
            comparison_operator: ComparisonOperator::LessThanThreshold,
            additional_properties: None,
        };
        let constraints = ModelQualityConstraints {
            binary_classification_constraints: Some(BTreeMap::from([
                ("f1".to_owned(), constraint(0.7)),
                ("accuracy".to_owned(), constraint(0.8)),
                ("recall".to_owned(), constraint(0.5)),
            ])),
            ..ModelQualityConstraints::default()
        };
        let s = WindowSignals::from_reports(window(), &violations, &drift, Some((&stats, &constraints)));
        assert_eq!(s.data_quality.len(), 1);
        assert_eq!(s.data_quality[0].check_type, CheckType::CategoricalValuesCheck);
        assert_eq!(s.drift_share, Some(0.5));
        assert_eq!(s.drifted_features, vec!["income".to_owned()]);
        // auc is not constrained; recall is constrained but absent from the statistics.
        let got: Vec<(&str, bool)> = s
            .model_quality
            .iter()
            .map(|q| (q.metric.as_str(), q.violated()))
            .collect();
        assert_eq!(got, vec![("accuracy", false), ("f1", true)]);
        let none = WindowSignals::from_reports(window(), &Violations::default(), &DriftReport::default(), None);
        assert_eq!(none.drift_share, None, "nothing compared: no share");
    }

    #[test]
    fn sorted_orders_by_start_and_a_rerun_replaces_its_window() {
        let w = window();
        let mut first = WindowSignals::quiet(w);
        first.drift_share = Some(0.1);
        let mut rerun = WindowSignals::quiet(w);
        rerun.drift_share = Some(0.9);
        let earlier = WindowSignals::quiet(Window {
            start: w.start - Duration::hours(1),
            end: w.start,
        });
        let s = Signals {
            windows: vec![first, earlier.clone(), rerun],
        };
        let sorted = s.sorted();
        assert_eq!(sorted.len(), 2);
        assert_eq!(sorted[0], &earlier);
        assert_eq!(sorted[1].drift_share, Some(0.9));
    }
}
