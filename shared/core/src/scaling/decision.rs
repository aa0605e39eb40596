//! The vocabulary of a scaling decision: what to do ([`Action`]), the rule that settled it ([`Rule`]), the facts
//! behind it ([`Reason`]) and the [`Decision`] that carries them to the adapter, the history and the log.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::observed::VariantStatus;
use super::policy::Percentile;

/// What the adapter should do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Nothing.
    Hold,
    /// `UpdateEndpointWeightsAndCapacities` to a new instance count.
    SetCount {
        /// Desired count before.
        from: u32,
        /// Desired count after.
        to: u32,
    },
    /// A new endpoint configuration with another instance type (a blue/green deployment).
    ChangeType {
        /// Type before.
        from_type: String,
        /// Type after.
        to_type: String,
        /// Count before.
        from_count: u32,
        /// Count on the new type.
        to_count: u32,
    },
}

/// The rule that settled the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The endpoint is not `InService`.
    NotInService,
    /// Metrics failed or are stale: hold.
    MetricsUnavailable,
    /// Metrics failed too often: fallback capacity.
    Fallback,
    /// The count was outside `[min, max]`.
    OutsideLimits,
    /// Surge: scale out at once.
    Panic,
    /// Sized on demand over the stable window.
    Demand,
    /// Sized on the trend projected over the start-up delay.
    Trend,
    /// Sized on the seasonal forecast.
    Forecast,
    /// Raised to a scheduled minimum.
    Schedule,
    /// Held at or lowered to `min_instances`.
    Minimum,
    /// Capped at `max_instances`.
    Maximum,
    /// Scaled in because there was no traffic over the stable window.
    ZeroTraffic,
    /// Asynchronous: sized on the backlog.
    Backlog,
    /// Asynchronous: backlog arrived while at zero instances.
    ScaleFromZero,
    /// Asynchronous: no backlog over the stable window, down to zero.
    ScaleToZero,
    /// Blocked by a cooldown.
    Cooldown,
    /// Blocked because it would reverse an action taken within the stable window.
    StableWindow,
    /// Scale-in blocked while panicking.
    PanicHold,
    /// Moved up the ladder.
    VerticalUp,
    /// Moved down the ladder.
    VerticalDown,
    /// Nothing to change.
    Steady,
}

/// A fact behind the decision, with its numbers. Serialised with a `reason` tag, for one structured log event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// The endpoint status forbids acting.
    NotInService {
        /// The status.
        status: VariantStatus,
    },
    /// The metric query failed.
    MetricsFailed {
        /// The adapter's message.
        error: String,
        /// Failed or stale runs in a row, this one included.
        consecutive_failures: u32,
        /// Runs before the fallback.
        fallback_after: u32,
    },
    /// The newest datapoint is too old.
    MetricsStale {
        /// Newest minute with any datapoint.
        newest_minute: Option<DateTime<Utc>>,
        /// The policy's limit.
        max_age_minutes: u32,
        /// Failed or stale runs in a row, this one included.
        consecutive_failures: u32,
        /// Runs before the fallback.
        fallback_after: u32,
    },
    /// Running blind on the fallback capacity.
    Fallback {
        /// The fallback capacity.
        fallback_instances: u32,
    },
    /// The count was outside the limits.
    OutsideLimits {
        /// The count.
        count: u32,
        /// Minimum.
        min: u32,
        /// Maximum.
        max: u32,
    },
    /// Demand over the stable window.
    Demand {
        /// Invocations in the newest minute.
        last_per_minute: f64,
        /// Highest per-minute invocations over the stable window.
        window_peak_per_minute: f64,
        /// Mean per-minute invocations over the stable window (sized on at the target).
        window_mean_per_minute: f64,
        /// Capacity per instance (the peak is sized on at capacity).
        capacity_per_instance: f64,
        /// Stable window length.
        window_minutes: u32,
        /// Target per instance per minute.
        target_per_instance: f64,
        /// max(ceil(mean / target), ceil(peak / capacity)), or the panic window's need when panicking.
        recommended: u32,
    },
    /// The demand has lately moved in levels that hold (the newest minute predicted the demand a start-up delay
    /// later better than the stable window's mean): the newest minute is sized at the target too.
    LevelsHold {
        /// The newest minute's invocations.
        last_per_minute: f64,
        /// ceil(last / target).
        recommended: u32,
    },
    /// The last hour's mean at the target plus, at capacity, the root mean square of its rises over the start-up
    /// delay: the headroom a rise of the size seen lately needs before new instances serve.
    HourHeadroom {
        /// Mean per-minute invocations of the last hour.
        hour_mean_per_minute: f64,
        /// Root mean square of the hour's rises over the start-up delay and a minute (falls count as none).
        typical_rise_per_minute: f64,
        /// ceil((hour mean / target x capacity + rise) / capacity).
        recommended: u32,
    },
    /// Rising trend projected over the start-up delay.
    Trend {
        /// Fitted slope in invocations per minute per minute.
        slope: f64,
        /// Projection horizon (the start-up delay).
        minutes_ahead: u32,
        /// Projected per-minute invocations.
        projected_per_minute: f64,
        /// ceil(projected / capacity per instance).
        recommended: u32,
    },
    /// Seasonal forecast.
    Forecast {
        /// Highest expected per-minute invocations over the horizon.
        forecast_per_minute: f64,
        /// Horizon (start-up delay plus the policy's horizon).
        horizon_minutes: u32,
        /// ceil(forecast / target).
        recommended: u32,
    },
    /// The seasonal forecast was not used (`forecast.require_skill`): over the last four weeks the changes it
    /// foresaw over the start-up delay and a minute explained less than [`super::history::MIN_EXPLAINED`] of
    /// the demand's, or a day has not been compared yet.
    ForecastWithheld {
        /// The share of the demand's changes the forecast's changes explained (their squared correlation).
        explained_share: f64,
        /// Minutes compared (a day is needed).
        minutes_compared: u32,
    },
    /// An active scheduled minimum.
    Schedule {
        /// The cron expression.
        cron: String,
        /// Its UTC offset.
        utc_offset: String,
        /// Its minimum.
        min_instances: u32,
    },
    /// Asynchronous backlog.
    Backlog {
        /// Backlog now.
        backlog: f64,
        /// Highest backlog over the stable window.
        window_peak: f64,
        /// Mean backlog over the stable window (what the count is sized on).
        window_mean: f64,
        /// Target backlog per instance.
        target_per_instance: f64,
        /// ceil(mean / target).
        recommended: u32,
    },
    /// What an asynchronous fleet needs to keep up with its arrivals, the stable window's mean invocations at full
    /// capacity, below which it is not scaled in. Sized on the backlog alone, a fleet that clears its queue would
    /// shed the instances that keep it clear (requests in process count in the backlog) and oscillate.
    Arrivals {
        /// Mean per-minute invocations over the stable window.
        window_mean_per_minute: f64,
        /// Invocations per instance per minute the type serves at most.
        capacity_per_instance: f64,
        /// ceil(mean / capacity).
        recommended: u32,
    },
    /// No invocations over the whole stable window: a real zero, not missing data.
    ZeroTraffic {
        /// Stable window length.
        window_minutes: u32,
    },
    /// Surge detected.
    Panic {
        /// Average per-minute demand over the panic window.
        demand_per_minute: f64,
        /// What the serving instances handle at target.
        serving_at_target_per_minute: f64,
        /// demand / serving.
        ratio: f64,
        /// The policy's threshold.
        threshold: f64,
    },
    /// The recommendation was raised to the minimum or capped at the maximum.
    Clamped {
        /// Before clamping.
        wanted: u32,
        /// After.
        to: u32,
    },
    /// A cooldown blocks the move.
    Cooldown {
        /// `scale_out`, `scale_in` or `type_change`.
        direction: String,
        /// Seconds left.
        remaining_seconds: i64,
    },
    /// The move would reverse a recent opposite action.
    StableWindow {
        /// The opposite action's time.
        last_opposite_action: DateTime<Utc>,
        /// Stable window length.
        window_minutes: u32,
    },
    /// Fewer minutes of data than the stable window: no scale-in yet.
    ShortWindow {
        /// Minutes available.
        minutes: u32,
        /// Stable window length.
        window_minutes: u32,
    },
    /// Scale-in is off after a panic.
    PanicHold {
        /// Until when.
        until: DateTime<Utc>,
    },
    /// The step bound cut the move.
    StepLimited {
        /// What the rules asked for.
        wanted: u32,
        /// What the step allows.
        allowed: u32,
    },
    /// Saturated at the maximum count.
    SaturatedAtMax {
        /// Minutes in a row above target at max.
        minutes: u32,
        /// Lowest per-minute demand over those minutes.
        min_demand_per_minute: f64,
        /// What max instances serve at target.
        max_at_target_per_minute: f64,
    },
    /// The latency objective is missed.
    LatencyMissed {
        /// Percentile.
        percentile: Percentile,
        /// Observed latency.
        observed_ms: f64,
        /// Objective.
        objective_ms: f64,
        /// Demand per serving instance over the target.
        utilization: f64,
        /// Whether utilisation is high enough to blame capacity.
        capacity_bound: bool,
    },
    /// A smaller type has served the demand at min for long enough.
    SmallerTypeSuffices {
        /// The smaller type.
        instance_type: String,
        /// Peak per-minute demand over the period.
        peak_per_minute: f64,
        /// What the smaller type serves at min count and target, times the margin.
        serves_per_minute: f64,
        /// Period length.
        minutes: u32,
    },
}

/// The decision of one run, with everything a log event needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Endpoint name.
    pub endpoint: String,
    /// Variant name.
    pub variant: String,
    /// When it was made.
    pub at: DateTime<Utc>,
    /// What to do.
    pub action: Action,
    /// Instance type after the action.
    pub instance_type: String,
    /// Instance count after the action.
    pub desired_count: u32,
    /// The rule that settled it.
    pub rule: Rule,
    /// The facts behind it, with numbers.
    pub reasons: Vec<Reason>,
    /// A panic was detected in this run (starts the panic hold).
    pub panic: bool,
    /// Metrics were fetched and fresh (resets the failure counter).
    pub metrics_ok: bool,
}

impl Decision {
    /// The same decision without its action, for recording a run whose action the adapter could not apply.
    pub fn hold_copy(&self, count: u32, instance_type: &str) -> Self {
        Self {
            action: Action::Hold,
            desired_count: count,
            instance_type: instance_type.to_owned(),
            ..self.clone()
        }
    }

    /// Whether a reason of the given kind is present (by its serialised tag).
    pub fn has_reason(&self, tag: &str) -> bool {
        self.reasons.iter().any(|r| {
            serde_json::to_value(r)
                .ok()
                .and_then(|v| v["reason"].as_str().map(|s| s == tag))
                .unwrap_or(false)
        })
    }
}
