//! The scheduled and event-driven monitoring runs over the ports: the use case on one window, the same for the CLI
//! and the function ([`evaluate_and_record`]), which windows are due ([`due_windows`]), how a window is committed
//! exactly once ([`commit_window_once`]), how a failing window is recorded and retried without stopping the others
//! ([`run_windows`]), and how a newly arrived capture file is folded into the profile of its hour ([`fold_object`]).
//!
//! The state store (the CLI's `--state` folder, or the function's `STATE_S3_URI`) holds, below its root:
//! - `{endpoint}/{variant}/last_window.json`: the end of the last committed window, and the failed windows to retry;
//! - `{endpoint}/{variant}/prediction_history.json`: the prediction history;
//! - `{endpoint}/{variant}/windows/yyyy/mm/dd/hh.json`: one marker per window, claimed with a create-only write,
//!   so that of two overlapping runs only one evaluates and publishes a window;
//! - `{endpoint}/{variant}/profiles/yyyy/mm/dd/hh.json`: the profile of an hour so far, with the objects folded
//!   into it, so that an S3 event delivered twice is folded once.
//!
//! Every decision here is a pure function ([`windows_due`], [`due_windows`], [`claim_decision`],
//! [`crate::metric_limits::publishable_at`]); the drivers only sequence port calls around them.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::baseline::Baseline;
use crate::evaluate::{Evaluation, EvaluationConfig, Evaluator, RunSummary, Sources, evaluate_window};
use crate::history::{HistoryStateError, HistoryUpdate};
use crate::metric_limits::{Withheld, publishable_at};
use crate::metrics::MetricScope;
use crate::ports::{CaptureObject, MetricSink, PortError, PortErrorKind, ReportStore, StateStore};
use crate::profile::DatasetProfile;
use crate::report;
use crate::state::{StateError, Step, read_json, to_json};
use crate::window::{Window, truncate_to_hour};

/// The `MonitoringSchedule` dimension of the metrics when none is configured, the same for the CLI and the
/// scheduled function (`SCHEDULE_NAME`).
pub const DEFAULT_SCHEDULE: &str = "modelwatch-hourly";

/// What went wrong in a run.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error(transparent)]
    Port(#[from] PortError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    History(#[from] crate::history::HistoryStateError),
}

/// Where an endpoint variant's data and state live, and how its runs are scheduled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub endpoint: String,
    pub variant: String,
    /// The `MonitoringSchedule` dimension of its metrics.
    pub schedule: String,
}

impl Target {
    fn state_root(&self) -> String {
        format!("{}/{}", self.endpoint, self.variant)
    }

    /// The key of the last committed window's record.
    pub fn last_window_key(&self) -> String {
        format!("{}/last_window.json", self.state_root())
    }

    /// The key of a window's marker.
    pub fn marker_key(&self, window: &Window) -> String {
        format!(
            "{}/windows/{}.json",
            self.state_root(),
            window.start.format("%Y/%m/%d/%H")
        )
    }

    /// The key of the prediction history (one window per evaluated hour).
    pub fn history_key(&self) -> String {
        format!("{}/prediction_history.json", self.state_root())
    }

    /// The key of an hour's folded profile.
    pub fn hour_profile_key(&self, hour: DateTime<Utc>) -> String {
        format!("{}/profiles/{}.json", self.state_root(), hour.format("%Y/%m/%d/%H"))
    }

    /// The metrics' dimensions of `window`, timestamped at its end.
    pub fn scope(&self, window: &Window) -> MetricScope {
        MetricScope {
            endpoint: self.endpoint.clone(),
            schedule: self.schedule.clone(),
            timestamp: window.end,
        }
    }

    /// The report folder of a window (relative to the report root): `{endpoint}/{variant}/yyyy/mm/dd/hh`.
    pub fn report_folder(&self, window: &Window) -> String {
        format!("{}/{}", self.state_root(), window.start.format("%Y/%m/%d/%H"))
    }
}

/// The closed hours to evaluate at `now`, oldest first: those after the last committed window's end (or only the
/// last closed hour when nothing was committed yet), closed at least `settle` ago (Data Capture writes its files
/// a few minutes after the hour), at most `max_windows` of them.
pub fn windows_due(
    now: DateTime<Utc>,
    last_end: Option<DateTime<Utc>>,
    settle: Duration,
    max_windows: usize,
) -> Vec<Window> {
    let closed_until = truncate_to_hour(now - settle);
    let first = match last_end {
        Some(end) => truncate_to_hour(end),
        None => closed_until - Duration::hours(1),
    };
    let mut out = Vec::new();
    let mut start = first;
    while start + Duration::hours(1) <= closed_until && out.len() < max_windows {
        out.push(Window {
            start,
            end: start + Duration::hours(1),
        });
        start += Duration::hours(1);
    }
    out
}

/// A window's marker in the state store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowMarker {
    pub status: MarkerStatus,
    pub run_id: String,
    pub claimed_at: DateTime<Utc>,
    /// The run's counts, once committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<RunSummary>,
    /// Metrics left out because CloudWatch would refuse them (a window evaluated too late), with the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withheld: Option<Withheld>,
}

/// Where a window's run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkerStatus {
    /// A run is evaluating it (or died doing so).
    Claimed,
    /// Reports written and metrics published.
    Committed,
}

/// What a run does with a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimDecision {
    /// Nobody has it: claim it (create-only write).
    Claim,
    /// Its claim is older than the lease: its run died; take it over (write if still at the seen version).
    TakeOver,
    /// Already committed: nothing to do, nothing published again.
    AlreadyCommitted,
    /// Another run holds it.
    InProgress,
}

/// The decision for a window whose marker is `marker` at `now`; a claim lasts `lease` (longer than the function's
/// timeout, so that a live run is never taken over).
pub fn claim_decision(marker: Option<&WindowMarker>, now: DateTime<Utc>, lease: Duration) -> ClaimDecision {
    match marker {
        None => ClaimDecision::Claim,
        Some(m) if m.status == MarkerStatus::Committed => ClaimDecision::AlreadyCommitted,
        Some(m) if now - m.claimed_at >= lease => ClaimDecision::TakeOver,
        Some(_) => ClaimDecision::InProgress,
    }
}

/// The ports a scheduled run uses.
pub struct RunPorts<'p> {
    /// The captures, and when configured the ground truth, model-quality constraints and CBPE calibration.
    pub sources: Sources<'p>,
    /// Rooted at the report prefix; the run writes below [`Target::report_folder`].
    pub reports: &'p dyn ReportStore,
    pub metrics: &'p dyn MetricSink,
    pub state: &'p dyn StateStore,
}

/// What a run did with a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowDecision {
    /// Evaluated, published and committed by this run.
    Evaluated,
    /// Committed before: nothing evaluated or published again.
    AlreadyCommitted,
    /// Another live run holds its claim.
    InProgress,
    /// Another run claimed it between this run's read and its claim.
    LostClaim,
    /// Its run failed: recorded, and retried by later runs.
    Failed,
    /// Too large for one invocation: handed to a run of the distributed evaluation ([`WindowOutcome::run`]), which
    /// commits it; recorded as deferred meanwhile, so that later runs look at it again.
    Distributed,
}

impl std::fmt::Display for WindowDecision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Evaluated => "evaluated",
            Self::AlreadyCommitted => "already_committed",
            Self::InProgress => "in_progress",
            Self::LostClaim => "lost_claim",
            Self::Failed => "failed",
            Self::Distributed => "distributed",
        })
    }
}

/// What became of one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowOutcome {
    pub window: Window,
    pub decision: WindowDecision,
    /// Data published (0 when the window was not evaluated by this run).
    pub published: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<RunSummary>,
    /// Metrics not published because CloudWatch would refuse them, with the reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withheld: Option<Withheld>,
    /// Why the window's run failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The distributed evaluation's run the window was handed to, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

/// The choice [`run_windows_with`] asks for each window and the attempts it failed before: `None` to evaluate it
/// in this run.
pub type Route<'a> = dyn FnMut(&Window, u32) -> Result<Option<Routed>, MonitorError> + 'a;

/// A window the scheduled run did not evaluate itself: handed to a run of the distributed evaluation
/// ([`WindowDecision::Distributed`]), or failed because that run ended without committing it
/// ([`WindowDecision::Failed`], with the error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub decision: WindowDecision,
    pub run: String,
    pub error: Option<String>,
}

/// A store writing below a folder of another.
struct Below<'a> {
    store: &'a dyn ReportStore,
    folder: String,
}

impl ReportStore for Below<'_> {
    fn put(&self, name: &str, body: &[u8]) -> Result<(), PortError> {
        self.store.put(&format!("{}/{name}", self.folder), body)
    }
}

/// A window evaluated and recorded in the prediction history.
#[derive(Debug, Clone)]
pub struct RecordedWindow {
    /// The evaluation, its metrics extended with the history's.
    pub evaluation: Evaluation,
    /// The window's assessment against the history, and what was recorded; `None` when the history cannot take
    /// the window (a window of another length than those it keeps, such as a calendar month after a shorter
    /// one): the reports are written all the same, with the reason in [`RunSummary::history_not_recorded`].
    pub history: Option<HistoryUpdate>,
}

/// The monitoring use case on one window, the same for the CLI (`modelwatch evaluate --state`) and the scheduled
/// run: evaluates the captures of `window`, assesses the window's predictions against the prediction history
/// under [`Target::history_key`] and records them there (a re-run replaces its own entry), adds the history's
/// metrics to the evaluation's, and writes the reports into `reports`. Publishing, and committing the window once,
/// are the caller's ([`commit_window_once`]).
///
/// # Errors
///
/// A [`MonitorError`] when a source cannot be listed, the history cannot be updated, or a report cannot be written.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_and_record(
    sources: &Sources<'_>,
    reports: &dyn ReportStore,
    state: &dyn StateStore,
    target: &Target,
    window: &Window,
    baseline: &Baseline,
    config: &EvaluationConfig,
    on_object: &mut dyn FnMut(usize, usize, &CaptureObject),
) -> Result<RecordedWindow, MonitorError> {
    let scope = target.scope(window);
    let mut evaluation = evaluate_window(sources, Some(window), baseline, config, &scope, on_object)?;
    let history = match crate::history::update_history(
        state,
        &target.history_key(),
        &evaluation.predictions,
        (window.end - window.start).num_seconds(),
        &config.history,
        &scope,
    ) {
        Ok(history) => Some(history),
        // The window is evaluated all the same: only its place in the history is missing.
        Err(e @ HistoryStateError::WindowLength { .. }) => {
            evaluation.summary.history_not_recorded = Some(e.to_string());
            None
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(h) = &history {
        evaluation.metrics.extend(h.metrics.iter().cloned());
    }
    report::write_reports(reports, &evaluation, history.as_ref())?;
    Ok(RecordedWindow { evaluation, history })
}

/// Records `window` as committed by a run outside the schedule (the CLI's `--state`): its marker is written
/// committed with `summary` and the last committed window moves forward to its end, so that the scheduled run
/// continues after it. A marker of the window already there is replaced.
///
/// # Errors
///
/// A [`MonitorError`] when the state cannot be read or written.
pub fn record_committed(
    state: &dyn StateStore,
    target: &Target,
    window: &Window,
    run_id: &str,
    summary: &RunSummary,
    now: DateTime<Utc>,
) -> Result<(), MonitorError> {
    let marker = WindowMarker {
        status: MarkerStatus::Committed,
        run_id: run_id.to_owned(),
        claimed_at: now,
        summary: Some(summary.clone()),
        withheld: None,
    };
    crate::state::update(
        state,
        &target.marker_key(window),
        || None,
        |current: &mut Option<WindowMarker>| -> Result<Step<()>, MonitorError> {
            *current = Some(marker.clone());
            Ok(Step::Write(()))
        },
    )?;
    advance_last_window(state, &target.last_window_key(), window, Advance::Committed, now)
}

/// Evaluates `window` for `target` and commits it once: claims its marker, writes the reports, publishes the
/// metrics, marks it committed and advances the last committed window. A window already committed, or held by a
/// live run, is left alone, so re-running a window publishes nothing twice.
///
/// A run that dies between publishing and marking leaves a claim that a later run takes over after `lease`;
/// only in that case can metrics be published twice.
///
/// # Errors
///
/// A [`MonitorError`] when a port fails; the claim then stays until its lease ends.
#[allow(clippy::too_many_arguments)]
pub fn commit_window_once(
    ports: &RunPorts<'_>,
    target: &Target,
    window: &Window,
    baseline: &Baseline,
    config: &EvaluationConfig,
    run_id: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<WindowOutcome, MonitorError> {
    let marker_key = target.marker_key(window);
    let current = read_json::<WindowMarker>(ports.state, &marker_key)?;
    let decision = claim_decision(current.as_ref().map(|(m, _)| m), now, lease);
    let skipped = |decision: WindowDecision, summary: Option<RunSummary>| WindowOutcome {
        window: *window,
        decision,
        published: 0,
        summary,
        withheld: None,
        error: None,
        run: None,
    };
    let expected = match decision {
        ClaimDecision::AlreadyCommitted => {
            return Ok(skipped(
                WindowDecision::AlreadyCommitted,
                current.and_then(|(m, _)| m.summary),
            ));
        }
        ClaimDecision::InProgress => return Ok(skipped(WindowDecision::InProgress, None)),
        ClaimDecision::Claim => None,
        ClaimDecision::TakeOver => current.map(|(_, v)| v),
    };
    let mut marker = WindowMarker {
        status: MarkerStatus::Claimed,
        run_id: run_id.to_owned(),
        claimed_at: now,
        summary: None,
        withheld: None,
    };
    let claimed = match ports.state.put_if(&marker_key, &to_json(&marker), expected.as_ref()) {
        Ok(version) => version,
        Err(e) if e.kind == PortErrorKind::Conflict => return Ok(skipped(WindowDecision::LostClaim, None)),
        Err(e) => return Err(e.into()),
    };
    let below = Below {
        store: ports.reports,
        folder: target.report_folder(window),
    };
    let RecordedWindow { evaluation, .. } = evaluate_and_record(
        &ports.sources,
        &below,
        ports.state,
        target,
        window,
        baseline,
        config,
        &mut |_, _, _| {},
    )?;
    // A window evaluated too late for CloudWatch (after an outage of two weeks) is still committed, its reports
    // written and the reason recorded: sending its data would fail the whole request, every run again.
    let (publishable, withheld) = publishable_at(evaluation.metrics.clone(), now);
    ports.metrics.publish(&publishable)?;
    marker.status = MarkerStatus::Committed;
    marker.summary = Some(evaluation.summary.clone());
    marker.withheld = withheld.clone();
    ports.state.put_if(&marker_key, &to_json(&marker), Some(&claimed))?;
    advance_last_window(ports.state, &target.last_window_key(), window, Advance::Committed, now)?;
    Ok(WindowOutcome {
        window: *window,
        decision: WindowDecision::Evaluated,
        published: publishable.len(),
        summary: Some(evaluation.summary),
        withheld,
        error: None,
        run: None,
    })
}

/// How the scheduled run picks and retries windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleSettings {
    /// How long after an hour ends its captures are taken as complete.
    pub settle: Duration,
    /// New closed hours evaluated per run at most (catching up after an outage).
    pub max_windows: usize,
    /// How long a window's claim lasts; longer than the function's timeout.
    pub lease: Duration,
}

impl ScheduleSettings {
    /// Checks the settings: `max_windows` at least 1 (0 would evaluate nothing, ever), `settle` not negative,
    /// `lease` positive (a claim that has already expired protects nothing).
    ///
    /// # Errors
    ///
    /// A [`SettingsError`](crate::evaluate::SettingsError) naming the first offending field and its range.
    pub fn validate(&self) -> Result<(), crate::evaluate::SettingsError> {
        use crate::evaluate::SettingsError;
        if self.max_windows == 0 {
            return Err(SettingsError::new("max_windows", "0 is outside [1, inf)"));
        }
        if self.settle < Duration::zero() {
            return Err(SettingsError::new(
                "settle",
                format!("{} minutes is outside [0, inf)", self.settle.num_minutes()),
            ));
        }
        if self.lease <= Duration::zero() {
            return Err(SettingsError::new(
                "lease",
                format!("{} minutes is outside (0, inf)", self.lease.num_minutes()),
            ));
        }
        Ok(())
    }
}

/// Failed windows retried per run at most, before the new hours (so that failures never crowd them out).
pub const MAX_RETRIES_PER_RUN: usize = 3;
/// Runs that try a failed window before it is given up (kept in the record, for a backfill): a day of hourly runs.
pub const MAX_WINDOW_ATTEMPTS: u32 = 24;
/// Failed windows kept in the record at most (the oldest given-up ones go first).
pub const MAX_FAILED_KEPT: usize = 200;

/// The windows a scheduled run evaluates at `now`: first the windows deferred because another run held them, then
/// up to [`MAX_RETRIES_PER_RUN`] failed windows not yet given up (oldest first), then the new closed hours
/// ([`windows_due`]); each once.
pub fn due_windows(now: DateTime<Utc>, last: Option<&LastWindow>, settings: &ScheduleSettings) -> Vec<Window> {
    let deferred = last
        .into_iter()
        .flat_map(|l| l.deferred.iter().copied())
        .take(settings.max_windows);
    let retries = last
        .into_iter()
        .flat_map(|l| l.failed.iter())
        .filter(|f| f.attempts < MAX_WINDOW_ATTEMPTS)
        .take(MAX_RETRIES_PER_RUN)
        .map(|f| f.window);
    let new = windows_due(now, last.map(|l| l.end), settings.settle, settings.max_windows);
    let mut seen = BTreeSet::new();
    deferred
        .chain(retries)
        .chain(new)
        .filter(|w| seen.insert(w.start))
        .collect()
}

/// Runs the windows due for `target` at `now` (or every hour of `backfill`), each committed once
/// ([`commit_window_once`]). A window that fails is recorded (with its error and attempts) in the last-window
/// record and the run goes on with the next one; later runs retry it ([`due_windows`]). A window another run holds
/// is recorded as deferred and looked at again by later runs. So a window that cannot be evaluated or published,
/// or whose run died, never stops the ones after it and is never passed over.
///
/// # Errors
///
/// A [`MonitorError`] only when the state cannot be read or a failure cannot be recorded.
#[allow(clippy::too_many_arguments)]
pub fn run_windows(
    ports: &RunPorts<'_>,
    target: &Target,
    baseline: &Baseline,
    config: &EvaluationConfig,
    settings: &ScheduleSettings,
    backfill: Option<Window>,
    run_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<WindowOutcome>, MonitorError> {
    run_windows_with(
        ports,
        target,
        baseline,
        config,
        settings,
        backfill,
        run_id,
        now,
        &mut |_, _| Ok(None),
    )
}

/// [`run_windows`], each window first offered to `route` with the attempts it failed before: a window it takes
/// ([`Routed`], the distributed evaluation's [`crate::distributed::route`]) is recorded as deferred, or as failed
/// with its error, instead of being evaluated here.
///
/// # Errors
///
/// As [`run_windows`]; an error of `route` is the window's failure, recorded.
#[allow(clippy::too_many_arguments)]
pub fn run_windows_with(
    ports: &RunPorts<'_>,
    target: &Target,
    baseline: &Baseline,
    config: &EvaluationConfig,
    settings: &ScheduleSettings,
    backfill: Option<Window>,
    run_id: &str,
    now: DateTime<Utc>,
    route: &mut Route<'_>,
) -> Result<Vec<WindowOutcome>, MonitorError> {
    let last = match backfill {
        Some(_) => None,
        None => read_json::<LastWindow>(ports.state, &target.last_window_key())?.map(|(l, _)| l),
    };
    let windows = match backfill {
        Some(w) => w.hourly(),
        None => due_windows(now, last.as_ref(), settings),
    };
    let attempts = |window: &Window| {
        last.iter()
            .flat_map(|l| &l.failed)
            .find(|f| f.window == *window)
            .map_or(0, |f| f.attempts)
    };
    let mut outcomes = Vec::with_capacity(windows.len());
    for window in windows {
        let attempt = match route(&window, attempts(&window)) {
            Ok(Some(Routed { decision, run, error })) => {
                let change = match &error {
                    Some(error) => Advance::Failed(error),
                    None => Advance::Deferred,
                };
                advance_last_window(ports.state, &target.last_window_key(), &window, change, now)?;
                outcomes.push(WindowOutcome {
                    window,
                    decision,
                    published: 0,
                    summary: None,
                    withheld: None,
                    error,
                    run: Some(run),
                });
                continue;
            }
            Ok(None) => commit_window_once(ports, target, &window, baseline, config, run_id, now, settings.lease)
                .map_err(|e| crate::ports::error_chain(&e)),
            Err(e) => Err(crate::ports::error_chain(&e)),
        };
        match attempt {
            Ok(outcome) => {
                let change = match outcome.decision {
                    WindowDecision::InProgress | WindowDecision::LostClaim => Some(Advance::Deferred),
                    // Committed by another run: leaves the deferred and failed lists.
                    WindowDecision::AlreadyCommitted => Some(Advance::Committed),
                    _ => None,
                };
                if let Some(change) = change {
                    advance_last_window(ports.state, &target.last_window_key(), &window, change, now)?;
                }
                outcomes.push(outcome);
            }
            Err(error) => {
                advance_last_window(
                    ports.state,
                    &target.last_window_key(),
                    &window,
                    Advance::Failed(&error),
                    now,
                )?;
                outcomes.push(WindowOutcome {
                    window,
                    decision: WindowDecision::Failed,
                    published: 0,
                    summary: None,
                    withheld: None,
                    error: Some(error),
                    run: None,
                });
            }
        }
    }
    Ok(outcomes)
}

/// The record of the last committed window, and of the windows that failed and are retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastWindow {
    /// The end of the last window committed or given to the retries: the new hours start here.
    pub end: DateTime<Utc>,
    /// Windows whose run failed, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<FailedWindow>,
    /// Windows another run held (claimed, not committed) when a run came to them, oldest first: looked at again
    /// by the next runs until committed, so that a run that died holding one does not lose it once later windows
    /// commit (its claim is taken over after the lease).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<Window>,
}

/// A window whose run failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedWindow {
    pub window: Window,
    /// Runs that tried it; at [`MAX_WINDOW_ATTEMPTS`] it is given up (evaluate it again with a backfill).
    pub attempts: u32,
    /// The last error, with its causes.
    pub error: String,
    pub last_attempt: DateTime<Utc>,
}

/// The end of the last committed window, if any.
///
/// # Errors
///
/// A [`MonitorError`] when the state cannot be read.
pub fn last_window_end(state: &dyn StateStore, target: &Target) -> Result<Option<DateTime<Utc>>, MonitorError> {
    Ok(read_json::<LastWindow>(state, &target.last_window_key())?.map(|(l, _)| l.end))
}

/// What became of a window, for the last-window record.
#[derive(Debug, Clone, Copy)]
enum Advance<'e> {
    /// Committed (by this run or another): it leaves the failed and deferred lists.
    Committed,
    /// Its run failed with this error: it joins the failed list or counts one more attempt.
    Failed(&'e str),
    /// Another run held it: it joins the deferred list (unless it is retried as failed already); the end does not
    /// move, as the window is not done (a first record ends at the window's start).
    Deferred,
}

/// Records what became of `window` in the last-window record, with compare-and-set. A committed or failed window
/// moves the end past it (the end never goes back); see [`Advance`].
fn advance_last_window(
    state: &dyn StateStore,
    key: &str,
    window: &Window,
    change: Advance<'_>,
    now: DateTime<Utc>,
) -> Result<(), MonitorError> {
    crate::state::update(
        state,
        key,
        || None,
        |last: &mut Option<LastWindow>| -> Result<Step<()>, MonitorError> {
            let before = last.clone();
            if matches!(change, Advance::Deferred) {
                // Nothing committed yet (a first run): the record starts at this window, so that the next runs
                // do not begin after it.
                let record = last.get_or_insert(LastWindow {
                    end: window.start,
                    failed: Vec::new(),
                    deferred: Vec::new(),
                });
                if !record.deferred.contains(window) && !record.failed.iter().any(|f| f.window == *window) {
                    record.deferred.push(*window);
                    record.deferred.sort_by_key(|w| w.start);
                }
                return Ok(if *last == before {
                    Step::Keep(())
                } else {
                    Step::Write(())
                });
            }
            let record = last.get_or_insert(LastWindow {
                end: window.end,
                failed: Vec::new(),
                deferred: Vec::new(),
            });
            record.end = record.end.max(window.end);
            record.deferred.retain(|w| w != window);
            match change {
                Advance::Deferred => unreachable!("handled above"),
                Advance::Committed => record.failed.retain(|f| f.window != *window),
                Advance::Failed(error) => {
                    match record.failed.iter_mut().find(|f| f.window == *window) {
                        Some(f) => {
                            f.attempts += 1;
                            f.error = error.to_owned();
                            f.last_attempt = now;
                        }
                        None => record.failed.push(FailedWindow {
                            window: *window,
                            attempts: 1,
                            error: error.to_owned(),
                            last_attempt: now,
                        }),
                    }
                    record.failed.sort_by_key(|f| f.window.start);
                    while record.failed.len() > MAX_FAILED_KEPT {
                        // The oldest window given up goes first; else the oldest.
                        let i = record
                            .failed
                            .iter()
                            .position(|f| f.attempts >= MAX_WINDOW_ATTEMPTS)
                            .unwrap_or(0);
                        record.failed.remove(i);
                    }
                }
            }
            Ok(if *last == before {
                Step::Keep(())
            } else {
                Step::Write(())
            })
        },
    )?;
    Ok(())
}

/// The profile of an hour so far, as the S3-event path stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HourProfile {
    pub hour: DateTime<Utc>,
    /// The objects folded in, so that an event delivered twice is folded once.
    pub objects: BTreeSet<String>,
    /// Records skipped as bad input in those objects.
    pub skipped: u64,
    pub profile: DatasetProfile,
}

/// What folding one object did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoldOutcome {
    pub object: String,
    pub hour: DateTime<Utc>,
    /// False when the object had been folded before (a repeated event).
    pub folded: bool,
    /// Rows of the hour so far.
    pub hour_rows: u64,
    pub objects_in_hour: usize,
    /// Features drifted in the hour so far, of those compared.
    pub drifted_features: usize,
    pub compared_features: usize,
    /// Data published for the hour so far.
    pub published: usize,
    /// Why the object could not be read (wholly or in part); what was read is folded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The metrics the live path publishes, as `{schedule}-live`: only what the live alarm (`…-dataset-drift-live`)
/// and the dashboards read. Its reports in `live/` hold everything; republishing every per-feature metric for
/// each new object would nearly double the custom-metric bill for data the hourly window publishes anyway.
pub const LIVE_METRICS: &[&str] = &["dataset_drift_share"];

/// Folds a newly arrived capture object into the stored profile of its hour (compare-and-set, retried), then
/// evaluates the hour so far against the baseline: writes its reports into the hour's report folder under
/// `live/` (the scheduled run writes the final ones beside it) and publishes [`LIVE_METRICS`] with the schedule
/// dimension `{schedule}-live` and the current time, so that drift shows minutes after the traffic.
///
/// # Errors
///
/// A [`MonitorError`] when the object has no hour in its key, or a port fails.
#[allow(clippy::too_many_arguments)]
pub fn fold_object(
    ports: &RunPorts<'_>,
    target: &Target,
    object: &CaptureObject,
    baseline: &Baseline,
    config: &EvaluationConfig,
    now: DateTime<Utc>,
) -> Result<FoldOutcome, MonitorError> {
    let hour = object.hour.ok_or_else(|| {
        PortError::new(
            "folding",
            object.name.clone(),
            PortErrorKind::Other,
            "the key has no yyyy/mm/dd/hh folder",
        )
    })?;
    let key = target.hour_profile_key(hour);
    // The object's own profile, read once; merged into whatever the stored hour holds at each attempt.
    let config = EvaluationConfig {
        quality: None,
        ..config.clone()
    };
    let mut evaluator = Evaluator::new(baseline, &config);
    let body = ports.sources.captures.open(object)?;
    let file = evaluator.add_file(&object.name, body).clone();
    let own = evaluator.finish(
        &MetricScope {
            endpoint: target.endpoint.clone(),
            schedule: target.schedule.clone(),
            timestamp: now,
        },
        None,
    );
    let empty = || HourProfile {
        hour,
        objects: BTreeSet::new(),
        skipped: 0,
        profile: DatasetProfile::new(std::iter::empty()),
    };
    let stored = crate::state::update(ports.state, &key, empty, |hour_profile: &mut HourProfile| {
        if hour_profile.objects.contains(&object.name) {
            return Ok::<_, MonitorError>(Step::Keep((hour_profile.clone(), false)));
        }
        hour_profile.objects.insert(object.name.clone());
        hour_profile.skipped += own.summary.skipped;
        hour_profile.profile.merge(&own.profile);
        Ok(Step::Write((hour_profile.clone(), true)))
    })?;
    let (hour_profile, folded) = stored.result;
    let mut hour_evaluator = Evaluator::new(baseline, &config);
    hour_evaluator.add_profile(&hour_profile.profile);
    let live = hour_evaluator.finish(
        &MetricScope {
            endpoint: target.endpoint.clone(),
            schedule: format!("{}-live", target.schedule),
            timestamp: now,
        },
        None,
    );
    let window = Window {
        start: hour,
        end: hour + Duration::hours(1),
    };
    let below = Below {
        store: ports.reports,
        folder: format!("{}/live", target.report_folder(&window)),
    };
    report::write_reports(&below, &live, None)?;
    let published: Vec<_> = live
        .metrics
        .iter()
        .filter(|d| LIVE_METRICS.contains(&d.metric_name.as_str()))
        .cloned()
        .collect();
    ports.metrics.publish(&published)?;
    Ok(FoldOutcome {
        object: object.name.clone(),
        hour,
        folded,
        hour_rows: hour_profile.profile.item_count,
        objects_in_hour: hour_profile.objects.len(),
        drifted_features: live.drift.drifted,
        compared_features: live.drift.compared,
        published: published.len(),
        error: file.error,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::demo;
    use crate::memory::{MemoryMetrics, MemoryReports, MemorySource, MemoryState};
    use crate::ports::CaptureSource;
    use crate::testing::DemoCase;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, h, m, 0).unwrap()
    }

    fn target() -> Target {
        Target {
            endpoint: demo::ENDPOINT.into(),
            variant: demo::VARIANT.into(),
            schedule: "hourly".into(),
        }
    }

    /// An hourly schedule: 5 minutes' settle, 24 windows a run, 20 minutes' lease.
    fn hourly() -> ScheduleSettings {
        ScheduleSettings {
            settle: Duration::minutes(5),
            max_windows: 24,
            lease: Duration::minutes(20),
        }
    }

    /// A claim by `run_id` at `at`, not committed.
    fn claimed(run_id: &str, at: DateTime<Utc>) -> WindowMarker {
        WindowMarker {
            status: MarkerStatus::Claimed,
            run_id: run_id.into(),
            claimed_at: at,
            summary: None,
            withheld: None,
        }
    }

    /// The run's ports with captures only (no ground truth, constraints or estimate).
    /// Empty report, metric and state stores for one test's run.
    fn stores() -> (MemoryReports, MemoryMetrics, MemoryState) {
        Default::default()
    }

    fn captures_only<'p>(
        source: &'p MemorySource,
        reports: &'p dyn ReportStore,
        metrics: &'p dyn MetricSink,
        state: &'p dyn StateStore,
    ) -> RunPorts<'p> {
        RunPorts {
            sources: Sources {
                captures: source,
                ground_truth: None,
                quality_constraints: None,
                estimate: None,
                partials: None,
            },
            reports,
            metrics,
            state,
        }
    }

    #[test]
    fn due_windows_are_the_closed_hours_since_the_last_commit() {
        let settle = Duration::minutes(5);
        // Nothing committed: only the last closed hour, once settled.
        assert_eq!(
            windows_due(at(14, 3), None, settle, 24),
            vec![Window {
                start: at(12, 0),
                end: at(13, 0)
            }]
        );
        assert_eq!(
            windows_due(at(14, 6), None, settle, 24),
            vec![Window {
                start: at(13, 0),
                end: at(14, 0)
            }]
        );
        // Caught up: nothing; behind: every missed hour, oldest first, bounded.
        assert!(windows_due(at(14, 30), Some(at(14, 0)), settle, 24).is_empty());
        let missed = windows_due(at(14, 30), Some(at(10, 0)), settle, 24);
        assert_eq!(
            missed.iter().map(|w| w.start).collect::<Vec<_>>(),
            vec![at(10, 0), at(11, 0), at(12, 0), at(13, 0)]
        );
        assert_eq!(windows_due(at(14, 30), Some(at(10, 0)), settle, 2).len(), 2);
    }

    #[test]
    fn claims_are_decided_by_marker_and_lease() {
        let lease = Duration::minutes(20);
        let marker = |status, claimed_at| WindowMarker {
            status,
            run_id: "r".into(),
            claimed_at,
            summary: None,
            withheld: None,
        };
        assert_eq!(claim_decision(None, at(14, 0), lease), ClaimDecision::Claim);
        let committed = marker(MarkerStatus::Committed, at(10, 0));
        assert_eq!(
            claim_decision(Some(&committed), at(14, 0), lease),
            ClaimDecision::AlreadyCommitted
        );
        let live = marker(MarkerStatus::Claimed, at(13, 50));
        assert_eq!(claim_decision(Some(&live), at(14, 0), lease), ClaimDecision::InProgress);
        assert_eq!(claim_decision(Some(&live), at(14, 10), lease), ClaimDecision::TakeOver);
    }

    #[test]
    fn a_window_is_evaluated_and_published_once() {
        let case = DemoCase::first_hour();
        let (reports, metrics, state) = stores();
        let ports = captures_only(&case.captures, &reports, &metrics, &state);
        let t = target();
        let window = case.hour(4);
        let config = EvaluationConfig::default();
        let now = window.end + Duration::minutes(10);
        let lease = Duration::minutes(20);
        let first = commit_window_once(&ports, &t, &window, &case.baseline, &config, "run-1", now, lease).unwrap();
        assert_eq!(first.decision, WindowDecision::Evaluated);
        let summary = first.summary.clone().unwrap();
        assert_eq!(summary.rows, demo::RECORDS_PER_HOUR as u64);
        assert!(
            summary.drifted_features >= 1,
            "hour 4 is after the injected drift: {summary:?}"
        );
        let published = metrics.data.lock().unwrap().len();
        assert_eq!(first.published, published);
        // One datum for "any feature drifted": the largest of the per-feature drift data.
        {
            let data = metrics.data.lock().unwrap();
            let per_feature = data
                .iter()
                .filter(|d| d.metric_name.starts_with("feature_baseline_drift_"))
                .map(|d| d.value)
                .fold(f64::NEG_INFINITY, f64::max);
            let max: Vec<f64> = data
                .iter()
                .filter(|d| d.metric_name == "dataset_max_feature_drift")
                .map(|d| d.value)
                .collect();
            assert_eq!(max, vec![per_feature]);
            assert!(per_feature > 0.1, "hour 4 drifted: {per_feature}");
        }
        assert!(published > 10);
        let folder = t.report_folder(&window);
        let drift_report = reports.files.lock().unwrap()[&format!("{folder}/drift.json")].clone();
        // The prediction history recorded the window, and its assessment is in the reports.
        let (history, _) = state.get(&t.history_key()).unwrap().expect("history written");
        let history = crate::history::PredictionHistory::from_json(std::str::from_utf8(&history).unwrap()).unwrap();
        assert!(
            history
                .at(window.start)
                .is_some_and(|w| w.invocations == demo::RECORDS_PER_HOUR as u64)
        );
        assert!(
            reports
                .files
                .lock()
                .unwrap()
                .contains_key(&format!("{folder}/{}", report::HISTORY_FILE))
        );
        // Again (a re-run of the schedule, or a retry): nothing evaluated, nothing published twice.
        let again = commit_window_once(&ports, &t, &window, &case.baseline, &config, "run-2", now, lease).unwrap();
        assert_eq!(again.decision, WindowDecision::AlreadyCommitted);
        assert_eq!(again.published, 0);
        assert_eq!(again.summary, Some(summary));
        assert_eq!(metrics.data.lock().unwrap().len(), published);
        assert_eq!(
            reports.files.lock().unwrap()[&format!("{folder}/drift.json")],
            drift_report
        );
        assert_eq!(last_window_end(&state, &t).unwrap(), Some(window.end));
        assert!(windows_due(now, Some(window.end), Duration::minutes(5), 24).is_empty());
    }

    #[test]
    fn a_window_the_history_cannot_take_is_still_evaluated_and_reported() {
        let case = DemoCase::first_hour();
        let (reports, metrics, state) = stores();
        let ports = captures_only(&case.captures, &reports, &metrics, &state);
        let (t, config) = (target(), EvaluationConfig::default());
        let hour = case.hour(4);
        let recorded = evaluate_and_record(
            &ports.sources,
            &reports,
            &state,
            &t,
            &hour,
            &case.baseline,
            &config,
            &mut |_, _, _| {},
        )
        .unwrap();
        assert!(recorded.history.is_some() && recorded.evaluation.summary.history_not_recorded.is_none());
        // Then two hours at once (as a calendar month after a shorter one): another window length.
        let longer = Window::new(hour.start, hour.end + Duration::hours(1)).unwrap();
        let other = MemoryReports::default();
        let recorded = evaluate_and_record(
            &ports.sources,
            &other,
            &state,
            &t,
            &longer,
            &case.baseline,
            &config,
            &mut |_, _, _| {},
        )
        .unwrap();
        assert!(recorded.history.is_none());
        let reason = recorded.evaluation.summary.history_not_recorded.clone().unwrap();
        assert!(
            reason.contains("keeps windows of 3600 s but this window lasts 7200 s"),
            "{reason}"
        );
        assert_eq!(recorded.evaluation.summary.rows, 2 * demo::RECORDS_PER_HOUR as u64);
        let files = other.files.lock().unwrap();
        assert!(files.contains_key("drift.json") && !files.contains_key(report::HISTORY_FILE));
        let summary: serde_json::Value = serde_json::from_slice(&files[report::SUMMARY_FILE]).unwrap();
        assert_eq!(summary["summary"]["history_not_recorded"], serde_json::json!(reason));
    }

    #[test]
    fn a_live_claim_is_left_alone_and_a_dead_one_taken_over() {
        let case = DemoCase::first_hour();
        let (reports, metrics, state) = stores();
        let ports = captures_only(&case.captures, &reports, &metrics, &state);
        let t = target();
        let window = case.hour(0);
        let claimed_at = window.end + Duration::minutes(6);
        let dead = claimed("crashed", claimed_at);
        state.put_if(&t.marker_key(&window), &to_json(&dead), None).unwrap();
        let lease = Duration::minutes(20);
        let config = EvaluationConfig::default();
        let soon = claimed_at + Duration::minutes(5);
        let busy = commit_window_once(&ports, &t, &window, &case.baseline, &config, "r2", soon, lease).unwrap();
        assert_eq!((busy.decision, busy.published), (WindowDecision::InProgress, 0));
        assert!(metrics.data.lock().unwrap().is_empty());
        let later = claimed_at + Duration::minutes(25);
        let took = commit_window_once(&ports, &t, &window, &case.baseline, &config, "r3", later, lease).unwrap();
        assert_eq!(took.decision, WindowDecision::Evaluated);
        let (marker, _) = read_json::<WindowMarker>(&state, &t.marker_key(&window))
            .unwrap()
            .unwrap();
        assert_eq!((marker.status, marker.run_id.as_str()), (MarkerStatus::Committed, "r3"));
    }

    /// A state store whose first create-only write loses, as when another event of the same hour wrote first.
    struct Contended {
        inner: MemoryState,
        lost: Mutex<bool>,
    }

    impl StateStore for Contended {
        fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, PortError> {
            self.inner.get(key)
        }

        fn put_if(&self, key: &str, body: &[u8], expected: Option<&String>) -> Result<String, PortError> {
            let mut lost = self.lost.lock().unwrap();
            if !*lost {
                *lost = true;
                // The other writer's object: an hour with another file already folded.
                let other = HourProfile {
                    hour: Utc::now(),
                    objects: ["other.jsonl".to_owned()].into(),
                    skipped: 0,
                    profile: DatasetProfile::new(std::iter::empty()),
                };
                self.inner.put_if(key, &to_json(&other), None)?;
            }
            self.inner.put_if(key, body, expected)
        }
    }

    use std::sync::Mutex;

    #[test]
    fn new_objects_are_folded_into_their_hour_once() {
        let case = DemoCase::first_hour();
        let (reports, metrics) = (MemoryReports::default(), MemoryMetrics::default());
        let state = Contended {
            inner: MemoryState::default(),
            lost: Mutex::new(false),
        };
        let ports = captures_only(&case.captures, &reports, &metrics, &state);
        let t = target();
        let window = case.hour(4);
        let hour = window.start;
        let objects = case.captures.list(Some(&window)).unwrap();
        assert!(!objects.is_empty());
        let config = EvaluationConfig::default();
        let first = fold_object(
            &ports,
            &t,
            &objects[0],
            &case.baseline,
            &config,
            hour + Duration::minutes(7),
        )
        .unwrap();
        assert!(first.folded);
        // The first write lost to another writer; the retry kept both objects.
        assert_eq!(first.objects_in_hour, 2);
        assert!(first.hour_rows > 0 && first.hour_rows <= demo::RECORDS_PER_HOUR as u64);
        assert!(first.drifted_features >= 1, "{first:?}");
        let published = metrics.data.lock().unwrap().clone();
        assert_eq!(published.len(), first.published);
        assert!(published.iter().all(|d| d.dimensions[1].1 == "hourly-live"));
        let names: Vec<&str> = published.iter().map(|d| d.metric_name.as_str()).collect();
        assert_eq!(names, LIVE_METRICS, "only what the live alarm and dashboards read");
        let live = format!("{}/live/drift.json", t.report_folder(&window));
        assert!(reports.files.lock().unwrap().contains_key(&live));
        // The same event again: not folded twice.
        let again = fold_object(
            &ports,
            &t,
            &objects[0],
            &case.baseline,
            &config,
            hour + Duration::minutes(8),
        )
        .unwrap();
        assert!(!again.folded);
        assert_eq!((again.hour_rows, again.objects_in_hour), (first.hour_rows, 2));
    }

    /// A sink that fails every publication of data stamped at `failing`, as CloudWatch does a request it refuses.
    struct Refusing {
        inner: MemoryMetrics,
        failing: Mutex<Option<DateTime<Utc>>>,
    }

    impl MetricSink for Refusing {
        fn publish(&self, data: &[crate::metrics::MetricDatum]) -> Result<(), PortError> {
            if data.iter().any(|d| Some(d.timestamp) == *self.failing.lock().unwrap()) {
                return Err(PortError::new(
                    "publishing",
                    "ns",
                    PortErrorKind::Other,
                    "InvalidParameterValue",
                ));
            }
            self.inner.publish(data)
        }
    }

    #[test]
    fn a_failing_window_is_recorded_and_retried_without_stopping_the_later_ones() {
        let case = DemoCase::first_hour();
        let (reports, state) = (MemoryReports::default(), MemoryState::default());
        let metrics = Refusing {
            inner: MemoryMetrics::default(),
            failing: Mutex::new(Some(case.hour(1).end)),
        };
        let ports = captures_only(&case.captures, &reports, &metrics, &state);
        let (t, config) = (target(), EvaluationConfig::default());
        let settings = hourly();
        // Hours 0..3 due at once: hour 1's publication fails, the others are committed.
        let now = case.hour(2).end + Duration::minutes(10);
        state
            .put_if(
                &t.last_window_key(),
                &to_json(&LastWindow {
                    end: case.hour(0).start,
                    failed: Vec::new(),
                    deferred: Vec::new(),
                }),
                None,
            )
            .unwrap();
        let first = run_windows(&ports, &t, &case.baseline, &config, &settings, None, "r1", now).unwrap();
        let decisions: Vec<_> = first.iter().map(|o| (o.window, o.decision)).collect();
        assert_eq!(
            decisions,
            vec![
                (case.hour(0), WindowDecision::Evaluated),
                (case.hour(1), WindowDecision::Failed),
                (case.hour(2), WindowDecision::Evaluated)
            ]
        );
        assert!(first[1].error.as_deref().unwrap().contains("InvalidParameterValue"));
        let (last, _) = read_json::<LastWindow>(&state, &t.last_window_key()).unwrap().unwrap();
        assert_eq!(last.end, case.hour(2).end);
        assert_eq!(
            (last.failed.len(), last.failed[0].window, last.failed[0].attempts),
            (1, case.hour(1), 1)
        );

        // The next run retries it first (after its claim's lease), still failing: one more attempt, nothing lost.
        let later = now + Duration::hours(1);
        let second = run_windows(&ports, &t, &case.baseline, &config, &settings, None, "r2", later).unwrap();
        let decisions: Vec<_> = second.iter().map(|o| (o.window, o.decision)).collect();
        assert_eq!(
            decisions,
            vec![
                (case.hour(1), WindowDecision::Failed),
                (case.hour(3), WindowDecision::Evaluated)
            ]
        );
        let (last, _) = read_json::<LastWindow>(&state, &t.last_window_key()).unwrap().unwrap();
        assert_eq!((last.end, last.failed[0].attempts), (case.hour(3).end, 2));

        // CloudWatch accepts again: the retry commits it and the record forgets it.
        *metrics.failing.lock().unwrap() = None;
        let third = run_windows(
            &ports,
            &t,
            &case.baseline,
            &config,
            &settings,
            None,
            "r3",
            later + Duration::hours(1),
        )
        .unwrap();
        assert_eq!(
            (third[0].window, third[0].decision),
            (case.hour(1), WindowDecision::Evaluated)
        );
        let (last, _) = read_json::<LastWindow>(&state, &t.last_window_key()).unwrap().unwrap();
        assert!(last.failed.is_empty(), "{last:?}");
        assert_eq!(third[1].window, case.hour(4));
        // Every hour published, each once: no metric twice at one timestamp.
        let published = metrics.inner.data.lock().unwrap();
        for k in 0..5 {
            let names: Vec<(&str, &str)> = published
                .iter()
                .filter(|d| d.timestamp == case.hour(k).end)
                .map(|d| (d.namespace.as_str(), d.metric_name.as_str()))
                .collect();
            let distinct: std::collections::BTreeSet<_> = names.iter().collect();
            assert!(names.len() > 10 && distinct.len() == names.len(), "hour {k}: {names:?}");
        }
    }

    #[test]
    fn a_window_evaluated_after_two_weeks_is_committed_without_its_metrics() {
        let case = DemoCase::first_hour();
        let (reports, metrics, state) = stores();
        let ports = captures_only(&case.captures, &reports, &metrics, &state);
        let t = target();
        let window = case.hour(0);
        let now = window.end + Duration::days(15);
        let outcome = commit_window_once(
            &ports,
            &t,
            &window,
            &case.baseline,
            &EvaluationConfig::default(),
            "late",
            now,
            Duration::minutes(20),
        )
        .unwrap();
        assert_eq!((outcome.decision, outcome.published), (WindowDecision::Evaluated, 0));
        let withheld = outcome.withheld.clone().unwrap();
        assert!(
            withheld.too_old > 10 && withheld.reason.contains("14 days"),
            "{withheld:?}"
        );
        assert!(
            metrics.data.lock().unwrap().is_empty(),
            "nothing sent that CloudWatch refuses"
        );
        // The reports are written and the window committed, with the reason on its marker.
        let folder = t.report_folder(&window);
        assert!(
            reports
                .files
                .lock()
                .unwrap()
                .contains_key(&format!("{folder}/drift.json"))
        );
        let (marker, _) = read_json::<WindowMarker>(&state, &t.marker_key(&window))
            .unwrap()
            .unwrap();
        assert_eq!(
            (marker.status, marker.withheld),
            (MarkerStatus::Committed, Some(withheld))
        );
        assert_eq!(last_window_end(&state, &t).unwrap(), Some(window.end));
    }

    #[test]
    fn retries_come_first_are_bounded_and_given_up_after_the_attempts() {
        let settings = ScheduleSettings {
            settle: Duration::minutes(5),
            max_windows: 2,
            lease: Duration::minutes(20),
        };
        let w = |h: u32| Window {
            start: at(h, 0),
            end: at(h + 1, 0),
        };
        let failed = |h: u32, attempts: u32| FailedWindow {
            window: w(h),
            attempts,
            error: "e".into(),
            last_attempt: at(h + 1, 10),
        };
        let last = LastWindow {
            end: at(10, 0),
            failed: vec![
                failed(1, MAX_WINDOW_ATTEMPTS),
                failed(2, 1),
                failed(3, 1),
                failed(4, 2),
                failed(5, 1),
            ],
            deferred: vec![w(7), w(10)],
        };
        let due = due_windows(at(14, 30), Some(&last), &settings);
        // The deferred hours, three retries (the given-up hour 1 is not one), then the new hours; hour 10 once.
        assert_eq!(due, vec![w(7), w(10), w(2), w(3), w(4), w(11)]);
    }

    /// A run claims hour 1 and dies (its claim stays); the next run comes within the claim's lease, passes it as
    /// in progress and commits hour 2. Hour 1 is not lost: it is deferred, and a run after the lease takes it over.
    #[test]
    fn a_window_held_by_a_dead_run_is_taken_over_after_later_windows_commit() {
        let case = DemoCase::first_hour();
        let (reports, metrics, state) = stores();
        let ports = captures_only(&case.captures, &reports, &metrics, &state);
        let (t, config) = (target(), EvaluationConfig::default());
        let settings = hourly();
        let first = case.hour(1).end + Duration::minutes(10);
        let hour0 = commit_window_once(
            &ports,
            &t,
            &case.hour(0),
            &case.baseline,
            &config,
            "r1",
            first,
            settings.lease,
        );
        assert_eq!(hour0.unwrap().decision, WindowDecision::Evaluated);
        // The run that claimed hour 1 five minutes before the next one came died holding it.
        let soon = case.hour(2).end + Duration::minutes(6);
        let dead = claimed("r1", soon - Duration::minutes(5));
        state
            .put_if(&t.marker_key(&case.hour(1)), &to_json(&dead), None)
            .unwrap();

        let second = run_windows(&ports, &t, &case.baseline, &config, &settings, None, "r2", soon).unwrap();
        let decisions: Vec<_> = second.iter().map(|o| (o.window, o.decision)).collect();
        assert_eq!(
            decisions,
            vec![
                (case.hour(1), WindowDecision::InProgress),
                (case.hour(2), WindowDecision::Evaluated)
            ]
        );
        let (last, _) = read_json::<LastWindow>(&state, &t.last_window_key()).unwrap().unwrap();
        assert_eq!(
            (last.end, last.deferred.clone()),
            (case.hour(2).end, vec![case.hour(1)])
        );

        let later = soon + settings.lease;
        let third = run_windows(&ports, &t, &case.baseline, &config, &settings, None, "r3", later).unwrap();
        assert_eq!(
            (third[0].window, third[0].decision),
            (case.hour(1), WindowDecision::Evaluated)
        );
        let (last, _) = read_json::<LastWindow>(&state, &t.last_window_key()).unwrap().unwrap();
        assert!(last.deferred.is_empty(), "{last:?}");
        // Every hour published once.
        let published = metrics.data.lock().unwrap();
        for k in 0..3 {
            let count = published
                .iter()
                .filter(|d| d.timestamp == case.hour(k).end && d.metric_name == "dataset_item_count")
                .count();
            assert_eq!(count, 1, "hour {k}");
        }
    }

    /// A first run that finds its window held records it, so that the next run, an hour later, still looks at it
    /// (without a record, it would start at the hour just closed).
    #[test]
    fn a_first_window_held_by_another_run_is_recorded_for_the_next() {
        let case = DemoCase::first_hour();
        let (reports, metrics, state) = stores();
        let ports = captures_only(&case.captures, &reports, &metrics, &state);
        let (t, config) = (target(), EvaluationConfig::default());
        let settings = hourly();
        let now = case.hour(0).end + Duration::minutes(10);
        let held = claimed("dead", now);
        state
            .put_if(&t.marker_key(&case.hour(0)), &to_json(&held), None)
            .unwrap();
        let first = run_windows(&ports, &t, &case.baseline, &config, &settings, None, "r1", now).unwrap();
        assert_eq!(
            (first[0].window, first[0].decision),
            (case.hour(0), WindowDecision::InProgress)
        );
        let next = now + Duration::hours(1);
        let second = run_windows(&ports, &t, &case.baseline, &config, &settings, None, "r2", next).unwrap();
        let decisions: Vec<_> = second.iter().map(|o| (o.window, o.decision)).collect();
        assert_eq!(
            decisions,
            vec![
                (case.hour(0), WindowDecision::Evaluated),
                (case.hour(1), WindowDecision::Evaluated)
            ]
        );
    }

    /// A window deferred because another run held it leaves the list when that run commits it.
    #[test]
    fn a_deferred_window_committed_by_its_holder_leaves_the_list() {
        let case = DemoCase::first_hour();
        let (reports, metrics, state) = stores();
        let ports = captures_only(&case.captures, &reports, &metrics, &state);
        let (t, config) = (target(), EvaluationConfig::default());
        let settings = hourly();
        let now = case.hour(0).end + Duration::minutes(10);
        let live = claimed("other", now);
        let key = t.marker_key(&case.hour(0));
        let claimed = state.put_if(&key, &to_json(&live), None).unwrap();
        state
            .put_if(
                &t.last_window_key(),
                &to_json(&LastWindow {
                    end: case.hour(0).start,
                    failed: Vec::new(),
                    deferred: Vec::new(),
                }),
                None,
            )
            .unwrap();
        let held = run_windows(&ports, &t, &case.baseline, &config, &settings, None, "r1", now).unwrap();
        assert_eq!(held[0].decision, WindowDecision::InProgress);
        let (last, _) = read_json::<LastWindow>(&state, &t.last_window_key()).unwrap().unwrap();
        assert_eq!(last.deferred, vec![case.hour(0)]);
        // The holder commits it; the next run finds it committed and forgets it, publishing nothing.
        let committed = WindowMarker {
            status: MarkerStatus::Committed,
            ..live
        };
        state.put_if(&key, &to_json(&committed), Some(&claimed)).unwrap();
        let next = now + Duration::minutes(1);
        let after = run_windows(&ports, &t, &case.baseline, &config, &settings, None, "r2", next).unwrap();
        assert_eq!(
            (after[0].window, after[0].decision, after[0].published),
            (case.hour(0), WindowDecision::AlreadyCommitted, 0)
        );
        let (last, _) = read_json::<LastWindow>(&state, &t.last_window_key()).unwrap().unwrap();
        assert!(last.deferred.is_empty(), "{last:?}");
    }

    #[test]
    fn schedule_settings_out_of_range_are_refused_with_the_field() {
        let good = ScheduleSettings {
            settle: Duration::minutes(5),
            max_windows: 24,
            lease: Duration::minutes(20),
        };
        good.validate().unwrap();
        let cases = [
            (
                ScheduleSettings { max_windows: 0, ..good },
                "max_windows: 0 is outside [1, inf)",
            ),
            (
                ScheduleSettings {
                    settle: Duration::minutes(-1),
                    ..good
                },
                "settle: -1 minutes is outside [0, inf)",
            ),
            (
                ScheduleSettings {
                    lease: Duration::zero(),
                    ..good
                },
                "lease: 0 minutes is outside (0, inf)",
            ),
        ];
        for (settings, expected) in cases {
            assert_eq!(settings.validate().unwrap_err().to_string(), expected);
        }
    }
}
