//! One window's prediction summary, built from a stream of predictions in bounded memory.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
    /// Sample standard deviation of those scores: with [`WindowSummary::scored_outputs`], the sampling noise of
    /// `prediction_mean`. `None` with fewer than two scores, and in histories written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction_sd: Option<f64>,
    /// Valid outputs with a score: the count `prediction_mean` is the mean of (0 in histories written before it
    /// was kept).
    #[serde(default)]
    pub scored_outputs: u64,
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

    /// Invocations whose output was a valid prediction: the count the positive rate and the class shares are
    /// shares of.
    pub fn valid_outputs(&self) -> u64 {
        self.invocations.saturating_sub(self.invalid_outputs)
    }
}

/// Builds a [`WindowSummary`] from a stream of predictions, in bounded memory. Serialisable: a partial of a window
/// read elsewhere ([`crate::evaluate::WindowPartial`]) carries one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WindowBuilder {
    invocations: u64,
    invalid: u64,
    /// Count, running mean and sum of squared deviations of the scores (Welford's algorithm: one pass, stable).
    scores: u64,
    score_mean: f64,
    score_m2: f64,
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
            self.scores += 1;
            let delta = s - self.score_mean;
            self.score_mean += delta / self.scores as f64;
            self.score_m2 += delta * (s - self.score_mean);
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

    /// Adds another builder's predictions (a later part of the window). The classes tracked stay the first
    /// [`MAX_TRACKED_CLASSES`] met: this builder's, then the other's new ones in name order; the rest count as other.
    pub fn merge(&mut self, other: &WindowBuilder) {
        self.invocations += other.invocations;
        self.invalid += other.invalid;
        (self.score_mean, self.score_m2) = crate::profile::combine_moments(
            (self.scores, self.score_mean, self.score_m2),
            (other.scores, other.score_mean, other.score_m2),
        );
        self.scores += other.scores;
        self.positives += other.positives;
        self.decided += other.decided;
        self.labelled += other.labelled;
        self.other += other.other;
        let mut classes: Vec<(&String, &u64)> = other.classes.iter().collect();
        classes.sort_unstable();
        for (class, &n) in classes {
            if let Some(mine) = self.classes.get_mut(class) {
                *mine += n;
            } else if self.classes.len() < MAX_TRACKED_CLASSES {
                self.classes.insert(class.clone(), n);
            } else {
                self.other += n;
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
            prediction_mean: (self.scores > 0).then_some(self.score_mean),
            prediction_sd: (self.scores > 1).then(|| (self.score_m2 / (self.scores - 1) as f64).sqrt()),
            scored_outputs: self.scores,
            positive_rate: (self.decided > 0).then(|| self.positives as f64 / self.decided as f64),
            class_shares,
            invalid_outputs: self.invalid,
        }
    }
}

/// The history format version this code writes and reads.
pub const HISTORY_VERSION: u32 = 1;
/// Default window length: one hour.
pub const DEFAULT_WINDOW_SECONDS: i64 = 3600;
/// Default history length: 8 weeks of hourly windows.
pub const DEFAULT_MAX_WINDOWS: usize = 8 * 7 * 24;

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
    pub(super) fn before(&self, start: DateTime<Utc>) -> &[WindowSummary] {
        &self.windows[..self.windows.partition_point(|w| w.start < start)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::fixtures::t0;

    #[test]
    fn builders_of_parts_merge_into_the_summary_of_the_whole() {
        let outputs: Vec<(Option<f64>, Option<bool>, Option<String>)> = (0..200)
            .map(|i| {
                let score = (i % 7 != 0).then(|| f64::from(i).sin().abs());
                (
                    score,
                    score.map(|s| s >= 0.5),
                    (i % 5 != 0).then(|| format!("c{}", i % 3)),
                )
            })
            .collect();
        let mut whole = WindowBuilder::default();
        let mut parts = [
            WindowBuilder::default(),
            WindowBuilder::default(),
            WindowBuilder::default(),
        ];
        for (i, (score, positive, class)) in outputs.iter().enumerate() {
            whole.add(*score, *positive, class.as_deref());
            parts[i * 3 / outputs.len()].add(*score, *positive, class.as_deref());
        }
        whole.add_invalid();
        parts[2].add_invalid();
        let [mut merged, b, c] = parts;
        merged.merge(&b);
        merged.merge(&c);
        let (w, m) = (whole.finish(t0()), merged.finish(t0()));
        assert_eq!(
            (m.invocations, m.invalid_outputs, m.scored_outputs),
            (201, 1, w.scored_outputs)
        );
        assert_eq!((m.positive_rate, &m.class_shares), (w.positive_rate, &w.class_shares));
        let (wm, mm) = (w.prediction_mean.unwrap(), m.prediction_mean.unwrap());
        assert!((wm - mm).abs() < 1e-12, "{wm} vs {mm}");
        let (ws, ms) = (w.prediction_sd.unwrap(), m.prediction_sd.unwrap());
        assert!((ws - ms).abs() < 1e-12 && ws > 0.1, "{ws} vs {ms}");
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
        // The sample standard deviation of 0.8 and 0.2 (numpy.std([0.8, 0.2], ddof=1) = 0.42426...).
        assert!((w.prediction_sd.unwrap() - 0.18f64.sqrt()).abs() < 1e-12);
        assert_eq!((w.scored_outputs, w.valid_outputs()), (2, 33));
        assert_eq!(w.positive_rate, Some(0.5));
        assert_eq!(w.class_shares.len(), MAX_TRACKED_CLASSES + 1);
        assert!((w.class_shares.values().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((w.class_shares[OTHER_CLASSES] - 12.0 / 32.0).abs() < 1e-12);
    }
}
