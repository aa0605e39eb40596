//! The join of captured predictions with ground-truth labels, in bounded memory.
//!
//! # Memory
//!
//! A day of captures at 1,000 requests per second is 86.4 M rows, too many to keep ids as strings (a UUID string
//! costs ~60 bytes with its allocation). Each capture is kept as 16 bytes ([`ENTRY_BYTES`]): a 64-bit key and one
//! `f64`. The key is a 62-bit hash of the id with two low bits that only binary classification uses, for the
//! predicted class (positive, another class, none); the `f64` is what the problem evaluates: the score for binary
//! classification (its ranking metrics use it whatever the decision), the prediction for regression, the predicted
//! class's index into a small table of class names for multiclass. A label is a key and its target or class index
//! (16 bytes), or for binary classification the key alone, its class in the low bits (8 bytes). A labelled record
//! thus takes 24 bytes (binary) or 32 (multiclass, regression): 86.4 M take 2.1 or 2.8 GB, and the join sorts both
//! vectors in place (no hash-table overhead) and merges them. The score is not narrowed: an `f32` turns an
//! epoch-scale regression target into steps of 128 (a true MAE of 0.5 read as 32) and moves a score of 0.79999999
//! onto a 0.8 threshold.
//!
//! # Collisions
//!
//! Ids are hashed with foldhash's quality hasher (a fixed seed: keys are never stored, so they need only be stable
//! within one run), of which the key keeps 62 bits. For `n` distinct ids the chance that any two share a key is about
//! `n² / 2⁶³`: with 86.4 M captures plus as many labels (n = 1.73e8) it is 3e-3 per day, and a collision merely
//! makes two ids count as one (a duplicate, or one wrong pair out of 86 M). A 128-bit key would cost 8 more bytes
//! a row (+50 %) to make that negligible; it is not worth it.
//!
//! # Duplicates
//!
//! A capture id seen more than once (a retried write) is counted in `duplicate_capture_ids` and one of its rows is
//! evaluated: the one with the smallest (class, value) as stored, so the result does not depend on reading order. Labels
//! likewise (`duplicate_labels`, and `conflicting_labels` when the copies disagree: for binary classification,
//! when one is the positive class and another is not).

use std::collections::HashMap;
use std::hash::BuildHasher;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ground_truth::{GroundTruth, LabelValue};
use super::metrics::{BinaryAccumulator, Decision, MulticlassAccumulator, ProblemSpec, RegressionAccumulator};
use super::normalize_class;
use super::report::ModelQualityStatistics;

/// Class names kept at most (the class index is stored in an `f64`; this bounds the table of names).
pub const MAX_CLASSES: usize = 4096;

/// The key's low bits that hold a binary prediction's class; the rest is the id's hash.
const CLASS_BITS: u64 = 0b11;
/// Binary classification's predicted class in the key's low bits: the positive class, another class, none given.
const POSITIVE: u64 = 0;
const OTHER_CLASS: u64 = 1;
const NO_CLASS: u64 = 2;

/// The id of one row of a capture: `id` itself for a single-row request, `"<id>:<row>"` for row `row` (0-based) of
/// a multi-instance request. Ground truth for such a row must carry this id.
pub fn row_id(id: &str, row: Option<usize>) -> String {
    match row {
        None => id.to_owned(),
        Some(r) => format!("{id}:{r}"),
    }
}

/// The join key of an id: its 64-bit hash with the class bits clear.
pub fn id_key(id: &str) -> u64 {
    foldhash::quality::FixedState::with_seed(ID_SEED).hash_one(id) & !CLASS_BITS
}

/// Any fixed seed: keys only meet keys of the same run.
const ID_SEED: u64 = 0x6d6f_6465_6c77_6174;

/// Why a capture or label could not be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    #[error("more than {MAX_CLASSES} distinct classes; is this a regression output evaluated as classification?")]
    TooManyClasses,
}

/// What the join saw. Laws: `captures = matched + captures_without_label + duplicate_capture_ids` and
/// `labels = matched + labels_without_capture + duplicate_labels`; `evaluated = matched - unusable_predictions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinReport {
    /// Capture rows added.
    pub captures: u64,
    /// Labels added.
    pub labels: u64,
    /// Distinct ids with both a capture and a label.
    pub matched: u64,
    /// Distinct capture ids without a label (not labelled yet, or never).
    pub captures_without_label: u64,
    /// Distinct label ids without a capture (an unknown id, or a capture outside the window).
    pub labels_without_capture: u64,
    /// Capture rows beyond the first for an id.
    pub duplicate_capture_ids: u64,
    /// Labels beyond the first for an id.
    pub duplicate_labels: u64,
    /// Of the duplicate labels, those whose value differs from the one evaluated.
    pub conflicting_labels: u64,
    /// Matched captures whose prediction cannot be evaluated (no score and no label for the decision in use).
    pub unusable_predictions: u64,
    /// Matched pairs that went into the metrics.
    pub evaluated: u64,
    /// Of the evaluated binary scores, those outside [0, 1] (logits or margins rather than probabilities): still
    /// ranked in order for `auc` and `au_prc`, but a `threshold` meant for probabilities may not fit them.
    #[serde(default)]
    pub scores_outside_unit_interval: u64,
    /// Inference times of the captures added, when given.
    pub first_inference: Option<DateTime<Utc>>,
    pub last_inference: Option<DateTime<Utc>>,
}

/// A capture or a label in the join (see the module docs).
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// [`id_key`], with a binary capture's predicted class in [`CLASS_BITS`].
    key: u64,
    /// A capture's score, regression prediction or (multiclass) class index; a label's target or class index. NaN
    /// when absent.
    value: f64,
}

impl Entry {
    fn id(&self) -> u64 {
        self.key & !CLASS_BITS
    }

    /// Sorts by key (id, then class bits), then by value, so that the first of an id's copies is the one evaluated.
    /// The keys alone are compared first, as integers; only copies of a key (a retried write) compare values.
    fn sort(entries: &mut [Entry]) {
        entries.sort_unstable_by_key(|e| e.key);
        for run in entries.chunk_by_mut(|a, b| a.key == b.key) {
            if run.len() > 1 {
                run.sort_unstable_by(|a, b| a.value.total_cmp(&b.value));
            }
        }
    }
}

/// The memory a capture takes in the join, and a label but for binary classification (8 bytes): at most 32 bytes a
/// labelled record, the budget a record of the window may take with model quality.
pub const ENTRY_BYTES: usize = std::mem::size_of::<Entry>();
const _: () = assert!(ENTRY_BYTES == 16);

/// The labels waiting for the join.
#[derive(Debug, Clone)]
enum Labels {
    /// Binary classification: the key alone, with the label's class ([`POSITIVE`] or [`OTHER_CLASS`]) in its low
    /// bits.
    Binary(Vec<u64>),
    /// A key and the target or class index.
    Valued(Vec<Entry>),
}

/// What the merge reads of a stored label.
trait Label {
    fn id(&self) -> u64;
    /// The target, or the class index (binary: 0 for the positive class, 1 for another).
    fn value(&self) -> f64;
}

impl Label for u64 {
    fn id(&self) -> u64 {
        self & !CLASS_BITS
    }

    fn value(&self) -> f64 {
        if self & CLASS_BITS == POSITIVE { 0.0 } else { 1.0 }
    }
}

impl Label for Entry {
    fn id(&self) -> u64 {
        Entry::id(self)
    }

    fn value(&self) -> f64 {
        self.value
    }
}

/// A join's captures and labels as stored ([`QualityJoin::to_part`]): the class table, and the entries as the
/// base64 of their little-endian bytes (16 a capture, 16 a label, 8 a binary label), exact NaNs included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinPart {
    pub class_names: Vec<String>,
    pub captures: String,
    pub labels: String,
    pub report: JoinReport,
}

/// The result of [`QualityJoin::evaluate`].
#[derive(Debug, Clone, PartialEq)]
pub struct QualityEvaluation {
    pub report: JoinReport,
    pub statistics: ModelQualityStatistics,
    /// Bound on the distance of the reported `auc` to the exact value (binary with scores; see
    /// [`crate::quality::metrics`]).
    pub auc_error_bound: f64,
}

/// Captures and labels waiting to be joined. Add both in any order, then [`QualityJoin::evaluate`].
#[derive(Debug, Clone)]
pub struct QualityJoin {
    spec: ProblemSpec,
    class_names: Vec<String>,
    class_index: HashMap<String, u16, foldhash::fast::RandomState>,
    captures: Vec<Entry>,
    labels: Labels,
    report: JoinReport,
    scratch: String,
}

impl QualityJoin {
    /// An empty join for `spec`.
    pub fn new(spec: ProblemSpec) -> Self {
        let mut join = QualityJoin {
            class_names: Vec::new(),
            class_index: HashMap::default(),
            captures: Vec::new(),
            labels: match &spec {
                ProblemSpec::Binary(_) => Labels::Binary(Vec::new()),
                ProblemSpec::Multiclass | ProblemSpec::Regression => Labels::Valued(Vec::new()),
            },
            spec,
            report: JoinReport::default(),
            scratch: String::new(),
        };
        if let ProblemSpec::Binary(o) = &join.spec {
            // The positive class gets index 0, so it always exists even if never seen.
            let positive = normalize_class(&o.positive_label).into_owned();
            join.class_names.push(positive.clone());
            join.class_index.insert(positive, 0);
        }
        join
    }

    fn class(&mut self, label: &str) -> Result<u16, JoinError> {
        let label = normalize_class(label);
        if let Some(&i) = self.class_index.get(label.as_ref()) {
            return Ok(i);
        }
        if self.class_names.len() >= MAX_CLASSES {
            return Err(JoinError::TooManyClasses);
        }
        let i = self.class_names.len() as u16;
        self.class_names.push(label.clone().into_owned());
        self.class_index.insert(label.into_owned(), i);
        Ok(i)
    }

    fn key(&mut self, id: &str, row: Option<usize>) -> u64 {
        match row {
            None => id_key(id),
            Some(r) => {
                use std::fmt::Write as _;
                self.scratch.clear();
                // Writing to a String cannot fail.
                let _ = write!(self.scratch, "{id}:{r}");
                id_key(&self.scratch)
            }
        }
    }

    /// Adds one captured inference: its join id (`inferenceId`, else `eventId`), its row within a multi-instance
    /// request (`None` for a single-row request; see [`row_id`]), the model's score (probability, or the predicted
    /// value for regression) and predicted label, each when the output has them, and its inference time.
    ///
    /// # Errors
    ///
    /// [`JoinError::TooManyClasses`] when the predicted label would be class number [`MAX_CLASSES`] + 1; the
    /// capture is then not added.
    pub fn add_capture(
        &mut self,
        id: &str,
        row: Option<usize>,
        score: Option<f64>,
        predicted_label: Option<&str>,
        inference_time: Option<DateTime<Utc>>,
    ) -> Result<(), JoinError> {
        let class = match predicted_label {
            Some(l) if !matches!(self.spec, ProblemSpec::Regression) => Some(self.class(l)?),
            _ => None,
        };
        let score = score.filter(|s| !s.is_nan()).unwrap_or(f64::NAN);
        let (class_bits, value) = match self.spec {
            ProblemSpec::Binary(_) => (
                class.map_or(NO_CLASS, |k| if k == 0 { POSITIVE } else { OTHER_CLASS }),
                score,
            ),
            ProblemSpec::Multiclass => (0, class.map_or(f64::NAN, f64::from)),
            ProblemSpec::Regression => (0, score),
        };
        let key = self.key(id, row) | class_bits;
        self.captures.push(Entry { key, value });
        self.report.captures += 1;
        if let Some(t) = inference_time {
            self.report.first_inference = Some(self.report.first_inference.map_or(t, |f| f.min(t)));
            self.report.last_inference = Some(self.report.last_inference.map_or(t, |l| l.max(t)));
        }
        Ok(())
    }

    /// Adds one ground-truth label. A class label for regression, or a number for classification, is taken as its
    /// text (a number) or counted as unusable when it cannot be.
    ///
    /// # Errors
    ///
    /// [`JoinError::TooManyClasses`] as for [`QualityJoin::add_capture`].
    pub fn add_label(&mut self, label: &GroundTruth) -> Result<(), JoinError> {
        let value = match (&self.spec, &label.label) {
            (ProblemSpec::Regression, LabelValue::Number(v)) => *v,
            (ProblemSpec::Regression, LabelValue::Class(c)) => c.parse().unwrap_or(f64::NAN),
            (_, LabelValue::Class(c)) => f64::from(self.class(c)?),
            (_, LabelValue::Number(v)) => f64::from(self.class(&v.to_string())?),
        };
        let key = id_key(&label.id);
        match &mut self.labels {
            Labels::Binary(keys) => keys.push(key | if value == 0.0 { POSITIVE } else { OTHER_CLASS }),
            Labels::Valued(entries) => entries.push(Entry { key, value }),
        }
        self.report.labels += 1;
        Ok(())
    }

    /// Adds everything another join of the same problem holds (a chunk's captures, another part's labels), as if
    /// they had been added here after this join's own: the other join's classes are numbered here in the order it
    /// first saw them, which is the order they would have had.
    ///
    /// # Errors
    ///
    /// [`JoinError::TooManyClasses`] when its classes take the table past [`MAX_CLASSES`]; for multiclass, its
    /// captures and labels of the classes left out are not added (the rest are).
    pub fn merge(&mut self, other: QualityJoin) -> Result<(), JoinError> {
        let mut error = Ok(());
        let index: Vec<Option<u16>> = other
            .class_names
            .iter()
            .map(|name| self.class(name).map_err(|e| error = Err(e)).ok())
            .collect();
        // Only multiclass stores class indices in the value; binary keeps classes in the key's bits, relative to
        // the positive class, which is index 0 in every join.
        let renumber = matches!(self.spec, ProblemSpec::Multiclass);
        let renumbered = |e: &Entry| -> Option<Entry> {
            if !renumber || e.value.is_nan() {
                return Some(*e);
            }
            let class = index.get(e.value as usize).copied().flatten()?;
            Some(Entry {
                key: e.key,
                value: f64::from(class),
            })
        };
        let before = self.captures.len();
        self.captures.extend(other.captures.iter().filter_map(renumbered));
        self.report.captures += (self.captures.len() - before) as u64;
        let added_labels = match (&mut self.labels, other.labels) {
            (Labels::Binary(mine), Labels::Binary(theirs)) => {
                mine.extend_from_slice(&theirs);
                theirs.len()
            }
            (Labels::Valued(mine), Labels::Valued(theirs)) => {
                let before = mine.len();
                mine.extend(theirs.iter().filter_map(renumbered));
                mine.len() - before
            }
            // Both joins are of one problem (the caller's): the label shapes match.
            _ => 0,
        };
        self.report.labels += added_labels as u64;
        let (mine, theirs) = (&mut self.report, &other.report);
        mine.first_inference = mine.first_inference.into_iter().chain(theirs.first_inference).min();
        mine.last_inference = mine.last_inference.into_iter().chain(theirs.last_inference).max();
        error
    }

    /// What the join holds, to store and merge elsewhere ([`QualityJoin::from_part`]).
    pub fn to_part(&self) -> JoinPart {
        let entries = |entries: &[Entry]| -> String {
            let bytes: Vec<u8> = entries
                .iter()
                .flat_map(|e| e.key.to_le_bytes().into_iter().chain(e.value.to_bits().to_le_bytes()))
                .collect();
            BASE64.encode(bytes)
        };
        JoinPart {
            class_names: self.class_names.clone(),
            captures: entries(&self.captures),
            labels: match &self.labels {
                Labels::Binary(keys) => BASE64.encode(keys.iter().flat_map(|k| k.to_le_bytes()).collect::<Vec<u8>>()),
                Labels::Valued(entries_) => entries(entries_),
            },
            report: self.report.clone(),
        }
    }

    /// A join for `spec` holding what [`QualityJoin::to_part`] stored (of a join of the same problem).
    ///
    /// # Errors
    ///
    /// A message when the part is not one of this problem's joins (its entries are not whole, a class index is out
    /// of its table).
    pub fn from_part(spec: ProblemSpec, part: &JoinPart) -> Result<QualityJoin, String> {
        let bytes = |text: &str, width: usize| -> Result<Vec<u8>, String> {
            let bytes = BASE64
                .decode(text)
                .map_err(|e| format!("join entries are not base64: {e}"))?;
            if bytes.len() % width != 0 {
                return Err(format!(
                    "join entries of {} bytes are not whole {width}-byte entries",
                    bytes.len()
                ));
            }
            Ok(bytes)
        };
        let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
        let entries = |text: &str| -> Result<Vec<Entry>, String> {
            Ok(bytes(text, 16)?
                .chunks_exact(16)
                .map(|e| Entry {
                    key: word(&e[..8]),
                    value: f64::from_bits(word(&e[8..])),
                })
                .collect())
        };
        let mut join = QualityJoin::new(spec);
        join.class_names = part.class_names.clone();
        join.class_index = part
            .class_names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u16))
            .collect();
        if join.class_names.len() > MAX_CLASSES || join.class_index.len() != join.class_names.len() {
            return Err("the join's class table is too long or names a class twice".into());
        }
        if let ProblemSpec::Binary(o) = &join.spec
            && join.class_names.first().map(String::as_str) != Some(normalize_class(&o.positive_label).as_ref())
        {
            return Err("the join's positive class is not this problem's".into());
        }
        join.captures = entries(&part.captures)?;
        join.labels = match join.labels {
            Labels::Binary(_) => Labels::Binary(bytes(&part.labels, 8)?.chunks_exact(8).map(word).collect()),
            Labels::Valued(_) => Labels::Valued(entries(&part.labels)?),
        };
        let classes = join.class_names.len() as f64;
        let out_of_table = |e: &Entry| !e.value.is_nan() && e.value >= classes;
        if matches!(join.spec, ProblemSpec::Multiclass)
            && (join.captures.iter().any(out_of_table)
                || matches!(&join.labels, Labels::Valued(l) if l.iter().any(out_of_table)))
        {
            return Err("a join entry's class is not in its table".into());
        }
        join.report = part.report.clone();
        Ok(join)
    }

    /// The class names by index (the binary positive class is index 0).
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// Joins and computes Model Monitor's statistics for the problem, with the join's report.
    pub fn evaluate(mut self) -> QualityEvaluation {
        Entry::sort(&mut self.captures);
        let mut sink = Sink::new(&self.spec);
        let mut report = self.report.clone();
        match &mut self.labels {
            Labels::Binary(keys) => {
                keys.sort_unstable();
                merge(&self.captures, keys, &mut sink, &mut report);
            }
            Labels::Valued(entries) => {
                Entry::sort(entries);
                merge(&self.captures, entries, &mut sink, &mut report);
            }
        }
        let auc_error_bound = match &sink {
            Sink::Binary(acc, ..) => {
                report.scores_outside_unit_interval = acc.scores_outside_unit_interval();
                acc.auc_error_bound()
            }
            _ => 0.0,
        };
        let statistics = sink.statistics(&self.spec, &self.class_names, report.evaluated);
        QualityEvaluation {
            report,
            statistics,
            auc_error_bound,
        }
    }
}

/// Merges sorted captures and labels by id into `sink`, counting in `report`.
fn merge<L: Label>(caps: &[Entry], labs: &[L], sink: &mut Sink, report: &mut JoinReport) {
    let (mut i, mut j) = (0, 0);
    while i < caps.len() || j < labs.len() {
        let ck = caps.get(i).map(Entry::id);
        let lk = labs.get(j).map(Label::id);
        let key = match (ck, lk) {
            (Some(c), Some(l)) => c.min(l),
            (Some(c), None) => c,
            (None, Some(l)) => l,
            (None, None) => break,
        };
        let ci = i;
        while i < caps.len() && caps[i].id() == key {
            i += 1;
        }
        let lj = j;
        while j < labs.len() && labs[j].id() == key {
            j += 1;
        }
        let (nc, nl) = ((i - ci) as u64, (j - lj) as u64);
        report.duplicate_capture_ids += nc.saturating_sub(1);
        report.duplicate_labels += nl.saturating_sub(1);
        let first = labs.get(lj).map(Label::value);
        report.conflicting_labels += labs[lj..j]
            .iter()
            .filter(|l| Some(l.value().to_bits()) != first.map(f64::to_bits))
            .count() as u64;
        match (nc > 0, nl > 0) {
            (true, true) => {
                report.matched += 1;
                if sink.add(key, &caps[ci], labs[lj].value()) {
                    report.evaluated += 1;
                } else {
                    report.unusable_predictions += 1;
                }
            }
            (true, false) => report.captures_without_label += 1,
            (false, true) => report.labels_without_capture += 1,
            (false, false) => {}
        }
    }
}

/// The accumulator of the problem in evaluation.
enum Sink {
    Binary(Box<BinaryAccumulator>, Decision, f64),
    Multiclass(MulticlassAccumulator),
    Regression(Box<RegressionAccumulator>),
}

impl Sink {
    fn new(spec: &ProblemSpec) -> Self {
        match spec {
            ProblemSpec::Binary(o) => Sink::Binary(Box::default(), o.decision, o.threshold),
            ProblemSpec::Multiclass => Sink::Multiclass(MulticlassAccumulator::default()),
            ProblemSpec::Regression => Sink::Regression(Box::default()),
        }
    }

    /// Adds a matched pair; false when the prediction or the label cannot be evaluated.
    fn add(&mut self, key: u64, c: &Entry, label: f64) -> bool {
        let value = (!c.value.is_nan()).then_some(c.value);
        match self {
            Sink::Binary(acc, decision, threshold) => {
                let (score, class) = (value, c.key & CLASS_BITS);
                let predicted = match (*decision, class, score) {
                    (Decision::Auto | Decision::Label, POSITIVE, _) => true,
                    (Decision::Auto | Decision::Label, OTHER_CLASS, _) => false,
                    (Decision::Auto | Decision::Score, _, Some(s)) => s >= *threshold,
                    _ => return false,
                };
                acc.add(key, score, predicted, label == 0.0);
                true
            }
            Sink::Multiclass(acc) => match value {
                Some(k) => {
                    acc.add(key, k as usize, label as usize);
                    true
                }
                None => false,
            },
            Sink::Regression(acc) => match value {
                Some(s) if label.is_finite() => {
                    acc.add(key, s, label);
                    true
                }
                _ => false,
            },
        }
    }

    fn statistics(&self, spec: &ProblemSpec, names: &[String], evaluated: u64) -> ModelQualityStatistics {
        let problem = spec.problem_type();
        let block = match self {
            Sink::Binary(acc, ..) => {
                let positive = names.first().map_or("1", String::as_str);
                // The negative class is written as the other label seen, or "0" when there is none or several.
                let others: Vec<&String> = names.iter().skip(1).collect();
                let negative = if others.len() == 1 { others[0].as_str() } else { "0" };
                acc.block(positive, negative)
            }
            Sink::Multiclass(acc) => acc.block(names),
            Sink::Regression(acc) => acc.block(),
        };
        ModelQualityStatistics::new(problem, evaluated, block)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::ProblemType;
    use crate::quality::ground_truth::read_ground_truth;
    use crate::quality::metrics::BinaryOptions;
    use crate::skip::SkipReport;
    use crate::testing::{fixtures, realdata};
    use proptest::prelude::*;

    fn class(id: &str, c: &str) -> GroundTruth<'static> {
        GroundTruth {
            id: id.to_owned().into(),
            label: LabelValue::Class(c.to_owned().into()),
        }
    }

    #[test]
    fn counts_matches_misses_unknown_ids_and_duplicates() {
        let mut j = QualityJoin::new(ProblemSpec::Binary(BinaryOptions::default()));
        let t = DateTime::from_timestamp(1_700_000_000, 0);
        j.add_capture("a", None, Some(0.9), None, t).unwrap();
        j.add_capture("b", None, Some(0.2), None, None).unwrap();
        j.add_capture("b", None, Some(0.2), None, None).unwrap(); // retried write
        j.add_capture("c", None, Some(0.7), None, None).unwrap(); // never labelled
        j.add_capture("d", None, None, None, None).unwrap(); // no output
        j.add_capture("m", Some(0), None, Some("1"), None).unwrap();
        j.add_capture("m", Some(1), None, Some("0.0"), None).unwrap();
        j.add_label(&class("a", "1")).unwrap();
        j.add_label(&class("b", "0")).unwrap();
        j.add_label(&class("b", "1")).unwrap(); // conflicting duplicate
        j.add_label(&class("d", "1")).unwrap();
        j.add_label(&class("zz", "1")).unwrap(); // unknown id
        j.add_label(&class("m:0", "1")).unwrap();
        j.add_label(&class("m:1", "1")).unwrap();
        let e = j.evaluate();
        let r = &e.report;
        assert_eq!((r.captures, r.labels), (7, 7));
        assert_eq!(r.matched, 5, "a, b, d, m:0, m:1");
        assert_eq!(r.captures_without_label, 1);
        assert_eq!(r.labels_without_capture, 1);
        assert_eq!(r.duplicate_capture_ids, 1);
        assert_eq!(r.duplicate_labels, 1);
        assert_eq!(r.conflicting_labels, 1);
        assert_eq!(r.unusable_predictions, 1, "d has no score and no label");
        assert_eq!(r.evaluated, 4);
        assert_eq!(r.first_inference, t);
        // a: TP; b: the positive label "1" sorts first (class index 0), so b is evaluated as actual positive, predicted
        // negative (FN); m:0 TP; m:1 predicted "0" (normalised from "0.0"), actual 1: FN.
        let b = e.statistics.binary_classification_metrics.as_ref().unwrap();
        let cm = b.confusion_matrix.as_ref().unwrap();
        assert_eq!((cm["1"]["1"], cm["1"]["0"], cm["0"]["0"], cm["0"]["1"]), (2, 2, 0, 0));
        assert_eq!(e.statistics.dataset.as_ref().unwrap().item_count, 4);
    }

    #[test]
    fn binary_labels_conflict_only_across_the_positive_class() {
        let mut j = QualityJoin::new(ProblemSpec::Binary(BinaryOptions::default()));
        for id in ["x", "y"] {
            j.add_capture(id, None, Some(0.9), None, None).unwrap();
        }
        // x: two negative classes (a duplicate, not a conflict for a binary evaluation); y: negative and positive.
        for (id, c) in [("x", "0"), ("x", "2"), ("y", "0"), ("y", "1")] {
            j.add_label(&class(id, c)).unwrap();
        }
        let r = j.evaluate().report;
        assert_eq!((r.duplicate_labels, r.conflicting_labels, r.evaluated), (2, 1, 2));
    }

    #[test]
    fn row_ids_join_labels_of_multi_instance_requests() {
        assert_eq!(row_id("ev", None), "ev");
        assert_eq!(row_id("ev", Some(3)), "ev:3");
        let mut j = QualityJoin::new(ProblemSpec::Regression);
        j.add_capture("ev", Some(3), Some(2.0), None, None).unwrap();
        j.add_label(&GroundTruth {
            id: row_id("ev", Some(3)).into(),
            label: LabelValue::Number(3.0),
        })
        .unwrap();
        let e = j.evaluate();
        assert_eq!(e.report.evaluated, 1);
        assert_eq!(e.statistics.regression_metrics.unwrap().value("mae"), Some(1.0));
    }

    #[test]
    fn too_many_classes_is_an_error_not_a_panic() {
        let mut j = QualityJoin::new(ProblemSpec::Multiclass);
        for i in 0..MAX_CLASSES {
            j.add_capture(&i.to_string(), None, None, Some(&format!("c{i}")), None)
                .unwrap();
        }
        assert_eq!(
            j.add_capture("x", None, None, Some("one more"), None),
            Err(JoinError::TooManyClasses)
        );
        assert_eq!(j.add_label(&class("x", "another")), Err(JoinError::TooManyClasses));
    }

    /// One capture or label: (is a label, id, class or target, score).
    type Step = (bool, u8, u8, u8);

    fn add(j: &mut QualityJoin, (label, id, class_or_target, score): Step, problem: &ProblemSpec) {
        let id = format!("id{id}");
        let class = format!("c{class_or_target}");
        let score = f64::from(score) / 255.0;
        match (label, problem) {
            (true, ProblemSpec::Regression) => j.add_label(&GroundTruth {
                id: id.into(),
                label: LabelValue::Number(f64::from(class_or_target)),
            }),
            (true, _) => j.add_label(&self::class(&id, &class)),
            (false, ProblemSpec::Regression) => j.add_capture(&id, None, Some(score * 10.0), None, None),
            (false, _) => j.add_capture(&id, None, Some(score), Some(&class), None),
        }
        .unwrap();
    }

    proptest! {
        /// Captures and labels read in parts (chunks of a file, batches of a backfill) and merged in order give the
        /// join one pass gives: the same report and statistics, classes numbered alike.
        #[test]
        fn joins_of_parts_merged_in_order_evaluate_as_one(
            steps in proptest::collection::vec((any::<bool>(), 0u8..40, 0u8..5, any::<u8>()), 0..120),
            cuts in proptest::collection::vec(0usize..120, 0..4),
            problem in 0..3,
        ) {
            let spec = match problem {
                0 => ProblemSpec::Binary(BinaryOptions { positive_label: "c1".into(), ..BinaryOptions::default() }),
                1 => ProblemSpec::Multiclass,
                _ => ProblemSpec::Regression,
            };
            let mut whole = QualityJoin::new(spec.clone());
            steps.iter().for_each(|s| add(&mut whole, *s, &spec));
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(steps.len())).collect();
            cuts.sort_unstable();
            let mut merged = QualityJoin::new(spec.clone());
            let mut start = 0;
            for end in cuts.into_iter().chain([steps.len()]) {
                let mut part = QualityJoin::new(spec.clone());
                steps[start..end].iter().for_each(|s| add(&mut part, *s, &spec));
                merged.merge(part).unwrap();
                start = end;
            }
            prop_assert_eq!(merged.class_names(), whole.class_names());
            let (merged, whole) = (merged.evaluate(), whole.evaluate());
            prop_assert_eq!(&merged.report, &whole.report);
            prop_assert_eq!(
                serde_json::to_string(&merged.statistics).unwrap(),
                serde_json::to_string(&whole.statistics).unwrap()
            );
        }
    }

    #[test]
    fn a_merge_past_the_class_limit_is_an_error_and_keeps_the_classes_it_could_number() {
        let mut j = QualityJoin::new(ProblemSpec::Multiclass);
        for i in 0..MAX_CLASSES - 1 {
            j.add_capture(&i.to_string(), None, None, Some(&format!("c{i}")), None)
                .unwrap();
        }
        let mut part = QualityJoin::new(ProblemSpec::Multiclass);
        part.add_capture("x", None, None, Some("c0"), None).unwrap();
        part.add_capture("y", None, None, Some("new 1"), None).unwrap();
        part.add_capture("z", None, None, Some("new 2"), None).unwrap();
        assert_eq!(j.merge(part), Err(JoinError::TooManyClasses));
        assert_eq!(j.class_names().len(), MAX_CLASSES);
        assert_eq!(
            j.report.captures as usize,
            MAX_CLASSES - 1 + 2,
            "x and y were numbered, z was not"
        );
    }

    #[test]
    fn multiclass_join_matches_the_direct_metrics() {
        let mut j = QualityJoin::new(ProblemSpec::Multiclass);
        let y = ["a", "b", "c", "a", "b", "c", "a", "a", "d"];
        let p = ["a", "c", "c", "a", "b", "b", "b", "a", "e"];
        for i in 0..y.len() {
            j.add_capture(&format!("id{i}"), None, None, Some(p[i]), None).unwrap();
            j.add_label(&class(&format!("id{i}"), y[i])).unwrap();
        }
        let s = j.evaluate().statistics;
        let b = s.multiclass_classification_metrics.unwrap();
        // scikit-learn 1.9.1 (see metrics::tests::multiclass_matches_scikit_learn).
        assert!((b.value("weighted_f1").unwrap() - 0.580952380952381).abs() < 1e-12);
        assert!((b.value("macro_precision").unwrap() - 0.36666666666666664).abs() < 1e-12);
    }

    /// scikit-learn 1.9.1 on validation_with_predictions.csv (label vs prediction; probability for the curves):
    /// accuracy_score 0.9402985074626866, precision 1.0, recall 0.5714285714285714, fbeta(0.5) 0.8695652173913043,
    /// f1 0.7272727272727273, fbeta(2) 0.625, confusion_matrix tn 173 fp 0 fn 12 tp 16, roc_auc_score
    /// 0.9395127993393889, average_precision_score 0.8645652980039463; with y_pred = ones: accuracy and precision
    /// 0.13930348258706468, recall 1.0, fbeta(0.5) 0.16826923076923078, f1 0.2445414847161572, fbeta(2)
    /// 0.4472843450479233. The file's predictions are `probability >= 0.8`, so both decisions give these values.
    #[test]
    fn validation_with_predictions_matches_scikit_learn() {
        let Some(root) = realdata() else { return };
        let text =
            std::fs::read_to_string(root.join("capture/sm-examples-model-quality/validation_with_predictions.csv"))
                .unwrap();
        assert!(!text.contains('"'));
        let rows: Vec<Vec<&str>> = text
            .lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|l| l.split(',').collect())
            .collect();
        assert_eq!(rows.len(), 201);
        for (decision, threshold) in [(Decision::Label, 0.5), (Decision::Score, 0.8)] {
            let options = BinaryOptions {
                positive_label: "1".into(),
                threshold,
                decision,
            };
            let mut j = QualityJoin::new(ProblemSpec::Binary(options));
            for (i, r) in rows.iter().enumerate() {
                j.add_capture(&format!("row{i}"), None, Some(r[0].parse().unwrap()), Some(r[1]), None)
                    .unwrap();
                j.add_label(&class(&format!("row{i}"), r[2])).unwrap();
            }
            let e = j.evaluate();
            assert_eq!(e.report.evaluated, 201);
            let b = e.statistics.binary_classification_metrics.unwrap();
            for (name, want) in [
                ("accuracy", 0.9402985074626866),
                ("precision", 1.0),
                ("recall", 0.5714285714285714),
                ("f0_5", 0.8695652173913043),
                ("f1", 0.7272727272727273),
                ("f2", 0.625),
                ("accuracy_best_constant_classifier", 0.13930348258706468),
                ("precision_best_constant_classifier", 0.13930348258706468),
                ("recall_best_constant_classifier", 1.0),
                ("f0_5_best_constant_classifier", 0.16826923076923078),
                ("f1_best_constant_classifier", 0.2445414847161572),
                ("f2_best_constant_classifier", 0.4472843450479233),
            ] {
                assert!((b.value(name).unwrap() - want).abs() < 1e-12, "{name}");
            }
            // Scores are ranked through 65,536 bins: within the reported bound of the exact value.
            assert!(e.auc_error_bound < 1e-3);
            assert!((b.value("auc").unwrap() - 0.9395127993393889).abs() <= e.auc_error_bound + 1e-12);
            assert!((b.value("au_prc").unwrap() - 0.8645652980039463).abs() < 1e-3);
            let cm = b.confusion_matrix.unwrap();
            assert_eq!(
                (cm["0"]["0"], cm["0"]["1"], cm["1"]["0"], cm["1"]["1"]),
                (173, 0, 12, 16)
            );
            // 201 samples: standard deviations are given.
            assert!(b.metrics["f1"].standard_deviation.is_finite());
        }
    }

    /// scikit-learn 1.9.1 on the 44 captures of capture.jsonl joined with actuals.jsonl on eventId, prediction
    /// `score >= 0.5`: accuracy 0.36363636363636365, precision 0.6875, recall 0.3235294117647059, fbeta(0.5)
    /// 0.5612244897959183, f1 0.44, fbeta(2) 0.3618421052631579, tn 5 fp 5 fn 23 tp 11, roc_auc_score
    /// 0.4411764705882353, average_precision_score 0.7503154287701643, always-positive accuracy 0.7727272727272727,
    /// f1 0.8717948717948718.
    #[test]
    fn python_sdk_captures_join_their_actuals() {
        let Some(root) = realdata() else { return };
        let dir = root.join("capture/sagemaker-python-sdk");
        let mut j = QualityJoin::new(ProblemSpec::Binary(BinaryOptions::default()));
        for line in std::fs::read_to_string(dir.join("capture.jsonl")).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let id = v["eventMetadata"]["eventId"].as_str().unwrap();
            let score: f64 = v["captureData"]["endpointOutput"]["data"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            j.add_capture(id, None, Some(score), None, None).unwrap();
        }
        let mut skips = SkipReport::default();
        let file = std::io::BufReader::new(std::fs::File::open(dir.join("actuals.jsonl")).unwrap());
        let mut labels = Vec::new();
        read_ground_truth(
            file,
            "actuals.jsonl",
            ProblemType::BinaryClassification,
            &mut skips,
            |g| labels.push(g.into_owned()),
        )
        .unwrap();
        for g in &labels {
            j.add_label(g).unwrap();
        }
        let e = j.evaluate();
        assert_eq!(
            (
                e.report.matched,
                e.report.captures_without_label,
                e.report.labels_without_capture
            ),
            (44, 0, 0)
        );
        let b = e.statistics.binary_classification_metrics.unwrap();
        for (name, want) in [
            ("accuracy", 0.36363636363636365),
            ("precision", 0.6875),
            ("recall", 0.3235294117647059),
            ("f0_5", 0.5612244897959183),
            ("f1", 0.44),
            ("f2", 0.3618421052631579),
            ("accuracy_best_constant_classifier", 0.7727272727272727),
            ("f1_best_constant_classifier", 0.8717948717948718),
        ] {
            assert!((b.value(name).unwrap() - want).abs() < 1e-12, "{name}");
        }
        assert!((b.value("auc").unwrap() - 0.4411764705882353).abs() <= e.auc_error_bound + 1e-12);
        assert!((b.value("au_prc").unwrap() - 0.7503154287701643).abs() < 1e-9);
    }

    /// The shape of validation_with_predictions.csv above, in the project's own fixture (10 rows, predictions are
    /// `probability >= 0.8`). Reference values computed exactly with Python's `fractions` from the counts tn 4 fp 1
    /// fn 2 tp 3: accuracy 7/10, precision 3/4, recall 3/5, f0.5 5/7, f1 2/3, f2 5/8; always positive: accuracy and
    /// precision 1/2, recall 1, f0.5 5/9, f1 2/3, f2 5/6; AUC 22/25 (pairs of a positive above a negative), average
    /// precision 0.9028571428571428.
    #[test]
    fn fixture_validation_with_predictions_gives_the_exact_metrics() {
        let text = std::fs::read_to_string(fixtures().join("model-quality/validation_with_predictions.csv")).unwrap();
        let rows: Vec<Vec<&str>> = text
            .lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|l| l.split(',').collect())
            .collect();
        assert_eq!(rows.len(), 10);
        for (decision, threshold) in [(Decision::Label, 0.5), (Decision::Score, 0.8)] {
            let options = BinaryOptions {
                positive_label: "1".into(),
                threshold,
                decision,
            };
            let mut j = QualityJoin::new(ProblemSpec::Binary(options));
            for (i, r) in rows.iter().enumerate() {
                j.add_capture(&format!("row{i}"), None, Some(r[0].parse().unwrap()), Some(r[1]), None)
                    .unwrap();
                j.add_label(&class(&format!("row{i}"), r[2])).unwrap();
            }
            let e = j.evaluate();
            assert_eq!(e.report.evaluated, 10);
            let b = e.statistics.binary_classification_metrics.unwrap();
            for (name, want) in [
                ("accuracy", 7.0 / 10.0),
                ("precision", 3.0 / 4.0),
                ("recall", 3.0 / 5.0),
                ("f0_5", 5.0 / 7.0),
                ("f1", 2.0 / 3.0),
                ("f2", 5.0 / 8.0),
                ("accuracy_best_constant_classifier", 1.0 / 2.0),
                ("precision_best_constant_classifier", 1.0 / 2.0),
                ("recall_best_constant_classifier", 1.0),
                ("f0_5_best_constant_classifier", 5.0 / 9.0),
                ("f1_best_constant_classifier", 2.0 / 3.0),
                ("f2_best_constant_classifier", 5.0 / 6.0),
            ] {
                assert!((b.value(name).unwrap() - want).abs() < 1e-12, "{name}");
            }
            assert!(e.auc_error_bound < 1e-3);
            assert!((b.value("auc").unwrap() - 22.0 / 25.0).abs() <= e.auc_error_bound + 1e-12);
            assert!((b.value("au_prc").unwrap() - 0.9028571428571428).abs() < 1e-3);
            let cm = b.confusion_matrix.unwrap();
            assert_eq!((cm["0"]["0"], cm["0"]["1"], cm["1"]["0"], cm["1"]["1"]), (4, 1, 2, 3));
        }
    }

    /// The shape of the SDK's captures joined with their actuals above (CSV captures, ground truth joined on
    /// eventId), in the project's own fixtures: five captures, prediction `score >= 0.5`, tn 1 fp 1 fn 1 tp 2.
    /// Reference values computed exactly with Python's `fractions`: accuracy 3/5, precision 2/3, recall 2/3, f0.5,
    /// f1 and f2 2/3; always positive: accuracy 3/5, f1 3/4; AUC 1/2, average precision 0.7555555555555555.
    #[test]
    fn fixture_captures_join_their_actuals() {
        let mut j = QualityJoin::new(ProblemSpec::Binary(BinaryOptions::default()));
        let captures = std::fs::read_to_string(fixtures().join("capture/sdk-csv.jsonl")).unwrap();
        for line in captures.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let id = v["eventMetadata"]["eventId"].as_str().unwrap();
            let score: f64 = v["captureData"]["endpointOutput"]["data"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            j.add_capture(id, None, Some(score), None, None).unwrap();
        }
        let mut skips = SkipReport::default();
        let file = std::io::BufReader::new(std::fs::File::open(fixtures().join("ground-truth/actuals.jsonl")).unwrap());
        let mut labels = Vec::new();
        read_ground_truth(
            file,
            "actuals.jsonl",
            ProblemType::BinaryClassification,
            &mut skips,
            |g| labels.push(g.into_owned()),
        )
        .unwrap();
        for g in &labels {
            j.add_label(g).unwrap();
        }
        let e = j.evaluate();
        assert_eq!(
            (
                e.report.matched,
                e.report.captures_without_label,
                e.report.labels_without_capture
            ),
            (5, 0, 0)
        );
        let b = e.statistics.binary_classification_metrics.unwrap();
        for (name, want) in [
            ("accuracy", 3.0 / 5.0),
            ("precision", 2.0 / 3.0),
            ("recall", 2.0 / 3.0),
            ("f0_5", 2.0 / 3.0),
            ("f1", 2.0 / 3.0),
            ("f2", 2.0 / 3.0),
            ("accuracy_best_constant_classifier", 3.0 / 5.0),
            ("f1_best_constant_classifier", 3.0 / 4.0),
        ] {
            assert!((b.value(name).unwrap() - want).abs() < 1e-12, "{name}");
        }
        assert!((b.value("auc").unwrap() - 0.5).abs() <= e.auc_error_bound + 1e-12);
        assert!((b.value("au_prc").unwrap() - 0.7555555555555555).abs() < 1e-9);
    }

    #[test]
    fn predictions_keep_their_f64_value_through_the_join() {
        // Epoch-scale regression targets, every prediction off by exactly 0.5: through an f32 the MAE came back as 32.
        let mut j = QualityJoin::new(ProblemSpec::Regression);
        for i in 0..100u32 {
            let target = 1.7e9 + f64::from(i);
            j.add_capture(&format!("r{i}"), None, Some(target + 0.5), None, None)
                .unwrap();
            j.add_label(&GroundTruth {
                id: format!("r{i}").into(),
                label: LabelValue::Number(target),
            })
            .unwrap();
        }
        let r = j.evaluate().statistics.regression_metrics.unwrap();
        assert!((r.value("mae").unwrap() - 0.5).abs() < 1e-9, "{:?}", r.value("mae"));
        assert!((r.value("rmse").unwrap() - 0.5).abs() < 1e-9);

        // A score just under the threshold stays under it (an f32 rounded 0.79999999 up to 0.8).
        let mut j = QualityJoin::new(ProblemSpec::Binary(BinaryOptions {
            threshold: 0.8,
            ..BinaryOptions::default()
        }));
        j.add_capture("under", None, Some(0.799_999_99), None, None).unwrap();
        j.add_label(&class("under", "1")).unwrap();
        let b = j.evaluate().statistics.binary_classification_metrics.unwrap();
        assert_eq!(b.value("recall"), Some(0.0), "predicted negative");
        assert_eq!(b.value("false_negative_rate"), Some(1.0));
    }

    /// Logits rather than probabilities: scores from -8.3 to 9.9, 375 of 400 outside [0, 1]. Reference (scikit-learn
    /// 1.9.1): `y = [int((i*7919) % 13 < 6) for i in range(400)]`, `s = [((i*37) % 101 - 50)/6 + (1.58 if y[i] else 0)
    /// for i in range(400)]`, `roc_auc_score(y, s)` 0.5872022912270123, `average_precision_score(y, s)`
    /// 0.5849661677943883. The positives' offset keeps them off the negatives' grid: no score is shared by both. Clamped into [0, 1] as before, the AUC was far off.
    #[test]
    fn auc_and_average_precision_of_logits_match_scikit_learn_and_are_counted() {
        let mut j = QualityJoin::new(ProblemSpec::Binary(BinaryOptions {
            threshold: 0.0,
            ..BinaryOptions::default()
        }));
        for i in 0..400u64 {
            let positive = (i * 7919) % 13 < 6;
            let score = (((i * 37) % 101) as f64 - 50.0) / 6.0 + if positive { 1.58 } else { 0.0 };
            j.add_capture(&format!("l{i}"), None, Some(score), None, None).unwrap();
            j.add_label(&class(&format!("l{i}"), if positive { "1" } else { "0" }))
                .unwrap();
        }
        let e = j.evaluate();
        assert_eq!(e.report.scores_outside_unit_interval, 375);
        let b = e.statistics.binary_classification_metrics.unwrap();
        // No positive shares a bin with a negative, so both are exact and the bound says so.
        assert_eq!(e.auc_error_bound, 0.0);
        assert!(
            (b.value("auc").unwrap() - 0.5872022912270123).abs() < 1e-9,
            "{:?}",
            b.value("auc")
        );
        assert!(
            (b.value("au_prc").unwrap() - 0.5849661677943883).abs() < 1e-9,
            "{:?}",
            b.value("au_prc")
        );
    }

    proptest! {
        #[test]
        fn join_counts_add_up(
            captures in prop::collection::vec((0u8..40, prop::option::of(0.0f64..1.0)), 0..120),
            labels in prop::collection::vec((0u8..40, any::<bool>()), 0..120),
        ) {
            let mut j = QualityJoin::new(ProblemSpec::Binary(BinaryOptions::default()));
            for (id, score) in &captures {
                j.add_capture(&format!("id{id}"), None, *score, None, None).unwrap();
            }
            for (id, y) in &labels {
                j.add_label(&class(&format!("id{id}"), if *y { "1" } else { "0" })).unwrap();
            }
            let r = j.evaluate().report;
            prop_assert_eq!(r.captures, r.matched + r.captures_without_label + r.duplicate_capture_ids);
            prop_assert_eq!(r.labels, r.matched + r.labels_without_capture + r.duplicate_labels);
            prop_assert_eq!(r.evaluated + r.unusable_predictions, r.matched);
            let cap_ids: std::collections::BTreeSet<u8> = captures.iter().map(|c| c.0).collect();
            let lab_ids: std::collections::BTreeSet<u8> = labels.iter().map(|l| l.0).collect();
            prop_assert_eq!(r.matched as usize, cap_ids.intersection(&lab_ids).count());
        }
    }
}
