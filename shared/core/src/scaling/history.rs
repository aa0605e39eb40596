//! What the adapter stores between one-minute runs: action times, recent actions, metric failures and the
//! seasonal demand profile the forecast reads. Bounded: a fixed number of profile slots and of actions.

use std::collections::VecDeque;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::decision::{Action, Decision, Rule};
use super::observed::{MetricsFetch, Observed};
use super::policy::Policy;

/// Actions kept for inspection; a day of hourly actions fits, and the JSON stays a few kilobytes.
pub const MAX_ACTIONS: usize = 64;
/// Width of one slot of the seasonal profile. Fifteen minutes keeps a week in 672 slots (about 20 kB of
/// JSON, well under DynamoDB's 400 KB item limit) while still resolving a morning ramp.
pub const BUCKET_MINUTES: i64 = 15;
/// Slots in a day.
pub const DAY_SLOTS: usize = (24 * 60 / BUCKET_MINUTES) as usize;
/// Slots in a week.
pub const WEEK_SLOTS: usize = 7 * DAY_SLOTS;
/// Weight of the newest bucket peak in a slot's moving average: recent days count most, but one odd day
/// does not erase the pattern.
const PEAK_EWMA_ALPHA: f64 = 0.5;

/// One slot of the seasonal profile: a moving average of the per-minute demand peak in that slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slot {
    /// Moving average of the slot's per-minute peak demand.
    pub peak: f64,
    /// How many buckets have been folded in (0: no data).
    pub samples: u32,
}

impl Slot {
    fn fold(&mut self, peak: f64) {
        self.peak = if self.samples == 0 {
            peak
        } else {
            PEAK_EWMA_ALPHA * peak + (1.0 - PEAK_EWMA_ALPHA) * self.peak
        };
        self.samples = self.samples.saturating_add(1);
    }
}

/// Daily and weekly profiles of per-minute peak demand, in [`BUCKET_MINUTES`] slots aligned on UTC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeasonalProfile {
    /// [`DAY_SLOTS`] slots, slot 0 starting at 00:00 UTC.
    pub daily: Vec<Slot>,
    /// [`WEEK_SLOTS`] slots over the week, aligned on the Unix epoch.
    pub weekly: Vec<Slot>,
    /// The bucket being filled (minutes since the epoch / [`BUCKET_MINUTES`]) and its peak so far.
    pub open: Option<(i64, f64)>,
    /// Newest minute folded in, so that overlapping fetches are not counted twice.
    pub last_minute: Option<DateTime<Utc>>,
}

impl Default for SeasonalProfile {
    fn default() -> Self {
        Self {
            daily: vec![Slot::default(); DAY_SLOTS],
            weekly: vec![Slot::default(); WEEK_SLOTS],
            open: None,
            last_minute: None,
        }
    }
}

fn bucket_of(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(60 * BUCKET_MINUTES)
}

impl SeasonalProfile {
    /// Records one minute's demand. Minutes at or before the newest recorded one are ignored.
    pub fn record(&mut self, minute: DateTime<Utc>, demand: f64) {
        if self.daily.len() != DAY_SLOTS || self.weekly.len() != WEEK_SLOTS {
            // A stored profile of another shape (older version, hand edit) is discarded, not trusted.
            *self = Self::default();
        }
        if self.last_minute.is_some_and(|m| minute <= m) || !demand.is_finite() {
            return;
        }
        self.last_minute = Some(minute);
        let b = bucket_of(minute);
        match self.open {
            Some((open, peak)) if open == b => self.open = Some((b, peak.max(demand))),
            Some((open, peak)) => {
                self.fold(open, peak);
                self.open = Some((b, demand));
            }
            None => self.open = Some((b, demand)),
        }
    }

    fn fold(&mut self, bucket: i64, peak: f64) {
        self.daily[bucket.rem_euclid(DAY_SLOTS as i64) as usize].fold(peak);
        self.weekly[bucket.rem_euclid(WEEK_SLOTS as i64) as usize].fold(peak);
    }

    /// The highest expected per-minute demand over `[from, from + minutes]`: the weekly slot when a week has
    /// been seen (it knows weekends from weekdays), else the daily slot. `None` without any history.
    pub fn forecast(&self, from: DateTime<Utc>, minutes: u32) -> Option<f64> {
        if self.daily.len() != DAY_SLOTS || self.weekly.len() != WEEK_SLOTS {
            return None;
        }
        let (first, last) = (bucket_of(from), bucket_of(from + Duration::minutes(i64::from(minutes))));
        let mut best: Option<f64> = None;
        for b in first..=last {
            let w = self.weekly[b.rem_euclid(WEEK_SLOTS as i64) as usize];
            let d = self.daily[b.rem_euclid(DAY_SLOTS as i64) as usize];
            let v = if w.samples > 0 {
                Some(w.peak)
            } else if d.samples > 0 {
                Some(d.peak)
            } else {
                None
            };
            if let Some(v) = v {
                best = Some(best.map_or(v, |b: f64| b.max(v)));
            }
        }
        best
    }
}

/// Minutes the forecast's bias is averaged over (a day: it follows a change of the traffic's level within days).
pub const BIAS_MINUTES: u32 = 1440;

/// Minutes the forecast's skill is averaged over (four weeks: a holiday or a storm's day, when the daily cycle did
/// not come, does not withhold the forecast from the days after it).
pub const SKILL_MINUTES: u32 = 28 * 1440;

/// The share of the demand's changes over the reaction time that the forecast's changes must explain (their
/// squared correlation, when positive) for `forecast.require_skill` to use the forecast. On the README's traces the
/// bursty Twitter volumes stay below 0.005 once a day has been compared, and the bike rentals' daily cycle passes
/// from its fourth or fifth day, winter included.
pub const MIN_EXPLAINED: f64 = 0.15;

/// How the seasonal forecast compared with the demand that came: moving averages, over about
/// [`BIAS_MINUTES`], of each minute's demand and of the forecast of its slot (made from the days before it).
/// A slot's forecast is the moving average of its peaks: on a steady daily cycle the demand reaches it, on bursty
/// traffic the peaks were bursts that do not come back at the same time, and the demand stays far below it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastBias {
    /// Moving average of the per-minute demand.
    pub demand: f64,
    /// Moving average of the forecast for the same minutes.
    pub forecast: f64,
    /// Minutes folded in.
    pub minutes: u32,
    /// Moving average, over about [`SKILL_MINUTES`], of the square of the demand's change over a reaction time
    /// (the start-up delay and a minute): the squared error of persistence.
    #[serde(default)]
    pub change_sq: f64,
    /// The same of the forecast's change over the same minutes.
    #[serde(default)]
    pub forecast_change_sq: f64,
    /// The same of the product of the two changes.
    #[serde(default)]
    pub co_change: f64,
    /// Minutes folded into the three.
    #[serde(default)]
    pub compared: u32,
}

/// How well the forecast's changes foresaw the demand's; see [`ForecastBias::skill`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForecastSkill {
    /// The share of the demand's changes the forecast's changes explain: their squared correlation, negative
    /// when they moved in opposite directions, 0 when either never changed.
    pub explained: f64,
    /// Minutes compared.
    pub minutes: u32,
}

impl ForecastSkill {
    /// Whether a day has been compared and the forecast's changes explain at least [`MIN_EXPLAINED`].
    pub fn skillful(&self) -> bool {
        self.minutes >= BIAS_MINUTES && self.explained >= MIN_EXPLAINED
    }
}

impl ForecastBias {
    fn fold(&mut self, demand: f64, forecast: f64) {
        // A plain mean until the window is full, then an exponential moving average over it.
        let a = 1.0 / f64::from(self.minutes.saturating_add(1).min(BIAS_MINUTES));
        self.demand += a * (demand - self.demand);
        self.forecast += a * (forecast - self.forecast);
        self.minutes = self.minutes.saturating_add(1);
    }

    fn fold_skill(&mut self, change: f64, forecast_change: f64) {
        let a = 1.0 / f64::from(self.compared.saturating_add(1).min(SKILL_MINUTES));
        self.change_sq += a * (change * change - self.change_sq);
        self.forecast_change_sq += a * (forecast_change * forecast_change - self.forecast_change_sq);
        self.co_change += a * (change * forecast_change - self.co_change);
        self.compared = self.compared.saturating_add(1);
    }

    /// Whether the forecast knows what persistence does not, the test `forecast.require_skill` applies: how much
    /// of the demand's change over a reaction time the forecast's change over the same time explains (the share
    /// of persistence's squared error that adding the forecast's change, best scaled, removes). On a daily cycle
    /// the forecast's changes foresee the ramps, though their size is off on a cold or a rainy day; on bursty
    /// traffic they follow slot peaks made by bursts that do not come back, and explain next to nothing.
    pub fn skill(&self) -> ForecastSkill {
        let scale = self.change_sq * self.forecast_change_sq;
        ForecastSkill {
            explained: if scale > 0.0 {
                self.co_change * self.co_change.abs() / scale
            } else {
                0.0
            },
            minutes: self.compared,
        }
    }

    /// The share of the forecast the demand reached on average (at most 1), to scale the forecast by; `None`
    /// before [`BIAS_MINUTES`] have been compared.
    pub fn calibration(&self) -> Option<f64> {
        (self.minutes >= BIAS_MINUTES && self.forecast > 0.0).then(|| (self.demand / self.forecast).min(1.0))
    }
}

/// Minutes of demand kept in [`History::recent`]: the hour the headroom is sized on, and the start-up delay
/// before it for the rises over that delay.
pub const RECENT_MINUTES: usize = 120;

/// One action taken, kept for inspection and for the reversal rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionRecord {
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    pub action: Action,
    /// Which rule decided it.
    pub rule: Rule,
}

/// State kept between runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct History {
    /// The last [`MAX_ACTIONS`] actions, oldest first.
    #[serde(default)]
    pub actions: VecDeque<ActionRecord>,
    /// Time of the last scale-out (count increase).
    #[serde(default)]
    pub last_scale_out: Option<DateTime<Utc>>,
    /// Time of the last scale-in (count decrease).
    #[serde(default)]
    pub last_scale_in: Option<DateTime<Utc>>,
    /// Time of the last instance-type change.
    #[serde(default)]
    pub last_type_change: Option<DateTime<Utc>>,
    /// Scale-in stays off until then after a panic.
    #[serde(default)]
    pub panic_until: Option<DateTime<Utc>>,
    /// Runs in a row whose metrics failed or were stale.
    #[serde(default)]
    pub consecutive_metric_failures: u32,
    /// Seasonal demand profile for the forecast.
    #[serde(default)]
    pub seasonal: SeasonalProfile,
    /// How far the forecast overshot the demand, to scale it down by.
    #[serde(default)]
    pub forecast_bias: ForecastBias,
    /// The newest [`RECENT_MINUTES`] minutes' demand, oldest first (minutes whose fetch failed, and minutes
    /// without any datapoint, are absent).
    #[serde(default)]
    pub recent: VecDeque<f64>,
    /// For the same minutes, the change the forecast foresaw, when each came, over the reaction time after it
    /// (`None` while the profile had no slot for it): what the skill of [`ForecastBias`] is judged on once the
    /// demand a reaction time later is known. Pushed and dropped with [`History::recent`].
    #[serde(default)]
    pub foreseen: VecDeque<Option<f64>>,
}

impl History {
    /// Folds one run into the history. The adapter calls it after carrying the decision out (or, if the
    /// action failed, with a [`Decision::hold_copy`] of it, so that no action time is recorded).
    pub fn record(&mut self, observed: &Observed, policy: &Policy, decision: &Decision) {
        let now = decision.at;
        if decision.rule == Rule::NotInService {
            // The metrics were not judged while the endpoint was updating: the failure count neither grows nor
            // resets, so a long update followed by one stale fetch does not jump to the fallback capacity.
        } else if decision.metrics_ok {
            self.consecutive_metric_failures = 0;
            // The forecast learns request demand; an asynchronous backlog is not seasonal demand.
            if policy.asynchronous.is_none()
                && let MetricsFetch::Fetched { minutes } = &observed.metrics
            {
                for m in minutes {
                    if !m.has_any() {
                        // Not published yet, or a gap in CloudWatch's metrics: unknown, not zero demand. A minute
                        // not published yet is recorded by a later run once it is.
                        continue;
                    }
                    let demand = m.invocations.unwrap_or(0.0);
                    if self.seasonal.last_minute.is_some_and(|l| m.minute <= l) || !demand.is_finite() {
                        // Already recorded by an earlier, overlapping fetch.
                        continue;
                    }
                    // The slot's forecast before this minute is folded into it: what a decision could have read.
                    let forecast = self.seasonal.forecast(m.minute, 0);
                    let reaction = policy.startup_minutes as usize + 1;
                    // The demand's change since a reaction time ago against the change the forecast foresaw
                    // then, with the profile of then: read now, the slot just closed would already hold today.
                    // Unscaled: a correlation does not change with the factor and the calibration.
                    let back = |len: usize| len.checked_sub(reaction);
                    if let (Some(&before), Some(&Some(foreseen))) = (
                        back(self.recent.len()).and_then(|i| self.recent.get(i)),
                        back(self.foreseen.len()).and_then(|i| self.foreseen.get(i)),
                    ) {
                        self.forecast_bias.fold_skill(demand - before, foreseen);
                    }
                    if let Some(f) = forecast {
                        self.forecast_bias.fold(demand, f);
                    }
                    let ahead = self.seasonal.forecast(m.minute + Duration::minutes(reaction as i64), 0);
                    self.recent.push_back(demand);
                    self.foreseen.push_back(forecast.zip(ahead).map(|(f, a)| a - f));
                    while self.recent.len() > RECENT_MINUTES {
                        self.recent.pop_front();
                    }
                    while self.foreseen.len() > RECENT_MINUTES {
                        self.foreseen.pop_front();
                    }
                    self.seasonal.record(m.minute, demand);
                }
            }
        } else {
            self.consecutive_metric_failures = self.consecutive_metric_failures.saturating_add(1);
        }
        if decision.panic {
            self.panic_until = Some(now + Duration::minutes(i64::from(policy.stable_window_minutes)));
        }
        match &decision.action {
            Action::Hold => return,
            Action::SetCount { from, to } => {
                if to > from {
                    self.last_scale_out = Some(now);
                } else {
                    self.last_scale_in = Some(now);
                }
            }
            Action::ChangeType { .. } => self.last_type_change = Some(now),
        }
        self.actions.push_back(ActionRecord {
            at: now,
            action: decision.action.clone(),
            rule: decision.rule,
        });
        while self.actions.len() > MAX_ACTIONS {
            self.actions.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        // A Monday, 00:00 UTC.
        Utc.with_ymd_and_hms(2024, 1, 15, 0, 0, 0).unwrap()
    }

    #[test]
    fn forecast_recalls_yesterdays_morning_peak() {
        let mut p = SeasonalProfile::default();
        // One day: 10 per minute, 600 per minute from 08:00 to 09:00.
        for m in 0..(24 * 60 + 15) {
            let t = t0() + Duration::minutes(m);
            let h = (m / 60) % 24;
            p.record(t, if h == 8 { 600.0 } else { 10.0 });
        }
        let next_day = t0() + Duration::days(1);
        // At 07:50 the next day, looking 15 minutes ahead, the 08:00 slot is in view.
        assert_eq!(p.forecast(next_day + Duration::minutes(7 * 60 + 50), 15), Some(600.0));
        // At 03:00 only the quiet slots are in view.
        assert_eq!(p.forecast(next_day + Duration::hours(3), 15), Some(10.0));
        // The weekly slot was filled for Monday only: on Tuesday the daily slot answers, as above; a slot never
        // seen answers nothing.
        assert_eq!(SeasonalProfile::default().forecast(next_day, 60), None);
    }

    #[test]
    fn weekly_slot_wins_over_daily_once_seen() {
        let mut p = SeasonalProfile::default();
        let slot_start = t0() + Duration::hours(8);
        for m in 0..16 {
            p.record(slot_start + Duration::minutes(m), 100.0);
        }
        // Same time next day, a different weekly slot: the daily one answers.
        p.last_minute = None;
        p.open = None;
        for m in 0..16 {
            p.record(slot_start + Duration::days(1) + Duration::minutes(m), 300.0);
        }
        // Daily slot: EWMA of 100 then 300 = 200 (alpha 0.5); weekly slot (Monday) saw only 100.
        assert_eq!(p.forecast(slot_start + Duration::days(7), 1), Some(100.0));
        assert_eq!(p.forecast(slot_start + Duration::days(2), 1), Some(200.0));
    }

    #[test]
    fn repeated_minutes_are_not_double_counted() {
        let mut p = SeasonalProfile::default();
        p.record(t0(), 50.0);
        p.record(t0(), 5000.0);
        p.record(t0() + Duration::minutes(BUCKET_MINUTES), 1.0);
        assert_eq!(p.forecast(t0() + Duration::days(7), 1), Some(50.0));
    }

    #[test]
    fn history_is_bounded_and_round_trips() {
        let mut h = History::default();
        for i in 0..(MAX_ACTIONS + 10) {
            h.actions.push_back(ActionRecord {
                at: t0() + Duration::minutes(i as i64),
                action: Action::SetCount { from: 1, to: 2 },
                rule: Rule::Demand,
            });
        }
        while h.actions.len() > MAX_ACTIONS {
            h.actions.pop_front();
        }
        let json = serde_json::to_string(&h).unwrap();
        // A week of slots plus the actions stays far below DynamoDB's 400 KB item limit.
        assert!(json.len() < 100_000, "{}", json.len());
        let back: History = serde_json::from_str(&json).unwrap();
        assert_eq!(back, h);
    }
}
