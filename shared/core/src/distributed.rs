//! Windows too large for one invocation, evaluated by many: a run's plan, each batch read by its own invocation
//! into a partial stored under the run, and each window reduced from all its partials and committed once.
//!
//! The engine that runs the steps and retries them (AWS Step Functions' Distributed Map) is an adapter's; what is
//! decided is decided here, over the ports:
//!
//! - [`plan_run`] lists each window's capture objects (the source's listing, every page of it) and cuts them into
//!   batches of at most `max_batch_bytes` ([`DEFAULT_BATCH_BYTES`]); the plan is stored under the run, and the
//!   engine's items are its `(window, batch)` pairs ([`RunPlan::items`]).
//! - [`read_planned_batch`] reads one batch into its [`WindowPartial`] (on every core) and stores it at
//!   [`partial_key`]; a batch read again finds its partial there and keeps it (reading is deterministic).
//! - [`reduce_window`] checks that every planned partial of a window is there (one missing: nothing is committed,
//!   the error says which, and the engine retries), merges them in the planned order with the window's ground truth
//!   and commits the window once with the scheduled run's protocol ([`monitor::commit_window_once`]: claim,
//!   reports, metrics, marker, last window), recording its predictions in the history. The engine reduces the
//!   windows in order, so the history takes them hour by hour.
//!
//! Who starts a run: evaluate-captures, for a backfill request and for a scheduled window of more bytes than one
//! invocation should read ([`route`]), under a name made of the window and its attempt ([`run_name`]), so that
//! starting it again is answered with the same run; or a person, with the state machine's input ([`RunInput`]).
//!
//! The reports equal one invocation's (see [`crate::evaluate::partial`] for what is exact and what agrees within
//! the sketches' error).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::baseline::Baseline;
use crate::evaluate::{Batch, EvaluationConfig, Sources, WindowPartial, plan_batches, read_batch};
use crate::monitor::{
    self, MarkerStatus, MonitorError, Routed, RunPorts, Target, WindowDecision, WindowMarker, WindowOutcome,
};
use crate::ports::{PortError, PortErrorKind};
use crate::state::{StateError, read_json, to_json};
use crate::window::Window;

/// The bytes of captures one invocation reads at most: at S3's 75-100 MB/s for one stream, about a minute; still
/// under ten minutes at 10 MB/s, within Lambda's 15-minute limit.
pub const DEFAULT_BATCH_BYTES: u64 = 4 << 30;

/// A run's windows and their batches, stored under the run ([`plan_key`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPlan {
    pub run_id: String,
    /// Each window (in order) with its batches; a window without captures has none, and is evaluated as one
    /// invocation evaluates an empty window.
    pub windows: Vec<WindowPlan>,
}

/// One window's batches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowPlan {
    pub window: Window,
    pub batches: Vec<Batch>,
}

/// One item of the engine's map: batch `batch` of window `window` (indices into the plan).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub window: usize,
    pub batch: usize,
}

impl RunPlan {
    /// The batches to read, window by window.
    pub fn items(&self) -> Vec<Item> {
        self.windows
            .iter()
            .enumerate()
            .flat_map(|(window, w)| (0..w.batches.len()).map(move |batch| Item { window, batch }))
            .collect()
    }

    /// The bytes planned.
    pub fn bytes(&self) -> u64 {
        self.windows.iter().flat_map(|w| &w.batches).map(|b| b.bytes).sum()
    }
}

/// The key of a run's plan in the state store.
pub fn plan_key(target: &Target, run_id: &str) -> String {
    format!("{}/{}/runs/{run_id}/plan.json", target.endpoint, target.variant)
}

/// The key of a batch's partial in the state store.
pub fn partial_key(target: &Target, run_id: &str, window: &Window, batch: usize) -> String {
    format!(
        "{}/{}/runs/{run_id}/{}/{batch:05}.json",
        target.endpoint,
        target.variant,
        window.start.format("%Y/%m/%d/%H")
    )
}

/// Lists `windows`' captures, plans their batches and stores the plan (a plan already stored for the run, by an
/// earlier attempt, is the one used: its items may be running).
///
/// # Errors
///
/// A [`MonitorError`] when the source cannot be listed or the state cannot be read or written.
pub fn plan_run(
    ports: &RunPorts<'_>,
    target: &Target,
    run_id: &str,
    windows: &[Window],
    max_batch_bytes: u64,
) -> Result<RunPlan, MonitorError> {
    let key = plan_key(target, run_id);
    if let Some((plan, _)) = read_json::<RunPlan>(ports.state, &key)? {
        return Ok(plan);
    }
    let mut plan = RunPlan {
        run_id: run_id.to_owned(),
        windows: Vec::with_capacity(windows.len()),
    };
    for window in windows {
        let objects = ports.sources.captures.list(Some(window))?;
        plan.windows.push(WindowPlan {
            window: *window,
            batches: plan_batches(window, &objects, max_batch_bytes),
        });
    }
    let items = plan.items().len();
    if items > MAX_ITEMS {
        return Err(PortError::new(
            "planning",
            key,
            PortErrorKind::Other,
            format!("{items} batches, more than the {MAX_ITEMS} a run carries: cut the backfill into shorter runs"),
        )
        .into());
    }
    match ports.state.put_if(&key, &to_json(&plan), None) {
        Ok(_) => Ok(plan),
        // Another attempt stored its plan first: that one is the run's.
        Err(e) if e.kind == PortErrorKind::Conflict => Ok(read_json::<RunPlan>(ports.state, &key)?
            .map(|(p, _)| p)
            .ok_or(StateError::Contended { key, attempts: 1 })?),
        Err(e) => Err(e.into()),
    }
}

/// The plan stored for `run_id`.
///
/// # Errors
///
/// A [`MonitorError`] when there is none (the run was not planned) or the state cannot be read.
pub fn stored_plan(ports: &RunPorts<'_>, target: &Target, run_id: &str) -> Result<RunPlan, MonitorError> {
    let key = plan_key(target, run_id);
    match read_json::<RunPlan>(ports.state, &key)? {
        Some((plan, _)) => Ok(plan),
        None => Err(PortError::new("reading", key, PortErrorKind::NotFound, "the run has no plan").into()),
    }
}

/// Reads the batch `item` of `plan` into its partial and stores it; returns the partial's key.
///
/// # Errors
///
/// A [`MonitorError`] when the item is not in the plan, an object is there but cannot be read, or the partial
/// cannot be stored.
pub fn read_planned_batch(
    ports: &RunPorts<'_>,
    target: &Target,
    plan: &RunPlan,
    item: Item,
    baseline: &Baseline,
    config: &EvaluationConfig,
) -> Result<String, MonitorError> {
    let window = plan.windows.get(item.window);
    let batch = window.and_then(|w| w.batches.get(item.batch)).ok_or_else(|| {
        PortError::new(
            "planning",
            format!("run {} item {item:?}", plan.run_id),
            PortErrorKind::Other,
            "the item is not in the run's plan",
        )
    })?;
    let key = partial_key(target, &plan.run_id, &batch.window, batch.index);
    if ports.state.get(&key)?.is_some() {
        return Ok(key);
    }
    let partial = read_batch(ports.sources.captures, batch, baseline, config, ports.sources.estimate)?;
    let body = serde_json::to_vec(&partial).expect("a partial is plain data");
    match ports.state.put_if(&key, &body, None) {
        // Written by an earlier attempt of the same batch in the meantime: the same partial.
        Ok(_) => Ok(key),
        Err(e) if e.kind == PortErrorKind::Conflict => Ok(key),
        Err(e) => Err(e.into()),
    }
}

/// Evaluates window `window` of `plan` from its partials and commits it once (see the module docs).
///
/// # Errors
///
/// A [`MonitorError`] naming the first planned partial that is missing or unreadable (nothing is committed), or
/// the first port that failed in the commit.
#[allow(clippy::too_many_arguments)]
pub fn reduce_window(
    ports: &RunPorts<'_>,
    target: &Target,
    plan: &RunPlan,
    window: usize,
    baseline: &Baseline,
    config: &EvaluationConfig,
    now: DateTime<Utc>,
    lease: chrono::Duration,
) -> Result<WindowOutcome, MonitorError> {
    let Some(planned) = plan.windows.get(window) else {
        return Err(PortError::new(
            "reducing",
            format!("run {} window {window}", plan.run_id),
            PortErrorKind::Other,
            "the window is not in the run's plan",
        )
        .into());
    };
    let mut partials = Vec::with_capacity(planned.batches.len());
    for batch in &planned.batches {
        let key = partial_key(target, &plan.run_id, &planned.window, batch.index);
        let partial = read_json::<WindowPartial>(ports.state, &key)?.ok_or_else(|| {
            PortError::new(
                "reducing",
                key.clone(),
                // Retryable: the run's batches are read again (each keeps its partial once stored).
                PortErrorKind::Other,
                format!(
                    "batch {} of {} was not read: the window is not committed",
                    batch.index,
                    planned.batches.len()
                ),
            )
        })?;
        partials.push(partial.0);
    }
    let ports = RunPorts {
        sources: Sources {
            partials: Some(&partials),
            ..ports.sources
        },
        ..*ports
    };
    monitor::commit_window_once(
        &ports,
        target,
        &planned.window,
        baseline,
        config,
        &plan.run_id,
        now,
        lease,
    )
}

/// The batches a run may plan at most: the engine's items travel in the state's input, which Step Functions
/// limits to 256 KiB (an item is about 25 bytes of JSON). A longer backfill is cut into several runs.
pub const MAX_ITEMS: usize = 5_000;

/// Where reducing a run's windows stopped: the next window to reduce, and whether none is left.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reduced {
    pub next: usize,
    pub done: bool,
    /// What each window reduced in this call did.
    pub outcomes: Vec<WindowOutcome>,
}

/// Reduces the windows of `plan` in order from `next` while `more_time` says there is time for another (at least
/// one is reduced): the engine calls again from [`Reduced::next`] until [`Reduced::done`].
///
/// # Errors
///
/// The first window's [`MonitorError`] (see [`reduce_window`]); the windows before it stay committed, and a call
/// from the same `next` takes up from the failed one.
#[allow(clippy::too_many_arguments)]
pub fn reduce_windows(
    ports: &RunPorts<'_>,
    target: &Target,
    plan: &RunPlan,
    next: usize,
    baseline: &Baseline,
    config: &EvaluationConfig,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    more_time: &mut dyn FnMut() -> bool,
) -> Result<Reduced, MonitorError> {
    let mut reduced = Reduced {
        next,
        done: next >= plan.windows.len(),
        outcomes: Vec::new(),
    };
    while !reduced.done && (reduced.outcomes.is_empty() || more_time()) {
        let outcome = reduce_window(ports, target, plan, reduced.next, baseline, config, now, lease)?;
        reduced.outcomes.push(outcome);
        reduced.next += 1;
        reduced.done = reduced.next >= plan.windows.len();
    }
    Ok(reduced)
}

/// The state machine's input: the endpoint variant and the window, as a person starts it too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInput {
    pub endpoint: String,
    pub variant: String,
    pub window: RunWindow,
}

/// A window's bounds, RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunWindow {
    pub start: String,
    pub end: String,
}

impl RunInput {
    /// The input of a run of `target`'s `window`.
    pub fn new(target: &Target, window: &Window) -> Self {
        RunInput {
            endpoint: target.endpoint.clone(),
            variant: target.variant.clone(),
            window: RunWindow {
                start: window.start.to_rfc3339(),
                end: window.end.to_rfc3339(),
            },
        }
    }
}

/// Longest execution name Step Functions takes (StartExecution, `name`: 1-80 characters).
pub const MAX_RUN_NAME: usize = 80;

/// The name of the run of `target`'s `window` at `attempt` (0 for the first): the same for the same window and
/// attempt, so that a repeated start is answered with the run already there; at most [`MAX_RUN_NAME`] characters
/// of letters, digits, `-` and `_` (an execution name may not hold spaces, brackets, wildcards or `"#%\^|~`$&,;:/`).
/// Endpoint and variant names are letters, digits and `-`; longer ones are cut, the hash keeps names apart.
pub fn run_name(target: &Target, window: &Window, attempt: u32) -> String {
    use std::hash::BuildHasher;
    let whole = format!(
        "{}/{}/{}/{}",
        target.endpoint,
        target.variant,
        window.start.timestamp(),
        window.end.timestamp()
    );
    let hash = foldhash::quality::FixedState::with_seed(0x6d77_7275_6e73).hash_one(&whole);
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(20)
            .collect()
    };
    let hours = (window.end - window.start).num_hours();
    format!(
        "{}-{}-{}-{hours}h-{:08x}-{attempt}",
        clean(&target.endpoint),
        clean(&target.variant),
        window.start.format("%Y%m%dT%H%M"),
        hash as u32
    )
}

/// Starts runs of the distributed evaluation (the stack's state machine).
pub trait RunStarter {
    /// Starts the run `name` with `input`.
    ///
    /// # Errors
    ///
    /// A [`PortError`] when the engine cannot be reached or refuses.
    fn start(&self, name: &str, input: &RunInput) -> Result<Started, PortError>;
}

/// What starting a run found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// Started now, or already running with the same input.
    Running,
    /// A run of this name has ended.
    Ended,
}

/// The scheduled run's choice for `window` (attempt `attempt`): `None` to evaluate it in this invocation (committed
/// already, or at most `above_bytes` of captures); else handed to the distributed evaluation's run [`run_name`]
/// ([`WindowDecision::Distributed`]), or failed when that run has ended without committing it (the next attempt
/// starts a run of a new name).
///
/// # Errors
///
/// A [`MonitorError`] when the window's marker or objects cannot be read, or the run cannot be started.
pub fn route(
    ports: &RunPorts<'_>,
    target: &Target,
    window: &Window,
    attempt: u32,
    runs: &dyn RunStarter,
    above_bytes: u64,
) -> Result<Option<Routed>, MonitorError> {
    let marker = read_json::<WindowMarker>(ports.state, &target.marker_key(window))?;
    if marker.is_some_and(|(m, _)| m.status == MarkerStatus::Committed) {
        return Ok(None);
    }
    let bytes: u64 = ports
        .sources
        .captures
        .list(Some(window))?
        .iter()
        .filter_map(|o| o.size)
        .sum();
    if bytes <= above_bytes {
        return Ok(None);
    }
    let run = run_name(target, window, attempt);
    Ok(Some(match runs.start(&run, &RunInput::new(target, window))? {
        Started::Running => Routed {
            decision: WindowDecision::Distributed,
            run,
            error: None,
        },
        Started::Ended => Routed {
            decision: WindowDecision::Failed,
            error: Some(format!(
                "the distributed run {run} ended without committing the window ({bytes} bytes of captures): the next \
                 attempt starts a new run"
            )),
            run,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::QualityConfig;
    use crate::memory::{MemoryMetrics, MemoryReports, MemorySource, MemoryState};
    use crate::monitor::WindowDecision;
    use crate::ports::{CaptureSource, StateStore};
    use crate::quality::ProblemType;
    use crate::report::SUMMARY_FILE;
    use crate::testing::DemoCase;

    /// The demo's hours, each in four files.
    fn split(case: &DemoCase) -> MemorySource {
        let mut files = Vec::new();
        for (path, body) in &case.data.captures {
            let lines: Vec<&str> = body.lines().collect();
            for (part, chunk) in lines.chunks(lines.len().div_ceil(4)).enumerate() {
                files.push((path.replace(".jsonl", &format!("-{part}.jsonl")), chunk.join("\n")));
            }
        }
        MemorySource::new(files)
    }

    /// Three hours planned in batches, every batch read (one twice, as a retried item), each window reduced in
    /// order: committed once, with the reports and summary one invocation writes; a window with a batch not read is
    /// not committed, and is once the batch is read.
    #[test]
    fn a_run_planned_read_and_reduced_commits_what_one_invocation_commits() {
        let case = DemoCase::first_hour();
        let captures = split(&case);
        let config = EvaluationConfig {
            quality: Some(QualityConfig::new(ProblemType::BinaryClassification)),
            ..EvaluationConfig::default()
        };
        let target = Target {
            endpoint: crate::demo::ENDPOINT.into(),
            variant: crate::demo::VARIANT.into(),
            schedule: "hourly".into(),
        };
        let windows: Vec<Window> = (1..4).map(|h| case.hour(h)).collect();
        let now = windows[2].end + chrono::Duration::hours(1);
        let lease = chrono::Duration::minutes(20);
        let ports = |reports, metrics, state| RunPorts {
            sources: Sources {
                captures: &captures,
                ground_truth: Some(&case.ground_truth),
                quality_constraints: None,
                estimate: None,
                partials: None,
            },
            reports,
            metrics,
            state,
        };

        // One invocation, window by window.
        let (one_reports, one_metrics, one_state) = (
            MemoryReports::default(),
            MemoryMetrics::default(),
            MemoryState::default(),
        );
        let single = ports(&one_reports, &one_metrics, &one_state);
        for w in &windows {
            let outcome =
                monitor::commit_window_once(&single, &target, w, &case.baseline, &config, "single", now, lease)
                    .unwrap();
            assert_eq!(outcome.decision, WindowDecision::Evaluated);
        }

        let (reports, metrics, state) = (
            MemoryReports::default(),
            MemoryMetrics::default(),
            MemoryState::default(),
        );
        let many = ports(&reports, &metrics, &state);
        let hour_bytes: u64 = captures
            .list(Some(&windows[0]))
            .unwrap()
            .iter()
            .filter_map(|o| o.size)
            .sum();
        let plan = plan_run(&many, &target, "run-1", &windows, hour_bytes / 2).unwrap();
        assert_eq!(
            plan_run(&many, &target, "run-1", &windows[..1], 1).unwrap(),
            plan,
            "a stored plan is the run's"
        );
        let items = plan.items();
        assert_eq!(plan.windows.len(), 3);
        assert!(plan.windows.iter().all(|w| w.batches.len() >= 2), "{:?}", plan.items());
        let listed: u64 = windows
            .iter()
            .flat_map(|w| captures.list(Some(w)).unwrap())
            .filter_map(|o| o.size)
            .sum();
        assert_eq!(plan.bytes(), listed);
        // Window 0's last batch is not read yet: the window is not committed.
        let (last_of_first, rest): (Vec<Item>, Vec<Item>) = items
            .iter()
            .partition(|i| i.window == 0 && i.batch + 1 == plan.windows[0].batches.len());
        for item in rest.iter().chain(&rest[..1]) {
            read_planned_batch(&many, &target, &plan, *item, &case.baseline, &config).unwrap();
        }
        let missing = reduce_window(&many, &target, &plan, 0, &case.baseline, &config, now, lease).unwrap_err();
        assert!(missing.to_string().contains("runs/run-1/"), "{missing}");
        assert!(
            crate::ports::error_chain(&missing).contains("was not read"),
            "{}",
            crate::ports::error_chain(&missing)
        );
        assert!(
            state.get(&target.marker_key(&windows[0])).unwrap().is_none(),
            "nothing committed"
        );
        assert!(metrics.data.lock().unwrap().is_empty(), "nothing published");

        read_planned_batch(&many, &target, &plan, last_of_first[0], &case.baseline, &config).unwrap();
        // Time for two windows in the first call, then the rest.
        let mut calls = 0;
        let mut two = || {
            calls += 1;
            calls < 2
        };
        let first = reduce_windows(&many, &target, &plan, 0, &case.baseline, &config, now, lease, &mut two).unwrap();
        assert_eq!((first.next, first.done, first.outcomes.len()), (2, false, 2));
        assert!(first.outcomes.iter().all(|o| o.decision == WindowDecision::Evaluated));
        let rest = reduce_windows(
            &many,
            &target,
            &plan,
            2,
            &case.baseline,
            &config,
            now,
            lease,
            &mut || false,
        )
        .unwrap();
        assert_eq!(
            (rest.next, rest.done, rest.outcomes[0].decision),
            (3, true, WindowDecision::Evaluated)
        );
        let again = reduce_window(&many, &target, &plan, 1, &case.baseline, &config, now, lease).unwrap();
        assert_eq!(
            again.decision,
            WindowDecision::AlreadyCommitted,
            "a retried reduce publishes nothing"
        );
        let (one_files, many_files) = (one_reports.files.lock().unwrap(), reports.files.lock().unwrap());
        assert_eq!(
            one_files.keys().collect::<Vec<_>>(),
            many_files.keys().collect::<Vec<_>>()
        );
        for w in &windows {
            let summary = format!("{}/{SUMMARY_FILE}", target.report_folder(w));
            assert_eq!(
                String::from_utf8_lossy(&one_files[&summary]),
                String::from_utf8_lossy(&many_files[&summary])
            );
            let quality = format!("{}/model-quality/statistics.json", target.report_folder(w));
            assert_eq!(one_files[&quality], many_files[&quality], "{quality}");
        }
        assert_eq!(
            one_metrics.data.lock().unwrap().len(),
            metrics.data.lock().unwrap().len()
        );
        let history = |s: &MemoryState| -> serde_json::Value {
            serde_json::from_slice(&s.get(&target.history_key()).unwrap().expect("a history").0).unwrap()
        };
        // The windows' prediction means and deviations are merged in another grouping: equal to rounding.
        crate::testing::assert_json_close(&history(&one_state), &history(&state), 1e-12);
        assert_eq!(
            history(&one_state)["windows"].as_array().map(Vec::len),
            history(&state)["windows"].as_array().map(Vec::len),
            "the history took the windows alike, in order"
        );
    }
}

#[cfg(test)]
mod routing {
    use std::sync::Mutex;

    use super::*;
    use crate::memory::{MemoryMetrics, MemoryReports, MemoryState};
    use crate::monitor::{LastWindow, ScheduleSettings, run_windows_with};
    use crate::testing::DemoCase;

    /// A starter that answers `Running` until told the runs ended, and remembers what it was asked.
    #[derive(Default)]
    struct Engine {
        started: Mutex<Vec<(String, RunInput)>>,
        ended: Mutex<Vec<String>>,
    }

    impl RunStarter for Engine {
        fn start(&self, name: &str, input: &RunInput) -> Result<Started, PortError> {
            self.started.lock().unwrap().push((name.to_owned(), input.clone()));
            Ok(match self.ended.lock().unwrap().iter().any(|n| n == name) {
                true => Started::Ended,
                false => Started::Running,
            })
        }
    }

    #[test]
    fn run_names_are_stable_short_and_apart() {
        let target = Target {
            endpoint: "a-very-long-endpoint-name-of-sixty-three-characters-in-all-xxxxx".into(),
            variant: "a-variant-name-that-is-also-very-long-indeed".into(),
            schedule: String::new(),
        };
        let case = DemoCase::first_hour();
        let (w, v) = (
            case.hour(0),
            Window::new(case.hour(0).start, case.hour(100).end).unwrap(),
        );
        let name = run_name(&target, &w, 0);
        assert_eq!(name, run_name(&target, &w, 0));
        assert!(
            name.len() <= MAX_RUN_NAME && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "{name}"
        );
        assert!(run_name(&target, &v, 12).len() <= MAX_RUN_NAME);
        let others = [run_name(&target, &w, 1), run_name(&target, &v, 0)];
        assert!(others.iter().all(|o| *o != name), "{others:?}");
        let other_variant = Target {
            variant: "a-variant-name-that-is-also-very-long-indeed-2".into(),
            ..target.clone()
        };
        assert_ne!(
            run_name(&other_variant, &w, 0),
            name,
            "cut names stay apart by the hash"
        );
    }

    /// A scheduled window above the threshold is handed to a run (recorded as deferred, looked at again), a run
    /// that ended without committing it is a failed attempt whose next try starts a run of a new name, a window at
    /// most the threshold is evaluated here, and a committed one is left alone.
    #[test]
    fn large_windows_go_to_a_run_and_a_run_that_ended_is_retried_under_a_new_name() {
        let case = DemoCase::first_hour();
        let (reports, metrics, state) = (
            MemoryReports::default(),
            MemoryMetrics::default(),
            MemoryState::default(),
        );
        let ports = RunPorts {
            sources: crate::evaluate::Sources {
                captures: &case.captures,
                ground_truth: None,
                quality_constraints: None,
                estimate: None,
                partials: None,
            },
            reports: &reports,
            metrics: &metrics,
            state: &state,
        };
        let target = Target {
            endpoint: crate::demo::ENDPOINT.into(),
            variant: crate::demo::VARIANT.into(),
            schedule: "hourly".into(),
        };
        let config = EvaluationConfig::default();
        let settings = ScheduleSettings {
            settle: chrono::Duration::minutes(5),
            max_windows: 1,
            lease: chrono::Duration::minutes(20),
        };
        let engine = Engine::default();
        let window = case.hour(2);
        let now = window.end + chrono::Duration::minutes(10);
        let run = |above: u64| {
            run_windows_with(
                &ports,
                &target,
                &case.baseline,
                &config,
                &settings,
                None,
                "r",
                now,
                &mut |w, attempt| route(&ports, &target, w, attempt, &engine, above),
            )
            .unwrap()
        };

        let first = run(1);
        assert_eq!(
            (first.len(), first[0].window, first[0].decision),
            (1, window, WindowDecision::Distributed)
        );
        let name = run_name(&target, &window, 0);
        assert_eq!(first[0].run.as_deref(), Some(name.as_str()));
        assert_eq!(
            engine.started.lock().unwrap()[0],
            (name.clone(), RunInput::new(&target, &window))
        );
        let last = |s: &MemoryState| {
            read_json::<LastWindow>(s, &target.last_window_key())
                .unwrap()
                .unwrap()
                .0
        };
        assert_eq!(last(&state).deferred, vec![window], "looked at again by the next runs");
        assert!(metrics.data.lock().unwrap().is_empty(), "nothing evaluated here");

        // Still running: the same run, asked again by name.
        assert_eq!(run(1)[0].decision, WindowDecision::Distributed);
        assert_eq!(engine.started.lock().unwrap().last().unwrap().0, name);

        // Ended without committing: a failed attempt, then a run of a new name.
        engine.ended.lock().unwrap().push(name.clone());
        let failed = run(1);
        assert_eq!(failed[0].decision, WindowDecision::Failed);
        assert!(
            failed[0].error.as_deref().unwrap().contains("ended without committing"),
            "{failed:?}"
        );
        assert_eq!(last(&state).failed[0].attempts, 1);
        let retried = run(1);
        assert_eq!(retried[0].decision, WindowDecision::Distributed);
        assert_eq!(retried[0].run, Some(run_name(&target, &window, 1)));

        // Small enough for one invocation: evaluated here, committed, and left alone after.
        let here = run(u64::MAX);
        assert_eq!((here[0].window, here[0].decision), (window, WindowDecision::Evaluated));
        assert!(last(&state).failed.is_empty() && last(&state).deferred.is_empty());
        let asked = engine.started.lock().unwrap().len();
        let committed = route(&ports, &target, &window, 0, &engine, 1).unwrap();
        assert_eq!(
            (committed, engine.started.lock().unwrap().len()),
            (None, asked),
            "a committed window is not routed"
        );
    }
}
