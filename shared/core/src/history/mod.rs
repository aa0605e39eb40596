//! Per-window prediction history, and a seasonality-aware detector of anomalies in it.
//!
//! Each run summarises its window of predictions ([`WindowSummary`]: invocations, mean score, positive rate or class
//! shares, invalid outputs), compares it with the history kept from earlier runs, and appends it. The history is a
//! small JSON state ([`PredictionHistory`]) that the next run reads back; it keeps at most `max_windows` windows
//! (default 8 weeks of hours), dropping the oldest.
//!
//! # Layout
//!
//! - [`summary`]: one window's prediction summary ([`WindowSummary`]) and its bounded-memory builder
//!   ([`WindowBuilder`]).
//! - [`detector`]: the tracked series and the seasonality-aware anomaly detector ([`assess`], [`DetectorConfig`],
//!   [`Verdict`]), and the CloudWatch data of a window and its assessments ([`history_metric_data`]).
//! - [`store`]: the history kept between runs ([`PredictionHistory`]) and [`update_history`], the read, assess,
//!   record and compare-and-set write over a state store, with its configuration and errors.

pub mod detector;
pub mod store;
pub mod summary;

pub use detector::{Assessment, Baseline, DetectorConfig, Series, Verdict, assess, assess_series, history_metric_data};
pub use store::{HistoryConfig, HistoryStateError, HistoryUpdate, MAX_STATE_ATTEMPTS, update_history};

pub use summary::{
    DEFAULT_MAX_WINDOWS, DEFAULT_WINDOW_SECONDS, HISTORY_VERSION, HistoryError, MAX_TRACKED_CLASSES, OTHER_CLASSES,
    PredictionHistory, WindowBuilder, WindowSummary,
};

/// Windows shared by the tests of the submodules.
#[cfg(test)]
mod fixtures {
    use std::collections::BTreeMap;

    use chrono::{DateTime, Utc};

    use super::WindowSummary;

    pub(super) fn t0() -> DateTime<Utc> {
        // A Monday, 00:00 UTC.
        DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    pub(super) fn window(start: DateTime<Utc>, invocations: u64, mean: f64, rate: f64) -> WindowSummary {
        WindowSummary {
            start,
            invocations,
            prediction_mean: Some(mean),
            prediction_sd: None,
            scored_outputs: invocations,
            positive_rate: Some(rate),
            class_shares: BTreeMap::new(),
            invalid_outputs: 0,
        }
    }
}
