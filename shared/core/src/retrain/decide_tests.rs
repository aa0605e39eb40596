//! Tests of `decide_retraining`: one per rule with concrete values, and the invariants as properties.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::decide::{Reason, RetrainDecision, decide_retraining};
use super::history::{JobStatus, RetrainHistory};
use super::naming::training_job_name;
use super::policy::{Check, RetrainPolicy};
use super::signals::{DataQualitySignal, QualitySignal, Signals, WindowSignals};
use crate::quality::report::ComparisonOperator;
use crate::violations::CheckType;
use crate::window::Window;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap()
}

fn hour(h: i64) -> DateTime<Utc> {
    t0() + Duration::hours(h)
}

fn policy() -> RetrainPolicy {
    RetrainPolicy::from_json(r#"{"model":"churn","budget":{"monthly_training_hours":10,"estimated_hours_per_job":2}}"#)
        .unwrap()
}

/// The window of hour `h` (from `h` to `h + 1`).
fn window(h: i64) -> WindowSignals {
    WindowSignals::quiet(Window {
        start: hour(h),
        end: hour(h + 1),
    })
}

fn drift(h: i64, share: f64) -> WindowSignals {
    WindowSignals {
        drift_share: Some(share),
        ..window(h)
    }
}

fn f1(h: i64, value: Option<f64>) -> WindowSignals {
    WindowSignals {
        drift_share: Some(0.0),
        model_quality: value
            .map(|value| QualitySignal {
                metric: "f1".to_owned(),
                value,
                threshold: 0.7,
                operator: ComparisonOperator::LessThanThreshold,
            })
            .into_iter()
            .collect(),
        ..window(h)
    }
}

fn signals(windows: Vec<WindowSignals>) -> Signals {
    Signals { windows }
}

fn launched_history(at: DateTime<Utc>, status: JobStatus, hours: Option<f64>) -> RetrainHistory {
    let mut h = RetrainHistory::default();
    let name = training_job_name("churn", at);
    h.record_launch(at, &name).unwrap();
    h.update_status(&name, status, hours).unwrap();
    h
}

fn not_sustained(d: &RetrainDecision, check: Check) -> Option<(u32, u32)> {
    d.reasons().iter().find_map(|r| match r {
        Reason::NotSustained {
            check: c,
            consecutive_windows,
            required,
            ..
        } if *c == check => Some((*consecutive_windows, *required)),
        _ => None,
    })
}

#[test]
fn three_drifted_windows_in_a_row_launch_with_the_numbers() {
    let s = signals(vec![drift(9, 0.1), drift(10, 0.6), drift(11, 0.75), drift(12, 0.8)]);
    let d = decide_retraining(
        &s,
        &policy(),
        &RetrainHistory::default(),
        hour(13) + Duration::minutes(5),
    );
    assert!(d.is_launch(), "{d:?}");
    assert_eq!(d.fired(), vec![Check::DriftShare]);
    assert_eq!(
        d.reasons()[0],
        Reason::DriftShareAboveThreshold {
            consecutive_windows: 3,
            required: 3,
            first_window: hour(10),
            last_window: hour(12),
            drift_share: 0.8,
            lowest_drift_share: 0.6,
            threshold: 0.5,
        }
    );
    assert_eq!(
        d.reasons()[1],
        Reason::WithinBudget {
            month: "2026-11".to_owned(),
            used_hours: 0.0,
            estimated_hours: 2.0,
            budget_hours: 10.0
        }
    );
}

#[test]
fn two_windows_are_not_enough_and_the_share_must_exceed_the_threshold() {
    let s = signals(vec![drift(10, 0.5), drift(11, 0.6), drift(12, 0.6)]);
    let d = decide_retraining(&s, &policy(), &RetrainHistory::default(), hour(13));
    assert!(!d.is_launch());
    // 0.5 is not above 0.5.
    assert_eq!(not_sustained(&d, Check::DriftShare), Some((2, 3)));
    assert_eq!(not_sustained(&d, Check::Quality), Some((0, 3)));
}

#[test]
fn a_clear_window_or_a_gap_breaks_the_run() {
    let clear = signals(vec![
        drift(8, 0.9),
        drift(9, 0.9),
        drift(10, 0.1),
        drift(11, 0.9),
        drift(12, 0.9),
    ]);
    let d = decide_retraining(&clear, &policy(), &RetrainHistory::default(), hour(13));
    assert_eq!(not_sustained(&d, Check::DriftShare), Some((2, 3)));
    // Hour 10 is missing: 8, 9 and 11, 12 are not one run.
    let gap = signals(vec![drift(8, 0.9), drift(9, 0.9), drift(11, 0.9), drift(12, 0.9)]);
    let d = decide_retraining(&gap, &policy(), &RetrainHistory::default(), hour(13));
    assert_eq!(not_sustained(&d, Check::DriftShare), Some((2, 3)));
    // With hour 10 present, it launches.
    let full = signals(vec![drift(9, 0.9), drift(10, 0.9), drift(11, 0.9), drift(12, 0.9)]);
    let d = decide_retraining(&full, &policy(), &RetrainHistory::default(), hour(13));
    assert!(d.is_launch());
    assert!(matches!(
        d.reasons()[0],
        Reason::DriftShareAboveThreshold {
            consecutive_windows: 4,
            ..
        }
    ));
}

#[test]
fn windows_waiting_for_labels_neither_count_nor_break() {
    // f1 below 0.7 at 9, 10 and 11; 12 and 13 have no ground truth yet.
    let s = signals(vec![
        f1(8, Some(0.9)),
        f1(9, Some(0.6)),
        f1(10, Some(0.65)),
        f1(11, Some(0.5)),
        f1(12, None),
        f1(13, None),
    ]);
    let d = decide_retraining(&s, &policy(), &RetrainHistory::default(), hour(14));
    assert!(d.is_launch(), "{d:?}");
    let Reason::QualityViolated {
        consecutive_windows,
        first_window,
        last_window,
        violations,
        ..
    } = &d.reasons()[0]
    else {
        panic!("{d:?}")
    };
    assert_eq!(
        (*consecutive_windows, *first_window, *last_window),
        (3, hour(9), hour(11))
    );
    assert_eq!((violations[0].metric.as_str(), violations[0].value), ("f1", 0.5));
    // Only the listed metrics count.
    let mut p = policy();
    p.checks.quality.metrics = vec!["accuracy".to_owned()];
    let d = decide_retraining(&s, &p, &RetrainHistory::default(), hour(14));
    assert!(!d.is_launch());
}

#[test]
fn a_storm_of_notifications_launches_one_job() {
    let s = signals(vec![drift(10, 0.9), drift(11, 0.9), drift(12, 0.9)]);
    let mut history = RetrainHistory::default();
    let mut launches = 0;
    // The same alarm delivered three times, twice within the same second.
    for now in [hour(13), hour(13), hour(13) + Duration::seconds(40)] {
        let d = decide_retraining(&s, &policy(), &history, now);
        if d.is_launch() {
            launches += 1;
            history.record_launch(now, &training_job_name("churn", now)).unwrap();
        } else {
            assert!(d.has_reason("training_in_progress"), "{d:?}");
        }
    }
    assert_eq!(launches, 1);
    // Holding, it says which job runs and for how long.
    let d = decide_retraining(&s, &policy(), &history, hour(14));
    assert_eq!(
        d.reasons(),
        &[Reason::TrainingInProgress {
            job_name: training_job_name("churn", hour(13)),
            launched_at: hour(13),
            running_hours: 1.0
        }]
    );
}

#[test]
fn minimum_interval_counts_from_the_last_launch_whatever_its_outcome() {
    let h = launched_history(hour(13), JobStatus::Failed, Some(0.25));
    let fresh = |from: i64| signals((from..from + 3).map(|i| drift(i, 0.9)).collect());
    let d = decide_retraining(&fresh(14), &policy(), &h, hour(17) + Duration::minutes(30));
    assert!(!d.is_launch());
    assert!(d.has_reason("drift_share_above_threshold"), "the check fired: {d:?}");
    assert!(d.reasons().contains(&Reason::MinInterval {
        last_launch: hour(13),
        job_name: training_job_name("churn", hour(13)),
        min_interval_hours: 24,
        remaining_minutes: 19 * 60 + 30,
    }));
    let d = decide_retraining(&fresh(34), &policy(), &h, hour(37));
    assert!(d.is_launch(), "{d:?}");
}

#[test]
fn evidence_from_before_the_last_launch_is_not_used_again() {
    let h = launched_history(hour(13), JobStatus::Completed, Some(1.0));
    let mut p = policy();
    p.min_interval_hours = 0;
    p.max_signal_age_hours = 48;
    // Windows 10..12 launched the job at 13:00; they do not launch another.
    let s = signals(vec![drift(10, 0.9), drift(11, 0.9), drift(12, 0.9)]);
    let d = decide_retraining(&s, &p, &h, hour(20));
    assert!(!d.is_launch());
    assert!(d.reasons().contains(&Reason::NotSustained {
        check: Check::DriftShare,
        consecutive_windows: 0,
        required: 3,
        counted_from: Some(hour(13)),
    }));
    // Three new drifted windows do.
    let s = signals((10..16).map(|i| drift(i, 0.9)).collect());
    assert!(decide_retraining(&s, &p, &h, hour(16)).is_launch());
}

#[test]
fn the_monthly_budget_holds_until_the_next_month() {
    let mut p = policy();
    p.min_interval_hours = 0;
    // 9 of 10 hours used this month; a job is estimated at 2.
    let h = launched_history(hour(-24 * 20), JobStatus::Completed, Some(9.0));
    let s = signals(vec![drift(10, 0.9), drift(11, 0.9), drift(12, 0.9)]);
    let d = decide_retraining(&s, &p, &h, hour(13));
    assert!(!d.is_launch());
    assert!(d.reasons().contains(&Reason::BudgetExhausted {
        month: "2026-11".to_owned(),
        used_hours: 9.0,
        estimated_hours: 2.0,
        budget_hours: 10.0,
    }));
    // 1 December: a new month, a new budget.
    let dec = Utc.with_ymd_and_hms(2026, 12, 1, 3, 0, 0).unwrap();
    let s = signals((0..3).map(|i| drift(i, 0.9)).map(|w| shift(w, dec - hour(3))).collect());
    let d = decide_retraining(&s, &p, &h, dec);
    assert!(d.is_launch(), "{d:?}");
    assert!(d.has_reason("within_budget"));
    // Exactly at the budget is allowed: 8 used + 2 = 10.
    let h8 = launched_history(hour(-24 * 20), JobStatus::Completed, Some(8.0));
    let s = signals(vec![drift(10, 0.9), drift(11, 0.9), drift(12, 0.9)]);
    assert!(decide_retraining(&s, &p, &h8, hour(13)).is_launch());
}

fn shift(mut w: WindowSignals, by: Duration) -> WindowSignals {
    w.start += by;
    w.end += by;
    w
}

#[test]
fn stale_missing_or_disabled_hold() {
    let s = signals(vec![drift(10, 0.9), drift(11, 0.9), drift(12, 0.9)]);
    let d = decide_retraining(
        &s,
        &policy(),
        &RetrainHistory::default(),
        hour(19) + Duration::seconds(1),
    );
    assert_eq!(
        d.reasons(),
        &[Reason::SignalsStale {
            newest_window_end: hour(13),
            max_age_hours: 6
        }]
    );
    assert!(decide_retraining(&s, &policy(), &RetrainHistory::default(), hour(19)).is_launch());
    let d = decide_retraining(&Signals::default(), &policy(), &RetrainHistory::default(), hour(13));
    assert_eq!(d.reasons(), &[Reason::NoSignals]);
    let mut p = policy();
    p.enabled = false;
    assert_eq!(
        decide_retraining(&s, &p, &RetrainHistory::default(), hour(13)).reasons(),
        &[Reason::Disabled]
    );
}

#[test]
fn named_features_need_their_minimum_together() {
    let mut p = policy();
    p.checks.drift_share.enabled = false;
    p.checks.quality.enabled = false;
    // "income" named twice still counts once.
    p.checks.drifted_features.features = ["income", "region", "age", "income"].map(str::to_owned).to_vec();
    p.checks.drifted_features.min_drifted = 2;
    let w = |h: i64, drifted: &[&str]| WindowSignals {
        drift_share: Some(0.1),
        drifted_features: drifted.iter().map(|s| (*s).to_owned()).collect(),
        ..window(h)
    };
    let one = signals((10..13).map(|h| w(h, &["income", "zip"])).collect());
    let d = decide_retraining(&one, &p, &RetrainHistory::default(), hour(13));
    assert_eq!(not_sustained(&d, Check::DriftedFeatures), Some((0, 3)));
    let two = signals((10..13).map(|h| w(h, &["region", "income"])).collect());
    let d = decide_retraining(&two, &p, &RetrainHistory::default(), hour(13));
    assert!(d.is_launch());
    assert!(
        matches!(&d.reasons()[0], Reason::FeaturesDrifted { features, min_drifted: 2, .. }
        if features == &["income".to_owned(), "region".to_owned()])
    );
}

#[test]
fn data_quality_counts_only_the_listed_types_and_features() {
    let mut p = policy();
    p.checks.data_quality.check_types = vec![CheckType::CompletenessCheck];
    p.checks.data_quality.features = vec!["income".to_owned()];
    p.checks.data_quality.consecutive_windows = Some(2);
    let w = |h: i64, check_type, feature: &str| WindowSignals {
        data_quality: vec![DataQualitySignal {
            check_type,
            feature: feature.to_owned(),
        }],
        ..window(h)
    };
    let other_type = signals(vec![
        w(11, CheckType::DataTypeCheck, "income"),
        w(12, CheckType::DataTypeCheck, "income"),
    ]);
    let d = decide_retraining(&other_type, &p, &RetrainHistory::default(), hour(13));
    assert_eq!(not_sustained(&d, Check::DataQuality), Some((0, 2)));
    let other_feature = signals(vec![
        w(11, CheckType::CompletenessCheck, "age"),
        w(12, CheckType::CompletenessCheck, "age"),
    ]);
    assert!(!decide_retraining(&other_feature, &p, &RetrainHistory::default(), hour(13)).is_launch());
    let counted = signals(vec![
        w(11, CheckType::CompletenessCheck, "income"),
        w(12, CheckType::CompletenessCheck, "income"),
    ]);
    let d = decide_retraining(&counted, &p, &RetrainHistory::default(), hour(13));
    assert!(d.is_launch(), "{d:?}");
    assert_eq!(d.fired(), vec![Check::DataQuality]);
}

#[test]
fn the_decision_serialises_for_one_log_event() {
    let s = signals(vec![drift(10, 0.9), drift(11, 0.9), drift(12, 0.9)]);
    let d = decide_retraining(&s, &policy(), &RetrainHistory::default(), hour(13));
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["decision"], "launch");
    assert_eq!(v["reasons"][0]["reason"], "drift_share_above_threshold");
    assert_eq!(v["reasons"][0]["first_window"], "2026-11-26T10:00:00Z");
    let back: RetrainDecision = serde_json::from_value(v).unwrap();
    assert_eq!(back, d);
}

// ---------------------------------------------------------------------------------------------------------------
// Properties: a month and more of hourly windows, repeated notifications, jobs that end at random.

/// What one hour brings.
#[derive(Debug, Clone, Copy)]
struct Hour {
    /// The window of the hour is missing (the evaluator did not run).
    gap: bool,
    /// 0: no drift computed; 1: share 0.2; 2: share 0.8.
    drift: u8,
    /// 0: no ground truth; 1: f1 fine; 2: f1 violated.
    quality: u8,
    /// Notifications this hour (0 to 3), at minute `minute`; the first two at the same second.
    notifications: u8,
    minute: u8,
    /// How the running job ends if it ends this hour: 0 completed, 1 failed, 2 stopped.
    end: u8,
}

fn hours() -> impl Strategy<Value = Vec<Hour>> {
    prop::collection::vec(
        (
            prop::bool::weighted(0.08),
            prop_oneof![1 => Just(0u8), 3 => Just(1u8), 5 => Just(2u8)],
            prop_oneof![2 => Just(0u8), 3 => Just(1u8), 4 => Just(2u8)],
            0u8..4,
            0u8..60,
            0u8..3,
        )
            .prop_map(|(gap, drift, quality, notifications, minute, end)| Hour {
                gap,
                drift,
                quality,
                notifications,
                minute,
                end,
            }),
        24 * 20..24 * 40,
    )
}

/// A policy with random windows in a row, interval and budget; hours in quarters so that sums are exact.
fn random_policy() -> impl Strategy<Value = (RetrainPolicy, u32)> {
    (
        1u32..5,
        prop::option::of(1u32..4),
        0u32..48,
        0u32..=120,
        1u32..=16,
        1u32..=16,
    )
        .prop_map(|(windows, quality_windows, interval, budget_q, est_q, duration_q)| {
            let mut p = policy();
            p.consecutive_windows = windows;
            p.checks.quality.consecutive_windows = quality_windows;
            p.min_interval_hours = interval;
            p.budget.estimated_hours_per_job = f64::from(est_q) / 4.0;
            p.budget.monthly_training_hours = f64::from(budget_q.max(est_q)) / 4.0;
            p.validate().unwrap();
            // Jobs use at most the estimate.
            (p, duration_q.min(est_q))
        })
}

fn fires(check: Check, p: &RetrainPolicy, w: &WindowSignals) -> Option<bool> {
    match check {
        Check::DriftShare => w.drift_share.map(|s| s > p.checks.drift_share.above),
        Check::Quality => w.model_quality.first().map(|q| q.value < q.threshold),
        _ => None,
    }
}

/// The consecutive-window rule, written independently of the decision: among the windows that started at or
/// after the last launch, the newest `required` on which the check could be judged all fired, and no window is
/// missing from the first of them to the newest.
fn rule_met(check: Check, p: &RetrainPolicy, windows: &[WindowSignals], since: Option<DateTime<Utc>>) -> bool {
    let required = match check {
        Check::Quality => p.checks.quality.consecutive_windows.unwrap_or(p.consecutive_windows),
        _ => p.consecutive_windows,
    } as usize;
    let eligible: Vec<&WindowSignals> = windows.iter().filter(|w| since.is_none_or(|t| w.start >= t)).collect();
    let judged: Vec<usize> = (0..eligible.len())
        .filter(|&i| fires(check, p, eligible[i]).is_some())
        .collect();
    if judged.len() < required {
        return false;
    }
    let newest = &judged[judged.len() - required..];
    let all_fired = newest.iter().all(|&i| fires(check, p, eligible[i]) == Some(true));
    let contiguous = (newest[0]..eligible.len() - 1).all(|i| eligible[i].end >= eligible[i + 1].start);
    all_fired && contiguous
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Over random months: no launch while a job runs (and a repeated notification right after a launch holds),
    /// no two launches within the minimum interval, the month's charged hours never exceed the budget, every
    /// launch is backed by a check that fired in enough windows in a row, and conversely, when a check did and
    /// nothing else forbids it, the decision launches.
    #[test]
    fn invariants_hold_over_random_months((p, duration_q) in random_policy(), hours in hours()) {
        // Start on 20 January so that runs cross into February and March.
        let start = Utc.with_ymd_and_hms(2027, 1, 20, 0, 0, 0).unwrap();
        let est = p.budget.estimated_hours_per_job;
        let duration = f64::from(duration_q) / 4.0;
        let mut history = RetrainHistory::default();
        let mut windows: Vec<WindowSignals> = Vec::new();
        let mut launch_times: Vec<DateTime<Utc>> = Vec::new();
        for (i, hr) in hours.iter().enumerate() {
            let hour_start = start + Duration::hours(i as i64);
            // The job launched last ends once its duration has passed.
            if let Some(job) = history.in_progress().cloned()
                && hour_start >= job.at + Duration::minutes((duration * 60.0) as i64)
            {
                let status = [JobStatus::Completed, JobStatus::Failed, JobStatus::Stopped][hr.end as usize];
                history.update_status(&job.job_name, status, Some(duration)).unwrap();
            }
            if !hr.gap {
                let mut w = WindowSignals::quiet(Window { start: hour_start - Duration::hours(1), end: hour_start });
                w.drift_share = [None, Some(0.2), Some(0.8)][hr.drift as usize];
                if hr.quality > 0 {
                    w.model_quality.push(QualitySignal {
                        metric: "f1".to_owned(),
                        value: if hr.quality == 2 { 0.5 } else { 0.9 },
                        threshold: 0.7,
                        operator: ComparisonOperator::LessThanThreshold,
                    });
                }
                windows.push(w);
                if windows.len() > 48 {
                    windows.remove(0);
                }
            }
            let signals = Signals { windows: windows.clone() };
            for n in 0..hr.notifications {
                let now = hour_start
                    + Duration::minutes(i64::from(hr.minute))
                    + Duration::seconds(i64::from(n.saturating_sub(1)));
                let d = decide_retraining(&signals, &p, &history, now);
                let running = history.in_progress().is_some();
                let last = history.last_launch().map(|l| l.at);
                let max_age = Duration::hours(i64::from(p.max_signal_age_hours));
                let fresh = windows.last().is_some_and(|w| now - w.end <= max_age);
                let interval_ok = last.is_none_or(|t| now >= t + Duration::hours(i64::from(p.min_interval_hours)));
                let budget_ok = history.hours_in_month(now, est) + est <= p.budget.monthly_training_hours;
                let met: Vec<Check> = [Check::Quality, Check::DriftShare]
                    .into_iter()
                    .filter(|c| rule_met(*c, &p, &windows, last))
                    .collect();
                if d.is_launch() {
                    prop_assert!(!running, "launched while a job runs: {d:?}");
                    prop_assert!(interval_ok, "launched within the interval: {d:?}");
                    prop_assert!(budget_ok, "launched over budget: {d:?}");
                    prop_assert!(fresh, "launched on stale signals: {d:?}");
                    prop_assert!(!d.fired().is_empty());
                    for c in d.fired() {
                        prop_assert!(met.contains(&c), "{c:?} fired without its run: {d:?}");
                    }
                    history.record_launch(now, &training_job_name(&p.model, now)).unwrap();
                    launch_times.push(now);
                    // The same notification again, at once: it holds on the job just recorded.
                    let again = decide_retraining(&signals, &p, &history, now);
                    prop_assert!(!again.is_launch() && again.has_reason("training_in_progress"), "{again:?}");
                } else {
                    prop_assert!(
                        running || !fresh || !interval_ok || !budget_ok || met.is_empty(),
                        "held although everything allowed a launch: {d:?}"
                    );
                }
            }
        }
        for pair in launch_times.windows(2) {
            prop_assert!(pair[1] - pair[0] >= Duration::hours(i64::from(p.min_interval_hours)));
        }
        // Per month, the hours charged (what jobs used, the estimate for a running one) stay within the budget.
        for l in &history.launches {
            let charged = history.hours_in_month(l.at, est);
            prop_assert!(charged <= p.budget.monthly_training_hours, "{charged} > budget in {:?}", l.at);
        }
    }
}
