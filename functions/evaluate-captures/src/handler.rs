//! One invocation: the event classified, the baseline read, the core's runs called on a blocking thread with the
//! S3 and CloudWatch adapters, and a summary returned (and logged, one structured event per window or object).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use modelwatch_aws::cloudwatch::CloudWatchSink;
use modelwatch_aws::s3::{S3CaptureSource, S3Location, S3ReportStore, S3StateStore};
pub use modelwatch_core::baseline_files::BaselineFiles;
use modelwatch_core::baseline_files::{self};
use modelwatch_core::evaluate::Sources;
use modelwatch_core::monitor::{self, FoldOutcome, MonitorError, RunPorts, WindowOutcome, windows_due};
use modelwatch_core::ports::CaptureObject;
use modelwatch_core::ports::error_chain as chain;
use modelwatch_core::window::{Window, hour_of_key};
use serde::Serialize;
use tokio::runtime::Handle;

use crate::config::{Config, EndpointVariant};
use crate::event::{Invocation, classify};

/// The SDK clients, built once per process.
#[derive(Clone, Debug)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
}

impl Clients {
    /// Clients from the environment's SDK configuration.
    pub async fn from_env() -> Self {
        let sdk = modelwatch_aws::config::load().await;
        Self {
            s3: modelwatch_aws::config::s3_client(&sdk),
            cloudwatch: modelwatch_aws::config::cloudwatch_client(&sdk),
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
    /// Objects in the event that belong to no configured endpoint.
    pub ignored: Vec<String>,
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
    #[error("{endpoint}/{variant}: {message}")]
    Target {
        endpoint: String,
        variant: String,
        message: String,
    },
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
    /// A [`HandlerError`] for an unrecognised event or the first endpoint variant that failed (the others are
    /// still run).
    pub async fn handle(
        &self,
        event: serde_json::Value,
        now: DateTime<Utc>,
        run_id: &str,
    ) -> Result<Response, HandlerError> {
        let invocation = classify(event)?;
        let mut response = Response::default();
        let mut first_error = None;
        match invocation {
            Invocation::Schedule { .. } | Invocation::Backfill(_) => {
                let backfill = match &invocation {
                    Invocation::Backfill(w) => Some(*w),
                    _ => None,
                };
                for ev in &self.config.endpoints {
                    match self.run_windows(ev, backfill, now, run_id).await {
                        Ok(outcomes) => response
                            .windows
                            .extend(outcomes.into_iter().map(|outcome| TargetWindow {
                                endpoint: ev.endpoint.clone(),
                                variant: ev.variant.clone(),
                                outcome,
                            })),
                        Err(message) => {
                            tracing::error!(endpoint = %ev.endpoint, variant = %ev.variant, error = %message, "run failed");
                            first_error.get_or_insert(HandlerError::Target {
                                endpoint: ev.endpoint.clone(),
                                variant: ev.variant.clone(),
                                message,
                            });
                        }
                    }
                }
            }
            Invocation::Objects(objects) => {
                // One event may carry many objects of the same variant: its baseline is read once.
                let mut baselines: HashMap<EndpointVariant, Arc<BaselineFiles>> = HashMap::new();
                for (bucket, key) in objects {
                    let Some(ev) = self.config.owner_of(&bucket, &key) else {
                        response.ignored.push(format!("s3://{bucket}/{key}"));
                        continue;
                    };
                    let files = match baselines.get(ev) {
                        Some(f) => Ok(f.clone()),
                        None => self.read_baseline(ev).await.map(Arc::new),
                    };
                    let folded = match files {
                        Ok(files) => {
                            baselines.insert(ev.clone(), files.clone());
                            self.fold(ev, files, &bucket, &key, now).await
                        }
                        Err(message) => Err(message),
                    };
                    match folded {
                        Ok(outcome) => {
                            tracing::info!(object = %outcome.object, folded = outcome.folded, hour_rows = outcome.hour_rows,
                                drifted = outcome.drifted_features, "capture object folded into its hour");
                            response.folded.push(outcome);
                        }
                        Err(message) => {
                            tracing::error!(object = %key, error = %message, "fold failed");
                            first_error.get_or_insert(HandlerError::Target {
                                endpoint: ev.endpoint.clone(),
                                variant: ev.variant.clone(),
                                message,
                            });
                        }
                    }
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(response),
        }
    }

    /// Reads the baseline of `ev` with the core's loader ([`baseline_files::load`]): `statistics.json` and
    /// `constraints.json`, and when present `model-quality/constraints.json` and
    /// `model-quality/cbpe_calibration.json`.
    ///
    /// # Errors
    ///
    /// A message naming the file that is missing or invalid.
    pub async fn read_baseline(&self, ev: &EndpointVariant) -> Result<BaselineFiles, String> {
        let folder = self.config.baseline_of(ev);
        let store = S3StateStore::new(self.clients.s3.clone(), Handle::current(), folder.clone());
        tokio::task::spawn_blocking(move || baseline_files::load(&folder.to_string(), &store))
            .await
            .map_err(|e| format!("reading the baseline panicked: {e}"))?
            .map_err(|e| chain(&e))
    }

    /// Evaluates the windows due for `ev` (or every hour of `backfill`), each committed once.
    async fn run_windows(
        &self,
        ev: &EndpointVariant,
        backfill: Option<Window>,
        now: DateTime<Utc>,
        run_id: &str,
    ) -> Result<Vec<WindowOutcome>, String> {
        let files = self.read_baseline(ev).await?;
        let adapters = Adapters::new(self, ev);
        let config = self.config.clone();
        let ev = ev.clone();
        let run_id = run_id.to_owned();
        tokio::task::spawn_blocking(move || -> Result<Vec<WindowOutcome>, MonitorError> {
            let target = config.target(&ev);
            let windows = match backfill {
                Some(w) => w.hourly(),
                None => {
                    let last = monitor::last_window_end(&adapters.state, &target)?;
                    windows_due(now, last, config.settle, config.max_windows)
                }
            };
            let ports = adapters.ports(&files);
            let mut outcomes = Vec::new();
            for window in windows {
                let outcome = monitor::commit_window_once(
                    &ports,
                    &target,
                    &window,
                    &files.baseline,
                    &config.evaluation,
                    &run_id,
                    now,
                    config.lease,
                )?;
                tracing::info!(
                    endpoint = %target.endpoint, variant = %target.variant, window_start = %outcome.window.start,
                    decision = %outcome.decision, published = outcome.published,
                    summary = ?outcome.summary, "window"
                );
                outcomes.push(outcome);
            }
            Ok(outcomes)
        })
        .await
        .map_err(|e| format!("the run panicked: {e}"))?
        .map_err(|e| chain(&e))
    }

    /// Folds one capture object into its hour.
    async fn fold(
        &self,
        ev: &EndpointVariant,
        files: Arc<BaselineFiles>,
        bucket: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<FoldOutcome, String> {
        let adapters = Adapters::new(self, ev);
        let config = self.config.clone();
        let ev = ev.clone();
        let object = CaptureObject {
            name: format!("s3://{bucket}/{key}"),
            size: None,
            hour: hour_of_key(key),
        };
        tokio::task::spawn_blocking(move || {
            let ports = adapters.ports(&files);
            monitor::fold_object(
                &ports,
                &config.target(&ev),
                &object,
                &files.baseline,
                &config.evaluation,
                now,
            )
        })
        .await
        .map_err(|e| format!("the fold panicked: {e}"))?
        .map_err(|e| chain(&e))
    }
}

/// The adapters of one endpoint variant, blocking on the current runtime.
struct Adapters {
    captures: S3CaptureSource,
    ground_truth: Option<S3CaptureSource>,
    reports: S3ReportStore,
    metrics: CloudWatchSink,
    state: S3StateStore,
    quality: bool,
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
            quality: app.config.evaluation.quality.is_some(),
        }
    }

    fn ports<'a>(&'a self, files: &'a BaselineFiles) -> RunPorts<'a> {
        RunPorts {
            sources: Sources {
                captures: &self.captures,
                ground_truth: self
                    .ground_truth
                    .as_ref()
                    .filter(|_| self.quality)
                    .map(|g| g as &dyn modelwatch_core::ports::CaptureSource),
                quality_constraints: files.quality_constraints.as_ref(),
                estimate: files.calibration.as_ref(),
            },
            reports: &self.reports,
            metrics: &self.metrics,
            state: &self.state,
        }
    }
}
