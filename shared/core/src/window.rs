//! Time windows and S3's hourly capture layout.
//!
//! SageMaker Data Capture writes `{prefix}/{endpoint}/{variant}/yyyy/mm/dd/hh/{name}.jsonl`, the hour being when
//! the record was captured (UTC). A window selects the hour folders it overlaps, as Model Monitor does; records
//! in them are not filtered one by one. A file outside that layout (a single capture file given to the CLI) has no
//! folder to select it: its records are filtered by their own `inferenceTime` ([`Window::contains`]).

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use serde::{Deserialize, Serialize};

/// A half-open time range `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// A time could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a time: use RFC 3339 (2024-05-01T13:00:00Z), 2024-05-01T13 or 2024-05-01")]
pub struct TimeError(pub String);

impl Window {
    /// The window `[start, end)`; `None` when `end <= start`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Option<Self> {
        (end > start).then_some(Self { start, end })
    }

    /// The last whole hour before `now`: what an hourly schedule evaluates.
    pub fn last_closed_hour(now: DateTime<Utc>) -> Self {
        let end = truncate_to_hour(now);
        Self {
            start: end - chrono::Duration::hours(1),
            end,
        }
    }

    /// The starts of the hours the window overlaps.
    pub fn hours(&self) -> Vec<DateTime<Utc>> {
        let mut hours = Vec::new();
        let mut h = truncate_to_hour(self.start);
        while h < self.end {
            hours.push(h);
            h += chrono::Duration::hours(1);
        }
        hours
    }

    /// The whole hours that overlap the window, each as a one-hour window, oldest first: how a backfill of an
    /// arbitrary window is evaluated (each hour is committed on its own, as the schedule commits it).
    pub fn hourly(&self) -> Vec<Window> {
        self.hours()
            .into_iter()
            .map(|start| Window {
                start,
                end: start + chrono::Duration::hours(1),
            })
            .collect()
    }

    /// Whether `t` falls inside the window (`start <= t < end`).
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }

    /// Whether the hour starting at `hour` overlaps the window.
    pub fn overlaps_hour(&self, hour: DateTime<Utc>) -> bool {
        hour < self.end && hour + chrono::Duration::hours(1) > self.start
    }
}

/// `t` rounded down to the hour.
pub fn truncate_to_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(t.year(), t.month(), t.day(), t.hour(), 0, 0)
        .single()
        .unwrap_or(t)
}

/// The key prefix of one hour's captures: `{prefix}/{endpoint}/{variant}/yyyy/mm/dd/hh/` (an empty prefix adds no
/// leading slash).
pub fn hour_prefix(prefix: &str, endpoint: &str, variant: &str, hour: DateTime<Utc>) -> String {
    let prefix = prefix.trim_matches('/');
    let lead = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}/")
    };
    format!("{lead}{endpoint}/{variant}/{}/", hour.format("%Y/%m/%d/%H"))
}

/// The hour a capture key or path belongs to: the four numeric segments `yyyy/mm/dd/hh` before the file name.
pub fn hour_of_key(key: &str) -> Option<DateTime<Utc>> {
    let mut parts = key.rsplit(['/', '\\']).skip(1);
    let hh: u32 = parts.next()?.parse().ok()?;
    let dd: u32 = parts.next()?.parse().ok()?;
    let mm: u32 = parts.next()?.parse().ok()?;
    let yyyy: i32 = parts.next()?.parse().ok()?;
    Utc.with_ymd_and_hms(yyyy, mm, dd, hh, 0, 0).single()
}

/// The `{endpoint}/{variant}` folders a capture key or path belongs to: the two segments before its
/// `yyyy/mm/dd/hh` folders; `None` outside the hourly layout.
pub fn target_of_key(key: &str) -> Option<(&str, &str)> {
    hour_of_key(key)?;
    let mut parts = key.rsplit(['/', '\\']).skip(5);
    let variant = parts.next().filter(|p| !p.is_empty())?;
    let endpoint = parts.next().filter(|p| !p.is_empty())?;
    Some((endpoint, variant))
}

/// The distinct `{endpoint}/{variant}` folders of capture keys ([`target_of_key`]; keys outside the layout are
/// not counted): more than one means the keys belong to several endpoints or variants, which are never evaluated
/// as one window.
pub fn targets_of_keys<'a>(keys: impl IntoIterator<Item = &'a str>) -> std::collections::BTreeSet<(&'a str, &'a str)> {
    keys.into_iter().filter_map(target_of_key).collect()
}

/// Parses a time given on a command line or in an event: RFC 3339, `YYYY-MM-DDTHH[:MM[:SS]]` (UTC) or a date.
///
/// # Errors
///
/// [`TimeError`] naming the text.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, TimeError> {
    let t = text.trim();
    if let Ok(x) = DateTime::parse_from_rfc3339(t) {
        return Ok(x.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(x) = NaiveDateTime::parse_from_str(t, format) {
            return Ok(x.and_utc());
        }
    }
    if let Some((date, hour)) = t.split_once('T')
        && let (Ok(d), Ok(h)) = (NaiveDate::parse_from_str(date, "%Y-%m-%d"), hour.parse::<u32>())
        && let Some(x) = d.and_hms_opt(h, 0, 0)
    {
        return Ok(x.and_utc());
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)
            .map(|x| x.and_utc())
            .ok_or_else(|| TimeError(t.to_owned()));
    }
    Err(TimeError(t.to_owned()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_window_splits_into_the_whole_hours_it_overlaps() {
        let t = |h: u32, m: u32| Utc.with_ymd_and_hms(2024, 5, 1, h, m, 0).unwrap();
        let w = Window::new(t(10, 30), t(12, 15)).unwrap();
        let hours = w.hourly();
        assert_eq!(hours.len(), 3);
        assert_eq!((hours[0].start, hours[0].end), (t(10, 0), t(11, 0)));
        assert_eq!((hours[2].start, hours[2].end), (t(12, 0), t(13, 0)));
        assert!(Window::new(t(10, 0), t(11, 0)).unwrap().hourly().len() == 1);
    }

    use super::*;

    #[test]
    fn layout_round_trips() {
        let hour = parse_time("2024-05-01T13").unwrap();
        let p = hour_prefix("datacapture/", "ep", "AllTraffic", hour);
        assert_eq!(p, "datacapture/ep/AllTraffic/2024/05/01/13/");
        assert_eq!(hour_of_key(&format!("{p}13-05-22-123-abcd.jsonl")), Some(hour));
        assert_eq!(hour_of_key("no/hour/here.jsonl"), None);
        assert_eq!(hour_prefix("", "ep", "v", hour), "ep/v/2024/05/01/13/");
    }

    #[test]
    fn window_hours_and_overlap() {
        let w = Window::new(
            parse_time("2024-05-01T13:30:00Z").unwrap(),
            parse_time("2024-05-01T15:00").unwrap(),
        )
        .unwrap();
        assert_eq!(w.hours().len(), 2);
        assert!(w.overlaps_hour(parse_time("2024-05-01T13").unwrap()));
        assert!(!w.overlaps_hour(parse_time("2024-05-01T15").unwrap()));
        let last = Window::last_closed_hour(parse_time("2024-05-01T15:10:00Z").unwrap());
        assert_eq!(last.start, parse_time("2024-05-01T14").unwrap());
        assert!(Window::new(w.end, w.start).is_none());
        assert!(w.contains(w.start) && !w.contains(w.end));
        assert!(parse_time("yesterday").is_err());
        assert_eq!(
            parse_time("2024-05-01").unwrap(),
            parse_time("2024-05-01T00:00:00+00:00").unwrap()
        );
    }

    #[test]
    fn the_target_of_a_key_is_the_two_folders_before_the_hour() {
        assert_eq!(
            target_of_key("captures/ep-1/AllTraffic/2024/05/01/13/a.jsonl"),
            Some(("ep-1", "AllTraffic"))
        );
        assert_eq!(target_of_key("ep/v/2024/05/01/13/a.jsonl.gz"), Some(("ep", "v")));
        assert_eq!(target_of_key("v/2024/05/01/13/a.jsonl"), None, "no endpoint folder");
        assert_eq!(target_of_key("ep/v/a.jsonl"), None, "outside the layout");
        let targets = targets_of_keys([
            "r/a/v1/2024/05/01/13/x.jsonl",
            "r/a/v1/2024/05/01/14/y.jsonl",
            "r/b/v1/2024/05/01/13/x.jsonl",
            "r/notes.jsonl",
        ]);
        assert_eq!(targets.into_iter().collect::<Vec<_>>(), [("a", "v1"), ("b", "v1")]);
    }
}
