//! The subset of 5-field cron that scheduled minimums need, and fixed UTC offsets.
//!
//! # Format
//!
//! `minute hour day-of-month month day-of-week`, each field one of `*`, `N`, `A-B`, `*/S`, `A-B/S`, `N/S`, or a
//! comma-separated list of those. Months accept `JAN`..`DEC`, days of the week `SUN`..`SAT` (case-insensitive);
//! day of week `0` and `7` are both Sunday. As in Vixie cron, when both day-of-month and day-of-week are
//! restricted (neither starts with `*`), a day matches if either matches. Not supported: `L`, `W`, `#`, `?`,
//! `@daily`-style macros and seconds or year fields; they are rejected rather than misread.
//!
//! Time zones: chrono has no time-zone database in this workspace, so a schedule carries a fixed UTC offset
//! (`"+02:00"`, `"-05:00"`, `"Z"`). A schedule written for a zone with daylight saving time is one hour off
//! for part of the year; write two schedules (one per offset) or widen the window when that matters.

use chrono::{DateTime, Datelike, FixedOffset, Timelike, Utc};
use serde::{Deserialize, Serialize};

/// Why a cron expression or a UTC offset was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    /// The expression does not have exactly five whitespace-separated fields.
    #[error("cron expression {expr:?} has {found} fields, expected 5 (minute hour day-of-month month day-of-week)")]
    FieldCount {
        /// The expression as written.
        expr: String,
        /// How many fields it has.
        found: usize,
    },
    /// One field could not be read.
    #[error("cron expression {expr:?}, {field} field {text:?}: {why}")]
    Field {
        /// The expression as written.
        expr: String,
        /// The field's name (`minute`, `hour`, ...).
        field: &'static str,
        /// The offending text.
        text: String,
        /// What is wrong with it.
        why: String,
    },
    /// The UTC offset is not `Z` or `+HH:MM` / `-HH:MM`.
    #[error("UTC offset {0:?} is not of the form +HH:MM, -HH:MM or Z (time-zone names are not supported)")]
    Offset(String),
}

/// One cron field: a set of allowed values as a bit mask (every field's values fit in 0..64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FieldSet {
    bits: u64,
    /// The field was written as `*` or `*/S`, which matters for the day-of-month / day-of-week rule.
    star: bool,
}

impl FieldSet {
    fn contains(self, v: u32) -> bool {
        v < 64 && self.bits & (1 << v) != 0
    }
}

struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: FieldSpec = FieldSpec {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: FieldSpec = FieldSpec {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY_OF_MONTH: FieldSpec = FieldSpec {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: FieldSpec = FieldSpec {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
};
// 7 is accepted as Sunday (as in Vixie cron) and folded onto 0 after parsing.
const DAY_OF_WEEK: FieldSpec = FieldSpec {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
};

fn parse_value(text: &str, spec: &FieldSpec) -> Result<u32, String> {
    if let Some(i) = spec.names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        // Month names start at 1 (the field's minimum), day names at 0 (likewise).
        return Ok(i as u32 + spec.min);
    }
    let v: u32 = text.parse().map_err(|_| format!("{text:?} is not a number"))?;
    if v < spec.min || v > spec.max {
        return Err(format!("{v} is outside {}..={}", spec.min, spec.max));
    }
    Ok(v)
}

fn parse_field(text: &str, spec: &FieldSpec) -> Result<FieldSet, String> {
    let mut bits = 0u64;
    let mut star = false;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let s: u32 = s.parse().map_err(|_| format!("step {s:?} is not a number"))?;
                if s == 0 {
                    return Err("step 0".to_owned());
                }
                (r, Some(s))
            }
            None => (part, None),
        };
        let (lo, hi) = if range == "*" {
            star = true;
            (spec.min, spec.max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (parse_value(a, spec)?, parse_value(b, spec)?);
            if a > b {
                return Err(format!("range {a}-{b} is reversed"));
            }
            (a, b)
        } else {
            let a = parse_value(range, spec)?;
            // `N/S` means from N to the end, stepping S.
            (a, if step.is_some() { spec.max } else { a })
        };
        let step = step.unwrap_or(1);
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
    }
    if spec.name == DAY_OF_WEEK.name && bits & (1 << 7) != 0 {
        bits = (bits & !(1 << 7)) | 1;
    }
    // A list that contains `*` is still restricted only if some other part is; treat any `*` as unrestricted.
    Ok(FieldSet { bits, star })
}

/// A parsed 5-field cron expression (see the module documentation for the subset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CronExpr {
    text: String,
    minute: FieldSet,
    hour: FieldSet,
    day_of_month: FieldSet,
    month: FieldSet,
    day_of_week: FieldSet,
}

impl CronExpr {
    /// Parses an expression.
    ///
    /// # Errors
    ///
    /// [`CronError`] naming the field when the expression is outside the supported subset.
    pub fn parse(expr: &str) -> Result<Self, CronError> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(CronError::FieldCount {
                expr: expr.to_owned(),
                found: fields.len(),
            });
        }
        let specs = [&MINUTE, &HOUR, &DAY_OF_MONTH, &MONTH, &DAY_OF_WEEK];
        let mut sets = [FieldSet { bits: 0, star: false }; 5];
        for (i, (text, spec)) in fields.iter().zip(specs).enumerate() {
            sets[i] = parse_field(text, spec).map_err(|why| CronError::Field {
                expr: expr.to_owned(),
                field: spec.name,
                text: (*text).to_owned(),
                why,
            })?;
        }
        Ok(Self {
            text: expr.to_owned(),
            minute: sets[0],
            hour: sets[1],
            day_of_month: sets[2],
            month: sets[3],
            day_of_week: sets[4],
        })
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the minute containing `t` (read in the offset's local time) matches.
    pub fn matches(&self, t: DateTime<Utc>, offset: UtcOffset) -> bool {
        let local = t.with_timezone(&offset.0);
        let dom = self.day_of_month.contains(local.day());
        let dow = self.day_of_week.contains(local.weekday().num_days_from_sunday());
        // Vixie cron: if both day fields are restricted, either may match; otherwise both must.
        let day = if !self.day_of_month.star && !self.day_of_week.star {
            dom || dow
        } else {
            dom && dow
        };
        day && self.minute.contains(local.minute())
            && self.hour.contains(local.hour())
            && self.month.contains(local.month())
    }
}

impl TryFrom<String> for CronExpr {
    type Error = CronError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<CronExpr> for String {
    fn from(c: CronExpr) -> Self {
        c.text
    }
}

/// A fixed offset from UTC, written `+HH:MM`, `-HH:MM` or `Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UtcOffset(pub FixedOffset);

impl UtcOffset {
    /// UTC itself.
    pub fn utc() -> Self {
        Self(FixedOffset::east_opt(0).expect("0 is a valid offset"))
    }

    /// Parses `+HH:MM`, `-HH:MM` or `Z`.
    ///
    /// # Errors
    ///
    /// [`CronError::Offset`] for anything else, including zone names such as `Europe/Paris`.
    pub fn parse(s: &str) -> Result<Self, CronError> {
        let bad = || CronError::Offset(s.to_owned());
        if s == "Z" || s == "z" {
            return Ok(Self::utc());
        }
        let sign = match s.as_bytes().first() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return Err(bad()),
        };
        let (h, m) = s[1..].split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(bad());
        }
        let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 14 || m > 59 {
            return Err(bad());
        }
        FixedOffset::east_opt(sign * (h * 3600 + m * 60))
            .map(Self)
            .ok_or_else(bad)
    }
}

impl Default for UtcOffset {
    fn default() -> Self {
        Self::utc()
    }
}

impl TryFrom<String> for UtcOffset {
    type Error = CronError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<UtcOffset> for String {
    fn from(o: UtcOffset) -> Self {
        let secs = o.0.local_minus_utc();
        let sign = if secs < 0 { '-' } else { '+' };
        let secs = secs.abs();
        format!("{sign}{:02}:{:02}", secs / 3600, (secs % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn business_hours_on_weekdays() {
        let c = CronExpr::parse("* 8-17 * * MON-FRI").unwrap();
        let utc = UtcOffset::utc();
        // 2024-01-15 is a Monday.
        assert!(c.matches(at(2024, 1, 15, 8, 0), utc));
        assert!(c.matches(at(2024, 1, 15, 17, 59), utc));
        assert!(!c.matches(at(2024, 1, 15, 18, 0), utc));
        assert!(!c.matches(at(2024, 1, 15, 7, 59), utc));
        // Saturday and Sunday.
        assert!(!c.matches(at(2024, 1, 20, 9, 0), utc));
        assert!(!c.matches(at(2024, 1, 21, 9, 0), utc));
    }

    #[test]
    fn offset_shifts_the_local_hour() {
        let c = CronExpr::parse("* 8 * * *").unwrap();
        let paris = UtcOffset::parse("+02:00").unwrap();
        // 06:30 UTC is 08:30 at +02:00.
        assert!(c.matches(at(2024, 6, 3, 6, 30), paris));
        assert!(!c.matches(at(2024, 6, 3, 8, 30), paris));
        let ny = UtcOffset::parse("-05:00").unwrap();
        assert!(c.matches(at(2024, 6, 3, 13, 0), ny));
        // The local day changes too: 23:30 UTC Sunday is 01:30 Monday at +02:00.
        let mon = CronExpr::parse("* * * * 1").unwrap();
        assert!(mon.matches(at(2024, 6, 2, 23, 30), paris));
        assert!(!mon.matches(at(2024, 6, 2, 23, 30), UtcOffset::utc()));
    }

    #[test]
    fn steps_lists_and_sunday_as_seven() {
        let c = CronExpr::parse("*/15 0,12 * * 7").unwrap();
        let utc = UtcOffset::utc();
        // 2024-01-14 is a Sunday.
        assert!(c.matches(at(2024, 1, 14, 12, 45), utc));
        assert!(!c.matches(at(2024, 1, 14, 12, 44), utc));
        assert!(!c.matches(at(2024, 1, 14, 13, 0), utc));
        let r = CronExpr::parse("10-30/10 * * * *").unwrap();
        assert!(r.matches(at(2024, 1, 1, 0, 20), utc));
        assert!(!r.matches(at(2024, 1, 1, 0, 40), utc));
        let from = CronExpr::parse("50/5 * * * *").unwrap();
        assert!(from.matches(at(2024, 1, 1, 0, 55), utc));
        assert!(!from.matches(at(2024, 1, 1, 0, 5), utc));
        let months = CronExpr::parse("* * * jan,DEC *").unwrap();
        assert!(months.matches(at(2024, 12, 1, 0, 0), utc));
        assert!(!months.matches(at(2024, 11, 1, 0, 0), utc));
    }

    #[test]
    fn restricted_day_fields_are_ored() {
        // The 1st of the month or any Friday.
        let c = CronExpr::parse("0 0 1 * FRI").unwrap();
        let utc = UtcOffset::utc();
        assert!(c.matches(at(2024, 1, 1, 0, 0), utc)); // Monday the 1st
        assert!(c.matches(at(2024, 1, 5, 0, 0), utc)); // Friday the 5th
        assert!(!c.matches(at(2024, 1, 2, 0, 0), utc)); // Tuesday the 2nd
    }

    #[test]
    fn rejects_what_it_does_not_support() {
        assert!(matches!(
            CronExpr::parse("* * * *"),
            Err(CronError::FieldCount { found: 4, .. })
        ));
        assert!(matches!(
            CronExpr::parse("60 * * * *"),
            Err(CronError::Field { field: "minute", .. })
        ));
        assert!(matches!(
            CronExpr::parse("* * L * *"),
            Err(CronError::Field {
                field: "day-of-month",
                ..
            })
        ));
        assert!(matches!(CronExpr::parse("*/0 * * * *"), Err(CronError::Field { .. })));
        assert!(matches!(
            CronExpr::parse("* 5-3 * * *"),
            Err(CronError::Field { field: "hour", .. })
        ));
        assert!(CronExpr::parse("@daily").is_err());
        assert!(UtcOffset::parse("Europe/Paris").is_err());
        assert!(UtcOffset::parse("+2:00").is_err());
        assert!(UtcOffset::parse("+15:00").is_err());
    }

    #[test]
    fn round_trips_through_serde() {
        let c: CronExpr = serde_json::from_str("\"0 8 * * 1-5\"").unwrap();
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"0 8 * * 1-5\"");
        let o: UtcOffset = serde_json::from_str("\"-03:30\"").unwrap();
        assert_eq!(o.0.local_minus_utc(), -(3 * 3600 + 30 * 60));
        assert_eq!(serde_json::to_string(&o).unwrap(), "\"-03:30\"");
        assert!(serde_json::from_str::<CronExpr>("\"* *\"").is_err());
    }
}
