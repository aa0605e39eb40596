//! Real-time, asynchronous or batch: which way of serving a trace is cheapest for a latency tolerance.
//!
//! The same traffic can be served three ways on SageMaker, and which is cheapest depends on how long an answer
//! may take. [`compare`] prices each on the user's own trace, every request judged by one rule: it is late when
//! its answer comes more than `tolerance_s` after it arrived (or never). A way of serving meets the tolerance
//! when at most `allowed_late_share` of the requests are late; the cheapest setting of each that meets it is
//! kept, and the cheapest of those three is the answer.
//!
//! - **Real-time**: the policy through [`simulate`] at each of the sweep's targets
//!   ([`default_sweep_targets`]); a request waits for capacity and is dropped after the 60-second invocation
//!   timeout.
//! - **Asynchronous**: the same policy code on the queue's backlog (`"async": {"target_backlog_per_instance"}`,
//!   what the scaling function runs on `ApproximateBacklogSize`), at [`ASYNC_BACKLOG_FRACTIONS`] of the backlog
//!   one instance clears within the tolerance, scaling to zero (and, in a second set, never below the policy's
//!   own minimum); a request waits up to its time to live
//!   ([`FleetModel::request_ttl_s`](super::simulate::FleetModel::request_ttl_s)), and its answer comes
//!   `async_overhead_s` after it is processed (the output's trip through S3 and the notification).
//! - **Batch transform**: a job every [`BATCH_PERIODS_MINUTES`] period over the requests of the period before
//!   it, sized when it starts (its input is already in S3, so this is no look-ahead) with the fewest instances
//!   (at most the policy's maximum) that finish in time for the period's oldest request; each job is billed for
//!   its start-up (`batch_startup_minutes`, all of it, which is the cautious reading) and its processing, and its
//!   requests are answered when it ends.
//!
//! Every way is billed at the policy type's price per instance-hour (the built-in catalogue's real-time price,
//! or the simulator's `hourly_usd`) unless `async_hourly_usd` or `batch_hourly_usd` gives that way its own: AWS's
//! pricing page lists each inference option's prices in its own table, so set them from it for your region.
//! Service time is left out everywhere: a request's answer time is its wait for capacity (for a batch job, until
//! the job ends).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::policy::{AsyncPolicy, Policy};
use super::simulate::{
    Controller, FleetModel, SimulateError, Summary, Trace, default_sweep_targets, simulate, with_target,
};

/// By default a way of serving meets the tolerance when at most 1% of the requests are answered later.
pub const DEFAULT_ALLOWED_LATE_SHARE: f64 = 0.01;

/// Minutes from a batch transform job's start until its instances process requests (launching the instances,
/// pulling the container, loading the model). AWS publishes no figure; ten minutes is a cautious assumption for
/// a CPU model: set your own (`--batch-startup-minutes`) from a `DescribeTransformJob` of yours
/// (`TransformStartTime` against `CreationTime`).
pub const DEFAULT_BATCH_STARTUP_MINUTES: u32 = 10;

/// Seconds an asynchronous answer takes beyond its processing: the output written to S3 and the success
/// notification (SNS) or the client's next poll. AWS publishes no figure; five seconds is an assumption: set
/// your own (`--async-overhead-s`) from your client's measurements.
pub const DEFAULT_ASYNC_OVERHEAD_S: f64 = 5.0;

/// The batch schedules tried: a job every this many minutes.
pub const BATCH_PERIODS_MINUTES: [u32; 11] = [5, 10, 15, 30, 60, 120, 180, 240, 360, 720, 1440];

/// The asynchronous backlog targets tried, as fractions of the backlog one instance clears within the
/// tolerance less the asynchronous overhead (capacity per minute x those minutes): a request that joins a backlog
/// of `b` per instance waits about `b / capacity` minutes.
pub const ASYNC_BACKLOG_FRACTIONS: [f64; 5] = [0.05, 0.1, 0.2, 0.4, 0.8];

/// A way of serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// A real-time endpoint scaled by the policy.
    RealTime,
    /// An asynchronous endpoint scaled by the policy on its backlog.
    Asynchronous,
    /// Batch transform jobs on a schedule.
    BatchTransform,
}

impl Mode {
    /// All ways, in the order they are reported.
    pub const ALL: [Mode; 3] = [Mode::RealTime, Mode::Asynchronous, Mode::BatchTransform];

    /// The kebab-case name used in files and tables.
    pub fn name(self) -> &'static str {
        match self {
            Mode::RealTime => "real-time",
            Mode::Asynchronous => "asynchronous",
            Mode::BatchTransform => "batch-transform",
        }
    }
}

/// What the comparison judges by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServingOptions {
    /// A request answered more than this many seconds after it arrived is late.
    pub tolerance_s: f64,
    /// A way of serving meets the tolerance when at most this share of the requests (0-1) is late.
    pub allowed_late_share: f64,
    /// Minutes before a batch transform job's instances process requests, billed.
    pub batch_startup_minutes: u32,
    /// Seconds an asynchronous answer takes beyond its processing.
    pub async_overhead_s: f64,
    /// Price per instance-hour of asynchronous inference, when it is not the real-time one.
    pub async_hourly_usd: Option<f64>,
    /// Price per instance-hour of batch transform, when it is not the real-time one.
    pub batch_hourly_usd: Option<f64>,
}

impl ServingOptions {
    /// Whether a way that answers `late_share` of the requests late meets the tolerance (rounding in the sums
    /// does not fail an exact share).
    fn met_by(&self, late_share: f64) -> bool {
        late_share <= self.allowed_late_share + 1e-12
    }

    /// `tolerance_s` with the defaults.
    pub fn new(tolerance_s: f64) -> Self {
        Self {
            tolerance_s,
            allowed_late_share: DEFAULT_ALLOWED_LATE_SHARE,
            batch_startup_minutes: DEFAULT_BATCH_STARTUP_MINUTES,
            async_overhead_s: DEFAULT_ASYNC_OVERHEAD_S,
            async_hourly_usd: None,
            batch_hourly_usd: None,
        }
    }
}

/// Why a comparison could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServingError {
    /// The tolerance or the allowed share is out of range.
    #[error("{0}")]
    Invalid(String),
    /// A simulation failed.
    #[error(transparent)]
    Simulate(#[from] SimulateError),
}

/// One setting of one way of serving, simulated over the trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServingPoint {
    /// The setting, in words (e.g. `target 3 a minute per instance`, `a job every 60 min`).
    pub setting: String,
    /// Cost in USD, when the type's price is known.
    pub cost_usd: Option<f64>,
    /// Instance-hours billed.
    pub instance_hours: f64,
    /// Requests answered later than the tolerance, or never (0-1).
    pub late_share: f64,
    /// Requests never answered: timed out (real-time) or expired (asynchronous).
    pub dropped_requests: f64,
    /// Most instances billed at once.
    pub peak_instances: u32,
    /// `late_share <= allowed_late_share`.
    pub meets: bool,
}

/// One way of serving: every setting tried, and the cheapest that meets the tolerance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModeResult {
    /// The settings tried.
    pub candidates: Vec<ServingPoint>,
    /// The cheapest candidate that meets the tolerance, if one does.
    pub cheapest: Option<ServingPoint>,
    /// Why no setting was tried (batch jobs cannot answer within a tolerance shorter than their start-up, nor
    /// asynchronous endpoints within their overhead).
    pub not_possible: Option<String>,
}

/// The three ways, priced on one trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServingComparison {
    /// What the comparison judged by.
    pub options: ServingOptions,
    /// What costs are compared in: `usd` when every candidate has a price, else `instance_hours`.
    pub compared_by: String,
    /// By way of serving ([`Mode::name`]).
    pub modes: BTreeMap<String, ModeResult>,
    /// The cheapest way that meets the tolerance, if any does.
    pub cheapest: Option<Mode>,
}

/// Prices the three ways of serving `trace` (see the module documentation). `policy` may be a real-time or an
/// asynchronous one: each way takes its type, limits, capacity and rules, with the asynchronous settings
/// added or removed.
///
/// # Errors
///
/// [`ServingError::Invalid`] for a tolerance that is not a positive number of seconds or a share outside
/// [0, 1]; [`ServingError::Simulate`] when the capacity per instance is unknown.
pub fn compare(
    trace: &Trace,
    policy: &Policy,
    fleet: &FleetModel,
    options: &ServingOptions,
) -> Result<ServingComparison, ServingError> {
    if !(options.tolerance_s.is_finite() && options.tolerance_s > 0.0) {
        return Err(ServingError::Invalid(format!(
            "latency tolerance {} s must be a positive number of seconds",
            options.tolerance_s
        )));
    }
    if !(options.async_overhead_s.is_finite() && options.async_overhead_s >= 0.0) {
        return Err(ServingError::Invalid(format!(
            "asynchronous overhead {} s must be a number of seconds >= 0",
            options.async_overhead_s
        )));
    }
    if !(0.0..=1.0).contains(&options.allowed_late_share) {
        return Err(ServingError::Invalid(format!(
            "allowed late share {} must be within [0, 1]",
            options.allowed_late_share
        )));
    }
    let capacity = fleet.capacity_for(policy, &policy.instance_type)?;
    let mut fleet = fleet.clone();
    fleet.latency_objective_s = options.tolerance_s;
    for (name, p) in [
        ("asynchronous", options.async_hourly_usd),
        ("batch transform", options.batch_hourly_usd),
    ] {
        if p.is_some_and(|p| !(p.is_finite() && p >= 0.0)) {
            return Err(ServingError::Invalid(format!(
                "{name} price {} per instance-hour must be a number >= 0",
                p.unwrap_or_default()
            )));
        }
    }
    let price = options
        .batch_hourly_usd
        .or(fleet.hourly_usd)
        .or_else(|| Policy::hourly_usd(&policy.instance_type));
    let meets = |late: f64| options.met_by(late);
    let point = |setting: String, s: &Summary| ServingPoint {
        setting,
        cost_usd: s.cost_usd,
        instance_hours: s.instance_hours,
        late_share: s.delayed_share,
        dropped_requests: s.dropped_requests,
        peak_instances: s.peak_billed,
        meets: meets(s.delayed_share),
    };

    // Real-time: the policy without its asynchronous settings, never below one instance.
    let mut realtime = policy.clone();
    realtime.asynchronous = None;
    realtime.min_instances = realtime.min_instances.max(1);
    let mut rt = Vec::new();
    for target in default_sweep_targets(capacity) {
        let p = with_target(&realtime, target).map_err(|source| SimulateError::Target { target, source })?;
        let run = simulate(trace, &p, &fleet, Controller::Policy)?;
        rt.push(point(format!("target {target} a minute per instance"), &run.summary));
    }

    // Asynchronous: the backlog rule, down to zero, and never below the real-time minimum; a request is late
    // when its wait and the answer's overhead exceed the tolerance.
    let async_wait_s = options.tolerance_s - options.async_overhead_s;
    let clears = capacity * async_wait_s / 60.0;
    let mut backlogs: Vec<f64> = ASYNC_BACKLOG_FRACTIONS
        .iter()
        .map(|f| round_sig(f * clears))
        .filter(|b| *b > 0.0)
        .collect();
    if let Some(a) = &policy.asynchronous {
        backlogs.push(a.target_backlog_per_instance);
    }
    backlogs.sort_by(f64::total_cmp);
    backlogs.dedup();
    let mut asynchronous = Vec::new();
    let mut async_fleet = fleet.clone();
    async_fleet.latency_objective_s = async_wait_s;
    async_fleet.hourly_usd = options.async_hourly_usd.or(fleet.hourly_usd);
    let async_not_possible = (async_wait_s <= 0.0).then(|| {
        format!(
            "an asynchronous answer takes {} s beyond its processing (the S3 output and the notification): not \
             less than the tolerance of {} s",
            options.async_overhead_s, options.tolerance_s
        )
    });
    for min in [0, realtime.min_instances] {
        if async_not_possible.is_some() {
            break;
        }
        for &b in &backlogs {
            let mut p = policy.clone();
            p.asynchronous = Some(AsyncPolicy {
                target_backlog_per_instance: b,
            });
            p.min_instances = min;
            // SageMaker's asynchronous endpoints take no vertical ladder here (the policy refuses one).
            p.vertical = None;
            p.validate()
                .map_err(|source| SimulateError::Target { target: b, source })?;
            let run = simulate(trace, &p, &async_fleet, Controller::Policy)?;
            asynchronous.push(point(
                format!(
                    "backlog target {b} per instance, {min} to {} instances",
                    p.max_instances
                ),
                &run.summary,
            ));
        }
    }

    // Batch transform.
    let (batch, not_possible) = batch_candidates(trace, policy, capacity, price, options);

    let all = rt.iter().chain(&asynchronous).chain(&batch);
    let priced = all.clone().all(|p| p.cost_usd.is_some());
    let cost = |p: &ServingPoint| {
        if priced {
            p.cost_usd.unwrap_or(f64::NAN)
        } else {
            p.instance_hours
        }
    };
    let cheapest_of = |c: &[ServingPoint]| {
        c.iter()
            .filter(|p| p.meets)
            .min_by(|a, b| cost(a).total_cmp(&cost(b)))
            .cloned()
    };
    let mut modes = BTreeMap::new();
    let mut best: Option<(Mode, f64)> = None;
    for (mode, candidates, why) in [
        (Mode::RealTime, rt, None),
        (Mode::Asynchronous, asynchronous, async_not_possible),
        (Mode::BatchTransform, batch, not_possible),
    ] {
        let cheapest = cheapest_of(&candidates);
        if let Some(c) = &cheapest
            && best.is_none_or(|(_, b)| cost(c) < b)
        {
            best = Some((mode, cost(c)));
        }
        modes.insert(
            mode.name().to_owned(),
            ModeResult {
                candidates,
                cheapest,
                not_possible: why,
            },
        );
    }
    Ok(ServingComparison {
        options: options.clone(),
        compared_by: if priced { "usd" } else { "instance_hours" }.to_owned(),
        modes,
        cheapest: best.map(|(m, _)| m),
    })
}

/// Reads a latency tolerance: a number of seconds, or a number followed by `s`, `m`, `h` or `d`
/// (`90s`, `15m`, `2h`, `1d`).
///
/// # Errors
///
/// [`ServingError::Invalid`] for anything else, or a tolerance that is not positive.
pub fn parse_tolerance(text: &str) -> Result<f64, ServingError> {
    let t = text.trim();
    let (number, unit) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&t[..i], c.to_ascii_lowercase()),
        _ => (t, 's'),
    };
    let scale = match unit {
        's' => 1.0,
        'm' => 60.0,
        'h' => 3600.0,
        'd' => 86_400.0,
        _ => 0.0,
    };
    match number.trim().parse::<f64>() {
        Ok(n) if scale > 0.0 && n.is_finite() && n > 0.0 => Ok(n * scale),
        _ => Err(ServingError::Invalid(format!(
            "latency tolerance {text:?}: expected a positive number of seconds, or a number with s, m, h or d \
             (90s, 15m, 2h, 1d)"
        ))),
    }
}

/// Three significant digits, so that settings print as `0.15`, not `0.15000000000000002`.
fn round_sig(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(2 - x.log10().floor() as i32);
    (x * scale).round() / scale
}

/// Every batch schedule that can answer within the tolerance, or why none can.
fn batch_candidates(
    trace: &Trace,
    policy: &Policy,
    capacity: f64,
    price: Option<f64>,
    options: &ServingOptions,
) -> (Vec<ServingPoint>, Option<String>) {
    let tolerance_min = options.tolerance_s / 60.0;
    let startup = f64::from(options.batch_startup_minutes);
    let candidates: Vec<ServingPoint> = BATCH_PERIODS_MINUTES
        .iter()
        .filter(|&&p| f64::from(p) + startup < tolerance_min)
        .map(|&period| {
            let b = batch_run(trace, period, startup, tolerance_min, capacity, policy.max_instances);
            let late_share = if b.requests > 0.0 { b.late / b.requests } else { 0.0 };
            ServingPoint {
                setting: format!(
                    "a job every {period} min, {} min start-up, up to {} instances",
                    options.batch_startup_minutes, policy.max_instances
                ),
                cost_usd: price.map(|p| p * b.instance_hours),
                instance_hours: b.instance_hours,
                late_share,
                dropped_requests: 0.0,
                peak_instances: b.peak_instances,
                meets: options.met_by(late_share),
            }
        })
        .collect();
    let why = candidates.is_empty().then(|| {
        format!(
            "a batch job answers its period's oldest request after the period ({} min at least) and its start-up \
             ({} min): not within the tolerance of {} s",
            BATCH_PERIODS_MINUTES[0], options.batch_startup_minutes, options.tolerance_s
        )
    });
    (candidates, why)
}

/// What one batch schedule adds up to.
#[derive(Debug, Clone, PartialEq)]
struct BatchRun {
    requests: f64,
    late: f64,
    instance_hours: f64,
    peak_instances: u32,
}

/// Batch transform jobs every `period` minutes over `trace`: job `j` starts when minute `(j + 1) x period`
/// begins, takes the requests of the `period` minutes before it (a minute's requests arrive evenly over it),
/// runs the fewest instances (1 to `max_instances`) that finish its requests within `tolerance` of its oldest
/// one's arrival, processes after `startup` minutes at `capacity` requests a minute an instance, and answers
/// every request when it ends. A period without requests runs no job.
fn batch_run(trace: &Trace, period: u32, startup: f64, tolerance: f64, capacity: f64, max_instances: u32) -> BatchRun {
    let period = period as usize;
    let mut out = BatchRun {
        requests: 0.0,
        late: 0.0,
        instance_hours: 0.0,
        peak_instances: 0,
    };
    let budget = tolerance - period as f64 - startup;
    for (j, minutes) in trace.per_minute.chunks(period).enumerate() {
        let requests: f64 = minutes.iter().flatten().sum();
        if requests <= 0.0 {
            continue;
        }
        let first = j * period;
        let wanted = (requests / (capacity * budget)).ceil().max(1.0);
        let instances = wanted.min(f64::from(max_instances.max(1)));
        let processing = requests / (capacity * instances);
        let end = (first + period) as f64 + startup + processing;
        // Requests that arrived before `end - tolerance` are answered late.
        let cutoff = end - tolerance;
        for (k, m) in minutes.iter().enumerate() {
            if let Some(d) = m {
                let late_part = (cutoff - (first + k) as f64).clamp(0.0, 1.0);
                out.late += d * late_part;
            }
        }
        out.requests += requests;
        out.instance_hours += instances * (startup + processing) / 60.0;
        out.peak_instances = out.peak_instances.max(instances as u32);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn trace_of(per_minute: Vec<Option<f64>>) -> Trace {
        Trace {
            start: DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z").unwrap().to_utc(),
            per_minute,
            interval_seconds: 60,
        }
    }

    fn policy() -> Policy {
        Policy::from_json(
            r#"{"endpoint":"e","variant":"v","instance_type":"ml.m5.xlarge","min_instances":1,"max_instances":10,
                "target_invocations_per_instance":30,"capacity_invocations_per_instance":60}"#,
        )
        .unwrap()
    }

    #[test]
    fn a_batch_job_is_sized_for_its_oldest_request_and_billed_for_its_start_up() {
        // Two hours: 600 requests in the first hour's first minute, nothing else. Jobs every 60 min with 10 min
        // of start-up and a 90-minute tolerance leave 20 minutes to process: 600 / (60 x 20) -> 1 instance,
        // 10 minutes of processing, the job ends at minute 80, everything on time.
        let mut v = vec![Some(0.0); 120];
        v[0] = Some(600.0);
        let b = batch_run(&trace_of(v.clone()), 60, 10.0, 90.0, 60.0, 10);
        assert_eq!(b.peak_instances, 1);
        assert!((b.instance_hours - 20.0 / 60.0).abs() < 1e-9, "{b:?}");
        assert_eq!((b.requests, b.late), (600.0, 0.0));
        // A 75-minute tolerance leaves 5 minutes: 2 instances, 5 minutes each, ending at minute 75, on time.
        let b = batch_run(&trace_of(v.clone()), 60, 10.0, 75.0, 60.0, 10);
        assert_eq!(b.peak_instances, 2);
        assert!((b.instance_hours - 2.0 * 15.0 / 60.0).abs() < 1e-9, "{b:?}");
        assert_eq!(b.late, 0.0);
        // At most one instance: the job ends at minute 80, five minutes late for the whole first minute.
        let b = batch_run(&trace_of(v), 60, 10.0, 75.0, 60.0, 1);
        assert_eq!((b.peak_instances, b.late), (1, 600.0));
    }

    #[test]
    fn late_requests_are_counted_by_their_arrival_within_the_period() {
        // 60 requests a minute for an hour, one instance at 120 a minute: the job at minute 60 starts processing
        // at 70 and takes 30 minutes, ending at 100. With a 60-minute tolerance the requests before minute 40
        // are late: two thirds of them.
        let b = batch_run(&trace_of(vec![Some(60.0); 60]), 60, 10.0, 60.0, 120.0, 1);
        assert!((b.late / b.requests - 40.0 / 60.0).abs() < 1e-9, "{b:?}");
        // Missing minutes carry no requests and run no job.
        let b = batch_run(&trace_of(vec![None; 120]), 60, 10.0, 60.0, 120.0, 1);
        assert_eq!((b.requests, b.instance_hours), (0.0, 0.0));
    }

    /// A business-hours trace: 8 hours a day at 300 requests a minute, nothing at night, for `days` days.
    fn office_hours(days: usize) -> Trace {
        let day: Vec<Option<f64>> = (0..1440)
            .map(|m| Some(if (480..960).contains(&m) { 300.0 } else { 0.0 }))
            .collect();
        trace_of(day.iter().cycle().take(days * 1440).copied().collect())
    }

    #[test]
    fn a_second_needs_real_time_and_a_day_is_cheapest_in_batches() {
        let policy = policy();
        let fleet = FleetModel::from_policy(&policy);
        // A week: the forecast that brings the instances before the 08:00 ramp is used once it has shown its
        // skill over a day, from the third morning on; the first two ramps are late (about 0.9% of the week).
        let trace = office_hours(7);
        let second = compare(&trace, &policy, &fleet, &ServingOptions::new(1.0)).unwrap();
        assert_eq!(second.cheapest, Some(Mode::RealTime), "{second:#?}");
        assert!(second.modes["batch-transform"].not_possible.is_some());
        assert!(second.modes["batch-transform"].candidates.is_empty());
        // Nor can an asynchronous answer, which takes 5 s through S3 and the notification.
        let not_possible = second.modes["asynchronous"].not_possible.as_deref().unwrap_or_default();
        assert!(not_possible.contains("5 s beyond its processing"), "{not_possible}");
        assert!(second.modes["asynchronous"].candidates.is_empty());
        assert_eq!(second.compared_by, "usd");

        // A trickle all day, 5 requests a minute: an endpoint keeps an instance all the time (the queue never stays
        // empty for a stable window, so the asynchronous one does not reach zero either), while twice-daily jobs
        // bill the work (6 instance-hours over three days) and their start-ups.
        let trickle = trace_of(vec![Some(5.0); 3 * 1440]);
        let day = compare(&trickle, &policy, &fleet, &ServingOptions::new(24.0 * 3600.0)).unwrap();
        assert_eq!(day.cheapest, Some(Mode::BatchTransform), "{day:#?}");
        let hours = |m: &str| day.modes[m].cheapest.as_ref().unwrap().instance_hours;
        assert!((hours("real-time") - 72.0).abs() < 1e-9 && (hours("asynchronous") - 72.0).abs() < 0.5);
        let work_hours = 3.0 * 1440.0 * 5.0 / 60.0 / 60.0;
        assert!(
            hours("batch-transform") >= work_hours && hours("batch-transform") < work_hours + 1.5,
            "{day:#?}"
        );
        assert!(
            day.modes["batch-transform"]
                .cheapest
                .as_ref()
                .unwrap()
                .setting
                .contains("every 720 min")
        );
    }

    #[test]
    fn asynchronous_scales_to_zero_at_night_and_wins_between_a_minute_and_an_hour() {
        let policy = policy();
        let fleet = FleetModel::from_policy(&policy);
        let trace = office_hours(3);
        let c = compare(&trace, &policy, &fleet, &ServingOptions::new(20.0 * 60.0)).unwrap();
        assert_eq!(c.cheapest, Some(Mode::Asynchronous), "{c:#?}");
        let best = c.modes["asynchronous"].cheapest.clone().unwrap();
        assert!(best.setting.contains(", 0 to 10 instances"), "{best:?}");
        // The nights are not billed: fewer instance-hours than real-time's cheapest, which keeps one.
        let rt = c.modes["real-time"].cheapest.clone().unwrap();
        assert!(
            best.instance_hours + 3.0 * 16.0 * 0.5 < rt.instance_hours,
            "{best:?} {rt:?}"
        );
        // Nothing expired: asynchronous requests wait past the real-time timeout instead of being dropped.
        assert_eq!(best.dropped_requests, 0.0);
    }

    #[test]
    fn tolerances_are_read_in_seconds_minutes_hours_and_days() {
        let ok = |t: &str| parse_tolerance(t).unwrap();
        assert_eq!(
            (ok("2"), ok("90s"), ok("15m"), ok("1.5h"), ok("1d"), ok(" 2H ")),
            (2.0, 90.0, 900.0, 5400.0, 86_400.0, 7200.0)
        );
        for bad in ["", "m", "0", "-5m", "15 minutes", "3w", "nan", "infs"] {
            let err = parse_tolerance(bad).unwrap_err().to_string();
            assert!(err.contains("15m"), "{bad}: {err}");
        }
    }

    #[test]
    fn each_way_can_have_its_own_price() {
        let policy = policy();
        let fleet = FleetModel::from_policy(&policy);
        let trickle = trace_of(vec![Some(5.0); 1440]);
        let mut o = ServingOptions::new(24.0 * 3600.0);
        let same = compare(&trickle, &policy, &fleet, &o).unwrap();
        o.batch_hourly_usd = Some(0.46);
        o.async_hourly_usd = Some(0.115);
        let own = compare(&trickle, &policy, &fleet, &o).unwrap();
        let best = |c: &ServingComparison, m: &str| c.modes[m].cheapest.clone().unwrap();
        for (m, ratio) in [("batch-transform", 2.0), ("asynchronous", 0.5), ("real-time", 1.0)] {
            let (a, b) = (best(&same, m), best(&own, m));
            assert_eq!(a.instance_hours, b.instance_hours, "{m}");
            assert!(
                (b.cost_usd.unwrap() / a.cost_usd.unwrap() - ratio).abs() < 1e-9,
                "{m}: {a:?} {b:?}"
            );
        }
        o.batch_hourly_usd = Some(-1.0);
        let err = compare(&trickle, &policy, &fleet, &o).unwrap_err();
        assert!(err.to_string().contains("batch transform price"), "{err}");
    }

    #[test]
    fn bad_options_are_refused_with_what_is_wrong() {
        let policy = policy();
        let fleet = FleetModel::from_policy(&policy);
        let trace = office_hours(3);
        let err = compare(&trace, &policy, &fleet, &ServingOptions::new(0.0)).unwrap_err();
        assert!(err.to_string().contains("positive number of seconds"), "{err}");
        let mut o = ServingOptions::new(60.0);
        o.allowed_late_share = 1.5;
        let err = compare(&trace, &policy, &fleet, &o).unwrap_err();
        assert!(err.to_string().contains("[0, 1]"), "{err}");
        let mut o = ServingOptions::new(60.0);
        o.async_overhead_s = -1.0;
        let err = compare(&trace, &policy, &fleet, &o).unwrap_err();
        assert!(err.to_string().contains("asynchronous overhead"), "{err}");
    }
}
