//! The seasonality-aware anomaly detector over the prediction history, and the CloudWatch data of its verdicts.
//!
//! # Method
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
//! The noise floor is the sampling noise of the series at the new window's size, so that a constant history does not
//! make every change infinite, and a small window is not judged as if it held thousands of rows:
//!
//! - invocation counts: the Poisson noise `sqrt(median + 1)` (one pseudo-count, so that a history of empty windows
//!   still expects a stray invocation or two);
//! - rates (invalid rate, positive rate, class shares): the binomial noise `sqrt(p' (1 - p') / n)` of a rate
//!   measured on the window's `n` outputs (all invocations for the invalid rate, the valid outputs for the others),
//!   with `p' = (n p + 1) / (n + 2)` Laplace's add-one estimate around the reference median `p`: a rate of 0 in the
//!   history then still has the noise of about one event in `n`, so one invalid output in 2,000 scores about 1, not
//!   500,000;
//! - the mean score: the standard error `s / sqrt(n)` of a mean of the window's `n` scores, `s` the larger of the
//!   window's own sample standard deviation and the median of the reference windows' (whichever are kept: they
//!   need two scores, and histories written before they were kept have none). With neither known there is no
//!   floor but the last one;
//!
//! and never below 1e-9, which only a series with no spread at all (a model that always answers the same) reaches:
//! then any change is real.
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

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::summary::{PredictionHistory, WindowSummary};
use crate::metrics::{MODEL_METRICS_NAMESPACE, MetricDatum, MetricScope, Unit};

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

    /// The noise floor of the series' scale: its sampling noise at the size of `current`, the window scored, around
    /// the reference median (see the module docs). `reference` are the reference windows.
    fn noise_floor(&self, reference_median: f64, current: &WindowSummary, reference: &[&WindowSummary]) -> f64 {
        let floor = match self {
            Series::Invocations => (reference_median.max(0.0) + 1.0).sqrt(),
            Series::PredictionMean => {
                let mut reference_sds: Vec<f64> = reference.iter().filter_map(|w| w.prediction_sd).collect();
                let reference_sd = (!reference_sds.is_empty()).then(|| median(&mut reference_sds));
                let sd = current.prediction_sd.into_iter().chain(reference_sd).reduce(f64::max);
                match sd {
                    Some(sd) => sd / (current.scored_outputs.max(1) as f64).sqrt(),
                    None => 0.0,
                }
            }
            Series::InvalidRate => binomial_noise(reference_median, current.invocations),
            Series::PositiveRate | Series::ClassShare(_) => binomial_noise(reference_median, current.valid_outputs()),
        };
        floor.max(MIN_SCALE)
    }
}

/// The smallest scale a score is divided by: reached only by a series without any spread.
const MIN_SCALE: f64 = 1e-9;

/// The standard deviation of a rate measured on `n` trials around the rate `p`, with Laplace's add-one estimate
/// `(n p + 1) / (n + 2)` in place of `p`, so that a rate of 0 or 1 still has the noise of one event in `n`.
fn binomial_noise(p: f64, n: u64) -> f64 {
    let n = n.max(1) as f64;
    let p = (n * p.clamp(0.0, 1.0) + 1.0) / (n + 2.0);
    (p * (1.0 - p) / n).sqrt()
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

/// The reference windows of `series` for the window starting at `start` (windows before it with a finite value of
/// the series), and which baseline they are.
fn reference<'h>(
    history: &'h PredictionHistory,
    series: &Series,
    start: DateTime<Utc>,
    config: &DetectorConfig,
) -> Option<(Baseline, Vec<&'h WindowSummary>)> {
    let has_value = |w: &&WindowSummary| series.value(w).is_some_and(f64::is_finite);
    let earlier = history.before(start);
    let oldest = earlier.first()?.start;
    for (baseline, period) in [
        (Baseline::HourOfWeek, Duration::weeks(1)),
        (Baseline::HourOfDay, Duration::days(1)),
    ] {
        let mut windows = Vec::new();
        let mut t = start - period;
        while t >= oldest {
            if let Some(w) = history.at(t).filter(has_value) {
                windows.push(w);
            }
            t -= period;
        }
        if windows.len() >= config.min_reference {
            return Some((baseline, windows));
        }
    }
    let windows: Vec<&WindowSummary> = earlier
        .iter()
        .rev()
        .take(config.recent_windows)
        .filter(has_value)
        .collect();
    (windows.len() >= config.min_reference).then_some((Baseline::Recent, windows))
}

/// The z-score of `window` for `series` against the history before it: (z, median, scale, baseline, n).
fn score(
    history: &PredictionHistory,
    series: &Series,
    window: &WindowSummary,
    config: &DetectorConfig,
) -> Option<(f64, f64, f64, Baseline, usize)> {
    let x = series.value(window).filter(|v| v.is_finite())?;
    let (baseline, windows) = reference(history, series, window.start, config)?;
    let mut values: Vec<f64> = windows.iter().filter_map(|w| series.value(w)).collect();
    let n = values.len();
    let med = median(&mut values);
    let mut deviations: Vec<f64> = values.iter().map(|v| (v - med).abs()).collect();
    let mad = median(&mut deviations);
    let scale = (1.4826 * mad).max(series.noise_floor(med, window, &windows));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::DEFAULT_MAX_WINDOWS;
    use crate::history::fixtures::{t0, window};
    use proptest::prelude::*;

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

    /// A window summarised from its rows as the evaluator does: `None` an invalid output, else a score, positive
    /// (class "1") from 0.5.
    fn summarised(start: DateTime<Utc>, rows: impl IntoIterator<Item = Option<f64>>) -> WindowSummary {
        let mut b = crate::history::WindowBuilder::default();
        for row in rows {
            match row {
                Some(s) => b.add(Some(s), Some(s >= 0.5), Some(if s >= 0.5 { "1" } else { "0" })),
                None => b.add_invalid(),
            }
        }
        b.finish(start)
    }

    /// The assessment of `series` among `all`.
    fn of<'a>(all: &'a [Assessment], series: &Series) -> &'a Assessment {
        all.iter().find(|a| &a.series == series).unwrap()
    }

    #[test]
    fn one_invalid_output_after_a_history_without_any_is_not_an_anomaly() {
        let config = DetectorConfig::default();
        let mut h = PredictionHistory::default();
        let steady = |k: i64| {
            summarised(
                t0() + Duration::hours(k),
                (0..2000).map(|i| Some(0.1 + 0.0001 * f64::from(i % 9))),
            )
        };
        for k in 0..(4 * 7 * 24) {
            h.record(steady(k));
        }
        let now = t0() + Duration::hours(4 * 7 * 24);
        let one = summarised(
            now,
            (0..2000).map(|i| (i != 7).then_some(0.1 + 0.0001 * f64::from(i % 9))),
        );
        let assessments = assess(&h, &one, &config);
        let invalid = of(&assessments, &Series::InvalidRate);
        // z = (1/2000) / sqrt(p'(1 - p') / 2000), p' = 1/2002: 1.00075 (Python, this formula); 500,000 before the
        // add-one estimate, with a floor of 1e-9.
        assert!((invalid.score.unwrap() - 1.000_749_843_8).abs() < 1e-6, "{invalid:?}");
        assert_eq!(invalid.verdict, Verdict::Normal);
        let scope = MetricScope {
            endpoint: "ep".into(),
            schedule: "s".into(),
            timestamp: now,
        };
        let data = history_metric_data(&one, &assessments, &scope);
        let worst = data
            .iter()
            .find(|d| d.metric_name == "prediction_anomaly_score")
            .unwrap()
            .value;
        assert!(worst < config.threshold, "{worst}: {assessments:?}");

        // A real shift, a fifth of the outputs invalid, is flagged: z = 0.2 / 0.0005 ~ 400.
        let fifth = summarised(
            now,
            (0..2000).map(|i| (i % 5 != 0).then_some(0.1 + 0.0001 * f64::from(i % 9))),
        );
        let invalid = assess_series(&h, &fifth, Series::InvalidRate, &config).unwrap();
        assert_eq!(invalid.verdict, Verdict::Spike, "{invalid:?}");
        assert!(invalid.score.unwrap() > 100.0, "{invalid:?}");
    }

    #[test]
    fn windows_of_24_rows_with_one_changed_row_score_about_one() {
        let config = DetectorConfig::default();
        for window_seconds in [3600, 24 * 3600] {
            let step = Duration::seconds(window_seconds);
            let mut h = PredictionHistory::new(window_seconds, DEFAULT_MAX_WINDOWS);
            // A constant history: 24 rows a window, every score 0.3.
            for k in 0..30 {
                h.record(summarised(t0() + step * k, [Some(0.3); 24]));
            }
            let now = t0() + step * 30;
            let mut invalid = [Some(0.3); 24];
            invalid[5] = None;
            let mut positive = [Some(0.3); 24];
            positive[5] = Some(0.9);
            for current in [summarised(now, invalid), summarised(now, positive)] {
                let assessments = assess(&h, &current, &config);
                assert_eq!(assessments.len(), 4 + current.class_shares.len());
                for a in &assessments {
                    let z = a.score.unwrap();
                    // One row in 24 moves a rate by 1/24, with noise sqrt(p'(1 - p')/24) at p' = 1/26: z = 1.0614
                    // (Python, this formula); the mean by 0.6/24 with standard error s/sqrt(24): z = 1 (numpy,
                    // ddof=1). Before, the floor of 1e-9 gave 4e7.
                    assert!(z.is_finite() && z.abs() < 1.1, "{window_seconds} s: {a:?}");
                    assert_eq!(a.verdict, Verdict::Normal, "{window_seconds} s: {a:?}");
                }
                let rate = |s: Series| of(&assessments, &s).score.unwrap().abs();
                if current.invalid_outputs == 1 {
                    assert!((rate(Series::InvalidRate) - 1.061_445_555).abs() < 1e-6);
                } else {
                    assert!((rate(Series::PredictionMean) - 1.0).abs() < 1e-9);
                    assert!((rate(Series::PositiveRate) - 1.061_445_555).abs() < 1e-6);
                    assert!((rate(Series::ClassShare("1".into())) - 1.061_445_555).abs() < 1e-6);
                }
            }
        }
    }

    #[test]
    fn one_invocation_after_empty_windows_is_not_an_anomaly() {
        let mut h = PredictionHistory::default();
        for k in 0..10 {
            h.record(summarised(t0() + Duration::hours(k), []));
        }
        let one = summarised(t0() + Duration::hours(10), [Some(0.3)]);
        let a = assess_series(&h, &one, Series::Invocations, &DetectorConfig::default()).unwrap();
        // Poisson noise with one pseudo-count: (1 - 0) / sqrt(0 + 1). It was 1e9 with a floor of sqrt(0).
        assert_eq!((a.score, a.verdict), (Some(1.0), Verdict::Normal));
    }

    #[test]
    fn the_mean_score_is_judged_by_its_standard_error() {
        let config = DetectorConfig::default();
        let mut h = PredictionHistory::default();
        // Scores spread 0.1 .. 0.5 (sd about 0.117) around 0.3, 500 a window: the mean's standard error is about
        // 0.0052, so a shift of 0.015 is z ~ 2.9 (it was 5, a spike, against 1 % of the median) and one of 0.05 is
        // z ~ 9.6.
        let rows = |shift: f64| (0..500).map(move |i| Some(0.1 + 0.4 * f64::from(i % 101) / 100.0 + shift));
        for k in 0..48 {
            h.record(summarised(t0() + Duration::hours(k), rows(0.0)));
        }
        let now = t0() + Duration::hours(48);
        let small = assess_series(&h, &summarised(now, rows(0.015)), Series::PredictionMean, &config).unwrap();
        assert_eq!(small.verdict, Verdict::Normal, "{small:?}");
        let real = assess_series(&h, &summarised(now, rows(0.05)), Series::PredictionMean, &config).unwrap();
        assert_eq!(real.verdict, Verdict::Spike, "{real:?}");
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
