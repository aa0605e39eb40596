//! The CloudWatch data a run publishes, as plain values.
//!
//! A run's metrics are computed here, in the core; the CloudWatch adapter only batches and sends them, and the CLI
//! writes them to `metrics.jsonl`, one datum a line. Namespaces and metric names are Model Monitor's, so that alarms
//! and dashboards built for Model Monitor keep working.
//!
//! [`prometheus`] writes the same data in Prometheus' text exposition format.
//!
//! The data-quality encoding of an evaluated window ([`data_metrics`]) lives here too; the model-quality,
//! label-free-estimate and prediction-history encodings live beside their own data
//! ([`crate::quality::quality_metric_data`], [`crate::quality::estimate_metric_data`],
//! [`crate::history::history_metric_data`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

mod data;
pub mod prometheus;
pub use data::data_metrics;

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
            metric_name: cap_metric_name(metric_name.into()),
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

/// `MetricDatum.MetricName`: 1 to 255 characters (CloudWatch API reference, `MetricDatum`). `PutMetricData` refuses
/// the whole request when one name is longer.
pub const MAX_METRIC_NAME_CHARS: usize = 255;

/// `name`, or when longer than [`MAX_METRIC_NAME_CHARS`] its first characters and a hash of the whole name, so
/// that two long names sharing a prefix stay apart: `<prefix>~<16 hex digits>`. Applied when a datum is made, so
/// that alarms and dashboards name what is published.
pub fn cap_metric_name(name: String) -> String {
    if name.chars().count() <= MAX_METRIC_NAME_CHARS {
        return name;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let suffix = format!("~{h:016x}");
    let prefix: String = name.chars().take(MAX_METRIC_NAME_CHARS - suffix.len()).collect();
    format!("{prefix}{suffix}")
}
