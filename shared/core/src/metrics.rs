//! The CloudWatch data a run publishes, as plain values.
//!
//! A run's metrics are computed here, in the core; the CloudWatch adapter only batches and sends them, and the CLI
//! writes them to `metrics.jsonl`, one datum a line. Namespaces and metric names are Model Monitor's, so that alarms
//! and dashboards built for Model Monitor keep working.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
