//! The data-quality metrics of a window: Model Monitor's per-feature data and modelwatch's data-set ones.

use super::{DATA_METRICS_NAMESPACE, MetricDatum, MetricScope, StatisticSet, Unit};
use crate::baseline::Baseline;
use crate::drift::{DriftReport, Verdict};
use crate::profile::DatasetProfile;

/// The per-feature metrics' names: the prefix, then the feature's name (Model Monitor's names).
pub(crate) const FEATURE_DATA_PREFIX: &str = "feature_data_";
pub(crate) const FEATURE_NON_NULL_PREFIX: &str = "feature_non_null_";
pub(crate) const FEATURE_BASELINE_DRIFT_PREFIX: &str = "feature_baseline_drift_";

/// Model Monitor's per-feature data-quality metrics (`feature_data_*` as a statistic set, `feature_non_null_*`,
/// `feature_baseline_drift_*`), for features whose `emit_metrics` is not disabled, plus modelwatch's data-set
/// metrics: `dataset_item_count`, `dataset_drift_share`, `dataset_max_feature_drift` (the largest
/// `feature_baseline_drift_*`), `dataset_records_skipped`, `constraint_violations`.
///
/// Drift is published only where it was judged: not for a feature with too few values, and no
/// `dataset_drift_share` nor `dataset_max_feature_drift` when nothing was compared.
pub fn data_metrics(
    baseline: &Baseline,
    profile: &DatasetProfile,
    drift: &DriftReport,
    (records_skipped, violations): (u64, usize),
    scope: &MetricScope,
) -> Vec<MetricDatum> {
    let global_emit = baseline
        .constraints
        .monitoring_config
        .emit_metrics
        .is_none_or(|t| t.is_enabled());
    let mut out = Vec::new();
    if global_emit {
        for feature in profile
            .features
            .iter()
            .chain([&profile.prediction_score, &profile.prediction_label])
        {
            let emit = baseline
                .constraints
                .feature(&feature.name)
                .and_then(|f| f.monitoring_config_overrides.as_ref())
                .and_then(|o| o.emit_metrics)
                .is_none_or(|t| t.is_enabled());
            if !emit || (crate::baseline::is_prediction_feature(&feature.name) && feature.total() == 0) {
                continue;
            }
            let m = &feature.moments;
            if m.count > 0 {
                let mut datum = scope.datum(
                    DATA_METRICS_NAMESPACE,
                    format!("{FEATURE_DATA_PREFIX}{}", feature.name),
                    m.mean,
                    Unit::None,
                );
                datum.statistics = Some(StatisticSet {
                    sample_count: m.count as f64,
                    sum: m.sum,
                    minimum: m.min,
                    maximum: m.max,
                });
                out.push(datum);
            }
            if feature.total() > 0 {
                out.push(scope.datum(
                    DATA_METRICS_NAMESPACE,
                    format!("{FEATURE_NON_NULL_PREFIX}{}", feature.name),
                    feature.completeness(),
                    Unit::None,
                ));
            }
            if let Some(d) = drift
                .feature(&feature.name)
                .filter(|d| d.verdict != Verdict::TooFewValues)
            {
                out.push(scope.datum(
                    DATA_METRICS_NAMESPACE,
                    format!("{FEATURE_BASELINE_DRIFT_PREFIX}{}", feature.name),
                    d.model_monitor_distance,
                    Unit::None,
                ));
            }
        }
    }
    let ns = DATA_METRICS_NAMESPACE;
    out.push(scope.datum(ns, "dataset_item_count", profile.item_count as f64, Unit::Count));
    // Without a verdict (nothing compared) no drift metric: a share of 0 would read as "no drift", and the alarms'
    // missing-data handling is what should speak.
    if drift.has_verdict() {
        out.push(scope.datum(ns, "dataset_drift_share", drift.drift_share, Unit::None));
    }
    // The largest feature_baseline_drift_<f> of the window: one alarm on it covers every feature.
    if let Some(max) = drift
        .features
        .iter()
        .filter(|f| f.verdict != Verdict::TooFewValues)
        .map(|f| f.model_monitor_distance)
        .filter(|d| d.is_finite())
        .reduce(f64::max)
    {
        out.push(scope.datum(ns, "dataset_max_feature_drift", max, Unit::None));
    }
    out.push(scope.datum(ns, "dataset_records_skipped", records_skipped as f64, Unit::Count));
    out.push(scope.datum(ns, "constraint_violations", violations as f64, Unit::Count));
    out
}
