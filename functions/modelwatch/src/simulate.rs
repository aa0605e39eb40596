//! `modelwatch simulate`: replays a request-rate trace through the scaling policy (and optionally through an
//! emulation of target tracking) and writes a summary, a timeline and a plot. The engine lives in
//! `modelwatch_core::scaling::simulate`; this file only reads, writes and prints.

use std::path::PathBuf;

use anyhow::Context;
use modelwatch_core::scaling::Policy;
use modelwatch_core::scaling::simulate::{
    Controller, FleetModel, SimulationRun, Summary, TraceFormat, parse_trace_csv, render_svg, simulate,
};

/// The controller to compare the policy with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Compare {
    /// Application Auto Scaling target tracking on `SageMakerVariantInvocationsPerInstance`.
    TargetTracking,
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
    /// Also run this controller with the policy's target, limits and instance type, and print both.
    #[arg(long, value_enum)]
    pub compare: Option<Compare>,
    /// Directory for summary.json, timeline.json and plot.svg (created if missing).
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
}

/// Runs the subcommand.
///
/// # Errors
///
/// Unreadable or invalid trace or policy files, and output files that cannot be written.
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

    let mut fleet = FleetModel::from_policy(&policy);
    fleet.startup_minutes = args.startup_minutes.unwrap_or(policy.startup_minutes);
    fleet.scale_in_minutes = args.scale_in_minutes;
    fleet.metric_lag_minutes = args.metric_lag_minutes.max(1);
    fleet.initial_instances = args.initial_instances;
    fleet.hourly_usd = args.hourly_usd;

    let mut runs: Vec<SimulationRun> = vec![simulate(&trace, &policy, &fleet, Controller::Policy)];
    if let Some(Compare::TargetTracking) = args.compare {
        runs.push(simulate(&trace, &policy, &fleet, Controller::TargetTracking));
    }

    outln!(
        "{} minutes from {} ({} requests), {} on {} to {} x {}, start-up {} min",
        trace.per_minute.len(),
        trace.start.format("%Y-%m-%d %H:%M UTC"),
        trace.per_minute.iter().sum::<f64>(),
        policy.endpoint,
        policy.min_instances,
        policy.max_instances,
        policy.instance_type,
        fleet.startup_minutes
    );
    print_table(runs.iter().map(|r| &r.summary));

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
        let title = format!("{}: demand and serving capacity", args.trace.display());
        write(dir.join("plot.svg"), &render_svg(&trace, &refs, &title))?;
        outln!("wrote summary.json, timeline.json and plot.svg to {}", dir.display());
    }
    Ok(())
}

fn write(path: PathBuf, text: &str) -> anyhow::Result<()> {
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}

fn print_table<'a>(rows: impl Iterator<Item = &'a Summary>) {
    outln!(
        "{:<16} {:>10} {:>10} {:>10} {:>10} {:>8} {:>10} {:>5}",
        "controller",
        "under-min",
        "over-cap%",
        "inst-hours",
        "cost-usd",
        "actions",
        "reversals",
        "peak"
    );
    for s in rows {
        let name = match s.controller {
            Controller::Policy => "policy",
            Controller::TargetTracking => "target-tracking",
        };
        let cost = s.cost_usd.map_or_else(|| "n/a".to_owned(), |c| format!("{c:.2}"));
        outln!(
            "{:<16} {:>10} {:>10.2} {:>10.2} {:>10} {:>8} {:>10} {:>5}",
            name,
            s.under_provisioned_minutes,
            100.0 * s.share_over_capacity,
            s.instance_hours,
            cost,
            s.scaling_actions,
            s.reversals,
            s.peak_billed
        );
    }
}
