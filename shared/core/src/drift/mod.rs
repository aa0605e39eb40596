//! Drift of the current window against the baseline, computed from stored summaries only.
//!
//! The baseline side is the `statistics.json` of the training data (its KLL sketch for numbers, its categorical
//! buckets for strings), the current side the window's profile: training data is never read again.
//!
//! For every feature all applicable scores are computed and reported; one *primary* method gives the verdict.
//! The default primary method depends on the type and the window's sample size, as in Evidently's defaults: with
//! few values a statistical test (Kolmogorov-Smirnov for numbers, chi-square for strings; drift when p < 0.05),
//! with many a distance (Wasserstein-1 normalised by the baseline's standard deviation for numbers, Jensen-Shannon
//! for strings; drift when above 0.1), because with large samples every test rejects on differences too small to
//! matter. Any feature's method and threshold can be set in the configuration.
//!
//! A feature with fewer current values than [`DriftConfig::min_current_values`] (default
//! [`DEFAULT_MIN_CURRENT_VALUES`]) gets the verdict [`Verdict::TooFewValues`]: its scores are still reported, but
//! it is neither drifted nor ok, and it is left out of the data set's drift share. Three records cannot show drift.
//!
//! Kolmogorov-Smirnov p-values account for the sketches' rank error (see [`ks::ks_two_sample_summarised`]), so
//! that under "no drift" the test rejects at most at its nominal rate however many values the window holds; while
//! both sketches still hold every value (up to 2047 with Model Monitor's `k`) the test is exact, and below 10,000
//! values per side it uses the exact null distribution, as scipy does.
//!
//! Model Monitor's own check (`baseline_drift_check`) uses its L-infinity distance, "Robust" or "Simple" as the
//! constraints say; that distance is reported beside the others as `model_monitor_distance` and is what the
//! `feature_baseline_drift_<feature>` metric carries, so alarms built for Model Monitor keep their meaning.
//!
//! - [`stats`]: the pure statistics over weighted samples and category counts.
//! - [`ks`]: the two-sample Kolmogorov-Smirnov test: exact for small samples, asymptotic beyond, and on sketches
//!   through their rank-error bound.
//! - [`methods`]: further methods users of Evidently, NannyML and scipy expect, computed only when chosen.

pub mod ks;
pub mod methods;
pub mod stats;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::baseline::{Constraints, FeatureStatistics, Statistics};
use crate::profile::{DatasetProfile, FeatureProfile};
use crate::sketch::{DEFAULT_RANK_ERROR_FAILURE_PROBABILITY, KllSketch, SketchOrigin};
use ks::RankError;
use stats::WeightedSample;

/// Below or at this many current values the default method is a statistical test; above it, a distance.
pub const SMALL_SAMPLE: u64 = 1000;
/// Number of quantile bins for PSI and Jensen-Shannon on numbers.
pub const NUMERIC_BINS: usize = 10;
/// The default [`DriftConfig::min_current_values`]: below 30 values even a large shift is hard to tell from chance
/// (the KS test needs `D > 0.34` at 30 values against a large baseline), and a distance is mostly noise.
pub const DEFAULT_MIN_CURRENT_VALUES: u64 = 30;
/// The largest [`DriftConfig::min_current_values`] accepted: a higher minimum would silently stop drift detection
/// on most windows.
pub const MAX_MIN_CURRENT_VALUES: u64 = 100_000;

/// A drift method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Two-sample Kolmogorov-Smirnov test (numbers): drift when p < threshold.
    Ks,
    /// Chi-square test of homogeneity (strings): drift when p < threshold.
    ChiSquare,
    /// Population stability index: drift when above threshold.
    Psi,
    /// Jensen-Shannon distance, base 2: drift when above threshold.
    JensenShannon,
    /// Wasserstein-1 distance divided by the baseline's standard deviation (numbers): drift when above threshold.
    WassersteinNormed,
    /// Largest difference of the CDFs (or category shares): drift when above threshold.
    LinfSimple,
    /// The simple L-infinity distance less a sample-size allowance (Deequ): drift when above threshold.
    LinfRobust,
    /// The share of current values in categories the baseline never saw (strings): drift when above threshold.
    UnseenShare,
    /// Hellinger distance on the quantile bins of PSI (numbers) or the category shares (strings), in `[0, 1]`:
    /// drift when above threshold (Evidently's default 0.1).
    Hellinger,
    /// Kullback-Leibler divergence of the window from the baseline on the same bins or shares, with PSI's
    /// epsilon for empty bins: drift when above threshold (Evidently's default 0.1).
    KlDivergence,
    /// Energy distance (numbers), in the square root of the feature's units: drift when above threshold
    /// (Evidently's default 0.1, which suits features of unit scale).
    EnergyDistance,
    /// Cramér-von Mises two-sample test, asymptotic (numbers): drift when p < threshold.
    CramerVonMises,
    /// Anderson-Darling two-sample test, midrank form; p-value capped at 0.25 and floored at 0.001 as in scipy
    /// (numbers): drift when p < threshold.
    AndersonDarling,
    /// Two-sided Mann-Whitney U test, normal approximation with tie and continuity corrections (numbers): drift
    /// when p < threshold.
    MannWhitneyU,
    /// Welch's unequal-variance t-test of the means (numbers): drift when p < threshold.
    WelchTTest,
    /// One-sided Kolmogorov-Smirnov test for a window of larger values, scipy's `ks_2samp(baseline, current,
    /// alternative='greater')` (numbers): drift when p < threshold.
    KsHigher,
    /// One-sided Kolmogorov-Smirnov test for a window of smaller values, scipy's `ks_2samp(baseline, current,
    /// alternative='less')` (numbers): drift when p < threshold.
    KsLower,
    /// G-test (log-likelihood ratio) of homogeneity on the 2 x k table (strings): drift when p < threshold.
    GTest,
    /// Chi-square goodness of fit of the window's counts to the baseline's shares, Evidently's chi-square
    /// (strings; `chi_square` is the test of homogeneity): drift when p < threshold.
    ChiSquareGoodnessOfFit,
    /// Fisher's exact test on the 2 x 2 table, for strings with two categories (more fall back to the
    /// default): drift when p < threshold.
    FisherExact,
}

impl Method {
    /// Whether the score is a p-value (drift below the threshold) rather than a distance (drift above it).
    pub fn is_test(self) -> bool {
        matches!(self, Self::Ks | Self::ChiSquare)
            || matches!(
                self,
                Self::CramerVonMises
                    | Self::AndersonDarling
                    | Self::MannWhitneyU
                    | Self::WelchTTest
                    | Self::KsHigher
                    | Self::KsLower
                    | Self::GTest
                    | Self::ChiSquareGoodnessOfFit
                    | Self::FisherExact
            )
    }

    /// The default threshold: 0.05 for tests, 0.2 for PSI (the usual "significant shift"), 0.1 for distances.
    pub fn default_threshold(self) -> f64 {
        match self {
            Self::Ks | Self::ChiSquare => 0.05,
            Self::Psi => 0.2,
            // The further methods: tests at 0.05; Evidently's defaults for the three distances.
            m if m.is_test() => 0.05,
            Self::Hellinger | Self::KlDivergence | Self::EnergyDistance => 0.1,
            _ => 0.1,
        }
    }

    /// Whether the method compares numbers (a numeric feature configured with one that does not falls back to the
    /// default).
    pub fn applies_to_numbers(self) -> bool {
        !matches!(
            self,
            Self::ChiSquare | Self::UnseenShare | Self::GTest | Self::ChiSquareGoodnessOfFit | Self::FisherExact
        )
    }

    /// Whether the method compares categories.
    pub fn applies_to_strings(self) -> bool {
        !matches!(
            self,
            Self::Ks
                | Self::WassersteinNormed
                | Self::EnergyDistance
                | Self::CramerVonMises
                | Self::AndersonDarling
                | Self::MannWhitneyU
                | Self::WelchTTest
                | Self::KsHigher
                | Self::KsLower
        )
    }

    /// The thresholds that can mean something: a p-value in (0, 1) for tests (at 0 nothing drifts, at 1
    /// everything does), [0, 1] for the distances bounded by 1, [0, inf) for the others.
    pub fn threshold_range(self) -> ThresholdRange {
        if self.is_test() {
            ThresholdRange::PValue
        } else if matches!(
            self,
            Self::Psi | Self::KlDivergence | Self::WassersteinNormed | Self::EnergyDistance
        ) {
            ThresholdRange::NonNegative
        } else {
            ThresholdRange::Unit
        }
    }

    /// The snake_case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ks => "ks",
            Self::ChiSquare => "chi_square",
            Self::Psi => "psi",
            Self::JensenShannon => "jensen_shannon",
            Self::WassersteinNormed => "wasserstein_normed",
            Self::LinfSimple => "linf_simple",
            Self::LinfRobust => "linf_robust",
            Self::UnseenShare => "unseen_share",
            Self::Hellinger => "hellinger",
            Self::KlDivergence => "kl_divergence",
            Self::EnergyDistance => "energy_distance",
            Self::CramerVonMises => "cramer_von_mises",
            Self::AndersonDarling => "anderson_darling",
            Self::MannWhitneyU => "mann_whitney_u",
            Self::WelchTTest => "welch_t_test",
            Self::KsHigher => "ks_higher",
            Self::KsLower => "ks_lower",
            Self::GTest => "g_test",
            Self::ChiSquareGoodnessOfFit => "chi_square_goodness_of_fit",
            Self::FisherExact => "fisher_exact",
        }
    }
}

/// The thresholds a method accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThresholdRange {
    /// (0, 1).
    PValue,
    /// [0, 1].
    Unit,
    /// [0, inf).
    NonNegative,
}

impl ThresholdRange {
    /// Whether `threshold` lies in the range.
    pub fn contains(self, threshold: f64) -> bool {
        match self {
            Self::PValue => threshold > 0.0 && threshold < 1.0,
            Self::Unit => (0.0..=1.0).contains(&threshold),
            Self::NonNegative => threshold.is_finite() && threshold >= 0.0,
        }
    }
}

impl std::fmt::Display for ThresholdRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::PValue => "(0, 1)",
            Self::Unit => "[0, 1]",
            Self::NonNegative => "[0, inf)",
        })
    }
}

/// The method and threshold for one feature.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodChoice {
    pub method: Method,
    /// The method's default when absent. Within the method's [`Method::threshold_range`]: a p-value in (0, 1)
    /// for tests, [0, 1] for the bounded distances, [0, inf) for PSI, KL, Wasserstein and energy distance.
    #[serde(default)]
    pub threshold: Option<f64>,
}

impl MethodChoice {
    /// The threshold, when set, lies in the method's range; `at` is the choice's path.
    fn check(&self, at: &str) -> Result<(), crate::evaluate::SettingsError> {
        match self.threshold {
            Some(t) if !self.method.threshold_range().contains(t) => Err(crate::evaluate::SettingsError::new(
                format!("{at}.threshold"),
                format!(
                    "{t} is outside {} (the range of {})",
                    self.method.threshold_range(),
                    self.method.as_str()
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// Drift configuration (the `drift` section of the `--config` file).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftConfig {
    /// Method for numeric features, instead of the sample-size default.
    #[serde(default)]
    pub numeric: Option<MethodChoice>,
    /// Method for string features, instead of the sample-size default.
    #[serde(default)]
    pub categorical: Option<MethodChoice>,
    /// Per-feature methods, by feature name; these win over the two above. Each name must be a feature of the
    /// baseline ([`crate::evaluate::EvaluationConfig::validate`]).
    #[serde(default)]
    pub features: BTreeMap<String, MethodChoice>,
    /// The share of drifted features above which the data set as a whole is reported as drifted (default 0.5; in
    /// [0, 1]).
    #[serde(default)]
    pub dataset_drift_share: Option<f64>,
    /// The fewest current values a feature needs for a verdict (default [`DEFAULT_MIN_CURRENT_VALUES`]); with
    /// fewer it is reported as [`Verdict::TooFewValues`]. Between 1 and [`MAX_MIN_CURRENT_VALUES`]; other values
    /// are refused when the configuration is read.
    #[serde(default, deserialize_with = "min_current_values")]
    pub min_current_values: Option<u64>,
}

impl DriftConfig {
    /// Checks what can be checked without the baseline: each method's threshold within its range
    /// ([`Method::threshold_range`]), `numeric` and `categorical` methods that apply to their kind,
    /// `dataset_drift_share` in [0, 1] and `min_current_values` in 1..=[`MAX_MIN_CURRENT_VALUES`]. The feature
    /// names of `features` need the baseline: [`crate::evaluate::EvaluationConfig::validate`] checks them.
    ///
    /// # Errors
    ///
    /// The first offending field, with its path below `drift`, its value and the allowed range.
    pub fn check(&self) -> Result<(), crate::evaluate::SettingsError> {
        use crate::evaluate::SettingsError;
        if let Some(share) = self.dataset_drift_share.filter(|s| !(0.0..=1.0).contains(s)) {
            return Err(SettingsError::new(
                "drift.dataset_drift_share",
                format!("{share} is outside [0, 1]"),
            ));
        }
        if let Some(min) = self
            .min_current_values
            .filter(|m| !(1..=MAX_MIN_CURRENT_VALUES).contains(m))
        {
            return Err(SettingsError::new(
                "drift.min_current_values",
                format!("{min} is outside [1, {MAX_MIN_CURRENT_VALUES}]"),
            ));
        }
        for (field, choice, numbers) in [
            ("drift.numeric", self.numeric, true),
            ("drift.categorical", self.categorical, false),
        ] {
            let Some(choice) = choice else { continue };
            let applies = if numbers {
                choice.method.applies_to_numbers()
            } else {
                choice.method.applies_to_strings()
            };
            if !applies {
                return Err(SettingsError::new(
                    format!("{field}.method"),
                    format!(
                        "{} does not compare {}",
                        choice.method.as_str(),
                        if numbers { "numbers" } else { "categories" }
                    ),
                ));
            }
            choice.check(field)?;
        }
        for (name, choice) in &self.features {
            choice.check(&format!("drift.features.{name}"))?;
        }
        Ok(())
    }

    /// The minimum number of current values for a verdict.
    pub fn min_current_values(&self) -> u64 {
        self.min_current_values
            .unwrap_or(DEFAULT_MIN_CURRENT_VALUES)
            .clamp(1, MAX_MIN_CURRENT_VALUES)
    }
}

fn min_current_values<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let value = Option::<u64>::deserialize(d)?;
    match value {
        Some(v) if !(1..=MAX_MIN_CURRENT_VALUES).contains(&v) => Err(serde::de::Error::custom(format!(
            "min_current_values must be between 1 and {MAX_MIN_CURRENT_VALUES}, got {v}"
        ))),
        _ => Ok(value),
    }
}

/// What the primary method concluded about a feature.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Compared, within the threshold.
    #[default]
    Ok,
    /// Compared, beyond the threshold.
    Drifted,
    /// Fewer current values than [`DriftConfig::min_current_values`]: not judged.
    TooFewValues,
}

/// The drift of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDrift {
    pub feature: String,
    /// `numeric` or `categorical`.
    pub kind: String,
    pub method: Method,
    /// The primary method's statistic or distance; larger always means more drift (the KS `D`, the chi-square
    /// statistic, PSI, ...): 0 for identical data.
    #[serde(default)]
    pub statistic: f64,
    /// The primary method's p-value, for tests only (drift when below `threshold`); absent for distances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    /// Compared with `p_value` for tests (drift below it) and with `statistic` for distances (drift above it).
    pub threshold: f64,
    /// Whether the verdict is [`Verdict::Drifted`].
    pub drifted: bool,
    /// `ok`, `drifted` or `too_few_values` (`ok` in reports written before it existed).
    #[serde(default)]
    pub verdict: Verdict,
    /// Model Monitor's L-infinity distance, the value of `feature_baseline_drift_<feature>`.
    pub model_monitor_distance: f64,
    /// Every score computed, by method name (`ks_statistic`, `ks_p_value`, `psi`, ...).
    pub scores: BTreeMap<String, f64>,
    pub baseline_count: f64,
    pub current_count: f64,
}

/// The drift of a window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// Every feature with scores, judged or not.
    pub features: Vec<FeatureDrift>,
    /// Features judged (verdict `ok` or `drifted`).
    pub compared: usize,
    /// Features drifted.
    pub drifted: usize,
    /// Features with scores but too few current values to be judged (verdict `too_few_values`); not counted in
    /// `compared`.
    #[serde(default)]
    pub too_few: usize,
    /// `drifted / compared` (0 when nothing was compared).
    pub drift_share: f64,
    pub dataset_drift_share_threshold: f64,
    /// Whether the share of drifted features exceeds the threshold.
    pub dataset_drifted: bool,
    /// Features not compared, with the reason (no values in the window, no distribution in the baseline).
    pub not_compared: BTreeMap<String, String>,
    /// Why no feature at all was judged, when none was (no rows read, a baseline without features, every feature
    /// with too few values): the window then has no drift verdict, and no drift metric is published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nothing_compared: Option<String>,
}

impl DriftReport {
    /// Whether at least one feature was judged (`ok` or `drifted`): otherwise there is no drift verdict.
    pub fn has_verdict(&self) -> bool {
        self.compared > 0
    }

    /// The drift of feature `name`.
    pub fn feature(&self, name: &str) -> Option<&FeatureDrift> {
        self.features.iter().find(|f| f.feature == name)
    }

    /// Adds to `not_compared` the features of `baseline` that no window can be compared on
    /// ([`crate::baseline::Baseline::not_comparable`]: constrained but not described, described but not read,
    /// or with an empty distribution), so that they are reported rather than silently left out. A feature
    /// already reported, or judged, keeps what [`compare`] said of it.
    pub fn add_not_comparable(&mut self, baseline: &crate::baseline::Baseline) {
        for (name, reason) in baseline.not_comparable() {
            if self.feature(&name).is_none() {
                self.not_compared.entry(name).or_insert(reason);
            }
        }
    }
}

/// How Model Monitor compares distributions for `baseline_drift_check`, read from the constraints: the data
/// set's `distribution_constraints`, and each feature's own where its `monitoringConfigOverrides` change them.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelMonitorComparison {
    /// Whether any feature is compared: the data set's `perform_comparison`, or a feature's override enabling
    /// it. [`Self::for_feature`] says which.
    pub enabled: bool,
    pub robust: bool,
    pub threshold: f64,
    pub categorical_threshold: f64,
    /// `ChiSquared` instead of `LInfinity` for strings: the distance is then `1 - p`.
    pub categorical_chi_squared: bool,
    /// The data set's `perform_comparison`, for the features without an override of it.
    pub dataset_enabled: bool,
    /// The comparison of each feature whose overrides change it, resolved (their own `features` are empty).
    pub features: BTreeMap<String, ModelMonitorComparison>,
}

impl ModelMonitorComparison {
    /// The comparison the constraints configure, with Model Monitor's defaults for what they leave out.
    pub fn from_constraints(constraints: &Constraints) -> Self {
        let mut comparison = Self::of(&constraints.monitoring_config);
        for f in &constraints.features {
            let changes = f
                .monitoring_config_overrides
                .as_ref()
                .is_some_and(|o| o.distribution_constraints.is_some());
            if changes {
                let own = Self::of(&constraints.config_for(&f.name));
                comparison.enabled |= own.enabled;
                comparison.features.insert(f.name.clone(), own);
            }
        }
        comparison
    }

    /// The comparison of one monitoring config.
    fn of(config: &crate::baseline::MonitoringConfig) -> Self {
        let dc = config.distribution_constraints.clone().unwrap_or_default();
        let threshold = dc
            .comparison_threshold
            .unwrap_or(crate::baseline::DEFAULT_COMPARISON_THRESHOLD);
        let enabled = dc.perform_comparison.is_none_or(|t| t.is_enabled());
        Self {
            enabled,
            robust: !dc
                .comparison_method
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case("simple")),
            threshold,
            categorical_threshold: dc.categorical_comparison_threshold.unwrap_or(threshold),
            categorical_chi_squared: dc
                .categorical_drift_method
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case("chisquared")),
            dataset_enabled: enabled,
            features: BTreeMap::new(),
        }
    }

    /// The comparison of feature `name`: its overrides', else the data set's.
    pub fn for_feature(&self, name: &str) -> ModelMonitorComparison {
        self.features.get(name).cloned().unwrap_or_else(|| Self {
            enabled: self.dataset_enabled,
            features: BTreeMap::new(),
            ..*self
        })
    }
}

/// Compares every feature of `current` that the baseline's statistics describe; `comparison` sets which Model
/// Monitor distance each feature reports.
pub fn compare(
    baseline: &Statistics,
    comparison: &ModelMonitorComparison,
    current: &DatasetProfile,
    config: &DriftConfig,
) -> DriftReport {
    let mut report = DriftReport {
        dataset_drift_share_threshold: config.dataset_drift_share.unwrap_or(0.5),
        ..Default::default()
    };
    let profiles = current
        .features
        .iter()
        .chain([&current.prediction_score, &current.prediction_label]);
    for profile in profiles {
        let Some(reference) = baseline.feature(&profile.name) else {
            continue;
        };
        match compare_feature(reference, profile, config) {
            Ok(mut drift) => {
                drift.model_monitor_distance = model_monitor_distance(&drift, comparison).0;
                report.features.push(drift)
            }
            Err(reason) => {
                // Predictions the baseline profiled but this window did not capture are not worth a line.
                if !(crate::baseline::is_prediction_feature(&profile.name) && profile.present() == 0) {
                    report.not_compared.insert(profile.name.clone(), reason.to_owned());
                }
            }
        }
    }
    let count = |verdict: Verdict| report.features.iter().filter(|f| f.verdict == verdict).count();
    report.too_few = count(Verdict::TooFewValues);
    report.compared = report.features.len() - report.too_few;
    report.drifted = count(Verdict::Drifted);
    report.drift_share = if report.compared == 0 {
        0.0
    } else {
        report.drifted as f64 / report.compared as f64
    };
    report.dataset_drifted = report.compared > 0 && report.drift_share > report.dataset_drift_share_threshold;
    report
}

fn compare_feature(
    reference: &FeatureStatistics,
    current: &FeatureProfile,
    config: &DriftConfig,
) -> Result<FeatureDrift, &'static str> {
    let mut drift = if reference.inferred_type.is_numeric() {
        numeric_drift(reference, current, config)
    } else {
        categorical_drift(reference, current, config)
    }?;
    if drift.current_count < config.min_current_values() as f64 {
        drift.verdict = Verdict::TooFewValues;
        drift.drifted = false;
    }
    Ok(drift)
}

fn numeric_drift(
    reference: &FeatureStatistics,
    current: &FeatureProfile,
    config: &DriftConfig,
) -> Result<FeatureDrift, &'static str> {
    let base_sketch = reference
        .numeric_sketch()
        .ok_or("the baseline has no distribution for it")?;
    let cur_sketch = current
        .sketch
        .as_ref()
        .filter(|s| !s.is_empty())
        .ok_or("no numeric values in the window")?;
    let base = WeightedSample::from_weighted(base_sketch.weighted_items());
    let cur = WeightedSample::from_weighted(cur_sketch.weighted_items());
    let (n, m) = (base_sketch.count() as f64, cur_sketch.count() as f64);

    let ks = ks::ks_two_sample_summarised(
        &base,
        baseline_rank_error(reference, &base_sketch),
        &cur,
        sketch_rank_error(cur_sketch, SketchOrigin::ThisCrate),
    );
    let linf_robust = stats::linf_robust(ks.statistic, n, m);
    let edges = stats::quantile_bin_edges(&base, NUMERIC_BINS);
    let (base_shares, cur_shares) = (stats::binned_shares(&base, &edges), stats::binned_shares(&cur, &edges));
    let psi = stats::psi(&base_shares, &cur_shares, stats::PSI_EPSILON);
    let js = stats::jensen_shannon_distance(&base_shares, &cur_shares);
    let std = reference.numerical_statistics.as_ref().map_or(0.0, |s| s.std_dev);
    // A constant baseline has no spread to normalise by: the raw distance is reported.
    let wasserstein = stats::wasserstein_1(&base, &cur) / if std > 0.0 { std } else { 1.0 };

    let scores = BTreeMap::from([
        ("ks_statistic".to_owned(), ks.statistic),
        ("ks_p_value".to_owned(), ks.p_value),
        ("psi".to_owned(), psi),
        ("jensen_shannon".to_owned(), js),
        ("wasserstein_normed".to_owned(), wasserstein),
        ("linf_simple".to_owned(), ks.statistic),
        ("linf_robust".to_owned(), linf_robust),
    ]);
    let default = if current.moments.count <= SMALL_SAMPLE {
        Method::Ks
    } else {
        Method::WassersteinNormed
    };
    let choice = config
        .features
        .get(&current.name)
        .copied()
        .or(config.numeric)
        .unwrap_or(MethodChoice {
            method: default,
            threshold: None,
        });
    // The methods of `methods` are computed only when chosen, and then add their scores.
    let chosen = methods::numeric(choice.method, &base, &cur, (&base_shares, &cur_shares));
    let scores = methods::with_scores(scores, chosen.as_ref());
    let score_of = |method: Method| match method {
        Method::Ks => Some((ks.statistic, Some(ks.p_value))),
        Method::Psi => Some((psi, None)),
        Method::JensenShannon => Some((js, None)),
        Method::WassersteinNormed => Some((wasserstein, None)),
        Method::LinfSimple => Some((ks.statistic, None)),
        Method::LinfRobust => Some((linf_robust, None)),
        Method::ChiSquare | Method::UnseenShare => None,
        _ => chosen
            .as_ref()
            .filter(|c| c.method == method)
            .map(|c| (c.statistic, c.p_value)),
    };
    Ok(primary(current, "numeric", choice, default, score_of, scores, (n, m)))
}

fn categorical_drift(
    reference: &FeatureStatistics,
    current: &FeatureProfile,
    config: &DriftConfig,
) -> Result<FeatureDrift, &'static str> {
    let base = reference
        .categories()
        .filter(|c| !c.is_empty())
        .ok_or("the baseline has no categories for it")?;
    let cur_counts = current
        .categories
        .as_ref()
        .filter(|c| c.total() > 0)
        .ok_or("no values in the window")?;
    let cur: Vec<(String, f64)> = cur_counts
        .sorted()
        .into_iter()
        .map(|(v, c)| (v.to_owned(), c as f64))
        .collect();
    let base_ref: Vec<(&str, f64)> = base.iter().map(|(v, c)| (v.as_str(), *c)).collect();
    let cur_ref: Vec<(&str, f64)> = cur.iter().map(|(v, c)| (v.as_str(), *c)).collect();
    let (n, m) = (
        base_ref.iter().map(|x| x.1).sum::<f64>(),
        cur_ref.iter().map(|x| x.1).sum::<f64>(),
    );

    let chi = stats::chi_square_homogeneity(&base_ref, &cur_ref);
    let (base_shares, cur_shares) = stats::categorical_shares(&base_ref, &cur_ref);
    let psi = stats::psi(&base_shares, &cur_shares, stats::PSI_EPSILON);
    let js = stats::jensen_shannon_distance(&base_shares, &cur_shares);
    let linf = stats::categorical_linf_simple(&base_ref, &cur_ref);
    let linf_robust = stats::linf_robust(linf, n, m);
    let unseen = stats::unseen_share(&base_ref, &cur_ref);

    let scores = BTreeMap::from([
        ("chi_square_statistic".to_owned(), chi.statistic),
        ("chi_square_p_value".to_owned(), chi.p_value),
        ("psi".to_owned(), psi),
        ("jensen_shannon".to_owned(), js),
        ("linf_simple".to_owned(), linf),
        ("linf_robust".to_owned(), linf_robust),
        ("unseen_share".to_owned(), unseen),
    ]);
    let default = if m as u64 <= SMALL_SAMPLE {
        Method::ChiSquare
    } else {
        Method::JensenShannon
    };
    let choice = config
        .features
        .get(&current.name)
        .copied()
        .or(config.categorical)
        .unwrap_or(MethodChoice {
            method: default,
            threshold: None,
        });
    // The methods of `methods` are computed only when chosen, and then add their scores.
    let chosen = methods::categorical(choice.method, &base_ref, &cur_ref);
    let scores = methods::with_scores(scores, chosen.as_ref());
    let score_of = |method: Method| match method {
        Method::ChiSquare => Some((chi.statistic, Some(chi.p_value))),
        Method::Psi => Some((psi, None)),
        Method::JensenShannon => Some((js, None)),
        Method::LinfSimple => Some((linf, None)),
        Method::LinfRobust => Some((linf_robust, None)),
        Method::UnseenShare => Some((unseen, None)),
        Method::Ks | Method::WassersteinNormed => None,
        _ => chosen
            .as_ref()
            .filter(|c| c.method == method)
            .map(|c| (c.statistic, c.p_value)),
    };
    Ok(primary(
        current,
        "categorical",
        choice,
        default,
        score_of,
        scores,
        (n, m),
    ))
}

/// The verdict of the chosen method. A method that does not apply to the feature's kind (a string-only method
/// configured for a number) falls back to the default rather than failing the run. `score_of` gives a method's
/// statistic (larger means more drift) and, for tests, its p-value.
fn primary(
    current: &FeatureProfile,
    kind: &str,
    choice: MethodChoice,
    default: Method,
    score_of: impl Fn(Method) -> Option<(f64, Option<f64>)>,
    scores: BTreeMap<String, f64>,
    (baseline_count, current_count): (f64, f64),
) -> FeatureDrift {
    let (method, (statistic, p_value)) = match score_of(choice.method) {
        Some(s) => (choice.method, s),
        None => (default, score_of(default).unwrap_or((0.0, None))),
    };
    let threshold = choice
        .threshold
        .filter(|_| method == choice.method)
        .unwrap_or(method.default_threshold());
    let verdict = if beyond(statistic, p_value, threshold) {
        Verdict::Drifted
    } else {
        Verdict::Ok
    };
    FeatureDrift {
        feature: current.name.clone(),
        kind: kind.into(),
        method,
        statistic,
        p_value,
        threshold,
        drifted: verdict == Verdict::Drifted,
        verdict,
        model_monitor_distance: 0.0,
        scores,
        baseline_count,
        current_count,
    }
}

/// A test drifts when its p-value is below the threshold, a distance when it is above.
fn beyond(statistic: f64, p_value: Option<f64>, threshold: f64) -> bool {
    match p_value {
        Some(p) => p < threshold,
        None => statistic > threshold,
    }
}

/// The rank error of a sketch's CDF, with the failure chance the bound is computed at.
fn sketch_rank_error(sketch: &KllSketch, origin: SketchOrigin) -> RankError {
    if sketch.is_exact() {
        return RankError::EXACT;
    }
    RankError {
        epsilon: sketch.rank_error_bound(DEFAULT_RANK_ERROR_FAILURE_PROBABILITY, origin),
        failure_probability: DEFAULT_RANK_ERROR_FAILURE_PROBABILITY,
    }
}

/// The rank error of the baseline's distribution: its sketch's, from either implementation; or, for a
/// `statistics.json` that only has buckets (the sketch is then rebuilt with every value at its bucket's
/// midpoint), also the largest bucket's share, the most by which the midpoint CDF can miss the data's.
fn baseline_rank_error(reference: &FeatureStatistics, sketch: &KllSketch) -> RankError {
    let mut error = sketch_rank_error(sketch, SketchOrigin::Unknown);
    let kll = reference
        .numerical_statistics
        .as_ref()
        .and_then(|s| s.distribution.as_ref())
        .map(|d| &d.kll);
    if let Some(kll) = kll.filter(|k| k.sketch.is_none()) {
        let total: f64 = kll.buckets.iter().map(|b| b.count.max(0.0)).sum();
        let largest = kll.buckets.iter().map(|b| b.count.max(0.0)).fold(0.0, f64::max);
        if total > 0.0 {
            error.epsilon = (error.epsilon + largest / total).min(1.0);
        }
    }
    error
}

/// Model Monitor's baseline drift distance of one feature under `comparison`: the robust or simple L-infinity
/// distance, or for strings with `ChiSquared`, `1 - p`, under the feature's own comparison
/// ([`ModelMonitorComparison::for_feature`]). Returns the distance and its threshold: infinite when the feature's
/// comparison is disabled (`perform_comparison` overridden to `Disabled`), so that it is never exceeded.
pub fn model_monitor_distance(drift: &FeatureDrift, comparison: &ModelMonitorComparison) -> (f64, f64) {
    let comparison = &comparison.for_feature(&drift.feature);
    let (distance, threshold) = model_monitor_distance_of(drift, comparison);
    // A feature whose comparison is disabled never exceeds its threshold.
    (distance, if comparison.enabled { threshold } else { f64::INFINITY })
}

fn model_monitor_distance_of(drift: &FeatureDrift, comparison: &ModelMonitorComparison) -> (f64, f64) {
    let pick = |simple: &str, robust: &str| {
        let key = if comparison.robust { robust } else { simple };
        drift.scores.get(key).copied().unwrap_or(0.0)
    };
    if drift.kind == "categorical" {
        if comparison.categorical_chi_squared {
            let p = drift.scores.get("chi_square_p_value").copied().unwrap_or(1.0);
            (1.0 - p, comparison.categorical_threshold)
        } else {
            (pick("linf_simple", "linf_robust"), comparison.categorical_threshold)
        }
    } else {
        (pick("linf_simple", "linf_robust"), comparison.threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::Baseline;

    fn profile(numeric: impl Fn(usize) -> f64, category: impl Fn(usize) -> &'static str, n: usize) -> DatasetProfile {
        let mut p = DatasetProfile::new([("x".to_owned(), None), ("c".to_owned(), None)]);
        for i in 0..n {
            p.features[0].add_number(numeric(i), false);
            p.features[1].add_string(category(i));
        }
        p.item_count = n as u64;
        p.features.iter_mut().for_each(FeatureProfile::settle);
        p
    }

    fn spread(i: usize) -> f64 {
        // A deterministic, well-mixed sequence in [0, 1).
        ((i as f64 * 0.618_033_988_75) % 1.0) * 10.0
    }

    #[test]
    fn same_distribution_does_not_drift_and_a_shift_does() {
        let base = Baseline::from_profile(&profile(spread, |i| if i % 3 == 0 { "a" } else { "b" }, 5000));
        let same = profile(|i| spread(i + 17), |i| if (i + 1) % 3 == 0 { "a" } else { "b" }, 3000);
        let mm = ModelMonitorComparison::from_constraints(&base.constraints);
        let report = compare(&base.statistics, &mm, &same, &DriftConfig::default());
        assert_eq!(report.compared, 2);
        assert_eq!(report.drifted, 0, "{report:#?}");

        let shifted = profile(|i| spread(i) + 3.0, |i| if i % 3 == 0 { "b" } else { "c" }, 3000);
        let report = compare(&base.statistics, &mm, &shifted, &DriftConfig::default());
        assert_eq!(
            report.feature("x").unwrap().model_monitor_distance,
            report.feature("x").unwrap().scores["linf_robust"]
        );
        let x = report.feature("x").unwrap();
        assert_eq!(x.method, Method::WassersteinNormed, "large samples use a distance");
        assert!(x.drifted);
        // Shifting U(0, 10) by 3 moves the CDF by 0.3 everywhere in the overlap.
        assert!(
            (x.scores["linf_simple"] - 0.3).abs() < 0.01,
            "{}",
            x.scores["linf_simple"]
        );
        let c = report.feature("c").unwrap();
        assert_eq!(c.method, Method::JensenShannon);
        assert!(c.drifted);
        assert!((c.scores["unseen_share"] - 2.0 / 3.0).abs() < 1e-3);
        assert!(report.dataset_drifted);
    }

    /// `constraints` with `overrides` deep-merged into feature `index` of its JSON form, read back.
    fn with_overrides(constraints: &Constraints, index: usize, overrides: serde_json::Value) -> Constraints {
        fn merge(into: &mut serde_json::Value, from: serde_json::Value) {
            match (into, from) {
                (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                    for (k, v) in b {
                        merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                    }
                }
                (slot, v) => *slot = v,
            }
        }
        let mut json = serde_json::to_value(constraints).unwrap();
        merge(&mut json["features"][index], overrides);
        serde_json::from_value(json).unwrap()
    }

    /// Each form of per-feature overrides AWS writes reaches `baseline_drift_check`, the evaluation of the
    /// constraints and the per-feature metrics.
    #[test]
    fn feature_overrides_in_every_form_reach_the_drift_check_and_the_metrics() {
        use crate::metrics::{MetricScope, data_metrics};
        use crate::violations::{CheckType, ShapeObservations, check};
        use serde_json::json;

        let base = Baseline::from_profile(&profile(spread, |i| if i % 3 == 0 { "a" } else { "b" }, 5000));
        let shifted = profile(|i| spread(i) + 3.0, |i| if i % 3 == 0 { "b" } else { "c" }, 3000);
        let run = |constraints: &Constraints| {
            let mm = ModelMonitorComparison::from_constraints(constraints);
            let report = compare(&base.statistics, &mm, &shifted, &DriftConfig::default());
            let violations = check(constraints, &shifted, &report, &ShapeObservations::default()).violations;
            let drift_checks: Vec<String> = violations
                .iter()
                .filter(|v| v.constraint_check_type == CheckType::BaselineDriftCheck)
                .map(|v| v.feature_name.clone())
                .collect();
            let any_checks: Vec<String> = violations.iter().map(|v| v.feature_name.clone()).collect();
            let scope = MetricScope {
                endpoint: "ep".into(),
                schedule: "s".into(),
                timestamp: crate::window::parse_time("2024-05-01T14").unwrap(),
            };
            let metrics: Vec<String> = data_metrics(
                &Baseline {
                    statistics: base.statistics.clone(),
                    constraints: constraints.clone(),
                },
                &shifted,
                &report,
                (0, 0),
                &scope,
            )
            .into_iter()
            .map(|d| d.metric_name)
            .filter(|m| m.starts_with("feature_baseline_drift_"))
            .collect();
            (drift_checks, any_checks, metrics, report)
        };
        let (x, c) = (0, 1);
        let (checks, _, metrics, _) = run(&base.constraints);
        assert_eq!(checks, ["x", "c"]);
        assert_eq!(metrics, ["feature_baseline_drift_x", "feature_baseline_drift_c"]);

        // The documented form: x's threshold above its distance (0.3).
        let documented = with_overrides(
            &base.constraints,
            x,
            json!({"monitoringConfigOverrides": {"comparison_threshold": 0.9}}),
        );
        assert_eq!(run(&documented).0, ["c"]);
        // The SDK's form inside num_constraints: x not compared.
        let sdk_num = with_overrides(
            &base.constraints,
            x,
            json!({"num_constraints": {"monitoring_config_overrides":
                {"distribution_constraints": {"perform_comparison": "Disabled"}}}}),
        );
        assert_eq!(run(&sdk_num).0, ["c"]);
        // The SDK's form inside string_constraints: c's threshold above its distance (2/3).
        let sdk_string = with_overrides(
            &base.constraints,
            c,
            json!({"string_constraints": {"monitoring_config_overrides": {"categorical_comparison_threshold": 0.99}}}),
        );
        assert_eq!(run(&sdk_string).0, ["x"]);
        // The data set's comparison off, one feature's on.
        let mut off = base.constraints.clone();
        off.monitoring_config
            .distribution_constraints
            .as_mut()
            .unwrap()
            .perform_comparison = Some(crate::baseline::Toggle::Disabled);
        assert!(run(&off).0.is_empty());
        let only_c = with_overrides(
            &off,
            c,
            json!({"monitoringConfigOverrides": {"perform_comparison": "Enabled"}}),
        );
        assert_eq!(run(&only_c).0, ["c"]);
        // A feature's comparison method: its Model Monitor distance is the simple one.
        let simple = with_overrides(
            &base.constraints,
            x,
            json!({"monitoringConfigOverrides": {"comparison_method": "Simple"}}),
        );
        let report = run(&simple).3;
        let fx = report.feature("x").unwrap();
        assert_eq!(fx.model_monitor_distance, fx.scores["linf_simple"]);
        assert_ne!(fx.scores["linf_simple"], fx.scores["linf_robust"]);

        // emit_metrics and evaluate_constraints, per feature, in the SDK's and the earlier form.
        let quiet = with_overrides(
            &base.constraints,
            x,
            json!({"num_constraints": {"monitoring_config_overrides": {"emit_metrics": "Disabled"}}}),
        );
        assert_eq!(run(&quiet).2, ["feature_baseline_drift_c"]);
        let quiet = with_overrides(
            &base.constraints,
            c,
            json!({"monitoringConfigOverrides": {"emit_metrics": "Disabled"}}),
        );
        assert_eq!(run(&quiet).2, ["feature_baseline_drift_x"]);
        let unchecked = with_overrides(
            &base.constraints,
            c,
            json!({"string_constraints": {"monitoring_config_overrides": {"evaluate_constraints": "Disabled"}}}),
        );
        let (_, any, _, _) = run(&unchecked);
        assert!(any.iter().all(|f| f != "c") && any.contains(&"x".to_owned()), "{any:?}");
    }

    #[test]
    fn small_samples_use_tests_and_config_overrides_win() {
        let base = Baseline::from_profile(&profile(spread, |_| "a", 2000));
        let small = profile(|i| spread(i * 7 + 3), |_| "a", 200);
        let mm = ModelMonitorComparison::from_constraints(&base.constraints);
        let report = compare(&base.statistics, &mm, &small, &DriftConfig::default());
        assert_eq!(report.feature("x").unwrap().method, Method::Ks);
        assert!(report.feature("x").unwrap().p_value.unwrap() > 0.05);
        assert_eq!(report.feature("c").unwrap().method, Method::ChiSquare);

        let config = DriftConfig {
            features: BTreeMap::from([(
                "x".to_owned(),
                MethodChoice {
                    method: Method::Psi,
                    threshold: Some(0.5),
                },
            )]),
            ..Default::default()
        };
        let report = compare(&base.statistics, &mm, &small, &config);
        let x = report.feature("x").unwrap();
        assert_eq!((x.method, x.threshold), (Method::Psi, 0.5));
        assert_eq!(x.statistic, x.scores["psi"]);
        assert_eq!(x.p_value, None, "a distance has no p-value");
    }

    #[test]
    fn statistic_grows_with_drift_for_tests_and_distances_alike() {
        let base = Baseline::from_profile(&profile(spread, |i| if i % 2 == 0 { "a" } else { "b" }, 500));
        let mm = ModelMonitorComparison::from_constraints(&base.constraints);
        let same = profile(spread, |i| if i % 2 == 0 { "a" } else { "b" }, 500);
        let report = compare(&base.statistics, &mm, &same, &DriftConfig::default());
        let (x, c) = (report.feature("x").unwrap(), report.feature("c").unwrap());
        assert_eq!((x.method, x.statistic, x.p_value), (Method::Ks, 0.0, Some(1.0)));
        assert_eq!((c.method, c.statistic, c.p_value), (Method::ChiSquare, 0.0, Some(1.0)));
        assert_eq!((x.verdict, c.verdict), (Verdict::Ok, Verdict::Ok));

        let shifted = profile(|i| spread(i) + 5.0, |i| if i % 4 == 0 { "a" } else { "b" }, 500);
        let report = compare(&base.statistics, &mm, &shifted, &DriftConfig::default());
        let (x, c) = (report.feature("x").unwrap(), report.feature("c").unwrap());
        assert_eq!(x.statistic, x.scores["ks_statistic"]);
        assert!(x.statistic > 0.4 && x.p_value.unwrap() < 0.05, "{x:?}");
        assert_eq!(c.statistic, c.scores["chi_square_statistic"]);
        assert!(c.statistic > 10.0 && c.p_value.unwrap() < 0.05, "{c:?}");
        assert!(x.drifted && c.drifted && x.verdict == Verdict::Drifted);
        let json = serde_json::to_value(x).unwrap();
        assert!(json.get("score").is_none());
        assert_eq!(json["verdict"], "drifted");
        assert_eq!(json["statistic"], x.statistic);
    }

    #[test]
    fn three_records_are_too_few_for_any_verdict() {
        let base = Baseline::from_profile(&profile(spread, |_| "a", 5000));
        let mm = ModelMonitorComparison::from_constraints(&base.constraints);
        // Far off the baseline on both features: would be drifted with enough values.
        let tiny = profile(|i| 100.0 + i as f64, |_| "z", 3);
        let report = compare(&base.statistics, &mm, &tiny, &DriftConfig::default());
        assert_eq!(report.features.len(), 2, "scores are still reported");
        assert!(
            report
                .features
                .iter()
                .all(|f| f.verdict == Verdict::TooFewValues && !f.drifted)
        );
        assert_eq!((report.compared, report.drifted, report.too_few), (0, 0, 2));
        assert_eq!(report.drift_share, 0.0);
        assert!(!report.dataset_drifted);

        // The minimum is configurable: with 3 allowed, the same window is judged.
        let config: DriftConfig = serde_json::from_str(r#"{"min_current_values": 3}"#).unwrap();
        let report = compare(&base.statistics, &mm, &tiny, &config);
        assert_eq!((report.compared, report.drifted, report.too_few), (2, 2, 0));
        assert!(report.dataset_drifted);
    }

    #[test]
    fn too_few_features_stay_out_of_the_drift_share() {
        let base = Baseline::from_profile(&profile(spread, |_| "a", 5000));
        let mm = ModelMonitorComparison::from_constraints(&base.constraints);
        // "x" has 40 values far off the baseline; "c" only 10 values (the rest missing).
        let mut current = DatasetProfile::new([("x".to_owned(), None), ("c".to_owned(), None)]);
        for i in 0..40 {
            current.features[0].add_number(50.0 + i as f64, false);
            if i < 10 {
                current.features[1].add_string("a");
            } else {
                current.features[1].add_missing();
            }
        }
        current.item_count = 40;
        current.features.iter_mut().for_each(FeatureProfile::settle);
        let report = compare(&base.statistics, &mm, &current, &DriftConfig::default());
        assert_eq!(report.feature("x").unwrap().verdict, Verdict::Drifted);
        assert_eq!(report.feature("c").unwrap().verdict, Verdict::TooFewValues);
        assert_eq!((report.compared, report.drifted, report.too_few), (1, 1, 1));
        assert_eq!(report.drift_share, 1.0);
    }

    #[test]
    fn absurd_minimums_are_refused() {
        for bad in ["0", "100001", "-3", "2.5"] {
            let err = serde_json::from_str::<DriftConfig>(&format!(r#"{{"min_current_values": {bad}}}"#));
            assert!(err.is_err(), "{bad} accepted");
        }
        let err = serde_json::from_str::<DriftConfig>(r#"{"min_current_values": 0}"#).unwrap_err();
        assert!(err.to_string().contains("min_current_values"), "{err}");
        assert_eq!(DriftConfig::default().min_current_values(), DEFAULT_MIN_CURRENT_VALUES);
        let ok: DriftConfig = serde_json::from_str(r#"{"min_current_values": 100000}"#).unwrap();
        assert_eq!(ok.min_current_values(), 100_000);
    }

    /// splitmix64: a small, seedable generator for the repeated-draws tests.
    struct Rng(u64);

    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// Uniform in (0, 1).
        fn uniform(&mut self) -> f64 {
            ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }

        /// Two independent standard normals (Box-Muller).
        fn normals(&mut self) -> (f64, f64) {
            let (u, v) = (self.uniform(), self.uniform());
            let r = (-2.0 * u.ln()).sqrt();
            let t = 2.0 * std::f64::consts::PI * v;
            (r * t.cos(), r * t.sin())
        }
    }

    /// A profile of `n` values of a normal (`shift` added) and a lognormal feature, built as a window's profile is.
    fn draw(n: usize, shift: f64, seed: u64) -> DatasetProfile {
        let fractional = Some(crate::profile::InferredType::Fractional);
        let mut p = DatasetProfile::new([("normal".to_owned(), fractional), ("lognormal".to_owned(), fractional)]);
        let mut rng = Rng(seed);
        for _ in 0..n {
            let (a, b) = rng.normals();
            p.features[0].add_number(a + shift, false);
            p.features[1].add_number(b.exp(), false);
        }
        p.item_count = n as u64;
        p.features.iter_mut().for_each(FeatureProfile::settle);
        p
    }

    /// KS p-values of `reps` independent baseline/window pairs of `n` values per side, drawn from the same
    /// distributions (plus `shift` on the normal feature), through the product's path: the baseline's profile to
    /// `statistics.json` (sketch levels) and back, the window's profile as is, then `compare`.
    fn ks_p_values(n: usize, reps: u64, shift: f64) -> Vec<(String, f64)> {
        let config = DriftConfig {
            numeric: Some(MethodChoice {
                method: Method::Ks,
                threshold: None,
            }),
            ..Default::default()
        };
        let mut out = Vec::new();
        for r in 0..reps {
            let base = Baseline::from_profile(&draw(n, 0.0, 1_000 + 2 * r));
            let statistics: Statistics =
                serde_json::from_slice(&serde_json::to_vec(&base.statistics).unwrap()).unwrap();
            let current = draw(n, shift, 1_001 + 2 * r);
            let mm = ModelMonitorComparison::from_constraints(&base.constraints);
            let report = compare(&statistics, &mm, &current, &config);
            for f in ["normal", "lognormal"] {
                let d = report.feature(f).unwrap();
                assert_eq!(d.method, Method::Ks);
                out.push((f.to_owned(), d.p_value.unwrap()));
            }
        }
        out
    }

    /// Asserts that the share of p-values below 0.05 is at most 0.05 plus three binomial standard errors.
    fn assert_false_positive_rate(n: usize, reps: u64) {
        let p = ks_p_values(n, reps, 0.0);
        let trials = p.len() as f64;
        let rejected = p.iter().filter(|(_, p)| *p < 0.05).count() as f64;
        let tolerance = 3.0 * (0.05 * 0.95 / trials).sqrt();
        eprintln!(
            "n = {n}: {rejected} of {trials} rejected at 0.05 (allowed {:.3})",
            0.05 + tolerance
        );
        assert!(
            rejected / trials <= 0.05 + tolerance,
            "n = {n}: {rejected} of {trials} rejected"
        );
    }

    // Each size runs 2 features x `reps` independent baseline/window pairs. The debug-build budget sets `reps`:
    // drawing and sketching costs about 0.5 us per value unoptimised, so 6 pairs at 1e6 per side (2.4e7 values)
    // take about 13 s of CPU, 40 pairs at 1e5 about 9 s, 200 pairs at 1e4 about 4 s. The tolerance of 0.05 + 3
    // binomial standard errors still separates a correct test from the uncorrected one, which rejected more than
    // half the features at 1e6 per side: 12 trials allow at most 2 rejections there, 80 allow 9, 400 allow 33.
    // Since the sketch and KS are invariant under increasing transforms, the two features are simply two
    // independent trials; normal and lognormal make that visible rather than assumed.

    #[test]
    fn ks_false_positive_rate_is_nominal_at_ten_thousand_values() {
        assert_false_positive_rate(10_000, 200);
    }

    #[test]
    fn ks_false_positive_rate_is_nominal_at_a_hundred_thousand_values() {
        assert_false_positive_rate(100_000, 40);
    }

    #[test]
    fn ks_false_positive_rate_is_nominal_at_a_million_values() {
        assert_false_positive_rate(1_000_000, 6);
    }

    #[test]
    fn ks_still_detects_a_tenth_of_a_standard_deviation_at_a_hundred_thousand_values() {
        for (feature, p) in ks_p_values(100_000, 3, 0.1) {
            if feature == "normal" {
                // The floor of a sketched p-value is the two bounds' failure chance, 2 x 5e-4.
                assert!(
                    p <= 2.0 * DEFAULT_RANK_ERROR_FAILURE_PROBABILITY,
                    "a 0.1 sd shift missed: p = {p}"
                );
            }
        }
    }

    #[test]
    fn every_further_method_is_selectable_per_feature_and_gives_a_verdict() {
        let numeric = [
            Method::Hellinger,
            Method::KlDivergence,
            Method::EnergyDistance,
            Method::CramerVonMises,
            Method::AndersonDarling,
            Method::MannWhitneyU,
            Method::WelchTTest,
            Method::KsHigher,
            Method::KsLower,
        ];
        let categorical = [
            Method::Hellinger,
            Method::KlDivergence,
            Method::GTest,
            Method::ChiSquareGoodnessOfFit,
            Method::FisherExact,
        ];
        let two = |flip: bool| move |i: usize| if i.is_multiple_of(3) != flip { "a" } else { "b" };
        let base = Baseline::from_profile(&profile(spread, two(false), 5000));
        let same = profile(|i| spread(i + 17), two(false), 3000);
        // Shifted up by 3 (of a range of 10), and the two categories' shares swapped.
        let shifted = profile(|i| spread(i) + 3.0, two(true), 3000);
        let mm = ModelMonitorComparison::from_constraints(&base.constraints);
        let choose = |feature: &str, method: Method| {
            // Through the configuration file's own names.
            let json = format!(
                r#"{{"features": {{"{feature}": {{"method": "{}"}}}}}}"#,
                method.as_str()
            );
            serde_json::from_str::<DriftConfig>(&json).unwrap()
        };
        for (feature, methods) in [("x", &numeric[..]), ("c", &categorical[..])] {
            for &method in methods {
                for (window, drifts) in [(&same, false), (&shifted, method != Method::KsLower)] {
                    let report = compare(&base.statistics, &mm, window, &choose(feature, method));
                    let f = report.feature(feature).unwrap();
                    assert_eq!((f.method, f.threshold), (method, method.default_threshold()));
                    assert_eq!(f.drifted, drifts, "{method:?} on {feature}: {f:#?}");
                    let name = method.as_str();
                    if method.is_test() {
                        assert_eq!(f.p_value, Some(f.scores[&format!("{name}_p_value")]), "{method:?}");
                        if let Some(statistic) = f.scores.get(&format!("{name}_statistic")) {
                            assert_eq!(f.statistic, *statistic, "{method:?}");
                        }
                    } else {
                        assert_eq!((f.statistic, f.p_value), (f.scores[name], None), "{method:?}");
                    }
                }
            }
        }
        // Only the chosen method is added to the scores.
        let report = compare(&base.statistics, &mm, &shifted, &choose("x", Method::WelchTTest));
        assert!(!report.feature("x").unwrap().scores.contains_key("hellinger"));
        assert!(!report.feature("c").unwrap().scores.contains_key("welch_t_test_p_value"));

        // A method that does not apply falls back to the default: a numbers-only test on strings, and Fisher's
        // exact test on three categories.
        let report = compare(&base.statistics, &mm, &shifted, &choose("c", Method::MannWhitneyU));
        assert_eq!(report.feature("c").unwrap().method, Method::JensenShannon);
        let three = profile(spread, |i| ["a", "b", "z"][i % 3], 3000);
        let report = compare(&base.statistics, &mm, &three, &choose("c", Method::FisherExact));
        assert_eq!(report.feature("c").unwrap().method, Method::JensenShannon);
    }

    #[test]
    fn method_names_are_the_configuration_names() {
        let all = [
            Method::Ks,
            Method::ChiSquare,
            Method::Psi,
            Method::JensenShannon,
            Method::WassersteinNormed,
            Method::LinfSimple,
            Method::LinfRobust,
            Method::UnseenShare,
            Method::Hellinger,
            Method::KlDivergence,
            Method::EnergyDistance,
            Method::CramerVonMises,
            Method::AndersonDarling,
            Method::MannWhitneyU,
            Method::WelchTTest,
            Method::KsHigher,
            Method::KsLower,
            Method::GTest,
            Method::ChiSquareGoodnessOfFit,
            Method::FisherExact,
        ];
        for method in all {
            assert_eq!(serde_json::to_value(method).unwrap(), method.as_str(), "{method:?}");
            let expected = if method.is_test() {
                0.05
            } else if method == Method::Psi {
                0.2
            } else {
                0.1
            };
            assert_eq!(method.default_threshold(), expected, "{method:?}");
        }
    }
}
