//! The data-quality constraint checks, written as Model Monitor's `constraint_violations.json`.
//!
//! # Format
//!
//! `{"violations": [{"feature_name": "x", "constraint_check_type": "data_type_check", "description": "..."}]}`.
//! The check types and thresholds are Model Monitor's: `data_type_check` (share of values of the baseline's type
//! below `datatype_check_threshold`), `completeness_check` (share of values present below the feature's
//! `completeness`), `baseline_drift_check` (the L-infinity distance above `comparison_threshold`),
//! `missing_column_check` and `extra_column_check` (rows narrower or wider than the baseline), and
//! `categorical_values_check` (share of string values inside the baseline's `domains` below
//! `domain_content_threshold`). Descriptions are for people; they follow Model Monitor's wording in spirit. Observed
//! shares are shown rounded down to a tenth of a percent, so that a share that misses its requirement never reads as
//! meeting it (99.96 % is "99.9%", never "100.0%"); requirements are shown with the digits they have.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::baseline::{Constraints, FeatureConstraints};
use crate::drift::{DriftReport, ModelMonitorComparison, model_monitor_distance};
use crate::profile::{DatasetProfile, InferredType};

/// The file name Model Monitor gives the violations.
pub const VIOLATIONS_FILE: &str = "constraint_violations.json";

/// Model Monitor's check types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckType {
    DataTypeCheck,
    CompletenessCheck,
    BaselineDriftCheck,
    MissingColumnCheck,
    ExtraColumnCheck,
    CategoricalValuesCheck,
}

impl CheckType {
    /// The name Model Monitor writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DataTypeCheck => "data_type_check",
            Self::CompletenessCheck => "completeness_check",
            Self::BaselineDriftCheck => "baseline_drift_check",
            Self::MissingColumnCheck => "missing_column_check",
            Self::ExtraColumnCheck => "extra_column_check",
            Self::CategoricalValuesCheck => "categorical_values_check",
        }
    }
}

/// One violation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    pub feature_name: String,
    pub constraint_check_type: CheckType,
    pub description: String,
}

/// `constraint_violations.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Violations {
    pub violations: Vec<Violation>,
}

/// What the checks look at besides the profile.
#[derive(Debug, Clone, Default)]
pub struct ShapeObservations {
    /// Row widths that did not match the baseline, with their counts.
    pub field_count_mismatches: BTreeMap<usize, u64>,
    /// Names in JSON bodies that the baseline does not know, with their counts.
    pub extra_names: BTreeMap<String, u64>,
}

/// Runs every check Model Monitor runs, honouring `evaluate_constraints` (globally and per feature).
pub fn check(
    constraints: &Constraints,
    current: &DatasetProfile,
    drift: &DriftReport,
    shape: &ShapeObservations,
) -> Violations {
    let config = &constraints.monitoring_config;
    let mut out = Vec::new();
    if config.evaluate_constraints.is_some_and(|t| !t.is_enabled()) {
        return Violations { violations: out };
    }
    let comparisons = ModelMonitorComparison::from_constraints(constraints);

    for fc in &constraints.features {
        if !evaluates(fc) {
            continue;
        }
        // The feature's own overrides (in any form AWS writes them) over the data set's configuration.
        let feature_config = constraints.config_for(&fc.name);
        let datatype_threshold = feature_config.datatype_check_threshold.unwrap_or(1.0);
        let domain_threshold = feature_config.domain_content_threshold.unwrap_or(1.0);
        let comparison = comparisons.for_feature(&fc.name);
        let Some(profile) = current.feature(&fc.name) else {
            continue;
        };
        if let Some(expected) = fc.inferred_type.filter(|t| *t != InferredType::Unknown) {
            let share = profile.type_conformance(expected);
            if profile.present() > 0 && share < datatype_threshold {
                out.push(Violation {
                    feature_name: fc.name.clone(),
                    constraint_check_type: CheckType::DataTypeCheck,
                    description: format!(
                        "Data type match requirement is not met. Expected data type: {expected:?}, Expected match: \
                         {}. Observed: Only {} of data is {expected:?}.",
                        required_percent(datatype_threshold),
                        observed_percent(share)
                    ),
                });
            }
        }
        if let Some(expected) = fc.completeness {
            let observed = profile.completeness();
            if profile.total() > 0 && observed < expected {
                out.push(Violation {
                    feature_name: fc.name.clone(),
                    constraint_check_type: CheckType::CompletenessCheck,
                    description: format!(
                        "Data completeness requirement is not met. Expected: {}, Observed: {} of {} values.",
                        required_percent(expected),
                        observed_percent(observed),
                        profile.total()
                    ),
                });
            }
        }
        if let Some(domains) = fc.string_constraints.as_ref().and_then(|s| s.domains.as_ref())
            && let Some(categories) = profile.categories.as_ref().filter(|c| c.total() > 0)
        {
            let inside: u64 = domains.iter().map(|d| categories.count(d)).sum();
            let share = inside as f64 / categories.total() as f64;
            if share < domain_threshold {
                out.push(Violation {
                    feature_name: fc.name.clone(),
                    constraint_check_type: CheckType::CategoricalValuesCheck,
                    description: format!(
                        "Data content check requirement is not met. Expected: {} of values in the baseline \
                             domain of {} values. Observed: {}.",
                        required_percent(domain_threshold),
                        domains.len(),
                        observed_percent(share)
                    ),
                });
            }
        }
        if comparison.enabled
            && let Some(d) = drift.feature(&fc.name)
        {
            let (distance, threshold) = model_monitor_distance(d, &comparison);
            if distance > threshold {
                out.push(Violation {
                    feature_name: fc.name.clone(),
                    constraint_check_type: CheckType::BaselineDriftCheck,
                    description: format!(
                        "Baseline drift distance: {distance} exceeds threshold: {threshold} ({} L-infinity \
                             distance over {} baseline and {} current values).",
                        if comparison.robust { "Robust" } else { "Simple" },
                        d.baseline_count,
                        d.current_count
                    ),
                });
            }
        }
    }

    let width = constraints
        .features
        .iter()
        .filter(|f| !crate::baseline::is_prediction_feature(&f.name))
        .count();
    let narrower: u64 = shape
        .field_count_mismatches
        .iter()
        .filter(|(w, _)| **w < width)
        .map(|(_, n)| n)
        .sum();
    let wider: u64 = shape
        .field_count_mismatches
        .iter()
        .filter(|(w, _)| **w > width)
        .map(|(_, n)| n)
        .sum();
    if narrower > 0 {
        let smallest = shape.field_count_mismatches.keys().next().copied().unwrap_or(0);
        out.push(Violation {
            feature_name: constraints
                .features
                .get(smallest)
                .map(|f| f.name.clone())
                .unwrap_or_default(),
            constraint_check_type: CheckType::MissingColumnCheck,
            description: format!(
                "There are missing columns in current dataset. Number of columns in current dataset: {smallest}, \
                 Number of columns in baseline constraints: {width} ({narrower} rows skipped)."
            ),
        });
    }
    if wider > 0 || !shape.extra_names.is_empty() {
        let widest = shape
            .field_count_mismatches
            .keys()
            .next_back()
            .copied()
            .filter(|w| *w > width);
        let names: Vec<&str> = shape.extra_names.keys().map(String::as_str).take(10).collect();
        out.push(Violation {
            feature_name: names
                .first()
                .map(|s| s.to_string())
                .unwrap_or_else(|| format!("_c{width}")),
            constraint_check_type: CheckType::ExtraColumnCheck,
            description: match widest {
                Some(w) => format!(
                    "There are extra columns in current dataset. Number of columns in current dataset: {w}, Number \
                     of columns in baseline constraints: {width} ({wider} rows skipped)."
                ),
                None => format!("There are extra columns in current dataset: {}.", names.join(", ")),
            },
        });
    }
    Violations { violations: out }
}

/// An observed share as a percentage rounded down to one decimal: a share below a requirement never reads as
/// meeting it, and one below 1 never as "100.0%".
fn observed_percent(share: f64) -> String {
    let mut tenths = (share * 1000.0).floor();
    // The product is rounded in floating point, which can carry it across a tenth either way: step back.
    if tenths / 1000.0 > share {
        tenths -= 1.0;
    } else if (tenths + 1.0) / 1000.0 <= share {
        tenths += 1.0;
    }
    format!("{:.1}%", tenths / 10.0)
}

/// A required share as a percentage with the digits it has (up to four decimals, at least one): 0.9999 is
/// "99.99%", not a rounded "100.0%".
fn required_percent(share: f64) -> String {
    let digits = format!("{:.4}", share * 100.0);
    let digits = digits.trim_end_matches('0');
    let digits = if digits.ends_with('.') {
        format!("{digits}0")
    } else {
        digits.to_owned()
    };
    format!("{digits}%")
}

fn evaluates(fc: &FeatureConstraints) -> bool {
    fc.monitoring_config_overrides
        .as_ref()
        .and_then(|o| o.evaluate_constraints)
        .is_none_or(|t| t.is_enabled())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::Baseline;
    use crate::drift::{DriftConfig, compare};
    use crate::profile::FeatureProfile;

    fn train() -> Baseline {
        let mut p = DatasetProfile::new([("n".to_owned(), None), ("f".to_owned(), None), ("s".to_owned(), None)]);
        for i in 0..2000 {
            p.features[0].add_number((i % 10) as f64, true);
            p.features[1].add_number((i % 7) as f64 + 0.5, false);
            p.features[2].add_string(["a", "b", "c"][i % 3]);
        }
        p.item_count = 2000;
        p.features.iter_mut().for_each(FeatureProfile::settle);
        Baseline::from_profile(&p)
    }

    fn run(base: &Baseline, current: &DatasetProfile, shape: &ShapeObservations) -> Vec<(String, CheckType)> {
        let mm = ModelMonitorComparison::from_constraints(&base.constraints);
        let drift = compare(&base.statistics, &mm, current, &DriftConfig::default());
        check(&base.constraints, current, &drift, shape)
            .violations
            .into_iter()
            .map(|v| (v.feature_name, v.constraint_check_type))
            .collect()
    }

    fn current(base: &Baseline) -> DatasetProfile {
        DatasetProfile::new(base.schema().features.into_iter().map(|f| (f.name, f.kind)))
    }

    #[test]
    fn clean_data_has_no_violation() {
        let base = train();
        let mut cur = current(&base);
        for i in 0..1000 {
            cur.features[0].add_number((i % 10) as f64, true);
            cur.features[1].add_number((i % 7) as f64 + 0.5, false);
            cur.features[2].add_string(["a", "b", "c"][i % 3]);
        }
        assert_eq!(run(&base, &cur, &ShapeObservations::default()), []);
    }

    #[test]
    fn each_check_fires_on_its_own_fault() {
        let base = train();
        let mut cur = current(&base);
        for i in 0..1000 {
            // Floats in an Integral column, shifted far away: data type and drift.
            cur.features[0].add_number(100.0 + i as f64 + 0.25, false);
            // One missing value: completeness.
            if i == 0 {
                cur.features[1].add_missing()
            } else {
                cur.features[1].add_number((i % 7) as f64 + 0.5, false)
            }
            // A value outside the domain: categorical values.
            cur.features[2].add_string(if i == 5 { "zzz" } else { ["a", "b", "c"][i % 3] });
        }
        let shape = ShapeObservations {
            field_count_mismatches: BTreeMap::from([(2, 3), (5, 1)]),
            extra_names: BTreeMap::new(),
        };
        let found = run(&base, &cur, &shape);
        let expect = [
            ("n", CheckType::DataTypeCheck),
            ("n", CheckType::BaselineDriftCheck),
            ("f", CheckType::CompletenessCheck),
            ("s", CheckType::CategoricalValuesCheck),
            ("s", CheckType::MissingColumnCheck),
            ("_c3", CheckType::ExtraColumnCheck),
        ];
        let expect: Vec<(String, CheckType)> = expect.iter().map(|(f, c)| (f.to_string(), *c)).collect();
        assert_eq!(found, expect);
    }

    #[test]
    fn a_features_own_thresholds_decide_its_type_and_domain_checks() {
        // One float in ten in the integral column `n` and one value in ten outside the domain of `s`.
        let mut cur = current(&train());
        for i in 0..1000 {
            cur.features[0].add_number(if i % 10 == 0 { 0.5 } else { (i % 10) as f64 }, i % 10 != 0);
            cur.features[1].add_number((i % 7) as f64 + 0.5, false);
            cur.features[2].add_string(if i % 10 == 0 { "zzz" } else { ["a", "b", "c"][i % 3] });
        }
        let found = |base: &Baseline| -> Vec<(String, CheckType)> {
            run(base, &cur, &ShapeObservations::default())
                .into_iter()
                .filter(|(_, c)| *c != CheckType::BaselineDriftCheck)
                .collect()
        };
        let strict = train();
        assert_eq!(
            found(&strict),
            [
                ("n".to_owned(), CheckType::DataTypeCheck),
                ("s".to_owned(), CheckType::CategoricalValuesCheck)
            ]
        );
        // Overrides allowing 85 %: the data set's 100 % no longer applies to these two features.
        let mut lenient = train();
        for f in &mut lenient.constraints.features {
            f.monitoring_config_overrides = Some(crate::baseline::MonitoringConfigOverrides {
                datatype_check_threshold: Some(0.85),
                domain_content_threshold: Some(0.85),
                ..Default::default()
            });
        }
        assert_eq!(found(&lenient), []);
    }

    #[test]
    fn a_share_below_the_requirement_never_reads_as_meeting_it() {
        let base = train();
        let mut cur = current(&base);
        // One missing value in 2,500: 99.96 % complete, which rounds to 100.0 %.
        for i in 0..2500 {
            cur.features[0].add_number((i % 10) as f64, true);
            if i == 0 {
                cur.features[1].add_missing()
            } else {
                cur.features[1].add_number((i % 7) as f64 + 0.5, false)
            }
            cur.features[2].add_string(["a", "b", "c"][i % 3]);
        }
        let mm = ModelMonitorComparison::from_constraints(&base.constraints);
        let drift = compare(&base.statistics, &mm, &cur, &DriftConfig::default());
        let found = check(&base.constraints, &cur, &drift, &ShapeObservations::default());
        let completeness: Vec<&str> = found
            .violations
            .iter()
            .filter(|v| v.constraint_check_type == CheckType::CompletenessCheck)
            .map(|v| v.description.as_str())
            .collect();
        assert_eq!(
            completeness,
            ["Data completeness requirement is not met. Expected: 100.0%, Observed: 99.9% of 2500 values."]
        );

        assert_eq!(observed_percent(1.0), "100.0%");
        assert_eq!(observed_percent(1.0 - 1e-16), "99.9%");
        assert_eq!(observed_percent(0.9996), "99.9%");
        assert_eq!(observed_percent(0.57), "57.0%");
        assert_eq!(observed_percent(0.0), "0.0%");
        assert_eq!(required_percent(1.0), "100.0%");
        assert_eq!(required_percent(0.9999), "99.99%");
        assert_eq!(required_percent(0.1), "10.0%");
    }

    #[test]
    fn disabled_evaluation_reports_nothing() {
        let mut base = train();
        base.constraints.monitoring_config.evaluate_constraints = Some(crate::baseline::Toggle::Disabled);
        let mut cur = current(&base);
        cur.features[0].add_string("not a number");
        assert_eq!(run(&base, &cur, &ShapeObservations::default()), []);
    }

    #[test]
    fn writes_model_monitor_json() {
        let v = Violations {
            violations: vec![Violation {
                feature_name: "x".into(),
                constraint_check_type: CheckType::BaselineDriftCheck,
                description: "d".into(),
            }],
        };
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["violations"][0]["constraint_check_type"], "baseline_drift_check");
    }
}
