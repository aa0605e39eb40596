//! Model-quality metrics: streaming accumulators with bounded memory, and the pure formulas behind them.
//!
//! # Definitions
//!
//! The formulas are scikit-learn's (1.9), so that values can be checked against it:
//!
//! - Zero division follows scikit-learn's default `zero_division="warn"`, which returns 0: precision with no
//!   predicted positive, recall with no actual positive, an F-score whose denominator is 0, and likewise the four
//!   rates (`true_positive_rate` ...) are 0, not NaN. Accuracy and the regression metrics of an empty set are NaN.
//! - `auc` is ROC AUC (`roc_auc_score`) and NaN when only one class is present, as scikit-learn returns.
//!   `au_prc` (Model Monitor's CloudWatch name for the area under the precision-recall curve) is average precision
//!   (`average_precision_score`: the sum over thresholds of the recall step times the precision, not the trapezoid);
//!   0 with no positive, as scikit-learn returns.
//! - Multiclass `weighted_*` and `macro_*` are `average="weighted"` and `average="macro"` over the classes present
//!   in the labels or the predictions.
//! - `macro_*` (multiclass) and `mape` (regression) are modelwatch's additions to Model Monitor's metric sets,
//!   named in the same style.
//! - Regression: `mae`, `mse`, `rmse`, `r2` (1 for a perfect fit of a constant target, 0 for an imperfect one, as
//!   scikit-learn's `force_finite`), `mape` (`mean_absolute_percentage_error`, with |y| floored at f64 epsilon).
//!
//! # Best constant classifier
//!
//! Model Monitor reports each classification metric again for a "best constant classifier". Its documented binary
//! example (confusion matrix `{"0": {"0": 1, "1": 2}, "1": {"0": 0, "1": 1}}`, `recall_best_constant_classifier`
//! 1.0, `precision_best_constant_classifier` and `accuracy_best_constant_classifier` 0.25, `f1_...` 0.4) is
//! reproduced only by the classifier that always predicts the positive class, so that is the binary definition here
//! (always predicting the majority class would give accuracy 0.75 there). For multiclass, the constant prediction is
//! the majority class of the labels (ties: the first class by name).
//!
//! # AUC without keeping the scores
//!
//! Scores are counted in a histogram of [`SCORE_BINS`] equal bins per class, so memory is fixed whatever the window
//! holds and histograms merge. AUC and average precision depend only on the order of the scores, so the bins are
//! laid over a monotone map of the whole real line ([`score_axis`]): probabilities in [0, 1] take the middle half of
//! the bins linearly (bins 1/32768 wide), and scores below 0 or above 1 (logits, margins) the outer quarters through
//! `1/s`, never clamped together into an end bin. How many scores fell outside [0, 1] is counted
//! ([`ScoreHistogram::outside_unit_interval`]) and reported. A pair (positive, negative) whose scores share a bin is
//! counted as a tie (1/2), which is exact when the scores are equal and off by at most 1/2 otherwise, so
//! `|auc - exact| <= 0.5 * sum_b pos_b * neg_b / (P * N)`: [`ScoreHistogram::auc`] returns this bound with the value.
//! Scores in distinct bins give the exact AUC, and average precision is exact under the same condition.
//!
//! # Standard deviation
//!
//! Model Monitor documents its `standard_deviation` as the standard deviation of the metric over 5 random 80 %
//! subsamples, given only with at least 200 samples. Here each sample joins replicate `r` (of 5) when a hash of its
//! id and `r` falls below 0.8, so the replicates are computed in the same single pass, are reproducible, and cost
//! 5 more accumulators. The population standard deviation of the 5 values is reported; below
//! [`MIN_SAMPLES_FOR_STD`] samples it is NaN (written `"NaN"`, as Model Monitor does).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ProblemType;
use super::report::{MetricValue, MetricsBlock};

/// Histogram bins per class for AUC and average precision.
pub const SCORE_BINS: usize = 1 << 16;
/// Replicates for the standard deviation (Model Monitor: 5 subsamples).
pub const REPLICATES: usize = 5;
/// Fraction of the samples in each replicate (Model Monitor: 80 %).
pub const REPLICATE_FRACTION: f64 = 0.8;
/// Samples needed before a standard deviation is given (Model Monitor: 200).
pub const MIN_SAMPLES_FOR_STD: u64 = 200;

/// How a binary prediction is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The predicted label when the capture has one, else `score >= threshold`.
    #[default]
    Auto,
    /// Always `score >= threshold` (captures without a score are unusable).
    Score,
    /// Always the predicted label (captures without one are unusable).
    Label,
}

/// Binary classification settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BinaryOptions {
    /// The label of the positive class (normalised like every label; default `"1"`). Any other label is negative.
    pub positive_label: String,
    /// A score at or above the threshold predicts the positive class (default 0.5, Model Monitor's default
    /// `probability_threshold_attribute`).
    pub threshold: f64,
    pub decision: Decision,
}

impl Default for BinaryOptions {
    fn default() -> Self {
        Self {
            positive_label: "1".to_owned(),
            threshold: 0.5,
            decision: Decision::Auto,
        }
    }
}

impl BinaryOptions {
    /// Whether a prediction is positive, decided as the join decides it ([`Decision`]); `None` when the prediction
    /// has neither what the decision needs (a NaN score counts as none).
    pub fn predicted_positive(&self, score: Option<f64>, label: Option<&str>) -> Option<bool> {
        let score = score.filter(|s| !s.is_nan());
        match (self.decision, label, score) {
            (Decision::Auto | Decision::Label, Some(l), _) => {
                Some(super::normalize_class(l) == super::normalize_class(&self.positive_label))
            }
            (Decision::Auto | Decision::Score, _, Some(s)) => Some(s >= self.threshold),
            _ => None,
        }
    }
}

/// What is evaluated, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemSpec {
    Binary(BinaryOptions),
    /// Needs a predicted label per capture.
    Multiclass,
    /// Needs a score (the predicted value) per capture.
    Regression,
}

impl ProblemSpec {
    /// Model Monitor's problem type.
    pub fn problem_type(&self) -> ProblemType {
        match self {
            ProblemSpec::Binary(_) => ProblemType::BinaryClassification,
            ProblemSpec::Multiclass => ProblemType::MulticlassClassification,
            ProblemSpec::Regression => ProblemType::Regression,
        }
    }
}

/// scikit-learn's `zero_division` default: 0 when the denominator is 0.
fn ratio(num: f64, den: f64) -> f64 {
    if den == 0.0 { 0.0 } else { num / den }
}

/// F-beta from counts, as scikit-learn computes it: `(1+b²)tp / ((1+b²)tp + b²fn + fp)`, 0 when that is 0/0.
pub fn f_beta(tp: f64, fp: f64, fn_: f64, beta: f64) -> f64 {
    let b2 = beta * beta;
    ratio((1.0 + b2) * tp, (1.0 + b2) * tp + b2 * fn_ + fp)
}

/// A binary confusion matrix. Counts are `f64` so that expected (fractional) counts use the same formulas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct BinaryConfusion {
    pub true_positives: f64,
    pub false_positives: f64,
    pub true_negatives: f64,
    pub false_negatives: f64,
}

/// The threshold metrics of a binary confusion matrix, with Model Monitor's names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinaryRates {
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub f0_5: f64,
    pub f1: f64,
    pub f2: f64,
    pub true_positive_rate: f64,
    pub true_negative_rate: f64,
    pub false_positive_rate: f64,
    pub false_negative_rate: f64,
}

impl BinaryConfusion {
    /// Samples counted.
    pub fn total(&self) -> f64 {
        self.true_positives + self.false_positives + self.true_negatives + self.false_negatives
    }

    /// Counts one sample.
    pub fn add(&mut self, predicted_positive: bool, actual_positive: bool, weight: f64) {
        match (predicted_positive, actual_positive) {
            (true, true) => self.true_positives += weight,
            (true, false) => self.false_positives += weight,
            (false, false) => self.true_negatives += weight,
            (false, true) => self.false_negatives += weight,
        }
    }

    /// Adds another matrix's counts.
    pub fn merge(&mut self, other: &BinaryConfusion) {
        self.true_positives += other.true_positives;
        self.false_positives += other.false_positives;
        self.true_negatives += other.true_negatives;
        self.false_negatives += other.false_negatives;
    }

    /// The confusion matrix of the classifier that always predicts positive on the same labels.
    pub fn always_positive(&self) -> BinaryConfusion {
        BinaryConfusion {
            true_positives: self.true_positives + self.false_negatives,
            false_positives: self.false_positives + self.true_negatives,
            true_negatives: 0.0,
            false_negatives: 0.0,
        }
    }

    /// The threshold metrics (see the module docs for zero division; accuracy of nothing is NaN).
    pub fn rates(&self) -> BinaryRates {
        let (tp, fp, tn, fn_) = (
            self.true_positives,
            self.false_positives,
            self.true_negatives,
            self.false_negatives,
        );
        let n = self.total();
        BinaryRates {
            accuracy: if n == 0.0 { f64::NAN } else { (tp + tn) / n },
            precision: ratio(tp, tp + fp),
            recall: ratio(tp, tp + fn_),
            f0_5: f_beta(tp, fp, fn_, 0.5),
            f1: f_beta(tp, fp, fn_, 1.0),
            f2: f_beta(tp, fp, fn_, 2.0),
            true_positive_rate: ratio(tp, tp + fn_),
            true_negative_rate: ratio(tn, tn + fp),
            false_positive_rate: ratio(fp, fp + tn),
            false_negative_rate: ratio(fn_, fn_ + tp),
        }
    }
}

/// Weighted score counts per class in [`SCORE_BINS`] bins over [0, 1], for AUC and average precision. Serialised
/// sparse: the bins with weight, as `[bin, weight]` pairs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(into = "SparseHistogram", try_from = "SparseHistogram")]
pub struct ScoreHistogram {
    /// Allocated on the first sample, so an unused histogram costs nothing.
    positive: Vec<f64>,
    negative: Vec<f64>,
    /// Samples whose score was outside [0, 1] (logits, margins), still ranked in order ([`score_axis`]).
    pub outside_unit_interval: u64,
}

/// [`ScoreHistogram`] as stored: its bins with weight.
#[derive(Serialize, Deserialize)]
struct SparseHistogram {
    bins: usize,
    positive: Vec<(usize, f64)>,
    negative: Vec<(usize, f64)>,
    outside_unit_interval: u64,
}

impl From<ScoreHistogram> for SparseHistogram {
    fn from(h: ScoreHistogram) -> Self {
        let sparse = |v: &[f64]| v.iter().copied().enumerate().filter(|(_, w)| *w != 0.0).collect();
        SparseHistogram {
            bins: SCORE_BINS,
            positive: sparse(&h.positive),
            negative: sparse(&h.negative),
            outside_unit_interval: h.outside_unit_interval,
        }
    }
}

impl TryFrom<SparseHistogram> for ScoreHistogram {
    type Error = String;

    fn try_from(s: SparseHistogram) -> Result<Self, String> {
        if s.bins != SCORE_BINS {
            return Err(format!(
                "a score histogram of {} bins; this build has {SCORE_BINS}",
                s.bins
            ));
        }
        let mut h = ScoreHistogram {
            outside_unit_interval: s.outside_unit_interval,
            ..ScoreHistogram::default()
        };
        if s.positive.is_empty() && s.negative.is_empty() {
            return Ok(h);
        }
        h.positive = vec![0.0; SCORE_BINS];
        h.negative = vec![0.0; SCORE_BINS];
        for (dense, sparse) in [(&mut h.positive, s.positive), (&mut h.negative, s.negative)] {
            for (bin, weight) in sparse {
                *dense.get_mut(bin).ok_or_else(|| format!("bin {bin} of {SCORE_BINS}"))? = weight;
            }
        }
        Ok(h)
    }
}

/// Where a score falls on the histogram's [0, 1] axis, keeping the order of all scores: [0, 1] maps linearly onto
/// [0.25, 0.75], below 0 onto (0, 0.25) as `0.25 / (1 - s)`, above 1 onto (0.75, 1) as `1 - 0.25 / s`. The tails
/// shrink as `1/s²`, not exponentially: logits 1/6 apart stay in distinct bins out to |s| of about 15.
pub fn score_axis(score: f64) -> f64 {
    if score < 0.0 {
        0.25 / (1.0 - score)
    } else if score > 1.0 {
        1.0 - 0.25 / score
    } else {
        0.25 + 0.5 * score
    }
}

impl ScoreHistogram {
    fn bin(score: f64) -> usize {
        ((score_axis(score) * SCORE_BINS as f64) as usize).min(SCORE_BINS - 1)
    }

    /// Counts a score of a positive (`actual_positive`) or negative sample with `weight` (1 for a labelled sample,
    /// a probability for an expected count). NaN scores are ignored.
    pub fn add(&mut self, score: f64, actual_positive: bool, weight: f64) {
        if score.is_nan() {
            return;
        }
        if self.positive.is_empty() {
            self.positive = vec![0.0; SCORE_BINS];
            self.negative = vec![0.0; SCORE_BINS];
        }
        if !(0.0..=1.0).contains(&score) {
            self.outside_unit_interval += 1;
        }
        let b = Self::bin(score);
        if actual_positive {
            self.positive[b] += weight;
        } else {
            self.negative[b] += weight;
        }
    }

    /// Adds another histogram's weights: the histogram of both samples.
    pub fn merge(&mut self, other: &ScoreHistogram) {
        self.outside_unit_interval += other.outside_unit_interval;
        if other.positive.is_empty() {
            return;
        }
        if self.positive.is_empty() {
            self.positive.clone_from(&other.positive);
            self.negative.clone_from(&other.negative);
            return;
        }
        for (mine, theirs) in self.positive.iter_mut().zip(&other.positive) {
            *mine += theirs;
        }
        for (mine, theirs) in self.negative.iter_mut().zip(&other.negative) {
            *mine += theirs;
        }
    }

    /// ROC AUC and the bound on its distance to the exact value (see the module docs), or `None` when one class has
    /// no weight.
    pub fn auc(&self) -> Option<(f64, f64)> {
        let p: f64 = self.positive.iter().sum();
        let n: f64 = self.negative.iter().sum();
        if p == 0.0 || n == 0.0 {
            return None;
        }
        let mut negatives_below = n;
        let mut area = 0.0;
        let mut same_bin = 0.0;
        // From the highest bin down: a positive beats every negative in lower bins and ties those in its own bin.
        for b in (0..SCORE_BINS).rev() {
            let (pb, nb) = (self.positive[b], self.negative[b]);
            negatives_below -= nb;
            area += pb * (negatives_below + 0.5 * nb);
            same_bin += pb * nb;
        }
        Some(((area / (p * n)).min(1.0), 0.5 * same_bin / (p * n)))
    }

    /// Average precision over the bins as thresholds (scikit-learn's `average_precision_score`); 0 without
    /// positives, NaN without samples.
    pub fn average_precision(&self) -> f64 {
        let p: f64 = self.positive.iter().sum();
        let n: f64 = self.negative.iter().sum();
        if p + n == 0.0 {
            return f64::NAN;
        }
        if p == 0.0 {
            return 0.0;
        }
        let (mut tp, mut fp, mut ap) = (0.0, 0.0, 0.0);
        for b in (0..SCORE_BINS).rev() {
            let (pb, nb) = (self.positive[b], self.negative[b]);
            if pb == 0.0 && nb == 0.0 {
                continue;
            }
            tp += pb;
            fp += nb;
            ap += (pb / p) * (tp / (tp + fp));
        }
        // The recall steps sum to 1 only up to rounding (1.0000000000000002 happens): keep the area in [0, 1].
        ap.min(1.0)
    }
}

/// A deterministic pseudo-random 64-bit mix (SplitMix64's finaliser).
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Whether the sample with `key` belongs to replicate `r`.
fn in_replicate(key: u64, r: usize) -> bool {
    let h = mix64(key ^ (r as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    ((h >> 11) as f64) < REPLICATE_FRACTION * (1u64 << 53) as f64
}

/// Population standard deviation of finite values; NaN when any is not finite.
fn population_std(values: &[f64]) -> f64 {
    if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
        return f64::NAN;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt()
}

/// A metric set computed on the full data and on the replicates.
fn with_std(n: u64, full: BTreeMap<&'static str, f64>, reps: &[BTreeMap<&'static str, f64>]) -> MetricsBlock {
    let mut block = MetricsBlock::default();
    for (name, value) in full {
        let std = if n >= MIN_SAMPLES_FOR_STD {
            population_std(
                &reps
                    .iter()
                    .map(|r| r.get(name).copied().unwrap_or(f64::NAN))
                    .collect::<Vec<_>>(),
            )
        } else {
            f64::NAN
        };
        block.metrics.insert(
            name.to_owned(),
            MetricValue {
                value,
                standard_deviation: std,
            },
        );
    }
    block
}

/// Binary metrics for one (sub)sample.
#[derive(Debug, Clone, Default)]
struct BinaryPart {
    confusion: BinaryConfusion,
    scores: ScoreHistogram,
    has_scores: bool,
}

impl BinaryPart {
    fn add(&mut self, score: Option<f64>, predicted_positive: bool, actual_positive: bool) {
        self.confusion.add(predicted_positive, actual_positive, 1.0);
        if let Some(s) = score {
            self.scores.add(s, actual_positive, 1.0);
            self.has_scores = true;
        }
    }

    fn merge(&mut self, other: &BinaryPart) {
        self.confusion.merge(&other.confusion);
        self.scores.merge(&other.scores);
        self.has_scores |= other.has_scores;
    }

    fn metrics(&self, auc_bound: &mut f64) -> BTreeMap<&'static str, f64> {
        let r = self.confusion.rates();
        let c = self.confusion.always_positive().rates();
        let mut m = BTreeMap::from([
            ("accuracy", r.accuracy),
            ("precision", r.precision),
            ("recall", r.recall),
            ("f0_5", r.f0_5),
            ("f1", r.f1),
            ("f2", r.f2),
            ("true_positive_rate", r.true_positive_rate),
            ("true_negative_rate", r.true_negative_rate),
            ("false_positive_rate", r.false_positive_rate),
            ("false_negative_rate", r.false_negative_rate),
            ("accuracy_best_constant_classifier", c.accuracy),
            ("precision_best_constant_classifier", c.precision),
            ("recall_best_constant_classifier", c.recall),
            ("f0_5_best_constant_classifier", c.f0_5),
            ("f1_best_constant_classifier", c.f1),
            ("f2_best_constant_classifier", c.f2),
        ]);
        if self.has_scores {
            let (auc, bound) = self.scores.auc().unwrap_or((f64::NAN, 0.0));
            *auc_bound = bound;
            m.insert("auc", auc);
            m.insert("au_prc", self.scores.average_precision());
        }
        m
    }
}

/// Streaming binary-classification metrics with replicates for the standard deviation. Memory: 6 histograms of
/// 2 × [`SCORE_BINS`] f64 (6 MiB) once scores are seen.
#[derive(Debug, Clone, Default)]
pub struct BinaryAccumulator {
    full: BinaryPart,
    reps: Vec<BinaryPart>,
    n: u64,
}

impl BinaryAccumulator {
    /// Counts one labelled prediction. `key` (a hash of the sample's id) picks the replicates; `score` feeds AUC.
    pub fn add(&mut self, key: u64, score: Option<f64>, predicted_positive: bool, actual_positive: bool) {
        if self.reps.is_empty() {
            self.reps = vec![BinaryPart::default(); REPLICATES];
        }
        self.n += 1;
        self.full.add(score, predicted_positive, actual_positive);
        for (r, part) in self.reps.iter_mut().enumerate() {
            if in_replicate(key, r) {
                part.add(score, predicted_positive, actual_positive);
            }
        }
    }

    /// Adds another accumulator's predictions (another part of the data: a batch of a backfill): the result is the
    /// one a single accumulator of both parts gives, replicates included (they are picked by the samples' keys).
    pub fn merge(&mut self, other: &BinaryAccumulator) {
        if other.n == 0 {
            return;
        }
        if self.reps.is_empty() {
            self.reps = vec![BinaryPart::default(); REPLICATES];
        }
        self.n += other.n;
        self.full.merge(&other.full);
        for (mine, theirs) in self.reps.iter_mut().zip(&other.reps) {
            mine.merge(theirs);
        }
    }

    /// The confusion matrix so far.
    pub fn confusion(&self) -> BinaryConfusion {
        self.full.confusion
    }

    /// Scores outside [0, 1] among those added (logits or margins rather than probabilities).
    pub fn scores_outside_unit_interval(&self) -> u64 {
        self.full.scores.outside_unit_interval
    }

    /// The bound on the AUC's distance to the exact value (0 without scores).
    pub fn auc_error_bound(&self) -> f64 {
        let mut b = 0.0;
        self.full.metrics(&mut b);
        b
    }

    /// Model Monitor's `binary_classification_metrics` block, with the confusion matrix keyed by the class labels
    /// (`negative_label` is how the negative class is written, usually `"0"`).
    pub fn block(&self, positive_label: &str, negative_label: &str) -> MetricsBlock {
        let mut ignored = 0.0;
        let reps: Vec<_> = self.reps.iter().map(|p| p.metrics(&mut ignored)).collect();
        let mut block = with_std(self.n, self.full.metrics(&mut ignored), &reps);
        let c = &self.full.confusion;
        let mut cm = BTreeMap::new();
        cm.insert(
            negative_label.to_owned(),
            BTreeMap::from([
                (negative_label.to_owned(), c.true_negatives as u64),
                (positive_label.to_owned(), c.false_positives as u64),
            ]),
        );
        cm.insert(
            positive_label.to_owned(),
            BTreeMap::from([
                (negative_label.to_owned(), c.false_negatives as u64),
                (positive_label.to_owned(), c.true_positives as u64),
            ]),
        );
        block.confusion_matrix = Some(cm);
        block
    }
}

/// A square confusion matrix over class indices (rows: actual, columns: predicted).
#[derive(Debug, Clone, Default, PartialEq)]
struct SquareCounts {
    k: usize,
    counts: Vec<u64>,
}

impl SquareCounts {
    /// Makes room for classes `0..need`.
    fn grow(&mut self, need: usize) {
        if need > self.k {
            let mut grown = vec![0u64; need * need];
            for a in 0..self.k {
                grown[a * need..a * need + self.k].copy_from_slice(&self.counts[a * self.k..(a + 1) * self.k]);
            }
            self.k = need;
            self.counts = grown;
        }
    }

    fn add(&mut self, actual: usize, predicted: usize) {
        self.grow(actual.max(predicted) + 1);
        self.counts[actual * self.k + predicted] += 1;
    }

    fn merge(&mut self, other: &SquareCounts) {
        self.grow(other.k);
        for a in 0..other.k {
            for p in 0..other.k {
                self.counts[a * self.k + p] += other.counts[a * other.k + p];
            }
        }
    }

    fn get(&self, actual: usize, predicted: usize) -> u64 {
        if actual < self.k && predicted < self.k {
            self.counts[actual * self.k + predicted]
        } else {
            0
        }
    }

    /// Metrics with scikit-learn's definitions; `names` orders classes for ties of the majority class.
    fn metrics(&self, names: &[String]) -> BTreeMap<&'static str, f64> {
        let k = self.k;
        let row: Vec<f64> = (0..k)
            .map(|a| (0..k).map(|p| self.get(a, p)).sum::<u64>() as f64)
            .collect();
        let col: Vec<f64> = (0..k)
            .map(|p| (0..k).map(|a| self.get(a, p)).sum::<u64>() as f64)
            .collect();
        let n: f64 = row.iter().sum();
        let present: Vec<usize> = (0..k).filter(|&c| row[c] + col[c] > 0.0).collect();
        let mut m = BTreeMap::new();
        if n == 0.0 {
            m.insert("accuracy", f64::NAN);
            return m;
        }
        let diag: f64 = (0..k).map(|c| self.get(c, c) as f64).sum();
        m.insert("accuracy", diag / n);
        // Per-class precision, recall and F-scores from (tp, fp, fn).
        let per_class = |tp: f64, pred: f64, act: f64| -> [f64; 5] {
            let (fp, fn_) = (pred - tp, act - tp);
            [
                ratio(tp, pred),
                ratio(tp, act),
                f_beta(tp, fp, fn_, 0.5),
                f_beta(tp, fp, fn_, 1.0),
                f_beta(tp, fp, fn_, 2.0),
            ]
        };
        let mut weighted = [0.0; 5];
        let mut macro_ = [0.0; 5];
        for &c in &present {
            let v = per_class(self.get(c, c) as f64, col[c], row[c]);
            for i in 0..5 {
                weighted[i] += v[i] * row[c] / n;
                macro_[i] += v[i] / present.len() as f64;
            }
        }
        const WEIGHTED: [&str; 5] = [
            "weighted_precision",
            "weighted_recall",
            "weighted_f0_5",
            "weighted_f1",
            "weighted_f2",
        ];
        const MACRO: [&str; 5] = ["macro_precision", "macro_recall", "macro_f0_5", "macro_f1", "macro_f2"];
        const CONSTANT: [&str; 5] = [
            "weighted_precision_best_constant_classifier",
            "weighted_recall_best_constant_classifier",
            "weighted_f0_5_best_constant_classifier",
            "weighted_f1_best_constant_classifier",
            "weighted_f2_best_constant_classifier",
        ];
        for i in 0..5 {
            m.insert(WEIGHTED[i], weighted[i]);
            m.insert(MACRO[i], macro_[i]);
        }
        // The majority class of the labels; ties go to the first class by name.
        let majority = (0..k)
            .filter(|&c| row[c] > 0.0)
            .max_by(|&a, &b| row[a].total_cmp(&row[b]).then_with(|| names[b].cmp(&names[a])))
            .unwrap_or(0);
        // Constant prediction: only the majority class has predictions (all n), with tp = its support; every other
        // class scores 0, so the weighted average is the majority class's weight times its score.
        let v = per_class(row[majority], n, row[majority]);
        m.insert("accuracy_best_constant_classifier", row[majority] / n);
        for i in 0..5 {
            m.insert(CONSTANT[i], v[i] * row[majority] / n);
        }
        m
    }
}

/// Streaming multiclass metrics over class indices. Memory: K² counts per replicate (K classes).
#[derive(Debug, Clone, Default)]
pub struct MulticlassAccumulator {
    full: SquareCounts,
    reps: Vec<SquareCounts>,
    n: u64,
}

impl MulticlassAccumulator {
    /// Counts one labelled prediction (class indices into the caller's class names).
    pub fn add(&mut self, key: u64, predicted: usize, actual: usize) {
        if self.reps.is_empty() {
            self.reps = vec![SquareCounts::default(); REPLICATES];
        }
        self.n += 1;
        self.full.add(actual, predicted);
        for (r, part) in self.reps.iter_mut().enumerate() {
            if in_replicate(key, r) {
                part.add(actual, predicted);
            }
        }
    }

    /// Adds another accumulator's predictions, of the same class numbering (a [`crate::quality::QualityJoin`] merge
    /// renumbers its captures' classes to the join's).
    pub fn merge(&mut self, other: &MulticlassAccumulator) {
        if other.n == 0 {
            return;
        }
        if self.reps.is_empty() {
            self.reps = vec![SquareCounts::default(); REPLICATES];
        }
        self.n += other.n;
        self.full.merge(&other.full);
        for (mine, theirs) in self.reps.iter_mut().zip(&other.reps) {
            mine.merge(theirs);
        }
    }

    /// Model Monitor's `multiclass_classification_metrics` block; `names[i]` is class `i`'s label.
    pub fn block(&self, names: &[String]) -> MetricsBlock {
        let reps: Vec<_> = self.reps.iter().map(|p| p.metrics(names)).collect();
        let mut block = with_std(self.n, self.full.metrics(names), &reps);
        let k = self.full.k.min(names.len());
        // Rows and columns for every class seen in the labels or the predictions, as scikit-learn's
        // `confusion_matrix` over their union.
        let present: Vec<usize> = (0..k)
            .filter(|&c| (0..k).any(|o| self.full.get(c, o) > 0 || self.full.get(o, c) > 0))
            .collect();
        let mut cm = BTreeMap::new();
        for &a in &present {
            let row: BTreeMap<String, u64> = present
                .iter()
                .map(|&p| (names[p].clone(), self.full.get(a, p)))
                .collect();
            cm.insert(names[a].clone(), row);
        }
        block.confusion_matrix = Some(cm);
        block
    }
}

/// Regression sums for one (sub)sample.
#[derive(Debug, Clone, Copy, Default)]
struct RegressionPart {
    n: u64,
    sum_abs: f64,
    sum_sq: f64,
    sum_ape: f64,
    // Welford's running mean and sum of squared deviations of the target, for r2 without a second pass.
    mean_y: f64,
    m2_y: f64,
}

impl RegressionPart {
    fn add(&mut self, predicted: f64, actual: f64) {
        let e = actual - predicted;
        self.n += 1;
        self.sum_abs += e.abs();
        self.sum_sq += e * e;
        self.sum_ape += e.abs() / actual.abs().max(f64::EPSILON);
        let d = actual - self.mean_y;
        self.mean_y += d / self.n as f64;
        self.m2_y += d * (actual - self.mean_y);
    }

    /// Adds another part's sums; the target's mean and squared deviations combine as Chan et al. (1979) combine
    /// them.
    fn merge(&mut self, other: &RegressionPart) {
        (self.mean_y, self.m2_y) =
            crate::profile::combine_moments((self.n, self.mean_y, self.m2_y), (other.n, other.mean_y, other.m2_y));
        self.n += other.n;
        self.sum_abs += other.sum_abs;
        self.sum_sq += other.sum_sq;
        self.sum_ape += other.sum_ape;
    }

    fn metrics(&self) -> BTreeMap<&'static str, f64> {
        let n = self.n as f64;
        let nan_if_empty = |v: f64| if self.n == 0 { f64::NAN } else { v };
        let mse = nan_if_empty(self.sum_sq / n);
        let r2 = if self.n < 2 {
            f64::NAN
        } else if self.m2_y == 0.0 {
            if self.sum_sq == 0.0 { 1.0 } else { 0.0 }
        } else {
            1.0 - self.sum_sq / self.m2_y
        };
        BTreeMap::from([
            ("mae", nan_if_empty(self.sum_abs / n)),
            ("mse", mse),
            ("rmse", mse.sqrt()),
            ("r2", r2),
            ("mape", nan_if_empty(self.sum_ape / n)),
        ])
    }
}

/// Streaming regression metrics. Memory: a few sums per replicate.
#[derive(Debug, Clone, Default)]
pub struct RegressionAccumulator {
    full: RegressionPart,
    reps: [RegressionPart; REPLICATES],
}

impl RegressionAccumulator {
    /// Counts one labelled prediction.
    pub fn add(&mut self, key: u64, predicted: f64, actual: f64) {
        self.full.add(predicted, actual);
        for (r, part) in self.reps.iter_mut().enumerate() {
            if in_replicate(key, r) {
                part.add(predicted, actual);
            }
        }
    }

    /// Adds another accumulator's predictions (see [`BinaryAccumulator::merge`]).
    pub fn merge(&mut self, other: &RegressionAccumulator) {
        self.full.merge(&other.full);
        for (mine, theirs) in self.reps.iter_mut().zip(&other.reps) {
            mine.merge(theirs);
        }
    }

    /// Model Monitor's `regression_metrics` block.
    pub fn block(&self) -> MetricsBlock {
        let reps: Vec<_> = self.reps.iter().map(|p| p.metrics()).collect();
        with_std(self.full.n, self.full.metrics(), &reps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol || (a.is_nan() && b.is_nan())
    }

    fn value(block: &MetricsBlock, name: &str) -> f64 {
        block
            .metrics
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .value
    }

    fn binary(y: &[u8], pred: &[u8], scores: Option<&[f64]>) -> (MetricsBlock, f64) {
        let mut acc = BinaryAccumulator::default();
        for i in 0..y.len() {
            acc.add(mix64(i as u64), scores.map(|s| s[i]), pred[i] == 1, y[i] == 1);
        }
        (acc.block("1", "0"), acc.auc_error_bound())
    }

    #[test]
    fn binary_decisions_follow_the_configured_rule() {
        let o = BinaryOptions {
            positive_label: "1".into(),
            threshold: 0.7,
            decision: Decision::Auto,
        };
        assert_eq!(o.predicted_positive(Some(0.9), None), Some(true));
        assert_eq!(o.predicted_positive(Some(0.69), None), Some(false));
        assert_eq!(
            o.predicted_positive(Some(0.7), None),
            Some(true),
            "at the threshold is positive"
        );
        assert_eq!(
            o.predicted_positive(Some(0.1), Some("1.0")),
            Some(true),
            "the label wins, normalised"
        );
        assert_eq!(o.predicted_positive(Some(0.9), Some("0")), Some(false));
        assert_eq!(o.predicted_positive(Some(f64::NAN), None), None);
        assert_eq!(o.predicted_positive(None, None), None);
        let by_score = BinaryOptions {
            decision: Decision::Score,
            ..o.clone()
        };
        assert_eq!(by_score.predicted_positive(Some(0.9), Some("0")), Some(true));
        assert_eq!(by_score.predicted_positive(None, Some("1")), None);
        let by_label = BinaryOptions {
            decision: Decision::Label,
            ..o
        };
        assert_eq!(by_label.predicted_positive(Some(0.9), None), None);
        assert_eq!(by_label.predicted_positive(Some(0.9), Some("\"1\"")), Some(true));
    }
    #[test]
    fn model_monitors_documented_binary_example_is_reproduced() {
        // Model Monitor's "Model quality metrics" page: confusion matrix {"0": {"0": 1, "1": 2}, "1": {"0": 0,
        // "1": 1}} (actual -> predicted) with recall 1.0, precision 1/3, accuracy 0.5, tnr 1/3, f0_5 0.3846..,
        // f2 0.7142.., and best constant classifier precision 0.25, recall 1.0, accuracy 0.25, f0_5 0.294..,
        // f1 0.4, f2 0.625.
        let (b, _) = binary(&[0, 0, 0, 1], &[0, 1, 1, 1], None);
        let cm = b.confusion_matrix.as_ref().unwrap();
        assert_eq!(cm["0"]["0"], 1);
        assert_eq!(cm["0"]["1"], 2);
        assert_eq!(cm["1"]["0"], 0);
        assert_eq!(cm["1"]["1"], 1);
        for (name, want) in [
            ("recall", 1.0),
            ("precision", 0.3333333333333333),
            ("accuracy", 0.5),
            ("true_negative_rate", 0.33333333333333337),
            ("false_positive_rate", 0.6666666666666666),
            ("false_negative_rate", 0.0),
            ("f0_5", 0.3846153846153846),
            ("f1", 0.5),
            ("f2", 0.7142857142857143),
            ("recall_best_constant_classifier", 1.0),
            ("precision_best_constant_classifier", 0.25),
            ("accuracy_best_constant_classifier", 0.25),
            ("f0_5_best_constant_classifier", 0.29411764705882354),
            ("f1_best_constant_classifier", 0.4),
            ("f2_best_constant_classifier", 0.625),
        ] {
            assert!(
                close(value(&b, name), want, 1e-12),
                "{name}: {} vs {want}",
                value(&b, name)
            );
        }
        assert!(
            b.metrics["f1"].standard_deviation.is_nan(),
            "fewer than 200 samples: no std"
        );
    }

    #[test]
    fn binary_edge_cases_match_scikit_learn() {
        // scikit-learn 1.9.1: y=[1,1,1], scores [0.2,0.7,0.9], pred = score >= 0.5:
        // accuracy 0.6666666666666666, precision 1.0, recall 0.6666666666666666, f1 0.8,
        // average_precision_score 1.0, roc_auc_score nan (one class).
        let (b, _) = binary(&[1, 1, 1], &[0, 1, 1], Some(&[0.2, 0.7, 0.9]));
        assert!(close(value(&b, "accuracy"), 0.6666666666666666, 1e-12));
        assert!(close(value(&b, "precision"), 1.0, 1e-12));
        assert!(close(value(&b, "recall"), 0.6666666666666666, 1e-12));
        assert!(close(value(&b, "f1"), 0.8, 1e-12));
        assert!(close(value(&b, "au_prc"), 1.0, 1e-12));
        assert!(value(&b, "auc").is_nan());
        // y=[0,1,0,1], all predicted 0 (zero_division default): precision 0.0, recall 0.0, f0_5 0.0, f1 0.0,
        // accuracy 0.5.
        let (b, _) = binary(&[0, 1, 0, 1], &[0, 0, 0, 0], None);
        for name in ["precision", "recall", "f0_5", "f1", "f2"] {
            assert_eq!(value(&b, name), 0.0, "{name}");
        }
        assert!(close(value(&b, "accuracy"), 0.5, 1e-12));
        assert!(!b.metrics.contains_key("auc"), "no scores, no auc");
        // y=[0,0,0], pred [0,0,0], scores [0.1,0.2,0.3]: precision, recall, f1, f2 0.0; average precision 0.0.
        let (b, _) = binary(&[0, 0, 0], &[0, 0, 0], Some(&[0.1, 0.2, 0.3]));
        for name in ["precision", "recall", "f1", "f2", "au_prc", "true_positive_rate"] {
            assert_eq!(value(&b, name), 0.0, "{name}");
        }
        assert!(close(value(&b, "accuracy"), 1.0, 1e-12));
        assert!(close(value(&b, "true_negative_rate"), 1.0, 1e-12));
        // Ties: y=[0,1,0,1,1,0], s=[0.5,0.5,0.2,0.8,0.2,0.9]: roc_auc_score 0.4444444444444445,
        // average_precision_score 0.5.
        let (b, bound) = binary(
            &[0, 1, 0, 1, 1, 0],
            &[1, 1, 0, 1, 0, 1],
            Some(&[0.5, 0.5, 0.2, 0.8, 0.2, 0.9]),
        );
        assert!(close(value(&b, "auc"), 0.4444444444444445, 1e-12));
        assert!(close(value(&b, "au_prc"), 0.5, 1e-12));
        assert!(bound > 0.0, "tied pairs make the bound positive");
    }

    #[test]
    fn multiclass_matches_scikit_learn() {
        // scikit-learn 1.9.1, y_true = [a,b,c,a,b,c,a,a,d], y_pred = [a,c,c,a,b,b,b,a,e]:
        // accuracy_score 0.5555555555555556; precision/recall/fbeta_score average="weighted" 0.6296296296296297,
        // 0.5555555555555556, (beta 0.5) 0.6071428571428572, (1) 0.580952380952381, (2) 0.5629984051036683;
        // average="macro" 0.36666666666666664, 0.35, 0.35892857142857143, 0.3514285714285714, 0.34880382775119617;
        // constant "a" (majority): accuracy 0.4444444444444444, weighted precision 0.19753086419753085, recall
        // 0.4444444444444444, f0_5 0.2222222222222222, f1 0.27350427350427353, f2 0.35555555555555557.
        let names: Vec<String> = ["a", "b", "c", "d", "e"].iter().map(|s| s.to_string()).collect();
        let idx = |s: &str| names.iter().position(|n| n == s).unwrap();
        let y = ["a", "b", "c", "a", "b", "c", "a", "a", "d"];
        let p = ["a", "c", "c", "a", "b", "b", "b", "a", "e"];
        let mut acc = MulticlassAccumulator::default();
        for i in 0..y.len() {
            acc.add(mix64(i as u64), idx(p[i]), idx(y[i]));
        }
        let b = acc.block(&names);
        for (name, want) in [
            ("accuracy", 0.5555555555555556),
            ("weighted_precision", 0.6296296296296297),
            ("weighted_recall", 0.5555555555555556),
            ("weighted_f0_5", 0.6071428571428572),
            ("weighted_f1", 0.580952380952381),
            ("weighted_f2", 0.5629984051036683),
            ("macro_precision", 0.36666666666666664),
            ("macro_recall", 0.35),
            ("macro_f0_5", 0.35892857142857143),
            ("macro_f1", 0.3514285714285714),
            ("macro_f2", 0.34880382775119617),
            ("accuracy_best_constant_classifier", 0.4444444444444444),
            ("weighted_precision_best_constant_classifier", 0.19753086419753085),
            ("weighted_recall_best_constant_classifier", 0.4444444444444444),
            ("weighted_f0_5_best_constant_classifier", 0.2222222222222222),
            ("weighted_f1_best_constant_classifier", 0.27350427350427353),
            ("weighted_f2_best_constant_classifier", 0.35555555555555557),
        ] {
            assert!(
                close(value(&b, name), want, 1e-12),
                "{name}: {} vs {want}",
                value(&b, name)
            );
        }
        // confusion_matrix(labels=[a,b,c,d,e]) rows: [3,1,0,0,0] [0,1,1,0,0] [0,1,1,0,0] [0,0,0,0,1] [0,0,0,0,0].
        let cm = b.confusion_matrix.unwrap();
        assert_eq!(cm["a"]["a"], 3);
        assert_eq!(cm["a"]["b"], 1);
        assert_eq!(cm["d"]["e"], 1);
        assert_eq!(
            cm["e"].values().sum::<u64>(),
            0,
            "no actual e, but a row as scikit-learn has"
        );
        assert_eq!(cm.values().flat_map(|r| r.values()).sum::<u64>(), 9);
    }

    #[test]
    fn regression_matches_scikit_learn() {
        // scikit-learn 1.9.1, y = [3,-0.5,2,7,4.2,0.0], p = [2.5,0.0,2,8,4.0,0.1]: mean_absolute_error
        // 0.38333333333333336, mean_squared_error 0.25833333333333336, root_mean_squared_error 0.5082650227325636,
        // r2_score 0.9600601245436977, mean_absolute_percentage_error 75059993789508.5.
        let y = [3.0, -0.5, 2.0, 7.0, 4.2, 0.0];
        let p = [2.5, 0.0, 2.0, 8.0, 4.0, 0.1];
        let mut acc = RegressionAccumulator::default();
        for i in 0..y.len() {
            acc.add(i as u64, p[i], y[i]);
        }
        let b = acc.block();
        assert!(close(value(&b, "mae"), 0.38333333333333336, 1e-12));
        assert!(close(value(&b, "mse"), 0.25833333333333336, 1e-12));
        assert!(close(value(&b, "rmse"), 0.5082650227325636, 1e-12));
        assert!(close(value(&b, "r2"), 0.9600601245436977, 1e-12));
        assert!(close(value(&b, "mape"), 75059993789508.5, 1e-2));
        // r2_score([1,1,1],[1,1,1]) 1.0 and r2_score([1,1,1],[1,2,1]) 0.0 (force_finite).
        let mut exact = RegressionAccumulator::default();
        let mut wrong = RegressionAccumulator::default();
        for (i, p) in [1.0, 2.0, 1.0].iter().enumerate() {
            exact.add(i as u64, 1.0, 1.0);
            wrong.add(i as u64, *p, 1.0);
        }
        assert_eq!(value(&exact.block(), "r2"), 1.0);
        assert_eq!(value(&wrong.block(), "r2"), 0.0);
        assert!(value(&RegressionAccumulator::default().block(), "mae").is_nan());
    }

    #[test]
    fn standard_deviation_appears_from_200_samples_and_is_small_for_stable_data() {
        let mut acc = BinaryAccumulator::default();
        for i in 0..1000u64 {
            let y = i % 3 == 0;
            let s = if y {
                0.6 + (i % 7) as f64 / 20.0
            } else {
                0.1 + (i % 11) as f64 / 20.0
            };
            acc.add(mix64(i), Some(s), s >= 0.5, y);
        }
        let b = acc.block("1", "0");
        let f1 = b.metrics["f1"];
        assert!(f1.standard_deviation.is_finite() && f1.standard_deviation > 0.0 && f1.standard_deviation < 0.05);
        assert!(b.metrics["auc"].standard_deviation < 0.05);
        // Replicates hold about 80 % of the samples.
        let members = (0..10_000u64).filter(|&k| in_replicate(mix64(k), 2)).count();
        assert!((7_700..8_300).contains(&members), "{members}");
    }

    /// Exact ROC AUC by pairs (ties count 1/2).
    fn exact_auc(y: &[bool], s: &[f64]) -> f64 {
        let (mut num, mut den) = (0.0, 0.0);
        for i in 0..y.len() {
            for j in 0..y.len() {
                if y[i] && !y[j] {
                    den += 1.0;
                    num += if s[i] > s[j] {
                        1.0
                    } else if s[i] == s[j] {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
        }
        num / den
    }

    proptest! {
        #[test]
        fn binary_metrics_are_in_unit_interval_and_counts_add_up(
            samples in prop::collection::vec((any::<bool>(), 0.0f64..1.0, any::<bool>()), 1..200)
        ) {
            let mut acc = BinaryAccumulator::default();
            for (i, (y, s, label_pred)) in samples.iter().enumerate() {
                acc.add(i as u64, Some(*s), *label_pred, *y);
            }
            prop_assert_eq!(acc.confusion().total() as usize, samples.len());
            let b = acc.block("1", "0");
            let cm_total: u64 = b.confusion_matrix.as_ref().unwrap().values().flat_map(|r| r.values()).sum();
            prop_assert_eq!(cm_total as usize, samples.len());
            for (name, v) in &b.metrics {
                prop_assert!(v.value.is_nan() || (0.0..=1.0).contains(&v.value), "{} = {}", name, v.value);
            }
        }

        #[test]
        fn histogram_auc_is_within_its_bound_of_the_exact_value(
            samples in prop::collection::vec((any::<bool>(), 0u32..70_000), 2..120)
        ) {
            // Scores on a grid finer than the bins, so that some pairs share a bin without being equal.
            let y: Vec<bool> = samples.iter().map(|s| s.0).collect();
            let s: Vec<f64> = samples.iter().map(|s| s.1 as f64 / 70_000.0).collect();
            prop_assume!(y.iter().any(|&v| v) && y.iter().any(|&v| !v));
            let mut h = ScoreHistogram::default();
            for i in 0..y.len() {
                h.add(s[i], y[i], 1.0);
            }
            let (auc, bound) = h.auc().unwrap();
            let exact = exact_auc(&y, &s);
            prop_assert!((auc - exact).abs() <= bound + 1e-12, "auc {} exact {} bound {}", auc, exact, bound);
            prop_assert!((0.0..=1.0).contains(&auc));
        }

        /// The accumulators of parts of a sample, merged, give the metrics (and replicate deviations) of the whole:
        /// what the distributed evaluation relies on.
        #[test]
        fn accumulators_of_parts_merge_into_the_whole(
            samples in prop::collection::vec((any::<bool>(), -0.5f64..1.5, any::<bool>(), 0usize..5, 0usize..3), 1..300),
            cut in 0usize..300,
        ) {
            let cut = cut.min(samples.len());
            let names: Vec<String> = (0..5).map(|i| format!("c{i}")).collect();
            let (mut binary, mut multiclass, mut regression) =
                ([BinaryAccumulator::default(), BinaryAccumulator::default(), BinaryAccumulator::default()],
                 [MulticlassAccumulator::default(), MulticlassAccumulator::default(), MulticlassAccumulator::default()],
                 [RegressionAccumulator::default(), RegressionAccumulator::default(), RegressionAccumulator::default()]);
            for (i, (y, score, predicted, class, actual)) in samples.iter().enumerate() {
                let key = i as u64 * 0x9E37_79B9;
                for part in [0, 1 + usize::from(i >= cut)] {
                    binary[part].add(key, Some(*score), *predicted, *y);
                    // Part 2 sees classes its sibling never saw: the merge grows the matrix.
                    multiclass[part].add(key, *class, *actual + usize::from(i >= cut));
                    regression[part].add(key, *score, *score + *actual as f64);
                }
            }
            let [whole, mut first, second] = binary;
            first.merge(&second);
            let blocks = [
                (whole.block("1", "0"), first.block("1", "0")),
                (multiclass[0].block(&names), { let [_, mut a, b] = multiclass; a.merge(&b); a.block(&names) }),
                (regression[0].block(), { let [_, mut a, b] = regression; a.merge(&b); a.block() }),
            ];
            for (whole, merged) in blocks {
                prop_assert_eq!(&whole.confusion_matrix, &merged.confusion_matrix);
                for (name, w) in &whole.metrics {
                    let m = &merged.metrics[name];
                    prop_assert!(close(w.value, m.value, 1e-9 * w.value.abs().max(1.0)), "{} {} vs {}", name, w.value, m.value);
                    prop_assert!(
                        close(w.standard_deviation, m.standard_deviation, 1e-9),
                        "{} sd {} vs {}", name, w.standard_deviation, m.standard_deviation
                    );
                }
            }
        }

        #[test]
        fn multiclass_metrics_are_in_unit_interval(
            samples in prop::collection::vec((0usize..6, 0usize..6), 1..200)
        ) {
            let names: Vec<String> = (0..6).map(|i| format!("c{i}")).collect();
            let mut acc = MulticlassAccumulator::default();
            for (i, (p, a)) in samples.iter().enumerate() {
                acc.add(i as u64, *p, *a);
            }
            let b = acc.block(&names);
            let cm_total: u64 = b.confusion_matrix.as_ref().unwrap().values().flat_map(|r| r.values()).sum();
            prop_assert_eq!(cm_total as usize, samples.len());
            for (name, v) in &b.metrics {
                prop_assert!((0.0..=1.0 + 1e-12).contains(&v.value), "{} = {}", name, v.value);
            }
        }
    }
}
