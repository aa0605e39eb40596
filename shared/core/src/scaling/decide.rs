//! The scaling decision: a pure function of what was observed, the policy and the stored history. What it
//! returns (the action, the rule, the reasons) is spelled in [`decision`](super::decision).
//!
//! The order of the rules, and why:
//! 1. not `InService`: hold (SageMaker rejects updates while updating, and a half-applied change would be
//!    counted twice);
//! 2. metrics failed or stale: hold, and after `failures_before_fallback` runs go up to the fallback capacity
//!    (never down: scaling in blind is how outages start);
//! 3. a count outside `[min, max]` (the policy changed) is moved inside at once;
//! 4. the vertical ladder (up when saturated at max or slow while busy; down when a smaller type has served
//!    the demand at min for long);
//! 5. horizontal: the count that serves the highest of the stable window's mean demand (and its newest minute
//!    when levels hold), the last hour's mean plus its typical rise over the start-up delay, the trend projected
//!    over the start-up delay, the seasonal forecast (scaled down by how far it overshot the demand lately, and
//!    only while its changes have predicted the demand better than persistence) and the scheduled minimums, at
//!    the target per instance;
//!    limited by cooldowns, the stable window against reversals, the panic hold and the step bounds. A panic
//!    (demand over the panic window far above what the fleet serves) skips the scale-out cooldown.

use super::decision::{Action, Decision, Reason, Rule};
use super::history::History;
use super::observed::{MetricsFetch, MinuteMetrics, Observed, VariantStatus};
use super::policy::{Percentile, Policy};
use chrono::{DateTime, Duration, Utc};
use std::collections::VecDeque;

/// Fewest minutes a trend is fitted on (it is fitted over the stable window). Five one-minute points are the
/// fewest that separate a ramp from one noisy minute.
pub const TREND_MIN_MINUTES: usize = 5;
/// How many standard errors the slope must clear: about the 95% one-sided level for the few degrees of freedom
/// of a ten-minute window (Student's t with 8 degrees of freedom: 1.86).
pub const TREND_T_STAT: f64 = 2.0;

fn ceil_div(demand: f64, per_instance: f64) -> u32 {
    if demand <= 0.0 {
        0
    } else {
        // Guard against float noise turning an exact 2.0 into 3.
        let v = demand / per_instance;
        let r = v.round();
        let v = if (v - r).abs() < 1e-9 { r } else { v.ceil() };
        v.min(f64::from(u32::MAX)) as u32
    }
}

fn within(last: Option<DateTime<Utc>>, now: DateTime<Utc>, span: Duration) -> Option<DateTime<Utc>> {
    last.filter(|&t| now < t + span)
}

/// A rising least-squares trend over `values` (one per minute) that stands out of the noise: its slope is at
/// least [`TREND_T_STAT`] standard errors above zero. Returns the slope and the fitted value at the last minute.
/// Bursty traffic has large residuals, so its random ups and downs are not extrapolated.
fn significant_trend(values: &[f64]) -> Option<(f64, f64)> {
    let n = values.len();
    if n < TREND_MIN_MINUTES {
        return None;
    }
    let nf = n as f64;
    let mx = (nf - 1.0) / 2.0;
    let my = values.iter().sum::<f64>() / nf;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, y) in values.iter().enumerate() {
        let dx = i as f64 - mx;
        sxy += dx * (y - my);
        sxx += dx * dx;
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let rss: f64 = values
        .iter()
        .enumerate()
        .map(|(i, y)| (y - intercept - slope * i as f64).powi(2))
        .sum();
    let se = (rss / (nf - 2.0) / sxx).sqrt();
    (slope > 0.0 && slope >= TREND_T_STAT * se).then_some((slope, intercept + slope * (nf - 1.0)))
}

/// Minutes of recent demand the volatility headroom is sized on.
pub const HEADROOM_MINUTES: usize = 60;

/// The last [`HEADROOM_MINUTES`]' mean demand, and the root mean square of the rises of demand over the reaction
/// time (the start-up delay and the minute of metric lag) within them, counting falls as no rise: what the
/// fleet must hold beyond the hour's level to serve a rise of the size seen lately before new instances can
/// serve it. Bursts come in clusters (news, incidents), so an hour with rises holds more, and a calm hour less;
/// on a daily cycle the rises are the cycle's own, which the forecast foresees. `None` until enough minutes are
/// kept.
fn hour_headroom(recent: &VecDeque<f64>, startup_minutes: u32) -> Option<(f64, f64)> {
    let reaction = startup_minutes as usize + 1;
    let n = recent.len();
    if n < HEADROOM_MINUTES + reaction {
        return None;
    }
    let hour = recent.range(n - HEADROOM_MINUTES..);
    let mean = hour.sum::<f64>() / HEADROOM_MINUTES as f64;
    let squares: f64 = (n - HEADROOM_MINUTES..n)
        .map(|i| (recent[i] - recent[i - reaction]).max(0.0).powi(2))
        .sum();
    Some((mean, (squares / HEADROOM_MINUTES as f64).sqrt()))
}

/// Fewest comparisons [`levels_persist`] judges on.
pub const PERSISTENCE_MIN_MINUTES: usize = 30;

/// Whether, over the last [`HEADROOM_MINUTES`], the demand a reaction time ahead was predicted better by the
/// newest minute than by the mean of the stable window, counting only the demand above each prediction: true when
/// the demand moves in levels that hold (hourly counts, a news event's surge), false when it is noise around a
/// mean (one-minute spikes), which the window's mean predicts better. `false` until [`PERSISTENCE_MIN_MINUTES`]
/// comparisons can be made.
fn levels_persist(recent: &VecDeque<f64>, startup_minutes: u32, window_minutes: u32) -> bool {
    let reaction = startup_minutes as usize + 1;
    let w = (window_minutes as usize).max(1);
    let n = recent.len();
    let first = (reaction + w - 1).max(n.saturating_sub(HEADROOM_MINUTES));
    if n < first + PERSISTENCE_MIN_MINUTES {
        return false;
    }
    let (mut newest, mut mean) = (0.0, 0.0);
    for i in first..n {
        let seen = i - reaction;
        let m = recent.range(seen + 1 - w..=seen).sum::<f64>() / w as f64;
        // Only a shortfall counts: demand below the prediction is served anyway.
        newest += (recent[i] - recent[seen]).max(0.0).powi(2);
        mean += (recent[i] - m).max(0.0).powi(2);
    }
    newest < mean
}

fn latency(m: &MinuteMetrics, p: Percentile) -> Option<f64> {
    match p {
        Percentile::P50 => m.model_latency_p50_ms,
        Percentile::P90 => m.model_latency_p90_ms,
        Percentile::P99 => m.model_latency_p99_ms,
    }
}

struct Ctx<'a> {
    observed: &'a Observed,
    policy: &'a Policy,
    history: &'a History,
    reasons: Vec<Reason>,
    panic: bool,
    metrics_ok: bool,
}

impl Ctx<'_> {
    fn finish(&mut self, action: Action, rule: Rule) -> Decision {
        let v = &self.observed.variant;
        let (instance_type, desired_count) = match &action {
            Action::Hold => (v.instance_type.clone(), v.desired_count),
            Action::SetCount { to, .. } => (v.instance_type.clone(), *to),
            Action::ChangeType { to_type, to_count, .. } => (to_type.clone(), *to_count),
        };
        Decision {
            endpoint: self.policy.endpoint.clone(),
            variant: self.policy.variant.clone(),
            at: self.observed.now,
            action,
            instance_type,
            desired_count,
            rule,
            reasons: std::mem::take(&mut self.reasons),
            panic: self.panic,
            metrics_ok: self.metrics_ok,
        }
    }
}

/// Decides what to do with one endpoint variant. Pure: same inputs, same decision.
pub fn decide(observed: &Observed, policy: &Policy, history: &History) -> Decision {
    let mut cx = Ctx {
        observed,
        policy,
        history,
        reasons: Vec::new(),
        panic: false,
        metrics_ok: false,
    };
    let v = &observed.variant;
    let now = observed.now;
    let cur = v.desired_count;

    if v.status != VariantStatus::InService {
        cx.reasons.push(Reason::NotInService { status: v.status });
        return cx.finish(Action::Hold, Rule::NotInService);
    }

    let Some(minutes) = usable_minutes(&mut cx) else {
        let failures = history.consecutive_metric_failures.saturating_add(1);
        if failures < policy.missing_metrics.failures_before_fallback {
            return cx.finish(Action::Hold, Rule::MetricsUnavailable);
        }
        let fallback = policy.fallback_instances();
        cx.reasons.push(Reason::Fallback {
            fallback_instances: fallback,
        });
        let wanted = fallback.max(cur).clamp(policy.min_instances, policy.max_instances);
        if wanted <= cur {
            return cx.finish(Action::Hold, Rule::Fallback);
        }
        return scale_out(&mut cx, cur, wanted, false, Rule::Fallback);
    };
    cx.metrics_ok = true;

    if cur < policy.min_instances || cur > policy.max_instances {
        // A policy edit moved the limits: obey them at once, the limits are the contract.
        let to = cur.clamp(policy.min_instances, policy.max_instances);
        cx.reasons.push(Reason::OutsideLimits {
            count: cur,
            min: policy.min_instances,
            max: policy.max_instances,
        });
        return cx.finish(Action::SetCount { from: cur, to }, Rule::OutsideLimits);
    }

    let asynchronous = policy.asynchronous.as_ref();
    let target = match asynchronous {
        Some(a) => a.target_backlog_per_instance,
        None => policy.target_for(&v.instance_type),
    };
    // A minute with no datapoint of any metric while instances run (they emit `CPUUtilization` every minute) is
    // a gap in CloudWatch's metrics, not a minute without requests: it is left out, and a stable window with a
    // gap is too short to scale in on. An asynchronous variant at zero instances emits nothing while its queue is
    // empty: its empty minutes are zeros.
    let silent_at_zero = asynchronous.is_some() && v.current_count == 0;
    let gap = |m: &MinuteMetrics| !silent_at_zero && !m.has_any();
    let gaps_in_window = minutes[minutes.len().saturating_sub(policy.stable_window_minutes as usize)..]
        .iter()
        .filter(|m| gap(m))
        .count();
    let demand: Vec<f64> = minutes
        .iter()
        .filter(|m| !gap(m))
        .map(|m| match asynchronous {
            Some(_) => m
                .approximate_backlog_size
                .or(m
                    .approximate_backlog_size_per_instance
                    .map(|b| b * f64::from(v.current_count)))
                .unwrap_or(0.0),
            // No `Invocations` datapoint in a fresh fetch means no requests: a real zero.
            None => m.invocations.unwrap_or(0.0),
        })
        .collect();
    let last = demand.last().copied().unwrap_or(0.0);
    let tail = |n: u32| &demand[demand.len().saturating_sub(n as usize)..];
    let window = tail(policy.stable_window_minutes);
    let peak = window.iter().copied().fold(0.0, f64::max);
    let mean = window.iter().sum::<f64>() / window.len().max(1) as f64;
    let panic_window = tail(policy.panic_window_minutes);
    let panic_demand = panic_window.iter().sum::<f64>() / panic_window.len().max(1) as f64;

    // Panic: demand far above what the serving instances handle at target.
    let serving = f64::from(v.current_count) * target;
    let ratio = if serving > 0.0 {
        panic_demand / serving
    } else if panic_demand > 0.0 {
        f64::INFINITY
    } else {
        0.0
    };
    let from_zero = asynchronous.is_some() && v.current_count == 0 && last > 0.0;
    let panic_now = ratio >= policy.panic_threshold || from_zero;
    if panic_now && !from_zero {
        cx.reasons.push(Reason::Panic {
            demand_per_minute: panic_demand,
            serving_at_target_per_minute: serving,
            ratio,
            threshold: policy.panic_threshold,
        });
    }
    cx.panic = panic_now;
    let panic_hold = history.panic_until.filter(|&t| now < t);

    // The recommendation and what drove it.
    // Sized on the window's mean at the target, as Knative's stable mode does, and never below what serves
    // the window's peak at full capacity: a new instance serves only after the start-up delay, so a burst seen
    // within the window must be servable by the instances already running when it comes back.
    let capacity = match asynchronous {
        Some(_) => target,
        None => policy.capacity_for(&v.instance_type),
    };
    let mut rec = ceil_div(mean, target).max(ceil_div(peak, capacity));
    // Terms that raise the recommendation, each with its own reason (after the `Demand` or `Backlog` one).
    let mut raised = Vec::new();
    if asynchronous.is_some() {
        // Never scale in below what serves the arrivals (see `Reason::Arrivals`). Scaling out stays the
        // backlog's to decide: a queue within the target is what an asynchronous endpoint trades for cost.
        let arrivals: Vec<f64> = minutes
            .iter()
            .filter(|m| !gap(m))
            .map(|m| m.invocations.unwrap_or(0.0))
            .collect();
        let recent = &arrivals[arrivals.len().saturating_sub(policy.stable_window_minutes as usize)..];
        let arrivals_mean = recent.iter().sum::<f64>() / recent.len().max(1) as f64;
        let serves = policy.capacity_for(&v.instance_type);
        let r = ceil_div(arrivals_mean, serves).min(cur);
        if r > rec {
            raised.push(Reason::Arrivals {
                window_mean_per_minute: arrivals_mean,
                capacity_per_instance: serves,
                recommended: r,
            });
            rec = r;
        }
    }
    if asynchronous.is_none() {
        // The newest minute at the target too, when levels hold: a rise is answered the minute it is seen, not
        // once the window's mean has caught up with it (new instances serve only after the start-up delay). On
        // one-minute noise around a mean the window's mean predicts better, and a spike is not chased.
        if levels_persist(&history.recent, policy.startup_minutes, policy.stable_window_minutes) {
            let r = ceil_div(last, target);
            raised.push(Reason::LevelsHold {
                last_per_minute: last,
                recommended: r,
            });
            rec = rec.max(r);
        }
        if policy.volatility_headroom
            && let Some((hour_mean, rise)) = hour_headroom(&history.recent, policy.startup_minutes)
        {
            let r = ceil_div(hour_mean / target * capacity + rise, capacity);
            raised.push(Reason::HourHeadroom {
                hour_mean_per_minute: hour_mean,
                typical_rise_per_minute: rise,
                recommended: r,
            });
            rec = rec.max(r);
        }
    }
    if panic_now {
        // Like Knative's panic mode, size on the short window alone, but at capacity rather than at the target:
        // the surge must be served, and the stable rule restores the target's headroom if it lasts.
        rec = rec.max(ceil_div(panic_demand, capacity));
    }
    let mut driver = if asynchronous.is_some() {
        Rule::Backlog
    } else {
        Rule::Demand
    };
    match asynchronous {
        Some(_) => cx.reasons.push(Reason::Backlog {
            backlog: last,
            window_peak: peak,
            window_mean: mean,
            target_per_instance: target,
            recommended: rec,
        }),
        None => cx.reasons.push(Reason::Demand {
            last_per_minute: last,
            window_peak_per_minute: peak,
            window_mean_per_minute: mean,
            capacity_per_instance: capacity,
            window_minutes: policy.stable_window_minutes,
            target_per_instance: target,
            recommended: rec,
        }),
    }
    cx.reasons.extend(raised);
    if asynchronous.is_none() {
        // Fitted on a full stable window only: a partial one (just after start-up) over-reads its few points.
        if policy.anticipate_trend
            && window.len() >= policy.stable_window_minutes as usize
            && let Some((slope, fitted_last)) = significant_trend(window)
        {
            // Like the peak and the panic rules, the projection must be servable (at capacity) when the
            // instances launched now start serving; the target's headroom is for the steady state.
            let projected = fitted_last + slope * f64::from(policy.startup_minutes);
            let r = ceil_div(projected, capacity);
            cx.reasons.push(Reason::Trend {
                slope,
                minutes_ahead: policy.startup_minutes,
                projected_per_minute: projected,
                recommended: r,
            });
            if r > rec {
                rec = r;
                driver = Rule::Trend;
            }
        }
        let skill = history.forecast_bias.skill();
        let withheld = policy.forecast.enabled && policy.forecast.require_skill && !skill.skillful();
        if withheld {
            cx.reasons.push(Reason::ForecastWithheld {
                explained_share: skill.explained,
                minutes_compared: skill.minutes,
            });
        }
        if policy.forecast.enabled && !withheld {
            let horizon = policy.startup_minutes + policy.forecast.horizon_minutes;
            if let Some(f) = history.seasonal.forecast(now, horizon) {
                let calibration = if policy.forecast.calibrate {
                    history.forecast_bias.calibration().unwrap_or(1.0)
                } else {
                    1.0
                };
                let f = f * policy.forecast.factor * calibration;
                let r = ceil_div(f, target);
                cx.reasons.push(Reason::Forecast {
                    forecast_per_minute: f,
                    horizon_minutes: horizon,
                    recommended: r,
                });
                if r > rec {
                    rec = r;
                    driver = Rule::Forecast;
                }
            }
        }
    }
    // Scheduled minimums, looked at over the start-up delay so that instances serve when the window opens.
    let mut floor = policy.min_instances;
    for s in &policy.schedules {
        let active =
            (0..=policy.startup_minutes).any(|m| s.cron.matches(now + Duration::minutes(i64::from(m)), s.utc_offset));
        if active {
            cx.reasons.push(Reason::Schedule {
                cron: s.cron.as_str().to_owned(),
                utc_offset: String::from(s.utc_offset),
                min_instances: s.min_instances,
            });
            floor = floor.max(s.min_instances.min(policy.max_instances));
        }
    }
    if rec < floor {
        cx.reasons.push(Reason::Clamped { wanted: rec, to: floor });
        driver = if floor > policy.min_instances {
            Rule::Schedule
        } else {
            Rule::Minimum
        };
        rec = floor;
    }
    let unclamped = rec;
    if rec > policy.max_instances {
        cx.reasons.push(Reason::Clamped {
            wanted: rec,
            to: policy.max_instances,
        });
        rec = policy.max_instances;
        driver = Rule::Maximum;
    }

    if asynchronous.is_none()
        && let Some(d) = vertical(&mut cx, &demand, target, unclamped, panic_now || panic_hold.is_some())
    {
        return d;
    }

    if rec > cur {
        let rule = if from_zero {
            Rule::ScaleFromZero
        } else if panic_now {
            Rule::Panic
        } else {
            driver
        };
        return scale_out(&mut cx, cur, rec, panic_now, rule);
    }
    if rec < cur {
        let known = window.len().min(policy.stable_window_minutes as usize - gaps_in_window);
        if known < policy.stable_window_minutes as usize {
            // Too little data to know the demand is lower: scaling in on a partial window is a guess.
            cx.reasons.push(Reason::ShortWindow {
                minutes: known as u32,
                window_minutes: policy.stable_window_minutes,
            });
            return cx.finish(Action::Hold, Rule::StableWindow);
        }
        if let Some(until) = panic_hold.or(if panic_now { Some(now) } else { None }) {
            cx.reasons.push(Reason::PanicHold { until });
            return cx.finish(Action::Hold, Rule::PanicHold);
        }
        let stable = Duration::minutes(i64::from(policy.stable_window_minutes));
        if let Some(t) = within(history.last_scale_out, now, stable).or(within(history.last_type_change, now, stable)) {
            cx.reasons.push(Reason::StableWindow {
                last_opposite_action: t,
                window_minutes: policy.stable_window_minutes,
            });
            return cx.finish(Action::Hold, Rule::StableWindow);
        }
        let cooldown = Duration::seconds(policy.scale_in_cooldown_seconds as i64);
        if let Some(t) = within(history.last_scale_in, now, cooldown) {
            cx.reasons.push(Reason::Cooldown {
                direction: "scale_in".to_owned(),
                remaining_seconds: (t + cooldown - now).num_seconds(),
            });
            return cx.finish(Action::Hold, Rule::Cooldown);
        }
        let allowed = policy.max_step_down.allowed(cur);
        let to = rec.max(cur.saturating_sub(allowed));
        if to != rec {
            cx.reasons.push(Reason::StepLimited {
                wanted: rec,
                allowed: to,
            });
        }
        let rule = if peak == 0.0 && driver != Rule::Schedule {
            match asynchronous {
                Some(_) if to == 0 => Rule::ScaleToZero,
                Some(_) => driver,
                None => {
                    cx.reasons.push(Reason::ZeroTraffic {
                        window_minutes: policy.stable_window_minutes,
                    });
                    Rule::ZeroTraffic
                }
            }
        } else {
            driver
        };
        return cx.finish(Action::SetCount { from: cur, to }, rule);
    }
    cx.finish(Action::Hold, Rule::Steady)
}

/// The minutes to decide on, or `None` (with the reason recorded) when the metrics failed or are stale.
fn usable_minutes<'a>(cx: &mut Ctx<'a>) -> Option<&'a [MinuteMetrics]> {
    let policy = cx.policy;
    let failures = cx.history.consecutive_metric_failures.saturating_add(1);
    let fallback_after = policy.missing_metrics.failures_before_fallback;
    match &cx.observed.metrics {
        MetricsFetch::Failed { error } => {
            cx.reasons.push(Reason::MetricsFailed {
                error: error.clone(),
                consecutive_failures: failures,
                fallback_after,
            });
            None
        }
        MetricsFetch::Fetched { minutes } => {
            // An asynchronous variant at zero instances emits no instance metrics; an empty answer is then an
            // empty queue, not an outage (the backlog metric appears as soon as requests wait).
            if cx.policy.asynchronous.is_some() && cx.observed.variant.current_count == 0 {
                return Some(minutes);
            }
            let newest = minutes.iter().rposition(MinuteMetrics::has_any);
            let max_age = Duration::minutes(i64::from(policy.missing_metrics.max_age_minutes));
            match newest.map(|i| (i, minutes[i].minute)) {
                // The minutes after the newest published one are not published yet (CloudWatch's delay): not zero
                // demand, but not known; they are left out.
                Some((i, t)) if cx.observed.now - t <= max_age => Some(&minutes[..=i]),
                _ => {
                    cx.reasons.push(Reason::MetricsStale {
                        newest_minute: newest.map(|i| minutes[i].minute),
                        max_age_minutes: policy.missing_metrics.max_age_minutes,
                        consecutive_failures: failures,
                        fallback_after,
                    });
                    None
                }
            }
        }
    }
}

fn scale_out(cx: &mut Ctx<'_>, cur: u32, wanted: u32, panic: bool, rule: Rule) -> Decision {
    let policy = cx.policy;
    let now = cx.observed.now;
    if !panic {
        let cooldown = Duration::seconds(policy.scale_out_cooldown_seconds as i64);
        if let Some(t) = within(cx.history.last_scale_out, now, cooldown) {
            cx.reasons.push(Reason::Cooldown {
                direction: "scale_out".to_owned(),
                remaining_seconds: (t + cooldown - now).num_seconds(),
            });
            return cx.finish(Action::Hold, Rule::Cooldown);
        }
        let stable = Duration::minutes(i64::from(policy.stable_window_minutes));
        if let Some(t) = within(cx.history.last_scale_in, now, stable) {
            cx.reasons.push(Reason::StableWindow {
                last_opposite_action: t,
                window_minutes: policy.stable_window_minutes,
            });
            return cx.finish(Action::Hold, Rule::StableWindow);
        }
    }
    let allowed = policy.max_step_up.allowed(cur);
    let to = wanted.min(cur.saturating_add(allowed));
    if to != wanted {
        cx.reasons.push(Reason::StepLimited { wanted, allowed: to });
    }
    cx.finish(Action::SetCount { from: cur, to }, rule)
}

/// The vertical ladder; `Some` when it settles the decision.
fn vertical(cx: &mut Ctx<'_>, demand: &[f64], target: f64, unclamped: u32, panicking: bool) -> Option<Decision> {
    let policy = cx.policy;
    let vp = policy.vertical.as_ref()?;
    let v = &cx.observed.variant;
    let now = cx.observed.now;
    let pos = vp.ladder.iter().position(|r| r.instance_type == v.instance_type)?;
    let cur = v.desired_count;

    // Why up: saturated at max for a while, or slow while busy.
    let mut up = false;
    let n = vp.up_after_minutes as usize;
    let max_at_target = f64::from(policy.max_instances) * target;
    if cur >= policy.max_instances && n > 0 && demand.len() >= n {
        let recent = &demand[demand.len() - n..];
        if recent.iter().all(|&d| d > max_at_target) {
            cx.reasons.push(Reason::SaturatedAtMax {
                minutes: vp.up_after_minutes,
                min_demand_per_minute: recent.iter().copied().fold(f64::INFINITY, f64::min),
                max_at_target_per_minute: max_at_target,
            });
            up = true;
        }
    }
    if let (Some(obj), Some(m)) = (
        &policy.latency_objective,
        cx.observed.metrics_minutes().and_then(|ms| ms.last()),
    ) && let Some(observed_ms) = latency(m, obj.percentile)
        && observed_ms > obj.max_ms
    {
        let serving = f64::from(v.current_count.max(1)) * target;
        let utilization = m.invocations.unwrap_or(0.0) / serving;
        let capacity_bound = utilization >= obj.high_utilization;
        cx.reasons.push(Reason::LatencyMissed {
            percentile: obj.percentile,
            observed_ms,
            objective_ms: obj.max_ms,
            utilization,
            capacity_bound,
        });
        up |= capacity_bound;
    }

    let settle = Duration::minutes(i64::from(policy.stable_window_minutes));
    let type_cooldown = Duration::minutes(i64::from(vp.cooldown_minutes));
    let blocked = |cx: &mut Ctx<'_>| -> bool {
        if let Some(t) = within(cx.history.last_type_change, now, type_cooldown) {
            cx.reasons.push(Reason::Cooldown {
                direction: "type_change".to_owned(),
                remaining_seconds: (t + type_cooldown - now).num_seconds(),
            });
            return true;
        }
        // Let the fleet settle after any count change before a blue/green move.
        let last_count_change = cx.history.last_scale_out.max(cx.history.last_scale_in);
        if let Some(t) = within(last_count_change, now, settle) {
            cx.reasons.push(Reason::StableWindow {
                last_opposite_action: t,
                window_minutes: policy.stable_window_minutes,
            });
            return true;
        }
        false
    };

    if up && let Some(next) = vp.ladder.get(pos + 1) {
        if blocked(cx) {
            return None;
        }
        // Size the new fleet on the demand the old type's unclamped count stood for.
        let demand_est = f64::from(unclamped) * target;
        let to_count = ceil_div(demand_est, next.target_invocations_per_instance)
            .clamp(policy.min_instances.max(1), policy.max_instances);
        let action = Action::ChangeType {
            from_type: v.instance_type.clone(),
            to_type: next.instance_type.clone(),
            from_count: cur,
            to_count,
        };
        return Some(cx.finish(action, Rule::VerticalUp));
    }

    if !up && !panicking && pos > 0 && cur == policy.min_instances {
        let smaller = &vp.ladder[pos - 1];
        let n = vp.down_after_minutes as usize;
        if n > 0 && demand.len() >= n {
            let peak = demand[demand.len() - n..].iter().copied().fold(0.0, f64::max);
            let serves = f64::from(policy.min_instances) * smaller.target_invocations_per_instance * vp.down_margin;
            if peak <= serves {
                cx.reasons.push(Reason::SmallerTypeSuffices {
                    instance_type: smaller.instance_type.clone(),
                    peak_per_minute: peak,
                    serves_per_minute: serves,
                    minutes: vp.down_after_minutes,
                });
                if blocked(cx) {
                    return None;
                }
                let action = Action::ChangeType {
                    from_type: v.instance_type.clone(),
                    to_type: smaller.instance_type.clone(),
                    from_count: cur,
                    to_count: policy.min_instances,
                };
                return Some(cx.finish(action, Rule::VerticalDown));
            }
        }
    }
    None
}
