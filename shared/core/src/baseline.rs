//! Model Monitor's data-quality baseline files: `statistics.json` and `constraints.json`.
//!
//! The types read the files Model Monitor itself writes (unknown fields are ignored, counts written as `418.0`
//! are accepted) and write files in the same schema, so a team moving from Model Monitor keeps its baselines and
//! a team starting here can go back.
//!
//! # Format
//!
//! `statistics.json`: `{"version": 0.0, "dataset": {"item_count": N}, "features": [...]}`; a numeric feature has
//! `numerical_statistics {common {num_present, num_missing}, mean, sum, std_dev, min, max, distribution {kll
//! {buckets [{lower_bound, upper_bound, count}], sketch {parameters {c, k}, data [[level 0], [level 1], ...]}}}}`
//! (`std_dev` is the population standard deviation; the buckets are 10 of equal width over [min, max]); a string
//! feature has `string_statistics {common, distinct_count, distribution {categorical {buckets [{value, count}]}}}`.
//!
//! `constraints.json`: `{"version": 0.0, "features": [{name, inferred_type, completeness, num_constraints
//! {is_non_negative}, string_constraints {domains}, monitoringConfigOverrides {...}}], "monitoring_config":
//! {evaluate_constraints, emit_metrics, datatype_check_threshold, domain_content_threshold, distribution_constraints
//! {perform_comparison, comparison_threshold, comparison_method, categorical_comparison_threshold,
//! categorical_drift_method}}}`. A feature's overrides hold any key of `monitoring_config` and are also read where
//! the SageMaker Python SDK puts them (see [`MonitoringConfigOverrides`]).

use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};

use crate::capture::Schema;
use crate::profile::{DatasetProfile, FeatureProfile, InferredType};
use crate::sketch::KllSketch;

/// The file name Model Monitor gives the statistics.
pub const STATISTICS_FILE: &str = "statistics.json";
/// The file name Model Monitor gives the constraints.
pub const CONSTRAINTS_FILE: &str = "constraints.json";
/// Model Monitor materialises numeric distributions in this many equal-width buckets.
pub const KLL_BUCKETS: usize = 10;
/// Model Monitor's default for `comparison_threshold` (numeric baseline drift).
pub const DEFAULT_COMPARISON_THRESHOLD: f64 = 0.1;
/// String features with more distinct values than this get no `domains` constraint (it would not generalise).
pub const MAX_SUGGESTED_DOMAIN: usize = 100;

/// `statistics.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statistics {
    #[serde(default)]
    pub version: f64,
    #[serde(default)]
    pub dataset: DatasetStatistics,
    #[serde(default)]
    pub features: Vec<FeatureStatistics>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatasetStatistics {
    #[serde(default, deserialize_with = "lenient_u64")]
    pub item_count: u64,
}

/// One feature's statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureStatistics {
    pub name: String,
    pub inferred_type: InferredType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numerical_statistics: Option<NumericalStatistics>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_statistics: Option<StringStatistics>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Common {
    #[serde(default, deserialize_with = "lenient_u64")]
    pub num_present: u64,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub num_missing: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericalStatistics {
    pub common: Common,
    pub mean: f64,
    pub sum: f64,
    pub std_dev: f64,
    pub min: f64,
    pub max: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<NumericDistribution>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericDistribution {
    pub kll: Kll,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kll {
    #[serde(default)]
    pub buckets: Vec<NumericBucket>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sketch: Option<KllSketchJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericBucket {
    pub lower_bound: f64,
    pub upper_bound: f64,
    pub count: f64,
}

/// A KLL sketch as Model Monitor serialises it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KllSketchJson {
    pub parameters: KllParameters,
    pub data: Vec<Vec<f64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KllParameters {
    pub c: f64,
    pub k: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StringStatistics {
    pub common: Common,
    #[serde(default)]
    pub distinct_count: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<StringDistribution>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StringDistribution {
    pub categorical: Categorical,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Categorical {
    #[serde(default)]
    pub buckets: Vec<CategoricalBucket>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalBucket {
    pub value: String,
    pub count: f64,
}

/// `constraints.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Constraints {
    #[serde(default)]
    pub version: f64,
    #[serde(default)]
    pub features: Vec<FeatureConstraints>,
    #[serde(default)]
    pub monitoring_config: MonitoringConfig,
}

/// One feature's constraints.
///
/// Per-feature overrides of the `monitoring_config` are read from the three places AWS writes them, and
/// written in one, the documented one (see [`MonitoringConfigOverrides`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawFeatureConstraints")]
pub struct FeatureConstraints {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inferred_type: Option<InferredType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completeness: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_constraints: Option<NumConstraints>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_constraints: Option<StringConstraints>,
    /// Per-feature overrides of the `monitoring_config`, merged from every form the file uses; written as the
    /// documented `monitoringConfigOverrides`.
    #[serde(
        rename = "monitoringConfigOverrides",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub monitoring_config_overrides: Option<MonitoringConfigOverrides>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NumConstraints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_non_negative: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StringConstraints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domains: Option<Vec<String>>,
}

/// A feature's constraints as the file holds them, with the overrides wherever they are.
#[derive(Deserialize)]
struct RawFeatureConstraints {
    name: String,
    #[serde(default)]
    inferred_type: Option<InferredType>,
    #[serde(default)]
    completeness: Option<f64>,
    #[serde(default)]
    num_constraints: Option<RawNumConstraints>,
    #[serde(default)]
    string_constraints: Option<RawStringConstraints>,
    /// The documented form (Model Monitor's "Schema for Constraints").
    #[serde(default, rename = "monitoringConfigOverrides")]
    documented: Option<MonitoringConfigOverrides>,
    /// The form modelwatch wrote before it wrote the documented one.
    #[serde(default, rename = "monitoring_config_overrides")]
    snake_case: Option<MonitoringConfigOverrides>,
}

#[derive(Deserialize)]
struct RawNumConstraints {
    #[serde(default)]
    is_non_negative: Option<bool>,
    /// The SageMaker Python SDK's form.
    #[serde(default)]
    monitoring_config_overrides: Option<MonitoringConfigOverrides>,
}

#[derive(Deserialize)]
struct RawStringConstraints {
    #[serde(default)]
    domains: Option<Vec<String>>,
    /// The SageMaker Python SDK's form.
    #[serde(default)]
    monitoring_config_overrides: Option<MonitoringConfigOverrides>,
}

impl From<RawFeatureConstraints> for FeatureConstraints {
    fn from(raw: RawFeatureConstraints) -> Self {
        let (num_constraints, in_num) = match raw.num_constraints {
            Some(n) => (
                Some(NumConstraints {
                    is_non_negative: n.is_non_negative,
                }),
                n.monitoring_config_overrides,
            ),
            None => (None, None),
        };
        let (string_constraints, in_string) = match raw.string_constraints {
            Some(s) => (
                Some(StringConstraints { domains: s.domains }),
                s.monitoring_config_overrides,
            ),
            None => (None, None),
        };
        // The precedence of `MonitoringConfigOverrides`: each key from the first form that sets it.
        let monitoring_config_overrides = [raw.documented, raw.snake_case, in_num, in_string]
            .into_iter()
            .flatten()
            .reduce(MonitoringConfigOverrides::or);
        Self {
            name: raw.name,
            inferred_type: raw.inferred_type,
            completeness: raw.completeness,
            num_constraints,
            string_constraints,
            monitoring_config_overrides,
        }
    }
}

/// A feature's overrides of the data set's `monitoring_config`: any of its keys, each replacing the data set's
/// value for this feature alone.
///
/// # Format
///
/// The keys of `monitoring_config` (`evaluate_constraints`, `emit_metrics`, `datatype_check_threshold`,
/// `domain_content_threshold`, `distribution_constraints {...}`); the keys of `distribution_constraints` may
/// also be written directly in the overrides (`{"comparison_threshold": 0.3}`), and the nested value wins when
/// a key is written both ways.
///
/// Model Monitor's files put the overrides in three places, all read:
/// 1. `monitoringConfigOverrides` on the feature: the form of Model Monitor's documentation ("Schema for
///    Constraints (constraints.json file)"), and the one written;
/// 2. `monitoring_config_overrides` on the feature: what modelwatch wrote before;
/// 3. `monitoring_config_overrides` inside `num_constraints` or `string_constraints`: the form of the
///    constraints.json in the SageMaker Python SDK's own tests.
///
/// When a feature has more than one, each key is taken from the first form in that order that sets it
/// (`num_constraints` before `string_constraints`): the documented form is the deliberate one.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MonitoringConfigOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluate_constraints: Option<Toggle>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emit_metrics: Option<Toggle>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datatype_check_threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_content_threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution_constraints: Option<DistributionConstraints>,
}

impl<'de> Deserialize<'de> for MonitoringConfigOverrides {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            evaluate_constraints: Option<Toggle>,
            #[serde(default)]
            emit_metrics: Option<Toggle>,
            #[serde(default)]
            datatype_check_threshold: Option<f64>,
            #[serde(default)]
            domain_content_threshold: Option<f64>,
            #[serde(default)]
            distribution_constraints: Option<DistributionConstraints>,
            #[serde(flatten)]
            flat: DistributionConstraints,
        }
        let raw = Raw::deserialize(d)?;
        let flat = (raw.flat != DistributionConstraints::default()).then_some(raw.flat);
        let distribution_constraints = match (raw.distribution_constraints, flat) {
            (Some(nested), Some(flat)) => Some(nested.or(flat)),
            (nested, flat) => nested.or(flat),
        };
        Ok(Self {
            evaluate_constraints: raw.evaluate_constraints,
            emit_metrics: raw.emit_metrics,
            datatype_check_threshold: raw.datatype_check_threshold,
            domain_content_threshold: raw.domain_content_threshold,
            distribution_constraints,
        })
    }
}

impl MonitoringConfigOverrides {
    /// Each key from `self`, else from `other`.
    pub fn or(self, other: Self) -> Self {
        Self {
            evaluate_constraints: self.evaluate_constraints.or(other.evaluate_constraints),
            emit_metrics: self.emit_metrics.or(other.emit_metrics),
            datatype_check_threshold: self.datatype_check_threshold.or(other.datatype_check_threshold),
            domain_content_threshold: self.domain_content_threshold.or(other.domain_content_threshold),
            distribution_constraints: match (self.distribution_constraints, other.distribution_constraints) {
                (Some(a), Some(b)) => Some(a.or(b)),
                (a, b) => a.or(b),
            },
        }
    }

    /// `config` with these overrides applied.
    pub fn apply(&self, config: &MonitoringConfig) -> MonitoringConfig {
        MonitoringConfig {
            evaluate_constraints: self.evaluate_constraints.or(config.evaluate_constraints),
            emit_metrics: self.emit_metrics.or(config.emit_metrics),
            datatype_check_threshold: self.datatype_check_threshold.or(config.datatype_check_threshold),
            domain_content_threshold: self.domain_content_threshold.or(config.domain_content_threshold),
            distribution_constraints: match (&self.distribution_constraints, &config.distribution_constraints) {
                (Some(a), Some(b)) => Some(a.clone().or(b.clone())),
                (a, b) => a.clone().or(b.clone()),
            },
        }
    }
}

/// Model Monitor's `"Enabled"` / `"Disabled"` switches; older files write booleans, which are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Toggle {
    Enabled,
    Disabled,
}

impl<'de> Deserialize<'de> for Toggle {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Bool(true) => Ok(Toggle::Enabled),
            serde_json::Value::Bool(false) => Ok(Toggle::Disabled),
            serde_json::Value::String(s) if s.eq_ignore_ascii_case("enabled") => Ok(Toggle::Enabled),
            serde_json::Value::String(s) if s.eq_ignore_ascii_case("disabled") => Ok(Toggle::Disabled),
            other => Err(serde::de::Error::custom(format!(
                "expected \"Enabled\" or \"Disabled\", found {other}"
            ))),
        }
    }
}

impl Toggle {
    pub fn is_enabled(self) -> bool {
        self == Toggle::Enabled
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MonitoringConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluate_constraints: Option<Toggle>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emit_metrics: Option<Toggle>,
    /// The share of values that must match the baseline's type (default 1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datatype_check_threshold: Option<f64>,
    /// The share of string values that must lie in the baseline's domain (default 1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_content_threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution_constraints: Option<DistributionConstraints>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DistributionConstraints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perform_comparison: Option<Toggle>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison_threshold: Option<f64>,
    /// `"Robust"` (default) or `"Simple"`: the two L-infinity forms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categorical_comparison_threshold: Option<f64>,
    /// `"LInfinity"` (default) or `"ChiSquared"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categorical_drift_method: Option<String>,
}

impl DistributionConstraints {
    /// Each key from `self`, else from `other`.
    pub fn or(self, other: Self) -> Self {
        Self {
            perform_comparison: self.perform_comparison.or(other.perform_comparison),
            comparison_threshold: self.comparison_threshold.or(other.comparison_threshold),
            comparison_method: self.comparison_method.or(other.comparison_method),
            categorical_comparison_threshold: self
                .categorical_comparison_threshold
                .or(other.categorical_comparison_threshold),
            categorical_drift_method: self.categorical_drift_method.or(other.categorical_drift_method),
        }
    }
}

impl MonitoringConfig {
    /// Model Monitor's defaults, as its baselining job writes them.
    pub fn model_monitor_defaults() -> Self {
        Self {
            evaluate_constraints: Some(Toggle::Enabled),
            emit_metrics: Some(Toggle::Enabled),
            datatype_check_threshold: Some(1.0),
            domain_content_threshold: Some(1.0),
            distribution_constraints: Some(DistributionConstraints {
                perform_comparison: Some(Toggle::Enabled),
                comparison_threshold: Some(DEFAULT_COMPARISON_THRESHOLD),
                comparison_method: Some("Robust".into()),
                categorical_comparison_threshold: Some(DEFAULT_COMPARISON_THRESHOLD),
                categorical_drift_method: Some("LInfinity".into()),
            }),
        }
    }
}

fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = f64::deserialize(d)?;
    if v.is_finite() && v >= 0.0 {
        Ok(v.round() as u64)
    } else {
        Err(serde::de::Error::custom(format!("expected a count, found {v}")))
    }
}

impl Statistics {
    /// The statistics of a profile, in Model Monitor's schema. Prediction profiles are included only when they
    /// hold values and `with_predictions` is set.
    pub fn from_profile(profile: &DatasetProfile, with_predictions: bool) -> Self {
        let mut features: Vec<FeatureStatistics> = profile.features.iter().map(feature_statistics).collect();
        if with_predictions {
            for p in [&profile.prediction_score, &profile.prediction_label] {
                if p.present() > 0 {
                    features.push(feature_statistics(p));
                }
            }
        }
        Self {
            version: 0.0,
            dataset: DatasetStatistics {
                item_count: profile.item_count,
            },
            features,
        }
    }

    /// The statistics of feature `name`.
    pub fn feature(&self, name: &str) -> Option<&FeatureStatistics> {
        self.features.iter().find(|f| f.name == name)
    }
}

fn feature_statistics(p: &FeatureProfile) -> FeatureStatistics {
    let inferred_type = p.inferred_type();
    let common = Common {
        num_present: p.present(),
        num_missing: p.missing,
    };
    let numeric = inferred_type.is_numeric() || (inferred_type == InferredType::Unknown && p.sketch.is_some());
    if numeric {
        let m = &p.moments;
        let empty = m.count == 0;
        let distribution = p
            .sketch
            .as_ref()
            .filter(|s| !s.is_empty())
            .map(|sketch| NumericDistribution {
                kll: Kll {
                    buckets: equal_width_buckets(sketch, m.min, m.max),
                    sketch: Some(KllSketchJson {
                        parameters: KllParameters {
                            c: sketch.c(),
                            k: sketch.k() as f64,
                        },
                        data: sketch.levels().to_vec(),
                    }),
                },
            });
        FeatureStatistics {
            name: p.name.clone(),
            inferred_type,
            numerical_statistics: Some(NumericalStatistics {
                common,
                mean: if empty { 0.0 } else { m.mean },
                sum: m.sum,
                std_dev: m.std_dev(),
                min: if empty { 0.0 } else { m.min },
                max: if empty { 0.0 } else { m.max },
                distribution,
            }),
            string_statistics: None,
        }
    } else {
        let buckets: Vec<CategoricalBucket> = p
            .categories
            .as_ref()
            .map(|c| {
                c.sorted()
                    .into_iter()
                    .map(|(v, n)| CategoricalBucket {
                        value: v.to_owned(),
                        count: n as f64,
                    })
                    .collect()
            })
            .unwrap_or_default();
        FeatureStatistics {
            name: p.name.clone(),
            inferred_type,
            numerical_statistics: None,
            string_statistics: Some(StringStatistics {
                common,
                distinct_count: buckets.len() as f64,
                distribution: Some(StringDistribution {
                    categorical: Categorical { buckets },
                }),
            }),
        }
    }
}

/// Model Monitor's materialised distribution: [`KLL_BUCKETS`] equal-width buckets over [min, max], counted from the
/// sketch (exact min and max; interior counts within the sketch's rank error).
fn equal_width_buckets(sketch: &KllSketch, min: f64, max: f64) -> Vec<NumericBucket> {
    let n = sketch.count() as f64;
    if max.partial_cmp(&min) != Some(std::cmp::Ordering::Greater) {
        return vec![NumericBucket {
            lower_bound: min,
            upper_bound: max,
            count: n,
        }];
    }
    let width = (max - min) / KLL_BUCKETS as f64;
    let items = sketch.weighted_items();
    let mut counts = [0.0; KLL_BUCKETS];
    for (v, w) in items {
        let i = (((v - min) / width) as usize).min(KLL_BUCKETS - 1);
        counts[i] += w;
    }
    (0..KLL_BUCKETS)
        .map(|i| NumericBucket {
            lower_bound: min + width * i as f64,
            upper_bound: if i + 1 == KLL_BUCKETS {
                max
            } else {
                min + width * (i + 1) as f64
            },
            count: counts[i],
        })
        .collect()
}

impl FeatureStatistics {
    /// The feature's numeric distribution as a KLL sketch: Model Monitor's stored sketch when the file has one,
    /// else one rebuilt from the buckets (each bucket's count placed at its midpoint: coarser, but drift still
    /// works from files written without sketches). `None` when the distribution holds no value: an empty
    /// distribution describes nothing to compare with.
    pub fn numeric_sketch(&self) -> Option<KllSketch> {
        let stats = self.numerical_statistics.as_ref()?;
        let kll = &stats.distribution.as_ref()?.kll;
        if let Some(sketch) = &kll.sketch {
            let k = sketch.parameters.k.max(8.0) as u32;
            let sketch = KllSketch::from_levels(k, sketch.parameters.c, sketch.data.clone());
            return (!sketch.is_empty()).then_some(sketch);
        }
        let mut rebuilt = KllSketch::default();
        for b in &kll.buckets {
            let mid = (b.lower_bound + b.upper_bound) / 2.0;
            for _ in 0..(b.count.max(0.0).round() as u64).min(1_000_000) {
                rebuilt.update(mid);
            }
        }
        (!rebuilt.is_empty()).then_some(rebuilt)
    }

    /// The feature's categories and counts; `None` when no category counts a value (an empty distribution
    /// describes nothing to compare with).
    pub fn categories(&self) -> Option<Vec<(String, f64)>> {
        let stats = self.string_statistics.as_ref()?;
        let buckets = &stats.distribution.as_ref()?.categorical.buckets;
        buckets
            .iter()
            .any(|b| b.count > 0.0)
            .then(|| buckets.iter().map(|b| (b.value.clone(), b.count)).collect())
    }

    /// Present and missing counts.
    pub fn common(&self) -> Common {
        self.numerical_statistics
            .as_ref()
            .map(|n| n.common)
            .or(self.string_statistics.as_ref().map(|s| s.common))
            .unwrap_or_default()
    }
}

impl Constraints {
    /// The constraints Model Monitor's baselining job would suggest for `statistics`: the observed type and
    /// completeness, non-negativity where the minimum is not negative, the observed values as the domain of a
    /// string feature with at most [`MAX_SUGGESTED_DOMAIN`] of them, and the default monitoring config.
    pub fn suggest(statistics: &Statistics) -> Self {
        let features = statistics
            .features
            .iter()
            .map(|f| {
                let common = f.common();
                let total = common.num_present + common.num_missing;
                let completeness = if total == 0 {
                    1.0
                } else {
                    common.num_present as f64 / total as f64
                };
                FeatureConstraints {
                    name: f.name.clone(),
                    inferred_type: Some(f.inferred_type),
                    completeness: Some(completeness),
                    num_constraints: f.numerical_statistics.as_ref().map(|n| NumConstraints {
                        is_non_negative: Some(n.common.num_present > 0 && n.min >= 0.0),
                    }),
                    string_constraints: f.categories().map(|cats| StringConstraints {
                        domains: (cats.len() <= MAX_SUGGESTED_DOMAIN)
                            .then(|| cats.into_iter().map(|(v, _)| v).collect()),
                    }),
                    monitoring_config_overrides: None,
                }
            })
            .collect();
        Self {
            version: 0.0,
            features,
            monitoring_config: MonitoringConfig::model_monitor_defaults(),
        }
    }

    /// The constraints of feature `name`.
    pub fn feature(&self, name: &str) -> Option<&FeatureConstraints> {
        self.features.iter().find(|f| f.name == name)
    }

    /// The monitoring config that holds for feature `name`: the data set's, with the feature's overrides applied.
    pub fn config_for(&self, name: &str) -> MonitoringConfig {
        match self.feature(name).and_then(|f| f.monitoring_config_overrides.as_ref()) {
            Some(overrides) => overrides.apply(&self.monitoring_config),
            None => self.monitoring_config.clone(),
        }
    }
}

/// A baseline: the statistics and constraints of the training data.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    pub statistics: Statistics,
    pub constraints: Constraints,
}

/// A baseline file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("reading {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a Model Monitor {what} file")]
    Parse {
        path: String,
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("baseline file {path} does not exist")]
    Missing { path: String },
    #[error("reading {path}")]
    Read {
        path: String,
        #[source]
        source: crate::ports::PortError,
    },
    #[error("{path} is not a valid {what} file")]
    Invalid {
        path: String,
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Baseline {
    /// A baseline from a profile of the training data: its statistics and the suggested constraints.
    pub fn from_profile(profile: &DatasetProfile) -> Self {
        let statistics = Statistics::from_profile(profile, true);
        let constraints = Constraints::suggest(&statistics);
        Self {
            statistics,
            constraints,
        }
    }

    /// Parses the two files' contents; `name` names them in errors.
    ///
    /// # Errors
    ///
    /// [`BaselineError::Parse`] naming the file that does not parse, [`BaselineError::Invalid`] naming the one
    /// that contradicts the other or itself ([`Baseline::check`]).
    pub fn from_json(name: &str, statistics: &[u8], constraints: &[u8]) -> Result<Self, BaselineError> {
        let statistics = serde_json::from_slice(statistics).map_err(|source| BaselineError::Parse {
            path: format!("{name}/{STATISTICS_FILE}"),
            what: "statistics",
            source,
        })?;
        let constraints = serde_json::from_slice(constraints).map_err(|source| BaselineError::Parse {
            path: format!("{name}/{CONSTRAINTS_FILE}"),
            what: "constraints",
            source,
        })?;
        let baseline = Self {
            statistics,
            constraints,
        };
        baseline.check(name)?;
        Ok(baseline)
    }

    /// Checks that the two files can be used together. What makes the whole baseline unusable or wrong is an
    /// error; a feature that only cannot be compared is not (see [`Baseline::not_comparable`]):
    ///
    /// - `statistics.json` with `dataset.item_count` 0 (or absent): a baseline of no rows has nothing to compare
    ///   with, and every feature of it would be "not compared" for ever;
    /// - a feature named twice in one file: which of the two is meant is a guess;
    /// - constraints and statistics that name no input feature in common: a pair of files from different data
    ///   sets (a partial overlap is a shape Model Monitor's own files have, see [`Baseline::not_comparable`]);
    /// - a share outside [0, 1] (`completeness`, `datatype_check_threshold`, `domain_content_threshold`,
    ///   `comparison_threshold`, `categorical_comparison_threshold`, in `monitoring_config` or a feature's
    ///   overrides) or a `comparison_method` / `categorical_drift_method` Model Monitor does not know: either
    ///   would silently turn a check off or into another one.
    ///
    /// `name` names the folder in errors.
    ///
    /// # Errors
    ///
    /// [`BaselineError::Invalid`] naming the file, whose cause ([`Inconsistency`]) names the feature or field.
    pub fn check(&self, name: &str) -> Result<(), BaselineError> {
        let invalid = |file: &str, what: &'static str, inconsistency: Inconsistency| BaselineError::Invalid {
            path: format!("{}/{file}", name.trim_end_matches('/')),
            what,
            source: Box::new(inconsistency),
        };
        let statistics = |i| invalid(STATISTICS_FILE, "statistics", i);
        let constraints = |i| invalid(CONSTRAINTS_FILE, "constraints", i);
        if self.statistics.dataset.item_count == 0 {
            return Err(statistics(Inconsistency::whole(
                "dataset.item_count is 0 (or absent): a baseline of no rows has nothing to compare with",
            )));
        }
        if let Some(twice) = first_duplicate(self.statistics.features.iter().map(|f| f.name.as_str())) {
            return Err(statistics(Inconsistency::feature(twice, "named more than once")));
        }
        if let Some(twice) = first_duplicate(self.constraints.features.iter().map(|f| f.name.as_str())) {
            return Err(constraints(Inconsistency::feature(twice, "named more than once")));
        }
        let inputs = |names: Vec<&str>| -> std::collections::BTreeSet<String> {
            names
                .into_iter()
                .filter(|n| !is_prediction_feature(n))
                .map(str::to_owned)
                .collect()
        };
        let described = inputs(self.statistics.features.iter().map(|f| f.name.as_str()).collect());
        let constrained = inputs(self.constraints.features.iter().map(|f| f.name.as_str()).collect());
        if !described.is_empty() && !constrained.is_empty() && described.is_disjoint(&constrained) {
            return Err(constraints(Inconsistency::whole(format!(
                "it names none of the features of {STATISTICS_FILE} ({} there, {} here): files of different data \
                 sets?",
                described.iter().take(3).cloned().collect::<Vec<_>>().join(", "),
                constrained.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
            ))));
        }
        check_monitoring_config(&self.constraints.monitoring_config, "monitoring_config")
            .map_err(|why| constraints(Inconsistency::whole(why)))?;
        for f in &self.constraints.features {
            if let Some(c) = f.completeness.filter(|c| !(0.0..=1.0).contains(c)) {
                return Err(constraints(Inconsistency::feature(
                    &f.name,
                    format!("completeness: {c} is outside [0, 1]"),
                )));
            }
            if let Some(o) = &f.monitoring_config_overrides {
                check_monitoring_config(&o.apply(&MonitoringConfig::default()), "monitoringConfigOverrides")
                    .map_err(|why| constraints(Inconsistency::feature(&f.name, why)))?;
            }
        }
        Ok(())
    }

    /// The features of the baseline that are reported "not compared" rather than judged, with why. They are not
    /// errors: Model Monitor's own example files (the SageMaker Python SDK's) constrain a feature their
    /// statistics do not describe, and a column that was empty in the training data is a fact about the data.
    ///
    /// - a constrained input feature the statistics do not describe: its constraints are checked, its drift is not;
    /// - an input feature the statistics describe but the constraints do not list (when they list any): captures
    ///   are read by the constraints' columns, so no value of it is ever seen;
    /// - a feature whose distribution holds no value (no `distribution`, an empty KLL sketch, buckets or
    ///   categories that count nothing): there is nothing to compare with. The reason is the one
    ///   [`crate::drift::compare`] gives for it.
    pub fn not_comparable(&self) -> std::collections::BTreeMap<String, String> {
        let mut out = std::collections::BTreeMap::new();
        for f in &self.constraints.features {
            if !is_prediction_feature(&f.name) && self.statistics.feature(&f.name).is_none() {
                out.insert(f.name.clone(), format!("{STATISTICS_FILE} does not describe it"));
            }
        }
        for f in &self.statistics.features {
            if !self.constraints.features.is_empty()
                && !is_prediction_feature(&f.name)
                && self.constraints.feature(&f.name).is_none()
            {
                out.insert(
                    f.name.clone(),
                    format!("{CONSTRAINTS_FILE} does not list it, so captures are not read for it"),
                );
                continue;
            }
            let empty = if f.inferred_type.is_numeric() {
                f.numeric_sketch()
                    .is_none()
                    .then_some("the baseline has no distribution for it")
            } else {
                f.categories()
                    .is_none()
                    .then_some("the baseline has no categories for it")
            };
            if let Some(reason) = empty {
                out.insert(f.name.clone(), reason.to_owned());
            }
        }
        out
    }

    /// Reads `statistics.json` and `constraints.json` from a folder.
    ///
    /// # Errors
    ///
    /// [`BaselineError::Io`] when a file cannot be read, [`BaselineError::Parse`] when it does not parse,
    /// [`BaselineError::Invalid`] when the two cannot be used together ([`Baseline::check`]).
    pub fn read_dir(dir: &Path) -> Result<Self, BaselineError> {
        let read = |file: &str| {
            let path = dir.join(file);
            std::fs::read(&path).map_err(|source| BaselineError::Io {
                path: path.display().to_string(),
                source,
            })
        };
        Self::from_json(
            &dir.display().to_string(),
            &read(STATISTICS_FILE)?,
            &read(CONSTRAINTS_FILE)?,
        )
    }

    /// The features a capture's columns map to, in order, with the baseline's types. The constraints' order and
    /// types win over the statistics' (they are what the user edits); prediction profiles are not input columns.
    pub fn schema(&self) -> Schema {
        let from_constraints = !self.constraints.features.is_empty();
        let names: Vec<(String, Option<InferredType>)> = if from_constraints {
            self.constraints
                .features
                .iter()
                .map(|f| (f.name.clone(), f.inferred_type))
                .collect()
        } else {
            self.statistics
                .features
                .iter()
                .map(|f| (f.name.clone(), Some(f.inferred_type)))
                .collect()
        };
        Schema::new(names.into_iter().filter(|(n, _)| !is_prediction_feature(n)))
    }
}

/// Why a baseline's files cannot be used: the cause of a [`BaselineError::Invalid`] that [`Baseline::check`]
/// raises, naming the feature when one is at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{reason}", feature.as_ref().map(|f| format!("feature {f:?}: ")).unwrap_or_default())]
pub struct Inconsistency {
    /// The feature at fault, when one is.
    pub feature: Option<String>,
    pub reason: String,
}

impl Inconsistency {
    fn whole(reason: impl Into<String>) -> Self {
        Self {
            feature: None,
            reason: reason.into(),
        }
    }

    fn feature(name: &str, reason: impl Into<String>) -> Self {
        Self {
            feature: Some(name.to_owned()),
            reason: reason.into(),
        }
    }
}

fn first_duplicate<'a>(names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen = std::collections::BTreeSet::new();
    names.into_iter().find(|n| !seen.insert(*n))
}

/// The shares of a monitoring config lie in [0, 1] and its methods are Model Monitor's; `at` prefixes the field.
fn check_monitoring_config(config: &MonitoringConfig, at: &str) -> Result<(), String> {
    let dc = config.distribution_constraints.clone().unwrap_or_default();
    let shares = [
        ("datatype_check_threshold", config.datatype_check_threshold),
        ("domain_content_threshold", config.domain_content_threshold),
        ("distribution_constraints.comparison_threshold", dc.comparison_threshold),
        (
            "distribution_constraints.categorical_comparison_threshold",
            dc.categorical_comparison_threshold,
        ),
    ];
    for (field, value) in shares {
        if let Some(v) = value.filter(|v| !(0.0..=1.0).contains(v)) {
            return Err(format!("{at}.{field}: {v} is outside [0, 1]"));
        }
    }
    let methods = [
        ("comparison_method", dc.comparison_method, ["Robust", "Simple"]),
        (
            "categorical_drift_method",
            dc.categorical_drift_method,
            ["LInfinity", "ChiSquared"],
        ),
    ];
    for (field, value, allowed) in methods {
        if let Some(m) = value.filter(|m| !allowed.iter().any(|a| a.eq_ignore_ascii_case(m))) {
            return Err(format!(
                "{at}.distribution_constraints.{field}: {m:?} is neither {:?} nor {:?}",
                allowed[0], allowed[1]
            ));
        }
    }
    Ok(())
}

/// Whether a baseline feature is the profile of the model's outputs rather than an input column.
pub fn is_prediction_feature(name: &str) -> bool {
    name == crate::profile::PREDICTION_SCORE || name == crate::profile::PREDICTION_LABEL
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Tracking;
    use crate::testing::{fixtures, realdata};

    #[test]
    fn reads_model_monitor_files_from_the_sagemaker_sdk() {
        let Some(root) = realdata() else { return };
        let dir = root.join("capture/sagemaker-python-sdk");
        let baseline = Baseline::read_dir(&dir).unwrap();
        assert_eq!(baseline.statistics.dataset.item_count, 418);
        assert_eq!(baseline.statistics.features[0].inferred_type, InferredType::String);
        assert_eq!(baseline.statistics.features[0].common().num_present, 418);
        assert_eq!(
            baseline.statistics.features[0].categories().unwrap(),
            [("preproc-not-YET-supported-for-csv-json".to_owned(), 418.0)]
        );
        assert_eq!(baseline.constraints.features.len(), 2);
        let dc = baseline
            .constraints
            .monitoring_config
            .distribution_constraints
            .as_ref()
            .unwrap();
        assert_eq!(dc.comparison_threshold, Some(1.0));
        assert_eq!(baseline.schema().features[1].name, "second_message");
    }

    /// The shape of the SDK's Model Monitor files above (a statistics file with fewer features than the constraints,
    /// per-feature overrides, distribution constraints), in the project's own fixtures.
    #[test]
    fn reads_model_monitor_files_of_the_sdks_shape_from_the_fixtures() {
        let baseline = Baseline::read_dir(&fixtures().join("baseline")).unwrap();
        assert_eq!(baseline.statistics.dataset.item_count, 12);
        assert_eq!(baseline.statistics.features[0].inferred_type, InferredType::String);
        assert_eq!(baseline.statistics.features[0].common().num_present, 12);
        assert_eq!(
            baseline.statistics.features[0].categories().unwrap(),
            [("hello-from-the-fixture".to_owned(), 12.0)]
        );
        assert_eq!(baseline.constraints.features.len(), 2);
        let dc = baseline
            .constraints
            .monitoring_config
            .distribution_constraints
            .as_ref()
            .unwrap();
        assert_eq!(dc.comparison_threshold, Some(1.0));
        assert_eq!(baseline.schema().features[1].name, "second_message");
        // The SDK's overrides sit inside `string_constraints`.
        let overrides = baseline.constraints.features[0]
            .monitoring_config_overrides
            .as_ref()
            .unwrap();
        assert_eq!(
            (overrides.evaluate_constraints, overrides.emit_metrics),
            (Some(Toggle::Enabled), Some(Toggle::Enabled))
        );
        assert_eq!(baseline.constraints.features[1].monitoring_config_overrides, None);
    }

    fn overrides_of(constraints: &Constraints, name: &str) -> MonitoringConfigOverrides {
        constraints
            .feature(name)
            .and_then(|f| f.monitoring_config_overrides.clone())
            .unwrap_or_else(|| panic!("{name} has no overrides"))
    }

    #[test]
    fn overrides_are_read_in_each_form_aws_writes() {
        let c: Constraints = serde_json::from_str(
            r#"{"version": 0.0, "features": [
              {"name": "documented", "inferred_type": "Fractional",
               "monitoringConfigOverrides": {"emit_metrics": "Disabled", "comparison_threshold": 0.3}},
              {"name": "sdk_num", "inferred_type": "Integral",
               "num_constraints": {"is_non_negative": true,
                                   "monitoring_config_overrides": {"evaluate_constraints": "Disabled"}}},
              {"name": "sdk_string", "inferred_type": "String",
               "string_constraints": {"domains": ["a"],
                                      "monitoring_config_overrides": {"emit_metrics": false,
                                        "distribution_constraints": {"perform_comparison": "Disabled"}}}},
              {"name": "snake_case", "inferred_type": "String",
               "monitoring_config_overrides": {"datatype_check_threshold": 0.9}},
              {"name": "none", "inferred_type": "String", "monitoringConfigOverrides": {}}
            ]}"#,
        )
        .unwrap();
        let documented = overrides_of(&c, "documented");
        assert_eq!(documented.emit_metrics, Some(Toggle::Disabled));
        assert_eq!(
            documented.distribution_constraints.unwrap().comparison_threshold,
            Some(0.3)
        );
        let sdk_num = c.feature("sdk_num").unwrap();
        assert_eq!(
            sdk_num
                .monitoring_config_overrides
                .as_ref()
                .unwrap()
                .evaluate_constraints,
            Some(Toggle::Disabled)
        );
        assert_eq!(sdk_num.num_constraints.as_ref().unwrap().is_non_negative, Some(true));
        let sdk_string = overrides_of(&c, "sdk_string");
        assert_eq!(sdk_string.emit_metrics, Some(Toggle::Disabled));
        assert_eq!(
            sdk_string.distribution_constraints.unwrap().perform_comparison,
            Some(Toggle::Disabled)
        );
        assert_eq!(
            c.feature("sdk_string")
                .unwrap()
                .string_constraints
                .as_ref()
                .unwrap()
                .domains,
            Some(vec!["a".to_owned()])
        );
        assert_eq!(overrides_of(&c, "snake_case").datatype_check_threshold, Some(0.9));
        assert_eq!(overrides_of(&c, "none"), MonitoringConfigOverrides::default());

        // What holds for a feature: the data set's config with its overrides applied.
        let mut c = c;
        c.monitoring_config = MonitoringConfig::model_monitor_defaults();
        let documented = c.config_for("documented");
        assert_eq!(documented.emit_metrics, Some(Toggle::Disabled));
        let dc = documented.distribution_constraints.unwrap();
        assert_eq!(
            (dc.comparison_threshold, dc.categorical_comparison_threshold),
            (Some(0.3), Some(0.1))
        );
        assert_eq!(c.config_for("absent"), MonitoringConfig::model_monitor_defaults());
    }

    #[test]
    fn with_several_forms_each_key_comes_from_the_documented_one_first() {
        let c: Constraints = serde_json::from_str(
            r#"{"features": [{"name": "x",
              "monitoringConfigOverrides": {"emit_metrics": "Disabled",
                 "distribution_constraints": {"comparison_threshold": 0.2}, "comparison_threshold": 0.9},
              "monitoring_config_overrides": {"emit_metrics": "Enabled", "evaluate_constraints": "Disabled",
                 "comparison_method": "Simple"},
              "num_constraints": {"monitoring_config_overrides": {"evaluate_constraints": "Enabled",
                 "datatype_check_threshold": 0.5, "comparison_threshold": 0.7}},
              "string_constraints": {"monitoring_config_overrides": {"datatype_check_threshold": 0.1,
                 "domain_content_threshold": 0.4}}}]}"#,
        )
        .unwrap();
        let o = overrides_of(&c, "x");
        assert_eq!(o.emit_metrics, Some(Toggle::Disabled), "documented over snake_case");
        assert_eq!(
            o.evaluate_constraints,
            Some(Toggle::Disabled),
            "snake_case over num_constraints"
        );
        assert_eq!(
            o.datatype_check_threshold,
            Some(0.5),
            "num_constraints over string_constraints"
        );
        assert_eq!(o.domain_content_threshold, Some(0.4), "string_constraints when alone");
        let dc = o.distribution_constraints.unwrap();
        assert_eq!(
            dc.comparison_threshold,
            Some(0.2),
            "nested over flat, documented over the rest"
        );
        assert_eq!(dc.comparison_method.as_deref(), Some("Simple"));
    }

    #[test]
    fn overrides_are_written_in_the_documented_form_only() {
        let mut c = Constraints::suggest(&Statistics::from_profile(
            &DatasetProfile::new([("x".to_owned(), None)]),
            false,
        ));
        c.features[0].num_constraints = Some(NumConstraints {
            is_non_negative: Some(true),
        });
        c.features[0].monitoring_config_overrides = Some(MonitoringConfigOverrides {
            emit_metrics: Some(Toggle::Disabled),
            distribution_constraints: Some(DistributionConstraints {
                comparison_threshold: Some(0.3),
                ..Default::default()
            }),
            ..Default::default()
        });
        let json = serde_json::to_value(&c).unwrap();
        let feature = &json["features"][0];
        assert_eq!(
            feature["monitoringConfigOverrides"],
            serde_json::json!({"emit_metrics": "Disabled", "distribution_constraints": {"comparison_threshold": 0.3}})
        );
        assert!(feature.get("monitoring_config_overrides").is_none());
        assert_eq!(feature["num_constraints"], serde_json::json!({"is_non_negative": true}));
        let back: Constraints = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);
        // No overrides, no key.
        c.features[0].monitoring_config_overrides = None;
        assert!(
            serde_json::to_value(&c).unwrap()["features"][0]
                .get("monitoringConfigOverrides")
                .is_none()
        );
    }

    /// Statistics with four features whose baseline side is empty, in each way a file can say so.
    const EMPTY_SKETCHES: &str = r#"{"version": 0.0, "dataset": {"item_count": 10}, "features": [
      {"name": "no_distribution", "inferred_type": "Fractional", "numerical_statistics": {
        "common": {"num_present": 10, "num_missing": 0}, "mean": 1, "sum": 10, "std_dev": 0, "min": 1, "max": 1}},
      {"name": "empty_sketch", "inferred_type": "Fractional", "numerical_statistics": {
        "common": {"num_present": 10, "num_missing": 0}, "mean": 1, "sum": 10, "std_dev": 0, "min": 1, "max": 1,
        "distribution": {"kll": {"buckets": [], "sketch": {"parameters": {"c": 0.64, "k": 2048.0}, "data": [[]]}}}}},
      {"name": "zero_buckets", "inferred_type": "Fractional", "numerical_statistics": {
        "common": {"num_present": 0, "num_missing": 10}, "mean": 0, "sum": 0, "std_dev": 0, "min": 0, "max": 0,
        "distribution": {"kll": {"buckets": [{"lower_bound": 0, "upper_bound": 1, "count": 0}]}}}},
      {"name": "zero_categories", "inferred_type": "String", "string_statistics": {
        "common": {"num_present": 0, "num_missing": 10}, "distinct_count": 1,
        "distribution": {"categorical": {"buckets": [{"value": "a", "count": 0}]}}}}
    ]}"#;

    #[test]
    fn an_empty_baseline_distribution_is_not_compared_never_judged() {
        let statistics: Statistics = serde_json::from_str(EMPTY_SKETCHES).unwrap();
        let names = ["no_distribution", "empty_sketch", "zero_buckets", "zero_categories"];
        let mut current = DatasetProfile::new(names.map(|n| (n.to_owned(), None)));
        for i in 0..100 {
            for f in &mut current.features[..3] {
                f.add_number(f64::from(i), false);
            }
            current.features[3].add_string("a");
        }
        current.item_count = 100;
        current.features.iter_mut().for_each(FeatureProfile::settle);
        let constraints = Constraints::suggest(&statistics);
        let comparison = crate::drift::ModelMonitorComparison::from_constraints(&constraints);
        let report = crate::drift::compare(&statistics, &comparison, &current, &Default::default());
        assert!(report.features.is_empty(), "{:#?}", report.features);
        assert_eq!(report.not_compared.keys().collect::<Vec<_>>(), {
            let mut sorted = names.to_vec();
            sorted.sort_unstable();
            sorted
        });
    }

    /// The cause of a baseline error, as printed.
    fn cause(err: &BaselineError) -> String {
        std::error::Error::source(err).unwrap().to_string()
    }

    /// The fixture's files with `edit` applied to their JSON, through the loader.
    fn fixture_edited(
        edit: impl FnOnce(&mut serde_json::Value, &mut serde_json::Value),
    ) -> Result<Baseline, BaselineError> {
        let dir = fixtures().join("baseline");
        let read = |f: &str| serde_json::from_slice::<serde_json::Value>(&std::fs::read(dir.join(f)).unwrap()).unwrap();
        let (mut statistics, mut constraints) = (read(STATISTICS_FILE), read(CONSTRAINTS_FILE));
        edit(&mut statistics, &mut constraints);
        Baseline::from_json(
            "s3://b/base",
            &serde_json::to_vec(&statistics).unwrap(),
            &serde_json::to_vec(&constraints).unwrap(),
        )
    }

    #[test]
    fn a_zero_row_baseline_is_refused_naming_the_file() {
        for zero in [serde_json::json!({"item_count": 0}), serde_json::json!({})] {
            let err = fixture_edited(|s, _| s["dataset"] = zero).unwrap_err();
            assert_eq!(
                err.to_string(),
                "s3://b/base/statistics.json is not a valid statistics file"
            );
            assert!(cause(&err).starts_with("dataset.item_count is 0"), "{}", cause(&err));
        }
    }

    #[test]
    fn a_feature_named_twice_is_refused_naming_the_file_and_the_feature() {
        let err = fixture_edited(|s, _| {
            let first = s["features"][0].clone();
            s["features"].as_array_mut().unwrap().push(first);
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "s3://b/base/statistics.json is not a valid statistics file"
        );
        assert_eq!(cause(&err), r#"feature "message": named more than once"#);
        let err = fixture_edited(|_, c| {
            let first = c["features"][1].clone();
            c["features"].as_array_mut().unwrap().push(first);
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "s3://b/base/constraints.json is not a valid constraints file"
        );
        assert_eq!(cause(&err), r#"feature "second_message": named more than once"#);
    }

    #[test]
    fn constraints_naming_none_of_the_statistics_features_are_refused() {
        let err = fixture_edited(|_, c| {
            c["features"][0]["name"] = "other".into();
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "s3://b/base/constraints.json is not a valid constraints file"
        );
        assert_eq!(
            cause(&err),
            "it names none of the features of statistics.json (message there, other, second_message here): files \
             of different data sets?"
        );
    }

    #[test]
    fn shares_outside_the_unit_interval_and_unknown_methods_are_refused() {
        type Edit = fn(&mut serde_json::Value);
        let cases: [(Edit, &str); 6] = [
            (
                |c| c["monitoring_config"]["distribution_constraints"]["comparison_threshold"] = (-0.1).into(),
                "monitoring_config.distribution_constraints.comparison_threshold: -0.1 is outside [0, 1]",
            ),
            (
                |c| c["monitoring_config"]["datatype_check_threshold"] = 1.5.into(),
                "monitoring_config.datatype_check_threshold: 1.5 is outside [0, 1]",
            ),
            (
                |c| c["monitoring_config"]["distribution_constraints"]["comparison_method"] = "Simpel".into(),
                r#"monitoring_config.distribution_constraints.comparison_method: "Simpel" is neither "Robust" nor "Simple""#,
            ),
            (
                |c| c["features"][1]["completeness"] = 2.into(),
                r#"feature "second_message": completeness: 2 is outside [0, 1]"#,
            ),
            (
                |c| c["features"][0]["monitoringConfigOverrides"] = serde_json::json!({"comparison_threshold": 3}),
                r#"feature "message": monitoringConfigOverrides.distribution_constraints.comparison_threshold: 3 is outside [0, 1]"#,
            ),
            (
                |c| {
                    c["features"][0]["string_constraints"]["monitoring_config_overrides"]["domain_content_threshold"] =
                        (-1).into()
                },
                r#"feature "message": monitoringConfigOverrides.domain_content_threshold: -1 is outside [0, 1]"#,
            ),
        ];
        for (edit, expected) in cases {
            let err = fixture_edited(|_, c| edit(c)).unwrap_err();
            assert_eq!(
                err.to_string(),
                "s3://b/base/constraints.json is not a valid constraints file"
            );
            assert_eq!(cause(&err), expected);
        }
        // Model Monitor's own values pass, in any case.
        fixture_edited(|_, c| {
            c["monitoring_config"]["distribution_constraints"]["comparison_method"] = "simple".into();
            c["monitoring_config"]["distribution_constraints"]["categorical_drift_method"] = "ChiSquared".into();
            c["monitoring_config"]["distribution_constraints"]["comparison_threshold"] = 0.into();
        })
        .unwrap();
    }

    #[test]
    fn features_of_one_file_only_or_without_values_are_not_comparable() {
        // The SDK's shape: a constrained feature the statistics do not describe.
        let sdk = Baseline::read_dir(&fixtures().join("baseline")).unwrap();
        assert_eq!(
            sdk.not_comparable().into_iter().collect::<Vec<_>>(),
            [(
                "second_message".to_owned(),
                "statistics.json does not describe it".to_owned()
            )]
        );
        // Described but not constrained, and empty distributions.
        let statistics: Statistics = serde_json::from_str(EMPTY_SKETCHES).unwrap();
        let mut constraints = Constraints::suggest(&statistics);
        constraints.features.retain(|f| f.name != "zero_categories");
        let baseline = Baseline {
            statistics,
            constraints,
        };
        baseline.check("base").unwrap();
        let reasons = baseline.not_comparable();
        assert_eq!(reasons["no_distribution"], "the baseline has no distribution for it");
        assert_eq!(reasons["empty_sketch"], "the baseline has no distribution for it");
        assert_eq!(reasons["zero_buckets"], "the baseline has no distribution for it");
        assert_eq!(
            reasons["zero_categories"],
            "constraints.json does not list it, so captures are not read for it"
        );
        // A baseline from a profile has none.
        let mut profile = DatasetProfile::new([("x".to_owned(), None)]);
        profile.features[0].add_number(1.0, false);
        profile.item_count = 1;
        assert!(Baseline::from_profile(&profile).not_comparable().is_empty());
    }

    #[test]
    fn a_drift_report_names_the_features_the_baseline_cannot_compare() {
        let baseline = Baseline::read_dir(&fixtures().join("baseline")).unwrap();
        let mut current = DatasetProfile::new(baseline.schema().features.into_iter().map(|f| (f.name, f.kind)));
        for _ in 0..50 {
            current.features[0].add_string("hello-from-the-fixture");
            current.features[1].add_string("hello-from-the-fixture");
        }
        current.item_count = 50;
        let comparison = crate::drift::ModelMonitorComparison::from_constraints(&baseline.constraints);
        let mut report = crate::drift::compare(&baseline.statistics, &comparison, &current, &Default::default());
        // `compare` alone leaves the feature out without a word.
        assert!(report.feature("second_message").is_none() && report.not_compared.is_empty());
        report.add_not_comparable(&baseline);
        assert_eq!(
            report.not_compared.get("second_message").map(String::as_str),
            Some("statistics.json does not describe it")
        );
        assert!(report.feature("message").is_some() && !report.not_compared.contains_key("message"));
    }

    #[test]
    fn statistics_round_trip_through_json_with_sketch_and_buckets() {
        let mut profile = DatasetProfile::new([("x".to_owned(), None), ("s".to_owned(), None)]);
        for i in 0..5000 {
            profile.features[0].add_number((i % 100) as f64 / 10.0, false);
            profile.features[1].add_string(if i % 3 == 0 { "a" } else { "b" });
        }
        profile.item_count = 5000;
        profile.features.iter_mut().for_each(FeatureProfile::settle);
        let stats = Statistics::from_profile(&profile, false);
        let json = serde_json::to_string_pretty(&stats).unwrap();
        let back: Statistics = serde_json::from_str(&json).unwrap();
        assert_eq!(back, stats);
        let x = back.feature("x").unwrap();
        assert_eq!(x.inferred_type, InferredType::Fractional);
        let n = x.numerical_statistics.as_ref().unwrap();
        assert!((n.mean - 4.95).abs() < 1e-9);
        let buckets = &n.distribution.as_ref().unwrap().kll.buckets;
        assert_eq!(buckets.len(), KLL_BUCKETS);
        assert_eq!(buckets.iter().map(|b| b.count).sum::<f64>(), 5000.0);
        assert_eq!((buckets[0].lower_bound, buckets[9].upper_bound), (0.0, 9.9));
        assert_eq!(x.numeric_sketch().unwrap().count(), 5000);
        let s = back.feature("s").unwrap();
        assert_eq!(
            s.categories().unwrap(),
            [("b".to_owned(), 3333.0), ("a".to_owned(), 1667.0)]
        );

        let constraints = Constraints::suggest(&stats);
        assert_eq!(
            constraints
                .feature("x")
                .unwrap()
                .num_constraints
                .as_ref()
                .unwrap()
                .is_non_negative,
            Some(true)
        );
        assert_eq!(
            constraints
                .feature("s")
                .unwrap()
                .string_constraints
                .as_ref()
                .unwrap()
                .domains
                .as_deref(),
            Some(&["b".to_owned(), "a".to_owned()][..])
        );
        let text = serde_json::to_value(&constraints).unwrap();
        assert_eq!(
            text["monitoring_config"]["distribution_constraints"]["comparison_method"],
            "Robust"
        );
        assert_eq!(text["monitoring_config"]["datatype_check_threshold"], 1.0);
    }

    #[test]
    fn counts_written_as_floats_and_boolean_toggles_are_accepted() {
        let stats: Statistics = serde_json::from_str(
            r#"{"version": 0.0, "dataset": {"item_count": 10.0}, "features": [{"name": "a", "inferred_type": "Integral",
               "numerical_statistics": {"common": {"num_present": 9.0, "num_missing": 1}, "mean": 1, "sum": 9,
               "std_dev": 0, "min": 1, "max": 1, "unknown_field": 3}}]}"#,
        )
        .unwrap();
        assert_eq!(stats.dataset.item_count, 10);
        assert_eq!(stats.features[0].common().num_present, 9);
        let c: Constraints = serde_json::from_str(
            r#"{"features": [], "monitoring_config": {"distribution_constraints": {"perform_comparison": true}}}"#,
        )
        .unwrap();
        assert_eq!(
            c.monitoring_config.distribution_constraints.unwrap().perform_comparison,
            Some(Toggle::Enabled)
        );
        let _ = Tracking::Numeric;
    }
}
