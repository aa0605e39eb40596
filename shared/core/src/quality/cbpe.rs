//! Label-free performance estimates for binary classifiers: confidence-based performance estimation (CBPE).
//!
//! A calibrator is fitted on a labelled reference set of (score, label); for unlabelled predictions each calibrated
//! probability `p` is the chance the sample is positive, so the expected confusion matrix is, summed over samples,
//! `TP += p, FN += 0` for a predicted positive (`FP += 1 - p`) and `FN += p, TN += 1 - p` for a predicted negative.
//! Accuracy, precision, recall and F1 are computed from the expected counts (the ratio of expectations, as NannyML
//! does). The expected ROC AUC weighs every pair of samples by `p_i (1 - p_j)`, with the same histogram as the
//! labelled AUC (weights instead of counts), so memory stays fixed.
//!
//! The calibrator is isotonic regression (pool-adjacent-violators on the reference scores, ties averaged first,
//! predictions interpolated linearly between block ends and clipped outside the fitted range), which is what
//! scikit-learn's `IsotonicRegression(out_of_bounds="clip")` computes. It assumes what CBPE always assumes: the
//! relation between score and outcome (the concept) is the same in the reference and the analysed data; only the
//! distribution of the inputs may change.
//!
//! # Stored calibration
//!
//! [`CbpeCalibration`] is what the baseline keeps ([`CBPE_CALIBRATION_FILE`], JSON): the fitted calibrator and the
//! decision rule (threshold, positive label) whose performance it estimates. The evaluation streams each window's
//! scores through its [`CbpeAccumulator`] and publishes [`estimate_metric_data`]: `estimated_accuracy`,
//! `estimated_precision`, `estimated_recall`, `estimated_f1` and `estimated_auc` under Model Monitor's model-metrics
//! namespace, beside (never instead of) the realised metrics.

use serde::{Deserialize, Serialize};

use super::metrics::{BinaryConfusion, BinaryOptions, ScoreHistogram};
use crate::metrics::{MODEL_METRICS_NAMESPACE, MetricDatum, MetricScope, Unit};

/// The calibration's file name (in the baseline's `model-quality/` folder).
pub const CBPE_CALIBRATION_FILE: &str = "cbpe_calibration.json";
/// The calibration format version this code writes and reads.
pub const CBPE_VERSION: u32 = 1;

/// Why a calibrator could not be fitted or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CbpeError {
    #[error("the reference set has no sample with a finite score")]
    EmptyReference,
    #[error("the CBPE calibration is not valid: {0}")]
    Invalid(String),
}

/// A monotone map from score to probability of the positive class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsotonicCalibrator {
    /// Increasing scores (the ends of the fitted blocks).
    xs: Vec<f64>,
    /// Non-decreasing probabilities at `xs`.
    ys: Vec<f64>,
}

impl IsotonicCalibrator {
    /// Fits on labelled (score, actual positive) pairs; non-finite scores are ignored.
    ///
    /// # Errors
    ///
    /// [`CbpeError::EmptyReference`] when no pair has a finite score.
    pub fn fit(pairs: impl IntoIterator<Item = (f64, bool)>) -> Result<Self, CbpeError> {
        let mut pairs: Vec<(f64, f64)> = pairs
            .into_iter()
            .filter(|(s, _)| s.is_finite())
            .map(|(s, y)| (s, if y { 1.0 } else { 0.0 }))
            .collect();
        if pairs.is_empty() {
            return Err(CbpeError::EmptyReference);
        }
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Equal scores are averaged first (weighted): pooling must see each distinct score once, because pooling
        // never splits a block again and later samples at the same score could undo a violation.
        let mut unique: Vec<(f64, f64, f64)> = Vec::new(); // (x, sum of y, weight)
        for (x, y) in pairs {
            match unique.last_mut() {
                Some(last) if last.0 == x => {
                    last.1 += y;
                    last.2 += 1.0;
                }
                _ => unique.push((x, y, 1.0)),
            }
        }
        // Pool adjacent violators: blocks of (sum of y, weight, first x, last x) with non-decreasing means.
        let mut blocks: Vec<(f64, f64, f64, f64)> = Vec::with_capacity(unique.len());
        for (x, sum, w) in unique {
            blocks.push((sum, w, x, x));
            while blocks.len() >= 2 {
                let (b, a) = (blocks[blocks.len() - 1], blocks[blocks.len() - 2]);
                if a.0 / a.1 <= b.0 / b.1 {
                    break;
                }
                blocks.pop();
                let last = blocks.last_mut().expect("two blocks were present");
                *last = (a.0 + b.0, a.1 + b.1, a.2, b.3);
            }
        }
        let mut xs = Vec::with_capacity(blocks.len() * 2);
        let mut ys = Vec::with_capacity(blocks.len() * 2);
        for (sum, w, first, last) in blocks {
            xs.push(first);
            ys.push(sum / w);
            if last != first {
                xs.push(last);
                ys.push(sum / w);
            }
        }
        Ok(IsotonicCalibrator { xs, ys })
    }

    /// Checks what a deserialised calibrator must hold: as many probabilities as scores, at least one, finite
    /// increasing scores and non-decreasing probabilities in [0, 1].
    fn validate(&self) -> Result<(), String> {
        if self.xs.is_empty() || self.xs.len() != self.ys.len() {
            return Err(format!(
                "{} scores and {} probabilities; they must be as many and at least one",
                self.xs.len(),
                self.ys.len()
            ));
        }
        if !self.xs.iter().all(|x| x.is_finite()) || self.xs.windows(2).any(|w| w[0] >= w[1]) {
            return Err("the scores must be finite and increasing".to_owned());
        }
        if !self.ys.iter().all(|y| (0.0..=1.0).contains(y)) || self.ys.windows(2).any(|w| w[0] > w[1]) {
            return Err("the probabilities must lie in [0, 1] and never decrease".to_owned());
        }
        Ok(())
    }

    /// The calibrated probability of a score (NaN for a NaN score).
    pub fn predict(&self, score: f64) -> f64 {
        if score.is_nan() {
            return f64::NAN;
        }
        let n = self.xs.len();
        if score <= self.xs[0] {
            return self.ys[0];
        }
        if score >= self.xs[n - 1] {
            return self.ys[n - 1];
        }
        // First index with xs[i] > score; the segment is [i - 1, i].
        let i = self.xs.partition_point(|&x| x <= score);
        let (x0, x1, y0, y1) = (self.xs[i - 1], self.xs[i], self.ys[i - 1], self.ys[i]);
        y0 + (y1 - y0) * (score - x0) / (x1 - x0)
    }
}

/// Estimated metrics of an unlabelled set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EstimatedMetrics {
    /// Samples estimated.
    pub n: u64,
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// NaN when all calibrated probabilities are 0 or all are 1.
    pub auc: f64,
    /// The expected confusion matrix.
    pub expected: BinaryConfusion,
}

/// Streams unlabelled predictions into a CBPE estimate. Memory: one score histogram (2 MiB).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CbpeAccumulator {
    calibrator: IsotonicCalibrator,
    threshold: f64,
    expected: BinaryConfusion,
    scores: ScoreHistogram,
    n: u64,
}

impl CbpeAccumulator {
    /// An empty estimate; predictions without a predicted label are positive when `score >= threshold`.
    pub fn new(calibrator: IsotonicCalibrator, threshold: f64) -> Self {
        CbpeAccumulator {
            calibrator,
            threshold,
            expected: BinaryConfusion::default(),
            scores: ScoreHistogram::default(),
            n: 0,
        }
    }

    /// Adds one prediction: its score and, when the endpoint gave one, its predicted class. NaN scores are ignored.
    pub fn add(&mut self, score: f64, predicted_positive: Option<bool>) {
        if score.is_nan() {
            return;
        }
        let p = self.calibrator.predict(score);
        let predicted = predicted_positive.unwrap_or(score >= self.threshold);
        self.expected.add(predicted, true, p);
        self.expected.add(predicted, false, 1.0 - p);
        self.scores.add(score, true, p);
        self.scores.add(score, false, 1.0 - p);
        self.n += 1;
    }

    /// Adds another accumulator's predictions, estimated under the same calibration (another chunk or part of the
    /// window): the expected counts and score histogram of both.
    pub fn merge(&mut self, other: &CbpeAccumulator) {
        self.expected.merge(&other.expected);
        self.scores.merge(&other.scores);
        self.n += other.n;
    }

    /// The estimate so far.
    pub fn estimate(&self) -> EstimatedMetrics {
        let r = self.expected.rates();
        EstimatedMetrics {
            n: self.n,
            accuracy: r.accuracy,
            precision: r.precision,
            recall: r.recall,
            f1: r.f1,
            auc: self.scores.auc().map_or(f64::NAN, |(a, _)| a),
            expected: self.expected,
        }
    }
}

/// A fitted calibration and the decision rule it estimates: what the baseline stores for label-free estimates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CbpeCalibration {
    pub version: u32,
    /// How a prediction is decided positive (threshold, positive label), as on the labelled reference set.
    pub options: BinaryOptions,
    /// Reference samples with a finite score that the calibrator was fitted on.
    pub reference_samples: u64,
    pub calibrator: IsotonicCalibrator,
}

impl CbpeCalibration {
    /// Fits on a labelled reference set of `(actual label, score)`; a label is positive when it is
    /// `options.positive_label` (normalised). Samples without a finite score are ignored.
    ///
    /// # Errors
    ///
    /// [`CbpeError::EmptyReference`] when no sample has a finite score.
    pub fn fit<'a>(
        options: BinaryOptions,
        samples: impl IntoIterator<Item = (&'a str, Option<f64>)>,
    ) -> Result<Self, CbpeError> {
        let positive = super::normalize_class(&options.positive_label).into_owned();
        let pairs: Vec<(f64, bool)> = samples
            .into_iter()
            .filter_map(|(label, score)| {
                let s = score.filter(|s| s.is_finite())?;
                Some((s, super::normalize_class(label) == positive.as_str()))
            })
            .collect();
        let reference_samples = pairs.len() as u64;
        let calibrator = IsotonicCalibrator::fit(pairs)?;
        Ok(CbpeCalibration {
            version: CBPE_VERSION,
            options,
            reference_samples,
            calibrator,
        })
    }

    /// Reads the file written by [`CbpeCalibration::to_json`].
    ///
    /// # Errors
    ///
    /// [`CbpeError::Invalid`] for text that is not a calibration of this version, or whose calibrator is not
    /// monotone.
    pub fn from_json(text: &str) -> Result<Self, CbpeError> {
        let c: CbpeCalibration = serde_json::from_str(text).map_err(|e| CbpeError::Invalid(e.to_string()))?;
        if c.version != CBPE_VERSION {
            return Err(CbpeError::Invalid(format!(
                "version {}, this build reads version {CBPE_VERSION}",
                c.version
            )));
        }
        if !(0.0..=1.0).contains(&c.options.threshold) {
            return Err(CbpeError::Invalid(format!(
                "threshold {} is not in [0, 1]",
                c.options.threshold
            )));
        }
        c.calibrator.validate().map_err(CbpeError::Invalid)?;
        Ok(c)
    }

    /// The calibration as pretty JSON.
    pub fn to_json(&self) -> String {
        // Plain numbers, strings and vectors: serialisation cannot fail.
        serde_json::to_string_pretty(self).expect("a calibration serialises")
    }

    /// An empty estimate under this calibration.
    pub fn accumulator(&self) -> CbpeAccumulator {
        CbpeAccumulator::new(self.calibrator.clone(), self.options.threshold)
    }

    /// Adds one prediction of an unlabelled window to `acc`: its score and, when the endpoint gave one, its
    /// predicted class, decided by this calibration's options. Predictions without a finite score are not estimated.
    pub fn add(&self, acc: &mut CbpeAccumulator, score: Option<f64>, predicted_label: Option<&str>) {
        let Some(s) = score.filter(|s| s.is_finite()) else {
            return;
        };
        acc.add(s, self.options.predicted_positive(Some(s), predicted_label));
    }
}

/// The CloudWatch data of an estimate: `estimated_<metric>` for accuracy, precision, recall, f1 and auc, under
/// Model Monitor's model-metrics namespace; nothing for an estimate of no sample, and no NaN.
pub fn estimate_metric_data(estimate: &EstimatedMetrics, scope: &MetricScope) -> Vec<MetricDatum> {
    if estimate.n == 0 {
        return Vec::new();
    }
    estimate
        .values()
        .into_iter()
        .filter(|(_, v)| v.is_finite())
        .map(|(name, v)| scope.datum(MODEL_METRICS_NAMESPACE, format!("estimated_{name}"), v, Unit::None))
        .collect()
}

impl EstimatedMetrics {
    /// The estimated metrics by their Model Monitor names, in a fixed order.
    pub fn values(&self) -> [(&'static str, f64); 5] {
        [
            ("accuracy", self.accuracy),
            ("precision", self.precision),
            ("recall", self.recall),
            ("f1", self.f1),
            ("auc", self.auc),
        ]
    }

    /// The estimate of the metric `name`, if it is one of [`EstimatedMetrics::values`].
    pub fn value(&self, name: &str) -> Option<f64> {
        self.values().into_iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::metrics::BinaryAccumulator;
    use rand::{Rng, SeedableRng, rngs::SmallRng};

    #[test]
    fn isotonic_fit_matches_scikit_learn() {
        // scikit-learn 1.9.1: IsotonicRegression(out_of_bounds="clip").fit(x, y) with
        // x = [0.1, 0.2, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], y = [0, 1, 0, 0, 1, 0, 1, 1];
        // predict([0.05, 0.1, 0.2, 0.25, 0.3, 0.45, 0.5, 0.55, 0.65, 0.9]) =
        // [0., 0., 0.3333333333333333, 0.3333333333333333, 0.3333333333333333, 0.5, 0.5, 0.7500000000000002, 1., 1.]
        let x = [0.1, 0.2, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7];
        let y = [0, 1, 0, 0, 1, 0, 1, 1];
        let cal = IsotonicCalibrator::fit(x.iter().zip(y).map(|(&x, y)| (x, y == 1))).unwrap();
        let want = [
            0.,
            0.,
            0.3333333333333333,
            0.3333333333333333,
            0.3333333333333333,
            0.5,
            0.5,
            0.75,
            1.,
            1.,
        ];
        for (s, w) in [0.05, 0.1, 0.2, 0.25, 0.3, 0.45, 0.5, 0.55, 0.65, 0.9].iter().zip(want) {
            assert!(
                (cal.predict(*s) - w).abs() < 1e-12,
                "predict({s}) = {} want {w}",
                cal.predict(*s)
            );
        }
        assert_eq!(
            IsotonicCalibrator::fit([(f64::NAN, true)]),
            Err(CbpeError::EmptyReference)
        );
    }

    #[test]
    fn stored_calibration_round_trips_and_rejects_what_it_cannot_use() {
        let options = BinaryOptions {
            positive_label: "yes".into(),
            threshold: 0.4,
            ..BinaryOptions::default()
        };
        // Labels normalised against the positive label; rows without a finite score are left out.
        let rows = [
            ("yes", Some(0.9)),
            (" \"yes\" ", Some(0.7)),
            ("no", Some(0.3)),
            ("no", Some(0.8)),
            ("yes", None),
            ("no", Some(f64::NAN)),
        ];
        let c = CbpeCalibration::fit(options.clone(), rows).unwrap();
        assert_eq!(c.reference_samples, 4);
        // Pool adjacent violators by hand: 0.3 -> 0, (0.7, 0.8) pooled -> 1/2, 0.9 -> 1; linear in between.
        for (s, p) in [
            (0.3, 0.0),
            (0.7, 0.5),
            (0.75, 0.5),
            (0.8, 0.5),
            (0.85, 0.75),
            (0.9, 1.0),
        ] {
            assert!(
                (c.calibrator.predict(s) - p).abs() < 1e-12,
                "{s}: {}",
                c.calibrator.predict(s)
            );
        }
        let back = CbpeCalibration::from_json(&c.to_json()).unwrap();
        assert_eq!(back, c);

        // The estimate decides by the stored rule: a label when given, else the threshold (0.4, not 0.5).
        let mut acc = c.accumulator();
        c.add(&mut acc, Some(0.45), None);
        c.add(&mut acc, Some(0.9), Some("no"));
        c.add(&mut acc, None, Some("yes"));
        let e = acc.estimate();
        assert_eq!(e.n, 2);
        // 0.45 -> p = 0.5 * (0.45 - 0.3) / 0.4 = 0.1875, predicted positive; 0.9 -> p = 1, predicted negative.
        assert!((e.expected.true_positives - 0.1875).abs() < 1e-12);
        assert!((e.expected.false_negatives - 1.0).abs() < 1e-12);
        assert!((e.accuracy - 0.1875 / 2.0).abs() < 1e-12);

        let bad = [
            c.to_json().replace("\"version\": 1", "\"version\": 2"),
            c.to_json().replace("\"threshold\": 0.4", "\"threshold\": 1.5"),
            r#"{"version": 1, "options": {}, "reference_samples": 0, "calibrator": {"xs": [], "ys": []}}"#.to_owned(),
            r#"{"version": 1, "options": {}, "reference_samples": 2, "calibrator": {"xs": [0.5, 0.2], "ys": [0, 1]}}"#
                .to_owned(),
            r#"{"version": 1, "options": {}, "reference_samples": 2, "calibrator": {"xs": [0.2, 0.5], "ys": [1, 0]}}"#
                .to_owned(),
            r#"{"version": 1, "options": {}, "reference_samples": 1, "calibrator": {"xs": [0.2], "ys": [0.1, 0.2]}}"#
                .to_owned(),
            "[]".to_owned(),
        ];
        for text in bad {
            assert!(
                matches!(CbpeCalibration::from_json(&text), Err(CbpeError::Invalid(_))),
                "{text}"
            );
        }
        assert_eq!(
            CbpeCalibration::fit(BinaryOptions::default(), [("1", None)]),
            Err(CbpeError::EmptyReference)
        );
    }

    #[test]
    fn estimates_of_parts_merge_into_the_estimate_of_the_whole() {
        let calibration = CbpeCalibration::fit(
            BinaryOptions::default(),
            [("0", Some(0.1)), ("0", Some(0.4)), ("1", Some(0.35)), ("1", Some(0.9))],
        )
        .unwrap();
        let mut rng = SmallRng::seed_from_u64(5);
        let scores: Vec<f64> = (0..1000).map(|_| rng.random::<f64>()).collect();
        let mut whole = calibration.accumulator();
        let mut parts = [calibration.accumulator(), calibration.accumulator()];
        for (i, s) in scores.iter().enumerate() {
            whole.add(*s, None);
            parts[usize::from(i >= 300)].add(*s, None);
        }
        let [mut merged, second] = parts;
        merged.merge(&second);
        let (w, m) = (whole.estimate(), merged.estimate());
        assert_eq!(m.n, 1000);
        for (a, b) in [
            (w.accuracy, m.accuracy),
            (w.f1, m.f1),
            (w.auc, m.auc),
            (w.precision, m.precision),
        ] {
            assert!((a - b).abs() < 1e-12 && a.is_finite(), "{a} vs {b}");
        }
    }

    #[test]
    fn estimate_metrics_are_named_and_skip_what_is_not_a_number() {
        let scope = MetricScope {
            endpoint: "ep".into(),
            schedule: "s".into(),
            timestamp: chrono::DateTime::from_timestamp(0, 0).unwrap(),
        };
        let c = CbpeCalibration::fit(BinaryOptions::default(), [("0", Some(0.2)), ("1", Some(0.6))]).unwrap();
        let mut acc = c.accumulator();
        assert!(
            estimate_metric_data(&acc.estimate(), &scope).is_empty(),
            "nothing estimated"
        );
        // All calibrated probabilities are 1: AUC is undefined and not published.
        c.add(&mut acc, Some(0.9), None);
        let data = estimate_metric_data(&acc.estimate(), &scope);
        let names: Vec<&str> = data.iter().map(|d| d.metric_name.as_str()).collect();
        assert_eq!(
            names,
            [
                "estimated_accuracy",
                "estimated_precision",
                "estimated_recall",
                "estimated_f1"
            ]
        );
        assert!(
            data.iter()
                .all(|d| d.namespace == MODEL_METRICS_NAMESPACE && d.value == 1.0)
        );
    }

    #[test]
    fn perfectly_calibrated_scores_are_estimated_within_sampling_error() {
        let mut rng = SmallRng::seed_from_u64(7);
        let draw = |rng: &mut SmallRng, n: usize| -> Vec<(f64, bool)> {
            (0..n)
                .map(|_| {
                    let s: f64 = rng.random();
                    (s, rng.random::<f64>() < s)
                })
                .collect()
        };
        let cal = IsotonicCalibrator::fit(draw(&mut rng, 20_000)).unwrap();
        let analysis = draw(&mut rng, 20_000);
        let mut est = CbpeAccumulator::new(cal, 0.5);
        let mut real = BinaryAccumulator::default();
        for (i, (s, y)) in analysis.iter().enumerate() {
            est.add(*s, None);
            real.add(i as u64, Some(*s), *s >= 0.5, *y);
        }
        let e = est.estimate();
        let r = real.block("1", "0");
        for (name, v) in [
            ("accuracy", e.accuracy),
            ("precision", e.precision),
            ("recall", e.recall),
            ("f1", e.f1),
            ("auc", e.auc),
        ] {
            let real = r.value(name).unwrap();
            assert!((v - real).abs() < 0.02, "{name}: estimated {v} realised {real}");
        }
        // Uniform calibrated scores: accuracy 0.75 and AUC 5/6 in expectation.
        assert!((e.accuracy - 0.75).abs() < 0.02 && (e.auc - 5.0 / 6.0).abs() < 0.02);
    }

    /// Columns of a simple CSV (no quoted fields: asserted) by header name.
    fn read_csv(path: &std::path::Path, columns: &[&str]) -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(!text.contains('"'), "{} has quoted fields", path.display());
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let idx: Vec<usize> = columns
            .iter()
            .map(|c| header.iter().position(|h| h == c).unwrap())
            .collect();
        lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                assert_eq!(f.len(), header.len());
                idx.iter().map(|&i| f[i].to_owned()).collect()
            })
            .collect()
    }

    #[test]
    fn cbpe_tracks_realised_performance_on_nannyml_california_housing() {
        let Some(root) = crate::testing::realdata() else { return };
        let dir = root.join("datasets/nannyml_california_housing");
        let reference = read_csv(
            &dir.join("california_housing_reference.csv"),
            &["clf_target", "y_pred_proba", "y_pred"],
        );
        let analysis = read_csv(
            &dir.join("california_housing_analysis.csv"),
            &["id", "y_pred_proba", "y_pred"],
        );
        let truth: std::collections::HashMap<String, bool> =
            read_csv(&dir.join("california_housing_analysis_gt.csv"), &["id", "clf_target"])
                .into_iter()
                .map(|r| (r[0].clone(), r[1] == "1"))
                .collect();
        assert_eq!((reference.len(), analysis.len(), truth.len()), (5832, 8232, 8232));
        let f = |s: &str| s.parse::<f64>().unwrap();
        let cal = IsotonicCalibrator::fit(reference.iter().map(|r| (f(&r[1]), r[0] == "1"))).unwrap();
        // scikit-learn 1.9.1: IsotonicRegression(out_of_bounds="clip").fit(reference.y_pred_proba,
        // reference.clf_target).predict([0.00, 0.01, ..., 1.00]), rounded to 6 decimals.
        #[rustfmt::skip]
        const SKLEARN: [f64; 101] = [
            0.026667, 0.045685, 0.045685, 0.045685, 0.045685, 0.045685, 0.065789, 0.118012, 0.118012, 0.118012,
            0.169643, 0.169643, 0.201878, 0.201878, 0.201878, 0.201878, 0.233333, 0.25, 0.25, 0.25,
            0.25, 0.259259, 0.318841, 0.318841, 0.318841, 0.318841, 0.318841, 0.318841, 0.369565, 0.38961,
            0.38961, 0.414062, 0.414062, 0.414062, 0.418605, 0.467742, 0.467742, 0.467742, 0.467742, 0.528455,
            0.528455, 0.528455, 0.571429, 0.571429, 0.653465, 0.653465, 0.653465, 0.653465, 0.653465, 0.6875,
            0.737913, 0.737913, 0.737913, 0.737913, 0.737913, 0.737913, 0.737913, 0.737913, 0.737913, 0.737913,
            0.765957, 0.780488, 0.786667, 0.786667, 0.804167, 0.804167, 0.804167, 0.804167, 0.804167, 0.849162,
            0.849162, 0.849162, 0.849162, 0.849162, 0.849162, 0.849162, 0.927184, 0.927184, 0.927184, 0.927184,
            0.927184, 0.927184, 0.927184, 0.948718, 0.960656, 0.960656, 0.960656, 0.960656, 0.967033, 0.987342,
            0.988764, 0.989848, 0.989848, 0.997275, 0.997275, 0.997275, 0.997275, 0.997275, 0.997275, 0.997275,
            1.0,
        ];
        for (i, want) in SKLEARN.iter().enumerate() {
            let got = cal.predict(i as f64 / 100.0);
            assert!(
                (got - want).abs() < 1e-6,
                "calibrated {:.2}: {got} vs {want}",
                i as f64 / 100.0
            );
        }

        // The reference period against itself: the estimate must reproduce the realised values closely.
        let mut est = CbpeAccumulator::new(cal.clone(), 0.5);
        let mut real = BinaryAccumulator::default();
        for (i, r) in reference.iter().enumerate() {
            est.add(f(&r[1]), Some(r[2] == "1"));
            real.add(i as u64, Some(f(&r[1])), r[2] == "1", r[0] == "1");
        }
        let (e, b) = (est.estimate(), real.block("1", "0"));
        for (name, v) in [
            ("accuracy", e.accuracy),
            ("precision", e.precision),
            ("recall", e.recall),
            ("f1", e.f1),
            ("auc", e.auc),
        ] {
            assert!((v - b.value(name).unwrap()).abs() < 0.01, "reference {name}");
        }

        // Analysis period in chunks of 5,000 rows (the last one partial), estimated without labels and compared with
        // the realised values from the ground truth. Measured worst absolute errors over the two chunks: accuracy
        // 0.071, precision 0.016, recall 0.040, f1 0.044, auc 0.054 (the analysis period drifts; CBPE cannot see a
        // change of the concept itself, so errors of a few points are expected).
        const BOUND: f64 = 0.08;
        // The same estimate computed in Python (scikit-learn 1.9.1 IsotonicRegression(out_of_bounds="clip") on the
        // reference, expected confusion matrix and pairwise expected AUC per chunk), in the order accuracy,
        // precision, recall, f1, auc.
        const PYTHON: [[f64; 5]; 2] = [
            [
                0.6393427820070862,
                0.9673519097868001,
                0.16767374370319071,
                0.28580766556888104,
                0.8243982282565103,
            ],
            [
                0.6618295349505534,
                0.9690691415734439,
                0.346476553092148,
                0.5104493705415268,
                0.9064738464448988,
            ],
        ];
        let mut worst = [0.0f64; 5];
        for (c, chunk) in analysis.chunks(5000).enumerate() {
            let mut est = CbpeAccumulator::new(cal.clone(), 0.5);
            let mut real = BinaryAccumulator::default();
            for (i, r) in chunk.iter().enumerate() {
                let (s, pred) = (f(&r[1]), r[2] == "1");
                est.add(s, Some(pred));
                real.add(i as u64, Some(s), pred, truth[&r[0]]);
            }
            let (e, b) = (est.estimate(), real.block("1", "0"));
            let pairs = [e.accuracy, e.precision, e.recall, e.f1, e.auc];
            for k in 0..5 {
                assert!(
                    (pairs[k] - PYTHON[c][k]).abs() < 1e-9,
                    "chunk {c} metric {k}: {} vs {}",
                    pairs[k],
                    PYTHON[c][k]
                );
            }
            for (k, name) in ["accuracy", "precision", "recall", "f1", "auc"].iter().enumerate() {
                let err = (pairs[k] - b.value(name).unwrap()).abs();
                eprintln!(
                    "chunk of {}: {name} estimated {:.4} realised {:.4} error {err:.4}",
                    chunk.len(),
                    pairs[k],
                    b.value(name).unwrap()
                );
                worst[k] = worst[k].max(err);
            }
        }
        eprintln!("worst absolute error (accuracy, precision, recall, f1, auc): {worst:?}");
        assert!(worst.iter().all(|&e| e <= BOUND), "{worst:?}");
    }
}
