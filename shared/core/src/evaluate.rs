//! The monitoring use case: read a window's captures, profile them, compare with the baseline, check the
//! constraints and compute the metrics to publish.
//!
//! [`Evaluator`] is the streaming engine (files go in one at a time, in constant memory); [`evaluate_window`] drives
//! it from a [`CaptureSource`]. Both the CLI and the Lambda function call these; neither decides anything itself.

use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::baseline::{Baseline, Statistics};
use crate::capture::{CaptureReader, FileSummary, ReaderConfig, SkipReport, open_decompressed};
use crate::drift::{self, DriftConfig, DriftReport, ModelMonitorComparison};
use crate::metrics::{DATA_METRICS_NAMESPACE, MetricDatum, MetricScope, StatisticSet, Unit};
use crate::ports::{CaptureObject, CaptureSource, PortError};
use crate::profile::DatasetProfile;
use crate::quality::{
    self, BinaryOptions, GroundTruth, JoinReport, ModelQualityConstraints, ModelQualityStatistics, ProblemSpec,
    ProblemType, QualityJoin, QualityViolation, SkipCounts,
};
use crate::violations::{self, ShapeObservations, Violations};
use crate::window::Window;

/// The evaluation's configuration (the `--config` file, JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationConfig {
    /// How captures are read.
    #[serde(default)]
    pub reader: ReaderConfig,
    /// How drift is measured.
    #[serde(default)]
    pub drift: DriftConfig,
    /// Model quality against ground truth; off when absent.
    #[serde(default)]
    pub quality: Option<QualityConfig>,
}

/// How predictions are judged against ground truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityConfig {
    /// `BinaryClassification`, `MulticlassClassification` or `Regression`.
    pub problem_type: ProblemType,
    /// A score at or above it predicts the positive class (binary; default 0.5).
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// The positive class (binary; default `"1"`).
    #[serde(default = "default_positive_label")]
    pub positive_label: String,
    /// Labels arrive late: label files up to this many hours after the window's end are read (default 24).
    #[serde(default = "default_label_lookback_hours")]
    pub label_lookback_hours: u32,
}

fn default_threshold() -> f64 {
    0.5
}

fn default_positive_label() -> String {
    "1".to_owned()
}

fn default_label_lookback_hours() -> u32 {
    24
}

impl QualityConfig {
    /// The quality settings for `problem_type` with the defaults.
    pub fn new(problem_type: ProblemType) -> Self {
        Self {
            problem_type,
            threshold: default_threshold(),
            positive_label: default_positive_label(),
            label_lookback_hours: default_label_lookback_hours(),
        }
    }

    /// The join's problem specification.
    pub fn spec(&self) -> ProblemSpec {
        match self.problem_type {
            ProblemType::BinaryClassification => ProblemSpec::Binary(BinaryOptions {
                positive_label: self.positive_label.clone(),
                threshold: self.threshold,
                ..BinaryOptions::default()
            }),
            ProblemType::MulticlassClassification => ProblemSpec::Multiclass,
            ProblemType::Regression => ProblemSpec::Regression,
        }
    }

    /// The hours of label folders to read for a capture window.
    pub fn label_window(&self, window: &Window) -> Window {
        Window {
            start: window.start,
            end: window.end + chrono::Duration::hours(i64::from(self.label_lookback_hours)),
        }
    }
}

/// Model quality of a window.
#[derive(Debug, Clone, Serialize)]
pub struct QualityOutcome {
    pub join: JoinReport,
    /// Model Monitor's model-quality `statistics.json`.
    pub statistics: ModelQualityStatistics,
    /// Violations of the model-quality constraints, when given.
    pub violations: Vec<QualityViolation>,
    /// Constrained metrics that could not be checked.
    pub not_evaluated: Vec<String>,
    /// Ground-truth lines skipped, by reason.
    pub label_skips: SkipCounts,
    /// Bound on the distance of the reported AUC to the exact one.
    pub auc_error_bound: f64,
    pub ground_truth_files: Vec<FileResult>,
}

/// What happened to one capture file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileResult {
    pub name: String,
    #[serde(flatten)]
    pub summary: FileSummary,
    /// Why the file could not be read, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Counts of a run, for the summary file and the printed report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub files: usize,
    pub failed_files: usize,
    pub lines: u64,
    pub records: u64,
    pub rows: u64,
    pub skipped: u64,
    pub violations: usize,
    pub drifted_features: usize,
    pub compared_features: usize,
}

/// Everything an evaluation produces.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The window's statistics in Model Monitor's schema.
    pub statistics: Statistics,
    pub violations: Violations,
    pub drift: DriftReport,
    pub metrics: Vec<MetricDatum>,
    pub skips: SkipReport,
    pub files: Vec<FileResult>,
    /// The window's profile, to store and merge later.
    pub profile: DatasetProfile,
    pub summary: RunSummary,
    /// Model quality, when ground truth was configured.
    pub quality: Option<QualityOutcome>,
}

/// The streaming evaluation of one window.
pub struct Evaluator<'a> {
    baseline: &'a Baseline,
    config: &'a EvaluationConfig,
    reader: CaptureReader,
    profile: DatasetProfile,
    files: Vec<FileResult>,
    quality: Option<QualityState>,
}

struct QualityState {
    join: QualityJoin,
    problem: ProblemType,
    skips: SkipCounts,
    files: Vec<FileResult>,
    /// The first error the join reported (too many classes), kept for the summary.
    error: Option<String>,
}

impl<'a> Evaluator<'a> {
    /// An evaluator against `baseline`.
    pub fn new(baseline: &'a Baseline, config: &'a EvaluationConfig) -> Self {
        let schema = baseline.schema();
        let profile = DatasetProfile::new(schema.features.iter().map(|f| (f.name.clone(), f.kind)));
        let quality = config.quality.as_ref().map(|q| QualityState {
            join: QualityJoin::new(q.spec()),
            problem: q.problem_type,
            skips: SkipCounts::default(),
            files: Vec::new(),
            error: None,
        });
        Self {
            baseline,
            config,
            reader: CaptureReader::new(config.reader.clone(), schema),
            profile,
            files: Vec::new(),
            quality,
        }
    }

    /// Reads one capture file (gzip when `name` ends in `.gz`). A file that cannot be read is recorded with its
    /// error and the run goes on; what was read before the failure is kept.
    pub fn add_file(&mut self, name: &str, input: impl Read) -> &FileResult {
        let profile = &mut self.profile;
        let quality = &mut self.quality;
        let mut sink = |row: &crate::capture::CaptureRow<'_>| {
            profile.add_row(row);
            if let (Some(q), Some(id), Some(p)) = (quality.as_mut(), row.meta.join_id(), row.prediction) {
                let index = (row.rows_in_record > 1).then_some(row.index);
                if let Err(e) = q
                    .join
                    .add_capture(id, index, p.score, p.label.as_deref(), row.meta.inference_time)
                {
                    q.error.get_or_insert_with(|| e.to_string());
                }
            }
        };
        let result = match self.reader.read(name, open_decompressed(name, input), &mut sink) {
            Ok(summary) => FileResult {
                name: name.to_owned(),
                summary,
                error: None,
            },
            Err(e) => FileResult {
                name: name.to_owned(),
                summary: FileSummary::default(),
                error: Some(error_chain(&e)),
            },
        };
        self.files.push(result);
        self.files.last().expect("just pushed")
    }

    /// Reads one ground-truth file (gzip when `name` ends in `.gz`) into the quality join; a no-op without
    /// quality configured. A file that cannot be read is recorded and the run goes on.
    pub fn add_ground_truth(&mut self, name: &str, input: impl Read) {
        let Some(q) = self.quality.as_mut() else { return };
        let join = &mut q.join;
        let error = &mut q.error;
        let mut labels = 0u64;
        let result = quality::read_ground_truth(
            open_decompressed(name, input),
            name,
            q.problem,
            &mut q.skips,
            |g: GroundTruth| {
                labels += 1;
                if let Err(e) = join.add_label(&g) {
                    error.get_or_insert_with(|| e.to_string());
                }
            },
        );
        let summary = FileSummary {
            lines: 0,
            records: labels,
            rows: labels,
        };
        q.files.push(match result {
            Ok(_) => FileResult {
                name: name.to_owned(),
                summary,
                error: None,
            },
            Err(e) => FileResult {
                name: name.to_owned(),
                summary,
                error: Some(error_chain(&e)),
            },
        });
    }

    /// Adds a stored partial profile (an hour folded in earlier) instead of re-reading its files.
    pub fn add_profile(&mut self, partial: &DatasetProfile) {
        self.profile.merge(partial);
    }

    /// The profile so far.
    pub fn profile(&self) -> &DatasetProfile {
        &self.profile
    }

    /// Compares, checks and computes the metrics; `quality_constraints` are checked when quality is configured.
    pub fn finish(self, scope: &MetricScope, quality_constraints: Option<&ModelQualityConstraints>) -> Evaluation {
        let Self {
            baseline,
            config,
            reader,
            profile,
            files,
            quality,
        } = self;
        let comparison = ModelMonitorComparison::from_constraints(&baseline.constraints);
        let drift = drift::compare(&baseline.statistics, &comparison, &profile, &config.drift);
        let shape = ShapeObservations {
            field_count_mismatches: reader.field_count_mismatches().clone(),
            extra_names: reader.extra_names().clone(),
        };
        let violations = violations::check(&baseline.constraints, &profile, &drift, &shape);
        let statistics = Statistics::from_profile(&profile, true);
        let skips = reader.skips().clone();
        let summary = RunSummary {
            files: files.len(),
            failed_files: files.iter().filter(|f| f.error.is_some()).count(),
            lines: files.iter().map(|f| f.summary.lines).sum(),
            records: files.iter().map(|f| f.summary.records).sum(),
            rows: profile.item_count,
            skipped: skips.total(),
            violations: violations.violations.len(),
            drifted_features: drift.drifted,
            compared_features: drift.compared,
        };
        let mut metrics = data_metrics(baseline, &profile, &drift, &summary, scope);
        let quality = quality.map(|q| {
            let evaluated = q.join.evaluate();
            let check = quality_constraints.map(|c| quality::check_constraints(&evaluated.statistics, c));
            metrics.extend(quality::quality_metric_data(&evaluated.statistics, scope));
            let mut files = q.files;
            if let Some(e) = q.error {
                files.push(FileResult {
                    name: "(join)".into(),
                    summary: FileSummary::default(),
                    error: Some(e),
                });
            }
            QualityOutcome {
                join: evaluated.report,
                statistics: evaluated.statistics,
                violations: check.as_ref().map(|c| c.violations.clone()).unwrap_or_default(),
                not_evaluated: check.map(|c| c.not_evaluated).unwrap_or_default(),
                label_skips: q.skips,
                auc_error_bound: evaluated.auc_error_bound,
                ground_truth_files: files,
            }
        });
        Evaluation {
            statistics,
            violations,
            drift,
            metrics,
            skips,
            files,
            profile,
            summary,
            quality,
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// Model Monitor's per-feature data-quality metrics (`feature_data_*` as a statistic set, `feature_non_null_*`,
/// `feature_baseline_drift_*`), for features whose `emit_metrics` is not disabled, plus modelwatch's data-set
/// metrics: `dataset_item_count`, `dataset_drift_share`, `dataset_records_skipped`, `constraint_violations`.
pub fn data_metrics(
    baseline: &Baseline,
    profile: &DatasetProfile,
    drift: &DriftReport,
    summary: &RunSummary,
    scope: &MetricScope,
) -> Vec<MetricDatum> {
    let global_emit = baseline
        .constraints
        .monitoring_config
        .emit_metrics
        .is_none_or(|t| t.is_enabled());
    let mut out = Vec::new();
    if global_emit {
        for feature in profile
            .features
            .iter()
            .chain([&profile.prediction_score, &profile.prediction_label])
        {
            let emit = baseline
                .constraints
                .feature(&feature.name)
                .and_then(|f| f.monitoring_config_overrides.as_ref())
                .and_then(|o| o.emit_metrics)
                .is_none_or(|t| t.is_enabled());
            if !emit || (crate::baseline::is_prediction_feature(&feature.name) && feature.total() == 0) {
                continue;
            }
            let m = &feature.moments;
            if m.count > 0 {
                let mut datum = scope.datum(
                    DATA_METRICS_NAMESPACE,
                    format!("feature_data_{}", feature.name),
                    m.mean,
                    Unit::None,
                );
                datum.statistics = Some(StatisticSet {
                    sample_count: m.count as f64,
                    sum: m.sum,
                    minimum: m.min,
                    maximum: m.max,
                });
                out.push(datum);
            }
            if feature.total() > 0 {
                out.push(scope.datum(
                    DATA_METRICS_NAMESPACE,
                    format!("feature_non_null_{}", feature.name),
                    feature.completeness(),
                    Unit::None,
                ));
            }
            if let Some(d) = drift.feature(&feature.name) {
                out.push(scope.datum(
                    DATA_METRICS_NAMESPACE,
                    format!("feature_baseline_drift_{}", feature.name),
                    d.model_monitor_distance,
                    Unit::None,
                ));
            }
        }
    }
    let ns = DATA_METRICS_NAMESPACE;
    out.push(scope.datum(ns, "dataset_item_count", profile.item_count as f64, Unit::Count));
    out.push(scope.datum(ns, "dataset_drift_share", drift.drift_share, Unit::None));
    out.push(scope.datum(ns, "dataset_records_skipped", summary.skipped as f64, Unit::Count));
    out.push(scope.datum(ns, "constraint_violations", summary.violations as f64, Unit::Count));
    out
}

/// Where a window's data come from.
pub struct Sources<'s> {
    pub captures: &'s dyn CaptureSource,
    /// Ground-truth files in the same hourly layout; read when quality is configured.
    pub ground_truth: Option<&'s dyn CaptureSource>,
    /// Model-quality constraints to check.
    pub quality_constraints: Option<&'s ModelQualityConstraints>,
}

/// Evaluates the captures of `window` (all of the source's captures without one) against `baseline`, and with
/// quality configured, joins them with the ground truth of the window and its lookback.
/// `on_object` is told about each capture object before it is read (for progress bars and logs).
///
/// # Errors
///
/// A [`PortError`] when a source cannot be listed. Objects that fail to open or read are recorded in
/// [`Evaluation::files`] and the run goes on.
pub fn evaluate_window(
    sources: &Sources<'_>,
    window: Option<&Window>,
    baseline: &Baseline,
    config: &EvaluationConfig,
    scope: &MetricScope,
    on_object: &mut dyn FnMut(usize, usize, &CaptureObject),
) -> Result<Evaluation, PortError> {
    let source = sources.captures;
    let objects = source.list(window)?;
    let mut evaluator = Evaluator::new(baseline, config);
    if let (Some(q), Some(labels)) = (&config.quality, sources.ground_truth) {
        let label_window = window.map(|w| q.label_window(w));
        for object in labels.list(label_window.as_ref())? {
            match labels.open(&object) {
                Ok(body) => evaluator.add_ground_truth(&object.name, body),
                Err(e) => {
                    if let Some(state) = evaluator.quality.as_mut() {
                        state.files.push(FileResult {
                            name: object.name.clone(),
                            summary: FileSummary::default(),
                            error: Some(error_chain(&e)),
                        });
                    }
                }
            }
        }
    }
    for (i, object) in objects.iter().enumerate() {
        on_object(i, objects.len(), object);
        match source.open(object) {
            Ok(body) => {
                evaluator.add_file(&object.name, body);
            }
            Err(e) => evaluator.files.push(FileResult {
                name: object.name.clone(),
                summary: FileSummary::default(),
                error: Some(error_chain(&e)),
            }),
        }
    }
    Ok(evaluator.finish(scope, sources.quality_constraints))
}

/// The default relative tolerance of suggested model-quality thresholds: a metric 10% worse than on the
/// validation set is a violation. Model Monitor puts thresholds at the baseline value itself, which makes an
/// ordinary window's sampling noise fire half the alarms; the tolerance keeps the alarms for real degradation.
pub const DEFAULT_QUALITY_TOLERANCE: f64 = 0.1;

/// The model-quality baseline of a labelled validation set: `(label, score, predicted label)` per row. Its
/// statistics, and the constraints suggested from them, loosened by the relative `tolerance` (thresholds of
/// higher-is-better metrics scaled by `1 - tolerance`, lower-is-better ones by `1 + tolerance`).
pub fn quality_baseline(
    config: &QualityConfig,
    rows: impl IntoIterator<Item = (String, Option<f64>, Option<String>)>,
    tolerance: f64,
) -> (ModelQualityStatistics, ModelQualityConstraints) {
    let mut join = QualityJoin::new(config.spec());
    for (i, (label, score, predicted)) in rows.into_iter().enumerate() {
        let id = i.to_string();
        // Too many classes is reported by the statistics (empty); a baseline has no run to keep going.
        let _ = join.add_capture(&id, None, score, predicted.as_deref(), None);
        if let Some(label) = quality::ground_truth::parse_label(&label, config.problem_type) {
            let _ = join.add_label(&GroundTruth { id, label });
        }
    }
    let statistics = join.evaluate().statistics;
    let mut constraints = quality::suggest_constraints(&statistics, &quality::SuggestOptions::default());
    for map in [
        &mut constraints.binary_classification_constraints,
        &mut constraints.multiclass_classification_constraints,
        &mut constraints.regression_constraints,
    ]
    .into_iter()
    .flatten()
    {
        for (metric, c) in map.iter_mut() {
            let factor = if quality::report::lower_is_better(metric) {
                1.0 + tolerance
            } else {
                1.0 - tolerance
            };
            c.threshold *= factor;
        }
    }
    (statistics, constraints)
}
