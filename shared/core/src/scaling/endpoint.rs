//! The SageMaker endpoint as both the scaler and the retraining loop see it: the one port over it
//! ([`EndpointPort`]), the views its descriptions are turned into ([`EndpointView`], [`ConfigView`]), and the one
//! metric query each scaling run makes.
//!
//! Everything but the port is a plain value or a pure function: the adapter turns `DescribeEndpoint`,
//! `DescribeEndpointConfig` and `GetMetricData` answers into these types, and the controller turns them into
//! the [`Observed`](super::Observed) that `decide` reads (the retraining loop reads the status, the serving
//! configuration and its models from them).

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};

use super::observed::{MinuteMetrics, VariantState, VariantStatus};
use super::policy::{Percentile, Policy};
use crate::ports::PortError;

/// `Period` of every query: SageMaker publishes its endpoint metrics at one-minute resolution.
pub const PERIOD_SECONDS: i32 = 60;
/// `ModelLatency` is reported in microseconds (SageMaker developer guide, endpoint invocation metrics); the core
/// works in milliseconds.
const MICROSECONDS_TO_MILLISECONDS: f64 = 1e-3;

/// The namespace of SageMaker's invocation metrics.
pub const INVOCATION_NAMESPACE: &str = "AWS/SageMaker";
/// The namespace of SageMaker's per-instance host metrics.
pub const HOST_NAMESPACE: &str = "/aws/sagemaker/Endpoints";

/// The endpoint status `DescribeEndpoint` reports, as the core's variant status.
pub fn status_of(status: &str) -> VariantStatus {
    match status {
        "InService" => VariantStatus::InService,
        "Updating" => VariantStatus::Updating,
        "Creating" => VariantStatus::Creating,
        "SystemUpdating" => VariantStatus::SystemUpdating,
        "RollingBack" => VariantStatus::RollingBack,
        _ => VariantStatus::Other,
    }
}

/// One production variant of a running endpoint (`DescribeEndpoint`'s `ProductionVariantSummary`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveVariant {
    pub name: String,
    pub current_count: Option<u32>,
    pub desired_count: Option<u32>,
    pub desired_weight: Option<f32>,
}

/// A running endpoint (`DescribeEndpoint`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointView {
    pub name: String,
    pub status: VariantStatus,
    /// The status as SageMaker spells it, for messages (`Failed`, `UpdateRollbackFailed`, ...).
    pub status_text: String,
    /// The endpoint configuration it runs.
    pub config_name: String,
    /// `FailureReason`, when the endpoint (or its last update) failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    pub variants: Vec<LiveVariant>,
}

impl EndpointView {
    /// The variant's desired instance count (as the scaler last set it), or its current count when no desired
    /// count is shown; `None` for a variant that is not there or has neither (serverless).
    pub fn desired_count(&self, variant: &str) -> Option<u32> {
        let v = self.variants.iter().find(|v| v.name == variant)?;
        v.desired_count.or(v.current_count)
    }
}

/// One production variant of an endpoint configuration (`DescribeEndpointConfig`'s `ProductionVariant`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigVariant {
    pub name: String,
    /// `None` for serverless variants, which have no instances to count.
    pub instance_type: Option<String>,
    pub initial_count: Option<u32>,
    pub initial_weight: Option<f32>,
    /// The SageMaker Model the variant serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
}

/// An endpoint configuration (`DescribeEndpointConfig`), as far as scaling and retraining read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigView {
    pub name: String,
    pub variants: Vec<ConfigVariant>,
}

/// A SageMaker endpoint: the calls both the scaler and the retraining loop make, through one adapter, so a
/// missing endpoint, a copied configuration and a blue/green update mean the same for both. The scaler's own
/// calls (a count change, undoing a configuration) are
/// `ScalerEndpointPort` (in `controller`); the retraining loop's models are its
/// `ModelPort` (in `retrain::ports`).
pub trait EndpointPort {
    /// `DescribeEndpoint`.
    ///
    /// # Errors
    ///
    /// A [`PortError`] naming the endpoint, of kind [`NotFound`](crate::ports::PortErrorKind::NotFound) when
    /// there is no such endpoint.
    fn describe_endpoint(&self, endpoint: &str) -> Result<EndpointView, PortError>;

    /// `DescribeEndpointConfig`.
    ///
    /// # Errors
    ///
    /// A [`PortError`] naming the configuration, of kind [`NotFound`](crate::ports::PortErrorKind::NotFound)
    /// when there is no such configuration.
    fn describe_config(&self, config: &str) -> Result<ConfigView, PortError>;

    /// `CreateEndpointConfig`: a copy of `config.source` (every variant, data capture, async, explainer, shadow
    /// variants, KMS, VPC, role) with the overrides applied.
    ///
    /// # Errors
    ///
    /// A [`PortError`] naming the source or the new configuration.
    fn create_config(&self, config: &NewConfig) -> Result<(), PortError>;

    /// `UpdateEndpoint` to `config` with `deployment`, the variants' properties taken from `config`.
    ///
    /// # Errors
    ///
    /// A [`PortError`] naming the endpoint.
    fn update_endpoint(&self, endpoint: &str, config: &str, deployment: &Deployment) -> Result<(), PortError>;
}

/// The endpoint cannot be scaled as configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObserveError {
    /// The variant is not on the endpoint.
    #[error("endpoint {endpoint} has no production variant {variant} (it has: {present})")]
    NoSuchVariant {
        endpoint: String,
        variant: String,
        present: String,
    },
    /// The variant is serverless: no instance type, no instance count.
    #[error("variant {endpoint}/{variant} is serverless: it has no instance count to scale")]
    Serverless { endpoint: String, variant: String },
}

/// The variant's state from the endpoint and the configuration it runs. Counts missing from the description
/// (an endpoint still `Creating`) are taken from the configuration.
///
/// # Errors
///
/// [`ObserveError`] when the variant is absent or serverless.
pub fn variant_state(
    endpoint: &EndpointView,
    config: &ConfigView,
    variant: &str,
) -> Result<VariantState, ObserveError> {
    let live = endpoint.variants.iter().find(|v| v.name == variant);
    let configured = config.variants.iter().find(|v| v.name == variant);
    let (Some(live), Some(configured)) = (live, configured) else {
        return Err(ObserveError::NoSuchVariant {
            endpoint: endpoint.name.clone(),
            variant: variant.to_owned(),
            present: endpoint
                .variants
                .iter()
                .map(|v| v.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    let Some(instance_type) = configured.instance_type.clone() else {
        return Err(ObserveError::Serverless {
            endpoint: endpoint.name.clone(),
            variant: variant.to_owned(),
        });
    };
    let fallback = configured.initial_count.unwrap_or(0);
    let desired = live.desired_count.or(live.current_count).unwrap_or(fallback);
    Ok(VariantState {
        instance_type,
        current_count: live.current_count.unwrap_or(desired),
        desired_count: desired,
        status: endpoint.status,
    })
}

/// Which [`MinuteMetrics`] field a query fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetricField {
    Invocations,
    InvocationsPerInstance,
    LatencyP50,
    LatencyP90,
    LatencyP99,
    Cpu,
    Gpu,
    Memory,
    Errors4xx,
    Errors5xx,
    BacklogPerInstance,
    Backlog,
}

/// Which dimensions a metric is published with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dimensions {
    /// `EndpointName` and `VariantName`.
    Variant,
    /// `EndpointName` only (the asynchronous queue metrics).
    Endpoint,
}

/// One metric of the run's `GetMetricData` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricQuery {
    /// The query id (`GetMetricData` ids start with a lower-case letter: letters, digits and `_`).
    pub id: &'static str,
    pub namespace: &'static str,
    pub metric_name: &'static str,
    /// `Sum`, `Average` or a percentile such as `p90`.
    pub stat: &'static str,
    pub dimensions: Dimensions,
    pub field: MetricField,
}

const fn query(
    id: &'static str,
    namespace: &'static str,
    metric_name: &'static str,
    stat: &'static str,
    dimensions: Dimensions,
    field: MetricField,
) -> MetricQuery {
    MetricQuery {
        id,
        namespace,
        metric_name,
        stat,
        dimensions,
        field,
    }
}

/// The metrics every run reads (SageMaker developer guide, "Amazon SageMaker AI metrics in Amazon CloudWatch":
/// invocation metrics in `AWS/SageMaker`, host metrics in `/aws/sagemaker/Endpoints`). The host metrics are
/// present whenever instances run, so a minute with them but without `Invocations` is a real zero.
pub const VARIANT_QUERIES: [MetricQuery; 7] = [
    query(
        "invocations",
        INVOCATION_NAMESPACE,
        "Invocations",
        "Sum",
        Dimensions::Variant,
        MetricField::Invocations,
    ),
    query(
        "invocations_per_instance",
        INVOCATION_NAMESPACE,
        "InvocationsPerInstance",
        "Sum",
        Dimensions::Variant,
        MetricField::InvocationsPerInstance,
    ),
    query(
        "errors_4xx",
        INVOCATION_NAMESPACE,
        "Invocation4XXErrors",
        "Sum",
        Dimensions::Variant,
        MetricField::Errors4xx,
    ),
    query(
        "errors_5xx",
        INVOCATION_NAMESPACE,
        "Invocation5XXErrors",
        "Sum",
        Dimensions::Variant,
        MetricField::Errors5xx,
    ),
    query(
        "cpu",
        HOST_NAMESPACE,
        "CPUUtilization",
        "Average",
        Dimensions::Variant,
        MetricField::Cpu,
    ),
    query(
        "memory",
        HOST_NAMESPACE,
        "MemoryUtilization",
        "Average",
        Dimensions::Variant,
        MetricField::Memory,
    ),
    query(
        "gpu",
        HOST_NAMESPACE,
        "GPUUtilization",
        "Average",
        Dimensions::Variant,
        MetricField::Gpu,
    ),
];

/// `ModelLatency` percentiles. Only the one a policy's latency objective names is requested: it is the only one
/// `decide` reads, and `GetMetricData` is billed per metric requested.
pub const LATENCY_QUERIES: [MetricQuery; 3] = [
    query(
        "latency_p50",
        INVOCATION_NAMESPACE,
        "ModelLatency",
        "p50",
        Dimensions::Variant,
        MetricField::LatencyP50,
    ),
    query(
        "latency_p90",
        INVOCATION_NAMESPACE,
        "ModelLatency",
        "p90",
        Dimensions::Variant,
        MetricField::LatencyP90,
    ),
    query(
        "latency_p99",
        INVOCATION_NAMESPACE,
        "ModelLatency",
        "p99",
        Dimensions::Variant,
        MetricField::LatencyP99,
    ),
];

/// The queue metrics of asynchronous endpoints, published with the `EndpointName` dimension only (SageMaker
/// developer guide, "Monitor asynchronous endpoints").
pub const ASYNC_QUERIES: [MetricQuery; 2] = [
    query(
        "backlog_per_instance",
        INVOCATION_NAMESPACE,
        "ApproximateBacklogSizePerInstance",
        "Average",
        Dimensions::Endpoint,
        MetricField::BacklogPerInstance,
    ),
    query(
        "backlog",
        INVOCATION_NAMESPACE,
        "ApproximateBacklogSize",
        "Average",
        Dimensions::Endpoint,
        MetricField::Backlog,
    ),
];

/// One `GetMetricData` call: every query over `[start, end)` at one-minute periods.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsRequest {
    pub endpoint: String,
    pub variant: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub queries: Vec<MetricQuery>,
}

impl MetricsRequest {
    /// The request for the `lookback_minutes` whole minutes before `now`: the variant's metrics, the latency
    /// percentile of an objective, and the queue metrics for asynchronous variants.
    pub fn new(
        endpoint: &str,
        variant: &str,
        now: DateTime<Utc>,
        lookback_minutes: u32,
        latency: Option<Percentile>,
        asynchronous: bool,
    ) -> Self {
        let end = minute_floor(now);
        let mut queries = VARIANT_QUERIES.to_vec();
        if let Some(p) = latency {
            let field = match p {
                Percentile::P50 => MetricField::LatencyP50,
                Percentile::P90 => MetricField::LatencyP90,
                Percentile::P99 => MetricField::LatencyP99,
            };
            queries.extend(LATENCY_QUERIES.iter().filter(|q| q.field == field));
        }
        if asynchronous {
            queries.extend(ASYNC_QUERIES);
        }
        Self {
            endpoint: endpoint.to_owned(),
            variant: variant.to_owned(),
            start: end - Duration::minutes(i64::from(lookback_minutes.max(1))),
            end,
            queries,
        }
    }

    /// The request `policy` needs at `now`: its lookback, its latency objective's percentile, its queue.
    pub fn for_policy(policy: &Policy, now: DateTime<Utc>) -> Self {
        Self::new(
            &policy.endpoint,
            &policy.variant,
            now,
            policy.lookback_minutes(),
            policy.latency_objective.as_ref().map(|o| o.percentile),
            policy.asynchronous.is_some(),
        )
    }

    /// The dimensions of a query, as name and value pairs.
    pub fn dimensions(&self, q: &MetricQuery) -> Vec<(&'static str, String)> {
        match q.dimensions {
            Dimensions::Variant => vec![
                ("EndpointName", self.endpoint.clone()),
                ("VariantName", self.variant.clone()),
            ],
            Dimensions::Endpoint => vec![("EndpointName", self.endpoint.clone())],
        }
    }

    /// The answer laid out one [`MinuteMetrics`] per minute of `[start, end)`, oldest first; minutes without a
    /// datapoint keep `None`. Ids that are not in the request and timestamps outside the window are ignored.
    pub fn assemble(&self, series: &[Series]) -> Vec<MinuteMetrics> {
        let minutes = (self.end - self.start).num_minutes().max(0);
        let mut out: Vec<MinuteMetrics> = (0..minutes)
            .map(|i| MinuteMetrics::empty(self.start + Duration::minutes(i)))
            .collect();
        for s in series {
            let Some(q) = self.queries.iter().find(|q| q.id == s.id) else {
                continue;
            };
            for &(t, value) in &s.points {
                let t = minute_floor(t);
                if t < self.start || t >= self.end || !value.is_finite() {
                    continue;
                }
                let slot = &mut out[(t - self.start).num_minutes() as usize];
                let (field, value) = match q.field {
                    MetricField::Invocations => (&mut slot.invocations, value),
                    MetricField::InvocationsPerInstance => (&mut slot.invocations_per_instance, value),
                    MetricField::LatencyP50 => (&mut slot.model_latency_p50_ms, value * MICROSECONDS_TO_MILLISECONDS),
                    MetricField::LatencyP90 => (&mut slot.model_latency_p90_ms, value * MICROSECONDS_TO_MILLISECONDS),
                    MetricField::LatencyP99 => (&mut slot.model_latency_p99_ms, value * MICROSECONDS_TO_MILLISECONDS),
                    MetricField::Cpu => (&mut slot.cpu_utilization, value),
                    MetricField::Gpu => (&mut slot.gpu_utilization, value),
                    MetricField::Memory => (&mut slot.memory_utilization, value),
                    MetricField::Errors4xx => (&mut slot.invocation_4xx_errors, value),
                    MetricField::Errors5xx => (&mut slot.invocation_5xx_errors, value),
                    MetricField::BacklogPerInstance => (&mut slot.approximate_backlog_size_per_instance, value),
                    MetricField::Backlog => (&mut slot.approximate_backlog_size, value),
                };
                *field = Some(value);
            }
        }
        out
    }
}

/// The datapoints `GetMetricData` returned for one query id.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub id: String,
    pub points: Vec<(DateTime<Utc>, f64)>,
}

fn minute_floor(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::minutes(1)).unwrap_or(t)
}

// The requests of the port's writes: a configuration copy and an update's deployment.

/// What to change in one variant of the copied configuration (`None`: keep the source's value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantOverride {
    pub name: String,
    pub instance_type: Option<String>,
    pub initial_count: Option<u32>,
    pub initial_weight: Option<f32>,
    /// The SageMaker Model the variant serves (a retrained model's deployment replaces it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
}

/// A new endpoint configuration: a copy of `source` with overrides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewConfig {
    pub name: String,
    pub source: String,
    pub variants: Vec<VariantOverride>,
}

/// The `DeploymentConfig` of a type change: blue/green with auto-rollback alarms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// `TrafficRoutingConfiguration.Type`.
    pub traffic_routing: String,
    /// `TrafficRoutingConfiguration.WaitIntervalInSeconds`.
    pub wait_interval_seconds: i32,
    pub termination_wait_seconds: i32,
    pub max_execution_seconds: i32,
    /// `AutoRollbackConfiguration.Alarms` (none: no auto-rollback).
    pub rollback_alarms: Vec<String>,
    /// The canary's size (`CANARY`) or the step (`LINEAR`); none for `ALL_AT_ONCE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<CapacityStep>,
}

/// `CapacitySize`: a share of the new fleet's capacity or a number of instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapacityStep {
    /// `CAPACITY_PERCENT` or `INSTANCE_COUNT`.
    pub unit: CapacityUnit,
    /// The percentage or the count (at least 1).
    pub value: i32,
}

/// `CapacitySize.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CapacityUnit {
    /// A percentage of the new fleet.
    CapacityPercent,
    /// A number of instances.
    InstanceCount,
}

impl CapacityUnit {
    /// SageMaker's name.
    pub fn as_str(self) -> &'static str {
        match self {
            CapacityUnit::CapacityPercent => "CAPACITY_PERCENT",
            CapacityUnit::InstanceCount => "INSTANCE_COUNT",
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn endpoint() -> EndpointView {
        EndpointView {
            name: "ep".into(),
            status: VariantStatus::InService,
            status_text: "InService".into(),
            config_name: "ep-config".into(),
            failure_reason: None,
            variants: vec![
                LiveVariant {
                    name: "AllTraffic".into(),
                    current_count: Some(2),
                    desired_count: Some(3),
                    desired_weight: Some(1.0),
                },
                LiveVariant {
                    name: "Serverless".into(),
                    current_count: None,
                    desired_count: None,
                    desired_weight: Some(0.0),
                },
            ],
        }
    }

    fn config() -> ConfigView {
        ConfigView {
            name: "ep-config".into(),
            variants: vec![
                ConfigVariant {
                    name: "AllTraffic".into(),
                    instance_type: Some("ml.m5.large".into()),
                    initial_count: Some(1),
                    initial_weight: Some(1.0),
                    model_name: None,
                },
                ConfigVariant {
                    name: "Serverless".into(),
                    instance_type: None,
                    initial_count: None,
                    initial_weight: Some(0.0),
                    model_name: None,
                },
            ],
        }
    }

    #[test]
    fn the_variant_state_comes_from_the_endpoint_and_its_config() {
        let v = variant_state(&endpoint(), &config(), "AllTraffic").unwrap();
        assert_eq!(
            v,
            VariantState {
                instance_type: "ml.m5.large".into(),
                current_count: 2,
                desired_count: 3,
                status: VariantStatus::InService,
            }
        );
        assert!(matches!(
            variant_state(&endpoint(), &config(), "Serverless"),
            Err(ObserveError::Serverless { .. })
        ));
        let missing = variant_state(&endpoint(), &config(), "Canary").unwrap_err();
        assert_eq!(
            missing.to_string(),
            "endpoint ep has no production variant Canary (it has: AllTraffic, Serverless)"
        );
        assert_eq!(status_of("UpdateRollbackFailed"), VariantStatus::Other);
        assert_eq!(status_of("SystemUpdating"), VariantStatus::SystemUpdating);
    }

    #[test]
    fn a_creating_endpoint_without_counts_takes_the_configured_count() {
        let mut e = endpoint();
        e.status = VariantStatus::Creating;
        e.variants[0].current_count = None;
        e.variants[0].desired_count = None;
        let v = variant_state(&e, &config(), "AllTraffic").unwrap();
        assert_eq!(
            (v.current_count, v.desired_count, v.status),
            (1, 1, VariantStatus::Creating)
        );
    }

    #[test]
    fn the_request_covers_whole_minutes_before_now_and_adds_the_queue_only_for_async() {
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 12, 30, 42).unwrap();
        let r = MetricsRequest::new("ep", "v", now, 10, None, false);
        assert_eq!(r.end, Utc.with_ymd_and_hms(2024, 5, 1, 12, 30, 0).unwrap());
        assert_eq!(r.start, Utc.with_ymd_and_hms(2024, 5, 1, 12, 20, 0).unwrap());
        assert_eq!(r.queries.len(), 7);
        assert!(
            r.queries
                .iter()
                .all(|q| q.dimensions == Dimensions::Variant && q.metric_name != "ModelLatency")
        );
        let a = MetricsRequest::new("ep", "v", now, 10, Some(Percentile::P90), true);
        assert_eq!(a.queries.len(), 10);
        let latency: Vec<&str> = a
            .queries
            .iter()
            .filter(|q| q.metric_name == "ModelLatency")
            .map(|q| q.stat)
            .collect();
        assert_eq!(latency, vec!["p90"]);
        let backlog = a.queries.iter().find(|q| q.id == "backlog").unwrap();
        assert_eq!(a.dimensions(backlog), vec![("EndpointName", "ep".to_owned())]);
        // Ids are valid GetMetricData ids and unique.
        let mut ids: Vec<&str> = a.queries.iter().map(|q| q.id).collect();
        assert!(ids.iter().all(|id| id.starts_with(|c: char| c.is_ascii_lowercase())
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')));
        ids.extend(LATENCY_QUERIES.iter().map(|q| q.id));
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 12);
    }

    #[test]
    fn the_answer_is_laid_out_per_minute_with_latency_in_milliseconds() {
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 12, 5, 10).unwrap();
        let r = MetricsRequest::new("ep", "v", now, 5, Some(Percentile::P90), false);
        let at = |m: u32| Utc.with_ymd_and_hms(2024, 5, 1, 12, m, 0).unwrap();
        let minutes = r.assemble(&[
            Series {
                id: "invocations".into(),
                points: vec![(at(4), 120.0), (at(1), 30.0), (at(5), 999.0), (at(0), 1.0)],
            },
            Series {
                id: "latency_p90".into(),
                points: vec![(at(4), 250_000.0)],
            },
            Series {
                id: "unknown".into(),
                points: vec![(at(3), 5.0)],
            },
        ]);
        assert_eq!(minutes.len(), 5);
        assert_eq!(minutes[0].minute, at(0));
        let invocations: Vec<Option<f64>> = minutes.iter().map(|m| m.invocations).collect();
        // 12:05 is the current, unfinished minute: outside the window.
        assert_eq!(invocations, vec![Some(1.0), Some(30.0), None, None, Some(120.0)]);
        assert_eq!(minutes[4].model_latency_p90_ms, Some(250.0));
        assert!(!minutes[3].has_any());
    }
}
