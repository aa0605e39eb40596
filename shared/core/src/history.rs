//! Per-window prediction history, and a seasonality-aware detector of anomalies in it.
//!
//! Each run summarises its window of predictions ([`WindowSummary`]: invocations, mean score, positive rate or class
//! shares, invalid outputs), compares it with the history kept from earlier runs, and appends it. The history is a
//! small JSON state ([`PredictionHistory`]) that the next run reads back; it keeps at most `max_windows` windows
//! (default 8 weeks of hours), dropping the oldest.
//!
//! # Detector
//!
//! For each tracked series the new window's value `x` is scored against reference windows with a robust z-score,
//! `z = (x - median) / scale`, `scale = max(1.4826 * MAD, noise floor)` (1.4826 makes the MAD a standard deviation
//! for normal data, and median and MAD ignore the odd past outlier). The reference is, in order of preference:
//!
//! 1. the same hour of the week in previous weeks ([`Baseline::HourOfWeek`]), when at least `min_reference` exist:
//!    traffic and predictions follow the week (weekends differ);
//! 2. the same hour of the day in previous days ([`Baseline::HourOfDay`]), likewise;
//! 3. the most recent `recent_windows` windows ([`Baseline::Recent`]), when at least `min_reference` exist;
//! 4. otherwise no verdict ([`Verdict::InsufficientHistory`]).
//!
//! The noise floor keeps a constant history from making every change infinite: for invocation counts the Poisson
//! noise `sqrt(median)`, for rates the binomial noise `sqrt(p (1 - p) / n)` at the current window's `n`, for the mean
//! score 1 % of the median; and never below 1e-9.
//!
//! Verdicts: a level shift when the current window and the `shift_windows - 1` windows before it (consecutive) all
//! score beyond `shift_threshold` on the same side; else a spike or drop when `|z| >= threshold`; else normal. The
//! expected range reported is `median ± threshold * scale`.
//!
//! # CloudWatch
//!
//! Under [`MODEL_METRICS_NAMESPACE`], unit `None` unless said: `prediction_invocations` (Count),
//! `prediction_invalid_outputs` (Count), `prediction_mean`, `prediction_positive_rate`, `prediction_invalid_rate`,
//! each series' `<name>_anomaly_score` (its z), and `prediction_anomaly_score`, the largest |z| of the window, one
//! metric to alarm on. Class shares are assessed but not published, as their names would carry label values.
//!
//! # State
//!
//! [`update_history`] is the use case the CLI and the Lambda function share: it reads the history from a
//! [`StateStore`] (a folder, an S3 object), assesses the new window against it, records the window (a re-run of a
//! window replaces it) and writes the history back with compare-and-set, so that two overlapping runs cannot lose
//! each other's window: the loser re-reads and tries again, up to [`MAX_STATE_ATTEMPTS`] times.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::metrics::{MODEL_METRICS_NAMESPACE, MetricDatum, MetricScope, Unit};
use crate::ports::{PortError, StateStore, StateVersion};
use crate::state::{StateError, Step};

/// The history format version this code writes and reads.
pub const HISTORY_VERSION: u32 = 1;
/// Default window length: one hour.
pub const DEFAULT_WINDOW_SECONDS: i64 = 3600;
/// Default history length: 8 weeks of hourly windows.
pub const DEFAULT_MAX_WINDOWS: usize = 8 * 7 * 24;
/// Classes whose shares are kept per window; rarer classes are summed under [`OTHER_CLASSES`].
pub const MAX_TRACKED_CLASSES: usize = 20;
/// The key of the summed share of untracked classes.
pub const OTHER_CLASSES: &str = "__other__";

/// The prediction summary of one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowSummary {
    pub start: DateTime<Utc>,
    /// Captured invocations (rows), valid or not.
    pub invocations: u64,
    /// Mean score (probability or regression output) of the valid outputs with a score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction_mean: Option<f64>,
    /// Share of valid predictions in the positive class (binary classification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub positive_rate: Option<f64>,
    /// Share of valid predictions per predicted class (classification with labels), at most
    /// [`MAX_TRACKED_CLASSES`] classes plus [`OTHER_CLASSES`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub class_shares: BTreeMap<String, f64>,
    /// Invocations whose output was missing or not a valid prediction.
    pub invalid_outputs: u64,
}

impl WindowSummary {
    /// Share of invalid outputs, when there were invocations.
    pub fn invalid_rate(&self) -> Option<f64> {
        (self.invocations > 0).then(|| self.invalid_outputs as f64 / self.invocations as f64)
    }
}

/// Builds a [`WindowSummary`] from a stream of predictions, in bounded memory.
#[derive(Debug, Clone, Default)]
pub struct WindowBuilder {
    invocations: u64,
    invalid: u64,
    score_sum: f64,
    scores: u64,
    positives: u64,
    decided: u64,
    classes: HashMap<String, u64>,
    other: u64,
    labelled: u64,
}

impl WindowBuilder {
    /// Counts one valid prediction: its score, whether it is positive (binary), its predicted class (when any).
    pub fn add(&mut self, score: Option<f64>, positive: Option<bool>, predicted_class: Option<&str>) {
        self.invocations += 1;
        if let Some(s) = score.filter(|s| s.is_finite()) {
            self.score_sum += s;
            self.scores += 1;
        }
        if let Some(p) = positive {
            self.decided += 1;
            self.positives += u64::from(p);
        }
        if let Some(c) = predicted_class {
            self.labelled += 1;
            if let Some(n) = self.classes.get_mut(c) {
                *n += 1;
            } else if self.classes.len() < MAX_TRACKED_CLASSES {
                self.classes.insert(c.to_owned(), 1);
            } else {
                self.other += 1;
            }
        }
    }

    /// Counts one invocation whose output was missing or invalid.
    pub fn add_invalid(&mut self) {
        self.invocations += 1;
        self.invalid += 1;
    }

    /// The summary of the window starting at `start`.
    pub fn finish(&self, start: DateTime<Utc>) -> WindowSummary {
        let share = |n: u64| n as f64 / self.labelled as f64;
        let mut class_shares: BTreeMap<String, f64> =
            self.classes.iter().map(|(c, &n)| (c.clone(), share(n))).collect();
        if self.other > 0 {
            class_shares.insert(OTHER_CLASSES.to_owned(), share(self.other));
        }
        WindowSummary {
            start,
            invocations: self.invocations,
            prediction_mean: (self.scores > 0).then(|| self.score_sum / self.scores as f64),
            positive_rate: (self.decided > 0).then(|| self.positives as f64 / self.decided as f64),
            class_shares,
            invalid_outputs: self.invalid,
        }
    }
}

/// Why the history state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("prediction history state is not valid JSON")]
    Parse(#[source] serde_json::Error),
    #[error("prediction history state has version {found}, this build reads version {HISTORY_VERSION}")]
    UnsupportedVersion { found: u32 },
    #[error("prediction history state has a window of {seconds} s; it must be positive")]
    BadWindow { seconds: i64 },
    #[error("cannot write the prediction history state")]
    Write(#[source] serde_json::Error),
}

/// The prediction history kept between runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionHistory {
    pub version: u32,
    /// Window length in seconds.
    pub window_seconds: i64,
    /// Windows kept at most.
    pub max_windows: usize,
    /// Windows in increasing start order, at most one per start.
    pub windows: Vec<WindowSummary>,
}

impl Default for PredictionHistory {
    fn default() -> Self {
        Self::new(DEFAULT_WINDOW_SECONDS, DEFAULT_MAX_WINDOWS)
    }
}

impl PredictionHistory {
    /// An empty history.
    pub fn new(window_seconds: i64, max_windows: usize) -> Self {
        PredictionHistory {
            version: HISTORY_VERSION,
            window_seconds,
            max_windows,
            windows: Vec::new(),
        }
    }

    /// Reads the state written by [`PredictionHistory::to_json`]; windows are put back in order.
    ///
    /// # Errors
    ///
    /// [`HistoryError::Parse`] for invalid JSON, [`HistoryError::UnsupportedVersion`] for another version,
    /// [`HistoryError::BadWindow`] for a non-positive window length.
    pub fn from_json(text: &str) -> Result<Self, HistoryError> {
        let mut h: PredictionHistory = serde_json::from_str(text).map_err(HistoryError::Parse)?;
        if h.version != HISTORY_VERSION {
            return Err(HistoryError::UnsupportedVersion { found: h.version });
        }
        if h.window_seconds <= 0 {
            return Err(HistoryError::BadWindow {
                seconds: h.window_seconds,
            });
        }
        h.windows.sort_by_key(|w| w.start);
        h.windows.dedup_by_key(|w| w.start);
        h.trim();
        Ok(h)
    }

    /// Writes the state.
    ///
    /// # Errors
    ///
    /// [`HistoryError::Write`] if serialisation fails (non-finite numbers are not written, so it does not).
    pub fn to_json(&self) -> Result<String, HistoryError> {
        serde_json::to_string(self).map_err(HistoryError::Write)
    }

    /// Adds a window, replacing one with the same start (a re-run of that window), and drops the oldest windows
    /// beyond `max_windows`.
    pub fn record(&mut self, window: WindowSummary) {
        match self.windows.binary_search_by_key(&window.start, |w| w.start) {
            Ok(i) => self.windows[i] = window,
            Err(i) => self.windows.insert(i, window),
        }
        self.trim();
    }

    fn trim(&mut self) {
        if self.windows.len() > self.max_windows {
            let excess = self.windows.len() - self.max_windows;
            self.windows.drain(..excess);
        }
    }

    /// The window starting exactly at `start`, if kept.
    pub fn at(&self, start: DateTime<Utc>) -> Option<&WindowSummary> {
        self.windows
            .binary_search_by_key(&start, |w| w.start)
            .ok()
            .map(|i| &self.windows[i])
    }

    /// Windows starting before `start`, oldest first.
    fn before(&self, start: DateTime<Utc>) -> &[WindowSummary] {
        &self.windows[..self.windows.partition_point(|w| w.start < start)]
    }
}

/// A tracked series of the window summaries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Series {
    Invocations,
    PredictionMean,
    PositiveRate,
    InvalidRate,
    /// The share of one predicted class.
    ClassShare(String),
}

impl Series {
    /// The series' value in a window.
    pub fn value(&self, w: &WindowSummary) -> Option<f64> {
        match self {
            Series::Invocations => Some(w.invocations as f64),
            Series::PredictionMean => w.prediction_mean,
            Series::PositiveRate => w.positive_rate,
            Series::InvalidRate => w.invalid_rate(),
            Series::ClassShare(c) => {
                // A class absent from a window with classified predictions had a share of 0 there.
                if w.class_shares.is_empty() {
                    None
                } else {
                    Some(w.class_shares.get(c).copied().unwrap_or(0.0))
                }
            }
        }
    }

    /// The CloudWatch metric name of the series' value (`None` for class shares, which are not published).
    pub fn metric_name(&self) -> Option<&'static str> {
        match self {
            Series::Invocations => Some("prediction_invocations"),
            Series::PredictionMean => Some("prediction_mean"),
            Series::PositiveRate => Some("prediction_positive_rate"),
            Series::InvalidRate => Some("prediction_invalid_rate"),
            Series::ClassShare(_) => None,
        }
    }

    /// The noise floor of the series' scale (see the module docs).
    fn noise_floor(&self, median: f64, current: &WindowSummary) -> f64 {
        let floor = match self {
            Series::Invocations => median.abs().sqrt(),
            Series::PredictionMean => 0.01 * median.abs(),
            Series::PositiveRate | Series::InvalidRate | Series::ClassShare(_) => {
                let p = median.clamp(0.0, 1.0);
                (p * (1.0 - p) / current.invocations.max(1) as f64).sqrt()
            }
        };
        floor.max(1e-9)
    }
}

/// Detector settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorConfig {
    /// |z| at or above which a single window is a spike or drop.
    pub threshold: f64,
    /// |z| at or above which consecutive windows on one side make a level shift.
    pub shift_threshold: f64,
    /// Consecutive windows (the current one included) needed for a level shift.
    pub shift_windows: usize,
    /// Reference windows needed for a baseline.
    pub min_reference: usize,
    /// Windows of the recent-history fallback.
    pub recent_windows: usize,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            threshold: 3.5,
            shift_threshold: 2.0,
            shift_windows: 3,
            min_reference: 3,
            recent_windows: 24,
        }
    }
}

/// Which reference windows a score was computed against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    HourOfWeek,
    HourOfDay,
    Recent,
}

/// The detector's verdict for one series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Normal,
    Spike,
    Drop,
    LevelShiftUp,
    LevelShiftDown,
    InsufficientHistory,
}

/// The assessment of one series in the new window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    pub series: Series,
    pub value: f64,
    pub verdict: Verdict,
    /// The robust z-score; `None` without a baseline.
    pub score: Option<f64>,
    /// The reference median.
    pub expected: Option<f64>,
    /// `median ± threshold * scale`.
    pub expected_low: Option<f64>,
    pub expected_high: Option<f64>,
    pub baseline: Option<Baseline>,
    /// Reference windows used.
    pub reference_windows: usize,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The reference values of `series` for the window starting at `start`, from windows before it.
fn reference(
    history: &PredictionHistory,
    series: &Series,
    start: DateTime<Utc>,
    config: &DetectorConfig,
) -> Option<(Baseline, Vec<f64>)> {
    let earlier = history.before(start);
    let oldest = earlier.first()?.start;
    for (baseline, period) in [
        (Baseline::HourOfWeek, Duration::weeks(1)),
        (Baseline::HourOfDay, Duration::days(1)),
    ] {
        let mut values = Vec::new();
        let mut t = start - period;
        while t >= oldest {
            if let Some(v) = history.at(t).and_then(|w| series.value(w)).filter(|v| v.is_finite()) {
                values.push(v);
            }
            t -= period;
        }
        if values.len() >= config.min_reference {
            return Some((baseline, values));
        }
    }
    let values: Vec<f64> = earlier
        .iter()
        .rev()
        .take(config.recent_windows)
        .filter_map(|w| series.value(w))
        .filter(|v| v.is_finite())
        .collect();
    (values.len() >= config.min_reference).then_some((Baseline::Recent, values))
}

/// The z-score of `window` for `series` against the history before it: (z, median, scale, baseline, n).
fn score(
    history: &PredictionHistory,
    series: &Series,
    window: &WindowSummary,
    config: &DetectorConfig,
) -> Option<(f64, f64, f64, Baseline, usize)> {
    let x = series.value(window).filter(|v| v.is_finite())?;
    let (baseline, mut values) = reference(history, series, window.start, config)?;
    let n = values.len();
    let med = median(&mut values);
    let mut deviations: Vec<f64> = values.iter().map(|v| (v - med).abs()).collect();
    let mad = median(&mut deviations);
    let scale = (1.4826 * mad).max(series.noise_floor(med, window));
    Some(((x - med) / scale, med, scale, baseline, n))
}

/// Assesses `series` in `current` against `history` (windows before `current.start`; `current` itself need not be
/// recorded yet).
pub fn assess_series(
    history: &PredictionHistory,
    current: &WindowSummary,
    series: Series,
    config: &DetectorConfig,
) -> Option<Assessment> {
    let value = series.value(current).filter(|v| v.is_finite())?;
    let Some((z, med, scale, baseline, n)) = score(history, &series, current, config) else {
        return Some(Assessment {
            series,
            value,
            verdict: Verdict::InsufficientHistory,
            score: None,
            expected: None,
            expected_low: None,
            expected_high: None,
            baseline: None,
            reference_windows: 0,
        });
    };
    // Level shift: the previous shift_windows - 1 consecutive windows, each scored against its own past.
    let step = Duration::seconds(history.window_seconds);
    let mut run = vec![z];
    for k in 1..config.shift_windows {
        let Some(w) = history.at(current.start - step * k as i32) else {
            break;
        };
        let Some((zk, ..)) = score(history, &series, w, config) else {
            break;
        };
        run.push(zk);
    }
    let sustained = run.len() == config.shift_windows.max(1);
    let verdict = if sustained && run.iter().all(|&z| z >= config.shift_threshold) {
        Verdict::LevelShiftUp
    } else if sustained && run.iter().all(|&z| z <= -config.shift_threshold) {
        Verdict::LevelShiftDown
    } else if z >= config.threshold {
        Verdict::Spike
    } else if z <= -config.threshold {
        Verdict::Drop
    } else {
        Verdict::Normal
    };
    Some(Assessment {
        series,
        value,
        verdict,
        score: Some(z),
        expected: Some(med),
        expected_low: Some(med - config.threshold * scale),
        expected_high: Some(med + config.threshold * scale),
        baseline: Some(baseline),
        reference_windows: n,
    })
}

/// Assesses every series the current window has a value for: invocations, mean score, positive rate, invalid rate
/// and each class share.
pub fn assess(history: &PredictionHistory, current: &WindowSummary, config: &DetectorConfig) -> Vec<Assessment> {
    let mut series = vec![
        Series::Invocations,
        Series::PredictionMean,
        Series::PositiveRate,
        Series::InvalidRate,
    ];
    series.extend(current.class_shares.keys().map(|c| Series::ClassShare(c.clone())));
    series
        .into_iter()
        .filter_map(|s| assess_series(history, current, s, config))
        .collect()
}

/// The CloudWatch data of a window and its assessments (names in the module docs).
pub fn history_metric_data(
    current: &WindowSummary,
    assessments: &[Assessment],
    scope: &MetricScope,
) -> Vec<MetricDatum> {
    let ns = MODEL_METRICS_NAMESPACE;
    let mut out = vec![
        scope.datum(ns, "prediction_invocations", current.invocations as f64, Unit::Count),
        scope.datum(
            ns,
            "prediction_invalid_outputs",
            current.invalid_outputs as f64,
            Unit::Count,
        ),
    ];
    for (name, v) in [
        ("prediction_mean", current.prediction_mean),
        ("prediction_positive_rate", current.positive_rate),
        ("prediction_invalid_rate", current.invalid_rate()),
    ] {
        if let Some(v) = v.filter(|v| v.is_finite()) {
            out.push(scope.datum(ns, name, v, Unit::None));
        }
    }
    let mut worst: Option<f64> = None;
    for a in assessments {
        let Some(z) = a.score.filter(|z| z.is_finite()) else {
            continue;
        };
        worst = Some(worst.map_or(z.abs(), |w| w.max(z.abs())));
        if let Some(name) = a.series.metric_name() {
            out.push(scope.datum(ns, format!("{name}_anomaly_score"), z, Unit::None));
        }
    }
    if let Some(w) = worst {
        out.push(scope.datum(ns, "prediction_anomaly_score", w, Unit::None));
    }
    out
}

/// How the history is kept and judged: the `history` section of the evaluation's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistoryConfig {
    /// Windows kept at most (default 8 weeks of hourly windows).
    pub max_windows: usize,
    /// The detector's settings.
    pub detector: DetectorConfig,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            max_windows: DEFAULT_MAX_WINDOWS,
            detector: DetectorConfig::default(),
        }
    }
}

/// Read-assess-write cycles tried before [`update_history`] gives up on a history other runs keep changing.
pub const MAX_STATE_ATTEMPTS: usize = crate::state::CAS_ATTEMPTS;

/// Why the prediction history could not be updated. Each case names the state key.
#[derive(Debug, thiserror::Error)]
pub enum HistoryStateError {
    #[error("reading the prediction history {key}")]
    Read {
        key: String,
        #[source]
        source: PortError,
    },
    #[error("the prediction history {key} cannot be used")]
    State {
        key: String,
        #[source]
        source: HistoryError,
    },
    #[error(
        "the prediction history {key} keeps windows of {history_seconds} s but this window lasts {window_seconds} s: \
         keep one history per window length"
    )]
    WindowLength {
        key: String,
        history_seconds: i64,
        window_seconds: i64,
    },
    #[error("writing the prediction history {key}")]
    Write {
        key: String,
        #[source]
        source: PortError,
    },
    #[error("the prediction history {key} changed under each of {attempts} attempts to update it")]
    Contended { key: String, attempts: usize },
    #[error("the prediction history {key} is not valid")]
    Invalid {
        key: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// What [`update_history`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryUpdate {
    /// The state key.
    pub key: String,
    /// The window assessed and recorded.
    pub window: WindowSummary,
    /// Its assessment against the windows before it.
    pub assessments: Vec<Assessment>,
    /// Windows kept after recording it.
    pub windows_kept: usize,
    /// Whether the history held this window already (a re-run) and it was replaced.
    pub replaced: bool,
    /// The read-assess-write cycles it took (more than one after a conflicting write).
    pub attempts: usize,
    /// The CloudWatch data of the window and its assessment ([`history_metric_data`]).
    #[serde(skip)]
    pub metrics: Vec<MetricDatum>,
    /// The version of the state written.
    #[serde(skip)]
    pub version: StateVersion,
}

/// Assesses `current` against the history stored under `key` and records it there: reads the state (an empty
/// history when there is none yet), assesses the window against the windows before it, records it (replacing a
/// window with the same start, so re-running a window is idempotent), trims to `config.max_windows` and writes the
/// state back only if no one else wrote it meanwhile; on such a conflict it starts again from the read, at most
/// [`MAX_STATE_ATTEMPTS`] times. `window_seconds` is the length of the evaluated window, which must be the
/// history's.
///
/// # Errors
///
/// [`HistoryStateError::Read`] and [`HistoryStateError::Write`] when the store fails,
/// [`HistoryStateError::State`] when the stored history does not parse (or `window_seconds` is not positive),
/// [`HistoryStateError::WindowLength`] when the history keeps windows of another length, and
/// [`HistoryStateError::Contended`] when every attempt lost to another writer.
pub fn update_history(
    store: &dyn StateStore,
    key: &str,
    current: &WindowSummary,
    window_seconds: i64,
    config: &HistoryConfig,
    scope: &MetricScope,
) -> Result<HistoryUpdate, HistoryStateError> {
    let state_err = |source| HistoryStateError::State {
        key: key.to_owned(),
        source,
    };
    if window_seconds <= 0 {
        return Err(state_err(HistoryError::BadWindow {
            seconds: window_seconds,
        }));
    }
    let updated = crate::state::update_with(
        store,
        key,
        |bytes| PredictionHistory::from_json(&String::from_utf8_lossy(bytes)).map_err(state_err),
        |history| history.to_json().map(String::into_bytes).map_err(state_err),
        || PredictionHistory::new(window_seconds, config.max_windows),
        |history| {
            if history.window_seconds != window_seconds {
                return Err(HistoryStateError::WindowLength {
                    key: key.to_owned(),
                    history_seconds: history.window_seconds,
                    window_seconds,
                });
            }
            history.max_windows = config.max_windows;
            let assessments = assess(history, current, &config.detector);
            let replaced = history.at(current.start).is_some();
            history.record(current.clone());
            Ok(Step::Write((assessments, replaced, history.windows.len())))
        },
    )?;
    let (assessments, replaced, windows_kept) = updated.result;
    Ok(HistoryUpdate {
        key: key.to_owned(),
        window: current.clone(),
        metrics: history_metric_data(current, &assessments, scope),
        assessments,
        windows_kept,
        replaced,
        attempts: updated.attempts,
        version: updated.written.expect("every update writes"),
    })
}

impl From<StateError> for HistoryStateError {
    fn from(e: StateError) -> Self {
        match e {
            StateError::Read { key, source } => HistoryStateError::Read { key, source },
            StateError::Write { key, source } => HistoryStateError::Write { key, source },
            StateError::Contended { key, attempts } => HistoryStateError::Contended { key, attempts },
            // The history decodes itself (`decode` above), so the helper never reports it invalid.
            StateError::Invalid { key, source } => HistoryStateError::Invalid { key, source },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::PortErrorKind;
    use proptest::prelude::*;

    fn t0() -> DateTime<Utc> {
        // A Monday, 00:00 UTC.
        DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn window(start: DateTime<Utc>, invocations: u64, mean: f64, rate: f64) -> WindowSummary {
        WindowSummary {
            start,
            invocations,
            prediction_mean: Some(mean),
            positive_rate: Some(rate),
            class_shares: BTreeMap::new(),
            invalid_outputs: 0,
        }
    }

    /// Daily traffic: 1,000 at noon, 100 at night, with a little deterministic noise.
    fn daily(h: i64) -> u64 {
        let hour = h.rem_euclid(24) as f64;
        let base = 100.0 + 900.0 * (-(hour - 12.0).powi(2) / 18.0).exp();
        (base * (1.0 + 0.03 * ((h * 7919) % 11 - 5) as f64 / 5.0)) as u64
    }

    fn four_weeks() -> PredictionHistory {
        let mut h = PredictionHistory::default();
        for k in 0..(4 * 7 * 24) {
            h.record(window(t0() + Duration::hours(k), daily(k), 0.30, 0.20));
        }
        h
    }

    #[test]
    fn same_hour_of_week_is_the_baseline_and_a_night_spike_is_caught() {
        let h = four_weeks();
        let now = t0() + Duration::hours(4 * 7 * 24 + 3); // 03:00
        let normal = assess_series(
            &h,
            &window(now, daily(3), 0.3, 0.2),
            Series::Invocations,
            &DetectorConfig::default(),
        )
        .unwrap();
        assert_eq!(normal.baseline, Some(Baseline::HourOfWeek));
        assert_eq!(normal.reference_windows, 4);
        assert_eq!(normal.verdict, Verdict::Normal, "{normal:?}");
        // Noon traffic at 03:00 is a spike, though it is ordinary over the last 24 hours.
        let spike = assess_series(
            &h,
            &window(now, 1000, 0.3, 0.2),
            Series::Invocations,
            &DetectorConfig::default(),
        )
        .unwrap();
        assert_eq!(spike.verdict, Verdict::Spike, "{spike:?}");
        assert!(spike.expected_high.unwrap() < 1000.0 && spike.expected_low.unwrap() < spike.expected.unwrap());
        let drop = assess_series(
            &h,
            &window(now, 1000, 0.3, 0.01),
            Series::PositiveRate,
            &DetectorConfig::default(),
        )
        .unwrap();
        assert_eq!(drop.verdict, Verdict::Drop);
    }

    #[test]
    fn short_history_falls_back_to_hour_of_day_then_recent_windows_then_nothing() {
        let mut h = PredictionHistory::default();
        for k in 0..(3 * 24) {
            h.record(window(t0() + Duration::hours(k), 500, 0.3, 0.2));
        }
        let a = assess_series(
            &h,
            &window(t0() + Duration::hours(72), 500, 0.3, 0.2),
            Series::PredictionMean,
            &DetectorConfig::default(),
        )
        .unwrap();
        assert_eq!(
            (a.baseline, a.reference_windows, a.verdict),
            (Some(Baseline::HourOfDay), 3, Verdict::Normal)
        );

        let mut h = PredictionHistory::default();
        for k in 0..10 {
            h.record(window(t0() + Duration::hours(k), 500, 0.3, 0.2));
        }
        let a = assess_series(
            &h,
            &window(t0() + Duration::hours(10), 500, 0.6, 0.2),
            Series::PredictionMean,
            &DetectorConfig::default(),
        )
        .unwrap();
        assert_eq!(
            (a.baseline, a.reference_windows, a.verdict),
            (Some(Baseline::Recent), 10, Verdict::Spike)
        );

        let mut h = PredictionHistory::default();
        h.record(window(t0(), 500, 0.3, 0.2));
        let a = assess_series(
            &h,
            &window(t0() + Duration::hours(1), 500, 0.9, 0.2),
            Series::PredictionMean,
            &DetectorConfig::default(),
        )
        .unwrap();
        assert_eq!((a.verdict, a.score), (Verdict::InsufficientHistory, None));
    }

    #[test]
    fn a_sustained_moderate_change_is_a_level_shift() {
        let mut h = PredictionHistory::default();
        for k in 0..48 {
            // Mean 0.30 with small noise: MAD scale about 0.003.
            let mean = 0.30 + 0.002 * ((k * 37) % 5 - 2) as f64;
            h.record(window(t0() + Duration::hours(k), 500, mean, 0.2));
        }
        let config = DetectorConfig::default();
        // Three windows at +2.5 scale units: not a spike each, but a level shift together.
        let before = assess_series(
            &h,
            &window(t0() + Duration::hours(48), 500, 0.3075, 0.2),
            Series::PredictionMean,
            &config,
        )
        .unwrap();
        assert_eq!(before.verdict, Verdict::Normal, "{before:?}");
        for k in 48..50 {
            h.record(window(t0() + Duration::hours(k), 500, 0.3075, 0.2));
        }
        let now = window(t0() + Duration::hours(50), 500, 0.3075, 0.2);
        let a = assess_series(&h, &now, Series::PredictionMean, &config).unwrap();
        assert_eq!(a.verdict, Verdict::LevelShiftUp, "{a:?}");
        let down = window(t0() + Duration::hours(50), 500, 0.2, 0.2);
        assert_eq!(
            assess_series(&h, &down, Series::PredictionMean, &config)
                .unwrap()
                .verdict,
            Verdict::Drop
        );
    }

    #[test]
    fn history_round_trips_is_bounded_and_replaces_reruns() {
        let mut h = PredictionHistory::new(3600, 5);
        for k in 0..8 {
            h.record(window(t0() + Duration::hours(k), k as u64, 0.1, 0.1));
        }
        assert_eq!(h.windows.len(), 5);
        assert_eq!(h.windows[0].start, t0() + Duration::hours(3), "oldest dropped");
        h.record(window(t0() + Duration::hours(7), 99, 0.1, 0.1));
        assert_eq!((h.windows.len(), h.windows[4].invocations), (5, 99));
        let back = PredictionHistory::from_json(&h.to_json().unwrap()).unwrap();
        assert_eq!(back, h);
        let other_version = h.to_json().unwrap().replace("\"version\":1", "\"version\":7");
        assert!(matches!(
            PredictionHistory::from_json(&other_version),
            Err(HistoryError::UnsupportedVersion { found: 7 })
        ));
        assert!(matches!(PredictionHistory::from_json("{"), Err(HistoryError::Parse(_))));
    }

    #[test]
    fn window_builder_summarises_and_bounds_classes() {
        let mut b = WindowBuilder::default();
        b.add(Some(0.8), Some(true), Some("1"));
        b.add(Some(0.2), Some(false), Some("0"));
        b.add(None, None, None);
        b.add_invalid();
        for i in 0..30 {
            b.add(None, None, Some(&format!("c{i}")));
        }
        let w = b.finish(t0());
        assert_eq!((w.invocations, w.invalid_outputs), (34, 1));
        assert_eq!(w.prediction_mean, Some(0.5));
        assert_eq!(w.positive_rate, Some(0.5));
        assert_eq!(w.class_shares.len(), MAX_TRACKED_CLASSES + 1);
        assert!((w.class_shares.values().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((w.class_shares[OTHER_CLASSES] - 12.0 / 32.0).abs() < 1e-12);
    }

    #[test]
    fn cloudwatch_data_for_a_window() {
        let h = four_weeks();
        let now = window(t0() + Duration::hours(4 * 7 * 24 + 3), 1000, 0.3, 0.2);
        let assessments = assess(&h, &now, &DetectorConfig::default());
        let scope = MetricScope {
            endpoint: "ep".into(),
            schedule: "s".into(),
            timestamp: now.start,
        };
        let data = history_metric_data(&now, &assessments, &scope);
        let get = |n: &str| data.iter().find(|d| d.metric_name == n).map(|d| d.value);
        assert_eq!(get("prediction_invocations"), Some(1000.0));
        assert_eq!(get("prediction_mean"), Some(0.3));
        assert!(get("prediction_invocations_anomaly_score").unwrap() > 3.5);
        assert_eq!(
            get("prediction_anomaly_score"),
            get("prediction_invocations_anomaly_score")
        );
        assert!(data.iter().all(|d| d.namespace == MODEL_METRICS_NAMESPACE));
    }

    /// An in-memory state store; `intruders` other writers each record one more window between this run's read
    /// and its write (`usize::MAX`: always).
    #[derive(Default)]
    struct Store {
        object: std::cell::RefCell<Option<(Vec<u8>, u64)>>,
        intruders: std::cell::Cell<usize>,
        writes: std::cell::Cell<usize>,
        fail: bool,
    }

    impl StateStore for Store {
        fn get(&self, _key: &str) -> Result<Option<(Vec<u8>, StateVersion)>, PortError> {
            Ok(self.object.borrow().clone().map(|(b, v)| (b, v.to_string())))
        }

        fn put_if(&self, key: &str, body: &[u8], expected: Option<&StateVersion>) -> Result<StateVersion, PortError> {
            if self.fail {
                return Err(PortError::new("put", key, PortErrorKind::Other, "disk full"));
            }
            if self.intruders.get() > 0 {
                // Another run commits first: its own window, one hour before the oldest kept.
                self.intruders.set(self.intruders.get().saturating_sub(1));
                let mut theirs = self
                    .object
                    .borrow()
                    .as_ref()
                    .map(|(b, _)| PredictionHistory::from_json(std::str::from_utf8(b).unwrap()).unwrap())
                    .unwrap_or_default();
                let oldest = theirs.windows.first().map_or(t0(), |w| w.start);
                theirs.record(window(oldest - Duration::hours(1), 7, 0.5, 0.5));
                let version = self.object.borrow().as_ref().map_or(1, |(_, v)| v + 1);
                *self.object.borrow_mut() = Some((theirs.to_json().unwrap().into_bytes(), version));
            }
            let mut object = self.object.borrow_mut();
            let current = object.as_ref().map(|(_, v)| v.to_string());
            if current.as_ref() != expected {
                return Err(PortError::new("put", key, PortErrorKind::Conflict, "moved"));
            }
            let version = object.as_ref().map_or(1, |(_, v)| v + 1);
            *object = Some((body.to_vec(), version));
            self.writes.set(self.writes.get() + 1);
            Ok(version.to_string())
        }
    }

    fn scope() -> MetricScope {
        MetricScope {
            endpoint: "ep".into(),
            schedule: "s".into(),
            timestamp: t0(),
        }
    }

    fn stored(store: &Store) -> PredictionHistory {
        let (body, _) = store.object.borrow().clone().unwrap();
        PredictionHistory::from_json(std::str::from_utf8(&body).unwrap()).unwrap()
    }

    #[test]
    fn update_records_assesses_and_replaces_a_rerun() {
        let store = Store::default();
        let config = HistoryConfig::default();
        for k in 0..10 {
            let w = window(t0() + Duration::hours(k), 500, 0.30 + 0.001 * (k % 3) as f64, 0.2);
            let u = update_history(&store, "k", &w, 3600, &config, &scope()).unwrap();
            assert_eq!((u.windows_kept, u.replaced, u.attempts), (k as usize + 1, false, 1));
        }
        let spike = window(t0() + Duration::hours(10), 500, 0.60, 0.2);
        let first = update_history(&store, "k", &spike, 3600, &config, &scope()).unwrap();
        let mean = first
            .assessments
            .iter()
            .find(|a| a.series == Series::PredictionMean)
            .unwrap();
        assert_eq!((mean.verdict, mean.reference_windows), (Verdict::Spike, 10));
        let get = |n: &str| first.metrics.iter().find(|d| d.metric_name == n).map(|d| d.value);
        assert_eq!(get("prediction_mean"), Some(0.60));
        assert_eq!(get("prediction_mean_anomaly_score"), mean.score);
        // Re-running the window (say, after late files arrived) replaces it and is assessed the same way.
        let fixed = window(t0() + Duration::hours(10), 500, 0.30, 0.2);
        let again = update_history(&store, "k", &fixed, 3600, &config, &scope()).unwrap();
        assert!(again.replaced);
        assert_eq!(again.windows_kept, 11);
        let h = stored(&store);
        assert_eq!(h.windows.len(), 11);
        assert_eq!(h.at(fixed.start), Some(&fixed));
        let rerun = update_history(&store, "k", &fixed, 3600, &config, &scope()).unwrap();
        assert_eq!(rerun.assessments, again.assessments);
        assert_eq!(stored(&store), h, "idempotent");
    }

    #[test]
    fn a_conflicting_writer_is_retried_without_losing_either_window() {
        let store = Store::default();
        let config = HistoryConfig::default();
        update_history(&store, "k", &window(t0(), 10, 0.3, 0.2), 3600, &config, &scope()).unwrap();
        store.intruders.set(2);
        let mine = window(t0() + Duration::hours(1), 10, 0.3, 0.2);
        let u = update_history(&store, "k", &mine, 3600, &config, &scope()).unwrap();
        assert_eq!(u.attempts, 3);
        let h = stored(&store);
        // Ours, the first one and the two intruders' windows.
        assert_eq!(h.windows.len(), 4);
        assert_eq!(h.at(mine.start), Some(&mine));
        assert!(h.at(t0() - Duration::hours(2)).is_some());

        store.intruders.set(usize::MAX);
        let writes = store.writes.get();
        let err = update_history(&store, "k", &mine, 3600, &config, &scope()).unwrap_err();
        assert!(
            matches!(
                err,
                HistoryStateError::Contended {
                    attempts: MAX_STATE_ATTEMPTS,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(store.writes.get(), writes, "nothing of ours was written");
    }

    #[test]
    fn update_errors_name_the_key_and_the_cause() {
        let config = HistoryConfig::default();
        let w = window(t0(), 10, 0.3, 0.2);
        let store = Store::default();
        update_history(&store, "k", &w, 3600, &config, &scope()).unwrap();
        let err = update_history(&store, "k", &w, 7200, &config, &scope()).unwrap_err();
        assert!(matches!(
            err,
            HistoryStateError::WindowLength {
                history_seconds: 3600,
                window_seconds: 7200,
                ..
            }
        ));
        assert!(err.to_string().contains("k keeps windows of 3600 s"), "{err}");
        assert!(matches!(
            update_history(&store, "k", &w, 0, &config, &scope()),
            Err(HistoryStateError::State {
                source: HistoryError::BadWindow { seconds: 0 },
                ..
            })
        ));
        *store.object.borrow_mut() = Some((b"{not json".to_vec(), 9));
        assert!(matches!(
            update_history(&store, "k", &w, 3600, &config, &scope()),
            Err(HistoryStateError::State {
                source: HistoryError::Parse(_),
                ..
            })
        ));
        let failing = Store {
            fail: true,
            ..Store::default()
        };
        let err = update_history(&failing, "k", &w, 3600, &config, &scope()).unwrap_err();
        assert!(
            matches!(&err, HistoryStateError::Write { key, .. } if key == "k"),
            "{err}"
        );
        // A shorter max_windows in the configuration trims the stored history.
        let small = HistoryConfig {
            max_windows: 2,
            ..HistoryConfig::default()
        };
        let store = Store::default();
        for k in 0..4 {
            update_history(
                &store,
                "k",
                &window(t0() + Duration::hours(k), 10, 0.3, 0.2),
                3600,
                &config,
                &scope(),
            )
            .unwrap();
        }
        let u = update_history(
            &store,
            "k",
            &window(t0() + Duration::hours(4), 10, 0.3, 0.2),
            3600,
            &small,
            &scope(),
        )
        .unwrap();
        assert_eq!(u.windows_kept, 2);
        assert_eq!(stored(&store).windows[0].start, t0() + Duration::hours(3));
    }

    proptest! {
        #[test]
        fn verdicts_agree_with_scores_and_ranges(
            values in prop::collection::vec(0.0f64..1.0, 3..60),
            x in 0.0f64..1.0,
        ) {
            let mut h = PredictionHistory::default();
            for (k, v) in values.iter().enumerate() {
                h.record(window(t0() + Duration::hours(k as i64), 100, *v, 0.2));
            }
            prop_assert!(h.windows.len() <= h.max_windows);
            let now = window(t0() + Duration::hours(values.len() as i64), 100, x, 0.2);
            let config = DetectorConfig::default();
            let a = assess_series(&h, &now, Series::PredictionMean, &config).unwrap();
            let z = a.score.unwrap();
            prop_assert!(a.expected_low.unwrap() <= a.expected.unwrap() && a.expected.unwrap() <= a.expected_high.unwrap());
            // Outside the expected range exactly when |z| reaches the threshold (up to rounding at the edge).
            let inside = (a.expected_low.unwrap()..=a.expected_high.unwrap()).contains(&x);
            prop_assert!(inside == (z.abs() < config.threshold) || (z.abs() - config.threshold).abs() < 1e-9);
            match a.verdict {
                Verdict::Spike => prop_assert!(z >= config.threshold),
                Verdict::Drop => prop_assert!(z <= -config.threshold),
                Verdict::Normal => prop_assert!(z.abs() < config.threshold),
                Verdict::LevelShiftUp => prop_assert!(z >= config.shift_threshold),
                Verdict::LevelShiftDown => prop_assert!(z <= -config.shift_threshold),
                Verdict::InsufficientHistory => prop_assert!(false, "history is long enough"),
            }
        }
    }
}
