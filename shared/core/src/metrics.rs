//! The CloudWatch data a run publishes, as plain values.
//!
//! A run's metrics are computed here, in the core; the CloudWatch adapter only batches and sends them, and the CLI
//! writes them to `metrics.jsonl`, one datum a line. Namespaces and metric names are Model Monitor's, so that alarms
//! and dashboards built for Model Monitor keep working.
//!
//! The data-quality encoding of an evaluated window ([`data_metrics`]) lives here too; the model-quality,
//! label-free-estimate and prediction-history encodings live beside their own data
//! ([`crate::quality::quality_metric_data`], [`crate::quality::estimate_metric_data`],
//! [`crate::history::history_metric_data`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::baseline::Baseline;
use crate::drift::DriftReport;
use crate::evaluate::RunSummary;
use crate::profile::DatasetProfile;

/// Model Monitor's namespace for data-quality metrics of real-time endpoints.
pub const DATA_METRICS_NAMESPACE: &str = "aws/sagemaker/Endpoints/data-metrics";
/// Model Monitor's namespace for model-quality metrics of real-time endpoints.
pub const MODEL_METRICS_NAMESPACE: &str = "aws/sagemaker/Endpoints/model-metrics";
/// The dimension naming the endpoint, as Model Monitor publishes it.
pub const DIMENSION_ENDPOINT: &str = "Endpoint";
/// The dimension naming the monitoring schedule, as Model Monitor publishes it.
pub const DIMENSION_SCHEDULE: &str = "MonitoringSchedule";

/// CloudWatch units used by modelwatch (a subset of `StandardUnit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unit {
    None,
    Count,
    Percent,
    Seconds,
    Milliseconds,
}

/// One CloudWatch datum: what `PutMetricData` would receive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricDatum {
    pub namespace: String,
    pub metric_name: String,
    /// Dimension name and value pairs, in publishing order.
    pub dimensions: Vec<(String, String)>,
    /// The value; for a datum with `statistics`, the mean, kept for readers of `metrics.jsonl`.
    pub value: f64,
    /// Publish as a statistic set (as Model Monitor does for `feature_data_*`) instead of `value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistics: Option<StatisticSet>,
    pub unit: Unit,
    pub timestamp: DateTime<Utc>,
}

/// CloudWatch's `StatisticSet`: a pre-aggregated datum, so alarms can use Min, Max, Sum, SampleCount and Average.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StatisticSet {
    pub sample_count: f64,
    pub sum: f64,
    pub minimum: f64,
    pub maximum: f64,
}

/// Where a run's data belong: the endpoint and the schedule name that label every datum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricScope {
    pub endpoint: String,
    pub schedule: String,
    pub timestamp: DateTime<Utc>,
}

impl MetricScope {
    /// A datum in `namespace` labelled with this scope's `Endpoint` and `MonitoringSchedule` dimensions.
    pub fn datum(&self, namespace: &str, metric_name: impl Into<String>, value: f64, unit: Unit) -> MetricDatum {
        MetricDatum {
            namespace: namespace.to_owned(),
            metric_name: crate::metric_limits::cap_metric_name(metric_name.into()),
            dimensions: vec![
                (DIMENSION_ENDPOINT.to_owned(), self.endpoint.clone()),
                (DIMENSION_SCHEDULE.to_owned(), self.schedule.clone()),
            ],
            value,
            statistics: None,
            unit,
            timestamp: self.timestamp,
        }
    }
}

/// Model Monitor's per-feature data-quality metrics (`feature_data_*` as a statistic set, `feature_non_null_*`,
/// `feature_baseline_drift_*`), for features whose `emit_metrics` is not disabled, plus modelwatch's data-set
/// metrics: `dataset_item_count`, `dataset_drift_share`, `dataset_max_feature_drift` (the largest
/// `feature_baseline_drift_*`), `dataset_records_skipped`, `constraint_violations`.
pub fn data_metrics(
    baseline: &Baseline,
    profile: &DatasetProfile,
    drift: &DriftReport,
    summary: &RunSummary,
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
                    format!("feature_data_{}", feature.name),
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
                    format!("feature_non_null_{}", feature.name),
                    feature.completeness(),
                    Unit::None,
                ));
            }
            if let Some(d) = drift.feature(&feature.name) {
                out.push(scope.datum(
                    DATA_METRICS_NAMESPACE,
                    format!("feature_baseline_drift_{}", feature.name),
                    d.model_monitor_distance,
                    Unit::None,
                ));
            }
        }
    }
    let ns = DATA_METRICS_NAMESPACE;
    out.push(scope.datum(ns, "dataset_item_count", profile.item_count as f64, Unit::Count));
    out.push(scope.datum(ns, "dataset_drift_share", drift.drift_share, Unit::None));
    // The largest feature_baseline_drift_<f> of the window: one alarm on it covers every feature.
    if let Some(max) = drift
        .features
        .iter()
        .map(|f| f.model_monitor_distance)
        .filter(|d| d.is_finite())
        .reduce(f64::max)
    {
        out.push(scope.datum(ns, "dataset_max_feature_drift", max, Unit::None));
    }
    out.push(scope.datum(ns, "dataset_records_skipped", summary.skipped as f64, Unit::Count));
    out.push(scope.datum(ns, "constraint_violations", summary.violations as f64, Unit::Count));
    out
}
