//! Tests of `decide`: one per rule, and the invariants as properties.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::decide::decide;
use super::decision::{Action, Decision, Reason, Rule};
use super::history::{BIAS_MINUTES, ForecastBias, History, MIN_EXPLAINED};
use super::observed::{MetricsFetch, MinuteMetrics, Observed, VariantState, VariantStatus};
use super::policy::{AsyncPolicy, Policy, Step};

fn t0() -> DateTime<Utc> {
    // A Wednesday, 12:00 UTC.
    Utc.with_ymd_and_hms(2024, 1, 17, 12, 0, 0).unwrap()
}

fn policy() -> Policy {
    Policy::from_json(
        r#"{"endpoint":"e","variant":"v","instance_type":"ml.g5.xlarge","min_instances":1,"max_instances":10,
            "target_invocations_per_instance":60,"capacity_invocations_per_instance":120,
            "forecast":{"enabled":false},"anticipate_trend":false}"#,
    )
    .unwrap()
}

/// Minutes ending the minute before `now`, with instance metrics present (so zero traffic is fresh).
fn minutes(now: DateTime<Utc>, demand: &[f64]) -> Vec<MinuteMetrics> {
    let n = demand.len() as i64;
    demand
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let minute = now - Duration::minutes(n - i as i64);
            MinuteMetrics {
                minute,
                invocations: (d > 0.0).then_some(d),
                cpu_utilization: Some(10.0),
                ..MinuteMetrics::empty(minute)
            }
        })
        .collect()
}

fn observed(now: DateTime<Utc>, demand: &[f64], count: u32) -> Observed {
    Observed {
        now,
        metrics: MetricsFetch::Fetched {
            minutes: minutes(now, demand),
        },
        variant: VariantState {
            instance_type: "ml.g5.xlarge".to_owned(),
            current_count: count,
            desired_count: count,
            status: VariantStatus::InService,
        },
    }
}

fn set_count(d: &Decision) -> Option<(u32, u32)> {
    match d.action {
        Action::SetCount { from, to } => Some((from, to)),
        _ => None,
    }
}

#[test]
fn not_in_service_holds_whatever_the_demand() {
    let mut o = observed(t0(), &[5000.0; 10], 2);
    o.variant.status = VariantStatus::Updating;
    let d = decide(&o, &policy(), &History::default());
    assert_eq!((d.action.clone(), d.rule), (Action::Hold, Rule::NotInService));
    assert!(d.has_reason("not_in_service"));
}

#[test]
fn demand_sizes_on_window_mean_at_target() {
    // 300 per minute on 4 instances: 1.25 x what they serve at target (below the 1.5 panic threshold).
    let d = decide(&observed(t0(), &[300.0; 10], 4), &policy(), &History::default());
    assert_eq!(d.rule, Rule::Demand);
    assert_eq!(set_count(&d), Some((4, 5)));
    let Some(Reason::Demand {
        window_mean_per_minute,
        recommended,
        ..
    }) = d.reasons.first()
    else {
        panic!("{d:?}")
    };
    assert_eq!((*window_mean_per_minute, *recommended), (300.0, 5));
}

#[test]
fn window_peak_is_kept_serviceable_at_capacity() {
    // Mean 96 (2 instances at target) but one 600 burst: 5 instances serve it at capacity 120.
    let mut demand = vec![40.0; 10];
    demand[3] = 600.0;
    let d = decide(&observed(t0(), &demand, 5), &policy(), &History::default());
    assert_eq!((d.action.clone(), d.rule), (Action::Hold, Rule::Steady));
}

#[test]
fn panic_scales_out_during_the_cooldown() {
    let h = History {
        last_scale_out: Some(t0() - Duration::seconds(30)),
        ..History::default()
    };
    // 400 per minute on 2 instances serving 120 at target: ratio 3.3.
    let d = decide(
        &observed(t0(), &[60.0, 60.0, 60.0, 60.0, 60.0, 60.0, 60.0, 60.0, 400.0, 400.0], 2),
        &policy(),
        &h,
    );
    assert_eq!(d.rule, Rule::Panic);
    assert!(d.panic);
    // Sized on the panic window at capacity: ceil(400 / 120) = 4.
    assert_eq!(set_count(&d), Some((2, 4)), "{d:?}");
    assert!(d.has_reason("panic"));
    // A milder rise inside the cooldown waits.
    let d = decide(&observed(t0(), &[130.0; 10], 2), &policy(), &h);
    assert_eq!((d.action.clone(), d.rule), (Action::Hold, Rule::Cooldown));
}

/// The newest minutes CloudWatch has not published yet (no datapoint of any metric, within the freshness limit)
/// are not zero demand: a surge in the last published minutes still panics.
#[test]
fn unpublished_minutes_are_not_read_as_zero_demand() {
    let mut o = observed(t0(), &[60.0, 60.0, 60.0, 60.0, 60.0, 60.0, 60.0, 60.0, 400.0, 400.0], 2);
    let MetricsFetch::Fetched { minutes } = &mut o.metrics else {
        unreachable!()
    };
    for k in 0..2 {
        let minute = minutes.last().unwrap().minute + Duration::minutes(1);
        minutes.push(MinuteMetrics::empty(minute));
        assert!(!minutes[10 + k].has_any());
    }
    o.now += Duration::minutes(2);
    let d = decide(&o, &policy(), &History::default());
    assert_eq!((d.rule, set_count(&d)), (Rule::Panic, Some((2, 4))), "{d:?}");
}

/// A gap in CloudWatch's metrics (minutes without any datapoint while instances run) is not zero demand: a
/// fleet sized for its demand does not scale in across it, and a surge after it still scales out.
#[test]
fn minutes_without_any_datapoint_are_a_gap_not_zero_demand() {
    let with_gap = |demand: &[f64]| {
        let mut o = observed(t0(), demand, 5);
        let MetricsFetch::Fetched { minutes } = &mut o.metrics else {
            unreachable!()
        };
        for m in &mut minutes[4..8] {
            *m = MinuteMetrics::empty(m.minute);
        }
        o
    };
    // 5 instances at target 60 serve the 300 a minute they see. Read as zeros, the gap's four minutes would make
    // the window's mean 180 a minute and scale in; left out, the known minutes hold the count.
    let d = decide(&with_gap(&[300.0; 10]), &policy(), &History::default());
    assert_eq!((d.action.clone(), d.rule), (Action::Hold, Rule::Steady), "{d:?}");
    // Lower demand on both sides of the gap: six known minutes are too few to scale in on.
    let d = decide(&with_gap(&[100.0; 10]), &policy(), &History::default());
    assert_eq!((d.action.clone(), d.rule), (Action::Hold, Rule::StableWindow), "{d:?}");
    assert!(
        d.reasons.iter().any(|r| matches!(
            r,
            Reason::ShortWindow {
                minutes: 6,
                window_minutes: 10
            }
        )),
        "{d:?}"
    );
    let full = decide(&observed(t0(), &[100.0; 10], 5), &policy(), &History::default());
    assert_eq!((full.rule, set_count(&full)), (Rule::Demand, Some((5, 2))), "{full:?}");
    // A surge after the gap: scaled out at once.
    let mut surge = [300.0; 10];
    surge[8..].fill(700.0);
    let d = decide(&with_gap(&surge), &policy(), &History::default());
    assert_eq!(d.rule, Rule::Panic, "{d:?}");
    assert!(set_count(&d).is_some_and(|(from, to)| from == 5 && to > 5), "{d:?}");
}

#[test]
fn no_scale_in_while_panicking() {
    let h = History {
        panic_until: Some(t0() + Duration::minutes(3)),
        ..History::default()
    };
    let d = decide(&observed(t0(), &[10.0; 10], 6), &policy(), &h);
    assert_eq!((d.action.clone(), d.rule), (Action::Hold, Rule::PanicHold));
}

#[test]
fn no_scale_in_within_the_stable_window_after_a_scale_out() {
    let h = History {
        last_scale_out: Some(t0() - Duration::minutes(9)),
        ..History::default()
    };
    let d = decide(&observed(t0(), &[10.0; 10], 6), &policy(), &h);
    assert_eq!((d.action.clone(), d.rule), (Action::Hold, Rule::StableWindow));
    let h = History {
        last_scale_out: Some(t0() - Duration::minutes(10)),
        ..History::default()
    };
    assert_eq!(
        decide(&observed(t0(), &[10.0; 10], 6), &policy(), &h).rule,
        Rule::Demand
    );
}

#[test]
fn scale_in_cooldown_and_step_bound() {
    let mut p = policy();
    p.max_step_down = Step {
        instances: 1,
        percent: 25.0,
    };
    let policy = || p.clone();
    let h = History {
        last_scale_in: Some(t0() - Duration::seconds(299)),
        ..History::default()
    };
    let d = decide(&observed(t0(), &[10.0; 10], 8), &policy(), &h);
    assert_eq!(d.rule, Rule::Cooldown);
    let h = History {
        last_scale_in: Some(t0() - Duration::seconds(300)),
        ..History::default()
    };
    let d = decide(&observed(t0(), &[10.0; 10], 8), &policy(), &h);
    // 25% of 8 = 2 instances per step.
    assert_eq!(set_count(&d), Some((8, 6)));
    assert!(
        d.reasons
            .iter()
            .any(|r| matches!(r, Reason::StepLimited { wanted: 1, allowed: 6 }))
    );
}

#[test]
fn step_bound_limits_scale_out() {
    let mut p = policy();
    p.max_instances = 50;
    p.max_step_up = Step {
        instances: 3,
        percent: 50.0,
    };
    let d = decide(&observed(t0(), &[3000.0; 10], 10), &p, &History::default());
    assert_eq!(set_count(&d), Some((10, 15)));
}

#[test]
fn zero_traffic_is_a_real_zero_and_scales_in_to_min() {
    // No Invocations datapoints at all, but instance metrics present: the endpoint is idle, not blind.
    let d = decide(&observed(t0(), &[0.0; 10], 2), &policy(), &History::default());
    assert_eq!(d.rule, Rule::ZeroTraffic);
    assert_eq!(set_count(&d), Some((2, 1)));
    assert!(d.metrics_ok);
}

#[test]
fn no_scale_in_on_a_partial_window() {
    let d = decide(&observed(t0(), &[0.0; 4], 3), &policy(), &History::default());
    assert_eq!((d.action.clone(), d.rule), (Action::Hold, Rule::StableWindow));
    assert!(d.has_reason("short_window"));
}

#[test]
fn stale_metrics_hold_then_fall_back() {
    let p = Policy::from_json(
        r#"{"endpoint":"e","variant":"v","instance_type":"ml.g5.xlarge","min_instances":1,"max_instances":10,
            "target_invocations_per_instance":60,
            "missing_metrics":{"max_age_minutes":3,"failures_before_fallback":3,"fallback_instances":4}}"#,
    )
    .unwrap();
    // Newest datapoint 5 minutes old.
    let mut o = observed(t0() - Duration::minutes(4), &[100.0; 10], 2);
    o.now = t0();
    let d = decide(&o, &p, &History::default());
    assert_eq!((d.action.clone(), d.rule), (Action::Hold, Rule::MetricsUnavailable));
    assert!(!d.metrics_ok && d.has_reason("metrics_stale"));
    // Third failure in a row: fallback to 4.
    let h = History {
        consecutive_metric_failures: 2,
        ..History::default()
    };
    let d = decide(&o, &p, &h);
    assert_eq!((d.rule, set_count(&d)), (Rule::Fallback, Some((2, 4))));
    // A failed fetch counts the same, and the fallback never scales in.
    o.metrics = MetricsFetch::Failed {
        error: "Throttling".to_owned(),
    };
    o.variant.current_count = 7;
    o.variant.desired_count = 7;
    let d = decide(&o, &p, &h);
    assert_eq!((d.action.clone(), d.rule), (Action::Hold, Rule::Fallback));
    // History counts the failures and resets on success.
    let mut h = History::default();
    h.record(&o, &p, &d);
    assert_eq!(h.consecutive_metric_failures, 1);
    let ok = observed(t0(), &[100.0; 10], 2);
    h.record(&ok, &p, &decide(&ok, &p, &h));
    assert_eq!(h.consecutive_metric_failures, 0);
    // Runs while the endpoint updates do not count as metric failures: after a long update, one stale fetch
    // is the first failure, not the fallback.
    let mut updating = o.clone();
    updating.variant.status = VariantStatus::Updating;
    for _ in 0..10 {
        let d = decide(&updating, &p, &h);
        assert_eq!(d.rule, Rule::NotInService);
        h.record(&updating, &p, &d);
    }
    assert_eq!(h.consecutive_metric_failures, 0);
    let d = decide(&o, &p, &h);
    assert_eq!((d.action.clone(), d.rule), (Action::Hold, Rule::MetricsUnavailable));
}

#[test]
fn limits_are_restored_at_once() {
    let d = decide(&observed(t0(), &[10.0; 10], 14), &policy(), &History::default());
    assert_eq!((d.rule, set_count(&d)), (Rule::OutsideLimits, Some((14, 10))));
}

#[test]
fn scheduled_minimum_raises_capacity_ahead_of_the_window() {
    let mut p: Policy = policy();
    // 13:00-13:59 at +01:00 is 12:00-12:59 UTC; also 08:00 local on weekdays, seen 6 minutes ahead.
    p.schedules = serde_json::from_str(
        r#"[{"cron":"* 13 * * *","utc_offset":"+01:00","min_instances":4},
            {"cron":"0 8 * * 1-5","utc_offset":"Z","min_instances":7}]"#,
    )
    .unwrap();
    let d = decide(&observed(t0(), &[10.0; 10], 1), &p, &History::default());
    assert_eq!((d.rule, set_count(&d)), (Rule::Schedule, Some((1, 4))));
    let before_eight = Utc.with_ymd_and_hms(2024, 1, 17, 7, 55, 0).unwrap();
    let d = decide(&observed(before_eight, &[10.0; 10], 3), &p, &History::default());
    assert_eq!((d.rule, set_count(&d)), (Rule::Schedule, Some((3, 7))));
    let at_six = Utc.with_ymd_and_hms(2024, 1, 17, 6, 0, 0).unwrap();
    assert_eq!(
        decide(&observed(at_six, &[10.0; 10], 1), &p, &History::default()).rule,
        Rule::Steady
    );
}

/// A history whose profile saw yesterday (2024-01-16) at 30 a minute, and 540 a minute from 08:00 to 09:00 UTC.
fn morning_peak_yesterday() -> History {
    let mut h = History::default();
    let day = Utc.with_ymd_and_hms(2024, 1, 16, 0, 0, 0).unwrap();
    for m in 0..(24 * 60 + 15) {
        let t = day + Duration::minutes(m);
        h.seasonal.record(t, if (m / 60) % 24 == 8 { 540.0 } else { 30.0 });
    }
    h
}

/// `h` with a forecast that has shown skill over a day: its changes explained 56% of the demand's.
fn skilled(mut h: History) -> History {
    h.forecast_bias.change_sq = 400.0;
    h.forecast_bias.forecast_change_sq = 400.0;
    h.forecast_bias.co_change = 300.0;
    h.forecast_bias.compared = BIAS_MINUTES;
    h
}

#[test]
fn forecast_brings_capacity_before_the_morning_ramp() {
    let mut p = policy();
    p.forecast.enabled = true;
    let h = skilled(morning_peak_yesterday());
    // Today at 07:55, still quiet: the forecast (over the 6-minute start-up) sees 08:00.
    let now = Utc.with_ymd_and_hms(2024, 1, 17, 7, 55, 0).unwrap();
    let d = decide(&observed(now, &[30.0; 10], 1), &p, &h);
    assert_eq!(d.rule, Rule::Forecast, "{d:?}");
    assert_eq!(set_count(&d), Some((1, 9)));
    // At 07:45 the slot is beyond the start-up delay: it is not paid for yet.
    let early = Utc.with_ymd_and_hms(2024, 1, 17, 7, 45, 0).unwrap();
    assert_eq!(decide(&observed(early, &[30.0; 10], 1), &p, &h).rule, Rule::Steady);
    // At 03:00 the forecast agrees with current demand: nothing to do.
    let night = Utc.with_ymd_and_hms(2024, 1, 17, 3, 0, 0).unwrap();
    assert_eq!(decide(&observed(night, &[30.0; 10], 1), &p, &h).rule, Rule::Steady);
}

/// The forecast is scaled by the share of it the demand reached over the last day: a slot's recorded peak that
/// was a burst (the demand kept to a sixth of the forecast) does not buy its whole fleet again.
#[test]
fn forecast_is_scaled_down_by_how_far_it_overshot() {
    let mut p = policy();
    p.forecast.enabled = true;
    let mut h = skilled(morning_peak_yesterday());
    h.forecast_bias = ForecastBias {
        demand: 50.0,
        forecast: 300.0,
        minutes: BIAS_MINUTES,
        ..h.forecast_bias
    };
    let now = Utc.with_ymd_and_hms(2024, 1, 17, 7, 55, 0).unwrap();
    let d = decide(&observed(now, &[30.0; 10], 1), &p, &h);
    // 540 x 50 / 300 = 90 a minute: 2 instances at 60, not 9.
    assert_eq!((d.rule, set_count(&d)), (Rule::Forecast, Some((1, 2))), "{d:?}");
    assert!(
        d.reasons
            .iter()
            .any(|r| matches!(r, Reason::Forecast { forecast_per_minute, .. }
        if (forecast_per_minute - 90.0).abs() < 1e-9))
    );
    // Without the calibration (or before a day of comparisons) the recorded peak stands.
    p.forecast.calibrate = false;
    assert_eq!(set_count(&decide(&observed(now, &[30.0; 10], 1), &p, &h)), Some((1, 9)));
    p.forecast.calibrate = true;
    h.forecast_bias.minutes = BIAS_MINUTES - 1;
    assert_eq!(set_count(&decide(&observed(now, &[30.0; 10], 1), &p, &h)), Some((1, 9)));
}

/// A forecast whose changes explained too little of the demand's, or not over a day yet, is not used, and the
/// decision says why; `require_skill: false` uses it regardless.
#[test]
fn a_forecast_without_skill_is_withheld_and_says_so() {
    let mut p = policy();
    p.forecast.enabled = true;
    let now = Utc.with_ymd_and_hms(2024, 1, 17, 7, 55, 0).unwrap();
    let mut h = morning_peak_yesterday();
    // A correlation of 0.1: 1% explained.
    h.forecast_bias.change_sq = 400.0;
    h.forecast_bias.forecast_change_sq = 400.0;
    h.forecast_bias.co_change = 40.0;
    h.forecast_bias.compared = BIAS_MINUTES;
    let d = decide(&observed(now, &[30.0; 10], 1), &p, &h);
    assert_eq!(d.rule, Rule::Steady, "{d:?}");
    assert!(d.reasons.contains(&Reason::ForecastWithheld {
        explained_share: 0.01,
        minutes_compared: BIAS_MINUTES,
    }));
    assert!(!d.reasons.iter().any(|r| matches!(r, Reason::Forecast { .. })));
    // Changes in opposite directions explain a negative share; a forecast that never changed, none.
    h.forecast_bias.co_change = -300.0;
    assert!(h.forecast_bias.skill().explained < 0.0);
    h.forecast_bias.co_change = 0.0;
    h.forecast_bias.forecast_change_sq = 0.0;
    assert_eq!(h.forecast_bias.skill().explained, 0.0);
    assert_eq!(decide(&observed(now, &[30.0; 10], 1), &p, &h).rule, Rule::Steady);
    // Just below and just above the threshold.
    h.forecast_bias.forecast_change_sq = 400.0;
    h.forecast_bias.co_change = 400.0 * MIN_EXPLAINED.sqrt() - 1e-6;
    assert_eq!(decide(&observed(now, &[30.0; 10], 1), &p, &h).rule, Rule::Steady);
    h.forecast_bias.co_change = 400.0 * MIN_EXPLAINED.sqrt() + 1e-6;
    assert_eq!(decide(&observed(now, &[30.0; 10], 1), &p, &h).rule, Rule::Forecast);
    h.forecast_bias.co_change = 40.0;
    // Skilled, but over less than a day: withheld too.
    let mut young = skilled(h.clone());
    young.forecast_bias.compared = BIAS_MINUTES - 1;
    assert_eq!(decide(&observed(now, &[30.0; 10], 1), &p, &young).rule, Rule::Steady);
    assert_eq!(
        decide(&observed(now, &[30.0; 10], 1), &p, &skilled(h.clone())).rule,
        Rule::Forecast
    );
    p.forecast.require_skill = false;
    let d = decide(&observed(now, &[30.0; 10], 1), &p, &h);
    assert_eq!((d.rule, set_count(&d)), (Rule::Forecast, Some((1, 9))), "{d:?}");
}

/// Recorded minute by minute, a daily cycle gives the forecast skill (its changes foresee the ramps that
/// persistence misses) and bursts at other times each day do not (the slot peaks they leave predict changes
/// that do not come).
#[test]
fn the_forecast_earns_skill_on_a_daily_cycle_and_not_on_bursts() {
    let p = policy();
    let record = |demand: &dyn Fn(i64) -> f64| {
        let mut h = History::default();
        let days = 3;
        for m in 10..days * 1440 {
            let now = t0() + Duration::minutes(m);
            let window: Vec<f64> = (m - 10..m).map(demand).collect();
            let o = observed(now, &window, 4);
            let d = decide(&o, &p, &h);
            h.record(&o, &p, &d);
        }
        h.forecast_bias.skill()
    };
    let cycle = record(&|m| if (m / 60) % 24 == 8 { 540.0 } else { 30.0 });
    assert!(cycle.skillful() && cycle.explained > 0.5, "{cycle:?}");
    // The same cycle, its ramp an eighth of the first day's after it (a cold spell): the forecast's changes come
    // when the demand's do, only far larger, and it keeps its skill. (Compared by their squared error, adding
    // them did worse than persistence, and the forecast was withheld.)
    let shrinking = record(&|m| match ((m / 60) % 24, m < 1440) {
        (8, true) => 990.0,
        (8, false) => 150.0,
        _ => 30.0,
    });
    assert!(shrinking.skillful() && shrinking.explained > 0.5, "{shrinking:?}");
    // Five-minute bursts of 600 starting at a different time each day (a linear congruential walk).
    let bursts = record(&|m| {
        let (day, minute) = (m / 1440, m % 1440);
        let start = (day * 7919 + 211) % 1380;
        if (start..start + 5).contains(&minute) || (start + 600..start + 605).contains(&minute) {
            600.0
        } else {
            30.0
        }
    });
    assert!(bursts.minutes >= BIAS_MINUTES && !bursts.skillful(), "{bursts:?}");
    assert!(bursts.explained < MIN_EXPLAINED / 2.0, "{bursts:?}");
}

/// History whose recent minutes are `recent`.
fn with_recent(recent: impl IntoIterator<Item = f64>) -> History {
    History {
        recent: recent.into_iter().collect(),
        ..History::default()
    }
}

/// After an hour with bursts the fleet holds the hour's mean at the target plus the typical rise over the start-up
/// delay at capacity; after a calm hour at the same mean, only the target's headroom.
#[test]
fn an_hour_with_bursts_holds_headroom_for_the_next() {
    let p = policy();
    // Two hours of 30 a minute with a 5-minute burst of 630 every 20 minutes: mean 180 a minute.
    let bursty: Vec<f64> = (0..120).map(|m| if m % 20 < 5 { 630.0 } else { 30.0 }).collect();
    let calm = vec![180.0; 120];
    // The window now is quiet: 30 a minute on 4 instances.
    let o = observed(t0(), &[30.0; 10], 4);
    let d = decide(&o, &p, &with_recent(bursty.clone()));
    // Rises of 600 in 5 of each 20 minutes over the 7-minute reaction time: root mean square 300. The hour's
    // mean at the target is 3 instances (360 at capacity), plus 300: ceil(660 / 120) = 6.
    assert_eq!((d.rule, set_count(&d)), (Rule::Demand, Some((4, 6))), "{d:?}");
    // The decision says why: the hour's mean and its typical rise, with the count they ask for.
    assert!(
        d.reasons.iter().any(|r| matches!(
            r,
            Reason::HourHeadroom { hour_mean_per_minute, typical_rise_per_minute, recommended: 6 }
                if (hour_mean_per_minute - 180.0).abs() < 1e-9 && (typical_rise_per_minute - 300.0).abs() < 1e-9
        )),
        "{d:?}"
    );
    // A calm hour at the same mean: 3 instances at the target, no more.
    let d = decide(&o, &p, &with_recent(calm));
    assert_eq!(set_count(&d), Some((4, 3)), "{d:?}");
    // Off: the quiet window alone, 1 instance.
    let mut off = p.clone();
    off.volatility_headroom = false;
    assert_eq!(set_count(&decide(&o, &off, &with_recent(bursty))), Some((4, 1)));
}

/// The newest minute is sized at the target when levels hold (a step that stays), not when the demand is noise
/// around a mean (one-minute spikes), where the window's mean predicts better.
#[test]
fn the_newest_minute_counts_when_levels_hold() {
    let mut p = policy();
    p.volatility_headroom = false;
    // The window: five minutes at 60, then five at 240 (mean 150: 3 instances; peak at capacity: 2).
    let window = [60.0, 60.0, 60.0, 60.0, 60.0, 240.0, 240.0, 240.0, 240.0, 240.0];
    let o = observed(t0(), &window, 3);
    // Levels held 30 minutes at a time: the newest minute, 240 at 60, asks for 4.
    let steps: Vec<f64> = (0..120).map(|m| if (m / 30) % 2 == 0 { 60.0 } else { 240.0 }).collect();
    let d = decide(&o, &p, &with_recent(steps));
    assert_eq!((d.rule, set_count(&d)), (Rule::Demand, Some((3, 4))), "{d:?}");
    let levels = |d: &Decision| {
        d.reasons
            .iter()
            .any(|r| matches!(r, Reason::LevelsHold { recommended: 4, .. }))
    };
    assert!(levels(&d), "{d:?}");
    // Spikes of one minute around the same mean: the window's mean (3 instances) stands.
    let spikes: Vec<f64> = (0..120).map(|m| if m % 3 == 0 { 330.0 } else { 15.0 }).collect();
    let d = decide(&o, &p, &with_recent(spikes));
    assert_eq!((d.action.clone(), d.rule), (Action::Hold, Rule::Steady), "{d:?}");
    assert!(!levels(&d), "{d:?}");
    // Too little history to judge: the window's mean.
    let d = decide(&o, &p, &with_recent(vec![240.0; 20]));
    assert_eq!((d.action.clone(), d.rule), (Action::Hold, Rule::Steady), "{d:?}");
}

#[test]
fn a_clean_ramp_is_projected_over_the_startup_delay() {
    let mut p = policy();
    p.anticipate_trend = true;
    // Capacity = target (no headroom), so that the projection is what binds.
    p.capacity_invocations_per_instance = None;
    // +20 per minute: at 6 minutes ahead the ramp reaches 380 + 120 = 500, i.e. 9 instances at 60 (the peak
    // asks for 7, the mean for 5).
    let ramp: Vec<f64> = (0..10).map(|i| 200.0 + 20.0 * f64::from(i)).collect();
    let d = decide(&observed(t0(), &ramp, 6), &p, &History::default());
    assert_eq!(d.rule, Rule::Trend, "{d:?}");
    assert_eq!(set_count(&d), Some((6, 9)));
    // Bursty noise with an upward-looking slope is not extrapolated.
    let noisy = [10.0, 300.0, 0.0, 50.0, 400.0, 0.0, 20.0, 350.0, 5.0, 420.0];
    let d = decide(&observed(t0(), &noisy, 5), &p, &History::default());
    assert!(!d.has_reason("trend"), "{d:?}");
}

fn vertical_policy() -> Policy {
    Policy::from_json(
        r#"{"endpoint":"e","variant":"v","instance_type":"ml.g5.xlarge","min_instances":1,"max_instances":4,
            "target_invocations_per_instance":60,"forecast":{"enabled":false},"anticipate_trend":false,
            "latency_objective":{"percentile":"p90","max_ms":1000},
            "vertical":{"ladder":[
                {"instance_type":"ml.g5.xlarge","target_invocations_per_instance":60},
                {"instance_type":"ml.g5.2xlarge","target_invocations_per_instance":100}],
              "up_after_minutes":5,"down_after_minutes":30}}"#,
    )
    .unwrap()
}

#[test]
fn moves_up_the_ladder_when_saturated_at_max() {
    let p = vertical_policy();
    // 4 instances at 60 serve 240; 300 for 10 minutes.
    let d = decide(&observed(t0(), &[300.0; 10], 4), &p, &History::default());
    assert_eq!(d.rule, Rule::VerticalUp, "{d:?}");
    assert_eq!(
        d.action,
        Action::ChangeType {
            from_type: "ml.g5.xlarge".into(),
            to_type: "ml.g5.2xlarge".into(),
            from_count: 4,
            to_count: 3
        }
    );
    assert!(d.has_reason("saturated_at_max"));
    // Not saturated for the whole 5 minutes: stays on the type (and is capped at max).
    let mut demand = vec![300.0; 10];
    demand[7] = 100.0;
    let d = decide(&observed(t0(), &demand, 4), &p, &History::default());
    assert_eq!((d.action, d.rule), (Action::Hold, Rule::Steady));
    assert!(d.reasons.iter().any(|r| matches!(r, Reason::Clamped { to: 4, .. })));
}

#[test]
fn moves_up_on_latency_only_when_busy() {
    let p = vertical_policy();
    let mut o = observed(t0(), &[110.0; 10], 2);
    if let MetricsFetch::Fetched { minutes } = &mut o.metrics {
        minutes.last_mut().unwrap().model_latency_p90_ms = Some(1500.0);
    }
    // 110 on 2 instances = 0.92 of target: capacity-bound.
    let d = decide(&o, &p, &History::default());
    assert_eq!(d.rule, Rule::VerticalUp, "{d:?}");
    // At 30 per minute (0.25 of target) the miss is noted, not acted on.
    let mut idle = observed(t0(), &[30.0; 10], 2);
    if let MetricsFetch::Fetched { minutes } = &mut idle.metrics {
        minutes.last_mut().unwrap().model_latency_p90_ms = Some(1500.0);
    }
    let d = decide(
        &idle,
        &p,
        &History {
            last_scale_in: Some(t0()),
            ..History::default()
        },
    );
    assert_ne!(d.rule, Rule::VerticalUp);
    assert!(d.reasons.iter().any(|r| matches!(
        r,
        Reason::LatencyMissed {
            capacity_bound: false,
            ..
        }
    )));
}

#[test]
fn moves_down_the_ladder_when_the_smaller_type_suffices() {
    let p = vertical_policy();
    let mut o = observed(t0(), &[30.0; 30], 1);
    o.variant.instance_type = "ml.g5.2xlarge".into();
    // 30 <= 1 x 60 x 0.7 = 42 for 30 minutes.
    let d = decide(&o, &p, &History::default());
    assert_eq!(d.rule, Rule::VerticalDown, "{d:?}");
    assert_eq!(d.instance_type, "ml.g5.xlarge");
    // One minute above the margin in the period: stay.
    if let MetricsFetch::Fetched { minutes } = &mut o.metrics {
        minutes[3].invocations = Some(50.0);
    }
    assert_ne!(decide(&o, &p, &History::default()).rule, Rule::VerticalDown);
    // Within the type-change cooldown: stay.
    let mut o2 = observed(t0(), &[30.0; 30], 1);
    o2.variant.instance_type = "ml.g5.2xlarge".into();
    let h = History {
        last_type_change: Some(t0() - Duration::minutes(30)),
        ..History::default()
    };
    assert_ne!(decide(&o2, &p, &h).rule, Rule::VerticalDown);
}

fn async_policy() -> Policy {
    let mut p = policy();
    p.min_instances = 0;
    p.asynchronous = Some(AsyncPolicy {
        target_backlog_per_instance: 5.0,
    });
    p.validate().unwrap();
    p
}

fn backlog_observed(now: DateTime<Utc>, backlog: &[f64], count: u32) -> Observed {
    let mut o = observed(now, &[0.0; 0], count);
    let n = backlog.len() as i64;
    let ms = backlog
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            let minute = now - Duration::minutes(n - i as i64);
            MinuteMetrics {
                minute,
                approximate_backlog_size: Some(b),
                cpu_utilization: (count > 0).then_some(10.0),
                ..MinuteMetrics::empty(minute)
            }
        })
        .collect();
    o.metrics = MetricsFetch::Fetched { minutes: ms };
    o
}

#[test]
fn async_scales_to_zero_and_back() {
    let p = async_policy();
    let d = decide(&backlog_observed(t0(), &[0.0; 10], 1), &p, &History::default());
    assert_eq!((d.rule, set_count(&d)), (Rule::ScaleToZero, Some((1, 0))));
    // At zero, an empty fetch is an empty queue, not an outage.
    let mut empty = backlog_observed(t0(), &[], 0);
    empty.metrics = MetricsFetch::Fetched { minutes: vec![] };
    let d = decide(&empty, &p, &History::default());
    assert_eq!((d.action.clone(), d.rule), (Action::Hold, Rule::Steady));
    assert!(d.metrics_ok);
    // Requests arrive: straight back, cooldown or not.
    let h = History {
        last_scale_in: Some(t0() - Duration::minutes(1)),
        ..History::default()
    };
    let d = decide(&backlog_observed(t0(), &[0.0, 0.0, 12.0], 0), &p, &h);
    assert_eq!((d.rule, set_count(&d)), (Rule::ScaleFromZero, Some((0, 3))), "{d:?}");
    // A backlog still draining is not zero.
    let d = decide(
        &backlog_observed(t0(), &[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0], 1),
        &p,
        &History::default(),
    );
    assert_ne!(d.rule, Rule::ScaleToZero);
}

/// An asynchronous fleet that keeps its queue clear is not shed down to what the backlog alone asks for: the
/// requests in process are the backlog, so sized on it the fleet would fall below its arrivals, the queue would
/// grow, and it would scale out again (the simulator showed 63 such reversals in three days).
#[test]
fn an_asynchronous_fleet_keeps_what_serves_its_arrivals() {
    let p = async_policy();
    // 8 instances, 500 a minute arriving at capacity 120: about 4 in process, nothing queued.
    let mut o = backlog_observed(t0(), &[4.2; 10], 8);
    let MetricsFetch::Fetched { minutes } = &mut o.metrics else {
        unreachable!()
    };
    for m in minutes.iter_mut() {
        m.invocations = Some(500.0);
    }
    let d = decide(&o, &p, &History::default());
    // The backlog asks for ceil(4.2 / 5) = 1; the arrivals for ceil(500 / 120) = 5.
    assert_eq!((d.rule, set_count(&d)), (Rule::Backlog, Some((8, 5))), "{d:?}");
    assert!(
        d.reasons
            .iter()
            .any(|r| matches!(r, Reason::Arrivals { recommended: 5, .. })),
        "{d:?}"
    );
    // Scaling out stays the backlog's to decide: 2 instances under 500 a minute with a queue within the target
    // (4.2 a minute on 2 is 2.1 each, under 5) are not scaled out for the arrivals.
    let mut o2 = o.clone();
    o2.variant.current_count = 2;
    o2.variant.desired_count = 2;
    let d = decide(&o2, &p, &History::default());
    assert_eq!((d.action.clone(), d.rule), (Action::Hold, Rule::Steady), "{d:?}");
    // Without arrivals the backlog alone decides, down to zero.
    let d = decide(&backlog_observed(t0(), &[0.0; 10], 1), &p, &History::default());
    assert_eq!(d.rule, Rule::ScaleToZero);
}

#[test]
fn decisions_serialise_with_rule_and_reason_tags() {
    let d = decide(&observed(t0(), &[300.0; 10], 4), &policy(), &History::default());
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["rule"], "demand");
    assert_eq!(v["action"]["kind"], "set_count");
    assert_eq!(v["reasons"][0]["reason"], "demand");
    assert_eq!(v["reasons"][0]["target_per_instance"], 60.0);
    let back: Decision = serde_json::from_value(v).unwrap();
    assert_eq!(back, d);
}

#[test]
fn history_records_actions_and_stays_bounded() {
    let p = policy();
    let mut h = History::default();
    let mut count = 1;
    for i in 0..200 {
        let now = t0() + Duration::minutes(i * 20);
        let demand = if i % 2 == 0 { 500.0 } else { 0.0 };
        let o = observed(now, &[demand; 10], count);
        let d = decide(&o, &p, &h);
        h.record(&o, &p, &d);
        count = d.desired_count;
    }
    assert_eq!(h.actions.len(), super::history::MAX_ACTIONS);
    assert!(h.last_scale_out.is_some() && h.last_scale_in.is_some());
    assert!(serde_json::to_string(&h).unwrap().len() < 100_000);
}

/// Overlapping fetches add each minute once to the recent demand, which keeps the newest `RECENT_MINUTES`; the
/// forecast's bias is compared only once a forecast exists.
#[test]
fn history_keeps_each_recent_minute_once() {
    let p = policy();
    let mut h = History::default();
    let demand: Vec<f64> = (0..200).map(|m| f64::from(m % 7) * 10.0).collect();
    for i in 10..=demand.len() {
        let now = t0() + Duration::minutes(i as i64);
        let o = observed(now, &demand[i - 10..i], 2);
        let d = decide(&o, &p, &h);
        h.record(&o, &p, &d);
    }
    let kept: Vec<f64> = h.recent.iter().copied().collect();
    assert_eq!(kept, demand[demand.len() - super::history::RECENT_MINUTES..]);
    assert_eq!(h.forecast_bias.minutes, 0);
}

/// One generated scenario: a policy's knobs, per-minute demand and endpoint status.
fn scenario() -> impl Strategy<Value = (Policy, Vec<(f64, bool)>)> {
    (
        1u32..4,
        0u32..12,
        0u64..600,
        0u64..900,
        2u32..15,
        1u32..3,
        1u32..5,
        0.0f64..100.0,
        1u32..3,
        0.0f64..50.0,
        any::<bool>(),
    )
        .prop_flat_map(
            |(min, extra, out_cd, in_cd, stable, panic_w, up_n, up_pct, down_n, down_pct, trend)| {
                let mut p = policy();
                p.min_instances = min;
                p.max_instances = min + extra;
                p.scale_out_cooldown_seconds = out_cd;
                p.scale_in_cooldown_seconds = in_cd;
                p.stable_window_minutes = stable;
                p.panic_window_minutes = panic_w.min(stable);
                p.max_step_up = Step {
                    instances: up_n,
                    percent: up_pct,
                };
                p.max_step_down = Step {
                    instances: down_n,
                    percent: down_pct,
                };
                p.anticipate_trend = trend;
                let minutes = prop::collection::vec(
                    (prop_oneof![Just(0.0), 0.0f64..2000.0], prop::bool::weighted(0.9)),
                    20..120,
                );
                (Just(p), minutes)
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn invariants_hold_over_random_runs((p, minutes) in scenario()) {
        let mut h = History::default();
        let mut count = p.min_instances;
        let mut demand: Vec<f64> = Vec::new();
        let (mut last_out, mut last_in): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = (None, None);
        for (i, &(d, in_service)) in minutes.iter().enumerate() {
            let now = t0() + Duration::minutes(i as i64);
            let window = &demand[demand.len().saturating_sub(p.lookback_minutes() as usize)..];
            let mut o = observed(now, window, count);
            if !in_service {
                o.variant.status = VariantStatus::Updating;
            }
            let dec = decide(&o, &p, &h);
            prop_assert!(dec.desired_count >= p.min_instances && dec.desired_count <= p.max_instances, "{dec:?}");
            if let Action::SetCount { from, to } = dec.action {
                prop_assert!(in_service, "acted while not in service: {dec:?}");
                prop_assert_eq!(from, count);
                let cooldown_out = Duration::seconds(p.scale_out_cooldown_seconds as i64);
                let cooldown_in = Duration::seconds(p.scale_in_cooldown_seconds as i64);
                let stable = Duration::minutes(i64::from(p.stable_window_minutes));
                if to > from {
                    prop_assert!(to - from <= p.max_step_up.allowed(from), "step up {dec:?}");
                    if !dec.panic {
                        prop_assert!(last_out.is_none_or(|t| now >= t + cooldown_out), "scale-out in cooldown {dec:?}");
                        prop_assert!(last_in.is_none_or(|t| now >= t + stable), "reversal in stable window {dec:?}");
                    }
                    last_out = Some(now);
                } else {
                    prop_assert!(from - to <= p.max_step_down.allowed(from), "step down {dec:?}");
                    prop_assert!(!dec.panic);
                    prop_assert!(last_in.is_none_or(|t| now >= t + cooldown_in), "scale-in in cooldown {dec:?}");
                    prop_assert!(last_out.is_none_or(|t| now >= t + stable), "reversal in stable window {dec:?}");
                    last_in = Some(now);
                }
            }
            h.record(&o, &p, &dec);
            count = dec.desired_count;
            demand.push(d);
        }
    }
}

/// A generated scenario with a vertical ladder and failing metric queries: a policy and, per minute, demand,
/// whether the endpoint is `InService` and whether the metric query worked.
fn ladder_scenario() -> impl Strategy<Value = (Policy, Vec<(f64, bool, bool)>)> {
    (
        1u32..3,
        0u32..5,
        0u64..400,
        0u64..900,
        2u32..12,
        1u32..6,
        5u32..30,
        0u32..40,
        1u32..4,
    )
        .prop_flat_map(
            |(min, extra, out_cd, in_cd, stable, up_after, down_after, type_cd, failures_before_fallback)| {
                let mut p = Policy::from_json(
                    r#"{"endpoint":"e","variant":"v","instance_type":"ml.g5.xlarge","min_instances":1,
                        "max_instances":4,"target_invocations_per_instance":60,"forecast":{"enabled":false},
                        "latency_objective":{"percentile":"p90","max_ms":1000},
                        "vertical":{"ladder":[
                            {"instance_type":"ml.g5.xlarge","target_invocations_per_instance":60},
                            {"instance_type":"ml.g5.2xlarge","target_invocations_per_instance":100},
                            {"instance_type":"ml.g5.4xlarge","target_invocations_per_instance":160}]}}"#,
                )
                .unwrap();
                p.min_instances = min;
                p.max_instances = min + extra;
                p.scale_out_cooldown_seconds = out_cd;
                p.scale_in_cooldown_seconds = in_cd;
                p.stable_window_minutes = stable;
                p.panic_window_minutes = p.panic_window_minutes.min(stable);
                p.missing_metrics.failures_before_fallback = failures_before_fallback;
                if let Some(v) = &mut p.vertical {
                    v.up_after_minutes = up_after;
                    v.down_after_minutes = down_after;
                    v.cooldown_minutes = type_cd;
                }
                p.validate().unwrap();
                let minutes = prop::collection::vec(
                    (
                        prop_oneof![Just(0.0), 0.0f64..3000.0],
                        prop::bool::weighted(0.85),
                        prop::bool::weighted(0.9),
                    ),
                    30..150,
                );
                (Just(p), minutes)
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    /// The invariants again with type changes and metric outages in play: every action (count or type) keeps
    /// the count within [min, max] and happens only `InService`; type changes respect their cooldown, move one
    /// rung and wait a stable window after a count change; no scale-in follows a type change or a scale-out
    /// within the stable window; no scale-out (but a panic) follows a scale-out within its cooldown.
    #[test]
    fn invariants_hold_with_the_ladder_and_metric_outages((p, minutes) in ladder_scenario()) {
        let vp = p.vertical.clone().unwrap();
        let rung = |t: &str| vp.ladder.iter().position(|r| r.instance_type == t).unwrap();
        let mut h = History::default();
        let (mut count, mut itype) = (p.min_instances, p.instance_type.clone());
        let mut demand: Vec<f64> = Vec::new();
        let mut last_out: Option<DateTime<Utc>> = None;
        let mut last_in: Option<DateTime<Utc>> = None;
        let mut last_type: Option<DateTime<Utc>> = None;
        let stable = Duration::minutes(i64::from(p.stable_window_minutes));
        for (i, &(d, in_service, metrics_ok)) in minutes.iter().enumerate() {
            let now = t0() + Duration::minutes(i as i64);
            let window = &demand[demand.len().saturating_sub(p.lookback_minutes() as usize)..];
            let mut o = observed(now, window, count);
            o.variant.instance_type = itype.clone();
            if !in_service {
                o.variant.status = VariantStatus::Updating;
            }
            if !metrics_ok {
                o.metrics = MetricsFetch::Failed { error: "Throttling".to_owned() };
            }
            let dec = decide(&o, &p, &h);
            prop_assert!(dec.desired_count >= p.min_instances && dec.desired_count <= p.max_instances, "{dec:?}");
            if dec.action != Action::Hold {
                prop_assert!(in_service, "acted while not in service: {dec:?}");
            }
            match &dec.action {
                Action::Hold => {}
                Action::SetCount { from, to } => {
                    prop_assert_eq!(*from, count);
                    if to > from {
                        if !dec.panic {
                            let cd = Duration::seconds(p.scale_out_cooldown_seconds as i64);
                            prop_assert!(last_out.is_none_or(|t| now >= t + cd), "scale-out in cooldown {dec:?}");
                        }
                        last_out = Some(now);
                    } else {
                        prop_assert!(!dec.panic);
                        prop_assert!(last_out.is_none_or(|t| now >= t + stable), "reversal of a scale-out {dec:?}");
                        prop_assert!(last_type.is_none_or(|t| now >= t + stable), "scale-in after a type change {dec:?}");
                        last_in = Some(now);
                    }
                }
                Action::ChangeType { from_type, to_type, from_count, to_count } => {
                    prop_assert!(metrics_ok, "type change without metrics {dec:?}");
                    prop_assert_eq!(from_type, &itype);
                    prop_assert_eq!(*from_count, count);
                    prop_assert!(*to_count >= p.min_instances && *to_count <= p.max_instances);
                    prop_assert_eq!(rung(from_type).abs_diff(rung(to_type)), 1, "one rung at a time {:?}", dec);
                    let cd = Duration::minutes(i64::from(vp.cooldown_minutes));
                    prop_assert!(last_type.is_none_or(|t| now >= t + cd), "type change in cooldown {dec:?}");
                    let last_count = last_out.max(last_in);
                    prop_assert!(last_count.is_none_or(|t| now >= t + stable), "type change right after a count change {dec:?}");
                    last_type = Some(now);
                    itype = to_type.clone();
                }
            }
            h.record(&o, &p, &dec);
            count = dec.desired_count;
            demand.push(d);
        }
    }
}
