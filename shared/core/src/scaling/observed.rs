//! What the controller sees at one run: recent per-minute endpoint metrics and the variant's state.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One minute of CloudWatch metrics for an endpoint variant (namespace `AWS/SageMaker` and
/// `/aws/sagemaker/Endpoints`). Every field may be missing: SageMaker emits no `Invocations` datapoint for a
/// minute without requests, and instance metrics are absent when there are no instances.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinuteMetrics {
    /// Start of the minute the datapoints aggregate.
    pub minute: DateTime<Utc>,
    /// `Invocations` (Sum): requests to the variant in this minute.
    #[serde(default)]
    pub invocations: Option<f64>,
    /// `InvocationsPerInstance` (Sum).
    #[serde(default)]
    pub invocations_per_instance: Option<f64>,
    /// `ModelLatency` p50 in milliseconds (CloudWatch reports microseconds; the adapter converts).
    #[serde(default)]
    pub model_latency_p50_ms: Option<f64>,
    /// `ModelLatency` p90 in milliseconds.
    #[serde(default)]
    pub model_latency_p90_ms: Option<f64>,
    /// `ModelLatency` p99 in milliseconds.
    #[serde(default)]
    pub model_latency_p99_ms: Option<f64>,
    /// `CPUUtilization` (Average), as SageMaker reports it: up to 100 per vCPU, so it can exceed 100.
    #[serde(default)]
    pub cpu_utilization: Option<f64>,
    /// `GPUUtilization` (Average), up to 100 per GPU.
    #[serde(default)]
    pub gpu_utilization: Option<f64>,
    /// `MemoryUtilization` (Average), percent.
    #[serde(default)]
    pub memory_utilization: Option<f64>,
    /// `Invocation4XXErrors` (Sum).
    #[serde(default)]
    pub invocation_4xx_errors: Option<f64>,
    /// `Invocation5XXErrors` (Sum).
    #[serde(default)]
    pub invocation_5xx_errors: Option<f64>,
    /// `ApproximateBacklogSizePerInstance` (Average), asynchronous endpoints only.
    #[serde(default)]
    pub approximate_backlog_size_per_instance: Option<f64>,
    /// `ApproximateBacklogSize` (Average), asynchronous endpoints only; unlike the per-instance figure it is
    /// defined when the variant has zero instances, which is what scaling back from zero needs.
    #[serde(default)]
    pub approximate_backlog_size: Option<f64>,
}

impl MinuteMetrics {
    /// A minute with no datapoints at all.
    pub fn empty(minute: DateTime<Utc>) -> Self {
        Self {
            minute,
            ..Self::default()
        }
    }

    /// Whether any datapoint is present (the minute proves the metric pipeline is alive).
    pub fn has_any(&self) -> bool {
        [
            self.invocations,
            self.invocations_per_instance,
            self.model_latency_p50_ms,
            self.model_latency_p90_ms,
            self.model_latency_p99_ms,
            self.cpu_utilization,
            self.gpu_utilization,
            self.memory_utilization,
            self.invocation_4xx_errors,
            self.invocation_5xx_errors,
            self.approximate_backlog_size_per_instance,
            self.approximate_backlog_size,
        ]
        .iter()
        .any(Option::is_some)
    }
}

/// The variant's status, as `DescribeEndpoint` reports the endpoint's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VariantStatus {
    /// `InService`: the only status in which the controller acts.
    InService,
    /// `Updating` (an earlier change is still being applied).
    Updating,
    /// `Creating`.
    Creating,
    /// `SystemUpdating` (SageMaker's own maintenance).
    SystemUpdating,
    /// `RollingBack`.
    RollingBack,
    /// `Failed` or any other status.
    Other,
}

/// The variant's current configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantState {
    /// Instance type currently deployed, e.g. `ml.m5.xlarge`.
    pub instance_type: String,
    /// `CurrentInstanceCount`: instances serving now.
    pub current_count: u32,
    /// `DesiredInstanceCount`: what the last update asked for (differs from current while updating).
    pub desired_count: u32,
    /// Endpoint status.
    pub status: VariantStatus,
}

/// Whether the metric query itself worked. A successful query with no `Invocations` datapoint means zero
/// traffic; a failed one means the controller does not know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MetricsFetch {
    /// The query answered; minutes are oldest first, one per minute, up to the minute before `now`.
    Fetched {
        /// The per-minute metrics.
        minutes: Vec<MinuteMetrics>,
    },
    /// The query failed (throttling, timeout, permissions).
    Failed {
        /// The adapter's error message, for the decision's reasons.
        error: String,
    },
}

/// Everything `decide` looks at besides the policy and the stored history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observed {
    /// When the run happens.
    pub now: DateTime<Utc>,
    /// The recent metrics. The adapter should fetch at least the policy's stable window.
    pub metrics: MetricsFetch,
    /// The variant's state.
    pub variant: VariantState,
}

impl Observed {
    /// The fetched minutes, if the fetch worked.
    pub fn metrics_minutes(&self) -> Option<&[MinuteMetrics]> {
        match &self.metrics {
            MetricsFetch::Fetched { minutes } => Some(minutes),
            MetricsFetch::Failed { .. } => None,
        }
    }
}
