//! `modelwatch simulate`: replays a request-rate trace through the scaling policy (and optionally through
//! emulations of target tracking, with or without learned scheduled minimums) and writes a summary, a timeline
//! and a plot; with `--sweep`, every controller over a range of targets and their cost-against-delay curves; with
//! `--compare-serving`, real-time, asynchronous and batch transform serving priced for a latency tolerance. The
//! engines live in `modelwatch_core::scaling::{simulate, serving}`; this file only reads, writes and prints.

use std::path::PathBuf;

use anyhow::Context;
use modelwatch_core::scaling::Policy;
use modelwatch_core::scaling::plot;
use modelwatch_core::scaling::serving::{
    self, DEFAULT_ALLOWED_LATE_SHARE, DEFAULT_ASYNC_OVERHEAD_S, DEFAULT_BATCH_STARTUP_MINUTES, ServingComparison,
    ServingOptions,
};
use modelwatch_core::scaling::simulate::{
    Controller, DEFAULT_LATENCY_OBJECTIVE_S, FleetModel, Frontier, SimulationRun, Summary, TraceFormat,
    default_sweep_targets, parse_trace_csv, simulate, sweep,
};

/// A controller to compare the policy with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Compare {
    /// Application Auto Scaling target tracking on `SageMakerVariantInvocationsPerInstance`.
    TargetTracking,
    /// Target tracking plus scheduled minimums per UTC hour learned from the trace's previous days.
    TargetTrackingScheduled,
}

/// Arguments of `modelwatch simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Request-rate trace: CSV with a header, a timestamp column first and a count per interval (any
    /// interval), or one row per request.
    #[arg(long)]
    pub trace: PathBuf,
    /// Scaling policy JSON file of the endpoint variant.
    #[arg(long)]
    pub policy: PathBuf,
    /// Also run this controller with the policy's target, limits and instance type (repeatable).
    #[arg(long, value_enum)]
    pub compare: Vec<Compare>,
    /// Directory for summary.json, timeline.json and plot.svg (and frontier.json with --sweep; created if
    /// missing).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Read the trace as one row per request even if it has a count-like column.
    #[arg(long)]
    pub per_request: bool,
    /// Minutes before added instances serve (default: the policy's `startup_minutes`).
    #[arg(long)]
    pub startup_minutes: Option<u32>,
    /// Minutes the endpoint stays `Updating` after a scale-in.
    #[arg(long, default_value_t = 1)]
    pub scale_in_minutes: u32,
    /// Age in minutes of the newest metric datapoint a decision sees.
    #[arg(long, default_value_t = 1)]
    pub metric_lag_minutes: u32,
    /// Instances at the start (default: the first stable window's mean demand at the target).
    #[arg(long)]
    pub initial_instances: Option<u32>,
    /// Price per instance-hour in USD (default: the built-in us-east-1 catalogue, approximate).
    #[arg(long)]
    pub hourly_usd: Option<f64>,
    /// Requests per minute one instance of the policy's type serves at most (default: the policy's
    /// `capacity_invocations_per_instance`; one of the two is required).
    #[arg(long)]
    pub capacity_per_instance: Option<f64>,
    /// Minutes both fleets stay billed after a type change's new fleet serves (default: the scaling function's
    /// baking period, 10).
    #[arg(long)]
    pub bake_minutes: Option<u32>,
    /// A request waiting longer than this many seconds for capacity is delayed.
    #[arg(long, default_value_t = DEFAULT_LATENCY_OBJECTIVE_S)]
    pub latency_objective_s: f64,
    /// Run every controller over a range of targets and write frontier.json (with --out).
    #[arg(long)]
    pub sweep: bool,
    /// The sweep's targets, comma-separated (default: 0.3, 0.4, ..., 1.0 times the capacity per instance).
    #[arg(long, value_delimiter = ',', requires = "sweep")]
    pub sweep_targets: Vec<f64>,
    /// Price real-time, asynchronous and batch transform serving of the trace for answers within this
    /// tolerance (seconds, or 90s, 15m, 2h, 1d) and say which is cheapest; writes serving.json (with --out).
    #[arg(long, value_name = "TOLERANCE")]
    pub compare_serving: Option<String>,
    /// The share of requests (0-1) a way of serving may answer later than the tolerance.
    #[arg(long, default_value_t = DEFAULT_ALLOWED_LATE_SHARE, requires = "compare_serving")]
    pub allowed_late_share: f64,
    /// Minutes before a batch transform job's instances process requests (billed).
    #[arg(long, default_value_t = DEFAULT_BATCH_STARTUP_MINUTES, requires = "compare_serving")]
    pub batch_startup_minutes: u32,
    /// Seconds an asynchronous answer takes beyond its processing (S3 output, notification).
    #[arg(long, default_value_t = DEFAULT_ASYNC_OVERHEAD_S, requires = "compare_serving")]
    pub async_overhead_s: f64,
    /// Price per instance-hour of asynchronous inference (default: the real-time one).
    #[arg(long, requires = "compare_serving")]
    pub async_hourly_usd: Option<f64>,
    /// Price per instance-hour of batch transform (default: the real-time one).
    #[arg(long, requires = "compare_serving")]
    pub batch_hourly_usd: Option<f64>,
    /// Seconds an asynchronous policy's request waits in the queue before it expires (`RequestTTLSeconds`;
    /// default 21,600).
    #[arg(long)]
    pub request_ttl_s: Option<f64>,
}

/// Runs the subcommand.
///
/// # Errors
///
/// Unreadable or invalid trace or policy files, an unknown capacity per instance, an invalid latency objective
/// or sweep target, and output files that cannot be written.
pub fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let policy_text =
        std::fs::read_to_string(&args.policy).with_context(|| format!("reading policy {}", args.policy.display()))?;
    let policy = Policy::from_json(&policy_text).with_context(|| format!("policy {}", args.policy.display()))?;
    let trace_text =
        std::fs::read_to_string(&args.trace).with_context(|| format!("reading trace {}", args.trace.display()))?;
    let format = if args.per_request {
        TraceFormat::PerRequest
    } else {
        TraceFormat::Auto
    };
    let trace = parse_trace_csv(&trace_text, format).with_context(|| format!("trace {}", args.trace.display()))?;
    anyhow::ensure!(
        args.latency_objective_s.is_finite() && args.latency_objective_s >= 0.0,
        "--latency-objective-s {} must be a number of seconds >= 0",
        args.latency_objective_s
    );

    let mut fleet = FleetModel::from_policy(&policy);
    fleet.startup_minutes = args.startup_minutes.unwrap_or(policy.startup_minutes);
    fleet.scale_in_minutes = args.scale_in_minutes;
    fleet.metric_lag_minutes = args.metric_lag_minutes.max(1);
    fleet.initial_instances = args.initial_instances;
    fleet.hourly_usd = args.hourly_usd;
    fleet.capacity_per_instance = args.capacity_per_instance;
    fleet.bake_minutes = args.bake_minutes.unwrap_or(fleet.bake_minutes);
    fleet.latency_objective_s = args.latency_objective_s;
    if let Some(ttl) = args.request_ttl_s {
        anyhow::ensure!(
            ttl.is_finite() && ttl > 0.0,
            "--request-ttl-s {ttl} must be a number of seconds > 0"
        );
        fleet.request_ttl_s = ttl;
    }
    let serving_options = args
        .compare_serving
        .as_deref()
        .map(|t| -> anyhow::Result<ServingOptions> {
            Ok(ServingOptions {
                tolerance_s: serving::parse_tolerance(t)?,
                allowed_late_share: args.allowed_late_share,
                batch_startup_minutes: args.batch_startup_minutes,
                async_overhead_s: args.async_overhead_s,
                async_hourly_usd: args.async_hourly_usd,
                batch_hourly_usd: args.batch_hourly_usd,
            })
        })
        .transpose()?;
    let capacity = fleet.capacity_for(&policy, &policy.instance_type)?;

    let mut controllers = vec![Controller::Policy];
    for c in &args.compare {
        let c = match c {
            Compare::TargetTracking => Controller::TargetTracking,
            Compare::TargetTrackingScheduled => Controller::TargetTrackingScheduled,
        };
        if !controllers.contains(&c) {
            controllers.push(c);
        }
    }
    let runs: Vec<SimulationRun> = controllers
        .iter()
        .map(|&c| simulate(&trace, &policy, &fleet, c))
        .collect::<Result<_, _>>()?;

    outln!(
        "{} minutes from {} ({:.0} requests, {} minutes missing, rows every {} s), {} on {} to {} x {}, {} requests a \
         minute each at most, start-up {} min, latency objective {} s",
        trace.per_minute.len(),
        trace.start.format("%Y-%m-%d %H:%M UTC"),
        trace.total_requests(),
        trace.missing_minutes(),
        trace.interval_seconds,
        policy.endpoint,
        policy.min_instances,
        policy.max_instances,
        policy.instance_type,
        capacity,
        fleet.startup_minutes,
        fleet.latency_objective_s
    );
    print_table(runs.iter().map(|r| {
        (
            r.summary.controller.name(),
            policy.target_invocations_per_instance,
            &r.summary,
        )
    }));

    let frontier = if args.sweep {
        let targets = if args.sweep_targets.is_empty() {
            default_sweep_targets(capacity)
        } else {
            args.sweep_targets.clone()
        };
        let f = sweep(&trace, &policy, &fleet, &targets)?;
        outln!("sweep over targets {targets:?}:");
        print_frontier(&f);
        Some(f)
    } else {
        None
    };

    let serving = match &serving_options {
        Some(o) => {
            let c = serving::compare(&trace, &policy, &fleet, o)?;
            print_serving(&c);
            Some(c)
        }
        None => None,
    };

    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let summaries: Vec<&Summary> = runs.iter().map(|r| &r.summary).collect();
        let summary = serde_json::json!({
            "trace": args.trace.display().to_string(),
            "policy": policy,
            "fleet": fleet,
            "runs": summaries,
        });
        write(dir.join("summary.json"), &serde_json::to_string_pretty(&summary)?)?;
        write(dir.join("timeline.json"), &serde_json::to_string(&runs)?)?;
        let refs: Vec<&SimulationRun> = runs.iter().collect();
        let title = format!("{}: demand and capacity", args.trace.display());
        // An asynchronous policy's target is a backlog, not a load per instance: no target line.
        let target = policy
            .asynchronous
            .is_none()
            .then_some(policy.target_invocations_per_instance);
        write(dir.join("plot.svg"), &plot::timeline_svg(&trace, &refs, target, &title))?;
        let mut written = vec!["summary.json", "timeline.json", "plot.svg"];
        if let Some(f) = &frontier {
            write(dir.join("frontier.json"), &serde_json::to_string_pretty(f)?)?;
            let title = format!(
                "{}: cost against delay, each controller over its targets",
                args.trace.display()
            );
            write(dir.join("frontier.svg"), &plot::frontier_svg(f, &title))?;
            written.extend(["frontier.json", "frontier.svg"]);
        }
        if let Some(c) = &serving {
            write(dir.join("serving.json"), &serde_json::to_string_pretty(c)?)?;
            written.push("serving.json");
        }
        outln!("wrote {} to {}", written.join(", "), dir.display());
    }
    Ok(())
}

fn write(path: PathBuf, text: &str) -> anyhow::Result<()> {
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}

/// One row per summary, with the target it ran at.
fn print_table<'a>(rows: impl Iterator<Item = (&'a str, f64, &'a Summary)>) {
    outln!(
        "{:<26} {:>7} {:>9} {:>8} {:>10} {:>9} {:>10} {:>10} {:>8} {:>6} {:>5}",
        "controller",
        "target",
        "delayed%",
        "p99-wait",
        "dropped",
        "under-min",
        "inst-hours",
        "cost-usd",
        "actions",
        "flaps",
        "peak"
    );
    for (name, target, s) in rows {
        let cost = s.cost_usd.map_or_else(|| "n/a".to_owned(), |c| format!("{c:.2}"));
        outln!(
            "{:<26} {:>7.1} {:>9.2} {:>8.1} {:>10.0} {:>9} {:>10.2} {:>10} {:>8} {:>6} {:>5}",
            name,
            target,
            100.0 * s.delayed_share,
            s.p99_wait_s,
            s.dropped_requests,
            s.under_provisioned_minutes,
            s.instance_hours,
            cost,
            s.scaling_actions,
            s.flaps,
            s.peak_billed
        );
    }
}

/// Each way of serving: its cheapest setting that meets the tolerance (or why none does), then the verdict.
fn print_serving(c: &ServingComparison) {
    let o = &c.options;
    outln!(
        "serving for answers within {} s (at most {:.2}% later; batch jobs start in {} min; asynchronous answers \
         take {} s more):",
        o.tolerance_s,
        100.0 * o.allowed_late_share,
        o.batch_startup_minutes,
        o.async_overhead_s
    );
    outln!(
        "{:<16} {:>10} {:>10} {:>7} {:>10}  {}",
        "way",
        "cost-usd",
        "inst-hours",
        "late%",
        "dropped",
        "cheapest setting that meets the tolerance"
    );
    for (name, m) in serving::Mode::ALL
        .iter()
        .filter_map(|w| c.modes.get(w.name()).map(|m| (w.name(), m)))
    {
        match &m.cheapest {
            Some(p) => {
                let cost = p.cost_usd.map_or_else(|| "n/a".to_owned(), |c| format!("{c:.2}"));
                outln!(
                    "{:<16} {:>10} {:>10.2} {:>7.2} {:>10.0}  {}",
                    name,
                    cost,
                    p.instance_hours,
                    100.0 * p.late_share,
                    p.dropped_requests,
                    p.setting
                );
            }
            None => {
                let why = m.not_possible.clone().unwrap_or_else(|| {
                    let least = m.candidates.iter().map(|p| p.late_share).fold(f64::INFINITY, f64::min);
                    format!(
                        "none of its {} settings meets it (fewest late: {:.2}%)",
                        m.candidates.len(),
                        100.0 * least
                    )
                });
                outln!("{name:<16} {:>10} {:>10} {:>7} {:>10}  {why}", "-", "-", "-", "-");
            }
        }
    }
    match c.cheapest {
        Some(mode) => outln!("cheapest: {} (compared by {})", mode.name(), c.compared_by),
        None => outln!("cheapest: none of the three meets the tolerance; allow a longer one or a larger late share"),
    }
}

fn print_frontier(f: &Frontier) {
    print_points(f);
    print_equal_cost(f);
}

fn print_points(f: &Frontier) {
    outln!(
        "{:<26} {:>7} {:>9} {:>8} {:>10} {:>10} {:>10} {:>8} {:>6}",
        "controller",
        "target",
        "delayed%",
        "p99-wait",
        "dropped",
        "inst-hours",
        "cost-usd",
        "actions",
        "flaps"
    );
    for (name, points) in &f.controllers {
        for p in points {
            let cost = p.cost_usd.map_or_else(|| "n/a".to_owned(), |c| format!("{c:.2}"));
            outln!(
                "{:<26} {:>7.2} {:>9.2} {:>8.1} {:>10.0} {:>10.2} {:>10} {:>8} {:>6}",
                name,
                p.target,
                100.0 * p.delayed_share,
                p.p99_wait_s,
                p.dropped_requests,
                p.instance_hours,
                cost,
                p.scaling_actions,
                p.flaps
            );
        }
    }
}

fn print_equal_cost(f: &Frontier) {
    outln!("at equal cost (the policy's curve read at each baseline point's cost):");
    outln!(
        "{:<26} {:>7} {:>10} {:>13} {:>13}",
        "baseline",
        "target",
        "cost",
        "its delayed%",
        "policy's%"
    );
    for e in &f.policy_at_equal_cost {
        let policy = e
            .policy_delayed_share
            .map_or_else(|| "out of range".to_owned(), |d| format!("{:.2}", 100.0 * d));
        outln!(
            "{:<26} {:>7.2} {:>10.2} {:>13.2} {:>13}",
            e.baseline,
            e.target,
            e.cost,
            100.0 * e.baseline_delayed_share,
            policy
        );
    }
}
