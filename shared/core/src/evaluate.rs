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
}

/// The streaming evaluation of one window.
pub struct Evaluator<'a> {
    baseline: &'a Baseline,
    config: &'a EvaluationConfig,
    reader: CaptureReader,
    profile: DatasetProfile,
    files: Vec<FileResult>,
}

impl<'a> Evaluator<'a> {
    /// An evaluator against `baseline`.
    pub fn new(baseline: &'a Baseline, config: &'a EvaluationConfig) -> Self {
        let schema = baseline.schema();
        let profile = DatasetProfile::new(schema.features.iter().map(|f| (f.name.clone(), f.kind)));
        Self {
            baseline,
            config,
            reader: CaptureReader::new(config.reader.clone(), schema),
            profile,
            files: Vec::new(),
        }
    }

    /// Reads one capture file (gzip when `name` ends in `.gz`). A file that cannot be read is recorded with its
    /// error and the run goes on; what was read before the failure is kept.
    pub fn add_file(&mut self, name: &str, input: impl Read) -> &FileResult {
        let profile = &mut self.profile;
        let mut sink = |row: &crate::capture::CaptureRow<'_>| profile.add_row(row);
        let result = match self
            .reader
            .read(name, open_decompressed(name, input), &mut sink)
        {
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

    /// Adds a stored partial profile (an hour folded in earlier) instead of re-reading its files.
    pub fn add_profile(&mut self, partial: &DatasetProfile) {
        self.profile.merge(partial);
    }

    /// The profile so far.
    pub fn profile(&self) -> &DatasetProfile {
        &self.profile
    }

    /// Compares, checks and computes the metrics.
    pub fn finish(self, scope: &MetricScope) -> Evaluation {
        let Self {
            baseline,
            config,
            reader,
            profile,
            files,
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
        let metrics = data_metrics(baseline, &profile, &drift, &summary, scope);
        Evaluation {
            statistics,
            violations,
            drift,
            metrics,
            skips,
            files,
            profile,
            summary,
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
            if !emit
                || (crate::baseline::is_prediction_feature(&feature.name) && feature.total() == 0)
            {
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
    out.push(scope.datum(
        ns,
        "dataset_item_count",
        profile.item_count as f64,
        Unit::Count,
    ));
    out.push(scope.datum(ns, "dataset_drift_share", drift.drift_share, Unit::None));
    out.push(scope.datum(
        ns,
        "dataset_records_skipped",
        summary.skipped as f64,
        Unit::Count,
    ));
    out.push(scope.datum(
        ns,
        "constraint_violations",
        summary.violations as f64,
        Unit::Count,
    ));
    out
}

/// Evaluates the captures of `window` (all of the source's captures without one) against `baseline`.
/// `on_object` is told about each object before it is read (for progress bars and logs).
///
/// # Errors
///
/// A [`PortError`] when the source cannot be listed. Objects that fail to open or read are recorded in
/// [`Evaluation::files`] and the run goes on.
pub fn evaluate_window(
    source: &dyn CaptureSource,
    window: Option<&Window>,
    baseline: &Baseline,
    config: &EvaluationConfig,
    scope: &MetricScope,
    on_object: &mut dyn FnMut(usize, usize, &CaptureObject),
) -> Result<Evaluation, PortError> {
    let objects = source.list(window)?;
    let mut evaluator = Evaluator::new(baseline, config);
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
    Ok(evaluator.finish(scope))
}
