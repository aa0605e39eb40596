//! The retraining decision: a pure function of the recent windows, the policy, the launches so far and the time.
//!
//! The order of the rules, and why:
//! 1. policy disabled: hold;
//! 2. a job of this model in progress: hold. First, so that a storm of repeated alarms launches at most one job
//!    whatever the signals say: the first handler records its launch before acting, every later one finds it;
//! 3. no windows, or the newest ended more than `max_signal_age_hours` ago: hold (a replayed notification must
//!    not act on what was true then);
//! 4. the checks: each fires or not per window, and launches when it fired in `consecutive_windows` windows in a
//!    row. Only windows that started at or after the last launch count, so the evidence behind one launch never
//!    triggers another. A missing window (the previous one ends before the next starts) breaks a run; a window
//!    where the check could not be evaluated (no ground truth yet, no drift computed) neither counts nor breaks;
//! 5. the minimum interval since the last launch, whatever became of it: hold;
//! 6. the monthly budget: the hours charged to this month plus one job's estimate must fit: else hold.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::history::{RetrainHistory, month_label};
use super::policy::{Check, RetrainPolicy};
use super::signals::{DataQualitySignal, QualitySignal, Signals, WindowSignals};

/// A fact behind the decision, with its numbers. Serialised with a `reason` tag, for one structured log event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// The policy is disabled.
    Disabled,
    /// A training job of this model is running (at most one at a time).
    TrainingInProgress {
        /// Its name.
        job_name: String,
        /// When it was launched.
        launched_at: DateTime<Utc>,
        /// Hours since.
        running_hours: f64,
    },
    /// No window was given.
    NoSignals,
    /// The newest window is too old to act on.
    SignalsStale {
        /// Its end.
        newest_window_end: DateTime<Utc>,
        /// The policy's limit.
        max_age_hours: u32,
    },
    /// Model quality fired.
    QualityViolated {
        /// Windows in a row it fired in.
        consecutive_windows: u32,
        /// Windows in a row required.
        required: u32,
        /// Start of the first window of the run.
        first_window: DateTime<Utc>,
        /// Start of the newest window of the run.
        last_window: DateTime<Utc>,
        /// The counted metrics violated in the newest window, with value and threshold.
        violations: Vec<QualitySignal>,
    },
    /// Drift share fired.
    DriftShareAboveThreshold {
        /// Windows in a row it fired in.
        consecutive_windows: u32,
        /// Windows in a row required.
        required: u32,
        /// Start of the first window of the run.
        first_window: DateTime<Utc>,
        /// Start of the newest window of the run.
        last_window: DateTime<Utc>,
        /// The share in the newest window.
        drift_share: f64,
        /// The lowest share over the run.
        lowest_drift_share: f64,
        /// The policy's threshold (strictly exceeded).
        threshold: f64,
    },
    /// Named features drifted.
    FeaturesDrifted {
        /// Windows in a row it fired in.
        consecutive_windows: u32,
        /// Windows in a row required.
        required: u32,
        /// Start of the first window of the run.
        first_window: DateTime<Utc>,
        /// Start of the newest window of the run.
        last_window: DateTime<Utc>,
        /// The named features drifted in the newest window.
        features: Vec<String>,
        /// How many had to drift.
        min_drifted: u32,
    },
    /// Data-quality violations of a counted type.
    DataQualityViolated {
        /// Windows in a row it fired in.
        consecutive_windows: u32,
        /// Windows in a row required.
        required: u32,
        /// Start of the first window of the run.
        first_window: DateTime<Utc>,
        /// Start of the newest window of the run.
        last_window: DateTime<Utc>,
        /// The counted violations of the newest window.
        violations: Vec<DataQualitySignal>,
    },
    /// An enabled check did not fire in enough windows in a row.
    NotSustained {
        /// The check.
        check: Check,
        /// Windows in a row it fired in, up to the newest.
        consecutive_windows: u32,
        /// Windows in a row required.
        required: u32,
        /// Windows that started before this time were not counted (the last launch).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        counted_from: Option<DateTime<Utc>>,
    },
    /// The minimum interval since the last launch has not passed.
    MinInterval {
        /// The last launch.
        last_launch: DateTime<Utc>,
        /// Its job.
        job_name: String,
        /// The policy's interval.
        min_interval_hours: u32,
        /// Minutes until a launch is allowed.
        remaining_minutes: i64,
    },
    /// One more job would exceed the month's budget.
    BudgetExhausted {
        /// The month, `YYYY-MM` (UTC).
        month: String,
        /// Hours charged to it so far.
        used_hours: f64,
        /// One job's estimate.
        estimated_hours: f64,
        /// The budget.
        budget_hours: f64,
    },
    /// One more job fits the month's budget.
    WithinBudget {
        /// The month, `YYYY-MM` (UTC).
        month: String,
        /// Hours charged to it so far, before this launch.
        used_hours: f64,
        /// One job's estimate.
        estimated_hours: f64,
        /// The budget.
        budget_hours: f64,
    },
}

impl Reason {
    /// The check this reason reports as fired, if it is one.
    pub fn fired_check(&self) -> Option<Check> {
        match self {
            Reason::QualityViolated { .. } => Some(Check::Quality),
            Reason::DriftShareAboveThreshold { .. } => Some(Check::DriftShare),
            Reason::FeaturesDrifted { .. } => Some(Check::DriftedFeatures),
            Reason::DataQualityViolated { .. } => Some(Check::DataQuality),
            _ => None,
        }
    }

    /// The serialised tag (`min_interval`, `quality_violated`, ...).
    pub fn tag(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v["reason"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// What the launching function should do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum RetrainDecision {
    /// Record the launch, then `CreateTrainingJob`.
    Launch {
        /// The checks that fired, with their numbers, and the budget left.
        reasons: Vec<Reason>,
    },
    /// Nothing.
    Hold {
        /// Why not.
        reasons: Vec<Reason>,
    },
}

impl RetrainDecision {
    /// Whether a job is to be launched.
    pub fn is_launch(&self) -> bool {
        matches!(self, RetrainDecision::Launch { .. })
    }

    /// The reasons.
    pub fn reasons(&self) -> &[Reason] {
        match self {
            RetrainDecision::Launch { reasons } | RetrainDecision::Hold { reasons } => reasons,
        }
    }

    /// Whether a reason with the given tag is present.
    pub fn has_reason(&self, tag: &str) -> bool {
        self.reasons().iter().any(|r| r.tag() == tag)
    }

    /// The checks that fired.
    pub fn fired(&self) -> Vec<Check> {
        self.reasons().iter().filter_map(Reason::fired_check).collect()
    }
}

/// A check's verdict on one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Fires,
    Clear,
    /// Not evaluable in this window (no ground truth yet, no drift computed).
    Unknown,
}

fn verdict(check: Check, policy: &RetrainPolicy, w: &WindowSignals) -> Verdict {
    let c = &policy.checks;
    let fires = |b: bool| if b { Verdict::Fires } else { Verdict::Clear };
    match check {
        Check::Quality => {
            let counted: Vec<&QualitySignal> = w
                .model_quality
                .iter()
                .filter(|q| c.quality.metrics.is_empty() || c.quality.metrics.contains(&q.metric))
                .filter(|q| !q.value.is_nan())
                .collect();
            if counted.is_empty() {
                Verdict::Unknown
            } else {
                fires(counted.iter().any(|q| q.violated()))
            }
        }
        Check::DriftShare => match w.drift_share {
            Some(s) if !s.is_nan() => fires(s > c.drift_share.above),
            _ => Verdict::Unknown,
        },
        Check::DriftedFeatures => {
            if w.drift_share.is_none() {
                return Verdict::Unknown;
            }
            fires(named_drifted(policy, w).len() >= c.drifted_features.min_drifted as usize)
        }
        Check::DataQuality => fires(!counted_data_quality(policy, w).is_empty()),
    }
}

/// The named features drifted in the window, each once (in the policy's order).
fn named_drifted(policy: &RetrainPolicy, w: &WindowSignals) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in &policy.checks.drifted_features.features {
        if w.drifted_features.contains(f) && !out.contains(f) {
            out.push(f.clone());
        }
    }
    out
}

fn counted_data_quality(policy: &RetrainPolicy, w: &WindowSignals) -> Vec<DataQualitySignal> {
    let dq = &policy.checks.data_quality;
    let mut out: Vec<DataQualitySignal> = w
        .data_quality
        .iter()
        .filter(|v| dq.check_types.contains(&v.check_type))
        .filter(|v| dq.features.is_empty() || dq.features.contains(&v.feature))
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

fn required(check: Check, policy: &RetrainPolicy) -> u32 {
    let c = &policy.checks;
    let own = match check {
        Check::Quality => c.quality.consecutive_windows,
        Check::DriftShare => c.drift_share.consecutive_windows,
        Check::DriftedFeatures => c.drifted_features.consecutive_windows,
        Check::DataQuality => c.data_quality.consecutive_windows,
    };
    own.unwrap_or(policy.consecutive_windows).max(1)
}

/// The windows the check fired in, in a row up to the newest (oldest first): walking back from the newest,
/// firing windows count, unknown ones are passed over, and a clear window or a gap in time ends the run.
fn run<'a>(check: Check, policy: &RetrainPolicy, windows: &[&'a WindowSignals]) -> Vec<&'a WindowSignals> {
    let mut out = Vec::new();
    let mut newer_start: Option<DateTime<Utc>> = None;
    for w in windows.iter().rev() {
        if newer_start.is_some_and(|s| w.end < s) {
            break;
        }
        newer_start = Some(w.start);
        match verdict(check, policy, w) {
            Verdict::Fires => out.push(*w),
            Verdict::Clear => break,
            Verdict::Unknown => {}
        }
    }
    out.reverse();
    out
}

fn fired_reason(check: Check, policy: &RetrainPolicy, run: &[&WindowSignals], required: u32) -> Reason {
    let (first, last) = (run[0], run[run.len() - 1]);
    let consecutive_windows = run.len().min(u32::MAX as usize) as u32;
    let (first_window, last_window) = (first.start, last.start);
    match check {
        Check::Quality => Reason::QualityViolated {
            consecutive_windows,
            required,
            first_window,
            last_window,
            violations: last
                .model_quality
                .iter()
                .filter(|q| {
                    policy.checks.quality.metrics.is_empty() || policy.checks.quality.metrics.contains(&q.metric)
                })
                .filter(|q| q.violated())
                .cloned()
                .collect(),
        },
        Check::DriftShare => {
            let share = |w: &WindowSignals| w.drift_share.unwrap_or(f64::NAN);
            Reason::DriftShareAboveThreshold {
                consecutive_windows,
                required,
                first_window,
                last_window,
                drift_share: share(last),
                lowest_drift_share: run.iter().map(|w| share(w)).fold(f64::INFINITY, f64::min),
                threshold: policy.checks.drift_share.above,
            }
        }
        Check::DriftedFeatures => Reason::FeaturesDrifted {
            consecutive_windows,
            required,
            first_window,
            last_window,
            features: named_drifted(policy, last),
            min_drifted: policy.checks.drifted_features.min_drifted,
        },
        Check::DataQuality => Reason::DataQualityViolated {
            consecutive_windows,
            required,
            first_window,
            last_window,
            violations: counted_data_quality(policy, last),
        },
    }
}

/// Decides whether to launch a training job for the policy's model. Pure: same inputs, same decision.
///
/// Idempotent under repeated alarms: once the launch is recorded in `history` (as `InProgress`), every further
/// call holds until the job is seen to end, and even then the minimum interval and the rule that only windows
/// after the last launch count keep the same evidence from launching again.
pub fn decide_retraining(
    signals: &Signals,
    policy: &RetrainPolicy,
    history: &RetrainHistory,
    now: DateTime<Utc>,
) -> RetrainDecision {
    let hold = |reasons| RetrainDecision::Hold { reasons };
    if !policy.enabled {
        return hold(vec![Reason::Disabled]);
    }
    if let Some(job) = history.in_progress() {
        return hold(vec![Reason::TrainingInProgress {
            job_name: job.job_name.clone(),
            launched_at: job.at,
            running_hours: ((now - job.at).num_seconds() as f64 / 3600.0).max(0.0),
        }]);
    }
    let windows = signals.sorted();
    let Some(newest) = windows.last() else {
        return hold(vec![Reason::NoSignals]);
    };
    if now - newest.end > Duration::hours(i64::from(policy.max_signal_age_hours)) {
        return hold(vec![Reason::SignalsStale {
            newest_window_end: newest.end,
            max_age_hours: policy.max_signal_age_hours,
        }]);
    }

    let last = history.last_launch();
    let counted_from = last.map(|l| l.at);
    let eligible: Vec<&WindowSignals> = windows
        .iter()
        .copied()
        .filter(|w| counted_from.is_none_or(|t| w.start >= t))
        .collect();
    let mut fired = Vec::new();
    let mut quiet = Vec::new();
    for check in Check::ALL.into_iter().filter(|c| policy.is_active(*c)) {
        let need = required(check, policy);
        let r = run(check, policy, &eligible);
        if r.len() >= need as usize {
            fired.push(fired_reason(check, policy, &r, need));
        } else {
            quiet.push(Reason::NotSustained {
                check,
                consecutive_windows: r.len() as u32,
                required: need,
                counted_from,
            });
        }
    }
    if fired.is_empty() {
        return hold(quiet);
    }

    let mut reasons = fired;
    if let Some(l) = last {
        let interval = Duration::hours(i64::from(policy.min_interval_hours));
        if now < l.at + interval {
            reasons.push(Reason::MinInterval {
                last_launch: l.at,
                job_name: l.job_name.clone(),
                min_interval_hours: policy.min_interval_hours,
                remaining_minutes: ((l.at + interval - now).num_seconds() + 59).div_euclid(60).max(1),
            });
            return hold(reasons);
        }
    }
    let b = policy.budget;
    let used = history.hours_in_month(now, b.estimated_hours_per_job);
    let month = month_label(now);
    if used + b.estimated_hours_per_job > b.monthly_training_hours {
        reasons.push(Reason::BudgetExhausted {
            month,
            used_hours: used,
            estimated_hours: b.estimated_hours_per_job,
            budget_hours: b.monthly_training_hours,
        });
        return hold(reasons);
    }
    reasons.push(Reason::WithinBudget {
        month,
        used_hours: used,
        estimated_hours: b.estimated_hours_per_job,
        budget_hours: b.monthly_training_hours,
    });
    RetrainDecision::Launch { reasons }
}
