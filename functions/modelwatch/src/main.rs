//! `modelwatch`: the monitoring use cases on a laptop, on local files in S3's layout.
//!
//! # Layout
//!
//! - `main.rs`: argument parsing and the commands' wiring.
//! - [`local`]: the core's ports over the filesystem.
//! - [`output`]: writing the reports and printing the tables.
//! - [`simulate`]: the autoscaling simulator command.

mod local;
mod output;
mod simulate;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use modelwatch_core::baseline::{Baseline, CONSTRAINTS_FILE, STATISTICS_FILE};
use modelwatch_core::dataset::{DatasetOptions, profile_dataset};
use modelwatch_core::evaluate::{Evaluation, EvaluationConfig, evaluate_window};
use modelwatch_core::metrics::MetricScope;
use modelwatch_core::ports::ReportStore;
use modelwatch_core::window::{Window, parse_time};

use local::{FsCaptureSource, FsReportStore};

#[derive(Parser)]
#[command(
    name = "modelwatch",
    version,
    about = "Monitor SageMaker models: data quality, drift, model quality."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a synthetic endpoint's data (training set, captures, labels) and evaluate it.
    Demo {
        /// Where to write the demo's files and reports.
        #[arg(long, default_value = "./modelwatch-demo")]
        out: PathBuf,
    },
    /// Profile a training data set into Model Monitor's statistics.json and constraints.json.
    Baseline {
        /// The data set: CSV (with or without header) or Parquet.
        #[arg(long)]
        dataset: PathBuf,
        /// Where to write the two files.
        #[arg(long)]
        out: PathBuf,
        /// A column to leave out of the features.
        #[arg(long)]
        label_column: Option<String>,
        /// A column with the model's score on this data, profiled as the baseline of the predictions.
        #[arg(long)]
        prediction_column: Option<String>,
        /// The CSV has no header line (columns are named _c0, _c1, ...).
        #[arg(long)]
        no_header: bool,
    },
    /// Evaluate captures against a baseline: statistics, drift, violations, metrics.
    Evaluate {
        /// A capture file, or a folder of them in S3's layout (.../yyyy/mm/dd/hh/*.jsonl[.gz]).
        #[arg(long)]
        captures: PathBuf,
        /// The folder with statistics.json and constraints.json.
        #[arg(long)]
        baseline: PathBuf,
        /// Where to write the reports.
        #[arg(long)]
        out: PathBuf,
        /// Start of the window (RFC 3339, or 2024-05-01T13); hour folders overlapping the window are read.
        #[arg(long, requires = "to")]
        from: Option<String>,
        /// End of the window (exclusive).
        #[arg(long, requires = "from")]
        to: Option<String>,
        /// A JSON configuration file (reader limits, JSON selectors, drift methods and thresholds).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The endpoint name in the metrics' dimensions (default: taken from the capture path).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Replay a request trace through a scaling policy (and target tracking, to compare).
    Simulate(simulate::SimulateArgs),
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("modelwatch: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Demo { out } => demo(&out),
        Command::Baseline {
            dataset,
            out,
            label_column,
            prediction_column,
            no_header,
        } => {
            let options = DatasetOptions {
                has_header: !no_header,
                label_column,
                prediction_column,
            };
            let baseline = write_baseline(&dataset, &options, &out)?;
            output::print_baseline(&baseline, &out);
            Ok(ExitCode::SUCCESS)
        }
        Command::Evaluate {
            captures,
            baseline,
            out,
            from,
            to,
            config,
            endpoint,
        } => {
            let window =
                match (from, to) {
                    (Some(from), Some(to)) => {
                        let (from, to) = (parse_time(&from)?, parse_time(&to)?);
                        Some(Window::new(from, to).with_context(|| {
                            format!("--to must be after --from ({from} .. {to})")
                        })?)
                    }
                    _ => None,
                };
            let config = read_config(config.as_deref())?;
            let baseline = Baseline::read_dir(&baseline)?;
            let endpoint = endpoint.unwrap_or_else(|| guess_endpoint(&captures));
            let evaluation = evaluate(&captures, window.as_ref(), &baseline, &config, &endpoint)?;
            output::write_reports(&FsReportStore::new(&out), &evaluation)?;
            output::print_evaluation(&evaluation, &out);
            finish_code(&evaluation)
        }
        Command::Simulate(args) => {
            simulate::run(args)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Exit 0 when the evaluation completed, violations or not; a file that could not be read is an error.
fn finish_code(evaluation: &Evaluation) -> Result<ExitCode> {
    let failed: Vec<String> = evaluation
        .files
        .iter()
        .filter_map(|f| f.error.as_ref().map(|e| format!("  {e}")))
        .collect();
    if !failed.is_empty() {
        bail!(
            "{} capture file(s) could not be read (the rest was evaluated):\n{}",
            failed.len(),
            failed.join("\n")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn read_config(path: Option<&Path>) -> Result<EvaluationConfig> {
    let Some(path) = path else {
        return Ok(EvaluationConfig::default());
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid modelwatch configuration", path.display()))
}

/// The endpoint folder of S3's layout, `{endpoint}/{variant}/yyyy/mm/dd/hh`, when the path has one.
fn guess_endpoint(captures: &Path) -> String {
    let parts: Vec<String> = captures
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let is_year = |s: &str| s.len() == 4 && s.chars().all(|c| c.is_ascii_digit());
    if let Some(i) = parts.iter().position(|p| is_year(p)) {
        if i >= 2 {
            return parts[i - 2].clone();
        }
    }
    std::fs::read_dir(captures)
        .ok()
        .and_then(|mut d| d.find_map(|e| e.ok().filter(|e| e.path().is_dir())))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .unwrap_or_else(|| "local".to_owned())
}

fn write_baseline(dataset: &Path, options: &DatasetOptions, out: &Path) -> Result<Baseline> {
    let profile = profile_dataset(dataset, options)?;
    let baseline = Baseline::from_profile(&profile);
    let store = FsReportStore::new(out);
    store.put(
        STATISTICS_FILE,
        &serde_json::to_vec_pretty(&baseline.statistics)?,
    )?;
    store.put(
        CONSTRAINTS_FILE,
        &serde_json::to_vec_pretty(&baseline.constraints)?,
    )?;
    Ok(baseline)
}

fn evaluate(
    captures: &Path,
    window: Option<&Window>,
    baseline: &Baseline,
    config: &EvaluationConfig,
    endpoint: &str,
) -> Result<Evaluation> {
    let source = FsCaptureSource::new(captures);
    let scope = MetricScope {
        endpoint: endpoint.to_owned(),
        schedule: format!("modelwatch-{endpoint}"),
        timestamp: window.map_or_else(chrono::Utc::now, |w| w.end),
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} files {elapsed} {wide_msg}",
            )
            .expect("valid template"),
        );
        bar
    });
    let mut on_object = |i: usize, n: usize, object: &modelwatch_core::ports::CaptureObject| {
        if let Some(bar) = &bar {
            bar.set_length(n as u64);
            bar.set_position(i as u64);
            bar.set_message(object.name.clone());
        }
    };
    let evaluation = evaluate_window(&source, window, baseline, config, &scope, &mut on_object)?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if evaluation.files.is_empty() {
        bail!(
            "no capture file (*.jsonl, *.jsonl.gz) under {} for the window",
            captures.display()
        );
    }
    Ok(evaluation)
}

fn demo(out: &Path) -> Result<ExitCode> {
    let data = modelwatch_core::demo::generate();
    let store = FsReportStore::new(out);
    store.put("training.csv", data.training_csv.as_bytes())?;
    for (path, body) in &data.captures {
        store.put(&format!("captures/{path}"), body.as_bytes())?;
    }
    for (path, body) in &data.ground_truth {
        store.put(&format!("ground-truth/{path}"), body.as_bytes())?;
    }
    println!(
        "Wrote a synthetic endpoint to {}: training.csv, {} hours of captures, ground truth.",
        out.display(),
        data.captures.len()
    );
    let options = DatasetOptions {
        has_header: true,
        label_column: Some(modelwatch_core::demo::LABEL.to_owned()),
        prediction_column: None,
    };
    let baseline = write_baseline(&out.join("training.csv"), &options, &out.join("baseline"))?;
    println!(
        "Baseline: {} features from {} training rows.\n",
        baseline.statistics.features.len(),
        baseline.statistics.dataset.item_count
    );

    let config = EvaluationConfig::default();
    for (label, from_hour, to_hour) in [
        ("before drift", 0, modelwatch_core::demo::DRIFT_FROM_HOUR),
        (
            "after drift",
            modelwatch_core::demo::DRIFT_FROM_HOUR,
            modelwatch_core::demo::HOURS,
        ),
    ] {
        let window = Window::new(
            data.start + chrono::Duration::hours(from_hour as i64),
            data.start + chrono::Duration::hours(to_hour as i64),
        )
        .context("demo window")?;
        let evaluation = evaluate(
            &out.join("captures"),
            Some(&window),
            &baseline,
            &config,
            modelwatch_core::demo::ENDPOINT,
        )?;
        let folder = format!(
            "{}-{}",
            window.start.format("%Y%m%dT%H"),
            window.end.format("%Y%m%dT%H")
        );
        output::write_reports(
            &FsReportStore::new(out.join("reports").join(&folder)),
            &evaluation,
        )?;
        println!("== Window {} .. {} ({label}) ==", window.start, window.end);
        output::print_evaluation(&evaluation, &out.join("reports").join(&folder));
        println!();
    }
    println!(
        "Try it yourself:\n  modelwatch evaluate --captures {}/captures --baseline {}/baseline --out {}/reports/all",
        out.display(),
        out.display(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
