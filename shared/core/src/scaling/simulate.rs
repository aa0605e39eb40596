//! The fleet simulator: replays a request-rate trace through [`decide`] (or the target-tracking emulation)
//! minute by minute, with a fleet that takes time to start, and sums up what would have happened.
//!
//! The fleet model, per minute `t`:
//! 1. updates whose delay has passed complete (new instances start serving, a new type replaces the old);
//! 2. the controller sees the metrics of minutes up to `t - metric_lag_minutes` and the variant's state
//!    (`Updating` while an update is in flight), and decides;
//! 3. a scale-out bills the new instances at once but they serve only after `startup_minutes`; a scale-in
//!    stops the removed instances at once and keeps the endpoint `Updating` for `scale_in_minutes`; a type
//!    change is blue/green: the old fleet serves (and is billed) until the new one is up;
//! 4. minute `t`'s demand meets the serving capacity: demand above it is under-provisioned.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::decide::decide;
use super::decision::{Action, Decision};
use super::history::History;
use super::observed::{MetricsFetch, MinuteMetrics, Observed, VariantState, VariantStatus};
use super::policy::Policy;
use super::target_tracking::{
    Datapoint, EVALUATION_RANGE_FACTOR, LOW_ALARM_DATAPOINTS, TargetTracking, TargetTrackingConfig, TtAction,
};

/// Traces longer than this are rejected: a year of minutes is plenty, and it bounds memory.
pub const MAX_TRACE_MINUTES: usize = 366 * 24 * 60;

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

/// A per-minute request count series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// Start of the first minute.
    pub start: DateTime<Utc>,
    /// Requests in each minute.
    pub per_minute: Vec<f64>,
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

/// Reads a trace CSV.
///
/// # Format
///
/// A header, then rows whose first column is a timestamp (`2023-11-16 18:17:03.97`, RFC 3339, or Unix
/// seconds), read as UTC. With a count column, each row is the request count of the interval that starts at its
/// timestamp; the interval is the smallest gap between rows, and counts of intervals longer than a minute are
/// spread evenly over their minutes. Without one (or with [`TraceFormat::PerRequest`]), each row is one request.
/// Minutes without rows are zero.
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
    // The interval of a count trace: the smallest positive gap, at least one minute for spreading purposes.
    let interval_secs = if count_col.is_some() {
        rows.windows(2)
            .map(|w| (w[1].0 - w[0].0).num_seconds())
            .filter(|&g| g > 0)
            .min()
            .unwrap_or(60)
    } else {
        0
    };
    let spread = (interval_secs / 60).max(1);
    let start = minute_floor(rows[0].0);
    let last = minute_floor(rows[rows.len() - 1].0);
    let span = (last - start).num_minutes() + spread;
    if span as usize > MAX_TRACE_MINUTES {
        return Err(TraceError::TooLong {
            minutes: span,
            max: MAX_TRACE_MINUTES,
        });
    }
    let mut per_minute = vec![0.0; span as usize];
    for (t, n) in rows {
        let i = (minute_floor(t) - start).num_minutes() as usize;
        for k in 0..spread as usize {
            per_minute[i + k] += n / spread as f64;
        }
    }
    Ok(Trace { start, per_minute })
}

/// The fleet's physics and prices.
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
}

impl FleetModel {
    /// A fleet whose start-up delay is the policy's own estimate, one minute of metric lag.
    pub fn from_policy(policy: &Policy) -> Self {
        Self {
            startup_minutes: policy.startup_minutes,
            scale_in_minutes: 1,
            metric_lag_minutes: 1,
            initial_instances: None,
            hourly_usd: None,
        }
    }
}

/// Which control logic drives the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Controller {
    /// The project's policy through [`decide`].
    Policy,
    /// Application Auto Scaling target tracking with the policy's target, min, max and type.
    TargetTracking,
}

/// One simulated minute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinuteRecord {
    /// Offset from the trace's start.
    pub minute: usize,
    /// Requests.
    pub demand: f64,
    /// Requests the serving instances can handle.
    pub capacity: f64,
    /// Instances serving.
    pub serving: u32,
    /// Instances billed.
    pub billed: u32,
    /// Type serving.
    pub instance_type: String,
}

/// What one run adds up to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Which controller.
    pub controller: Controller,
    /// Minutes simulated.
    pub minutes: usize,
    /// Requests in the trace.
    pub total_requests: f64,
    /// Minutes whose demand exceeded the serving capacity.
    pub under_provisioned_minutes: usize,
    /// Requests beyond the serving capacity (they would have queued, timed out or been throttled).
    pub requests_over_capacity: f64,
    /// `requests_over_capacity / total_requests`.
    pub share_over_capacity: f64,
    /// Instance-hours billed.
    pub instance_hours: f64,
    /// Cost in USD, if every type's price is known.
    pub cost_usd: Option<f64>,
    /// Count or type changes.
    pub scaling_actions: usize,
    /// Count changes in the opposite direction of the previous one.
    pub reversals: usize,
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
    Type {
        ready: usize,
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
pub fn simulate(trace: &Trace, policy: &Policy, fleet: &FleetModel, controller: Controller) -> SimulationRun {
    let lag = fleet.metric_lag_minutes.max(1) as usize;
    let lookback = policy.lookback_minutes() as usize;
    // By default the endpoint was running before the trace began, sized for its opening demand: the mean of
    // the first stable window at the target. Both controllers start from the same count.
    let opening = &trace.per_minute[..trace.per_minute.len().min(policy.stable_window_minutes as usize)];
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
    let tt_cfg = TargetTrackingConfig::with_defaults(
        policy.target_invocations_per_instance,
        policy.min_instances,
        policy.max_instances,
    );
    let price = |t: &str| fleet.hourly_usd.or_else(|| Policy::hourly_usd(t));
    let mut cost = Some(0.0);
    let mut timeline: Vec<MinuteRecord> = Vec::with_capacity(trace.per_minute.len());
    let mut decisions = Vec::new();
    let (mut actions, mut reversals, mut last_dir) = (0usize, 0usize, 0i8);
    let (mut under, mut over, mut billed_minutes, mut peak_billed) = (0usize, 0.0, 0u64, 0u32);

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
                to_type,
                to_count,
            }) if ready <= t => {
                f.itype = to_type;
                f.serving = to_count;
                f.desired = to_count;
                f.pending = None;
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
                        .map(|i| metrics_of(trace, &timeline, i))
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
                            f.pending = Some(Pending::Type {
                                ready: t + fleet.startup_minutes as usize,
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
                Controller::TargetTracking => {
                    let dps: Vec<Option<Datapoint>> = (visible_start..visible_end)
                        .map(|i| {
                            let r = &timeline[i];
                            let instances = r.serving.max(1);
                            (r.demand > 0.0).then(|| Datapoint {
                                value: r.demand / f64::from(instances),
                                instances,
                            })
                        })
                        .collect();
                    if let TtAction::SetCount { to, .. } = tt.step(&tt_cfg, t as i64, &dps, f.desired, in_service) {
                        new_dir = apply_count(&mut f, to, t, fleet);
                    }
                }
            }
        }
        if new_dir != 0 {
            actions += 1;
            if last_dir != 0 && new_dir != last_dir {
                reversals += 1;
            }
            last_dir = new_dir;
        }

        // 4. Serve and bill.
        let (capacity, billed_now) = match &f.pending {
            Some(Pending::Type { to_type, to_count, .. }) => {
                if let (Some(c), Some(p_old), Some(p_new)) = (cost, price(&f.itype), price(to_type)) {
                    cost = Some(c + (f64::from(f.serving) * p_old + f64::from(*to_count) * p_new) / 60.0);
                } else {
                    cost = None;
                }
                (
                    f64::from(f.serving) * policy.capacity_for(&f.itype),
                    f.serving + to_count,
                )
            }
            _ => {
                let billed = f.serving.max(f.desired);
                cost = match (cost, price(&f.itype)) {
                    (Some(c), Some(p)) => Some(c + f64::from(billed) * p / 60.0),
                    _ => None,
                };
                (f64::from(f.serving) * policy.capacity_for(&f.itype), billed)
            }
        };
        if demand > capacity + 1e-9 {
            under += 1;
            over += demand - capacity;
        }
        billed_minutes += u64::from(billed_now);
        peak_billed = peak_billed.max(billed_now);
        timeline.push(MinuteRecord {
            minute: t,
            demand,
            capacity,
            serving: f.serving,
            billed: billed_now,
            instance_type: f.itype.clone(),
        });
    }

    let total: f64 = trace.per_minute.iter().sum();
    let summary = Summary {
        controller,
        minutes: trace.per_minute.len(),
        total_requests: total,
        under_provisioned_minutes: under,
        requests_over_capacity: over,
        share_over_capacity: if total > 0.0 { over / total } else { 0.0 },
        instance_hours: billed_minutes as f64 / 60.0,
        cost_usd: cost,
        scaling_actions: actions,
        reversals,
        peak_billed,
    };
    SimulationRun {
        summary,
        timeline,
        decisions,
    }
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

/// The CloudWatch datapoints minute `i` would have produced.
fn metrics_of(trace: &Trace, timeline: &[MinuteRecord], i: usize) -> MinuteMetrics {
    let r = &timeline[i];
    let minute = trace.start + Duration::minutes(i as i64);
    let serving = f64::from(r.serving.max(1));
    MinuteMetrics {
        minute,
        // SageMaker emits no invocation datapoints for a minute without requests.
        invocations: (r.demand > 0.0).then_some(r.demand),
        invocations_per_instance: (r.demand > 0.0).then(|| r.demand / serving),
        // Instance metrics are emitted every minute while instances run; a crude load proxy is enough here.
        cpu_utilization: Some((100.0 * r.demand / r.capacity.max(1.0)).min(100.0)),
        ..MinuteMetrics::empty(minute)
    }
}

/// Draws demand and each run's serving capacity over time as an SVG document.
pub fn render_svg(trace: &Trace, runs: &[&SimulationRun], title: &str) -> String {
    const W: f64 = 960.0;
    const H: f64 = 420.0;
    const PAD_L: f64 = 60.0;
    const PAD_R: f64 = 20.0;
    const PAD_T: f64 = 40.0;
    const PAD_B: f64 = 50.0;
    const COLOURS: [&str; 4] = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"];
    let n = trace.per_minute.len().max(2);
    let ymax = runs
        .iter()
        .flat_map(|r| r.timeline.iter().map(|m| m.capacity))
        .chain(trace.per_minute.iter().copied())
        .fold(1.0, f64::max)
        * 1.05;
    let x = |i: usize| PAD_L + (W - PAD_L - PAD_R) * i as f64 / (n - 1) as f64;
    let y = |v: f64| PAD_T + (H - PAD_T - PAD_B) * (1.0 - v / ymax);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{PAD_L}\" y=\"22\" font-size=\"15\">{}</text>\n",
        xml_escape(title)
    );
    // Axes and ticks.
    s += &format!(
        "<line x1=\"{PAD_L}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"black\"/>\n<line x1=\"{PAD_L}\" y1=\"{PAD_T}\" x2=\"{PAD_L}\" y2=\"{b}\" stroke=\"black\"/>\n",
        b = H - PAD_B,
        r = W - PAD_R
    );
    for k in 0..=4 {
        let v = ymax * f64::from(k) / 4.0;
        s += &format!(
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{:.0}</text>\n",
            PAD_L - 6.0,
            y(v) + 4.0,
            v
        );
    }
    for k in 0..=4 {
        let i = (n - 1) * k / 4;
        let label = (trace.start + Duration::minutes(i as i64)).format("%m-%d %H:%M");
        s += &format!(
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{label}</text>\n",
            x(i),
            H - PAD_B + 18.0
        );
    }
    s += &format!(
        "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">time (UTC)</text>\n",
        W / 2.0,
        H - 8.0
    );
    s += &format!(
        "<text x=\"14\" y=\"{:.1}\" transform=\"rotate(-90 14 {:.1})\" text-anchor=\"middle\">requests per minute</text>\n",
        H / 2.0,
        H / 2.0
    );
    // Demand as a filled area, capacities as step lines.
    let mut demand = format!("M{:.1},{:.1}", x(0), y(0.0));
    for (i, &d) in trace.per_minute.iter().enumerate() {
        demand += &format!(" L{:.1},{:.1}", x(i), y(d));
    }
    demand += &format!(" L{:.1},{:.1} Z", x(trace.per_minute.len().saturating_sub(1)), y(0.0));
    s += &format!(
        "<path d=\"{demand}\" fill=\"#bbbbbb\" fill-opacity=\"0.6\" stroke=\"#777777\" stroke-width=\"0.8\"/>\n"
    );
    let mut legend = vec![("demand".to_owned(), "#999999")];
    for (k, run) in runs.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let mut d = String::new();
        for (i, m) in run.timeline.iter().enumerate() {
            let cmd = if i == 0 { 'M' } else { 'L' };
            if i > 0 {
                d += &format!(" L{:.1},{:.1}", x(i), y(run.timeline[i - 1].capacity));
            }
            d += &format!(" {cmd}{:.1},{:.1}", x(i), y(m.capacity));
        }
        s += &format!("<path d=\"{d}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.6\"/>\n");
        let name = match run.summary.controller {
            Controller::Policy => "policy",
            Controller::TargetTracking => "target tracking",
        };
        legend.push((
            format!(
                "{name} serving capacity ({} under-provisioned min)",
                run.summary.under_provisioned_minutes
            ),
            colour,
        ));
    }
    for (k, (label, colour)) in legend.iter().enumerate() {
        let ly = PAD_T + 4.0 + 16.0 * k as f64;
        s += &format!(
            "<rect x=\"{}\" y=\"{:.1}\" width=\"12\" height=\"4\" fill=\"{colour}\"/><text x=\"{}\" y=\"{:.1}\">{}</text>\n",
            W - 330.0,
            ly,
            W - 314.0,
            ly + 5.0,
            xml_escape(label)
        );
    }
    s += "</svg>\n";
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn real_traces_policy_vs_target_tracking() {
        let policy = real_trace_policy();
        let fleet = FleetModel::from_policy(&policy);
        let Some(dir) = real_traces() else { return };
        for name in ["per_minute_code.csv", "per_minute_conv.csv"] {
            let trace = read_trace(&dir, name);
            let p = simulate(&trace, &policy, &fleet, Controller::Policy).summary;
            let t = simulate(&trace, &policy, &fleet, Controller::TargetTracking).summary;
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
        }
    }
    #[test]
    fn parses_counts_resamples_coarse_intervals_and_counts_requests() {
        let t = parse_trace_csv(
            "timestamp,count\n2024-01-01 00:00:00,10\n2024-01-01 00:01:00,3\n2024-01-01 00:03:00,4\n",
            TraceFormat::Auto,
        )
        .unwrap();
        // One-minute interval (the smallest gap); the missing minute is zero.
        assert_eq!(t.per_minute, vec![10.0, 3.0, 0.0, 4.0]);
        let five = parse_trace_csv(
            "time,requests\n2024-01-01T00:00:00Z,50\n2024-01-01T00:05:00Z,100\n",
            TraceFormat::Auto,
        )
        .unwrap();
        assert_eq!(
            five.per_minute,
            vec![10.0, 10.0, 10.0, 10.0, 10.0, 20.0, 20.0, 20.0, 20.0, 20.0]
        );
        let secs = parse_trace_csv("ts,n\n0,1\n30,2\n60,3\n", TraceFormat::Auto).unwrap();
        assert_eq!(secs.per_minute, vec![3.0, 3.0]);
        let raw = "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4808,10\n2023-11-16 18:17:59.1,1,1\n2023-11-16 18:19:00.0,1,1\n";
        let r = parse_trace_csv(raw, TraceFormat::Auto).unwrap();
        assert_eq!(r.per_minute, vec![2.0, 0.0, 1.0]);
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
    fn raw_requests_trace_matches_the_per_minute_one() {
        let Some(dir) = real_traces() else { return };
        let per_minute = read_trace(&dir, "per_minute_code.csv");
        let raw = read_trace(&dir, "AzureLLMInferenceTrace_code.csv");
        assert_eq!(raw.start, per_minute.start);
        assert_eq!(raw.per_minute, per_minute.per_minute);
    }

    fn step_trace() -> Trace {
        // 20 minutes at 60 per minute, then 40 minutes at 300.
        let mut v = vec![60.0; 20];
        v.extend(vec![300.0; 40]);
        Trace {
            start: DateTime::from_timestamp(1_700_000_000 - 1_700_000_000 % 60, 0).unwrap(),
            per_minute: v,
        }
    }

    #[test]
    fn target_tracking_replay_matches_a_hand_computed_sequence() {
        let policy = real_trace_policy();
        let fleet = FleetModel {
            startup_minutes: 6,
            scale_in_minutes: 1,
            metric_lag_minutes: 1,
            initial_instances: Some(1),
            hourly_usd: Some(1.0),
        };
        let run = simulate(&step_trace(), &policy, &fleet, Controller::TargetTracking);
        // Minute 20 is the first at 300 (per instance 300 > target 60). With one minute of lag, minutes 20-22
        // are visible at minute 23: ceil(1 x 300 / 60) = 5 instances, serving from minute 29.
        let serving: Vec<u32> = run.timeline.iter().map(|m| m.serving).collect();
        assert_eq!(&serving[..29], &[1; 29][..]);
        assert_eq!(serving[29], 5);
        // 300 > 120 x 1 from minute 20 to 28: 9 under-provisioned minutes, 9 x 180 requests over capacity.
        assert_eq!(run.summary.under_provisioned_minutes, 9);
        assert_eq!(run.summary.requests_over_capacity, 9.0 * 180.0);
        // Billed: 1 for 23 minutes, 5 from minute 23 (new instances are billed while starting).
        assert!(
            (run.summary.instance_hours - (23.0 + 5.0 * 37.0) / 60.0).abs() < 1e-9,
            "{:?} {:?}",
            run.summary,
            serving
        );
        assert_eq!(
            run.summary.cost_usd.map(|c| (c * 1e6).round()),
            Some(((23.0 + 5.0 * 37.0) / 60.0 * 1e6_f64).round())
        );
        assert_eq!((run.summary.scaling_actions, run.summary.reversals), (1, 0));
    }

    #[test]
    fn policy_panics_earlier_and_new_instances_wait_for_startup() {
        let policy = real_trace_policy();
        let fleet = FleetModel {
            startup_minutes: 6,
            scale_in_minutes: 1,
            metric_lag_minutes: 1,
            initial_instances: Some(1),
            hourly_usd: None,
        };
        let run = simulate(&step_trace(), &policy, &fleet, Controller::Policy);
        // Minute 20 is visible at 21: 300 on 1 instance at target 60 is a panic; sized on the window.
        let first = &run.decisions[0];
        assert_eq!(first.rule, super::super::decision::Rule::Panic);
        assert_eq!(first.at, step_trace().start + Duration::minutes(21));
        let serving: Vec<u32> = run.timeline.iter().map(|m| m.serving).collect();
        assert_eq!(serving[26], 1, "new instances serve only after the start-up delay");
        assert!(serving[27] > 1);
        assert!(run.summary.under_provisioned_minutes < 9);
        // ml.g5.xlarge is in the catalogue.
        assert!(run.summary.cost_usd.is_some());
    }

    #[test]
    fn svg_has_one_path_per_run_and_the_demand() {
        let policy = real_trace_policy();
        let fleet = FleetModel::from_policy(&policy);
        let a = simulate(&step_trace(), &policy, &fleet, Controller::Policy);
        let b = simulate(&step_trace(), &policy, &fleet, Controller::TargetTracking);
        let svg = render_svg(&step_trace(), &[&a, &b], "a <test> & more");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<path").count(), 3);
        assert!(svg.contains("a &lt;test&gt; &amp; more"));
    }
}
