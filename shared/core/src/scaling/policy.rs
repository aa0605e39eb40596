//! The scaling policy of one endpoint variant: one JSON file, read once and validated.
//!
//! # Format
//!
//! A JSON object with the fields of [`Policy`]; unknown fields are rejected so that a typo does not silently
//! fall back to a default. Only `endpoint`, `variant`, `instance_type`, `min_instances`, `max_instances` and
//! `target_invocations_per_instance` are required.

use serde::{Deserialize, Serialize};

use super::catalogue;
use super::cron::{CronExpr, UtcOffset};

/// SageMaker's own quota on instances per variant is account-specific; this bound only catches typos
/// (`"max_instances": 10000`) before they reach the API.
pub const MAX_INSTANCES_SANITY: u32 = 1000;

/// The longest window the policy may ask the adapter to fetch. GetMetricData returns at most 100,800
/// datapoints per call (CloudWatch API reference, GetMetricData), far above this; the bound keeps each run's
/// query and the decision's cost small.
pub const MAX_LOOKBACK_MINUTES: u32 = 24 * 60;

/// Why a policy was rejected.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The JSON is malformed or has unknown or mistyped fields.
    #[error("policy JSON is invalid: {0}")]
    Json(#[source] serde_json::Error),
    /// A field's value is out of range or inconsistent with another.
    #[error("policy for {endpoint}/{variant}: {field}: {why}")]
    Invalid {
        /// Endpoint name.
        endpoint: String,
        /// Variant name.
        variant: String,
        /// The offending field.
        field: &'static str,
        /// What is wrong.
        why: String,
    },
}

fn default_startup_minutes() -> u32 {
    // SageMaker typically needs 5 to 10 minutes to add instances to a real-time endpoint; plan for the fast end
    // and let the simulator try slower ones.
    6
}
fn default_scale_out_cooldown() -> u64 {
    60
}
fn default_scale_in_cooldown() -> u64 {
    300
}
fn default_stable_window() -> u32 {
    10
}
fn default_panic_window() -> u32 {
    2
}
fn default_panic_threshold() -> f64 {
    1.5
}
fn default_step_up() -> Step {
    // Up to eleven times the count at once: a burst of ten times the demand must be met in one start-up delay,
    // not in several (each step waits for the previous one's instances to serve).
    Step {
        instances: 4,
        percent: 1000.0,
    }
}
fn default_step_down() -> Step {
    // Down to the recommendation at once: the stable window and the cooldown already pace scale-in, and a burst's
    // fleet released a quarter at a time is paid for long after the burst.
    Step {
        instances: 1,
        percent: 100.0,
    }
}
fn default_true() -> bool {
    true
}

/// A bound on how far one action may move the instance count: the larger of a fixed number and a percentage
/// of the current count (so that small and large fleets both move at a sensible pace).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Instances one action may add or remove regardless of the fleet's size (at least 1).
    pub instances: u32,
    /// Percentage of the current count one action may add or remove.
    pub percent: f64,
}

impl Step {
    /// The largest change allowed from `current` instances (at least one instance).
    pub fn allowed(&self, current: u32) -> u32 {
        let pct = (f64::from(current) * self.percent / 100.0).floor() as u32;
        self.instances.max(pct).max(1)
    }
}

/// Which `ModelLatency` percentile an objective applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Percentile {
    /// Median.
    P50,
    /// 90th percentile.
    P90,
    /// 99th percentile.
    P99,
}

/// A latency objective: when missed while the fleet is busy, the instances are too small.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyObjective {
    /// The percentile of `ModelLatency` the objective is about.
    pub percentile: Percentile,
    /// The objective in milliseconds.
    pub max_ms: f64,
    /// Load (demand per instance over the target) at or above which a miss is blamed on capacity; below it a
    /// miss is logged but not acted on, because more or larger instances would not help an idle model.
    #[serde(default = "default_high_utilization")]
    pub high_utilization: f64,
}

fn default_high_utilization() -> f64 {
    0.8
}

/// Seasonal forecasting from the stored history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastPolicy {
    /// Whether the forecast may raise capacity.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Minutes beyond the start-up delay the forecast looks ahead (the capacity must be there when demand
    /// arrives, and new instances serve only after `startup_minutes`).
    #[serde(default = "default_forecast_horizon")]
    pub horizon_minutes: u32,
    /// Multiplier on the forecast peak (1.0 = plan for the recorded peak).
    #[serde(default = "default_forecast_factor")]
    pub factor: f64,
    /// Scale the forecast by the share of it the demand reached over the last day (at most 1): on a steady
    /// cycle the demand reaches its recorded peaks and the forecast stands; on bursty traffic the peaks were
    /// bursts that do not come back at the same time, and the forecast shrinks to the level the demand keeps.
    #[serde(default = "default_true")]
    pub calibrate: bool,
    /// Use the forecast only while it has skill: over the last four weeks (a day at least), its changes over
    /// the start-up delay explained at least [`super::history::MIN_EXPLAINED`] of the demand's changes over the
    /// same minutes (their squared correlation). A daily cycle passes (the forecast knows the morning ramp is
    /// coming, even when a cold day makes it smaller); bursty traffic fails (its slot peaks move with bursts
    /// that do not come back), and there the forecast only buys instances in quiet slots.
    #[serde(default = "default_true")]
    pub require_skill: bool,
}

fn default_forecast_horizon() -> u32 {
    // The start-up delay alone: instances asked for now serve the slot they start in. Looking further ahead
    // pays for a slot's peak before it comes.
    0
}
fn default_forecast_factor() -> f64 {
    1.0
}

impl Default for ForecastPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            horizon_minutes: default_forecast_horizon(),
            factor: default_forecast_factor(),
            calibrate: true,
            require_skill: true,
        }
    }
}

/// A minimum that applies while the local minute matches a cron expression, e.g. `* 8-18 * * 1-5`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledMinimum {
    /// Minutes (local time) during which the minimum applies; see [`CronExpr`] for the subset.
    pub cron: CronExpr,
    /// Fixed UTC offset the cron fields are read in (`"+02:00"`); no zone names, no daylight saving time.
    #[serde(default)]
    pub utc_offset: UtcOffset,
    /// Instances to keep at least while the schedule is active (clamped to `max_instances`).
    pub min_instances: u32,
}

/// What to do when metrics cannot be read or are stale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissingMetricsPolicy {
    /// A fetch whose newest datapoint (any metric) is older than this many minutes counts as a failure.
    #[serde(default = "default_max_age")]
    pub max_age_minutes: u32,
    /// Consecutive failed or stale runs before going to `fallback_instances` (until then: hold).
    #[serde(default = "default_failures_before_fallback")]
    pub failures_before_fallback: u32,
    /// Capacity to run blind: the controller raises the count to it but never scales in without data.
    /// Defaults to `min_instances`.
    #[serde(default)]
    pub fallback_instances: Option<u32>,
}

fn default_max_age() -> u32 {
    // CloudWatch publishes SageMaker's one-minute metrics with a delay of about one to two minutes.
    4
}
fn default_failures_before_fallback() -> u32 {
    5
}

impl Default for MissingMetricsPolicy {
    fn default() -> Self {
        Self {
            max_age_minutes: default_max_age(),
            failures_before_fallback: default_failures_before_fallback(),
            fallback_instances: None,
        }
    }
}

/// One rung of the vertical ladder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rung {
    /// The instance type.
    pub instance_type: String,
    /// Target invocations per instance per minute on this type.
    pub target_invocations_per_instance: f64,
    /// Invocations per instance per minute this type can serve at most (load-tested); the controller takes the
    /// target when it is not given, the simulator requires it.
    #[serde(default)]
    pub capacity_invocations_per_instance: Option<f64>,
}

/// Vertical scaling: move along a ladder of instance types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerticalPolicy {
    /// Types from smallest to largest; must contain the policy's `instance_type`.
    pub ladder: Vec<Rung>,
    /// Minutes the fleet must be at `max_instances` and still above target before moving up.
    #[serde(default = "default_up_after")]
    pub up_after_minutes: u32,
    /// Minutes the next smaller type must have been enough at `min_instances` before moving down.
    #[serde(default = "default_down_after")]
    pub down_after_minutes: u32,
    /// Share of the smaller type's target its load must stay under to move down, so that the move does not
    /// land right at the edge and bounce back.
    #[serde(default = "default_down_margin")]
    pub down_margin: f64,
    /// Minutes between two type changes (a type change is a blue/green deployment: slow and costly).
    #[serde(default = "default_type_cooldown")]
    pub cooldown_minutes: u32,
}

fn default_up_after() -> u32 {
    5
}
fn default_down_after() -> u32 {
    60
}
fn default_down_margin() -> f64 {
    0.7
}
fn default_type_cooldown() -> u32 {
    60
}

/// Asynchronous endpoints: scale on the queue, down to zero and back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsyncPolicy {
    /// Target `ApproximateBacklogSizePerInstance`.
    pub target_backlog_per_instance: f64,
}

/// The policy of one endpoint variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Endpoint name (for messages and logs).
    pub endpoint: String,
    /// Production variant name.
    pub variant: String,
    /// The variant's instance type when no vertical ladder is configured, and the simulator's starting type.
    pub instance_type: String,
    /// Fewest instances (0 only for asynchronous endpoints).
    pub min_instances: u32,
    /// Most instances.
    pub max_instances: u32,
    /// Target invocations per instance per minute on `instance_type` (the quantity target tracking on
    /// `SageMakerVariantInvocationsPerInstance` uses).
    pub target_invocations_per_instance: f64,
    /// Invocations per instance per minute `instance_type` can serve at most; the controller takes the target when
    /// it is not given, the simulator refuses to run without it (or `--capacity-per-instance`).
    #[serde(default)]
    pub capacity_invocations_per_instance: Option<f64>,
    /// Minutes a new instance takes before it serves; the controller plans this far ahead.
    #[serde(default = "default_startup_minutes")]
    pub startup_minutes: u32,
    /// Optional latency objective, acted on by the vertical ladder.
    #[serde(default)]
    pub latency_objective: Option<LatencyObjective>,
    /// Seconds after a scale-out before the next non-panic scale-out.
    #[serde(default = "default_scale_out_cooldown")]
    pub scale_out_cooldown_seconds: u64,
    /// Seconds after a scale-in before the next scale-in.
    #[serde(default = "default_scale_in_cooldown")]
    pub scale_in_cooldown_seconds: u64,
    /// Minutes of demand the count is sized on (their peak): scale-in waits until the whole window is low, and
    /// no action reverses an opposite one taken within the window (except a panic scale-out).
    #[serde(default = "default_stable_window")]
    pub stable_window_minutes: u32,
    /// Minutes averaged to detect a surge.
    #[serde(default = "default_panic_window")]
    pub panic_window_minutes: u32,
    /// Panic when demand over the panic window exceeds `panic_threshold` times what the current count serves
    /// at target: scale out at once (cooldown ignored), and do not scale in for a stable window afterwards.
    #[serde(default = "default_panic_threshold")]
    pub panic_threshold: f64,
    /// Largest scale-out per action.
    #[serde(default = "default_step_up")]
    pub max_step_up: Step,
    /// Largest scale-in per action.
    #[serde(default = "default_step_down")]
    pub max_step_down: Step,
    /// Extrapolate a rising trend over the start-up delay, so that instances launched now match the demand when
    /// they start serving.
    #[serde(default = "default_true")]
    pub anticipate_trend: bool,
    /// Seasonal forecast from the history (on unless set to `{"enabled": false}`).
    #[serde(default)]
    pub forecast: ForecastPolicy,
    /// Hold, besides the target's headroom, the last hour's mean demand at the target plus the root mean square
    /// of its rises over the start-up delay at full capacity: more after bursts (they come in clusters), less
    /// in calm hours.
    #[serde(default = "default_true")]
    pub volatility_headroom: bool,
    /// Scheduled minimums.
    #[serde(default)]
    pub schedules: Vec<ScheduledMinimum>,
    /// Missing or stale metrics handling.
    #[serde(default)]
    pub missing_metrics: MissingMetricsPolicy,
    /// Vertical scaling ladder (none: the type never changes).
    #[serde(default)]
    pub vertical: Option<VerticalPolicy>,
    /// Present for asynchronous endpoints: scale on the backlog instead of invocations.
    #[serde(default, rename = "async")]
    pub asynchronous: Option<AsyncPolicy>,
}

impl Policy {
    /// Reads and validates a policy file's content.
    ///
    /// # Errors
    ///
    /// [`PolicyError::Json`] for malformed JSON or unknown fields, [`PolicyError::Invalid`] for values out of
    /// range.
    pub fn from_json(text: &str) -> Result<Self, PolicyError> {
        let p: Self = serde_json::from_str(text).map_err(PolicyError::Json)?;
        p.validate()?;
        Ok(p)
    }

    /// Checks ranges and consistency.
    ///
    /// # Errors
    ///
    /// [`PolicyError::Invalid`] naming the first offending field.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let bad = |field: &'static str, why: String| PolicyError::Invalid {
            endpoint: self.endpoint.clone(),
            variant: self.variant.clone(),
            field,
            why,
        };
        if self.max_instances == 0 || self.max_instances > MAX_INSTANCES_SANITY {
            return Err(bad("max_instances", format!("must be in 1..={MAX_INSTANCES_SANITY}")));
        }
        if self.min_instances > self.max_instances {
            return Err(bad(
                "min_instances",
                format!("{} > max_instances {}", self.min_instances, self.max_instances),
            ));
        }
        if self.min_instances == 0 && self.asynchronous.is_none() {
            // Real-time variants cannot run on zero instances (scale to zero needs inference components).
            return Err(bad(
                "min_instances",
                "0 is only allowed for asynchronous endpoints".to_owned(),
            ));
        }
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !positive(self.target_invocations_per_instance) {
            return Err(bad("target_invocations_per_instance", "must be > 0".to_owned()));
        }
        if let Some(c) = self.capacity_invocations_per_instance
            && (!positive(c) || c < self.target_invocations_per_instance)
        {
            return Err(bad(
                "capacity_invocations_per_instance",
                "must be >= the target".to_owned(),
            ));
        }
        if let Some(l) = &self.latency_objective {
            if !positive(l.max_ms) {
                return Err(bad(
                    "latency_objective.max_ms",
                    format!("{} is outside (0, inf)", l.max_ms),
                ));
            }
            if !positive(l.high_utilization) {
                return Err(bad(
                    "latency_objective.high_utilization",
                    format!("{} is outside (0, inf)", l.high_utilization),
                ));
            }
        }
        if !(self.panic_threshold.is_finite() && self.panic_threshold > 1.0) {
            return Err(bad("panic_threshold", "must be > 1".to_owned()));
        }
        if self.stable_window_minutes == 0 || self.panic_window_minutes == 0 {
            return Err(bad(
                "stable_window_minutes",
                "windows must be at least one minute".to_owned(),
            ));
        }
        if self.panic_window_minutes > self.stable_window_minutes {
            return Err(bad(
                "panic_window_minutes",
                "must not exceed the stable window".to_owned(),
            ));
        }
        for (name, s) in [("max_step_up", self.max_step_up), ("max_step_down", self.max_step_down)] {
            if s.instances == 0 || !(s.percent.is_finite() && s.percent >= 0.0) {
                return Err(bad(name, "instances must be >= 1 and percent >= 0".to_owned()));
            }
        }
        if !(self.forecast.factor.is_finite() && self.forecast.factor > 0.0) {
            return Err(bad("forecast", "factor must be > 0".to_owned()));
        }
        if let Some(f) = self.missing_metrics.fallback_instances
            && (f < self.min_instances || f > self.max_instances)
        {
            return Err(bad(
                "missing_metrics",
                format!("fallback_instances {f} is outside [min, max]"),
            ));
        }
        if self.missing_metrics.max_age_minutes == 0 || self.missing_metrics.failures_before_fallback == 0 {
            return Err(bad(
                "missing_metrics",
                "max_age_minutes and failures_before_fallback must be >= 1".to_owned(),
            ));
        }
        if let Some(a) = &self.asynchronous
            && !positive(a.target_backlog_per_instance)
        {
            return Err(bad("async", "target_backlog_per_instance must be > 0".to_owned()));
        }
        if let Some(v) = &self.vertical {
            if self.asynchronous.is_some() {
                return Err(bad("vertical", "not supported for asynchronous endpoints".to_owned()));
            }
            if !v.ladder.iter().any(|r| r.instance_type == self.instance_type) {
                return Err(bad(
                    "vertical",
                    format!("ladder does not contain instance_type {}", self.instance_type),
                ));
            }
            for r in &v.ladder {
                if !positive(r.target_invocations_per_instance) {
                    return Err(bad("vertical", format!("{}: target must be > 0", r.instance_type)));
                }
                if let Some(c) = r.capacity_invocations_per_instance
                    && (!positive(c) || c < r.target_invocations_per_instance)
                {
                    return Err(bad(
                        "vertical",
                        format!("{}: capacity must be >= the target", r.instance_type),
                    ));
                }
            }
            if !(v.down_margin > 0.0 && v.down_margin <= 1.0) {
                return Err(bad("vertical", "down_margin must be in (0, 1]".to_owned()));
            }
        }
        if self.lookback_minutes() > MAX_LOOKBACK_MINUTES {
            return Err(bad(
                "vertical",
                format!("windows exceed {MAX_LOOKBACK_MINUTES} minutes"),
            ));
        }
        Ok(())
    }

    /// How many minutes of metrics the adapter should fetch for each run.
    pub fn lookback_minutes(&self) -> u32 {
        let v = self
            .vertical
            .as_ref()
            .map_or(0, |v| v.up_after_minutes.max(v.down_after_minutes));
        self.stable_window_minutes
            .max(v)
            .max(self.missing_metrics.max_age_minutes)
    }

    /// The ladder rung for a type, if the type is on the ladder.
    pub fn rung(&self, instance_type: &str) -> Option<&Rung> {
        self.vertical
            .as_ref()?
            .ladder
            .iter()
            .find(|r| r.instance_type == instance_type)
    }

    /// Target invocations per instance per minute on a type (the ladder's, else the policy's).
    pub fn target_for(&self, instance_type: &str) -> f64 {
        self.rung(instance_type)
            .map_or(self.target_invocations_per_instance, |r| {
                r.target_invocations_per_instance
            })
    }

    /// Maximum invocations per instance per minute on a type (the ladder's, else the policy's; else the target).
    pub fn capacity_for(&self, instance_type: &str) -> f64 {
        match self.rung(instance_type) {
            Some(r) => r
                .capacity_invocations_per_instance
                .unwrap_or(r.target_invocations_per_instance),
            None => self
                .capacity_invocations_per_instance
                .unwrap_or(self.target_invocations_per_instance),
        }
    }

    /// Approximate price per instance-hour from the built-in catalogue, if the type is in it.
    pub fn hourly_usd(instance_type: &str) -> Option<f64> {
        catalogue::lookup(instance_type).map(|t| t.hourly_usd)
    }

    /// The fallback capacity for blind running.
    pub fn fallback_instances(&self) -> u32 {
        self.missing_metrics.fallback_instances.unwrap_or(self.min_instances)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The sample policy shipped in the notes; kept here so that its format is tested.
    pub(crate) const SAMPLE: &str = r#"{
        "endpoint": "chat-llm",
        "variant": "AllTraffic",
        "instance_type": "ml.g5.xlarge",
        "min_instances": 1,
        "max_instances": 12,
        "target_invocations_per_instance": 60,
        "capacity_invocations_per_instance": 120,
        "startup_minutes": 6,
        "latency_objective": {"percentile": "p90", "max_ms": 2000, "high_utilization": 0.8},
        "scale_out_cooldown_seconds": 60,
        "scale_in_cooldown_seconds": 300,
        "stable_window_minutes": 10,
        "panic_window_minutes": 2,
        "panic_threshold": 1.5,
        "max_step_up": {"instances": 4, "percent": 100},
        "max_step_down": {"instances": 1, "percent": 25},
        "anticipate_trend": true,
        "forecast": {"enabled": true, "horizon_minutes": 15, "factor": 1.0},
        "schedules": [{"cron": "* 8-17 * * MON-FRI", "utc_offset": "+01:00", "min_instances": 3}],
        "missing_metrics": {"max_age_minutes": 4, "failures_before_fallback": 5, "fallback_instances": 4},
        "vertical": {
            "ladder": [
                {"instance_type": "ml.g5.xlarge", "target_invocations_per_instance": 60,
                 "capacity_invocations_per_instance": 120},
                {"instance_type": "ml.g5.2xlarge", "target_invocations_per_instance": 80,
                 "capacity_invocations_per_instance": 160}
            ],
            "up_after_minutes": 5,
            "down_after_minutes": 60,
            "down_margin": 0.7,
            "cooldown_minutes": 60
        }
    }"#;

    #[test]
    fn sample_parses_and_validates() {
        let p = Policy::from_json(SAMPLE).unwrap();
        assert_eq!(p.max_instances, 12);
        assert_eq!(p.target_for("ml.g5.2xlarge"), 80.0);
        assert_eq!(p.capacity_for("ml.g5.xlarge"), 120.0);
        assert_eq!(p.lookback_minutes(), 60);
        assert_eq!(p.fallback_instances(), 4);
        assert_eq!(p.schedules[0].utc_offset.0.local_minus_utc(), 3600);
    }

    #[test]
    fn minimal_policy_takes_defaults() {
        let p = Policy::from_json(
            r#"{"endpoint":"e","variant":"v","instance_type":"ml.m5.large","min_instances":1,
                "max_instances":4,"target_invocations_per_instance":100}"#,
        )
        .unwrap();
        assert_eq!(p.startup_minutes, 6);
        assert_eq!(p.capacity_for("ml.m5.large"), 100.0);
        assert!(p.forecast.enabled);
        assert_eq!(p.fallback_instances(), 1);
    }

    #[test]
    fn rejects_unknown_fields_and_bad_ranges() {
        let unknown = SAMPLE.replacen("\"variant\"", "\"variannt\"", 1);
        assert!(matches!(Policy::from_json(&unknown), Err(PolicyError::Json(_))));
        let inverted = SAMPLE.replacen("\"min_instances\": 1", "\"min_instances\": 20", 1);
        assert!(matches!(
            Policy::from_json(&inverted),
            Err(PolicyError::Invalid {
                field: "min_instances",
                ..
            })
        ));
        let zero = SAMPLE.replacen("\"min_instances\": 1", "\"min_instances\": 0", 1);
        assert!(matches!(
            Policy::from_json(&zero),
            Err(PolicyError::Invalid {
                field: "min_instances",
                ..
            })
        ));
        let panic = SAMPLE.replacen("\"panic_threshold\": 1.5", "\"panic_threshold\": 0.5", 1);
        assert!(matches!(
            Policy::from_json(&panic),
            Err(PolicyError::Invalid {
                field: "panic_threshold",
                ..
            })
        ));
        let mut off_ladder = Policy::from_json(SAMPLE).unwrap();
        off_ladder.instance_type = "ml.m5.large".to_owned();
        assert!(matches!(
            off_ladder.validate(),
            Err(PolicyError::Invalid { field: "vertical", .. })
        ));
        for (from, to, field) in [
            ("\"max_ms\": 2000", "\"max_ms\": -5", "latency_objective.max_ms"),
            (
                "\"high_utilization\": 0.8",
                "\"high_utilization\": 0",
                "latency_objective.high_utilization",
            ),
        ] {
            let err = Policy::from_json(&SAMPLE.replacen(from, to, 1)).unwrap_err();
            assert!(
                matches!(err, PolicyError::Invalid { field: f, .. } if f == field),
                "{err}"
            );
            assert!(err.to_string().contains("is outside (0, inf)"), "{err}");
        }
        let cron = SAMPLE.replacen("* 8-17 * * MON-FRI", "* 8-17 * *", 1);
        assert!(matches!(Policy::from_json(&cron), Err(PolicyError::Json(_))));
    }

    #[test]
    fn step_allows_the_larger_of_count_and_percent() {
        let s = Step {
            instances: 2,
            percent: 50.0,
        };
        assert_eq!(s.allowed(1), 2);
        assert_eq!(s.allowed(10), 5);
        assert_eq!(
            Step {
                instances: 1,
                percent: 0.0
            }
            .allowed(0),
            1
        );
    }
}
