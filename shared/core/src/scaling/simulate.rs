//! The fleet simulator: replays a request-rate trace through [`decide`] (or the target-tracking emulation, with
//! or without scheduled minimums learned from the trace) minute by minute, with a fleet that takes time to start
//! and a queue in front of it, and sums up what would have happened.
//!
//! The fleet model, per minute `t`:
//! 1. updates whose delay has passed complete (new instances start serving, a new type replaces the old);
//! 2. the controller sees the metrics of minutes up to `t - metric_lag_minutes` and the variant's state
//!    (`Updating` while an update is in flight), and decides;
//! 3. a scale-out bills the new instances at once but they serve only after `startup_minutes`; a scale-in
//!    stops the removed instances at once and keeps the endpoint `Updating` for `scale_in_minutes`; a type
//!    change is blue/green: the old fleet serves until the new one is up, and both are billed until the baking
//!    period after it ends ([`FleetModel::bake_minutes`]);
//! 4. minute `t`'s requests join the [`queue`](super::queue) in front of the serving instances, one second at a
//!    time: what finds no free capacity waits, and what waits
//!    [`INVOKE_ENDPOINT_TIMEOUT_S`](super::queue::INVOKE_ENDPOINT_TIMEOUT_S) is dropped (an asynchronous
//!    endpoint's requests wait up to their time to live, [`FleetModel::request_ttl_s`], and its policy decides
//!    on the queue's backlog, as the scaling function does on `ApproximateBacklogSize`).
//!
//! A minute the trace does not cover is missing, not zero: it adds no requests (its demand is unknown, so it is
//! left out of every delay figure), the controllers see no datapoint for it (neither `Invocations` nor
//! `CPUUtilization`: to them it is a gap in CloudWatch's metrics), the fleet is still billed, and the requests
//! queued before it are still served or dropped.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDateTime, Timelike, Utc};
use serde::{Deserialize, Serialize};

use super::controller::{BAKING_SECONDS, TERMINATION_WAIT_SECONDS};
use super::decide::decide;
use super::decision::{Action, Decision};
use super::history::History;
use super::observed::{MetricsFetch, MinuteMetrics, Observed, VariantState, VariantStatus};
use super::policy::{Policy, PolicyError};
use super::queue::{ASYNC_REQUEST_TTL_S, WaitQueue};
use super::target_tracking::{
    Datapoint, EVALUATION_RANGE_FACTOR, LOW_ALARM_DATAPOINTS, TargetTracking, TargetTrackingConfig, TtAction,
};

/// Traces longer than this are rejected: a year of minutes is plenty, and it bounds memory.
pub const MAX_TRACE_MINUTES: usize = 366 * 24 * 60;

/// The default latency objective: a request that waits more than a second for capacity (on top of its own
/// service time) is delayed. A second is the usual limit for a response to feel immediate (Nielsen, "Response
/// Times: The 3 Important Limits", 1993); set the objective to your own service level.
pub const DEFAULT_LATENCY_OBJECTIVE_S: f64 = 1.0;

/// A count change that reverses one made less than this many minutes earlier is a flap: the instances it added
/// (or removed) were paid for (or missed) for less time than a start-up and a scale-in cooldown take. A daily
/// cycle's scale-in, hours after its scale-out, is not one.
pub const FLAP_WINDOW_MINUTES: usize = 30;

/// Days of history the scheduled minimums of [`Controller::TargetTrackingScheduled`] are learned from.
pub const SCHEDULE_LEARNING_DAYS: usize = 7;

/// Targets of a sweep when none are given, as fractions of the capacity per instance.
pub const SWEEP_FRACTIONS: [f64; 8] = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];

/// Why a trace could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The file has no header or no rows.
    #[error("trace is empty (expected a header and at least one row)")]
    Empty,
    /// A row is malformed.
    #[error("trace line {line}: {why}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        why: String,
    },
    /// The trace spans too long.
    #[error("trace spans {minutes} minutes, more than the {max} supported")]
    TooLong {
        /// Its span.
        minutes: i64,
        /// The limit.
        max: usize,
    },
}

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// No capacity per instance is known for a type the fleet may run: the simulator does not guess it.
    #[error(
        "capacity per instance of {instance_type} is unknown: set capacity_invocations_per_instance in the policy \
         (or on its ladder rung), or give the simulator one (--capacity-per-instance)"
    )]
    UnknownCapacity {
        /// The type.
        instance_type: String,
    },
    /// A sweep's target makes the policy invalid (e.g. above the capacity per instance).
    #[error("sweep target {target}: {source}")]
    Target {
        /// The target.
        target: f64,
        /// Why the policy with it is invalid.
        #[source]
        source: PolicyError,
    },
}

/// A per-minute request count series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// Start of the first minute.
    pub start: DateTime<Utc>,
    /// Requests in each minute; `None` where the trace has no row covering the minute.
    pub per_minute: Vec<Option<f64>>,
    /// The interval of the trace's rows in seconds (60 for one row per request).
    pub interval_seconds: i64,
}

impl Trace {
    /// Requests in the minutes the trace covers.
    pub fn total_requests(&self) -> f64 {
        self.per_minute.iter().flatten().sum()
    }

    /// Minutes the trace does not cover.
    pub fn missing_minutes(&self) -> usize {
        self.per_minute.iter().filter(|m| m.is_none()).count()
    }
}

/// How the trace's rows are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceFormat {
    /// A count column if the header names one (`count`, `invocations`, `requests`, `value`) or if there are
    /// exactly two columns; otherwise one row per request.
    Auto,
    /// One row per request: count rows per minute.
    PerRequest,
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim().trim_matches('"');
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
    }
    // Unix seconds (possibly fractional).
    let secs: f64 = s.parse().ok()?;
    DateTime::from_timestamp_millis((secs * 1000.0) as i64)
}

fn minute_floor(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp().div_euclid(60) * 60, 0).expect("a floored valid time is valid")
}

/// The most common positive gap between consecutive times in seconds (the smaller on a tie), 60 without any:
/// one stray row changes two gaps and not the interval, where the smallest gap would follow it.
pub fn most_common_gap(sorted: &[DateTime<Utc>]) -> i64 {
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for w in sorted.windows(2) {
        let g = (w[1] - w[0]).num_seconds();
        if g > 0 {
            *counts.entry(g).or_default() += 1;
        }
    }
    // `max_by_key` keeps the last of equal maxima, so iterate from the largest gap down.
    counts.iter().rev().max_by_key(|&(_, &n)| n).map_or(60, |(&g, _)| g)
}

/// Reads a trace CSV.
///
/// # Format
///
/// A header, then rows whose first column is a timestamp (`2023-11-16 18:17:03.97`, RFC 3339, or Unix
/// seconds), read as UTC. With a count column, each row is the request count of the interval that starts at its
/// timestamp; the interval is the most common gap between rows ([`most_common_gap`]), rounded down to whole
/// minutes, and a count is spread evenly over its interval's minutes (rows closer than the interval add up where
/// they overlap). Minutes no row covers are missing (`None`), not zero. Without a count column (or with
/// [`TraceFormat::PerRequest`]), each row is one request and minutes without rows are zero.
///
/// # Errors
///
/// [`TraceError`] with the line number for unreadable timestamps or counts, and for empty or too long traces.
pub fn parse_trace_csv(text: &str, format: TraceFormat) -> Result<Trace, TraceError> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or(TraceError::Empty)?;
    let cols: Vec<String> = header
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    let count_col = match format {
        TraceFormat::PerRequest => None,
        TraceFormat::Auto => cols
            .iter()
            .position(|c| matches!(c.as_str(), "count" | "invocations" | "requests" | "value"))
            .or(if cols.len() == 2 { Some(1) } else { None }),
    };
    let mut rows: Vec<(DateTime<Utc>, f64)> = Vec::new();
    for (i, line) in lines {
        let fields: Vec<&str> = line.split(',').collect();
        let bad = |why: String| TraceError::Line { line: i + 1, why };
        let t = parse_time(fields[0]).ok_or_else(|| bad(format!("unreadable timestamp {:?}", fields[0])))?;
        let n = match count_col {
            Some(c) => {
                let f = fields.get(c).ok_or_else(|| bad(format!("missing column {}", c + 1)))?;
                let n: f64 = f.trim().parse().map_err(|_| bad(format!("unreadable count {f:?}")))?;
                if !(n.is_finite() && n >= 0.0) {
                    return Err(bad(format!("count {n} is negative or not finite")));
                }
                n
            }
            None => 1.0,
        };
        rows.push((t, n));
    }
    if rows.is_empty() {
        return Err(TraceError::Empty);
    }
    rows.sort_by_key(|r| r.0);
    let interval_seconds = if count_col.is_some() {
        let times: Vec<DateTime<Utc>> = rows.iter().map(|r| r.0).collect();
        most_common_gap(&times)
    } else {
        60
    };
    let spread = (interval_seconds / 60).max(1);
    let start = minute_floor(rows[0].0);
    let last = minute_floor(rows[rows.len() - 1].0);
    let span = (last - start).num_minutes() + spread;
    if span as usize > MAX_TRACE_MINUTES {
        return Err(TraceError::TooLong {
            minutes: span,
            max: MAX_TRACE_MINUTES,
        });
    }
    let empty = if count_col.is_some() { None } else { Some(0.0) };
    let mut per_minute = vec![empty; span as usize];
    for (t, n) in rows {
        let i = (minute_floor(t) - start).num_minutes() as usize;
        for slot in &mut per_minute[i..i + spread as usize] {
            *slot = Some(slot.unwrap_or(0.0) + n / spread as f64);
        }
    }
    Ok(Trace {
        start,
        per_minute,
        interval_seconds,
    })
}

/// The fleet's physics and prices, and how delay is judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetModel {
    /// Minutes before added instances serve.
    pub startup_minutes: u32,
    /// Minutes the endpoint stays `Updating` after a scale-in.
    pub scale_in_minutes: u32,
    /// Age of the newest datapoint the controller sees (CloudWatch publishing delay), at least 1.
    pub metric_lag_minutes: u32,
    /// Instances at the start; default: the first stable window's mean demand at the target, within [min, max].
    pub initial_instances: Option<u32>,
    /// Price per instance-hour overriding the built-in catalogue (for every type).
    pub hourly_usd: Option<f64>,
    /// Requests per minute one instance of the policy's `instance_type` serves at most, overriding the policy's
    /// `capacity_invocations_per_instance`. One of the two is required: the simulator never takes the target
    /// for the capacity.
    pub capacity_per_instance: Option<f64>,
    /// Minutes both fleets stay billed after the new one serves in a type change: the blue/green baking period
    /// and the termination wait. Default: those the scaling function deploys with
    /// ([`BAKING_SECONDS`] + [`TERMINATION_WAIT_SECONDS`]).
    pub bake_minutes: u32,
    /// A request that waits longer than this many seconds for capacity is delayed.
    pub latency_objective_s: f64,
    /// Seconds an asynchronous endpoint's request waits in its queue before it expires (the invocations'
    /// `RequestTTLSeconds`); real-time requests time out after 60 s whatever this says.
    #[serde(default = "default_request_ttl_s")]
    pub request_ttl_s: f64,
}

fn default_request_ttl_s() -> f64 {
    ASYNC_REQUEST_TTL_S
}

impl FleetModel {
    /// A fleet whose start-up delay is the policy's own estimate, one minute of metric lag, the scaling function's
    /// baking period and [`DEFAULT_LATENCY_OBJECTIVE_S`].
    pub fn from_policy(policy: &Policy) -> Self {
        Self {
            startup_minutes: policy.startup_minutes,
            scale_in_minutes: 1,
            metric_lag_minutes: 1,
            initial_instances: None,
            hourly_usd: None,
            capacity_per_instance: None,
            bake_minutes: ((BAKING_SECONDS + TERMINATION_WAIT_SECONDS) / 60) as u32,
            latency_objective_s: DEFAULT_LATENCY_OBJECTIVE_S,
            request_ttl_s: ASYNC_REQUEST_TTL_S,
        }
    }

    /// Requests per minute one instance of `instance_type` serves at most: this model's override for the
    /// policy's type, else the ladder rung's or the policy's stated capacity.
    ///
    /// # Errors
    ///
    /// [`SimulateError::UnknownCapacity`] when none is stated.
    pub fn capacity_for(&self, policy: &Policy, instance_type: &str) -> Result<f64, SimulateError> {
        let own = instance_type == policy.instance_type;
        let stated = match (own, self.capacity_per_instance) {
            (true, Some(c)) => Some(c),
            _ => policy
                .rung(instance_type)
                .and_then(|r| r.capacity_invocations_per_instance)
                .or(if own {
                    policy.capacity_invocations_per_instance
                } else {
                    None
                }),
        };
        stated.ok_or_else(|| SimulateError::UnknownCapacity {
            instance_type: instance_type.to_owned(),
        })
    }
}

/// Which control logic drives the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Controller {
    /// The project's policy through [`decide`].
    Policy,
    /// Application Auto Scaling target tracking with the policy's target, min, max and type.
    TargetTracking,
    /// Target tracking plus scheduled minimums for each UTC hour of the day, learned from the trace's previous
    /// days ([`DailyMinimums`]): the AWS way to prepare for a daily cycle on SageMaker, where predictive scaling
    /// is not offered.
    TargetTrackingScheduled,
}

impl Controller {
    /// All controllers, in the order they are reported.
    pub const ALL: [Controller; 3] = [
        Controller::Policy,
        Controller::TargetTracking,
        Controller::TargetTrackingScheduled,
    ];

    /// The kebab-case name used in files and tables.
    pub fn name(self) -> &'static str {
        match self {
            Controller::Policy => "policy",
            Controller::TargetTracking => "target-tracking",
            Controller::TargetTrackingScheduled => "target-tracking-scheduled",
        }
    }
}

/// Scheduled minimums for each UTC hour of the day, learned without look-ahead: on day `d` the minimum of hour
/// `h` is the median, over the up to [`SCHEDULE_LEARNING_DAYS`] previous days with data in that hour, of the
/// hour's mean requests per minute, at the target (rounded up), within the policy's [min, max]. This is what a
/// daily job that rewrites the scalable target's scheduled actions (`PutScheduledAction` with a `MinCapacity`
/// per hour) from the past week would do. The first day has no schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyMinimums {
    /// The UTC day (days since the Unix epoch) of `hourly[0]`.
    first_day: i64,
    /// Mean requests per minute of each hour's known minutes, from the first day's midnight.
    hourly: Vec<Option<f64>>,
}

impl DailyMinimums {
    /// The hourly means of `trace`.
    pub fn of(trace: &Trace) -> Self {
        let first_day = trace.start.timestamp().div_euclid(86_400);
        let offset = (trace.start.timestamp() - first_day * 86_400) / 60;
        let hours = (offset as usize + trace.per_minute.len()).div_ceil(60);
        let mut sums = vec![(0.0, 0usize); hours];
        for (i, m) in trace.per_minute.iter().enumerate() {
            if let Some(v) = m {
                let s = &mut sums[(offset as usize + i) / 60];
                s.0 += v;
                s.1 += 1;
            }
        }
        Self {
            first_day,
            hourly: sums.into_iter().map(|(s, n)| (n > 0).then(|| s / n as f64)).collect(),
        }
    }

    /// The minimums in force on UTC day `day` (days since the Unix epoch), learned from the days before it.
    pub fn for_day(&self, day: i64, target: f64, min: u32, max: u32) -> [u32; 24] {
        let mut out = [min; 24];
        for (h, slot) in out.iter_mut().enumerate() {
            let mut seen: Vec<f64> = (1..=SCHEDULE_LEARNING_DAYS as i64)
                .filter_map(|back| {
                    let d = day - back - self.first_day;
                    if d < 0 {
                        return None;
                    }
                    self.hourly.get(d as usize * 24 + h).copied().flatten()
                })
                .collect();
            if seen.is_empty() {
                continue;
            }
            seen.sort_by(f64::total_cmp);
            let n = seen.len();
            let median = if n % 2 == 1 {
                seen[n / 2]
            } else {
                (seen[n / 2 - 1] + seen[n / 2]) / 2.0
            };
            *slot = ((median / target).ceil() as u32).clamp(min, max);
        }
        out
    }
}

/// One simulated minute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinuteRecord {
    /// Offset from the trace's start.
    pub minute: usize,
    /// Requests; `None` for a minute the trace does not cover.
    pub demand: Option<f64>,
    /// Requests the serving instances can handle.
    pub capacity: f64,
    /// Instances serving.
    pub serving: u32,
    /// Instances billed.
    pub billed: u32,
    /// Type serving.
    pub instance_type: String,
    /// Requests waiting at the end of the minute.
    pub backlog: f64,
    /// Requests served in the minute.
    pub served: f64,
    /// Requests that ended in this minute delayed beyond the objective (served late or dropped).
    pub delayed: f64,
}

/// What one run adds up to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Which controller.
    pub controller: Controller,
    /// Minutes simulated.
    pub minutes: usize,
    /// Minutes the trace does not cover (no demand known, left out of the delay figures, still billed).
    pub missing_minutes: usize,
    /// Requests in the trace.
    pub total_requests: f64,
    /// The latency objective in seconds.
    pub latency_objective_s: f64,
    /// Requests that waited longer than the objective for capacity, or were dropped.
    pub delayed_requests: f64,
    /// `delayed_requests / total_requests` (0-1).
    pub delayed_share: f64,
    /// Requests dropped after waiting [`INVOKE_ENDPOINT_TIMEOUT_S`](super::queue::INVOKE_ENDPOINT_TIMEOUT_S), or an
    /// asynchronous endpoint's that expired after [`FleetModel::request_ttl_s`].
    pub dropped_requests: f64,
    /// 99th percentile of the wait for capacity in seconds, dropped requests counted at the timeout.
    pub p99_wait_s: f64,
    /// Minutes whose demand exceeded the serving capacity.
    pub under_provisioned_minutes: usize,
    /// Requests beyond the serving capacity in their own minute (before queueing).
    pub requests_over_capacity: f64,
    /// `requests_over_capacity / total_requests`.
    pub share_over_capacity: f64,
    /// Instance-hours billed.
    pub instance_hours: f64,
    /// Instance-hours billed by instance type.
    pub instance_hours_by_type: BTreeMap<String, f64>,
    /// Cost in USD, if every billed type's price is known.
    pub cost_usd: Option<f64>,
    /// Cost in USD of each billed type whose price is known.
    pub cost_by_type_usd: BTreeMap<String, f64>,
    /// Count or type changes.
    pub scaling_actions: usize,
    /// Count changes that reverse the previous one within [`FLAP_WINDOW_MINUTES`].
    pub flaps: usize,
    /// Most instances billed at once.
    pub peak_billed: u32,
}

/// A full run: the summary, the timeline and the policy's decisions that acted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulationRun {
    /// The totals.
    pub summary: Summary,
    /// Minute by minute.
    pub timeline: Vec<MinuteRecord>,
    /// The actions, with their reasons (target tracking's carry no reasons and are not listed).
    pub decisions: Vec<Decision>,
}

#[derive(Debug, Clone)]
enum Pending {
    Out {
        ready: usize,
    },
    In {
        ready: usize,
    },
    /// A blue/green type change: the new fleet serves from `ready`, the old one is billed until `done`.
    Type {
        ready: usize,
        done: usize,
        from_type: String,
        from_count: u32,
        to_type: String,
        to_count: u32,
    },
}

struct Fleet {
    itype: String,
    serving: u32,
    desired: u32,
    pending: Option<Pending>,
}

/// Replays `trace` under `controller`.
///
/// # Errors
///
/// [`SimulateError::UnknownCapacity`] when the capacity per instance of the policy's type, or of a type on its
/// ladder, is stated neither in the policy nor in `fleet`.
pub fn simulate(
    trace: &Trace,
    policy: &Policy,
    fleet: &FleetModel,
    controller: Controller,
) -> Result<SimulationRun, SimulateError> {
    // Every type the fleet may run must have a stated capacity; the decision sees the same one.
    let mut capacities: BTreeMap<String, f64> = BTreeMap::new();
    let types = std::iter::once(policy.instance_type.clone()).chain(
        policy
            .vertical
            .iter()
            .flat_map(|v| v.ladder.iter().map(|r| r.instance_type.clone())),
    );
    for t in types {
        let c = fleet.capacity_for(policy, &t)?;
        capacities.insert(t, c);
    }
    let mut policy = policy.clone();
    policy.capacity_invocations_per_instance = Some(capacities[&policy.instance_type]);
    let policy = &policy;

    let lag = fleet.metric_lag_minutes.max(1) as usize;
    let lookback = policy.lookback_minutes() as usize;
    // By default the endpoint was running before the trace began, sized for its opening demand: the mean of
    // the first stable window's known minutes at the target. All controllers start from the same count.
    let opening: Vec<f64> = trace.per_minute[..trace.per_minute.len().min(policy.stable_window_minutes as usize)]
        .iter()
        .flatten()
        .copied()
        .collect();
    let opening_mean = opening.iter().sum::<f64>() / opening.len().max(1) as f64;
    let initial = fleet
        .initial_instances
        .unwrap_or_else(|| (opening_mean / policy.target_invocations_per_instance).ceil() as u32)
        .clamp(policy.min_instances, policy.max_instances);
    let mut f = Fleet {
        itype: policy.instance_type.clone(),
        serving: initial,
        desired: initial,
        pending: None,
    };
    let mut history = History::default();
    let mut tt = TargetTracking::default();
    let mut tt_cfg = TargetTrackingConfig::with_defaults(
        policy.target_invocations_per_instance,
        policy.min_instances,
        policy.max_instances,
    );
    let daily = (controller == Controller::TargetTrackingScheduled).then(|| DailyMinimums::of(trace));
    let mut schedule: Option<(i64, [u32; 24])> = None;
    let mut queue = match policy.asynchronous {
        Some(_) => WaitQueue::with_timeout(fleet.latency_objective_s, fleet.request_ttl_s),
        None => WaitQueue::new(fleet.latency_objective_s),
    };
    let mut timeline: Vec<MinuteRecord> = Vec::with_capacity(trace.per_minute.len());
    let mut decisions = Vec::new();
    let mut actions = 0usize;
    let mut flaps = 0usize;
    let mut last_change: Option<(usize, i8)> = None;
    let (mut under, mut over, mut peak_billed) = (0usize, 0.0, 0u32);
    let mut billed_minutes: BTreeMap<String, u64> = BTreeMap::new();

    for (t, &demand) in trace.per_minute.iter().enumerate() {
        let now = trace.start + Duration::minutes(t as i64);
        // 1. Complete updates.
        match f.pending.clone() {
            Some(Pending::Out { ready } | Pending::In { ready }) if ready <= t => {
                f.serving = f.desired;
                f.pending = None;
            }
            Some(Pending::Type {
                ready,
                done,
                to_type,
                to_count,
                ..
            }) if ready <= t => {
                f.itype = to_type;
                f.serving = to_count;
                f.desired = to_count;
                if done <= t {
                    f.pending = None;
                }
            }
            _ => {}
        }
        let in_service = f.pending.is_none();

        // 2-3. Decide (from the minute the first datapoint is visible) and apply.
        let mut new_dir = 0i8;
        if t >= lag {
            let visible_end = t + 1 - lag; // exclusive
            let visible_start = visible_end.saturating_sub(TT_LOOKBACK);
            match controller {
                Controller::Policy => {
                    let minutes: Vec<MinuteMetrics> = (visible_end.saturating_sub(lookback)..visible_end)
                        .map(|i| metrics_of(trace, &timeline, i, policy.asynchronous.is_some()))
                        .collect();
                    let observed = Observed {
                        now,
                        metrics: MetricsFetch::Fetched { minutes },
                        variant: VariantState {
                            instance_type: f.itype.clone(),
                            current_count: f.serving,
                            desired_count: f.desired,
                            status: if in_service {
                                VariantStatus::InService
                            } else {
                                VariantStatus::Updating
                            },
                        },
                    };
                    let d = decide(&observed, policy, &history);
                    history.record(&observed, policy, &d);
                    match &d.action {
                        Action::Hold => {}
                        Action::SetCount { to, .. } => {
                            new_dir = apply_count(&mut f, *to, t, fleet);
                        }
                        Action::ChangeType { to_type, to_count, .. } => {
                            let ready = t + fleet.startup_minutes as usize;
                            f.pending = Some(Pending::Type {
                                ready,
                                done: ready + fleet.bake_minutes as usize,
                                from_type: f.itype.clone(),
                                from_count: f.serving,
                                to_type: to_type.clone(),
                                to_count: *to_count,
                            });
                            actions += 1;
                        }
                    }
                    if d.action != Action::Hold {
                        decisions.push(d);
                    }
                }
                Controller::TargetTracking | Controller::TargetTrackingScheduled => {
                    if let Some(daily) = &daily {
                        // The schedule in force: hour h's minimum from `startup_minutes` before h, so that the
                        // instances serve when the hour begins (a scheduled action is set that much early).
                        let day = now.timestamp().div_euclid(86_400);
                        if schedule.is_none_or(|(d, _)| d != day) {
                            let mins = daily.for_day(
                                day,
                                policy.target_invocations_per_instance,
                                policy.min_instances,
                                policy.max_instances,
                            );
                            schedule = Some((day, mins));
                        }
                        let mins = schedule.map(|(_, m)| m).unwrap_or([policy.min_instances; 24]);
                        let ahead = now + Duration::minutes(i64::from(fleet.startup_minutes));
                        tt_cfg.min = mins[now.hour() as usize].max(mins[ahead.hour() as usize]);
                    }
                    let dps: Vec<Option<Datapoint>> = (visible_start..visible_end)
                        .map(|i| {
                            let r = &timeline[i];
                            let instances = r.serving.max(1);
                            r.demand.filter(|&d| d > 0.0).map(|d| Datapoint {
                                value: d / f64::from(instances),
                                instances,
                            })
                        })
                        .collect();
                    let step = tt.step(&tt_cfg, t as i64, &dps, f.desired, in_service);
                    if let TtAction::SetCount { to, .. } = step {
                        new_dir = apply_count(&mut f, to, t, fleet);
                    } else if f.desired < tt_cfg.min && in_service {
                        // Application Auto Scaling raises the capacity to a new minimum at once.
                        new_dir = apply_count(&mut f, tt_cfg.min, t, fleet);
                    }
                }
            }
        }
        if new_dir != 0 {
            actions += 1;
            if let Some((at, dir)) = last_change
                && dir != new_dir
                && t - at < FLAP_WINDOW_MINUTES
            {
                flaps += 1;
            }
            last_change = Some((t, new_dir));
        }

        // 4. Bill, then serve: the minute's requests join the queue one second at a time.
        let capacity = f64::from(f.serving) * capacities[&f.itype];
        let billed_now = match &f.pending {
            Some(Pending::Type {
                from_type,
                from_count,
                to_type,
                to_count,
                ..
            }) => {
                *billed_minutes.entry(from_type.clone()).or_default() += u64::from(*from_count);
                *billed_minutes.entry(to_type.clone()).or_default() += u64::from(*to_count);
                from_count + to_count
            }
            _ => {
                let billed = f.serving.max(f.desired);
                *billed_minutes.entry(f.itype.clone()).or_default() += u64::from(billed);
                billed
            }
        };
        let (delayed_before, served_before) = (queue.stats().delayed(), queue.stats().served);
        let arrivals = demand.unwrap_or(0.0) / 60.0;
        for s in 0..60 {
            queue.second((t * 60 + s) as f64, arrivals, capacity / 60.0);
        }
        if let Some(d) = demand
            && d > capacity + 1e-9
        {
            under += 1;
            over += d - capacity;
        }
        peak_billed = peak_billed.max(billed_now);
        timeline.push(MinuteRecord {
            minute: t,
            demand,
            capacity,
            serving: f.serving,
            billed: billed_now,
            instance_type: f.itype.clone(),
            backlog: queue.backlog(),
            served: queue.stats().served - served_before,
            delayed: queue.stats().delayed() - delayed_before,
        });
    }
    // What is still queued when the trace ends is served by the last fleet, or dropped.
    let last_capacity = timeline.last().map_or(0.0, |r| r.capacity);
    let waits = queue.drain((trace.per_minute.len() * 60) as f64, last_capacity / 60.0);

    let price = |t: &str| fleet.hourly_usd.or_else(|| Policy::hourly_usd(t));
    let instance_hours_by_type: BTreeMap<String, f64> = billed_minutes
        .iter()
        .map(|(t, &m)| (t.clone(), m as f64 / 60.0))
        .collect();
    let cost_by_type_usd: BTreeMap<String, f64> = instance_hours_by_type
        .iter()
        .filter_map(|(t, &h)| price(t).map(|p| (t.clone(), h * p)))
        .collect();
    let cost_usd = (cost_by_type_usd.len() == instance_hours_by_type.len()).then(|| cost_by_type_usd.values().sum());
    let total = trace.total_requests();
    let summary = Summary {
        controller,
        minutes: trace.per_minute.len(),
        missing_minutes: trace.missing_minutes(),
        total_requests: total,
        latency_objective_s: fleet.latency_objective_s,
        delayed_requests: waits.delayed(),
        delayed_share: waits.delayed_share(),
        dropped_requests: waits.dropped,
        p99_wait_s: waits.p99_wait_s(),
        under_provisioned_minutes: under,
        requests_over_capacity: over,
        share_over_capacity: if total > 0.0 { over / total } else { 0.0 },
        instance_hours: instance_hours_by_type.values().sum(),
        instance_hours_by_type,
        cost_usd,
        cost_by_type_usd,
        scaling_actions: actions,
        flaps,
        peak_billed,
    };
    Ok(SimulationRun {
        summary,
        timeline,
        decisions,
    })
}

/// The emulated alarms look back at most this many minutes.
const TT_LOOKBACK: usize = LOW_ALARM_DATAPOINTS * EVALUATION_RANGE_FACTOR;

/// Returns the direction of the change: 1 out, -1 in, 0 none.
fn apply_count(f: &mut Fleet, to: u32, t: usize, fleet: &FleetModel) -> i8 {
    if to > f.desired {
        f.desired = to;
        f.pending = Some(Pending::Out {
            ready: t + fleet.startup_minutes as usize,
        });
        1
    } else if to < f.desired {
        f.desired = to;
        f.serving = f.serving.min(to);
        f.pending = Some(Pending::In {
            ready: t + fleet.scale_in_minutes as usize,
        });
        -1
    } else {
        0
    }
}

/// The CloudWatch datapoints minute `i` would have produced (none for a minute the trace does not cover); for
/// an asynchronous endpoint, its backlog too: `ApproximateBacklogSize` counts "the items in the queue for an
/// endpoint that are currently being processed or yet to be processed" (SageMaker's asynchronous inference
/// metrics), so the requests queued at the end of the minute plus those in process, taken as one an instance
/// at the minute's utilisation (served / capacity of one instance).
fn metrics_of(trace: &Trace, timeline: &[MinuteRecord], i: usize, asynchronous: bool) -> MinuteMetrics {
    let r = &timeline[i];
    let minute = trace.start + Duration::minutes(i as i64);
    let serving = f64::from(r.serving.max(1));
    let Some(demand) = r.demand else {
        return MinuteMetrics::empty(minute);
    };
    MinuteMetrics {
        minute,
        // SageMaker emits no invocation datapoints for a minute without requests.
        invocations: (demand > 0.0).then_some(demand),
        invocations_per_instance: (demand > 0.0).then(|| demand / serving),
        // Instance metrics are emitted every minute while instances run; a crude load proxy is enough here.
        cpu_utilization: (r.serving > 0).then(|| (100.0 * demand / r.capacity.max(1.0)).min(100.0)),
        approximate_backlog_size: asynchronous.then(|| backlog_metric(r)),
        approximate_backlog_size_per_instance: (asynchronous && r.serving > 0)
            .then(|| backlog_metric(r) / f64::from(r.serving)),
        ..MinuteMetrics::empty(minute)
    }
}

/// `ApproximateBacklogSize` of a simulated minute: queued plus in process (see [`metrics_of`]).
fn backlog_metric(r: &MinuteRecord) -> f64 {
    let per_instance = if r.serving > 0 {
        r.capacity / f64::from(r.serving)
    } else {
        0.0
    };
    let in_process = if per_instance > 0.0 {
        r.served / per_instance
    } else {
        0.0
    };
    r.backlog + in_process
}

/// One point of a controller's cost-against-delay curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrontierPoint {
    /// Target invocations per instance per minute.
    pub target: f64,
    /// Cost in USD, if every billed type's price is known.
    pub cost_usd: Option<f64>,
    /// Instance-hours billed.
    pub instance_hours: f64,
    /// Share of requests delayed beyond the objective or dropped (0-1).
    pub delayed_share: f64,
    /// Requests dropped after the invocation timeout.
    pub dropped_requests: f64,
    /// 99th percentile wait in seconds.
    pub p99_wait_s: f64,
    /// Count or type changes.
    pub scaling_actions: usize,
    /// Count changes reversed within [`FLAP_WINDOW_MINUTES`].
    pub flaps: usize,
}

impl FrontierPoint {
    fn of(target: f64, s: &Summary) -> Self {
        Self {
            target,
            cost_usd: s.cost_usd,
            instance_hours: s.instance_hours,
            delayed_share: s.delayed_share,
            dropped_requests: s.dropped_requests,
            p99_wait_s: s.p99_wait_s,
            scaling_actions: s.scaling_actions,
            flaps: s.flaps,
        }
    }
}

/// Each controller's curve over a range of targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frontier {
    /// The latency objective the delays are judged against, in seconds.
    pub latency_objective_s: f64,
    /// Points by controller name ([`Controller::name`]), in the order of the targets.
    pub controllers: BTreeMap<String, Vec<FrontierPoint>>,
    /// The policy's curve read at each baseline point's cost ([`policy_at_equal_cost`]).
    pub policy_at_equal_cost: Vec<EqualCost>,
}

/// A baseline's point beside the policy's delay at the same cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EqualCost {
    /// The baseline controller's name.
    pub baseline: String,
    /// The baseline's target at this point.
    pub target: f64,
    /// The cost both are compared at: USD when every point has a price, else instance-hours.
    pub cost: f64,
    /// The baseline's delayed share.
    pub baseline_delayed_share: f64,
    /// The policy's delayed share at that cost, interpolated linearly between its two points of nearest cost;
    /// `None` when the cost is outside the policy's range.
    pub policy_delayed_share: Option<f64>,
}

/// The cost a point is compared at: USD when priced, else instance-hours.
fn cost_of(p: &FrontierPoint, priced: bool) -> f64 {
    if priced {
        p.cost_usd.unwrap_or(f64::NAN)
    } else {
        p.instance_hours
    }
}

/// The delayed share of `curve` at `cost`, interpolated linearly between the points of nearest cost below and
/// above it; `None` outside the curve's cost range.
pub fn delayed_share_at_cost(curve: &[FrontierPoint], cost: f64, priced: bool) -> Option<f64> {
    let mut pts: Vec<(f64, f64)> = curve.iter().map(|p| (cost_of(p, priced), p.delayed_share)).collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let lo = pts.iter().rev().find(|p| p.0 <= cost)?;
    let hi = pts.iter().find(|p| p.0 >= cost)?;
    if hi.0 - lo.0 <= f64::EPSILON * cost.abs().max(1.0) {
        return Some(lo.1.min(hi.1));
    }
    Some(lo.1 + (hi.1 - lo.1) * (cost - lo.0) / (hi.0 - lo.0))
}

/// Every baseline point beside the policy's delayed share at the same cost: the comparison the issue of cost
/// against delay asks for ("at equal cost, which delays fewer requests").
pub fn policy_at_equal_cost(controllers: &BTreeMap<String, Vec<FrontierPoint>>) -> Vec<EqualCost> {
    let priced = controllers.values().flatten().all(|p| p.cost_usd.is_some());
    let Some(policy) = controllers.get(Controller::Policy.name()) else {
        return Vec::new();
    };
    controllers
        .iter()
        .filter(|(name, _)| name.as_str() != Controller::Policy.name())
        .flat_map(|(name, points)| {
            points.iter().map(move |b| {
                let cost = cost_of(b, priced);
                EqualCost {
                    baseline: name.clone(),
                    target: b.target,
                    cost,
                    baseline_delayed_share: b.delayed_share,
                    policy_delayed_share: delayed_share_at_cost(policy, cost, priced),
                }
            })
        })
        .collect()
}

/// The targets of a sweep when none are given: [`SWEEP_FRACTIONS`] of the capacity per instance.
pub fn default_sweep_targets(capacity_per_instance: f64) -> Vec<f64> {
    // Rounded to a millionth so that 0.3 x 6 prints as 1.8.
    SWEEP_FRACTIONS
        .iter()
        .map(|f| (f * capacity_per_instance * 1e6).round() / 1e6)
        .collect()
}

/// `policy` with its target set to `target`, and each ladder rung's target scaled by the same ratio (never above
/// the rung's capacity).
///
/// # Errors
///
/// [`PolicyError`] when the result is not a valid policy (e.g. a target above the stated capacity).
pub fn with_target(policy: &Policy, target: f64) -> Result<Policy, PolicyError> {
    let mut p = policy.clone();
    let ratio = target / policy.target_invocations_per_instance;
    p.target_invocations_per_instance = target;
    if let Some(v) = &mut p.vertical {
        for r in &mut v.ladder {
            let scaled = r.target_invocations_per_instance * ratio;
            r.target_invocations_per_instance = r.capacity_invocations_per_instance.map_or(scaled, |c| scaled.min(c));
        }
    }
    p.validate()?;
    Ok(p)
}

/// Runs every controller at every target.
///
/// # Errors
///
/// [`SimulateError::Target`] for a target that makes the policy invalid, and [`simulate`]'s errors.
pub fn sweep(trace: &Trace, policy: &Policy, fleet: &FleetModel, targets: &[f64]) -> Result<Frontier, SimulateError> {
    let mut controllers: BTreeMap<String, Vec<FrontierPoint>> = BTreeMap::new();
    for &target in targets {
        let p = with_target(policy, target).map_err(|source| SimulateError::Target { target, source })?;
        for c in Controller::ALL {
            let run = simulate(trace, &p, fleet, c)?;
            controllers
                .entry(c.name().to_owned())
                .or_default()
                .push(FrontierPoint::of(target, &run.summary));
        }
    }
    Ok(Frontier {
        latency_objective_s: fleet.latency_objective_s,
        policy_at_equal_cost: policy_at_equal_cost(&controllers),
        controllers,
    })
}

#[cfg(test)]
mod tests {
    use super::super::decision::Rule;
    use super::super::queue::INVOKE_ENDPOINT_TIMEOUT_S;
    use super::*;

    /// The repository's example policies (`examples/policies`, the README's) are policies the scaler and the
    /// simulator take: the asynchronous one scales to zero on its backlog, and the real-time one moves up its
    /// ladder when twenty of its small instances are not enough.
    #[test]
    fn the_example_policies_are_valid_and_the_ladder_moves_up_under_load() {
        let realtime = Policy::from_json(include_str!("../../../../examples/policies/realtime-ladder.json")).unwrap();
        let asynchronous = Policy::from_json(include_str!("../../../../examples/policies/async.json")).unwrap();
        assert!(asynchronous.asynchronous.is_some() && asynchronous.min_instances == 0);
        assert_eq!(realtime.vertical.as_ref().map(|v| v.ladder.len()), Some(2));
        // Two hours at 600 requests a minute, then three at 3,000 (20 ml.g5.xlarge serve 2,400 at most).
        let per_minute = (0..300).map(|m| Some(if m < 120 { 600.0 } else { 3000.0 })).collect();
        let trace = Trace {
            start: DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            per_minute,
            interval_seconds: 60,
        };
        let run = simulate(
            &trace,
            &realtime,
            &FleetModel::from_policy(&realtime),
            Controller::Policy,
        )
        .unwrap();
        let hours = &run.summary.instance_hours_by_type;
        assert!(hours.get("ml.g5.2xlarge").is_some_and(|h| *h > 1.0), "{hours:?}");
    }

    /// The policy used on the real traces: an LLM on ml.g5.xlarge load-tested at 120 requests per minute per
    /// instance, with the target at half of that, the safety factor SageMaker's documentation recommends for
    /// `SageMakerVariantInvocationsPerInstance` ("Load testing your auto scaling configuration").
    pub(crate) fn real_trace_policy() -> Policy {
        Policy::from_json(
            r#"{"endpoint":"llm","variant":"AllTraffic","instance_type":"ml.g5.xlarge",
                "min_instances":1,"max_instances":20,
                "target_invocations_per_instance":60,"capacity_invocations_per_instance":120,
                "startup_minutes":6,"stable_window_minutes":15}"#,
        )
        .unwrap()
    }

    /// The folder of the real traces (Azure LLM inference, 2023) in the shared real-data folder, when it is there
    /// (`testing::realdata`: a visible skip on a workstation, a failure in CI).
    fn real_traces() -> Option<std::path::PathBuf> {
        crate::testing::realdata().map(|d| d.join("traces/azure_llm_2023"))
    }

    fn read_trace(dir: &std::path::Path, name: &str) -> Trace {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        parse_trace_csv(&text, TraceFormat::Auto).unwrap()
    }

    fn run(trace: &Trace, policy: &Policy, fleet: &FleetModel, c: Controller) -> SimulationRun {
        simulate(trace, policy, fleet, c).unwrap()
    }

    #[test]
    fn real_traces_policy_vs_target_tracking() {
        let policy = real_trace_policy();
        let fleet = FleetModel::from_policy(&policy);
        let Some(dir) = real_traces() else { return };
        for name in ["per_minute_code.csv", "per_minute_conv.csv"] {
            let trace = read_trace(&dir, name);
            let p = run(&trace, &policy, &fleet, Controller::Policy).summary;
            let t = run(&trace, &policy, &fleet, Controller::TargetTracking).summary;
            eprintln!("{name}: policy {p:?}\n{name}: target tracking {t:?}");
            assert!(
                (p.under_provisioned_minutes as f64) <= 0.5 * t.under_provisioned_minutes as f64,
                "{name}: policy {} vs target tracking {} under-provisioned minutes",
                p.under_provisioned_minutes,
                t.under_provisioned_minutes
            );
            assert!(
                p.instance_hours <= t.instance_hours + 1e-9,
                "{name}: {} > {} instance-hours",
                p.instance_hours,
                t.instance_hours
            );
            assert!(p.delayed_share <= t.delayed_share, "{name}: {p:?} {t:?}");
        }
    }

    #[test]
    fn parses_counts_resamples_coarse_intervals_and_counts_requests() {
        let t = parse_trace_csv(
            "timestamp,count\n2024-01-01 00:00:00,10\n2024-01-01 00:01:00,3\n2024-01-01 00:03:00,4\n",
            TraceFormat::Auto,
        )
        .unwrap();
        // One-minute interval (the most common gap); the minute no row covers is missing, not zero.
        assert_eq!(t.per_minute, vec![Some(10.0), Some(3.0), None, Some(4.0)]);
        assert_eq!(
            (t.interval_seconds, t.missing_minutes(), t.total_requests()),
            (60, 1, 17.0)
        );
        let five = parse_trace_csv(
            "time,requests\n2024-01-01T00:00:00Z,50\n2024-01-01T00:05:00Z,100\n",
            TraceFormat::Auto,
        )
        .unwrap();
        assert_eq!(
            five.per_minute,
            [10.0, 10.0, 10.0, 10.0, 10.0, 20.0, 20.0, 20.0, 20.0, 20.0].map(Some)
        );
        let secs = parse_trace_csv("ts,n\n0,1\n30,2\n60,3\n", TraceFormat::Auto).unwrap();
        assert_eq!(secs.per_minute, vec![Some(3.0), Some(3.0)]);
        // One row per request: a minute without rows had no requests.
        let raw = "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4808,10\n2023-11-16 18:17:59.1,1,1\n2023-11-16 18:19:00.0,1,1\n";
        let r = parse_trace_csv(raw, TraceFormat::Auto).unwrap();
        assert_eq!(r.per_minute, vec![Some(2.0), Some(0.0), Some(1.0)]);
        assert_eq!(r.start.format("%H:%M").to_string(), "18:17");
        assert!(matches!(
            parse_trace_csv("t,count\nyesterday,1\n", TraceFormat::Auto),
            Err(TraceError::Line { line: 2, .. })
        ));
        assert!(matches!(
            parse_trace_csv("t,count\n", TraceFormat::Auto),
            Err(TraceError::Empty)
        ));
        assert!(matches!(
            parse_trace_csv("t,count\n0,-1\n", TraceFormat::Auto),
            Err(TraceError::Line { .. })
        ));
    }

    #[test]
    fn one_stray_row_does_not_re_spread_a_five_minute_trace_and_a_missing_row_is_a_gap() {
        // Rows every 5 minutes for an hour, one stray row 1 minute after the third, the seventh row missing.
        let mut csv = "timestamp,value\n".to_owned();
        for k in 0..12 {
            if k != 6 {
                csv += &format!("2024-01-01 00:{:02}:00,50\n", 5 * k);
            }
            if k == 2 {
                csv += "2024-01-01 00:11:00,5\n";
            }
        }
        let t = parse_trace_csv(&csv, TraceFormat::Auto).unwrap();
        // The smallest gap would be 1 minute and leave four of every five minutes missing.
        assert_eq!(t.interval_seconds, 300);
        assert_eq!(t.per_minute.len(), 60);
        // Minutes 30-34 (the missing row) are missing; the rest carry 10 a minute, the stray row's 1 added to
        // minutes 11-15.
        assert_eq!(t.missing_minutes(), 5);
        assert!(t.per_minute[30..35].iter().all(Option::is_none));
        assert_eq!(t.per_minute[10], Some(10.0));
        assert_eq!(t.per_minute[11], Some(11.0));
        assert_eq!(t.per_minute[29], Some(10.0));
        assert_eq!(t.total_requests(), 11.0 * 50.0 + 5.0);
        assert_eq!(most_common_gap(&[]), 60);
    }

    #[test]
    fn raw_requests_trace_matches_the_per_minute_one() {
        let Some(dir) = real_traces() else { return };
        let per_minute = read_trace(&dir, "per_minute_code.csv");
        let raw = read_trace(&dir, "AzureLLMInferenceTrace_code.csv");
        assert_eq!(raw.start, per_minute.start);
        assert_eq!(raw.per_minute, per_minute.per_minute);
    }

    fn minute0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 - 1_700_000_000 % 86_400, 0).unwrap()
    }

    fn trace_of(per_minute: Vec<Option<f64>>) -> Trace {
        Trace {
            start: minute0(),
            per_minute,
            interval_seconds: 60,
        }
    }

    fn step_trace() -> Trace {
        // 20 minutes at 60 per minute, then 40 minutes at 300.
        let mut v = vec![Some(60.0); 20];
        v.extend(vec![Some(300.0); 40]);
        trace_of(v)
    }

    fn fixed_fleet(policy: &Policy) -> FleetModel {
        FleetModel {
            initial_instances: Some(1),
            hourly_usd: Some(1.0),
            ..FleetModel::from_policy(policy)
        }
    }

    #[test]
    fn capacity_must_be_stated_not_taken_from_the_target() {
        let mut policy = real_trace_policy();
        policy.capacity_invocations_per_instance = None;
        let fleet = FleetModel::from_policy(&policy);
        let err = simulate(&step_trace(), &policy, &fleet, Controller::Policy).unwrap_err();
        assert!(
            matches!(&err, SimulateError::UnknownCapacity { instance_type } if instance_type == "ml.g5.xlarge"),
            "{err}"
        );
        assert!(err.to_string().contains("--capacity-per-instance"), "{err}");
        // Given to the simulator, it is used: 1 instance at 200 a minute serves the 60 a minute at once.
        let fleet = FleetModel {
            capacity_per_instance: Some(200.0),
            ..fixed_fleet(&policy)
        };
        let r = run(&step_trace(), &policy, &fleet, Controller::TargetTracking);
        assert_eq!(r.timeline[0].capacity, 200.0);
    }

    #[test]
    fn target_tracking_replay_matches_a_hand_computed_sequence() {
        let policy = real_trace_policy();
        let fleet = fixed_fleet(&policy);
        let run = run(&step_trace(), &policy, &fleet, Controller::TargetTracking);
        // Minute 20 is the first at 300 (per instance 300 > target 60). With one minute of lag, minutes 20-22
        // are visible at minute 23: ceil(1 x 300 / 60) = 5 instances, serving from minute 29.
        let serving: Vec<u32> = run.timeline.iter().map(|m| m.serving).collect();
        assert_eq!(&serving[..29], &[1; 29][..]);
        assert_eq!(serving[29], 5);
        // 300 > 120 x 1 from minute 20 to 28: 9 under-provisioned minutes, 9 x 180 requests over capacity.
        assert_eq!(run.summary.under_provisioned_minutes, 9);
        assert_eq!(run.summary.requests_over_capacity, 9.0 * 180.0);
        // Billed: 1 for 23 minutes, 5 from minute 23 (new instances are billed while starting).
        let hours = (23.0 + 5.0 * 37.0) / 60.0;
        assert!((run.summary.instance_hours - hours).abs() < 1e-9, "{:?}", run.summary);
        assert_eq!(
            run.summary.cost_usd.map(|c| (c * 1e6).round()),
            Some((hours * 1e6_f64).round())
        );
        assert_eq!(run.summary.cost_by_type_usd.len(), 1);
        assert_eq!((run.summary.scaling_actions, run.summary.flaps), (1, 0));
        // In minutes 20-28, 5 requests a second arrive and 2 are served: the queue fills until its head has
        // waited 60 s, then 3 a second time out; the last minute's arrivals are still queued when five instances
        // serve, and most of them are served. Reference (`scripts/queue_reference.py`, "step": a FIFO queue with
        // abandonment at 60 s stepped every 10 ms, written independently of this one): 1,320.0 dropped, 2,986.5
        // delayed (waits over 1 s, or dropped) of 13,200, a share of 0.2263.
        let s = &run.summary;
        assert!((s.dropped_requests - 1320.0).abs() < 10.0, "{s:?}");
        assert!((s.delayed_share - 0.2263).abs() < 0.002, "{s:?}");
        assert_eq!(s.p99_wait_s, INVOKE_ENDPOINT_TIMEOUT_S);
        assert!(s.delayed_requests > s.dropped_requests);
        assert!((s.delayed_share - s.delayed_requests / s.total_requests).abs() < 1e-9);
        // Five instances clear the backlog within their first minute; the last 20 minutes are not delayed.
        assert!(run.timeline[28].backlog > 100.0);
        assert_eq!(run.timeline[29].backlog, 0.0);
        assert!(run.timeline[40..].iter().all(|m| m.delayed == 0.0));
    }

    #[test]
    fn a_queue_carries_into_the_next_minute_and_clears() {
        // One instance of capacity 120 a minute, fixed; one minute at 180 between minutes at 30.
        let mut policy = real_trace_policy();
        policy.max_instances = 1;
        let fleet = fixed_fleet(&policy);
        let mut v = vec![Some(30.0); 10];
        v[5] = Some(180.0);
        let r = run(&trace_of(v), &policy, &fleet, Controller::TargetTracking);
        // Minute 5: 3 a second arrive, 2 served: 60 left at its end; minute 6 serves them (at 2 - 0.5 a second).
        assert!((r.timeline[5].backlog - 60.0).abs() < 1e-9, "{:?}", r.timeline[5]);
        assert_eq!(r.timeline[7].backlog, 0.0);
        let s = &r.summary;
        assert_eq!(s.dropped_requests, 0.0);
        // Delayed: minute 5's arrivals but its first seconds', and minute 6's that queue behind the backlog until
        // it clears (60 / (2 - 0.5) = 40 s). Reference (`scripts/queue_reference.py`, "carry"): 193.3 of 450
        // delayed beyond 1 s, p99 wait 29.3 s.
        assert!((s.delayed_requests - 193.3).abs() < 3.0, "{s:?}");
        assert!((s.p99_wait_s - 29.3).abs() <= 0.5, "{s:?}");
        assert!(r.timeline[6].delayed > 0.0);
        assert_eq!(s.under_provisioned_minutes, 1);
    }

    #[test]
    fn missing_minutes_are_not_zero_demand() {
        // 40 minutes at 600 a minute (10 instances at the target), then 30 minutes the trace does not cover.
        let policy = real_trace_policy();
        let fleet = FleetModel {
            initial_instances: Some(10),
            ..FleetModel::from_policy(&policy)
        };
        let mut gap = vec![Some(600.0); 40];
        gap.extend(vec![None; 30]);
        let mut zeros = vec![Some(600.0); 40];
        zeros.extend(vec![Some(0.0); 30]);
        let (gap, zeros) = (trace_of(gap), trace_of(zeros));
        for c in Controller::ALL {
            let g = run(&gap, &policy, &fleet, c);
            let z = run(&zeros, &policy, &fleet, c);
            assert_eq!((g.summary.missing_minutes, z.summary.missing_minutes), (30, 0));
            assert_eq!(g.summary.total_requests, 40.0 * 600.0);
            // Both are billed for every minute.
            assert!(g.summary.instance_hours >= 10.0 * 40.0 / 60.0 + 30.0 / 60.0);
            // No datapoint in the gap: target tracking never scales in, and the policy, once the metrics are
            // stale (`missing_metrics.max_age_minutes`), holds; a trace of zeros is an idle endpoint and the
            // policy scales it in further.
            if c == Controller::Policy {
                assert!(g.timeline[69].billed >= 9, "{:?}", g.timeline[69]);
                assert!(z.timeline[69].billed < g.timeline[69].billed, "{:?}", z.timeline[69]);
            } else {
                assert_eq!(g.timeline[69].billed, 10, "{}: {:?}", c.name(), g.timeline[69]);
            }
        }
    }

    #[test]
    fn flaps_are_reversals_within_the_window_not_a_daily_cycle() {
        let policy = real_trace_policy();
        let fleet = fixed_fleet(&policy);
        // A five-minute burst: scaled out, then in well within half an hour.
        let mut burst = vec![Some(30.0); 60];
        burst.extend(vec![Some(400.0); 5]);
        burst.extend(vec![Some(30.0); 60]);
        let b = run(&trace_of(burst), &policy, &fleet, Controller::TargetTracking).summary;
        assert_eq!((b.scaling_actions, b.flaps), (2, 1), "{b:?}");
        // A "day": three hours up, then down.
        let mut day = vec![Some(30.0); 60];
        day.extend(vec![Some(400.0); 180]);
        day.extend(vec![Some(30.0); 120]);
        let d = run(&trace_of(day), &policy, &fleet, Controller::TargetTracking).summary;
        assert!(d.scaling_actions >= 2, "{d:?}");
        assert_eq!(d.flaps, 0, "{d:?}");
    }

    #[test]
    fn a_type_change_bills_both_fleets_through_the_bake() {
        let policy = Policy::from_json(
            r#"{"endpoint":"e","variant":"v","instance_type":"ml.m5.large","min_instances":1,"max_instances":2,
                "target_invocations_per_instance":10,
                "vertical":{"ladder":[
                  {"instance_type":"ml.m5.large","target_invocations_per_instance":10,"capacity_invocations_per_instance":20},
                  {"instance_type":"ml.m5.xlarge","target_invocations_per_instance":20,"capacity_invocations_per_instance":40}],
                  "up_after_minutes":5}}"#,
        )
        .unwrap();
        let fleet = FleetModel {
            initial_instances: Some(2),
            ..FleetModel::from_policy(&policy)
        };
        let r = run(&trace_of(vec![Some(35.0); 90]), &policy, &fleet, Controller::Policy);
        let switch = r
            .timeline
            .iter()
            .position(|m| m.instance_type == "ml.m5.xlarge")
            .expect("moved up the ladder");
        assert!(
            r.timeline[..switch]
                .iter()
                .all(|m| m.serving == 2 && m.instance_type == "ml.m5.large")
        );
        let to = r.timeline[switch].serving;
        // Old fleet: 2 instances from the start until `bake_minutes` after the switch.
        let bake = fleet.bake_minutes as usize;
        assert_eq!(bake, 10);
        let old_hours = r.summary.instance_hours_by_type["ml.m5.large"];
        assert!(
            (old_hours - 2.0 * (switch + bake) as f64 / 60.0).abs() < 1e-9,
            "{:?}",
            r.summary
        );
        // The bake's minutes bill both fleets, then the new one alone.
        assert_eq!(r.timeline[switch + bake - 1].billed, 2 + to);
        assert_eq!(r.timeline[switch + bake].billed, to);
        let s = &r.summary;
        let cost = old_hours * 0.115 + s.instance_hours_by_type["ml.m5.xlarge"] * 0.23;
        assert!((s.cost_usd.unwrap() - cost).abs() < 1e-9, "{s:?}");
        assert_eq!(s.cost_by_type_usd.len(), 2);
    }

    #[test]
    fn daily_minimums_learn_from_previous_days_only() {
        // Three days; hour 9 at 600 a minute on days 0 and 1, and a huge hour 3 on day 2 only.
        let mut v = vec![Some(60.0); 3 * 1440];
        for d in 0..2 {
            for m in 0..60 {
                v[d * 1440 + 9 * 60 + m] = Some(600.0);
            }
        }
        for m in 0..60 {
            v[2 * 1440 + 3 * 60 + m] = Some(6000.0);
        }
        let trace = trace_of(v);
        let daily = DailyMinimums::of(&trace);
        let day0 = minute0().timestamp() / 86_400;
        assert_eq!(daily.for_day(day0, 60.0, 1, 20), [1; 24], "no history on the first day");
        let d1 = daily.for_day(day0 + 1, 60.0, 1, 20);
        assert_eq!((d1[9], d1[8], d1[3]), (10, 1, 1));
        // Day 2 does not know its own hour 3; day 3 does (median of 60 and 60 and 6000 is 60 with three days,
        // but here only day 2 had it: two days at 60 and one at 6000).
        assert_eq!(daily.for_day(day0 + 2, 60.0, 1, 20)[3], 1);
        assert_eq!(daily.for_day(day0 + 3, 60.0, 1, 20)[3], 1);
        assert_eq!(daily.for_day(day0 + 3, 60.0, 1, 20)[9], 10);
        // Clamped to the maximum.
        assert_eq!(daily.for_day(day0 + 2, 60.0, 1, 5)[9], 5);
    }

    /// Four days with a steep morning ramp (30 to 900 a minute within ten minutes at 08:00 UTC) and an evening
    /// fall at 20:00.
    fn daily_trace() -> Trace {
        let v = (0..4 * 1440)
            .map(|i| {
                let m = i % 1440;
                Some(if (480..1200).contains(&m) {
                    30.0 + 870.0 * ((m - 480) as f64 / 10.0).min(1.0)
                } else {
                    30.0
                })
            })
            .collect();
        trace_of(v)
    }

    #[test]
    fn scheduled_minimums_prepare_for_the_morning_ramp() {
        let policy = real_trace_policy();
        let fleet = FleetModel::from_policy(&policy);
        let trace = daily_trace();
        let tt = run(&trace, &policy, &fleet, Controller::TargetTracking).summary;
        let sched = run(&trace, &policy, &fleet, Controller::TargetTrackingScheduled);
        // From the second day on the fleet serves hour 8's mean (820 a minute) at the target, ceil(820 / 60) =
        // 14 instances, at 08:00: the scheduled minimum rises `startup_minutes` early.
        assert_eq!(sched.timeline[1440 + 479].serving, 1);
        assert_eq!(sched.timeline[1440 + 480].serving, 14);
        assert!(sched.timeline[480].serving < 14, "the first day has no schedule");
        let s = &sched.summary;
        assert!(
            s.delayed_requests < 0.5 * tt.delayed_requests,
            "scheduled {s:?}\nplain {tt:?}"
        );
    }

    #[test]
    fn sweep_gives_each_controller_a_curve_over_the_targets() {
        let policy = real_trace_policy();
        let fleet = FleetModel::from_policy(&policy);
        let targets = default_sweep_targets(120.0);
        assert_eq!(targets.first(), Some(&36.0));
        assert_eq!(targets.last(), Some(&120.0));
        let trace = daily_trace();
        let f = sweep(&trace, &policy, &fleet, &[40.0, 80.0, 120.0]).unwrap();
        assert_eq!(f.latency_objective_s, DEFAULT_LATENCY_OBJECTIVE_S);
        let names: Vec<&str> = f.controllers.keys().map(String::as_str).collect();
        assert_eq!(names, ["policy", "target-tracking", "target-tracking-scheduled"]);
        for (name, points) in &f.controllers {
            assert_eq!(points.iter().map(|p| p.target).collect::<Vec<_>>(), [40.0, 80.0, 120.0]);
            // A looser target costs less and delays more.
            assert!(
                points[0].instance_hours > points[2].instance_hours,
                "{name}: {points:?}"
            );
            assert!(points[0].delayed_share <= points[2].delayed_share, "{name}: {points:?}");
            assert!(
                points
                    .iter()
                    .all(|p| p.cost_usd.is_some() && (0.0..=1.0).contains(&p.delayed_share))
            );
        }
        // Each baseline point has the policy's delay at its cost beside it, when the policy's curve reaches it.
        assert_eq!(f.policy_at_equal_cost.len(), 6);
        for e in &f.policy_at_equal_cost {
            let base = &f.controllers[&e.baseline];
            assert!(base.iter().any(|p| p.cost_usd == Some(e.cost)));
        }
        assert!(matches!(
            sweep(&trace, &policy, &fleet, &[130.0]),
            Err(SimulateError::Target { target, .. }) if target == 130.0
        ));
    }

    fn point(cost: f64, delayed_share: f64) -> FrontierPoint {
        FrontierPoint {
            target: 1.0,
            cost_usd: Some(cost),
            instance_hours: cost,
            delayed_share,
            dropped_requests: 0.0,
            p99_wait_s: 0.0,
            scaling_actions: 0,
            flaps: 0,
        }
    }

    #[test]
    fn equal_cost_reads_the_policy_curve_between_its_nearest_points() {
        let policy = vec![point(30.0, 0.01), point(10.0, 0.2), point(20.0, 0.05)];
        assert_eq!(delayed_share_at_cost(&policy, 20.0, true), Some(0.05));
        assert!((delayed_share_at_cost(&policy, 15.0, true).unwrap() - 0.125).abs() < 1e-12);
        assert!((delayed_share_at_cost(&policy, 27.5, true).unwrap() - 0.02).abs() < 1e-12);
        assert_eq!(delayed_share_at_cost(&policy, 9.0, true), None);
        assert_eq!(delayed_share_at_cost(&policy, 31.0, true), None);
        let mut controllers = BTreeMap::new();
        controllers.insert("policy".to_owned(), policy);
        controllers.insert("target-tracking".to_owned(), vec![point(15.0, 0.3), point(40.0, 0.0)]);
        let cmp = policy_at_equal_cost(&controllers);
        assert_eq!(cmp.len(), 2);
        assert_eq!((cmp[0].baseline.as_str(), cmp[0].cost), ("target-tracking", 15.0));
        assert!((cmp[0].policy_delayed_share.unwrap() - 0.125).abs() < 1e-12);
        assert_eq!(cmp[0].baseline_delayed_share, 0.3);
        assert_eq!(cmp[1].policy_delayed_share, None);
    }

    #[test]
    fn policy_panics_earlier_and_new_instances_wait_for_startup() {
        let policy = real_trace_policy();
        let fleet = FleetModel {
            initial_instances: Some(1),
            ..FleetModel::from_policy(&policy)
        };
        let run = run(&step_trace(), &policy, &fleet, Controller::Policy);
        // Minute 20 is visible at 21: 300 on 1 instance at target 60 is a panic; sized on the window.
        let first = &run.decisions[0];
        assert_eq!(first.rule, Rule::Panic);
        assert_eq!(first.at, step_trace().start + Duration::minutes(21));
        let serving: Vec<u32> = run.timeline.iter().map(|m| m.serving).collect();
        assert_eq!(serving[26], 1, "new instances serve only after the start-up delay");
        assert!(serving[27] > 1);
        assert!(run.summary.under_provisioned_minutes < 9);
        // ml.g5.xlarge is in the catalogue.
        assert!(run.summary.cost_usd.is_some());
    }

    /// The asynchronous path is the scaling function's: the policy decides on the backlog the queue reports,
    /// scales to zero when it has stayed empty and back from zero when requests wait, and nothing is dropped at
    /// the real-time timeout.
    #[test]
    fn an_asynchronous_endpoint_scales_to_zero_and_back_on_its_backlog() {
        let policy = Policy::from_json(
            r#"{"endpoint":"e","variant":"v","instance_type":"ml.m5.xlarge","min_instances":0,"max_instances":10,
                "target_invocations_per_instance":30,"capacity_invocations_per_instance":60,
                "async":{"target_backlog_per_instance":60}}"#,
        )
        .unwrap();
        // An hour at 120 a minute, two idle hours, an hour at 120 again.
        let mut v = vec![Some(120.0); 60];
        v.extend(vec![Some(0.0); 120]);
        v.extend(vec![Some(120.0); 60]);
        let fleet = FleetModel {
            initial_instances: Some(2),
            ..FleetModel::from_policy(&policy)
        };
        let r = run(&trace_of(v), &policy, &fleet, Controller::Policy);
        let rules: Vec<Rule> = r.decisions.iter().map(|d| d.rule).collect();
        assert!(rules.contains(&Rule::ScaleToZero), "{rules:?}");
        assert!(rules.contains(&Rule::ScaleFromZero), "{rules:?}");
        assert_eq!(r.timeline[150].serving, 0, "idle at zero instances");
        assert_eq!(r.timeline[150].billed, 0);
        // Back from zero, the first requests wait for the start-up (several minutes): late against the 1 s
        // objective, but none expires (a real-time endpoint would have dropped them after 60 s).
        assert_eq!(r.summary.dropped_requests, 0.0);
        assert!(r.summary.delayed_requests > 0.0);
        assert!(r.timeline[180..190].iter().any(|m| m.backlog > 120.0));
        let mut realtime = policy.clone();
        realtime.asynchronous = None;
        realtime.min_instances = 1;
        let rt = run(
            &trace_of(vec![Some(120.0); 10]),
            &realtime,
            &FleetModel {
                initial_instances: Some(0),
                ..fleet.clone()
            },
            Controller::Policy,
        );
        assert_eq!(rt.timeline[0].serving, 1, "a real-time endpoint starts at its minimum");
    }
}
