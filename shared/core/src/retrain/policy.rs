//! The retraining policy of one model: one JSON file, read once and validated.
//!
//! # Format
//!
//! A JSON object with the fields of [`RetrainPolicy`]; unknown fields are rejected so that a typo does not
//! silently fall back to a default. Only `model` and `budget` are required: a budget is a spending decision, so
//! it has no default.
//!
//! ```json
//! {"model": "churn",
//!  "checks": {"quality": {"metrics": ["f1", "accuracy"]}, "drift_share": {"above": 0.5},
//!             "drifted_features": {"features": ["income", "region"], "min_drifted": 1},
//!             "data_quality": {"check_types": ["completeness_check"], "features": ["income"]}},
//!  "consecutive_windows": 3, "min_interval_hours": 24, "max_signal_age_hours": 6,
//!  "budget": {"monthly_training_hours": 40, "estimated_hours_per_job": 2}}
//! ```
//!
//! At most one training job per model runs at a time. That rule is not configurable: it is what makes a storm of
//! repeated alarms launch a single job.

use serde::{Deserialize, Serialize};

use crate::violations::CheckType;

/// Why a policy was rejected.
#[derive(Debug, thiserror::Error)]
pub enum RetrainPolicyError {
    /// The JSON is malformed or has unknown or mistyped fields.
    #[error("retrain policy JSON is invalid: {0}")]
    Json(#[source] serde_json::Error),
    /// A field's value is out of range or inconsistent with another.
    #[error("retrain policy for model {model}: {field}: {why}")]
    Invalid {
        /// The model the policy is for.
        model: String,
        /// The offending field.
        field: &'static str,
        /// What is wrong.
        why: String,
    },
}

fn default_true() -> bool {
    true
}
fn default_consecutive_windows() -> u32 {
    // Three hourly windows in a row: one bad hour (a batch of odd traffic, a late label file) does not retrain.
    3
}
fn default_min_interval_hours() -> u32 {
    24
}
fn default_max_signal_age_hours() -> u32 {
    // A notification replayed hours later must not launch on what was true then.
    6
}
fn default_drift_share_above() -> f64 {
    0.5
}
fn default_min_drifted() -> u32 {
    1
}

/// A check of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// A constrained model-quality metric violated its threshold.
    Quality,
    /// The share of drifted features was above the threshold.
    DriftShare,
    /// Enough of the named features drifted.
    DriftedFeatures,
    /// A data-quality violation of a counted type.
    DataQuality,
}

impl Check {
    /// Every check, in the order the decision evaluates them.
    pub const ALL: [Check; 4] = [
        Check::Quality,
        Check::DriftShare,
        Check::DriftedFeatures,
        Check::DataQuality,
    ];

    /// The snake_case name used in reasons, logs and tags.
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Quality => "quality",
            Check::DriftShare => "drift_share",
            Check::DriftedFeatures => "drifted_features",
            Check::DataQuality => "data_quality",
        }
    }
}

/// The model-quality check: fires in a window where a constrained metric is on the wrong side of its threshold
/// (`LessThanThreshold` for accuracy-like metrics, `GreaterThanThreshold` for errors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityCheck {
    /// Whether the check counts (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The metrics that count, by their `statistics.json` name (`f1`, `accuracy`, `mae`); empty (the default):
    /// every constrained metric.
    #[serde(default)]
    pub metrics: Vec<String>,
    /// Windows in a row it must fire in; default: the policy's `consecutive_windows`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_windows: Option<u32>,
}

impl Default for QualityCheck {
    fn default() -> Self {
        Self {
            enabled: true,
            metrics: Vec::new(),
            consecutive_windows: None,
        }
    }
}

/// The data-set drift check: fires in a window where the share of drifted features is above `above`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftShareCheck {
    /// Whether the check counts (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The share of compared features that must have drifted, strictly exceeded (default 0.5, Evidently's
    /// data-set drift share).
    #[serde(default = "default_drift_share_above")]
    pub above: f64,
    /// Windows in a row it must fire in; default: the policy's `consecutive_windows`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_windows: Option<u32>,
}

impl Default for DriftShareCheck {
    fn default() -> Self {
        Self {
            enabled: true,
            above: default_drift_share_above(),
            consecutive_windows: None,
        }
    }
}

/// The named-features check: fires in a window where at least `min_drifted` of `features` drifted. Off while
/// `features` is empty (the default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftedFeaturesCheck {
    /// The features that matter (the model's strongest inputs, say).
    #[serde(default)]
    pub features: Vec<String>,
    /// How many of them must drift in the same window (default 1).
    #[serde(default = "default_min_drifted")]
    pub min_drifted: u32,
    /// Windows in a row it must fire in; default: the policy's `consecutive_windows`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_windows: Option<u32>,
}

impl Default for DriftedFeaturesCheck {
    fn default() -> Self {
        Self {
            features: Vec::new(),
            min_drifted: default_min_drifted(),
            consecutive_windows: None,
        }
    }
}

/// The data-quality check: fires in a window with a violation of one of `check_types` (Model Monitor's names),
/// on one of `features` when given. Off while `check_types` is empty (the default): most data-quality violations
/// are pipeline bugs that retraining would learn instead of fixing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataQualityCheck {
    /// The check types that count, e.g. `completeness_check`, `categorical_values_check`.
    #[serde(default)]
    pub check_types: Vec<CheckType>,
    /// The features that count; empty (the default): every feature.
    #[serde(default)]
    pub features: Vec<String>,
    /// Windows in a row it must fire in; default: the policy's `consecutive_windows`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_windows: Option<u32>,
}

/// Which checks count. Each fires or not per window; a check that fires in enough windows in a row launches.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    /// Model quality (default: on, every constrained metric).
    #[serde(default)]
    pub quality: QualityCheck,
    /// Data-set drift share (default: on, above 0.5).
    #[serde(default)]
    pub drift_share: DriftShareCheck,
    /// Named features drifted (default: off).
    #[serde(default)]
    pub drifted_features: DriftedFeaturesCheck,
    /// Data-quality violations (default: off).
    #[serde(default)]
    pub data_quality: DataQualityCheck,
}

/// What retraining may cost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Training hours all jobs launched in one calendar month (UTC) may use together, as the adapter records them
    /// (for example DescribeTrainingJob's `BillableTimeInSeconds` / 3600).
    pub monthly_training_hours: f64,
    /// Hours one job is expected to use: a launch needs this much left in the month, and a running job or a
    /// finished one whose hours were not recorded counts this much.
    pub estimated_hours_per_job: f64,
}

/// The retraining policy of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrainPolicy {
    /// The model (its Model Package Group name): names its training jobs and its errors.
    pub model: String,
    /// Whether the policy may launch at all (default true); false holds every decision, with the reason logged.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Which checks count.
    #[serde(default)]
    pub checks: Checks,
    /// Windows in a row a check must fire in (default 3); a missing window (a gap) breaks the run.
    #[serde(default = "default_consecutive_windows")]
    pub consecutive_windows: u32,
    /// Least time from one launch to the next, whatever became of the first (default 24).
    #[serde(default = "default_min_interval_hours")]
    pub min_interval_hours: u32,
    /// The newest window must have ended at most this many hours before the decision (default 6).
    #[serde(default = "default_max_signal_age_hours")]
    pub max_signal_age_hours: u32,
    /// The monthly training budget.
    pub budget: Budget,
}

impl RetrainPolicy {
    /// Reads and validates a policy.
    ///
    /// # Errors
    ///
    /// [`RetrainPolicyError::Json`] for malformed JSON or unknown fields, [`RetrainPolicyError::Invalid`] for
    /// values out of range.
    pub fn from_json(text: &str) -> Result<Self, RetrainPolicyError> {
        let p: Self = serde_json::from_str(text).map_err(RetrainPolicyError::Json)?;
        p.validate()?;
        Ok(p)
    }

    /// Checks ranges and consistency.
    ///
    /// # Errors
    ///
    /// [`RetrainPolicyError::Invalid`] naming the first offending field.
    pub fn validate(&self) -> Result<(), RetrainPolicyError> {
        let bad = |field: &'static str, why: &str| RetrainPolicyError::Invalid {
            model: self.model.clone(),
            field,
            why: why.to_owned(),
        };
        if self.model.trim().is_empty() {
            return Err(bad("model", "must not be empty"));
        }
        let windows = [
            ("consecutive_windows", Some(self.consecutive_windows)),
            (
                "checks.quality.consecutive_windows",
                self.checks.quality.consecutive_windows,
            ),
            (
                "checks.drift_share.consecutive_windows",
                self.checks.drift_share.consecutive_windows,
            ),
            (
                "checks.drifted_features.consecutive_windows",
                self.checks.drifted_features.consecutive_windows,
            ),
            (
                "checks.data_quality.consecutive_windows",
                self.checks.data_quality.consecutive_windows,
            ),
        ];
        for (field, n) in windows {
            if n == Some(0) {
                return Err(bad(field, "must be at least 1"));
            }
        }
        let above = self.checks.drift_share.above;
        if !(0.0..1.0).contains(&above) {
            return Err(bad("checks.drift_share.above", "must be in [0, 1)"));
        }
        let f = &self.checks.drifted_features;
        let distinct: std::collections::BTreeSet<&String> = f.features.iter().collect();
        if !f.features.is_empty() && (f.min_drifted == 0 || f.min_drifted as usize > distinct.len()) {
            return Err(bad(
                "checks.drifted_features.min_drifted",
                "must be in 1..=the number of distinct features",
            ));
        }
        if self.enabled && self.active_checks() == 0 {
            return Err(bad("checks", "no check is enabled: the policy could never launch"));
        }
        let b = &self.budget;
        if !(b.monthly_training_hours.is_finite() && b.monthly_training_hours >= 0.0) {
            return Err(bad("budget.monthly_training_hours", "must be a finite number >= 0"));
        }
        if !(b.estimated_hours_per_job.is_finite() && b.estimated_hours_per_job > 0.0) {
            return Err(bad("budget.estimated_hours_per_job", "must be a finite number > 0"));
        }
        if b.estimated_hours_per_job > b.monthly_training_hours {
            return Err(bad(
                "budget.estimated_hours_per_job",
                "exceeds monthly_training_hours: the policy could never launch",
            ));
        }
        Ok(())
    }

    /// Whether a check can fire: quality and drift share while enabled, the others while they name something.
    pub fn is_active(&self, check: Check) -> bool {
        let c = &self.checks;
        match check {
            Check::Quality => c.quality.enabled,
            Check::DriftShare => c.drift_share.enabled,
            Check::DriftedFeatures => !c.drifted_features.features.is_empty(),
            Check::DataQuality => !c.data_quality.check_types.is_empty(),
        }
    }

    /// How many checks can fire.
    pub fn active_checks(&self) -> usize {
        Check::ALL.into_iter().filter(|c| self.is_active(*c)).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"model":"churn","budget":{"monthly_training_hours":10,"estimated_hours_per_job":2}}"#;

    #[test]
    fn defaults_are_the_documented_ones() {
        let p = RetrainPolicy::from_json(MINIMAL).unwrap();
        assert!(p.enabled);
        assert_eq!(
            (p.consecutive_windows, p.min_interval_hours, p.max_signal_age_hours),
            (3, 24, 6)
        );
        assert!(p.checks.quality.enabled && p.checks.quality.metrics.is_empty());
        assert!(p.checks.drift_share.enabled);
        assert_eq!(p.checks.drift_share.above, 0.5);
        assert!(p.checks.drifted_features.features.is_empty());
        assert_eq!(p.checks.drifted_features.min_drifted, 1);
        assert!(p.checks.data_quality.check_types.is_empty());
        assert_eq!(p.active_checks(), 2);
    }

    #[test]
    fn the_module_example_parses() {
        let p = RetrainPolicy::from_json(
            r#"{"model": "churn",
                "checks": {"quality": {"metrics": ["f1", "accuracy"]}, "drift_share": {"above": 0.5},
                           "drifted_features": {"features": ["income", "region"], "min_drifted": 1},
                           "data_quality": {"check_types": ["completeness_check"], "features": ["income"]}},
                "consecutive_windows": 3, "min_interval_hours": 24, "max_signal_age_hours": 6,
                "budget": {"monthly_training_hours": 40, "estimated_hours_per_job": 2}}"#,
        )
        .unwrap();
        assert_eq!(p.checks.data_quality.check_types, vec![CheckType::CompletenessCheck]);
        assert_eq!(p.checks.data_quality.features, vec!["income".to_owned()]);
        assert_eq!(p.checks.quality.metrics, vec!["f1".to_owned(), "accuracy".to_owned()]);
        assert_eq!(p.active_checks(), 4);
    }

    #[test]
    fn unknown_fields_and_bad_values_are_rejected() {
        let typo =
            r#"{"model":"m","min_interval_hour":1,"budget":{"monthly_training_hours":1,"estimated_hours_per_job":1}}"#;
        assert!(matches!(
            RetrainPolicy::from_json(typo),
            Err(RetrainPolicyError::Json(_))
        ));
        let nested = r#"{"model":"m","checks":{"quality":{"metric":["f1"]}},
                         "budget":{"monthly_training_hours":1,"estimated_hours_per_job":1}}"#;
        assert!(matches!(
            RetrainPolicy::from_json(nested),
            Err(RetrainPolicyError::Json(_))
        ));
        let field_of = |json: &str| match RetrainPolicy::from_json(json) {
            Err(RetrainPolicyError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field_of(r#"{"model":"m","budget":{"monthly_training_hours":1,"estimated_hours_per_job":2}}"#),
            "budget.estimated_hours_per_job"
        );
        assert_eq!(
            field_of(
                r#"{"model":"m","consecutive_windows":0,
                    "budget":{"monthly_training_hours":4,"estimated_hours_per_job":2}}"#
            ),
            "consecutive_windows"
        );
        assert_eq!(
            field_of(
                r#"{"model":"m","checks":{"drift_share":{"above":1.0}},
                    "budget":{"monthly_training_hours":4,"estimated_hours_per_job":2}}"#
            ),
            "checks.drift_share.above"
        );
        assert_eq!(
            field_of(
                r#"{"model":"m","checks":{"quality":{"enabled":false},"drift_share":{"enabled":false}},
                    "budget":{"monthly_training_hours":4,"estimated_hours_per_job":2}}"#
            ),
            "checks"
        );
        assert_eq!(
            field_of(
                r#"{"model":"m","checks":{"drifted_features":{"features":["a"],"min_drifted":2}},
                    "budget":{"monthly_training_hours":4,"estimated_hours_per_job":2}}"#
            ),
            "checks.drifted_features.min_drifted"
        );
        // A feature named twice counts once.
        assert_eq!(
            field_of(
                r#"{"model":"m","checks":{"drifted_features":{"features":["a","a"],"min_drifted":2}},
                    "budget":{"monthly_training_hours":4,"estimated_hours_per_job":2}}"#
            ),
            "checks.drifted_features.min_drifted"
        );
    }
}
