//! What CloudWatch accepts in `PutMetricData`, decided before anything is sent.
//!
//! CloudWatch refuses a whole request when any datum breaks a rule, so one out-of-range timestamp or over-long name
//! would fail every datum of a window, and a scheduled run that retries the same window forever would never
//! evaluate another. Names are capped when a datum is made ([`crate::metrics::cap_metric_name`]); here, data
//! stamped outside the accepted time range are withheld (and the reason recorded) instead of sent.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::metrics::MetricDatum;
#[cfg(test)]
use crate::metrics::{MAX_METRIC_NAME_CHARS, cap_metric_name};

/// "You can specify time stamps that are as much as two weeks before the current date" (CloudWatch API
/// reference, `PutMetricData`).
pub const MAX_DATUM_AGE_DAYS: i64 = 14;
/// "... and as much as 2 hours after the current day and time" (CloudWatch API reference, `PutMetricData`).
pub const MAX_DATUM_AHEAD_HOURS: i64 = 2;
/// Data this close to either edge are withheld too: the request is sent minutes after `now` was read, and a
/// datum that crosses the edge meanwhile would fail the whole request.
pub const EDGE_MARGIN_MINUTES: i64 = 60;

/// Data left out of a publication because CloudWatch would refuse them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withheld {
    /// Data stamped more than [`MAX_DATUM_AGE_DAYS`] (less the margin) before the run.
    pub too_old: usize,
    /// Data stamped more than [`MAX_DATUM_AHEAD_HOURS`] (less the margin) after the run.
    pub too_far_ahead: usize,
    /// Why, in words, for the window's marker and the run's log.
    pub reason: String,
}

/// The data CloudWatch accepts at `now`, and what was withheld (`None` when nothing was).
pub fn publishable_at(data: Vec<MetricDatum>, now: DateTime<Utc>) -> (Vec<MetricDatum>, Option<Withheld>) {
    let margin = Duration::minutes(EDGE_MARGIN_MINUTES);
    let oldest = now - Duration::days(MAX_DATUM_AGE_DAYS) + margin;
    let latest = now + Duration::hours(MAX_DATUM_AHEAD_HOURS) - margin;
    let (mut too_old, mut too_far_ahead) = (0, 0);
    let kept: Vec<MetricDatum> = data
        .into_iter()
        .filter(|d| {
            if d.timestamp < oldest {
                too_old += 1;
                false
            } else if d.timestamp > latest {
                too_far_ahead += 1;
                false
            } else {
                true
            }
        })
        .collect();
    if too_old + too_far_ahead == 0 {
        return (kept, None);
    }
    let mut reasons = Vec::new();
    if too_old > 0 {
        reasons.push(format!(
            "{too_old} data stamped before {oldest}: CloudWatch accepts data at most {MAX_DATUM_AGE_DAYS} days old"
        ));
    }
    if too_far_ahead > 0 {
        reasons.push(format!(
            "{too_far_ahead} data stamped after {latest}: CloudWatch accepts data at most {MAX_DATUM_AHEAD_HOURS} \
             hours ahead"
        ));
    }
    let withheld = Withheld {
        too_old,
        too_far_ahead,
        reason: format!("not published: {}", reasons.join("; ")),
    };
    (kept, Some(withheld))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::metrics::{MetricScope, Unit};

    fn at(t: DateTime<Utc>) -> MetricDatum {
        MetricScope {
            endpoint: "ep".into(),
            schedule: "s".into(),
            timestamp: t,
        }
        .datum("ns", "m", 1.0, Unit::None)
    }

    #[test]
    fn data_outside_cloudwatch_s_time_range_are_withheld_with_the_reason() {
        let now = Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap();
        let data = vec![
            at(now - Duration::days(20)),
            at(now - Duration::days(14)),
            at(now - Duration::days(13)),
            at(now),
            at(now + Duration::minutes(30)),
            at(now + Duration::hours(3)),
        ];
        let (kept, withheld) = publishable_at(data, now);
        assert_eq!(kept.len(), 3);
        let w = withheld.unwrap();
        assert_eq!((w.too_old, w.too_far_ahead), (2, 1));
        assert!(
            w.reason.contains("at most 14 days old") && w.reason.contains("2 hours ahead"),
            "{}",
            w.reason
        );
        let (kept, withheld) = publishable_at(vec![at(now - Duration::hours(1))], now);
        assert_eq!((kept.len(), withheld), (1, None));
    }

    #[test]
    fn long_names_are_capped_and_stay_distinct() {
        assert_eq!(cap_metric_name("feature_data_x".into()), "feature_data_x");
        let exact = "n".repeat(MAX_METRIC_NAME_CHARS);
        assert_eq!(cap_metric_name(exact.clone()), exact);
        let a = cap_metric_name(format!("feature_data_{}a", "é".repeat(300)));
        let b = cap_metric_name(format!("feature_data_{}b", "é".repeat(300)));
        assert_eq!(a.chars().count(), MAX_METRIC_NAME_CHARS);
        assert_eq!(b.chars().count(), MAX_METRIC_NAME_CHARS);
        assert_ne!(a, b);
        assert!(a.starts_with("feature_data_é"));
    }
}
