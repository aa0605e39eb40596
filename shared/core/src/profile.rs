//! Mergeable per-feature profiles, built in one streaming pass.
//!
//! A [`FeatureProfile`] holds what Model Monitor's statistics need and what drift needs: counts by inferred value
//! type, moments, exact min and max, a KLL sketch of the numbers and a bounded count of the strings. Profiles of
//! parts of the data (an hour, a shard, a file) merge into the profile of the whole: `merge` is commutative and
//! associative, exactly for counts, within floating-point rounding for moments (Chan et al.'s pairwise update) and
//! within the sketch's bound for quantiles. Profiles serialise to JSON so partial results can be stored and merged
//! later.

use serde::{Deserialize, Serialize};

// The column type is the capture schema's; re-exported so that `profile::InferredType` keeps working.
pub use crate::capture::InferredType;

use crate::capture::{CaptureRow, Value};
use crate::sketch::{HeavyHitters, KllSketch};

/// Count, mean, variance, sum, min and max, merged with Chan et al.'s parallel update so that merging partial
/// results loses no precision to catastrophic cancellation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    pub count: u64,
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
    pub sum: f64,
    /// `+inf` while empty (written as `null` in JSON).
    #[serde(deserialize_with = "null_as_pos_inf")]
    pub min: f64,
    /// `-inf` while empty (written as `null` in JSON).
    #[serde(deserialize_with = "null_as_neg_inf")]
    pub max: f64,
}

/// JSON has no infinities: serde_json writes them as `null`, which reads back as the empty bound.
fn null_as_pos_inf<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Option::<f64>::deserialize(d).map(|v| v.unwrap_or(f64::INFINITY))
}

fn null_as_neg_inf<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Option::<f64>::deserialize(d).map(|v| v.unwrap_or(f64::NEG_INFINITY))
}

impl Default for Moments {
    fn default() -> Self {
        Self {
            count: 0,
            mean: 0.0,
            m2: 0.0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

/// The mean and sum of squared deviations of two samples together, from each one's count, mean and sum of squared
/// deviations (Chan, Golub and LeVeque, 1979): no precision lost to cancellation. Every merge of running moments
/// (profiles, prediction summaries, regression targets) combines with it.
pub fn combine_moments((n_a, mean_a, m2_a): (u64, f64, f64), (n_b, mean_b, m2_b): (u64, f64, f64)) -> (f64, f64) {
    if n_b == 0 {
        return (mean_a, m2_a);
    }
    if n_a == 0 {
        return (mean_b, m2_b);
    }
    let n = (n_a + n_b) as f64;
    let delta = mean_b - mean_a;
    (
        mean_a + delta * n_b as f64 / n,
        m2_a + m2_b + delta * delta * n_a as f64 * n_b as f64 / n,
    )
}

impl Moments {
    /// Adds one value (Welford's update).
    #[inline]
    pub fn add(&mut self, x: f64) {
        self.count += 1;
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
        self.sum += x;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }

    /// Adds another set of moments.
    pub fn merge(&mut self, other: &Moments) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        (self.mean, self.m2) = combine_moments((self.count, self.mean, self.m2), (other.count, other.mean, other.m2));
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// The population standard deviation (Model Monitor's `std_dev`); 0 for fewer than two values.
    pub fn std_dev(&self) -> f64 {
        if self.count < 2 {
            0.0
        } else {
            (self.m2 / self.count as f64).max(0.0).sqrt()
        }
    }
}

/// Which summaries a profile keeps, decided by the feature's expected type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tracking {
    /// A numeric feature: numbers are sketched; strings are only counted as type mismatches.
    Numeric,
    /// A string feature: every value's text is counted.
    Categorical,
    /// Unknown type (a baseline in the making): both, settled by [`FeatureProfile::inferred_type`].
    Both,
}

impl Tracking {
    /// The tracking for a feature of expected type `kind`.
    pub fn for_type(kind: Option<InferredType>) -> Self {
        match kind {
            Some(InferredType::Integral | InferredType::Fractional) => Self::Numeric,
            Some(InferredType::String) => Self::Categorical,
            Some(InferredType::Unknown) | None => Self::Both,
        }
    }
}

/// The streaming profile of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureProfile {
    pub name: String,
    pub tracking: Tracking,
    /// Values absent, null or empty.
    pub missing: u64,
    /// Values written as integers.
    pub integral: u64,
    /// Values written as other numbers.
    pub fractional: u64,
    /// Values that are not numbers.
    pub string: u64,
    /// Moments of the numeric values.
    pub moments: Moments,
    /// Quantile sketch of the numeric values (not kept for categorical tracking).
    pub sketch: Option<KllSketch>,
    /// Counts of the values' text (not kept for numeric tracking).
    pub categories: Option<HeavyHitters>,
}

impl FeatureProfile {
    /// An empty profile.
    pub fn new(name: impl Into<String>, tracking: Tracking) -> Self {
        Self {
            name: name.into(),
            tracking,
            missing: 0,
            integral: 0,
            fractional: 0,
            string: 0,
            moments: Moments::default(),
            sketch: (tracking != Tracking::Categorical).then(KllSketch::default),
            categories: (tracking != Tracking::Numeric).then(HeavyHitters::default),
        }
    }

    /// Adds a missing value.
    #[inline]
    pub fn add_missing(&mut self) {
        self.missing += 1;
    }

    /// Adds a number; `integral` when it was written without a fraction.
    #[inline]
    pub fn add_number(&mut self, value: f64, integral: bool) {
        if integral {
            self.integral += 1;
        } else {
            self.fractional += 1;
        }
        self.moments.add(value);
        if let Some(sketch) = &mut self.sketch {
            sketch.update(value);
        }
        if let Some(categories) = &mut self.categories {
            categories.add(&number_text(value));
        }
    }

    /// Adds a value that is not a number.
    #[inline]
    pub fn add_string(&mut self, text: &str) {
        self.string += 1;
        if let Some(categories) = &mut self.categories {
            categories.add(text);
        }
    }

    /// Adds everything another profile of the same feature holds.
    pub fn merge(&mut self, other: &FeatureProfile) {
        self.missing += other.missing;
        self.integral += other.integral;
        self.fractional += other.fractional;
        self.string += other.string;
        self.moments.merge(&other.moments);
        match (&mut self.sketch, &other.sketch) {
            (Some(mine), Some(theirs)) => mine.merge(theirs),
            (None, Some(theirs)) => self.sketch = Some(theirs.clone()),
            _ => {}
        }
        match (&mut self.categories, &other.categories) {
            (Some(mine), Some(theirs)) => mine.merge(theirs),
            (None, Some(theirs)) => self.categories = Some(theirs.clone()),
            _ => {}
        }
    }

    /// Values present (not missing).
    pub fn present(&self) -> u64 {
        self.integral + self.fractional + self.string
    }

    /// All values, present or missing.
    pub fn total(&self) -> u64 {
        self.present() + self.missing
    }

    /// The share of values present; 1 when there were none.
    pub fn completeness(&self) -> f64 {
        if self.total() == 0 {
            1.0
        } else {
            self.present() as f64 / self.total() as f64
        }
    }

    /// The type Model Monitor would infer: String if any value is not a number, else Fractional if any has a
    /// fraction, else Integral; Unknown with no value present.
    pub fn inferred_type(&self) -> InferredType {
        if self.string > 0 {
            InferredType::String
        } else if self.fractional > 0 {
            InferredType::Fractional
        } else if self.integral > 0 {
            InferredType::Integral
        } else {
            InferredType::Unknown
        }
    }

    /// The share of present values that conform to `expected` (Model Monitor's data type check): an Integral
    /// feature takes integers, a Fractional one any number, a String one anything. 1 when nothing is present.
    pub fn type_conformance(&self, expected: InferredType) -> f64 {
        let present = self.present();
        if present == 0 {
            return 1.0;
        }
        let conforming = match expected {
            InferredType::Integral => self.integral,
            InferredType::Fractional => self.integral + self.fractional,
            InferredType::String | InferredType::Unknown => present,
        };
        conforming as f64 / present as f64
    }

    /// Drops the summary the inferred type does not need (a numeric column's categories, a string column's
    /// sketch), once the profile is complete.
    pub fn settle(&mut self) {
        if self.tracking != Tracking::Both {
            return;
        }
        match self.inferred_type() {
            InferredType::String => {
                self.sketch = None;
                self.tracking = Tracking::Categorical;
            }
            InferredType::Integral | InferredType::Fractional => {
                self.categories = None;
                self.tracking = Tracking::Numeric;
            }
            InferredType::Unknown => {}
        }
    }
}

/// How a number is written as a category: integers without a fraction, so `1` and `1.0` are one class.
pub fn number_text(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// The profiles of all features of a data set, plus the model's outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetProfile {
    /// Rows profiled.
    pub item_count: u64,
    pub features: Vec<FeatureProfile>,
    /// The model's score (probability or regression output), when captured.
    pub prediction_score: FeatureProfile,
    /// The model's predicted label, when captured.
    pub prediction_label: FeatureProfile,
}

/// The name under which the score of the model's outputs is profiled and checked for drift.
pub const PREDICTION_SCORE: &str = "prediction_score";
/// The name under which the model's predicted labels are profiled and checked for drift.
pub const PREDICTION_LABEL: &str = "prediction_label";

impl DatasetProfile {
    /// An empty profile of features `(name, expected type)`.
    pub fn new(features: impl IntoIterator<Item = (String, Option<InferredType>)>) -> Self {
        Self {
            item_count: 0,
            features: features
                .into_iter()
                .map(|(n, t)| FeatureProfile::new(n, Tracking::for_type(t)))
                .collect(),
            prediction_score: FeatureProfile::new(PREDICTION_SCORE, Tracking::Numeric),
            prediction_label: FeatureProfile::new(PREDICTION_LABEL, Tracking::Categorical),
        }
    }

    /// Restarts every quantile sketch's generator from `salt` (see [`KllSketch::reseed`]): each chunk of a file read
    /// in parallel has its own.
    pub fn reseed(&mut self, salt: u64) {
        let features = self
            .features
            .iter_mut()
            .chain([&mut self.prediction_score, &mut self.prediction_label]);
        for (i, feature) in features.enumerate() {
            if let Some(sketch) = &mut feature.sketch {
                sketch.reseed(salt.wrapping_mul(0x1_0000_0001).wrapping_add(i as u64));
            }
        }
    }

    /// Adds one capture row: its feature values in schema order and its prediction.
    pub fn add_row(&mut self, row: &CaptureRow<'_>) {
        self.item_count += 1;
        if self.features.is_empty() && !row.values.is_empty() {
            // Schema learnt from the first row (headerless captures without a baseline).
            self.features = (0..row.values.len())
                .map(|i| FeatureProfile::new(format!("_c{i}"), Tracking::Both))
                .collect();
        }
        for (profile, value) in self.features.iter_mut().zip(row.values) {
            match *value {
                Value::Missing => profile.add_missing(),
                Value::Number { value, integral } => profile.add_number(value, integral),
                Value::Text { .. } => profile.add_string(row.text(*value)),
            }
        }
        if let Some(prediction) = row.prediction {
            match prediction.score {
                Some(score) if score.is_finite() => profile_score(&mut self.prediction_score, score),
                _ => self.prediction_score.add_missing(),
            }
            match &prediction.label {
                Some(label) => self.prediction_label.add_string(label),
                None => self.prediction_label.add_missing(),
            }
        }
    }

    /// Adds everything another profile of the same features holds.
    ///
    /// # Panics
    ///
    /// Never; features are matched by name, and features the other profile has that this one lacks are appended.
    pub fn merge(&mut self, other: &DatasetProfile) {
        self.item_count += other.item_count;
        for theirs in &other.features {
            match self.features.iter_mut().find(|f| f.name == theirs.name) {
                Some(mine) => mine.merge(theirs),
                None => self.features.push(theirs.clone()),
            }
        }
        self.prediction_score.merge(&other.prediction_score);
        self.prediction_label.merge(&other.prediction_label);
    }

    /// The profile of feature `name`.
    pub fn feature(&self, name: &str) -> Option<&FeatureProfile> {
        self.features.iter().find(|f| f.name == name)
    }
}

/// Adds a prediction's score to the profile of scores.
pub(crate) fn profile_score(profile: &mut FeatureProfile, score: f64) {
    profile.add_number(score, score.fract() == 0.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn numeric_profile(values: &[f64]) -> FeatureProfile {
        let mut p = FeatureProfile::new("x", Tracking::Numeric);
        values.iter().for_each(|v| p.add_number(*v, v.fract() == 0.0));
        p
    }

    #[test]
    fn moments_match_numpy() {
        // numpy 2.x: x = [2, 4, 4, 4, 5, 5, 7, 9]; x.mean() == 5.0, x.std() (ddof=0) == 2.0
        let p = numeric_profile(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(p.moments.mean, 5.0);
        assert!((p.moments.std_dev() - 2.0).abs() < 1e-12);
        assert_eq!(p.moments.sum, 40.0);
        assert_eq!((p.moments.min, p.moments.max), (2.0, 9.0));
    }

    #[test]
    fn moments_stay_precise_with_a_large_offset() {
        // Naive sum-of-squares loses everything here; Welford and Chan do not.
        let values: Vec<f64> = (0..1000).map(|i| 1e9 + (i % 10) as f64).collect();
        let whole = numeric_profile(&values);
        let mut merged = numeric_profile(&values[..333]);
        merged.merge(&numeric_profile(&values[333..]));
        // Population std of 0..9 repeated is sqrt(8.25).
        assert!((whole.moments.std_dev() - 8.25f64.sqrt()).abs() < 1e-6);
        assert!((merged.moments.std_dev() - 8.25f64.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn type_inference_and_conformance_follow_model_monitor() {
        let mut p = FeatureProfile::new("x", Tracking::Both);
        p.add_number(1.0, true);
        p.add_number(2.5, false);
        assert_eq!(p.inferred_type(), InferredType::Fractional);
        p.add_string("abc");
        p.add_missing();
        assert_eq!(p.inferred_type(), InferredType::String);
        assert_eq!(p.completeness(), 0.75);
        assert!((p.type_conformance(InferredType::Integral) - 1.0 / 3.0).abs() < 1e-12);
        assert!((p.type_conformance(InferredType::Fractional) - 2.0 / 3.0).abs() < 1e-12);
        p.settle();
        assert!(p.sketch.is_none());
        assert_eq!(p.categories.as_ref().unwrap().count("1"), 1);
    }

    proptest! {
        /// Any split of the data, profiled and merged in any order, gives the same counts, the same moments
        /// within rounding and the same quantiles (exact below the sketch size).
        #[test]
        fn merge_of_any_split_equals_the_whole(
            values in proptest::collection::vec(prop_oneof![
                (-1e6f64..1e6).prop_map(Some), Just(None)], 1..600),
            cut1 in 0usize..600, cut2 in 0usize..600,
        ) {
            let build = |vs: &[Option<f64>]| {
                let mut p = FeatureProfile::new("x", Tracking::Both);
                for v in vs {
                    match v { Some(x) => p.add_number(*x, false), None => p.add_missing() }
                }
                p
            };
            let (a, b) = (cut1.min(cut2).min(values.len()), cut1.max(cut2).min(values.len()));
            let whole = build(&values);
            let (pa, pb, pc) = (build(&values[..a]), build(&values[a..b]), build(&values[b..]));
            let mut left = pa.clone(); left.merge(&pb); left.merge(&pc);
            let mut right = pc.clone(); let mut ab = pb.clone(); ab.merge(&pa); right.merge(&ab);
            for merged in [&left, &right] {
                prop_assert_eq!(merged.total(), whole.total());
                prop_assert_eq!(merged.missing, whole.missing);
                prop_assert_eq!(merged.moments.count, whole.moments.count);
                let tol = 1e-9 * (1.0 + whole.moments.mean.abs());
                prop_assert!((merged.moments.mean - whole.moments.mean).abs() <= tol);
                let sd_tol = 1e-7 * (1.0 + whole.moments.std_dev());
                prop_assert!((merged.moments.std_dev() - whole.moments.std_dev()).abs() <= sd_tol);
                prop_assert_eq!(merged.moments.min, whole.moments.min);
                prop_assert_eq!(merged.moments.max, whole.moments.max);
                let (ms, ws) = (merged.sketch.as_ref().unwrap(), whole.sketch.as_ref().unwrap());
                for q in [0.1, 0.5, 0.9] {
                    prop_assert_eq!(ms.quantile(q), ws.quantile(q));
                }
                prop_assert_eq!(merged.categories.as_ref().unwrap().sorted(), whole.categories.as_ref().unwrap().sorted());
            }
        }

        #[test]
        fn profile_json_round_trip(values in proptest::collection::vec(-1e3f64..1e3, 0..50)) {
            let p = numeric_profile(&values);
            let back: FeatureProfile = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
            prop_assert_eq!(back.total(), p.total());
            prop_assert_eq!(back.sketch.as_ref().map(|s| s.weighted_items()), p.sketch.as_ref().map(|s| s.weighted_items()));
        }
    }
}
