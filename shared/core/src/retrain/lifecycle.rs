//! The retraining loop, sequenced over ports: launch a training job when the policy says so, register what it
//! produced as a model version, deploy an approved version blue/green, follow the deployment to its end, and
//! roll back. Every decision is a pure function of this module or its siblings; the ports only carry them out.
//!
//! Each step is safe to repeat: the state objects are written with compare-and-set before the call they
//! protect (`CreateTrainingJob`, `UpdateEndpoint`), so two handlers woken by the same alarm, or one event
//! delivered three times, act once. `CreateModelPackage` carries an idempotency token derived from the job.
//!
//! State keys (in the state store shared with the evaluator; SageMaker names cannot hold `_`, so these never
//! collide with an endpoint's folder):
//! - `_retrain/{model}/history.json`: the model's [`RetrainHistory`].
//! - `_versions/{endpoint}.json`: the endpoint's [`VersionHistory`].

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::decide::{RetrainDecision, decide_retraining};
use super::history::{JobStatus, RetrainHistory};
use super::naming::{Lineage, Tag, client_token, lineage_tags, resource_name, training_job_name};
use super::settings::RetrainSettings;
use super::signals::{Signals, WindowSignals};
use super::versions::{ChangeCause, Deployment, DeploymentRecord, DeploymentStatus, Outcome, VersionHistory};
use crate::drift::DriftReport;
use crate::monitor::{MarkerStatus, Target, WindowMarker};
use crate::ports::{PortError, PortErrorKind, StateStore, StateVersion, error_chain};
use crate::quality::report::{ModelQualityConstraints, ModelQualityStatistics};
use crate::report::{DRIFT_FILE, QUALITY_DIR};
use crate::scaling::controller::{Deployment as DeploymentConfig, NewConfig, VariantOverride};
use crate::state::{StateError, Step};
use crate::violations::{VIOLATIONS_FILE, Violations};
use crate::window::Window;

/// A launch recorded but unknown to SageMaker is judged never created only after this long: longer than a Lambda
/// invocation (15 minutes), so a handler between its record and its `CreateTrainingJob` is not overtaken.
pub const LAUNCH_GRACE_MINUTES: i64 = 20;
/// Windows read back at most (a week of hours), whatever the policy asks.
pub const MAX_LOOKBACK_WINDOWS: u32 = 168;
/// A deployment recorded but not seen on the endpoint is judged failed only after this long: longer than a
/// Lambda invocation (15 minutes), so a handler between its record and its `UpdateEndpoint` is not overtaken.
pub const DEPLOY_GRACE_MINUTES: i64 = 20;
/// `ModelPackageDescription`: at most 1,024 characters (SageMaker API Reference, CreateModelPackage).
pub const MAX_PACKAGE_DESCRIPTION: usize = 1024;
/// The metadata key prefix of the model packages this module registers (`CustomerMetadataProperties` keys:
/// 1 to 128 characters, `^([\p{L}\p{Z}\p{N}_.:\/=+\-@]*)$`).
pub const METADATA_PREFIX: &str = "modelwatch:";

/// A training job as DescribeTrainingJob (and ListTags) show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingJobView {
    pub name: String,
    pub status: JobStatus,
    /// `FailureReason`.
    pub failure_reason: Option<String>,
    /// `BillableTimeInSeconds` (or `TrainingTimeInSeconds`) times the instance count, in hours.
    pub hours: Option<f64>,
    /// `ModelArtifacts.S3ModelArtifacts`.
    pub model_artifacts: Option<String>,
    /// `FinalMetricDataList`.
    pub final_metrics: BTreeMap<String, f64>,
    /// The job's tags.
    pub tags: Vec<Tag>,
}

/// A `CreateTrainingJob` request: the template job cloned with these changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRequest {
    pub job_name: String,
    /// The job whose description is cloned.
    pub template_job: String,
    /// The channel whose `S3Uri` is replaced, and the new URI.
    pub channel: String,
    pub data_s3_uri: String,
    /// `RoleArn`: always the configured training role (the only role the function may pass).
    pub role_arn: String,
    /// `OutputDataConfig.S3OutputPath`, when not the template's.
    pub output_s3_uri: Option<String>,
    /// Every tag of the job (lineage and the template's, already merged).
    pub tags: Vec<Tag>,
    /// One more channel, a copy of `channel` reading a manifest file (the labelled captures).
    pub manifest_channel: Option<ManifestChannel>,
    /// Channels of the template left out: the labelled-captures channel of an earlier retraining job, when that
    /// job is the template (its manifest lists another week's files).
    pub drop_channels: Vec<String>,
}

/// A channel reading a manifest file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestChannel {
    pub name: String,
    /// The manifest's `s3://` URI.
    pub manifest_uri: String,
}

/// The approval status of a model package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Approval {
    Approved,
    Rejected,
    PendingManualApproval,
}

impl Approval {
    /// SageMaker's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Approval::Approved => "Approved",
            Approval::Rejected => "Rejected",
            Approval::PendingManualApproval => "PendingManualApproval",
        }
    }

    /// From SageMaker's name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "Approved" => Some(Approval::Approved),
            "Rejected" => Some(Approval::Rejected),
            "PendingManualApproval" => Some(Approval::PendingManualApproval),
            _ => None,
        }
    }
}

/// A model package (a version in a Model Package Group).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageView {
    pub arn: String,
    pub group: String,
    pub version: u32,
    pub approval: Approval,
    /// The inference container's image and model data.
    pub image: Option<String>,
    pub model_data_url: Option<String>,
    /// `CustomerMetadataProperties`.
    pub metadata: BTreeMap<String, String>,
}

/// A `CreateModelPackage` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterRequest {
    pub group: String,
    /// `ClientToken`: the same job registers once.
    pub client_token: String,
    pub image: String,
    pub model_data_url: String,
    pub approval: Approval,
    pub description: String,
    pub metadata: BTreeMap<String, String>,
    pub content_types: Vec<String>,
    pub response_types: Vec<String>,
}

/// The endpoint as DescribeEndpoint shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointState {
    /// `EndpointStatus`.
    pub status: String,
    pub config: String,
    pub failure_reason: Option<String>,
    /// Each variant's desired instance count (as the scaler last set it).
    pub desired_counts: BTreeMap<String, u32>,
}

/// The model a variant of a configuration serves (DescribeEndpointConfig, then DescribeModel).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServingModel {
    pub name: String,
    /// Its primary container's image: a retrained version is served by the same image.
    pub image: Option<String>,
}

/// A `CreateModel` request: `source`'s primary container (environment and all) with another image and model data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewModel {
    pub name: String,
    pub source: String,
    pub image: String,
    pub model_data_url: String,
    /// `ExecutionRoleArn`: the configured model role.
    pub role_arn: String,
    pub tags: Vec<Tag>,
}

/// Training jobs.
pub trait TrainingPort {
    /// The job, or `None` when there is none of that name.
    fn describe_job(&self, name: &str) -> Result<Option<TrainingJobView>, PortError>;
    /// `CreateTrainingJob`: the template described and cloned with the request's changes.
    fn create_job(&self, request: &TrainingRequest) -> Result<(), PortError>;
}

/// The model registry.
pub trait RegistryPort {
    /// `CreateModelPackage` in the request's group; returns the package's ARN.
    fn register(&self, request: &RegisterRequest) -> Result<String, PortError>;
    /// `DescribeModelPackage`.
    fn describe_package(&self, arn: &str) -> Result<PackageView, PortError>;
    /// The newest `Approved` package of a group, if any.
    fn latest_approved(&self, group: &str) -> Result<Option<PackageView>, PortError>;
}

/// Endpoints, models and their configurations.
pub trait DeployPort {
    fn describe_endpoint(&self, endpoint: &str) -> Result<EndpointState, PortError>;
    /// The model `variant` of `config` serves.
    fn serving_model(&self, config: &str, variant: &str) -> Result<ServingModel, PortError>;
    fn create_model(&self, model: &NewModel) -> Result<(), PortError>;
    /// `CreateEndpointConfig`: `config.source` copied with the overrides.
    fn create_config(&self, config: &NewConfig) -> Result<(), PortError>;
    /// `UpdateEndpoint` with a blue/green `DeploymentConfig`.
    fn update_endpoint(&self, endpoint: &str, config: &str, deployment: &DeploymentConfig) -> Result<(), PortError>;
}

/// Labelled data below one S3 location.
pub trait LabelledDataPort {
    /// The keys (relative to the location) of every object below `folder` (relative, ending in `/`).
    fn list(&self, folder: &str) -> Result<Vec<String>, PortError>;
    /// Writes `body` at `key` (relative); returns its `s3://` URI.
    fn put(&self, key: &str, body: &[u8]) -> Result<String, PortError>;
}

/// The ports of the loop. `reports` and `baseline` are only read (any [`StateStore`] over those locations).
pub struct RetrainPorts<'a> {
    pub state: &'a dyn StateStore,
    pub reports: &'a dyn StateStore,
    pub baseline: &'a dyn StateStore,
    /// The baseline folder's name in errors (its `s3://` URI).
    pub baseline_name: &'a str,
    pub training: &'a dyn TrainingPort,
    pub registry: &'a dyn RegistryPort,
    pub endpoints: &'a dyn DeployPort,
    /// The retraining file's `training.captured` location, when it has one.
    pub labelled: Option<&'a dyn LabelledDataPort>,
}

/// What the function is allowed and told, besides the endpoint's retraining file.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// The only role training jobs run as.
    pub training_role: String,
    /// The only role new models run as.
    pub model_role: String,
    /// Alarms that roll every deployment back (quality, errors).
    pub rollback_alarms: Vec<String>,
    /// The baseline the windows are judged against (for the lineage).
    pub baseline_uri: Option<String>,
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Port(#[from] PortError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Baseline(#[from] crate::baseline::BaselineError),
    #[error(transparent)]
    Rollback(#[from] super::versions::RollbackError),
    #[error("{0}")]
    Refused(String),
}

/// The key of a model's retraining history.
pub fn history_key(model: &str) -> String {
    format!("_retrain/{model}/history.json")
}

/// The key of an endpoint's version history.
pub fn versions_key(endpoint: &str) -> String {
    format!("_versions/{endpoint}.json")
}

fn read<T: DeserializeOwned>(store: &dyn StateStore, key: &str) -> Result<Option<(T, StateVersion)>, LifecycleError> {
    Ok(crate::state::read_json(store, key)?)
}

/// Reads `key` (or `default`), applies `change`, writes it back with [`crate::state::update`]'s compare-and-set.
/// `change` returns `Ok(None)` to write nothing, `Ok(Some(r))` to write and return `r`.
fn update<T, R>(
    store: &dyn StateStore,
    key: &str,
    default: impl Fn() -> T,
    mut change: impl FnMut(&mut T) -> Result<Option<R>, LifecycleError>,
) -> Result<Option<R>, LifecycleError>
where
    T: Serialize + DeserializeOwned,
{
    let updated = crate::state::update(store, key, default, |value| {
        Ok::<_, LifecycleError>(match change(value)? {
            Some(r) => Step::Write(Some(r)),
            None => Step::Keep(None),
        })
    })?;
    Ok(updated.result)
}

// ----------------------------------------------------------------------------------------------------------
// Signals

/// How many hourly windows the decision needs to see: the longest run any active check asks for, plus the
/// windows the newest may lag by (`max_signal_age_hours`), at most [`MAX_LOOKBACK_WINDOWS`].
pub fn lookback_windows(settings: &RetrainSettings) -> u32 {
    let p = &settings.policy;
    let c = &p.checks;
    let longest = [
        c.quality.consecutive_windows,
        c.drift_share.consecutive_windows,
        c.drifted_features.consecutive_windows,
        c.data_quality.consecutive_windows,
    ]
    .into_iter()
    .flatten()
    .chain([p.consecutive_windows])
    .max()
    .unwrap_or(p.consecutive_windows);
    (longest + p.max_signal_age_hours + 1).min(MAX_LOOKBACK_WINDOWS)
}

/// The signals of the committed hourly windows of the last [`lookback_windows`] hours before `now`: a window
/// counts once the evaluator's marker says committed; its reports give the violations, the drift and (when it
/// had ground truth) the model quality, judged against the baseline's model-quality constraints. A window with
/// unreadable reports is left out (a gap) and named in the returned list.
///
/// # Errors
///
/// A [`LifecycleError`] when the state or a report cannot be read at all.
pub fn read_signals(
    ports: &RetrainPorts<'_>,
    settings: &RetrainSettings,
    now: DateTime<Utc>,
) -> Result<(Signals, Vec<String>), LifecycleError> {
    // The schedule only names metrics; the keys read here do not depend on it.
    let target = Target {
        endpoint: settings.endpoint.clone(),
        variant: settings.variant.clone(),
        schedule: String::new(),
    };
    let constraints = crate::baseline_files::load_quality_constraints(ports.baseline_name, ports.baseline)?;
    let hour = crate::window::truncate_to_hour(now);
    let mut signals = Signals::default();
    let mut unreadable = Vec::new();
    for back in 1..=i64::from(lookback_windows(settings)) {
        let start = hour - Duration::hours(back);
        let window = Window {
            start,
            end: start + Duration::hours(1),
        };
        let Some((marker, _)) = read::<WindowMarker>(ports.state, &target.marker_key(&window))? else {
            continue;
        };
        if marker.status != MarkerStatus::Committed {
            continue;
        }
        let folder = target.report_folder(&window);
        match window_signals(ports.reports, &folder, window, constraints.as_ref()) {
            Ok(w) => signals.windows.push(w),
            Err(e) => unreadable.push(format!("{folder}: {e}")),
        }
    }
    Ok((signals, unreadable))
}

fn window_signals(
    reports: &dyn StateStore,
    folder: &str,
    window: Window,
    constraints: Option<&ModelQualityConstraints>,
) -> Result<WindowSignals, String> {
    let get = |name: &str| -> Result<Option<Vec<u8>>, String> {
        Ok(reports
            .get(&format!("{folder}/{name}"))
            .map_err(|e| error_chain(&e))?
            .map(|(b, _)| b))
    };
    let violations: Violations = match get(VIOLATIONS_FILE)? {
        Some(b) => serde_json::from_slice(&b).map_err(|e| format!("{VIOLATIONS_FILE}: {e}"))?,
        None => return Err(format!("{VIOLATIONS_FILE} is missing")),
    };
    let drift: DriftReport = match get(DRIFT_FILE)? {
        Some(b) => serde_json::from_slice(&b).map_err(|e| format!("{DRIFT_FILE}: {e}"))?,
        None => return Err(format!("{DRIFT_FILE} is missing")),
    };
    let stats_name = format!("{QUALITY_DIR}/{}", crate::baseline::STATISTICS_FILE);
    let stats: Option<ModelQualityStatistics> = match get(&stats_name)? {
        Some(b) => Some(
            ModelQualityStatistics::from_json(&String::from_utf8_lossy(&b))
                .map_err(|e| format!("{stats_name}: {e}"))?,
        ),
        None => None,
    };
    let quality = stats.as_ref().zip(constraints);
    Ok(WindowSignals::from_reports(window, &violations, &drift, quality))
}

// ----------------------------------------------------------------------------------------------------------
// Launch

/// What became of a launch decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LaunchOutcome {
    /// The decision held.
    Held,
    /// `CreateTrainingJob` was called.
    Launched {
        job_name: String,
        template_job: String,
        data_s3_uri: String,
        tags: usize,
        dropped_tags: Vec<String>,
        /// Labelled capture files in the extra channel (0: no channel, none were found or none configured).
        captured_files: usize,
    },
    /// `CreateTrainingJob` failed; the launch is recorded `Failed` so it does not block the next one.
    Failed { job_name: String, error: String },
}

/// One check of an endpoint's policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LaunchReport {
    pub endpoint: String,
    pub model: String,
    pub windows: usize,
    pub unreadable_windows: Vec<String>,
    pub decision: RetrainDecision,
    pub outcome: LaunchOutcome,
    /// What became of the job that was in progress, when the check looked at it.
    pub refreshed: Option<TrainingReport>,
    /// Why looking at it failed (the decision still ran, on the history as it was).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_error: Option<String>,
}

/// Checks the policy of `settings` at `now` and launches a training job when it says so. Safe under repeated
/// and concurrent calls: the launch is recorded with compare-and-set before `CreateTrainingJob`, and a handler
/// that loses the write decides again on the history that won (and holds on its job).
///
/// # Errors
///
/// A [`LifecycleError`] when the state cannot be read or written.
pub fn check_and_launch(
    ports: &RetrainPorts<'_>,
    settings: &RetrainSettings,
    ctx: &Context,
    now: DateTime<Utc>,
) -> Result<LaunchReport, LifecycleError> {
    let model = settings.policy.model.clone();
    let key = history_key(&model);
    // A job recorded in progress may have ended without its event reaching us: look before deciding.
    let (refreshed, refresh_error) =
        match read::<RetrainHistory>(ports.state, &key)?.and_then(|(h, _)| h.in_progress().cloned()) {
            Some(job) => match on_training_job(ports, settings, ctx, &job.job_name, now) {
                Ok(r) => (Some(r), None),
                Err(e) => (None, Some(error_chain(&e))),
            },
            None => (None, None),
        };
    let (signals, unreadable) = read_signals(ports, settings, now)?;
    let job_name = training_job_name(&model, now);
    let mut decision = None;
    let mut template = settings.training.template_job.clone();
    let recorded = update(ports.state, &key, RetrainHistory::default, |history| {
        let d = decide_retraining(&signals, &settings.policy, history, now);
        let launch = d.is_launch();
        let trigger = d.fired().iter().map(|c| c.as_str()).collect::<Vec<_>>().join(" ");
        decision = Some(d);
        if !launch {
            return Ok(None);
        }
        if !settings.training.always_clone_template
            && let Some(last) = history
                .launches
                .iter()
                .filter(|l| l.status == JobStatus::Completed)
                .max_by_key(|l| l.at)
        {
            template = last.job_name.clone();
        }
        history
            .record_launch(now, &job_name)
            .map_err(|e| LifecycleError::Refused(e.to_string()))?;
        if let Some(rec) = history.job_mut(&job_name) {
            rec.trigger = trigger;
        }
        Ok(Some(()))
    })?;
    let decision = decision.expect("the decision runs at least once");
    let report = |outcome| LaunchReport {
        endpoint: settings.endpoint.clone(),
        model: model.clone(),
        windows: signals.windows.len(),
        unreadable_windows: unreadable.clone(),
        decision: decision.clone(),
        outcome,
        refreshed: refreshed.clone(),
        refresh_error: refresh_error.clone(),
    };
    if recorded.is_none() {
        return Ok(report(LaunchOutcome::Held));
    }
    match launch_job(ports, settings, ctx, &decision, &template, &job_name, now) {
        Ok(outcome) => Ok(report(outcome)),
        Err(error) => {
            update(ports.state, &key, RetrainHistory::default, |history| {
                let Some(rec) = history.job_mut(&job_name) else {
                    return Ok(None);
                };
                rec.status = JobStatus::Failed;
                rec.hours_used = Some(0.0);
                rec.failure = Some(error.clone());
                Ok(Some(()))
            })?;
            Ok(report(LaunchOutcome::Failed { job_name, error }))
        }
    }
}

fn launch_job(
    ports: &RetrainPorts<'_>,
    settings: &RetrainSettings,
    ctx: &Context,
    decision: &RetrainDecision,
    template: &str,
    job_name: &str,
    now: DateTime<Utc>,
) -> Result<LaunchOutcome, String> {
    let template_view = ports
        .training
        .describe_job(template)
        .map_err(|e| error_chain(&e))?
        .ok_or_else(|| format!("template training job {template} does not exist"))?;
    let previous_model = read::<VersionHistory>(ports.state, &versions_key(&settings.endpoint))
        .map_err(|e| error_chain(&e))?
        .and_then(|(h, _)| h.serving().map(|d| d.model_name.clone()));
    let lineage = Lineage {
        model: &settings.policy.model,
        decided_at: now,
        reasons: decision.reasons(),
        baseline: ctx.baseline_uri.as_deref(),
        previous_model: previous_model.as_deref(),
        previous_training_job: Some(template),
    };
    let tags = lineage_tags(&lineage, &template_view.tags);
    let (manifest_channel, captured_files) = captured_channel(ports, settings, job_name, now)?;
    let request = TrainingRequest {
        job_name: job_name.to_owned(),
        template_job: template.to_owned(),
        channel: settings.training.channel.clone(),
        data_s3_uri: settings.data_uri(now.date_naive()),
        role_arn: ctx.training_role.clone(),
        output_s3_uri: settings.training.output_s3_uri.clone(),
        tags: tags.tags,
        manifest_channel,
        drop_channels: settings.training.captured.iter().map(|c| c.channel.clone()).collect(),
    };
    ports.training.create_job(&request).map_err(|e| error_chain(&e))?;
    Ok(LaunchOutcome::Launched {
        job_name: job_name.to_owned(),
        template_job: template.to_owned(),
        data_s3_uri: request.data_s3_uri,
        tags: request.tags.len(),
        dropped_tags: tags.dropped,
        captured_files,
    })
}

/// The labelled captures of the last days as a manifest channel: the daily folders listed, the manifest written.
/// No channel when none is configured or no file was found (a channel without data fails the job).
fn captured_channel(
    ports: &RetrainPorts<'_>,
    settings: &RetrainSettings,
    job_name: &str,
    now: DateTime<Utc>,
) -> Result<(Option<ManifestChannel>, usize), String> {
    let Some(captured) = &settings.training.captured else {
        return Ok((None, 0));
    };
    let labelled = ports
        .labelled
        .ok_or_else(|| "training.captured is set but no labelled-data store was given".to_owned())?;
    let mut keys = Vec::new();
    for folder in captured.day_folders(now) {
        keys.extend(labelled.list(&folder).map_err(|e| error_chain(&e))?);
    }
    keys.retain(|k| !k.ends_with('/'));
    if keys.is_empty() {
        return Ok((None, 0));
    }
    let body = super::settings::manifest(&captured.s3_uri, &keys).to_string();
    let uri = labelled
        .put(&format!("_manifests/{job_name}.json"), body.as_bytes())
        .map_err(|e| error_chain(&e))?;
    Ok((
        Some(ManifestChannel {
            name: captured.channel.clone(),
            manifest_uri: uri,
        }),
        keys.len(),
    ))
}

// ----------------------------------------------------------------------------------------------------------
// Registration

/// Whether a new version is approved automatically, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalDecision {
    pub approval: Approval,
    pub why: String,
}

/// The approval of a new version with final metrics `candidate`, against the approved version's value of the
/// same metric (`current`, from its metadata). `PendingManualApproval` unless auto-approval is configured and the
/// metric improves by more than `min_improvement` on the approved version's (or no version is approved yet).
/// A missing or non-finite candidate value never approves.
pub fn decide_approval(
    settings: &super::settings::RegistrationSettings,
    candidate: &BTreeMap<String, f64>,
    current: Option<f64>,
) -> ApprovalDecision {
    let pending = |why: String| ApprovalDecision {
        approval: Approval::PendingManualApproval,
        why,
    };
    if !settings.auto_approve {
        return pending("auto_approve is off".to_owned());
    }
    let Some(metric) = settings.metric.as_deref() else {
        return pending("no metric to compare".to_owned());
    };
    let Some(value) = candidate.get(metric).copied().filter(|v| v.is_finite()) else {
        return pending(format!("the training job reported no {metric}"));
    };
    let Some(current) = current.filter(|v| v.is_finite()) else {
        return ApprovalDecision {
            approval: Approval::Approved,
            why: format!("{metric} = {value}; no approved version to beat"),
        };
    };
    let gain = if settings.higher_is_better {
        value - current
    } else {
        current - value
    };
    if gain > settings.min_improvement {
        ApprovalDecision {
            approval: Approval::Approved,
            why: format!("{metric} = {value} beats the approved version's {current}"),
        }
    } else {
        pending(format!(
            "{metric} = {value} does not beat the approved version's {current} by more than {}",
            settings.min_improvement
        ))
    }
}

/// The metadata key of a final metric.
pub fn metric_key(metric: &str) -> String {
    format!("{METADATA_PREFIX}metric:{metric}")
}

/// What became of a training job's event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TrainingReport {
    /// Not a job this model launched.
    NotOurs { job_name: String },
    /// Still running (status recorded).
    Running { job_name: String },
    /// Ended without a model (status and hours recorded).
    Ended {
        job_name: String,
        status: JobStatus,
        failure: Option<String>,
    },
    /// Completed and registered (now or before).
    Registered {
        job_name: String,
        model_package: String,
        approval: Approval,
        why: String,
    },
}

/// Follows a training job: records its status and hours; once `Completed`, registers its model as a new version
/// of the model's group (once: the package ARN is recorded, and the call carries a token derived from the job).
///
/// # Errors
///
/// A [`LifecycleError`] when the state or SageMaker cannot be reached.
pub fn on_training_job(
    ports: &RetrainPorts<'_>,
    settings: &RetrainSettings,
    ctx: &Context,
    job_name: &str,
    now: DateTime<Utc>,
) -> Result<TrainingReport, LifecycleError> {
    let key = history_key(&settings.policy.model);
    let Some((history, _)) = read::<RetrainHistory>(ports.state, &key)? else {
        return Ok(TrainingReport::NotOurs {
            job_name: job_name.to_owned(),
        });
    };
    let Some(record) = history.launches.iter().find(|l| l.job_name == job_name).cloned() else {
        return Ok(TrainingReport::NotOurs {
            job_name: job_name.to_owned(),
        });
    };
    let Some(job) = ports.training.describe_job(job_name)? else {
        // Recorded, never created: the launching handler stopped between its record and CreateTrainingJob. Once
        // no handler can still be about to create it, it is failed, so that it does not hold every launch.
        if now - record.at < Duration::minutes(LAUNCH_GRACE_MINUTES) {
            return Ok(TrainingReport::Running {
                job_name: job_name.to_owned(),
            });
        }
        let why = "never created: the launch was recorded but CreateTrainingJob was not called".to_owned();
        update(ports.state, &key, RetrainHistory::default, |h| {
            let Some(rec) = h.job_mut(job_name) else {
                return Ok(None);
            };
            if rec.status != JobStatus::InProgress {
                return Ok(None);
            }
            rec.status = JobStatus::Failed;
            rec.hours_used = Some(0.0);
            rec.failure = Some(why.clone());
            Ok(Some(()))
        })?;
        return Ok(TrainingReport::Ended {
            job_name: job_name.to_owned(),
            status: JobStatus::Failed,
            failure: Some(why),
        });
    };
    update(ports.state, &key, RetrainHistory::default, |h| {
        let changed = h
            .update_status(job_name, job.status, job.hours)
            .map_err(|e| LifecycleError::Refused(e.to_string()))?;
        let rec = h.job_mut(job_name).expect("just updated");
        let failure_changed = job.failure_reason.is_some() && rec.failure != job.failure_reason;
        if failure_changed {
            rec.failure = job.failure_reason.clone();
        }
        Ok((changed || failure_changed).then_some(()))
    })?;
    match job.status {
        JobStatus::InProgress => {
            return Ok(TrainingReport::Running {
                job_name: job_name.to_owned(),
            });
        }
        JobStatus::Failed | JobStatus::Stopped => {
            return Ok(TrainingReport::Ended {
                job_name: job_name.to_owned(),
                status: job.status,
                failure: job.failure_reason,
            });
        }
        JobStatus::Completed => {}
    }
    if let Some(arn) = &record.model_package {
        let p = ports.registry.describe_package(arn)?;
        return Ok(TrainingReport::Registered {
            job_name: job_name.to_owned(),
            model_package: arn.clone(),
            approval: p.approval,
            why: "registered before".to_owned(),
        });
    }
    let artifacts = job
        .model_artifacts
        .clone()
        .ok_or_else(|| LifecycleError::Refused(format!("training job {job_name} completed without ModelArtifacts")))?;
    let endpoint = ports.endpoints.describe_endpoint(&settings.endpoint)?;
    let serving = ports.endpoints.serving_model(&endpoint.config, &settings.variant)?;
    let image = serving.image.clone().ok_or_else(|| {
        LifecycleError::Refused(format!(
            "model {} has no primary container image to reuse",
            serving.name
        ))
    })?;
    let group = settings.policy.model.clone();
    let current = ports.registry.latest_approved(&group)?;
    let current_value = settings.registration.metric.as_deref().and_then(|m| {
        current
            .as_ref()
            .and_then(|p| p.metadata.get(&metric_key(m)))
            .and_then(|v| v.parse::<f64>().ok())
    });
    let approval = decide_approval(&settings.registration, &job.final_metrics, current_value);
    let mut metadata = BTreeMap::new();
    metadata.insert(format!("{METADATA_PREFIX}training-job"), job_name.to_owned());
    metadata.insert(format!("{METADATA_PREFIX}endpoint"), settings.endpoint.clone());
    metadata.insert(format!("{METADATA_PREFIX}previous-model"), serving.name.clone());
    if !record.trigger.is_empty() {
        metadata.insert(format!("{METADATA_PREFIX}trigger"), record.trigger.clone());
    }
    if let Some(b) = &ctx.baseline_uri {
        metadata.insert(format!("{METADATA_PREFIX}baseline"), b.clone());
    }
    for (m, v) in &job.final_metrics {
        metadata.insert(metric_key(m), v.to_string());
    }
    let mut description = format!(
        "Retrained by modelwatch: job {job_name}, trigger {}. {}",
        if record.trigger.is_empty() {
            "-"
        } else {
            &record.trigger
        },
        approval.why
    );
    description.truncate(MAX_PACKAGE_DESCRIPTION);
    let request = RegisterRequest {
        group,
        client_token: client_token(job_name),
        image,
        model_data_url: artifacts,
        approval: approval.approval,
        description,
        metadata,
        content_types: settings.registration.content_types.clone(),
        response_types: settings.registration.response_types.clone(),
    };
    let arn = ports.registry.register(&request)?;
    update(ports.state, &key, RetrainHistory::default, |h| {
        let rec = h
            .job_mut(job_name)
            .ok_or_else(|| LifecycleError::Refused(format!("training job {job_name} left the history")))?;
        if rec.model_package.as_deref() == Some(arn.as_str()) {
            return Ok(None);
        }
        rec.model_package = Some(arn.clone());
        Ok(Some(()))
    })?;
    Ok(TrainingReport::Registered {
        job_name: job_name.to_owned(),
        model_package: arn,
        approval: approval.approval,
        why: approval.why,
    })
}

// ----------------------------------------------------------------------------------------------------------
// Deployment

/// What became of a deployment request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeployOutcome {
    /// The package is not approved, or not this endpoint's model.
    Ignored { why: String },
    /// This version was deployed before (a repeated event): its record's status.
    AlreadyDeployed { version: String, status: DeploymentStatus },
    /// Not now: the endpoint is busy or another deployment has not ended.
    Refused { why: String },
    /// `UpdateEndpoint` was called.
    Deploying {
        version: String,
        model_name: String,
        endpoint_config: String,
        deployment: DeploymentConfig,
    },
    /// A call failed; the deployment is recorded failed.
    Failed { version: String, error: String },
}

/// The endpoint's history with its first record: the configuration found serving, as version `initial`.
fn seed(history: &mut VersionHistory, config: &str, model: &str, now: DateTime<Utc>) {
    if !history.deployments.is_empty() {
        return;
    }
    let initial = Deployment {
        version: "initial".to_owned(),
        model_name: model.to_owned(),
        endpoint_config: config.to_owned(),
        at: now,
        cause: ChangeCause::Initial,
    };
    history
        .record_deployment(initial)
        .expect("an empty history takes a deployment");
    history
        .record_outcome(config, now, Outcome::Served)
        .expect("the deployment just recorded");
}

/// Deploys an approved version of the endpoint's model: a new Model (the serving model's container with the
/// version's model data), a copy of the endpoint's configuration with the variant on it (instance counts as the
/// scaler last set them), and `UpdateEndpoint` blue/green with the configured traffic shifting and the rollback
/// alarms. The version history records the deployment before `UpdateEndpoint`, so a repeated approval event
/// finds it and does nothing. Nothing is deleted: every model and configuration that served stays a rollback
/// target.
///
/// # Errors
///
/// A [`LifecycleError`] when the state or SageMaker cannot be reached.
pub fn deploy_package(
    ports: &RetrainPorts<'_>,
    settings: &RetrainSettings,
    ctx: &Context,
    package_arn: &str,
    now: DateTime<Utc>,
) -> Result<DeployOutcome, LifecycleError> {
    let package = ports.registry.describe_package(package_arn)?;
    if package.group != settings.policy.model {
        return Ok(DeployOutcome::Ignored {
            why: format!(
                "{package_arn} belongs to group {}, not {}",
                package.group, settings.policy.model
            ),
        });
    }
    if package.approval != Approval::Approved {
        return Ok(DeployOutcome::Ignored {
            why: format!("{package_arn} is {}", package.approval.as_str()),
        });
    }
    reconcile(ports, &settings.endpoint, now)?;
    let version = package.version.to_string();
    let endpoint = ports.endpoints.describe_endpoint(&settings.endpoint)?;
    let stamp = now.format("%Y%m%d%H%M%S").to_string();
    let model_name = resource_name(&settings.policy.model, &format!("v{version}-{stamp}"));
    let config_name = resource_name(&settings.endpoint, &format!("v{version}-{stamp}"));
    let serving = ports.endpoints.serving_model(&endpoint.config, &settings.variant)?;
    let key = versions_key(&settings.endpoint);
    let mut early = None;
    let recorded = update(
        ports.state,
        &key,
        || VersionHistory::new(&settings.endpoint),
        |history| {
            // Any record of this version (deploying, serving, superseded, failed): an approval is acted on once;
            // a failed version is deployed again only by hand.
            if let Some(d) = history.deployments.iter().find(|d| d.version == version) {
                early = Some(DeployOutcome::AlreadyDeployed {
                    version: d.version.clone(),
                    status: d.status,
                });
                return Ok(None);
            }
            if endpoint.status != "InService" {
                early = Some(DeployOutcome::Refused {
                    why: format!("endpoint {} is {}", settings.endpoint, endpoint.status),
                });
                return Ok(None);
            }
            seed(history, &endpoint.config, &serving.name, now);
            let cause = ChangeCause::Retrained {
                training_job: package
                    .metadata
                    .get(&format!("{METADATA_PREFIX}training-job"))
                    .cloned()
                    .unwrap_or_default(),
                trigger: package
                    .metadata
                    .get(&format!("{METADATA_PREFIX}trigger"))
                    .cloned()
                    .unwrap_or_default(),
            };
            match history.record_deployment(Deployment {
                version: version.clone(),
                model_name: model_name.clone(),
                endpoint_config: config_name.clone(),
                at: now,
                cause,
            }) {
                Ok(()) => Ok(Some(())),
                Err(e) => {
                    early = Some(DeployOutcome::Refused { why: e.to_string() });
                    Ok(None)
                }
            }
        },
    )?;
    if recorded.is_none() {
        return Ok(early.expect("a write is skipped only with an outcome"));
    }
    let deployment = settings.deployment.deployment(&ctx.rollback_alarms);
    let result = (|| -> Result<(), PortError> {
        let image = package.image.clone().or(serving.image.clone()).ok_or_else(|| {
            PortError::new(
                "deploying",
                package_arn,
                PortErrorKind::Other,
                "the package names no image",
            )
        })?;
        let data = package.model_data_url.clone().ok_or_else(|| {
            PortError::new(
                "deploying",
                package_arn,
                PortErrorKind::Other,
                "the package names no model data",
            )
        })?;
        ports.endpoints.create_model(&NewModel {
            name: model_name.clone(),
            source: serving.name.clone(),
            image,
            model_data_url: data,
            role_arn: ctx.model_role.clone(),
            tags: vec![
                Tag {
                    key: format!("{METADATA_PREFIX}model-package"),
                    value: super::naming::tag_value(package_arn),
                },
                Tag {
                    key: format!("{METADATA_PREFIX}version"),
                    value: version.clone(),
                },
            ],
        })?;
        ports.endpoints.create_config(&NewConfig {
            name: config_name.clone(),
            source: endpoint.config.clone(),
            variants: vec![VariantOverride {
                name: settings.variant.clone(),
                instance_type: None,
                initial_count: endpoint.desired_counts.get(&settings.variant).copied(),
                initial_weight: None,
                model_name: Some(model_name.clone()),
            }],
        })?;
        ports
            .endpoints
            .update_endpoint(&settings.endpoint, &config_name, &deployment)
    })();
    match result {
        Ok(()) => Ok(DeployOutcome::Deploying {
            version,
            model_name,
            endpoint_config: config_name,
            deployment,
        }),
        Err(e) => {
            let error = error_chain(&e);
            record_outcome(
                ports,
                &settings.endpoint,
                &config_name,
                now,
                Outcome::Failed { why: error.clone() },
            )?;
            Ok(DeployOutcome::Failed { version, error })
        }
    }
}

fn record_outcome(
    ports: &RetrainPorts<'_>,
    endpoint: &str,
    config: &str,
    now: DateTime<Utc>,
    outcome: Outcome,
) -> Result<bool, LifecycleError> {
    let changed = update(
        ports.state,
        &versions_key(endpoint),
        || VersionHistory::new(endpoint),
        |h| {
            let changed = h
                .record_outcome(config, now, outcome.clone())
                .map_err(|e| LifecycleError::Refused(e.to_string()))?;
            Ok(changed.then_some(()))
        },
    )?;
    Ok(changed.is_some())
}

/// How the deployment in progress of an endpoint is judged from DescribeEndpoint.
pub fn judge_deployment(
    deploying_config: &str,
    requested_at: DateTime<Utc>,
    endpoint: &EndpointState,
    now: DateTime<Utc>,
) -> Option<Outcome> {
    match endpoint.status.as_str() {
        "InService" if endpoint.config == deploying_config => Some(Outcome::Served),
        "InService" if now - requested_at >= Duration::minutes(DEPLOY_GRACE_MINUTES) => Some(Outcome::Failed {
            why: format!(
                "rolled back or never applied: the endpoint is InService on {}",
                endpoint.config
            ),
        }),
        // `UpdateRollbackFailed` and `OutOfService` end a deployment too: waiting for `InService` would block
        // every later deployment and rollback.
        "Failed" | "UpdateRollbackFailed" | "OutOfService" => Some(Outcome::Failed {
            why: endpoint
                .failure_reason
                .clone()
                .unwrap_or_else(|| format!("the endpoint is {}", endpoint.status)),
        }),
        _ => None,
    }
}

/// A deployment that ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ended {
    /// Its record, after the outcome.
    pub record: DeploymentRecord,
    /// How it ended.
    pub outcome: Outcome,
}

/// Records how the endpoint's deployment in progress ended, if it has: serving on the new configuration, or
/// failed (rolled back by its alarms, or the endpoint failed). Returns the deployment that ended.
///
/// # Errors
///
/// A [`LifecycleError`] when the state or SageMaker cannot be reached.
pub fn reconcile(
    ports: &RetrainPorts<'_>,
    endpoint: &str,
    now: DateTime<Utc>,
) -> Result<Option<Ended>, LifecycleError> {
    reconcile_then(ports, endpoint, now, &mut |_| Ok(()))
}

/// [`reconcile`], calling `before_record` with the ended deployment before its outcome is written: when it fails,
/// nothing is recorded and the next reconcile calls it again (what it does happens at least once).
///
/// # Errors
///
/// A [`LifecycleError`] when the state or SageMaker cannot be reached, or `before_record`'s.
pub fn reconcile_then(
    ports: &RetrainPorts<'_>,
    endpoint: &str,
    now: DateTime<Utc>,
    before_record: &mut dyn FnMut(&Ended) -> Result<(), LifecycleError>,
) -> Result<Option<Ended>, LifecycleError> {
    let Some((history, _)) = read::<VersionHistory>(ports.state, &versions_key(endpoint))? else {
        return Ok(None);
    };
    let Some(deploying) = history.in_progress().cloned() else {
        return Ok(None);
    };
    let state = ports.endpoints.describe_endpoint(endpoint)?;
    let Some(outcome) = judge_deployment(&deploying.endpoint_config, deploying.requested_at, &state, now) else {
        return Ok(None);
    };
    let mut preview = history.clone();
    preview
        .record_outcome(&deploying.endpoint_config, now, outcome.clone())
        .map_err(|e| LifecycleError::Refused(e.to_string()))?;
    let record = preview
        .deployments
        .iter()
        .rev()
        .find(|d| d.endpoint_config == deploying.endpoint_config && d.requested_at == deploying.requested_at)
        .cloned()
        .unwrap_or(deploying.clone());
    let ended = Ended { record, outcome };
    before_record(&ended)?;
    record_outcome(ports, endpoint, &deploying.endpoint_config, now, ended.outcome.clone())?;
    Ok(Some(ended))
}

/// The `suggest-baseline` request for a retrained version that began serving: the retraining file's
/// `new_baseline`, filled with the date its training job was launched and its version. `None` for any other
/// ended deployment (a failure, a rollback, the initial version), when the file asks for no baseline, or when the
/// job is not in the model's history.
pub fn baseline_request(
    settings: &RetrainSettings,
    ended: &Ended,
    history: &RetrainHistory,
) -> Option<serde_json::Value> {
    if ended.outcome != Outcome::Served {
        return None;
    }
    let ChangeCause::Retrained { training_job, .. } = &ended.record.cause else {
        return None;
    };
    let launch = history.launches.iter().find(|l| &l.job_name == training_job)?;
    settings.baseline_request(launch.at.date_naive(), &ended.record.version)
}

/// The model's retraining history (empty when nothing was launched).
///
/// # Errors
///
/// A [`LifecycleError`] when the state cannot be read.
pub fn retrain_history(state: &dyn StateStore, model: &str) -> Result<RetrainHistory, LifecycleError> {
    Ok(read::<RetrainHistory>(state, &history_key(model))?
        .map(|(h, _)| h)
        .unwrap_or_default())
}

/// What a rollback did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackReport {
    pub endpoint: String,
    pub from_version: String,
    pub to_version: String,
    pub endpoint_config: String,
}

/// Returns `endpoint` to a version that served before (`to`, or the one before the current): the version
/// history records the change, then one `UpdateEndpoint` puts that version's configuration back, blue/green all
/// at once (no alarms: a rollback is not rolled back).
///
/// # Errors
///
/// [`LifecycleError::Rollback`] when there is no such version, [`LifecycleError::Refused`] while a deployment is
/// in progress or the endpoint is not `InService`; port errors otherwise (the deployment is then recorded failed).
pub fn rollback(
    ports: &RetrainPorts<'_>,
    endpoint: &str,
    to: Option<&str>,
    requested_by: &str,
    now: DateTime<Utc>,
) -> Result<RollbackReport, LifecycleError> {
    reconcile(ports, endpoint, now)?;
    let state = ports.endpoints.describe_endpoint(endpoint)?;
    if state.status != "InService" {
        return Err(LifecycleError::Refused(format!(
            "endpoint {endpoint} is {}",
            state.status
        )));
    }
    let mut plan = None;
    update(
        ports.state,
        &versions_key(endpoint),
        || VersionHistory::new(endpoint),
        |history| {
            let d = history.rollback(to, now, requested_by)?;
            history
                .record_deployment(d.clone())
                .map_err(|e| LifecycleError::Refused(e.to_string()))?;
            let from = match &d.cause {
                ChangeCause::Rollback { from_version, .. } => from_version.clone(),
                _ => String::new(),
            };
            plan = Some((d, from));
            Ok(Some(()))
        },
    )?;
    let (d, from_version) = plan.expect("written only with a plan");
    let deployment = DeploymentConfig::blue_green(&[]);
    if let Err(e) = ports
        .endpoints
        .update_endpoint(endpoint, &d.endpoint_config, &deployment)
    {
        let why = error_chain(&e);
        record_outcome(ports, endpoint, &d.endpoint_config, now, Outcome::Failed { why })?;
        return Err(e.into());
    }
    Ok(RollbackReport {
        endpoint: endpoint.to_owned(),
        from_version,
        to_version: d.version,
        endpoint_config: d.endpoint_config,
    })
}

/// The endpoint's version history (empty when nothing was recorded).
///
/// # Errors
///
/// A [`LifecycleError`] when the state cannot be read.
pub fn version_history(state: &dyn StateStore, endpoint: &str) -> Result<VersionHistory, LifecycleError> {
    Ok(read::<VersionHistory>(state, &versions_key(endpoint))?
        .map(|(h, _)| h)
        .unwrap_or_else(|| VersionHistory::new(endpoint)))
}
