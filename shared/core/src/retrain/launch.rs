//! Launching: the recent windows' signals read back from the evaluator's reports, the retraining decision taken
//! on them, the launch recorded with compare-and-set, then `CreateTrainingJob` as a clone of the template job
//! (with the labelled captures as one more channel when the retraining file asks for them).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::decide::{RetrainDecision, decide_retraining};
use super::history::{JobStatus, RetrainHistory};
use super::naming::{Lineage, lineage_tags, training_job_name};
use super::ports::{
    Context, LifecycleError, ManifestChannel, RetrainPorts, TrainingRequest, history_key, read, update, versions_key,
};
use super::register::{TrainingReport, on_training_job};
use super::settings::RetrainSettings;
use super::signals::{Signals, WindowSignals};
use super::versions::VersionHistory;
use crate::drift::DriftReport;
use crate::monitor::{MarkerStatus, Target, WindowMarker};
use crate::ports::{StateStore, error_chain};
use crate::quality::report::{ModelQualityConstraints, ModelQualityStatistics};
use crate::report::{DRIFT_FILE, QUALITY_DIR};
use crate::violations::{VIOLATIONS_FILE, Violations};
use crate::window::Window;

/// Windows read back at most (a week of hours), whatever the policy asks.
pub const MAX_LOOKBACK_WINDOWS: u32 = 168;

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
