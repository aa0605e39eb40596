//! The skip report for ground-truth input: bad lines are counted by reason, with the first few locations (source
//! name and line number). Values are never kept, because labels can be sensitive.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Locations kept per reason: enough to find the pattern in a file, small enough for a report.
pub const MAX_SKIP_LOCATIONS: usize = 5;

/// Why a ground-truth line was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The line is not valid UTF-8 JSON, or not a JSON object.
    NotJson,
    /// `groundTruthData.data`, `groundTruthData.encoding` or both ids of `eventMetadata` are missing.
    MissingField,
    /// The encoding is neither `CSV` nor `JSON`.
    UnsupportedEncoding,
    /// The label is empty, not a scalar, or (for regression) not a finite number.
    UnparsableLabel,
}

impl SkipReason {
    /// The reason's name as written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::NotJson => "not_json",
            SkipReason::MissingField => "missing_field",
            SkipReason::UnsupportedEncoding => "unsupported_encoding",
            SkipReason::UnparsableLabel => "unparsable_label",
        }
    }
}

/// Where a skipped line was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkipLocation {
    pub source: String,
    /// 1-based line number.
    pub line: u64,
}

/// Skipped lines by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkipCounts {
    pub counts: BTreeMap<SkipReason, u64>,
    /// The first [`MAX_SKIP_LOCATIONS`] locations of each reason.
    pub first: BTreeMap<SkipReason, Vec<SkipLocation>>,
}

impl SkipCounts {
    /// Counts one skipped line.
    pub fn record(&mut self, reason: SkipReason, source: &str, line: u64) {
        *self.counts.entry(reason).or_default() += 1;
        let first = self.first.entry(reason).or_default();
        if first.len() < MAX_SKIP_LOCATIONS {
            first.push(SkipLocation {
                source: source.to_owned(),
                line,
            });
        }
    }

    /// Skips of one reason.
    pub fn count(&self, reason: SkipReason) -> u64 {
        self.counts.get(&reason).copied().unwrap_or(0)
    }

    /// Skips of all reasons.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Adds another report (from another file) to this one, keeping the location limit.
    pub fn merge(&mut self, other: &SkipCounts) {
        for (reason, n) in &other.counts {
            *self.counts.entry(*reason).or_default() += n;
        }
        for (reason, locations) in &other.first {
            let first = self.first.entry(*reason).or_default();
            let room = MAX_SKIP_LOCATIONS.saturating_sub(first.len());
            first.extend(locations.iter().take(room).cloned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_all_and_keeps_the_first_locations() {
        let mut s = SkipCounts::default();
        for line in 1..=8 {
            s.record(SkipReason::NotJson, "a.jsonl", line);
        }
        s.record(SkipReason::UnparsableLabel, "a.jsonl", 9);
        assert_eq!(s.count(SkipReason::NotJson), 8);
        assert_eq!(s.total(), 9);
        assert_eq!(s.first[&SkipReason::NotJson].len(), MAX_SKIP_LOCATIONS);
        assert_eq!(s.first[&SkipReason::NotJson][0].line, 1);

        let mut t = SkipCounts::default();
        t.record(SkipReason::UnparsableLabel, "b.jsonl", 3);
        t.merge(&s);
        assert_eq!(t.count(SkipReason::UnparsableLabel), 2);
        assert_eq!(t.first[&SkipReason::UnparsableLabel][0].source, "b.jsonl");
        assert_eq!(t.first[&SkipReason::NotJson].len(), MAX_SKIP_LOCATIONS);
    }
}
