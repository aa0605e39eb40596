//! `modelwatch`: the monitoring use cases on a laptop, on local files in S3's layout.
//!
//! # Layout
//!
//! - `main.rs`: argument parsing and the commands' wiring.
//! - [`local`]: the core's ports over the filesystem.
//! - [`output`]: writing the reports and printing the tables.
//! - [`simulate`]: the autoscaling simulator command.
//! - [`versions`]: `history` and `rollback`, over the retraining function's version history.

/// `print!` and `println!` that end the program quietly on a closed pipe (`modelwatch ... | head`), as Unix tools
/// do, instead of panicking: see [`write_stdout`].
macro_rules! out {
    ($($arg:tt)*) => { $crate::write_stdout(format_args!($($arg)*), false) };
}
macro_rules! outln {
    () => { $crate::write_stdout(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::write_stdout(format_args!($($arg)*), true) };
}

mod local;
mod output;
mod simulate;
mod versions;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use modelwatch_core::baseline::Baseline;
use modelwatch_core::baseline_files::{self, BaselineFiles};
use modelwatch_core::dataset::DatasetOptions;
use modelwatch_core::evaluate::{
    Evaluation, EvaluationConfig, PredictionConfig, QualityConfig, Sources, evaluate_window,
};
use modelwatch_core::metrics::MetricScope;
use modelwatch_core::monitor::{self, RecordedWindow, Target};
use modelwatch_core::ports::{CaptureObject, CaptureSource, ReportStore};
use modelwatch_core::quality::{CbpeCalibration, ModelQualityConstraints, ProblemType};
use modelwatch_core::suggest::{self, QualityRequest};
use modelwatch_core::window::{Window, parse_time};

use local::{FsCaptureSource, FsReportStore, FsStateStore};

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
        /// More columns to leave out of the features (ids, timestamps); repeat the option for each.
        #[arg(long = "exclude-column", value_name = "COLUMN")]
        exclude_columns: Vec<String>,
        /// The CSV has no header line (columns are named _c0, _c1, ...).
        #[arg(long)]
        no_header: bool,
        /// Also write the model-quality baseline (model-quality/statistics.json and constraints.json) from the
        /// label column and the prediction column (or --predicted-label-column); for binary problems with scores,
        /// also the calibration of label-free estimates (model-quality/cbpe_calibration.json).
        #[arg(long, value_enum)]
        problem_type: Option<Problem>,
        /// A column with the model's predicted class (multiclass, or binary without scores).
        #[arg(long)]
        predicted_label_column: Option<String>,
        /// Binary: a score at or above it predicts the positive class.
        #[arg(long, default_value_t = 0.5)]
        threshold: f64,
        /// Suggested quality thresholds sit this much (relative) below the validation set's metrics.
        #[arg(long, default_value_t = modelwatch_core::suggest_quality::DEFAULT_QUALITY_TOLERANCE)]
        tolerance: f64,
    },
    /// Evaluate captures, or a data set, against a baseline: statistics, drift, violations, metrics.
    Evaluate(Box<EvaluateArgs>),
    /// Replay a request trace through a scaling policy (and target tracking, to compare).
    Simulate(simulate::SimulateArgs),
    /// Print an endpoint's model versions: which served when, and why each changed.
    History(versions::HistoryArgs),
    /// Return an endpoint to an earlier version's configuration (needs feature `aws`).
    Rollback(versions::RollbackArgs),
}

/// `modelwatch evaluate`'s arguments (boxed in [`Command`]: they outweigh the other commands').
#[derive(clap::Args)]
struct EvaluateArgs {
    /// A capture file, or a folder of them in S3's layout (.../yyyy/mm/dd/hh/*.jsonl[.gz]).
    #[arg(long, required_unless_present_any = ["dataset", "transform_capture"])]
    captures: Option<PathBuf>,
    /// A Batch Transform job's capture instead: its DataCaptureConfig DestinationS3Uri (s3://bucket/prefix), read
    /// from the local copy of the buckets given by --s3-root. With --from/--to, the manifests of those hours.
    #[arg(long, value_name = "S3_URI", requires = "s3_root", conflicts_with_all = ["captures", "dataset", "ground_truth", "state"])]
    transform_capture: Option<String>,
    /// With --transform-capture: a local copy of the buckets, s3://bucket/key being ROOT/bucket/key (as
    /// `aws s3 sync s3://bucket ROOT/bucket` writes it): the capture's manifests and the objects they name.
    #[arg(long, value_name = "ROOT", requires = "transform_capture")]
    s3_root: Option<PathBuf>,
    /// A data set as the window instead of captures (a day's feature table, a batch scoring output): CSV or
    /// Parquet, its columns matched to the baseline's features by name.
    #[arg(long, conflicts_with_all = ["captures", "ground_truth", "state", "from"])]
    dataset: Option<PathBuf>,
    /// With --dataset: the label column, left out.
    #[arg(long, requires = "dataset")]
    label_column: Option<String>,
    /// With --dataset: the model's score (or predicted label) column, read as the window's predictions.
    #[arg(long, requires = "dataset")]
    prediction_column: Option<String>,
    /// With --dataset: more columns to leave out (ids, timestamps); repeat the option for each.
    #[arg(long = "exclude-column", value_name = "COLUMN", requires = "dataset")]
    exclude_columns: Vec<String>,
    /// With --dataset: the CSV has no header line (columns are named _c0, _c1, ... as in the baseline).
    #[arg(long, requires = "dataset")]
    no_header: bool,
    /// Also write the run's metrics to this file in Prometheus' text exposition format (for node_exporter's
    /// textfile collector: name it `*.prom` in the collector's folder; it is replaced whole, never half-written).
    #[arg(long, value_name = "FILE")]
    prometheus: Option<PathBuf>,
    /// Also push the run's metrics to this Prometheus Pushgateway (http://host:9091), replacing the group
    /// job="modelwatch", endpoint=<endpoint>.
    #[arg(long, value_name = "URL")]
    pushgateway: Option<String>,
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
    /// Threads that read the captures (default: the configuration's `reader.threads`, else one a core). The
    /// reports are the same whatever the number.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// The endpoint name in the metrics' dimensions and the state's keys (default: taken from the capture path,
    /// `{endpoint}/{variant}/yyyy/mm/dd/hh`).
    #[arg(long)]
    endpoint: Option<String>,
    /// The production variant in the state's keys (default: taken from the capture path, else AllTraffic).
    #[arg(long)]
    variant: Option<String>,
    /// The `MonitoringSchedule` dimension of the metrics (the evaluate-captures function's default).
    #[arg(long, default_value = monitor::DEFAULT_SCHEDULE)]
    schedule: String,
    /// Ground-truth files (SageMaker's merge records), a file or a folder in the hourly layout: adds model quality.
    #[arg(long)]
    ground_truth: Option<PathBuf>,
    /// The problem type: for model quality (default: the one of the baseline's model-quality constraints; with
    /// --ground-truth one of them is needed) and for reading the outputs in the prediction history (positive
    /// rate).
    #[arg(long, value_enum)]
    problem_type: Option<Problem>,
    /// Binary: a score at or above it predicts the positive class (default: the threshold of the baseline's
    /// CBPE calibration, else 0.5).
    #[arg(long)]
    threshold: Option<f64>,
    /// Model-quality constraints.json to check (default: BASELINE/model-quality/constraints.json if present).
    #[arg(long)]
    quality_constraints: Option<PathBuf>,
    /// Keep the endpoint's state in this folder, in the evaluate-captures function's layout (the folder can be
    /// copied to its STATE_S3_URI and the other way round): the window is assessed against the prediction
    /// history and recorded (re-running a window replaces it), and marked committed, so that the scheduled
    /// function continues after it. Needs --from and --to, one window length per endpoint variant.
    #[arg(long)]
    state: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Problem {
    Binary,
    Multiclass,
    Regression,
}

impl From<Problem> for ProblemType {
    fn from(p: Problem) -> Self {
        match p {
            Problem::Binary => ProblemType::BinaryClassification,
            Problem::Multiclass => ProblemType::MulticlassClassification,
            Problem::Regression => ProblemType::Regression,
        }
    }
}

/// Writes to standard output. A reader that went away (a closed pipe) ends the program with status 0 and no
/// message: what it asked for was printed. Any other write error is reported and ends it with status 2.
fn write_stdout(args: std::fmt::Arguments<'_>, newline: bool) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_fmt(args)
        .and_then(|()| if newline { stdout.write_all(b"\n") } else { Ok(()) })
        .and_then(|()| stdout.flush());
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("modelwatch: error: writing to standard output: {e}");
            std::process::exit(2);
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("modelwatch: error: {}", modelwatch_core::ports::error_chain(e.as_ref()));
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
            exclude_columns,
            no_header,
            problem_type,
            predicted_label_column,
            threshold,
            tolerance,
        } => {
            let options = DatasetOptions {
                has_header: !no_header,
                label_column,
                prediction_column,
                exclude_columns,
            };
            let quality = problem_type.map(|problem| QualityRequest {
                config: QualityConfig {
                    threshold,
                    ..QualityConfig::new(problem.into())
                },
                predicted_label_column,
                tolerance,
            });
            write_baseline(&dataset, &options, quality.as_ref(), &out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Evaluate(args) => {
            let EvaluateArgs {
                captures,
                transform_capture,
                s3_root,
                dataset,
                label_column,
                prediction_column,
                exclude_columns,
                no_header,
                prometheus,
                pushgateway,
                baseline: baseline_dir,
                out,
                from,
                to,
                config,
                threads,
                endpoint,
                variant,
                schedule,
                ground_truth,
                problem_type,
                threshold,
                quality_constraints,
                state,
            } = *args;
            let window = match (from, to) {
                (Some(from), Some(to)) => {
                    let (from, to) = (parse_time(&from)?, parse_time(&to)?);
                    Some(Window::new(from, to).with_context(|| format!("--to must be after --from ({from} .. {to})"))?)
                }
                _ => None,
            };
            if state.is_some() && window.is_none() {
                bail!("--state needs --from and --to: the prediction history records one window per run");
            }
            let config_path = config;
            let mut config = read_config(config_path.as_deref())?;
            if let Some(n) = threads {
                config.reader.threads = usize::from(n);
            }
            let mut files = read_baseline(&baseline_dir)?;
            if let Some(path) = quality_constraints {
                files.quality_constraints = Some(read_quality_constraints(&path)?);
            }
            let problem_type = problem_type.map(ProblemType::from);
            let configured = config.quality.take();
            let quality = files.resolve_quality(configured.clone(), problem_type, threshold)?;
            // Without ground truth the configuration's own quality section stays as written (it also says how the
            // outputs read for the prediction history).
            config.quality = match ground_truth {
                Some(_) => Some(quality.with_context(|| {
                    format!(
                        "--ground-truth needs the problem type: give --problem-type, or a baseline with \
                         {QUALITY_DIR}/constraints.json ({} has none)",
                        baseline_dir.display()
                    )
                })?),
                None => configured,
            };
            if let Some(problem) = problem_type
                && config.predictions.is_none()
            {
                config.predictions = Some(PredictionConfig {
                    threshold: threshold.unwrap_or(PredictionConfig::new(problem).threshold),
                    ..PredictionConfig::new(problem)
                });
            }
            // What needs the baseline (a `drift.features` key naming its features); the rest was checked as read.
            config.validate(&files.baseline).with_context(|| {
                let settings = config_path
                    .as_deref()
                    .map_or_else(|| "the settings".to_owned(), |p| p.display().to_string());
                format!("{settings} do not fit the baseline in {}", baseline_dir.display())
            })?;
            if let Some(dataset) = dataset {
                let options = DatasetOptions {
                    has_header: !no_header,
                    label_column,
                    prediction_column,
                    exclude_columns,
                };
                // Model quality comes from captures joined with ground truth: a data set's run does not claim it.
                config.quality = None;
                let scope = MetricScope {
                    endpoint: endpoint.unwrap_or_else(|| "dataset".to_owned()),
                    schedule,
                    timestamp: chrono::Utc::now(),
                };
                let (evaluation, unknown) =
                    modelwatch_core::evaluate::evaluate_dataset(&dataset, &options, &files.baseline, &config, &scope)?;
                if !unknown.is_empty() {
                    eprintln!(
                        "modelwatch: {} column(s) of {} are not features of the baseline and were left out: {}",
                        unknown.len(),
                        dataset.display(),
                        unknown.join(", ")
                    );
                }
                report::write_reports(&FsReportStore::new(&out), &evaluation, None)?;
                let exporters = (prometheus.as_deref(), pushgateway.as_deref());
                return conclude(&evaluation, None, &out, &scope.endpoint, exporters);
            }
            if let (Some(destination), Some(root)) = (transform_capture, s3_root) {
                let objects = local::FsObjects::new(root);
                let capture =
                    modelwatch_core::transform::TransformCapture::discover(&objects, &destination, window.as_ref())?;
                let job = modelwatch_core::transform::job_of_destination(&destination).to_owned();
                let scope = MetricScope {
                    endpoint: endpoint.unwrap_or_else(|| job.clone()),
                    schedule,
                    timestamp: window.as_ref().map_or_else(chrono::Utc::now, |w| w.end),
                };
                let (evaluation, counts) = modelwatch_core::transform::evaluate_job(
                    &capture,
                    &job,
                    &files.baseline,
                    &config,
                    files.calibration.as_ref(),
                    &scope,
                )?;
                if counts != modelwatch_core::transform::JoinCounts::default() {
                    eprintln!(
                        "modelwatch: the job's input and output did not meet line for line: {} input object(s) \
                         without output, {} input line(s) without an output line, {} output line(s) beyond their \
                         input",
                        counts.inputs_without_output, counts.lines_without_output, counts.extra_output_lines
                    );
                }
                report::write_reports(&FsReportStore::new(&out), &evaluation, None)?;
                let exporters = (prometheus.as_deref(), pushgateway.as_deref());
                return conclude(&evaluation, None, &out, &scope.endpoint, exporters);
            }
            let captures = captures.expect("clap requires --captures without --dataset or --transform-capture");
            refuse_mixed_targets(&captures, window.as_ref())?;
            let constraints = files.quality_constraints;
            let (baseline, calibration) = (files.baseline, files.calibration);
            let (guessed_endpoint, guessed_variant) = guess_target(&captures);
            let target = Target {
                endpoint: endpoint.unwrap_or(guessed_endpoint),
                variant: variant.unwrap_or(guessed_variant),
                schedule,
            };
            let inputs = Inputs {
                captures: &captures,
                ground_truth: ground_truth.as_deref(),
                constraints: constraints.as_ref(),
                estimate: calibration.as_ref(),
            };
            let (evaluation, history) = match (&state, &window) {
                (Some(dir), Some(window)) => {
                    let recorded = evaluate_recorded(&inputs, window, &baseline, &config, &target, dir, &out)?;
                    (recorded.evaluation, recorded.history)
                }
                _ => {
                    let evaluation = evaluate(&inputs, window.as_ref(), &baseline, &config, &target)?;
                    report::write_reports(&FsReportStore::new(&out), &evaluation, None)?;
                    (evaluation, None)
                }
            };
            let exporters = (prometheus.as_deref(), pushgateway.as_deref());
            conclude(&evaluation, history.as_ref(), &out, &target.endpoint, exporters)
        }
        Command::Simulate(args) => {
            simulate::run(args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::History(args) => {
            versions::history(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Rollback(args) => {
            versions::rollback(&args)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The end of every evaluation, once its reports are written: its metrics to the Prometheus file and Pushgateway
/// (`exporters`, when given), the evaluation printed, and the exit status.
fn conclude(
    evaluation: &Evaluation,
    history: Option<&modelwatch_core::history::HistoryUpdate>,
    out: &Path,
    endpoint: &str,
    exporters: (Option<&Path>, Option<&str>),
) -> Result<ExitCode> {
    publish_prometheus(evaluation, endpoint, exporters.0, exporters.1)?;
    output::print_evaluation(evaluation, history, out);
    finish_code(evaluation)
}

/// Writes the run's metrics in Prometheus' text exposition format to `file` (through a temporary file beside it,
/// renamed over it, so that a collector never reads half a file) and pushes them to the Pushgateway at `url`.
fn publish_prometheus(evaluation: &Evaluation, endpoint: &str, file: Option<&Path>, url: Option<&str>) -> Result<()> {
    use modelwatch_core::metrics::prometheus;
    if file.is_none() && url.is_none() {
        return Ok(());
    }
    let text = prometheus::exposition(&evaluation.metrics);
    if let Some(file) = file {
        let mut temporary = file.as_os_str().to_owned();
        temporary.push(".tmp");
        std::fs::write(&temporary, &text).with_context(|| format!("writing {}", Path::new(&temporary).display()))?;
        std::fs::rename(&temporary, file).with_context(|| format!("replacing {}", file.display()))?;
    }
    if let Some(url) = url {
        let target = format!(
            "{}{}",
            url.trim_end_matches('/'),
            prometheus::pushgateway_path("modelwatch", &[("endpoint", endpoint)])
        );
        let mut response = ureq::put(&target)
            .config()
            .http_status_as_error(false)
            .build()
            .header("Content-Type", "text/plain; version=0.0.4")
            .send(&text)
            .with_context(|| format!("pushing the metrics to {target}"))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.body_mut().read_to_string().unwrap_or_default();
            bail!("the Pushgateway at {target} answered {status}: {}", body.trim());
        }
    }
    Ok(())
}

/// The exit status of an evaluation that compared nothing (no row read, no feature comparable): distinct from
/// success (0) and from an error (2), so that a script does not take "nothing compared" for "no drift".
const EXIT_NOTHING_COMPARED: u8 = 3;

/// Exit 0 when the evaluation completed, violations or not; [`EXIT_NOTHING_COMPARED`] when it compared nothing; a
/// file that could not be read is an error.
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
    if let Some(reason) = &evaluation.drift.nothing_compared {
        eprintln!("modelwatch: nothing compared: {reason}");
        return Ok(ExitCode::from(EXIT_NOTHING_COMPARED));
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses captures of several endpoints or variants under one folder: each has its own baseline and state, and
/// one evaluation never mixes them.
fn refuse_mixed_targets(captures: &Path, window: Option<&Window>) -> Result<()> {
    let objects = FsCaptureSource::new(captures).list(window)?;
    let targets = modelwatch_core::window::targets_of_keys(objects.iter().map(|o| o.name.as_str()));
    if targets.len() > 1 {
        let names: Vec<String> = targets.iter().map(|(e, v)| format!("{e}/{v}")).collect();
        let (endpoint, variant) = targets.first().expect("more than one");
        bail!(
            "the captures under {} belong to {} endpoint variants ({}); one evaluation never mixes them: give one \
             variant's folder, e.g. --captures {}",
            captures.display(),
            targets.len(),
            names.join(", "),
            captures.join(endpoint).join(variant).display()
        );
    }
    Ok(())
}

fn read_config(path: Option<&Path>) -> Result<EvaluationConfig> {
    let Some(path) = path else {
        return Ok(EvaluationConfig::default());
    };
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a valid modelwatch configuration", path.display()))
}

/// The endpoint and variant folders of S3's layout, `{endpoint}/{variant}/yyyy/mm/dd/hh`, when the path has them
/// (a path to the capture root: its first endpoint and variant folders); else `local` and `AllTraffic`.
fn guess_target(captures: &Path) -> (String, String) {
    let parts: Vec<String> = captures
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let is_year = |s: &str| s.len() == 4 && s.chars().all(|c| c.is_ascii_digit());
    if let Some(i) = parts.iter().position(|p| is_year(p))
        && i >= 2
    {
        return (parts[i - 2].clone(), parts[i - 1].clone());
    }
    let first_folder = |dir: &Path| {
        let mut folders: Vec<PathBuf> = std::fs::read_dir(dir)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()).filter(|p| p.is_dir()))
            .collect();
        folders.sort();
        folders.into_iter().next()
    };
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    let endpoint = first_folder(captures);
    let variant = endpoint.as_deref().and_then(first_folder);
    (
        endpoint.as_deref().and_then(name).unwrap_or_else(|| "local".to_owned()),
        variant
            .as_deref()
            .and_then(name)
            .filter(|v| !is_year(v))
            .unwrap_or_else(|| DEFAULT_VARIANT.to_owned()),
    )
}

/// SageMaker's variant name for an endpoint created with one variant.
const DEFAULT_VARIANT: &str = "AllTraffic";

/// The model-quality baseline's folder inside a baseline folder.
use modelwatch_core::report::{self, QUALITY_DIR};

/// The baseline folder (data baseline, and when present the model-quality constraints and CBPE calibration).
fn read_baseline(dir: &Path) -> Result<BaselineFiles> {
    Ok(baseline_files::load(
        &dir.display().to_string(),
        &FsStateStore::new(dir),
    )?)
}

/// A model-quality constraints file named on the command line.
fn read_quality_constraints(path: &Path) -> Result<ModelQualityConstraints> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    baseline_files::parse_quality_constraints(&text)
        .map_err(|e| anyhow::anyhow!(e))
        .with_context(|| format!("{} is not a valid model-quality constraints file", path.display()))
}

/// The monitoring use case with state, as the scheduled function runs it ([`monitor::evaluate_and_record`]): the
/// window evaluated, assessed against the prediction history in `state` and recorded there, the reports written
/// into `out`, and the window marked committed in `state`.
fn evaluate_recorded(
    inputs: &Inputs<'_>,
    window: &Window,
    baseline: &Baseline,
    config: &EvaluationConfig,
    target: &Target,
    state: &Path,
    out: &Path,
) -> Result<RecordedWindow> {
    let captures = FsCaptureSource::new(inputs.captures);
    let labels = inputs.ground_truth.map(FsCaptureSource::new);
    let sources = inputs.sources(&captures, labels.as_ref());
    let store = FsStateStore::new(state);
    let progress = Progress::new();
    let recorded = monitor::evaluate_and_record(
        &sources,
        &FsReportStore::new(out),
        &store,
        target,
        window,
        baseline,
        config,
        &mut |i, n, o| progress.show(i, n, o),
    )
    .with_context(|| format!("evaluating with the state in {}", state.display()))?;
    progress.finish();
    let run_id = format!("modelwatch-cli-{}", std::process::id());
    monitor::record_committed(
        &store,
        target,
        window,
        &run_id,
        &recorded.evaluation.summary,
        chrono::Utc::now(),
    )
    .with_context(|| format!("recording the window in {}", state.display()))?;
    Ok(recorded)
}

fn write_baseline(
    dataset: &Path,
    options: &DatasetOptions,
    quality: Option<&QualityRequest>,
    out: &Path,
) -> Result<Baseline> {
    let suggested = suggest::suggest(dataset, options, quality)?;
    suggest::write(&FsReportStore::new(out), &suggested)?;
    output::print_baseline(&suggested.baseline, out);
    if let Some(q) = &suggested.quality {
        output::print_quality_baseline(&q.statistics, q.calibration.as_ref(), &out.join(QUALITY_DIR));
    }
    Ok(suggested.baseline)
}

/// What an evaluation reads.
struct Inputs<'a> {
    captures: &'a Path,
    ground_truth: Option<&'a Path>,
    constraints: Option<&'a ModelQualityConstraints>,
    estimate: Option<&'a CbpeCalibration>,
}

impl Inputs<'_> {
    fn sources<'s>(&'s self, captures: &'s FsCaptureSource, labels: Option<&'s FsCaptureSource>) -> Sources<'s> {
        Sources {
            captures,
            ground_truth: labels.map(|l| l as &dyn CaptureSource),
            quality_constraints: self.constraints,
            estimate: self.estimate,
            partials: None,
        }
    }
}

/// A progress bar of the files read, on a terminal only.
struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    fn new() -> Self {
        Self(std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files {elapsed} {wide_msg}")
                    .expect("valid template"),
            );
            bar
        }))
    }

    fn show(&self, i: usize, n: usize, object: &CaptureObject) {
        if let Some(bar) = &self.0 {
            bar.set_length(n as u64);
            bar.set_position(i as u64);
            bar.set_message(object.name.clone());
        }
    }

    fn finish(self) {
        if let Some(bar) = self.0 {
            bar.finish_and_clear();
        }
    }
}

/// Evaluates a window (all the captures without one) without state; the metrics are timestamped at the window's
/// end, or now.
fn evaluate(
    inputs: &Inputs<'_>,
    window: Option<&Window>,
    baseline: &Baseline,
    config: &EvaluationConfig,
    target: &Target,
) -> Result<Evaluation> {
    let captures = FsCaptureSource::new(inputs.captures);
    let labels = inputs.ground_truth.map(FsCaptureSource::new);
    let sources = inputs.sources(&captures, labels.as_ref());
    let scope = match window {
        Some(w) => target.scope(w),
        None => MetricScope {
            endpoint: target.endpoint.clone(),
            schedule: target.schedule.clone(),
            timestamp: chrono::Utc::now(),
        },
    };
    let progress = Progress::new();
    let evaluation = evaluate_window(&sources, window, baseline, config, &scope, &mut |i, n, o| {
        progress.show(i, n, o);
    })?;
    progress.finish();
    Ok(evaluation)
}

fn demo(out: &Path) -> Result<ExitCode> {
    let data = modelwatch_core::demo::generate();
    let store = FsReportStore::new(out);
    store.put("training.csv", data.training_csv.as_bytes())?;
    store.put("validation.csv", data.validation_csv.as_bytes())?;
    for (path, body) in &data.captures {
        store.put(&format!("captures/{path}"), body.as_bytes())?;
    }
    for (path, body) in &data.ground_truth {
        store.put(&format!("ground-truth/{path}"), body.as_bytes())?;
    }
    outln!(
        "Wrote a synthetic endpoint to {}: training.csv, {} hours of captures, ground truth.",
        out.display(),
        data.captures.len()
    );
    let options = DatasetOptions {
        has_header: true,
        label_column: Some(modelwatch_core::demo::LABEL.to_owned()),
        ..Default::default()
    };
    let baseline = write_baseline(&out.join("training.csv"), &options, None, &out.join("baseline"))?;
    let quality = QualityConfig::new(ProblemType::BinaryClassification);
    let validation = DatasetOptions {
        has_header: true,
        label_column: Some(modelwatch_core::demo::LABEL.to_owned()),
        prediction_column: Some("score".to_owned()),
        ..Default::default()
    };
    let request = QualityRequest {
        config: quality.clone(),
        predicted_label_column: None,
        tolerance: modelwatch_core::suggest_quality::DEFAULT_QUALITY_TOLERANCE,
    };
    // The validation set gives only the model-quality baseline; the data baseline stays the training set's.
    let suggested = suggest::suggest(&out.join("validation.csv"), &validation, Some(&request))?;
    let suggested_quality = suggested.quality.expect("a quality request gives a quality baseline");
    suggest::write_quality(&FsReportStore::new(out.join("baseline")), &suggested_quality)?;
    output::print_quality_baseline(
        &suggested_quality.statistics,
        suggested_quality.calibration.as_ref(),
        &out.join("baseline").join(QUALITY_DIR),
    );
    let BaselineFiles {
        quality_constraints: constraints,
        calibration,
        ..
    } = read_baseline(&out.join("baseline"))?;
    outln!(
        "Baseline: {} features from {} training rows.\n",
        baseline.statistics.features.len(),
        baseline.statistics.dataset.item_count
    );

    let config = EvaluationConfig {
        quality: Some(quality),
        ..EvaluationConfig::default()
    };
    let captures = out.join("captures");
    let labels = out.join("ground-truth");
    let inputs = Inputs {
        captures: &captures,
        ground_truth: Some(&labels),
        constraints: constraints.as_ref(),
        estimate: calibration.as_ref(),
    };
    let target = Target {
        endpoint: modelwatch_core::demo::ENDPOINT.to_owned(),
        variant: modelwatch_core::demo::VARIANT.to_owned(),
        schedule: monitor::DEFAULT_SCHEDULE.to_owned(),
    };
    let folder_of = |w: &Window| format!("{}-{}", w.start.format("%Y%m%dT%H"), w.end.format("%Y%m%dT%H"));
    let hour_window = |from: usize, to: usize| {
        Window::new(
            data.start + chrono::Duration::hours(from as i64),
            data.start + chrono::Duration::hours(to as i64),
        )
        .context("demo window")
    };
    let mut windows = Vec::new();
    for (label, from_hour, to_hour) in [
        ("before drift", 0, modelwatch_core::demo::DRIFT_FROM_HOUR),
        (
            "after drift",
            modelwatch_core::demo::DRIFT_FROM_HOUR,
            modelwatch_core::demo::HOURS,
        ),
    ] {
        let window = hour_window(from_hour, to_hour)?;
        let evaluation = evaluate(&inputs, Some(&window), &baseline, &config, &target)?;
        let folder = out.join("reports").join(folder_of(&window));
        report::write_reports(&FsReportStore::new(&folder), &evaluation, None)?;
        outln!("== Window {} .. {} ({label}) ==", window.start, window.end);
        output::print_evaluation(&evaluation, None, &folder);
        outln!();
        windows.push((window, evaluation, folder));
    }

    // Hour by hour, as an hourly schedule runs: each hour is assessed against the history of the hours before it
    // and recorded. Six hours are short for a history, so the detector compares with the recent hours.
    let state = out.join("state");
    outln!(
        "== Hour by hour, with the prediction history kept in {} ==",
        state.display()
    );
    outln!("{}", output::HOURLY_HEADER);
    for hour in 0..modelwatch_core::demo::HOURS {
        let window = hour_window(hour, hour + 1)?;
        let folder = out.join("reports").join("hourly").join(folder_of(&window));
        let recorded = evaluate_recorded(&inputs, &window, &baseline, &config, &target, &state, &folder)?;
        outln!(
            "{}",
            output::hourly_line(&recorded.evaluation, recorded.history.as_ref())
        );
    }
    outln!(
        "(each hour's reports, with prediction_history.json: {}/reports/hourly/)\n",
        out.display()
    );
    if let [(_, before, _), (after_window, after, folder)] = &windows[..] {
        outln!("{}", output::demo_conclusion(before, after, after_window, folder));
    }
    let last = hour_window(modelwatch_core::demo::HOURS - 1, modelwatch_core::demo::HOURS)?;
    // The program that is running, so that the commands work as printed after `cargo run` too.
    let program = std::env::current_exe().map_or_else(|_| "modelwatch".to_owned(), |p| p.display().to_string());
    outln!(
        "Try it yourself:\n  {program} evaluate --captures {0}/captures --baseline {0}/baseline --ground-truth {0}/ground-truth --out {0}/reports/all\n  \
         {program} evaluate --captures {0}/captures --baseline {0}/baseline --from {1} --to {2} --state {0}/state --out {0}/reports/again",
        out.display(),
        last.start.format("%Y-%m-%dT%H"),
        last.end.format("%Y-%m-%dT%H"),
    );
    Ok(ExitCode::SUCCESS)
}
