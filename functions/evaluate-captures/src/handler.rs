//! One invocation: the event classified, and for each endpoint variant (or each capture object) a job on a
//! blocking thread that reads the baseline and calls the core's run with the S3 and CloudWatch adapters
//! ([`modelwatch_aws::lambda::for_each_target`]); a summary returned and logged, one structured event per
//! window or object.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use modelwatch_aws::cloudwatch::CloudWatchSink;
use modelwatch_aws::lambda::{self, Classify, Panicked, for_each_target};
use modelwatch_aws::s3::{S3CaptureSource, S3Location, S3Objects, S3ReportStore, S3StateStore};
use modelwatch_aws::stepfunctions::StepFunctionsRuns;
use modelwatch_core::baseline::BaselineError;
pub use modelwatch_core::baseline_files::BaselineFiles;
use modelwatch_core::baseline_files::{self};
use modelwatch_core::distributed::{self, Item, Reduced, RunInput, RunStarter, Started};
use modelwatch_core::evaluate::{EvaluationConfig, Sources};
use modelwatch_core::metrics::MetricScope;
use modelwatch_core::monitor::{self, FoldOutcome, MonitorError, RunPorts, ScheduleSettings, WindowOutcome};
use modelwatch_core::ports::{CaptureObject, error_chain};
use modelwatch_core::transform::{self, JoinCounts, TransformCapture, TransformError};
use modelwatch_core::window::{Window, hour_of_key};
use serde::Serialize;
use tokio::runtime::Handle;
use tokio::task::spawn_blocking;

use crate::config::{Config, EndpointVariant};
use crate::event::{DistributedStep, Invocation, classify};

/// The SDK clients, built once per process.
#[derive(Clone, Debug)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// Starts the distributed evaluation's runs.
    pub sfn: aws_sdk_sfn::Client,
}

impl Clients {
    /// Clients from the environment's SDK configuration.
    pub async fn from_env() -> Self {
        Self::from_sdk(&modelwatch_aws::config::load().await)
    }

    /// Clients of one SDK configuration.
    pub fn from_sdk(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            s3: modelwatch_aws::config::s3_client(sdk),
            cloudwatch: modelwatch_aws::config::cloudwatch_client(sdk),
            sfn: aws_sdk_sfn::Client::new(sdk),
        }
    }
}

/// What an invocation did.
#[derive(Debug, Default, Serialize)]
pub struct Response {
    /// Windows evaluated (or found committed, or held by another run), per endpoint variant.
    pub windows: Vec<TargetWindow>,
    /// Capture objects folded into their hours.
    pub folded: Vec<FoldOutcome>,
    /// Objects in the event that belong to no configured endpoint, and transform-job events not acted on.
    pub ignored: Vec<String>,
    /// Batch Transform jobs evaluated.
    pub transform_jobs: Vec<TransformOutcome>,
    /// What a step of a distributed run did (the state machine reads it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distributed: Option<DistributedOutcome>,
    /// Runs of the distributed evaluation a backfill request started (or found ended).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<StartedRun>,
}

/// A run of the distributed evaluation a backfill request asked for.
#[derive(Debug, Serialize)]
pub struct StartedRun {
    pub endpoint: String,
    pub variant: String,
    /// The execution's name (the window's [`distributed::run_name`]).
    pub run: String,
    /// False when a run of this name has ended: a backfill of the same window is not run twice (start the state
    /// machine by hand under another name to run it again).
    pub started: bool,
}

/// What a step of a distributed run did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DistributedOutcome {
    /// The run's batches to read (the map's items), its windows, its bytes, and where reducing starts (0).
    Plan {
        items: Vec<Item>,
        windows: usize,
        bytes: u64,
        next: usize,
    },
    /// Where the batch's partial is stored.
    Read { partial: String },
    /// Where reducing stopped, and what each window reduced did.
    Reduce(Reduced),
}

/// How long one invocation reduces windows before it hands on to the next (the function's timeout is 15 minutes;
/// a window reduces in seconds).
const REDUCE_BUDGET: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// What evaluating a completed Batch Transform job did.
#[derive(Debug, Serialize)]
pub struct TransformOutcome {
    pub job: String,
    /// Where its reports are (`report.html` among them).
    pub reports: String,
    pub summary: modelwatch_core::evaluate::RunSummary,
    /// How the job's input and output lines met.
    pub lines: JoinCounts,
    /// Metric data published, and whether they had been by an earlier delivery of the event.
    #[serde(flatten)]
    pub published: transform::Published,
}

/// One window's outcome for one endpoint variant.
#[derive(Debug, Serialize)]
pub struct TargetWindow {
    pub endpoint: String,
    pub variant: String,
    #[serde(flatten)]
    pub outcome: WindowOutcome,
}

/// Why an invocation failed; the targets that succeeded kept their results.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] crate::event::EventError),
    #[error("{endpoint}/{variant}: reading the baseline")]
    Baseline {
        endpoint: String,
        variant: String,
        #[source]
        source: Box<BaselineError>,
    },
    #[error("{endpoint}/{variant}: evaluating the windows")]
    Windows {
        endpoint: String,
        variant: String,
        #[source]
        source: Box<MonitorError>,
    },
    #[error(
        "{endpoint}/{variant}: {failed} window(s) failed, the first at {first}: {error} ({evaluated} others ran; \
         the failures are recorded and retried by the next runs)"
    )]
    WindowsFailed {
        endpoint: String,
        variant: String,
        failed: usize,
        evaluated: usize,
        first: DateTime<Utc>,
        error: String,
    },
    #[error("{endpoint}/{variant}: the evaluation's settings: {reason}")]
    Settings {
        endpoint: String,
        variant: String,
        reason: String,
    },
    #[error("{endpoint}/{variant}: folding {object}")]
    Fold {
        endpoint: String,
        variant: String,
        object: String,
        #[source]
        source: Box<MonitorError>,
    },
    #[error("{endpoint}/{variant}: distributed run {run_id}")]
    Distributed {
        endpoint: String,
        variant: String,
        run_id: String,
        #[source]
        source: Box<MonitorError>,
    },
    #[error("{endpoint}/{variant} is not an endpoint variant of this stack (ENDPOINTS)")]
    UnknownTarget { endpoint: String, variant: String },
    #[error("transform job {job}: {reason}")]
    Transform {
        job: String,
        reason: String,
        retryable: bool,
    },
    #[error(transparent)]
    Panicked(#[from] Panicked),
}

impl HandlerError {
    fn baseline(ev: &EndpointVariant, source: BaselineError) -> Self {
        Self::Baseline {
            endpoint: ev.endpoint.clone(),
            variant: ev.variant.clone(),
            source: Box::new(source),
        }
    }

    fn windows(ev: &EndpointVariant, source: MonitorError) -> Self {
        Self::Windows {
            endpoint: ev.endpoint.clone(),
            variant: ev.variant.clone(),
            source: Box::new(source),
        }
    }
}

/// An unrecognised event or a missing or invalid baseline is bad input; a failing port, contention on the
/// state or a panic is retryable.
impl Classify for HandlerError {
    fn retryable(&self) -> bool {
        match self {
            Self::Event(_) | Self::Settings { .. } | Self::UnknownTarget { .. } => false,
            Self::Distributed { source, .. } => source.retryable(),
            Self::Baseline { source, .. } => source.retryable(),
            Self::Windows { source, .. } | Self::Fold { source, .. } => source.retryable(),
            // Recorded and retried by the next scheduled runs; an immediate retry may succeed too.
            Self::WindowsFailed { .. } => true,
            Self::Transform { retryable, .. } => *retryable,
            Self::Panicked(e) => e.retryable(),
        }
    }
}

/// One capture object of an S3 event, and the endpoint variant it belongs to.
#[derive(Debug, Clone)]
struct CaptureTarget {
    ev: EndpointVariant,
    key: String,
    /// `s3://bucket/key`.
    uri: String,
}

impl lambda::Target for CaptureTarget {
    fn endpoint(&self) -> &str {
        &self.ev.endpoint
    }

    fn variant(&self) -> Option<&str> {
        Some(&self.ev.variant)
    }

    fn object(&self) -> Option<&str> {
        Some(&self.uri)
    }
}

/// The function: configuration and clients.
pub struct App {
    pub config: Config,
    pub clients: Clients,
}

impl App {
    /// Handles one event at `now`; `run_id` names this run in the window markers (the Lambda request id).
    ///
    /// # Errors
    ///
    /// A [`HandlerError`] for an unrecognised event or the first endpoint variant (or object) that failed; the
    /// others are still run, and every failure is logged.
    pub async fn handle(
        &self,
        event: serde_json::Value,
        now: DateTime<Utc>,
        run_id: &str,
    ) -> Result<Response, HandlerError> {
        let invocation = classify(event)?;
        let mut response = Response::default();
        let failed = match invocation {
            Invocation::Backfill(window) if self.config.distributed.is_some() => {
                let runs = for_each_target(self.config.endpoints.iter().cloned(), |ev| async move {
                    Ok(spawn_blocking(self.backfill_run_job(ev, window)))
                })
                .await;
                response.runs = runs.done.into_iter().map(|(_, run)| run).collect();
                runs.failed
            }
            Invocation::Schedule { .. } | Invocation::Backfill(_) => {
                let backfill = match &invocation {
                    Invocation::Backfill(w) => Some(*w),
                    _ => None,
                };
                let runs = for_each_target(self.config.endpoints.iter().cloned(), |ev| async move {
                    Ok(spawn_blocking(self.windows_job(ev, backfill, now, run_id)))
                })
                .await;
                for (ev, outcomes) in runs.done {
                    response
                        .windows
                        .extend(outcomes.into_iter().map(|outcome| TargetWindow {
                            endpoint: ev.endpoint.clone(),
                            variant: ev.variant.clone(),
                            outcome,
                        }));
                }
                runs.failed
            }
            Invocation::Objects(objects) => {
                let mut owned = Vec::new();
                for (bucket, key) in objects {
                    let uri = format!("s3://{bucket}/{key}");
                    match self.config.owner_of(&bucket, &key) {
                        Some(ev) => owned.push(CaptureTarget {
                            ev: ev.clone(),
                            key,
                            uri,
                        }),
                        None => response.ignored.push(uri),
                    }
                }
                // One event may carry many objects of the same variant: its baseline is read once.
                let mut variants: Vec<EndpointVariant> = Vec::new();
                for t in &owned {
                    if !variants.contains(&t.ev) {
                        variants.push(t.ev.clone());
                    }
                }
                let baselines =
                    for_each_target(variants, |ev| async move { Ok(spawn_blocking(self.baseline_job(ev))) }).await;
                let files: HashMap<EndpointVariant, Arc<BaselineFiles>> = baselines
                    .done
                    .into_iter()
                    .map(|(ev, files)| (ev, Arc::new(files)))
                    .collect();
                // The objects of a variant whose baseline failed are left out: that failure is reported.
                let readable = owned.into_iter().filter(|t| files.contains_key(&t.ev));
                let folds = for_each_target(readable, |t| {
                    let files = files[&t.ev].clone();
                    async move { Ok(spawn_blocking(self.fold_job(t, files, now))) }
                })
                .await;
                response.folded = folds.done.into_iter().map(|(_, outcome)| outcome).collect();
                baselines.failed.into_iter().chain(folds.failed).collect()
            }
            Invocation::TransformJob {
                name,
                status,
                destination,
            } => match (
                status.as_str(),
                // The event's own DataCaptureConfig when it carries one, else the configured destination.
                destination.or_else(|| self.config.transform_capture_of(&name)),
                self.config.endpoints.first(),
            ) {
                ("Completed", Some(destination), Some(ev)) => {
                    let job = name.clone();
                    let runs = for_each_target(std::iter::once(ev.clone()), |ev| {
                        let (job, destination) = (job.clone(), destination.clone());
                        async move { Ok(spawn_blocking(self.transform_job(ev, job, destination, now))) }
                    })
                    .await;
                    response.transform_jobs = runs.done.into_iter().map(|(_, outcome)| outcome).collect();
                    runs.failed
                }
                ("Completed", None, _) => vec![HandlerError::Transform {
                    job: name,
                    reason: "no capture destination: the event carries no DataCaptureConfig.DestinationS3Uri and \
                             TRANSFORM_CAPTURE_S3_URI (the stack's TransformCaptureS3Uri) is not set"
                        .into(),
                    retryable: false,
                }],
                _ => {
                    response.ignored.push(format!("transform job {name}: {status}"));
                    Vec::new()
                }
            },
            Invocation::Distributed {
                run_id,
                endpoint,
                variant,
                step,
            } => {
                let ev = EndpointVariant { endpoint, variant };
                if self.config.endpoints.contains(&ev) {
                    let runs = for_each_target(std::iter::once(ev), |ev| {
                        let (run_id, step) = (run_id.clone(), step.clone());
                        async move { Ok(spawn_blocking(self.distributed_job(ev, run_id, step, now))) }
                    })
                    .await;
                    response.distributed = runs.done.into_iter().next().map(|(_, outcome)| outcome);
                    runs.failed
                } else {
                    vec![HandlerError::UnknownTarget {
                        endpoint: ev.endpoint,
                        variant: ev.variant,
                    }]
                }
            }
        };
        match failed.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(response),
        }
    }

    /// The store that reads the baseline of `ev`, and its folder's name.
    fn baseline_store(&self, ev: &EndpointVariant) -> (String, S3StateStore) {
        let folder = self.config.baseline_of(ev);
        let store = S3StateStore::new(self.clients.s3.clone(), Handle::current(), folder.clone());
        (folder.to_string(), store)
    }

    /// The job that reads the baseline of `ev` with the core's loader ([`baseline_files::load`]):
    /// `statistics.json` and `constraints.json`, and when present `model-quality/constraints.json` and
    /// `model-quality/cbpe_calibration.json`.
    fn baseline_job(
        &self,
        ev: EndpointVariant,
    ) -> impl FnOnce() -> Result<BaselineFiles, HandlerError> + Send + 'static {
        let (folder, store) = self.baseline_store(&ev);
        move || baseline_files::load(&folder, &store).map_err(|e| HandlerError::baseline(&ev, e))
    }

    /// The job that reads the baseline of `ev` and evaluates its windows due (or every hour of `backfill`),
    /// each committed once.
    fn windows_job(
        &self,
        ev: EndpointVariant,
        backfill: Option<Window>,
        now: DateTime<Utc>,
        run_id: &str,
    ) -> impl FnOnce() -> Result<Vec<WindowOutcome>, HandlerError> + Send + 'static {
        let (folder, store) = self.baseline_store(&ev);
        let adapters = Adapters::new(self, &ev);
        let config = self.config.clone();
        let run_id = run_id.to_owned();
        let runs = self.runs();
        move || {
            let files = baseline_files::load(&folder, &store).map_err(|e| HandlerError::baseline(&ev, e))?;
            run_windows(&adapters, &config, &ev, &files, backfill, now, &run_id, runs.as_ref())
        }
    }

    /// The job that evaluates a completed Batch Transform job's capture as one window against `ev`'s baseline (the
    /// stack's model, served in batch): the core's [`transform::evaluate_job`], the reports below
    /// `{endpoint}/{variant}/transform/{job}/`, the metrics published with the job's dimension.
    fn transform_job(
        &self,
        ev: EndpointVariant,
        job: String,
        destination: String,
        now: DateTime<Utc>,
    ) -> impl FnOnce() -> Result<TransformOutcome, HandlerError> + Send + 'static {
        let (folder, store) = self.baseline_store(&ev);
        let handle = Handle::current();
        let objects = S3Objects::new(self.clients.s3.clone(), handle.clone());
        let folder_of_job = transform::report_folder(&ev.endpoint, &ev.variant, &job);
        let reports_at = self.config.reports.join(&folder_of_job);
        let reports = S3ReportStore::new(self.clients.s3.clone(), handle.clone(), reports_at.clone());
        let metrics = CloudWatchSink::new(
            self.clients.cloudwatch.clone(),
            handle.clone(),
            self.config.namespace.clone(),
        );
        let state = S3StateStore::new(self.clients.s3.clone(), handle, self.config.state.clone());
        let config = self.config.clone();
        move || {
            let files = baseline_files::load(&folder, &store).map_err(|e| HandlerError::baseline(&ev, e))?;
            let fail = |reason: String, retryable: bool| HandlerError::Transform {
                job: job.clone(),
                reason,
                retryable,
            };
            config
                .evaluation
                .validate(&files.baseline)
                .map_err(|e| fail(e.to_string(), false))?;
            let capture = TransformCapture::discover(&objects, &destination, None).map_err(|e| {
                let retryable = matches!(&e, TransformError::Port(p) if p.retryable());
                fail(error_chain(&e), retryable)
            })?;
            let target = config.target(&ev);
            let scope = MetricScope {
                endpoint: target.endpoint.clone(),
                schedule: target.schedule.clone(),
                timestamp: now,
            };
            let (evaluation, lines) = transform::evaluate_job(
                &capture,
                &job,
                &files.baseline,
                &config.evaluation,
                files.calibration.as_ref(),
                &scope,
            )
            .map_err(|e| fail(error_chain(&e), e.retryable()))?;
            modelwatch_core::report::write_reports(&reports, &evaluation, None)
                .map_err(|e| fail(error_chain(&e), e.retryable()))?;
            let marker = transform::marker_key(&ev.endpoint, &ev.variant, &job);
            let published = transform::publish_once(&state, &marker, &metrics, evaluation.metrics.clone(), now)
                .map_err(|e| fail(error_chain(&e), e.retryable()))?;
            let outcome = TransformOutcome {
                job: job.clone(),
                reports: reports_at.to_string(),
                summary: evaluation.summary.clone(),
                lines,
                published,
            };
            tracing::info!(
                endpoint = %ev.endpoint,
                variant = %ev.variant,
                job = %outcome.job,
                reports = %outcome.reports,
                summary = ?outcome.summary,
                lines = ?outcome.lines,
                published = outcome.published.published,
                already = outcome.published.already,
                "Transform job evaluated."
            );
            Ok(outcome)
        }
    }

    /// The job that starts the distributed evaluation's run of `window` for `ev` (a backfill request).
    fn backfill_run_job(
        &self,
        ev: EndpointVariant,
        window: Window,
    ) -> impl FnOnce() -> Result<StartedRun, HandlerError> + Send + 'static {
        let runs = self.runs();
        let target = self.config.target(&ev);
        move || {
            let runs = runs.expect("a backfill is distributed only with a state machine");
            let run = distributed::run_name(&target, &window, 0);
            let started = runs
                .start(&run, &RunInput::new(&target, &window))
                .map_err(|e| HandlerError::windows(&ev, MonitorError::Port(e)))?;
            tracing::info!(endpoint = %ev.endpoint, variant = %ev.variant, run = %run, ?started, "Backfill run.");
            Ok(StartedRun {
                endpoint: ev.endpoint,
                variant: ev.variant,
                run,
                started: started == Started::Running,
            })
        }
    }

    /// The distributed evaluation's runs, when the function has a state machine.
    fn runs(&self) -> Option<StepFunctionsRuns> {
        self.config
            .distributed
            .clone()
            .map(|arn| StepFunctionsRuns::new(self.clients.sfn.clone(), Handle::current(), arn))
    }

    /// The job that runs one step of a distributed run of `ev` ([`distributed`]): plan the batches, read one into
    /// its partial, or reduce the windows in order and commit them.
    fn distributed_job(
        &self,
        ev: EndpointVariant,
        run_id: String,
        step: DistributedStep,
        now: DateTime<Utc>,
    ) -> impl FnOnce() -> Result<DistributedOutcome, HandlerError> + Send + 'static {
        let (folder, store) = self.baseline_store(&ev);
        let adapters = Adapters::new(self, &ev);
        let config = self.config.clone();
        move || {
            let started = std::time::Instant::now();
            let files = baseline_files::load(&folder, &store).map_err(|e| HandlerError::baseline(&ev, e))?;
            let evaluation = evaluation_of(&config, &files).map_err(|reason| HandlerError::Settings {
                endpoint: ev.endpoint.clone(),
                variant: ev.variant.clone(),
                reason,
            })?;
            let target = config.target(&ev);
            let ports = adapters.ports(&files);
            let fail = |source: MonitorError| HandlerError::Distributed {
                endpoint: ev.endpoint.clone(),
                variant: ev.variant.clone(),
                run_id: run_id.clone(),
                source: Box::new(source),
            };
            let outcome = match step {
                DistributedStep::Plan {
                    window,
                    max_batch_bytes,
                } => {
                    let max = max_batch_bytes.unwrap_or(distributed::DEFAULT_BATCH_BYTES);
                    let plan = distributed::plan_run(&ports, &target, &run_id, &window.hourly(), max).map_err(fail)?;
                    DistributedOutcome::Plan {
                        items: plan.items(),
                        windows: plan.windows.len(),
                        bytes: plan.bytes(),
                        next: 0,
                    }
                }
                DistributedStep::Read(item) => {
                    let plan = distributed::stored_plan(&ports, &target, &run_id).map_err(fail)?;
                    let partial =
                        distributed::read_planned_batch(&ports, &target, &plan, item, &files.baseline, &evaluation)
                            .map_err(fail)?;
                    DistributedOutcome::Read { partial }
                }
                DistributedStep::Reduce { next } => {
                    let plan = distributed::stored_plan(&ports, &target, &run_id).map_err(fail)?;
                    let reduced = distributed::reduce_windows(
                        &ports,
                        &target,
                        &plan,
                        next,
                        &files.baseline,
                        &evaluation,
                        now,
                        config.lease,
                        &mut || started.elapsed() < REDUCE_BUDGET,
                    )
                    .map_err(fail)?;
                    DistributedOutcome::Reduce(reduced)
                }
            };
            // A plan's items (up to 5,000) are the map's input, not a log line: the event counts them.
            let logged = match &outcome {
                DistributedOutcome::Plan {
                    items, windows, bytes, ..
                } => format!("Plan {{ items: {}, windows: {windows}, bytes: {bytes} }}", items.len()),
                other => format!("{other:?}"),
            };
            tracing::info!(
                endpoint = %ev.endpoint,
                variant = %ev.variant,
                run_id = %run_id,
                outcome = %logged,
                "Distributed step done."
            );
            Ok(outcome)
        }
    }

    /// The job that folds one capture object into its hour.
    fn fold_job(
        &self,
        target: CaptureTarget,
        files: Arc<BaselineFiles>,
        now: DateTime<Utc>,
    ) -> impl FnOnce() -> Result<FoldOutcome, HandlerError> + Send + 'static {
        let adapters = Adapters::new(self, &target.ev);
        let config = self.config.clone();
        move || {
            let object = CaptureObject {
                name: target.uri.clone(),
                size: None,
                hour: hour_of_key(&target.key),
            };
            let ports = adapters.ports(&files);
            let ev = &target.ev;
            config
                .evaluation
                .validate(&files.baseline)
                .map_err(|e| HandlerError::Settings {
                    endpoint: ev.endpoint.clone(),
                    variant: ev.variant.clone(),
                    reason: e.to_string(),
                })?;
            let outcome = monitor::fold_object(
                &ports,
                &config.target(ev),
                &object,
                &files.baseline,
                &config.evaluation,
                now,
            )
            .map_err(|source| HandlerError::Fold {
                endpoint: ev.endpoint.clone(),
                variant: ev.variant.clone(),
                object: target.uri.clone(),
                source: Box::new(source),
            })?;
            tracing::info!(
                endpoint = %ev.endpoint,
                variant = %ev.variant,
                object = %outcome.object,
                folded = outcome.folded,
                hour_rows = outcome.hour_rows,
                drifted = outcome.drifted_features,
                "Capture object folded into its hour."
            );
            Ok(outcome)
        }
    }
}

/// Evaluates the windows due for `ev` (or every hour of `backfill`), each committed once; one event per window.
/// With `runs`, a window of more captures than one invocation reads ([`Config::distribute_above_bytes`]) is handed
/// to the distributed evaluation ([`distributed::route`]).
#[allow(clippy::too_many_arguments)]
fn run_windows(
    adapters: &Adapters,
    config: &Config,
    ev: &EndpointVariant,
    files: &BaselineFiles,
    backfill: Option<Window>,
    now: DateTime<Utc>,
    run_id: &str,
    runs: Option<&StepFunctionsRuns>,
) -> Result<Vec<WindowOutcome>, HandlerError> {
    let target = config.target(ev);
    let evaluation = evaluation_of(config, files).map_err(|reason| HandlerError::Settings {
        endpoint: ev.endpoint.clone(),
        variant: ev.variant.clone(),
        reason,
    })?;
    let settings = ScheduleSettings {
        settle: config.settle,
        max_windows: config.max_windows,
        lease: config.lease,
    };
    // With routing, a window is listed to size it and again to evaluate it: one listing serves both.
    let listed = modelwatch_core::ports::ListedOnce::new(&adapters.captures);
    let mut ports = adapters.ports(files);
    ports.sources.captures = &listed;
    let outcomes = monitor::run_windows_with(
        &ports,
        &target,
        &files.baseline,
        &evaluation,
        &settings,
        backfill,
        run_id,
        now,
        &mut |window, attempt| match runs {
            Some(runs) => distributed::route(&ports, &target, window, attempt, runs, config.distribute_above_bytes),
            None => Ok(None),
        },
    )
    .map_err(|e| HandlerError::windows(ev, e))?;
    for outcome in &outcomes {
        match &outcome.error {
            None => tracing::info!(
                endpoint = %target.endpoint,
                variant = %target.variant,
                window_start = %outcome.window.start,
                decision = %outcome.decision,
                published = outcome.published,
                withheld = ?outcome.withheld,
                summary = ?outcome.summary,
                "Window evaluated."
            ),
            Some(error) => tracing::error!(
                endpoint = %target.endpoint,
                variant = %target.variant,
                window_start = %outcome.window.start,
                error = %error,
                "Window failed; recorded for the next runs to retry."
            ),
        }
    }
    // The later windows ran and the failures are recorded for the next runs; the invocation still fails, so that
    // the function's Errors metric shows it.
    let failed: Vec<&WindowOutcome> = outcomes.iter().filter(|o| o.error.is_some()).collect();
    if let Some(first) = failed.first() {
        return Err(HandlerError::WindowsFailed {
            endpoint: ev.endpoint.clone(),
            variant: ev.variant.clone(),
            failed: failed.len(),
            evaluated: outcomes.len() - failed.len(),
            first: first.window.start,
            error: first.error.clone().unwrap_or_default(),
        });
    }
    Ok(outcomes)
}

/// The evaluation settings of one endpoint variant: with ground truth configured, model quality as
/// `EVALUATION_CONFIG` says or, when it says nothing, as the baseline's model-quality files do (the core's
/// [`BaselineFiles::resolve_quality`], which the CLI calls too), checked against the baseline
/// ([`EvaluationConfig::validate`]). A problem type that differs from the baseline's, or none at all, and a
/// `drift.features` key that names no feature of the baseline are errors naming the setting.
fn evaluation_of(config: &Config, files: &BaselineFiles) -> Result<EvaluationConfig, String> {
    let mut evaluation = config.evaluation.clone();
    if config.ground_truth.is_some() {
        let quality = files
            .resolve_quality(evaluation.quality.take(), None, None)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                "GROUND_TRUTH_S3_URI is set, but neither EVALUATION_CONFIG's quality section nor the baseline's \
                 model-quality/constraints.json names the problem type"
                    .to_owned()
            })?;
        evaluation.quality = Some(quality);
    }
    // What needs the baseline: `drift.features` naming its features, with methods that suit their types.
    evaluation.validate(&files.baseline).map_err(|e| e.to_string())?;
    Ok(evaluation)
}

/// The adapters of one endpoint variant, blocking on the current runtime.
struct Adapters {
    captures: S3CaptureSource,
    ground_truth: Option<S3CaptureSource>,
    reports: S3ReportStore,
    metrics: CloudWatchSink,
    state: S3StateStore,
}

impl Adapters {
    fn new(app: &App, ev: &EndpointVariant) -> Self {
        let handle = Handle::current();
        let s3 = || app.clients.s3.clone();
        let source = |location: S3Location| S3CaptureSource::new(s3(), handle.clone(), location);
        Self {
            captures: source(app.config.capture_of(ev)),
            ground_truth: app.config.ground_truth_of(ev).map(source),
            reports: S3ReportStore::new(s3(), handle.clone(), app.config.reports.clone()),
            metrics: CloudWatchSink::new(
                app.clients.cloudwatch.clone(),
                handle.clone(),
                app.config.namespace.clone(),
            ),
            state: S3StateStore::new(s3(), handle.clone(), app.config.state.clone()),
        }
    }

    fn ports<'a>(&'a self, files: &'a BaselineFiles) -> RunPorts<'a> {
        RunPorts {
            sources: Sources {
                captures: &self.captures,
                // Read only when the evaluation's settings have model quality (`evaluation_of`).
                ground_truth: self
                    .ground_truth
                    .as_ref()
                    .map(|g| g as &dyn modelwatch_core::ports::CaptureSource),
                quality_constraints: files.quality_constraints.as_ref(),
                estimate: files.calibration.as_ref(),
                partials: None,
            },
            reports: &self.reports,
            metrics: &self.metrics,
            state: &self.state,
        }
    }
}

#[cfg(test)]
mod tests {
    use modelwatch_aws::lambda::{BAD_INPUT, RETRYABLE, diagnostic};
    use modelwatch_core::ports::{PortError, PortErrorKind};
    use modelwatch_core::state::StateError;

    use super::*;

    fn ev() -> EndpointVariant {
        EndpointVariant {
            endpoint: "churn-prod".into(),
            variant: "AllTraffic".into(),
        }
    }

    #[test]
    fn an_unrecognised_event_or_a_missing_baseline_is_bad_input() {
        let event = HandlerError::from(classify(serde_json::json!({"hello": "world"})).unwrap_err());
        let d = diagnostic(&event);
        assert_eq!(d.error_type, BAD_INPUT);
        assert!(
            d.error_message.starts_with("unrecognised event: "),
            "{}",
            d.error_message
        );
        let missing = HandlerError::baseline(
            &ev(),
            BaselineError::Missing {
                path: "s3://b/baselines/churn-prod/AllTraffic/statistics.json".into(),
            },
        );
        let d = diagnostic(&missing);
        assert_eq!(d.error_type, BAD_INPUT);
        assert_eq!(
            d.error_message,
            "churn-prod/AllTraffic: reading the baseline: \
             baseline file s3://b/baselines/churn-prod/AllTraffic/statistics.json does not exist"
        );
    }

    #[test]
    fn a_failed_state_read_is_retryable_with_its_cause_chain() {
        let read = StateError::Read {
            key: "churn-prod/AllTraffic/last_window.json".into(),
            source: PortError::new(
                "reading",
                "s3://b/state/churn-prod/AllTraffic/last_window.json",
                PortErrorKind::Other,
                "SlowDown: Please reduce your request rate.",
            ),
        };
        let d = diagnostic(&HandlerError::windows(&ev(), MonitorError::State(read)));
        assert_eq!(d.error_type, RETRYABLE);
        assert_eq!(
            d.error_message,
            "churn-prod/AllTraffic: evaluating the windows: reading state object churn-prod/AllTraffic/last_window.json: \
             reading s3://b/state/churn-prod/AllTraffic/last_window.json: SlowDown: Please reduce your request rate."
        );
    }

    #[test]
    fn model_quality_comes_from_the_baseline_when_the_settings_name_none() {
        use modelwatch_core::baseline::Baseline;
        use modelwatch_core::evaluate::QualityConfig;
        use modelwatch_core::profile::DatasetProfile;
        use modelwatch_core::quality::{ModelQualityConstraints, ProblemType};

        let vars = |extra: &[(&str, &str)]| -> HashMap<String, String> {
            [
                ("ENDPOINTS", "churn"),
                ("CAPTURE_S3_URI", "s3://b/capture"),
                ("BASELINE_S3_URI", "s3://b/baselines/{endpoint}"),
                ("REPORT_S3_URI", "s3://b/reports"),
                ("STATE_S3_URI", "s3://b/state"),
            ]
            .iter()
            .chain(extra)
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
        };
        let labelled = Config::from_vars(&vars(&[("GROUND_TRUTH_S3_URI", "s3://b/labels/{endpoint}")])).unwrap();
        let mut files = BaselineFiles {
            baseline: Baseline::from_profile(&DatasetProfile::new(Vec::<(String, _)>::new())),
            quality_constraints: None,
            calibration: None,
        };
        let err = evaluation_of(&labelled, &files).unwrap_err();
        assert!(err.starts_with("GROUND_TRUTH_S3_URI is set, but neither"), "{err}");

        files.quality_constraints = Some(ModelQualityConstraints {
            regression_constraints: Some(Default::default()),
            ..Default::default()
        });
        let evaluation = evaluation_of(&labelled, &files).unwrap();
        assert_eq!(evaluation.quality, Some(QualityConfig::new(ProblemType::Regression)));
        let binary = Config::from_vars(&vars(&[
            ("GROUND_TRUTH_S3_URI", "s3://b/labels/{endpoint}"),
            (
                "EVALUATION_CONFIG",
                r#"{"quality": {"problem_type": "BinaryClassification"}}"#,
            ),
        ]))
        .unwrap();
        let err = evaluation_of(&binary, &files).unwrap_err();
        assert!(err.contains("are for Regression"), "{err}");
        // Without ground truth the settings stay as they are.
        let unlabelled = Config::from_vars(&vars(&[])).unwrap();
        assert_eq!(evaluation_of(&unlabelled, &files).unwrap().quality, None);
    }
}
