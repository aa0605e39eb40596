//! The prediction history kept between runs, and its update.
//!
//! # State
//!
//! [`update_history`] is the use case the CLI and the Lambda function share: it reads the history from a
//! [`StateStore`] (a folder, an S3 object), assesses the new window against it, records the window (a re-run of a
//! window replaces it) and writes the history back with compare-and-set, so that two overlapping runs cannot lose
//! each other's window: the loser re-reads and tries again, up to [`MAX_STATE_ATTEMPTS`] times.

use serde::{Deserialize, Serialize};

use super::detector::{Assessment, DetectorConfig, assess, history_metric_data};
use super::summary::DEFAULT_MAX_WINDOWS;
use super::summary::{HistoryError, PredictionHistory, WindowSummary};
use crate::metrics::{MetricDatum, MetricScope};
use crate::ports::{PortError, StateStore, StateVersion};
use crate::state::{StateError, Step};

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
    /// The last [`RECENT_WINDOWS`] windows of the history after recording this one, oldest first (the HTML
    /// report's chart).
    #[serde(skip)]
    pub recent: Vec<WindowSummary>,
}

/// Windows of the history the HTML report draws.
pub const RECENT_WINDOWS: usize = 48;

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
            let recent = history.windows[history.windows.len().saturating_sub(RECENT_WINDOWS)..].to_vec();
            Ok(Step::Write((assessments, replaced, history.windows.len(), recent)))
        },
    )?;
    let (assessments, replaced, windows_kept, recent) = updated.result;
    Ok(HistoryUpdate {
        key: key.to_owned(),
        window: current.clone(),
        metrics: history_metric_data(current, &assessments, scope),
        assessments,
        windows_kept,
        replaced,
        attempts: updated.attempts,
        version: updated.written.expect("every update writes"),
        recent,
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
    use crate::history::fixtures::{t0, window};
    use crate::history::{Series, Verdict};
    use crate::memory::MemoryState;
    use crate::ports::PortErrorKind;
    use chrono::Duration;

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

    /// The in-memory state store, with other writers: `intruders` of them each record one more window between
    /// this run's read and its write (`usize::MAX`: always); `fail` fails every write; `writes` counts this run's.
    #[derive(Default)]
    struct Store {
        inner: MemoryState,
        intruders: std::cell::Cell<usize>,
        writes: std::cell::Cell<usize>,
        fail: bool,
    }

    impl StateStore for Store {
        fn get(&self, key: &str) -> Result<Option<(Vec<u8>, StateVersion)>, PortError> {
            self.inner.get(key)
        }

        fn put_if(&self, key: &str, body: &[u8], expected: Option<&StateVersion>) -> Result<StateVersion, PortError> {
            if self.fail {
                return Err(PortError::new("put", key, PortErrorKind::Other, "disk full"));
            }
            if self.intruders.get() > 0 {
                // Another run commits first: its own window, one hour before the oldest kept.
                self.intruders.set(self.intruders.get().saturating_sub(1));
                let current = self.inner.get(key)?;
                let mut theirs = current
                    .as_ref()
                    .map(|(b, _)| PredictionHistory::from_json(std::str::from_utf8(b).unwrap()).unwrap())
                    .unwrap_or_default();
                let oldest = theirs.windows.first().map_or(t0(), |w| w.start);
                theirs.record(window(oldest - Duration::hours(1), 7, 0.5, 0.5));
                let version = current.map(|(_, v)| v);
                self.inner
                    .put_if(key, theirs.to_json().unwrap().as_bytes(), version.as_ref())?;
            }
            let version = self.inner.put_if(key, body, expected)?;
            self.writes.set(self.writes.get() + 1);
            Ok(version)
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
        let (body, _) = store.inner.get("k").unwrap().unwrap();
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
        let (_, version) = store.inner.get("k").unwrap().unwrap();
        store.inner.put_if("k", b"{not json", Some(&version)).unwrap();
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
}
