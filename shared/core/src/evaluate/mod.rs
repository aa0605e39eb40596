//! The monitoring use case: read a window's captures, profile them, compare with the baseline, check the
//! constraints and compute the metrics to publish.
//!
//! [`Evaluator`] is the streaming engine (files go in one at a time, read on every core, in constant memory);
//! [`evaluate_window`] drives it from a [`CaptureSource`], or from the partials of a window read elsewhere. Both the
//! CLI and the Lambda function call these; neither decides anything itself.
//!
//! In the same single pass over the rows the evaluator also summarises the window's predictions for the prediction
//! history ([`Evaluation::predictions`], which [`crate::history::update_history`] assesses and records) and, when the
//! baseline holds a CBPE calibration, estimates binary performance without labels ([`Evaluation::estimate`]).
//!
//! # Layout
//!
//! - [`config`]: the evaluation's configuration ([`EvaluationConfig`], [`PredictionConfig`], [`QualityConfig`])
//!   and its defaults.
//! - `chunks`: reading on every core: files cut into chunks of whole lines, each read into its own tally by a free
//!   worker, the tallies merged in input order (the reports do not depend on the number of threads).
//! - [`partial`]: a window read in parts by other invocations: the plan of its batches ([`plan_batches`]), a batch
//!   read into its [`WindowPartial`] ([`read_batch`]), merged by [`Sources::partials`].
//!
//! This module holds the evaluator itself: [`Evaluator`], [`evaluate_window`] over the ports, and what they produce
//! ([`Evaluation`] and its outcomes). The CloudWatch encoding of a window's data metrics is
//! [`crate::metrics::data_metrics`]; the model-quality baseline helpers are [`crate::suggest_quality`]'s.

mod chunks;
pub mod config;
pub mod partial;

use std::io::Read;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::baseline::{Baseline, Statistics};
use crate::capture::{CaptureReader, FileSummary, SkipReport, open_decompressed};
use crate::drift::{self, DriftReport, ModelMonitorComparison};
use crate::history::WindowSummary;
use crate::metrics::{MODEL_METRICS_NAMESPACE, MetricDatum, MetricScope, Unit, data_metrics};
use crate::ports::{CaptureObject, CaptureSource, PortError, PortErrorKind, error_chain};
use crate::profile::DatasetProfile;
use crate::quality::{
    self, CbpeCalibration, EstimatedMetrics, GroundTruth, JoinReport, ModelQualityConstraints, ModelQualityStatistics,
    ProblemSpec, ProblemType, QualityJoin, QualityViolation,
};
use crate::violations::{self, ShapeObservations, Violations};
use crate::window::Window;
use chunks::{Feed, Merge, RowRules, Tally};

pub use config::{DEFAULT_MIN_LABELS, EvaluationConfig, PredictionConfig, QualityConfig, SettingsError};
pub use partial::{Batch, PartialError, WindowPartial, plan_batches, read_batch};

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
    pub label_skips: SkipReport,
    /// Bound on the distance of the reported AUC to the exact one.
    pub auc_error_bound: f64,
    pub ground_truth_files: Vec<FileResult>,
    /// Why the realised metrics were not measured (too few labelled predictions), when they were not: they are
    /// then neither published, nor checked, nor written as statistics.
    pub not_measured: Option<NotMeasured>,
}

impl QualityOutcome {
    /// Whether the realised metrics were measured.
    pub fn measured(&self) -> bool {
        self.not_measured.is_none()
    }
}

/// Too few labelled predictions for the realised metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotMeasured {
    /// Labelled predictions evaluated.
    pub evaluated: u64,
    /// The configured minimum (`quality.min_labels`).
    pub minimum: u64,
    pub reason: String,
}

/// The label-free estimate of a window (CBPE): expected values, not measurements.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EstimateOutcome {
    /// Always `"CBPE"` (confidence-based performance estimation): what produced the numbers.
    pub method: &'static str,
    /// The estimated metrics and expected confusion matrix of the window's scored predictions.
    pub estimate: EstimatedMetrics,
    /// The decision rule estimated, from the calibration.
    pub threshold: f64,
    pub positive_label: String,
    /// Labelled samples the calibration was fitted on.
    pub reference_samples: u64,
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
    /// Capture lines skipped whole ([`SkipReport::lines`]: records that could not be used, and lines that are not
    /// records); rows and values skipped are counted apart in [`Evaluation::skips`].
    pub skipped: u64,
    pub violations: usize,
    pub drifted_features: usize,
    pub compared_features: usize,
    /// Rows of files outside the hourly layout left out because their `inferenceTime` was outside the window or
    /// missing ([`Evaluator::add_file_within`]); not in `rows`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rows_outside_window: u64,
    /// Why the window is not in the prediction history, when it could not be recorded there (its reports are
    /// written all the same).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_not_recorded: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
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
    /// The window's predictions summarised for the prediction history; `start` is the window's start (the metrics'
    /// timestamp when the evaluator was given no window).
    pub predictions: WindowSummary,
    /// The label-free performance estimate, when a CBPE calibration was given.
    pub estimate: Option<EstimateOutcome>,
    /// Each feature's distribution in the baseline and in the window, for `report.html`'s charts.
    pub distributions: Vec<crate::report_html::FeatureDistribution>,
}

/// The number of labelled predictions a window's model quality was evaluated on (model-metrics namespace,
/// modelwatch's): published whenever quality is configured, measured or not, so that an alarm can tell "no labels
/// yet" from "quality fell".
pub const LABELS_EVALUATED_METRIC: &str = "quality_labels_evaluated";

/// The streaming evaluation of one window.
pub struct Evaluator<'a> {
    baseline: &'a Baseline,
    config: &'a EvaluationConfig,
    /// The run's reader: its schema and configuration, and the counts of every chunk read.
    reader: CaptureReader,
    rules: RowRules<'a>,
    /// What the rows added up to.
    tally: Tally,
    files: Vec<FileResult>,
    quality: Option<QualityState>,
    window_start: Option<DateTime<Utc>>,
}

/// The model-quality state besides the join (which is the tally's).
struct QualityState {
    problem: ProblemType,
    skips: SkipReport,
    files: Vec<FileResult>,
}

impl<'a> Evaluator<'a> {
    /// An evaluator against `baseline`.
    pub fn new(baseline: &'a Baseline, config: &'a EvaluationConfig) -> Self {
        let schema = baseline.schema();
        let rules = RowRules {
            features: schema.features.iter().map(|f| (f.name.clone(), f.kind)).collect(),
            outputs: config
                .quality
                .as_ref()
                .map(QualityConfig::spec)
                .or_else(|| config.predictions.as_ref().map(PredictionConfig::spec)),
            quality: config.quality.as_ref().map(QualityConfig::spec),
            calibration: None,
        };
        let quality = config.quality.as_ref().map(|q| QualityState {
            problem: q.problem_type,
            skips: SkipReport::default(),
            files: Vec::new(),
        });
        Self {
            baseline,
            config,
            reader: CaptureReader::new(config.reader.clone(), schema),
            tally: rules.tally(0),
            rules,
            files: Vec::new(),
            quality,
            window_start: None,
        }
    }

    /// Also estimates binary performance without labels (CBPE) under `calibration`. Without a problem type in the
    /// configuration, outputs are then read as the calibration's binary problem.
    pub fn with_estimate(mut self, calibration: &'a CbpeCalibration) -> Self {
        self.rules
            .outputs
            .get_or_insert_with(|| ProblemSpec::Binary(calibration.options.clone()));
        self.rules.calibration = Some(calibration);
        self.tally.estimate = Some(calibration.accumulator());
        self
    }

    /// The evaluated window: its start is the prediction summary's.
    pub fn for_window(mut self, window: &Window) -> Self {
        self.window_start = Some(window.start);
        self
    }

    /// Reads one capture file (gzip when `name` ends in `.gz`). A file that cannot be read is recorded with its
    /// error and the run goes on; what was read before the failure is kept.
    pub fn add_file(&mut self, name: &str, input: impl Read) -> &FileResult {
        self.add_one(name, input, None)
    }

    /// Reads one capture file outside the hourly layout, keeping only the rows whose `inferenceTime` falls inside
    /// `window`; the others (and rows without a time) are counted in [`RunSummary::rows_outside_window`].
    pub fn add_file_within(&mut self, name: &str, input: impl Read, window: &Window) -> &FileResult {
        self.add_one(name, input, Some(*window))
    }

    fn add_one(&mut self, name: &str, input: impl Read, within: Option<Window>) -> &FileResult {
        let read: Result<(), std::convert::Infallible> = self.read_files(|feed| {
            feed.file(name, input, within);
            Ok(())
        });
        let Ok(()) = read;
        self.files.last().expect("a file read leaves its result")
    }

    /// The threads that read captures: the configured number, else one a core; one when the schema is learnt from
    /// the first row (every chunk must be read with the same).
    fn threads(&self) -> usize {
        if self.reader.schema().is_empty() {
            return 1;
        }
        match self.config.reader.threads {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            n => n,
        }
    }

    /// Reads the capture files `feed` hands on, on [`Evaluator::threads`] threads (see [`chunks`]).
    ///
    /// # Errors
    ///
    /// `feed`'s error; the files it handed on before are read all the same.
    fn read_files<E>(&mut self, feed: impl FnOnce(&mut Feed<'_>) -> Result<(), E>) -> Result<(), E> {
        let threads = self.threads();
        let merge = Merge::new(&mut self.tally, &mut self.reader, &mut self.files);
        chunks::read_files(merge, &self.rules, threads, self.config.reader.max_line_bytes, feed)
    }

    /// Reads one ground-truth file (gzip when `name` ends in `.gz`) into the quality join; a no-op without
    /// quality configured. A file that cannot be read is recorded with its error and the run goes on; what was read
    /// before the failure is kept and counted.
    pub fn add_ground_truth(&mut self, name: &str, input: impl Read) {
        let (Some(q), Some(join)) = (self.quality.as_mut(), self.tally.join.as_mut()) else {
            return;
        };
        let error = &mut self.tally.join_error;
        let result = quality::read_ground_truth(
            open_decompressed(name, input),
            name,
            q.problem,
            &mut q.skips,
            |g: GroundTruth| {
                if let Err(e) = join.add_label(&g) {
                    error.get_or_insert_with(|| e.to_string());
                }
            },
        );
        q.files.push(match result {
            Ok(summary) => FileResult {
                name: name.to_owned(),
                summary,
                error: None,
            },
            Err(e) => FileResult {
                name: name.to_owned(),
                summary: e.read_before(),
                error: Some(error_chain(&e)),
            },
        });
    }

    /// Reads `objects` from `source` on every core, each in its place (`on_object` is told before each is opened);
    /// with `window`, the rows of objects outside the hourly layout count only inside it.
    ///
    /// # Errors
    ///
    /// A [`PortError`] when an object is there but cannot be opened (the window is not evaluated on part of its
    /// data); one gone since the listing is recorded in the files and the run goes on.
    fn read_objects(
        &mut self,
        source: &dyn CaptureSource,
        objects: &[CaptureObject],
        window: Option<&Window>,
        on_object: &mut dyn FnMut(usize, usize, &CaptureObject),
    ) -> Result<(), PortError> {
        self.read_files(|feed| {
            for (i, object) in objects.iter().enumerate() {
                on_object(i, objects.len(), object);
                match source.open(object) {
                    // A file outside the hourly layout has no folder that selected it for the window: its records
                    // are.
                    Ok(body) => feed.file(&object.name, body, window.filter(|_| object.hour.is_none()).copied()),
                    // Gone since the listing (a lifecycle rule, a deletion): reported with the window, which is
                    // complete without it.
                    Err(e) if e.kind == PortErrorKind::NotFound => feed.failed(FileResult {
                        name: object.name.clone(),
                        summary: FileSummary::default(),
                        error: Some(error_chain(&e)),
                    }),
                    // There but not readable now (throttled past the retries, a 5xx, no network): the window is
                    // not evaluated on part of its data; it fails, and the scheduled runs retry it.
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })
    }

    /// What the captures read so far add up to, for the window's evaluation elsewhere
    /// ([`partial`](self::partial)).
    pub fn into_partial(self) -> WindowPartial {
        let Tally {
            profile,
            join,
            join_error,
            predictions,
            estimate,
            rows_outside_window,
        } = self.tally;
        let mut reader = self.reader;
        WindowPartial {
            version: partial::PARTIAL_VERSION,
            profile,
            join: join.as_ref().map(QualityJoin::to_part),
            join_error,
            predictions,
            estimate,
            rows_outside_window,
            counts: reader.take_counts(),
            files: self.files,
        }
    }

    /// Adds a partial of the window read elsewhere ([`partial::read_batch`]), after what was read here.
    ///
    /// # Errors
    ///
    /// A [`PartialError`] when the partial is of another format, or was read with or without model quality or the
    /// estimate where this evaluation is not.
    pub fn add_partial(&mut self, partial: WindowPartial) -> Result<(), PartialError> {
        if partial.version != partial::PARTIAL_VERSION {
            return Err(PartialError::Version { found: partial.version });
        }
        let join = match (&self.rules.quality, &partial.join) {
            (Some(spec), Some(part)) => {
                Some(QualityJoin::from_part(spec.clone(), part).map_err(PartialError::Configuration)?)
            }
            (Some(_), None) => return Err(PartialError::Configuration("it was read without model quality".into())),
            (None, _) => None,
        };
        let estimate = match (self.tally.estimate.is_some(), partial.estimate) {
            (true, Some(estimate)) => Some(estimate),
            (true, None) => return Err(PartialError::Configuration("it was read without the estimate".into())),
            (false, _) => None,
        };
        self.tally.merge(Tally {
            profile: partial.profile,
            join,
            join_error: partial.join_error,
            predictions: partial.predictions,
            estimate,
            rows_outside_window: partial.rows_outside_window,
        });
        self.reader.add_counts(&partial.counts);
        self.files.extend(partial.files);
        Ok(())
    }

    /// Adds a stored partial profile (an hour folded in earlier) instead of re-reading its files.
    pub fn add_profile(&mut self, partial: &DatasetProfile) {
        self.tally.profile.merge(partial);
    }

    /// The profile so far.
    pub fn profile(&self) -> &DatasetProfile {
        &self.tally.profile
    }

    /// Compares, checks and computes the metrics; `quality_constraints` are checked when quality is configured.
    pub fn finish(self, scope: &MetricScope, quality_constraints: Option<&ModelQualityConstraints>) -> Evaluation {
        let Self {
            baseline,
            config,
            reader,
            rules,
            tally,
            files,
            quality,
            window_start,
        } = self;
        let Tally {
            profile,
            join,
            join_error,
            predictions,
            estimate,
            rows_outside_window,
        } = tally;
        let comparison = ModelMonitorComparison::from_constraints(&baseline.constraints);
        let mut drift = drift::compare(&baseline.statistics, &comparison, &profile, &config.drift);
        drift.add_not_comparable(baseline);
        drift.nothing_compared = nothing_compared(&NothingComparedFacts {
            baseline_features: baseline.statistics.features.len(),
            files: &files,
            rows: profile.item_count,
            skips: reader.skips(),
            field_counts: reader.field_count_mismatches(),
            drift: &drift,
            min_values: config.drift.min_current_values(),
        });
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
            skipped: skips.lines(),
            violations: violations.violations.len(),
            drifted_features: drift.drifted,
            compared_features: drift.compared,
            rows_outside_window,
            history_not_recorded: None,
        };
        let mut metrics = data_metrics(baseline, &profile, &drift, (summary.skipped, summary.violations), scope);
        let quality = quality.zip(join).map(|(q, join)| {
            let evaluated = join.evaluate();
            let minimum = config.quality.as_ref().map_or(1, |c| c.min_labels.max(1));
            let pairs = evaluated.report.evaluated;
            metrics.push(scope.datum(
                MODEL_METRICS_NAMESPACE,
                LABELS_EVALUATED_METRIC,
                pairs as f64,
                Unit::Count,
            ));
            let not_measured = (pairs < minimum).then(|| NotMeasured {
                evaluated: pairs,
                minimum,
                reason: format!(
                    "{pairs} labelled predictions, fewer than the minimum {minimum} (quality.min_labels): the \
                     realised metrics are not measured; labels may still arrive"
                ),
            });
            let check = quality_constraints
                .filter(|_| not_measured.is_none())
                .map(|c| quality::check_constraints(&evaluated.statistics, c));
            if not_measured.is_none() {
                metrics.extend(quality::quality_metric_data(&evaluated.statistics, scope));
            }
            let mut files = q.files;
            if let Some(e) = join_error {
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
                not_measured,
            }
        });
        let estimate = rules.calibration.zip(estimate).map(|(calibration, acc)| {
            let estimate = acc.estimate();
            metrics.extend(quality::estimate_metric_data(&estimate, scope));
            EstimateOutcome {
                method: "CBPE",
                estimate,
                threshold: calibration.options.threshold,
                positive_label: calibration.options.positive_label.clone(),
                reference_samples: calibration.reference_samples,
            }
        });
        let distributions = crate::report_html::distributions(&baseline.statistics, &statistics);
        Evaluation {
            distributions,
            statistics,
            violations,
            drift,
            metrics,
            skips,
            files,
            profile,
            summary,
            quality,
            predictions: predictions.finish(window_start.unwrap_or(scope.timestamp)),
            estimate,
        }
    }
}
/// What [`nothing_compared`] explains a window from.
struct NothingComparedFacts<'a> {
    baseline_features: usize,
    files: &'a [FileResult],
    rows: u64,
    skips: &'a SkipReport,
    /// Rows skipped for their field count, by the count they had.
    field_counts: &'a std::collections::BTreeMap<usize, u64>,
    drift: &'a DriftReport,
    min_values: u64,
}

/// Why no feature of a window was judged, in one line, when none was (`None` when at least one was): the first
/// cause that applies of an empty baseline, no capture file, no file readable, every record skipped (with the
/// commonest reasons), no record at all, every feature with too few values, no feature comparable.
fn nothing_compared(facts: &NothingComparedFacts<'_>) -> Option<String> {
    /// Skip reasons named in the message, commonest first.
    const REASONS_SHOWN: usize = 3;
    let drift = facts.drift;
    if drift.has_verdict() {
        return None;
    }
    let failed = facts.files.iter().filter(|f| f.error.is_some()).count();
    let reason = if facts.baseline_features == 0 {
        "the baseline has no features (its statistics.json lists none)".to_owned()
    } else if facts.files.is_empty() {
        "no capture file in the window".to_owned()
    } else if facts.rows == 0 && failed == facts.files.len() {
        format!("none of the {failed} capture file(s) could be read")
    } else if facts.rows == 0 && !facts.skips.is_empty() {
        let mut counts: Vec<_> = facts.skips.counts.iter().collect();
        counts.sort_by(|a, b| b.1.cmp(a.1));
        let reasons: Vec<String> = counts
            .iter()
            .take(REASONS_SHOWN)
            .map(|(reason, n)| format!("{} {n}", reason.as_str()))
            .collect();
        let mut text = format!(
            "no row was read: {} line(s) and row(s) skipped ({})",
            facts.skips.lines() + facts.skips.rows(),
            reasons.join(", ")
        );
        if let Some((fields, _)) = facts.field_counts.iter().max_by_key(|(_, n)| **n) {
            text.push_str(&format!(
                "; the baseline has {} features, the rows had {fields} fields",
                facts.baseline_features
            ));
        }
        text
    } else if facts.rows == 0 {
        "the capture files hold no records".to_owned()
    } else if drift.too_few > 0 && drift.too_few == drift.features.len() {
        format!(
            "every feature had fewer than {} values in the window (drift.min_current_values)",
            facts.min_values
        )
    } else {
        let examples: Vec<String> = drift
            .not_compared
            .iter()
            .take(REASONS_SHOWN)
            .map(|(feature, why)| format!("{feature}: {why}"))
            .collect();
        format!(
            "no feature could be compared with the baseline ({})",
            examples.join("; ")
        )
    };
    Some(reason)
}

/// Where a window's data come from.
pub struct Sources<'s> {
    pub captures: &'s dyn CaptureSource,
    /// Ground-truth files in the same hourly layout; read when quality is configured.
    pub ground_truth: Option<&'s dyn CaptureSource>,
    /// Model-quality constraints to check.
    pub quality_constraints: Option<&'s ModelQualityConstraints>,
    /// The baseline's CBPE calibration: estimates binary performance without labels.
    pub estimate: Option<&'s CbpeCalibration>,
    /// The window's captures read elsewhere, in their planned order ([`partial`]): then evaluated instead of the
    /// capture source's objects.
    pub partials: Option<&'s [WindowPartial]>,
}

/// Evaluates the captures of `window` (all of the source's captures without one) against `baseline`, and with
/// quality configured, joins them with the ground truth of the window and its lookback. With
/// [`Sources::partials`], the window's captures are those partials, merged in order, instead of the source's objects.
/// `on_object` is told about each capture object before it is read (for progress bars and logs).
///
/// # Errors
///
/// A [`PortError`] when a source cannot be listed, or an object it listed cannot be opened for another reason
/// than being gone (a window is not evaluated on part of its data; the scheduled runs retry it). An object gone
/// since the listing, or one that fails while being read (a cut or corrupt file), is recorded in
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
    let mut evaluator = Evaluator::new(baseline, config);
    if let Some(w) = window {
        evaluator = evaluator.for_window(w);
    }
    if let Some(calibration) = sources.estimate {
        evaluator = evaluator.with_estimate(calibration);
    }
    if let (Some(q), Some(labels)) = (&config.quality, sources.ground_truth) {
        let label_window = window.map(|w| q.label_window(w));
        for object in labels.list(label_window.as_ref())? {
            match labels.open(&object) {
                Ok(body) => evaluator.add_ground_truth(&object.name, body),
                // As for a capture file below: gone is reported, unreadable fails the window.
                Err(e) if e.kind != PortErrorKind::NotFound => return Err(e),
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
    match sources.partials {
        Some(partials) => {
            for (i, partial) in partials.iter().enumerate() {
                evaluator.add_partial(partial.clone()).map_err(|e| {
                    PortError::new("merging", format!("partial {i} of the window"), PortErrorKind::Other, e)
                })?;
            }
        }
        None => evaluator.read_objects(source, &source.list(window)?, window, on_object)?,
    }
    Ok(evaluator.finish(scope, sources.quality_constraints))
}

/// Evaluates a data set as the window (a day's feature table, a batch scoring output; see
/// [`crate::dataset::profile_as_window`]) against `baseline`: the reports of a window of captures (statistics,
/// drift, violations, metrics), its rows counted as one file's records. Also returns the data set's columns that
/// the baseline does not know (left out). Model quality and the prediction history's outputs come from captures
/// and ground truth only.
///
/// # Errors
///
/// A [`crate::dataset::DatasetError`] when the data set cannot be read or lacks a feature of the baseline.
#[cfg(feature = "datasets")]
pub fn evaluate_dataset(
    path: &std::path::Path,
    options: &crate::dataset::DatasetOptions,
    baseline: &Baseline,
    config: &EvaluationConfig,
    scope: &MetricScope,
) -> Result<(Evaluation, Vec<String>), crate::dataset::DatasetError> {
    let schema = baseline.schema();
    let (profile, unknown) = crate::dataset::profile_as_window(path, options, &schema.features)?;
    let mut evaluator = Evaluator::new(baseline, config);
    evaluator.add_profile(&profile);
    let rows = profile.item_count;
    evaluator.files.push(FileResult {
        name: path.display().to_string(),
        summary: FileSummary {
            lines: rows,
            records: rows,
            rows,
        },
        error: None,
    });
    Ok((evaluator.finish(scope, None), unknown))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{PredictionHistory, Verdict, update_history};
    use crate::memory::MemoryState;
    use crate::ports::StateStore;
    use crate::profile::InferredType;
    use crate::quality::BinaryOptions;

    fn baseline() -> Baseline {
        let mut profile = DatasetProfile::new([("x".to_owned(), Some(InferredType::Fractional))]);
        for i in 0..100 {
            profile.features[0].add_number(f64::from(i) / 10.0, false);
            profile.item_count += 1;
        }
        Baseline::from_profile(&profile)
    }

    fn csv(data: &str) -> serde_json::Value {
        serde_json::json!({"observedContentType": "text/csv", "mode": "INPUT", "data": data, "encoding": "CSV"})
    }

    /// A capture line with input `x` and, when given, an output body.
    fn line(id: &str, x: &str, output: Option<serde_json::Value>) -> String {
        let mut data = serde_json::json!({"endpointInput": csv(x)});
        if let Some(o) = output {
            data["endpointOutput"] = o;
        }
        serde_json::json!({"captureData": data, "eventMetadata": {"eventId": id}, "eventVersion": "0"}).to_string()
    }

    fn captures() -> String {
        let json_output = serde_json::json!({"observedContentType": "application/json", "encoding": "JSON",
            "data": "{\"predictions\": [{\"score\": 0.8, \"predicted_label\": \"1\"}]}"});
        [
            line("a", "1.0", Some(csv("0.9"))),
            line("b", "2.0", Some(csv("0.2"))),
            line("c", "3.0", Some(csv("0.7"))),
            line("d", "4.0", Some(json_output)),
            line("e", "5.0", None),
            line("f", "6.0", Some(csv("NaN"))),
        ]
        .join("\n")
    }

    fn scope() -> MetricScope {
        MetricScope {
            endpoint: "ep".into(),
            schedule: "s".into(),
            timestamp: crate::window::parse_time("2024-05-01T14").unwrap(),
        }
    }

    fn hour() -> Window {
        Window::new(
            crate::window::parse_time("2024-05-01T13").unwrap(),
            crate::window::parse_time("2024-05-01T14").unwrap(),
        )
        .unwrap()
    }

    /// A data set evaluated as the window gives the reports its rows give as captures: columns matched by name (in
    /// another order, the label, an excluded id and an unknown column left out), values typed alike.
    #[cfg(feature = "datasets")]
    #[test]
    fn a_data_set_as_the_window_reports_what_its_rows_report_as_captures() {
        use crate::dataset::{DatasetError, DatasetOptions, profile_dataset};
        let dir = tempfile::tempdir().unwrap();
        let rows = |shift: f64| -> Vec<(f64, i64, &str)> {
            (0..500)
                .map(|i| {
                    (
                        f64::from(i) / 7.0 + shift,
                        i64::from(i % 13),
                        ["a", "b", "c"][i as usize % 3],
                    )
                })
                .collect()
        };
        let train = dir.path().join("train.csv");
        let mut text = String::from("x,n,s,label\n");
        for (x, n, c) in rows(0.0) {
            text.push_str(&format!("{x},{n},{c},1\n"));
        }
        std::fs::write(&train, text).unwrap();
        let options = DatasetOptions {
            has_header: true,
            label_column: Some("label".into()),
            ..Default::default()
        };
        let baseline = Baseline::from_profile(&profile_dataset(&train, &options).unwrap());
        let config = EvaluationConfig::default();

        let current = dir.path().join("current.csv");
        let (mut table, mut captures) = (String::from("id,s,label,x,extra,n\n"), String::new());
        for (i, (x, n, c)) in rows(30.0).into_iter().enumerate() {
            table.push_str(&format!("r{i},{c},0,{x},z,{n}\n"));
            captures.push_str(&line(&format!("r{i}"), &format!("{x},{n},{c}"), None));
            captures.push('\n');
        }
        std::fs::write(&current, table).unwrap();
        let options = DatasetOptions {
            exclude_columns: vec!["id".into()],
            ..options
        };
        let (from_table, unknown) = evaluate_dataset(&current, &options, &baseline, &config, &scope()).unwrap();
        assert_eq!(unknown, ["extra"]);
        assert_eq!(from_table.summary.rows, 500);
        assert_eq!(from_table.files[0].summary.records, 500);

        let mut evaluator = Evaluator::new(&baseline, &config);
        evaluator.add_file("h.jsonl", captures.as_bytes());
        let from_captures = evaluator.finish(&scope(), None);
        fn json(v: &impl Serialize) -> serde_json::Value {
            serde_json::to_value(v).unwrap()
        }
        assert_eq!(json(&from_table.statistics), json(&from_captures.statistics));
        assert_eq!(json(&from_table.drift), json(&from_captures.drift));
        assert_eq!(json(&from_table.violations), json(&from_captures.violations));
        assert!(
            from_table.drift.features.iter().any(|f| f.feature == "x" && f.drifted),
            "x moved by 30"
        );

        // A feature of the baseline without a column is an error naming it.
        std::fs::write(&current, "s,n\na,1\n").unwrap();
        let err = evaluate_dataset(&current, &options, &baseline, &config, &scope()).unwrap_err();
        assert!(
            matches!(&err, DatasetError::NoColumn { column, .. } if column == "label"),
            "{err}"
        );
        let options = DatasetOptions {
            label_column: None,
            exclude_columns: Vec::new(),
            ..options
        };
        let err = evaluate_dataset(&current, &options, &baseline, &config, &scope()).unwrap_err();
        assert!(
            matches!(&err, DatasetError::MissingFeatures { features, .. } if features == "x"),
            "{err}"
        );
    }

    #[test]
    fn one_pass_summarises_predictions_and_estimates_without_labels() {
        let baseline = baseline();
        let config = EvaluationConfig::default();
        // A calibration that maps a score s to (s - 0.1) / 0.8: p = 1, 0.125, 0.75, 0.875 for the four scores.
        let calibration = CbpeCalibration::fit(BinaryOptions::default(), [("0", Some(0.1)), ("1", Some(0.9))]).unwrap();
        let mut evaluator = Evaluator::new(&baseline, &config)
            .for_window(&hour())
            .with_estimate(&calibration);
        evaluator.add_file("h.jsonl", captures().as_bytes());
        let evaluation = evaluator.finish(&scope(), None);
        assert_eq!(evaluation.summary.rows, 6);

        let p = &evaluation.predictions;
        assert_eq!(p.start, hour().start);
        // A missing output and a NaN score are invalid outputs.
        assert_eq!((p.invocations, p.invalid_outputs), (6, 2));
        assert!((p.prediction_mean.unwrap() - (0.9 + 0.2 + 0.7 + 0.8) / 4.0).abs() < 1e-12);
        // Without a problem type in the configuration the calibration's binary rule decides: 3 of 4 positive.
        assert_eq!(p.positive_rate, Some(0.75));
        // Only the JSON output has a predicted label.
        assert_eq!(p.class_shares, [("1".to_owned(), 1.0)].into_iter().collect());

        let e = evaluation.estimate.as_ref().unwrap();
        assert_eq!((e.method, e.estimate.n, e.reference_samples), ("CBPE", 4, 2));
        // Expected confusion: TP 1 + 0.75 + 0.875, FP 0.375, FN 0.125, TN 0.875.
        let c = e.estimate.expected;
        assert!((c.true_positives - 2.625).abs() < 1e-12 && (c.false_positives - 0.375).abs() < 1e-12);
        assert!((c.false_negatives - 0.125).abs() < 1e-12 && (c.true_negatives - 0.875).abs() < 1e-12);
        assert!((e.estimate.accuracy - 0.875).abs() < 1e-12);
        assert!((e.estimate.recall - 2.625 / 2.75).abs() < 1e-12);
        let metric = |n: &str| evaluation.metrics.iter().find(|d| d.metric_name == n);
        let accuracy = metric("estimated_accuracy").unwrap();
        assert_eq!(accuracy.namespace, crate::metrics::MODEL_METRICS_NAMESPACE);
        assert!((accuracy.value - 0.875).abs() < 1e-12);
        assert!(metric("accuracy").is_none(), "no realised metric without labels");
    }

    /// Files of several chunks (bad lines in each, a gzip file cut short) give the same reports, skip locations and
    /// file results on one thread as on several; the cut file's result is the plain reader's.
    #[test]
    fn a_run_reports_the_same_on_one_thread_as_on_several() {
        use std::io::Write as _;
        let baseline = baseline();
        let mut big = String::new();
        let mut bad_lines = Vec::new();
        let mut line_no = 0u64;
        for i in 0..30_000u32 {
            let x = format!("{}", f64::from(i % 1000) / 97.0 + f64::from(i / 10_000));
            let score = f64::from((i * 7919) % 1000) / 1000.0;
            big.push_str(&line(&format!("r{i}"), &x, Some(csv(&score.to_string()))));
            big.push('\n');
            line_no += 1;
            if i % 9_001 == 17 {
                big.push_str("{not json\n");
                line_no += 1;
                bad_lines.push(line_no);
            }
        }
        assert!(
            big.len() > chunks::CHUNK_BYTES,
            "{} bytes: more than one chunk",
            big.len()
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(big.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let cut = &gz[..gz.len() * 3 / 5];
        let labels: String = (0..30_000)
            .step_by(2)
            .map(|i| {
                let y = u8::from((i * 7919) % 1000 >= 400);
                format!(
                    "{{\"groundTruthData\": {{\"data\": \"{y}\", \"encoding\": \"CSV\"}}, \
                     \"eventMetadata\": {{\"eventId\": \"r{i}\"}}, \"eventVersion\": \"0\"}}\n"
                )
            })
            .collect();
        let calibration = CbpeCalibration::fit(BinaryOptions::default(), [("0", Some(0.1)), ("1", Some(0.9))]).unwrap();
        let run = |threads: usize| {
            let config = EvaluationConfig {
                quality: Some(QualityConfig::new(ProblemType::BinaryClassification)),
                reader: crate::capture::ReaderConfig {
                    threads,
                    ..Default::default()
                },
                ..EvaluationConfig::default()
            };
            let mut evaluator = Evaluator::new(&baseline, &config).with_estimate(&calibration);
            evaluator.add_ground_truth("labels.jsonl", labels.as_bytes());
            evaluator.add_file("big.jsonl", big.as_bytes());
            evaluator.add_file("small.jsonl", captures().as_bytes());
            evaluator.add_file("cut.jsonl.gz", cut);
            evaluator.finish(&scope(), None)
        };
        let one = run(1);
        assert_eq!(one.files[0].summary.lines, line_no);
        assert_eq!(one.files[0].summary.records, 30_000);
        let locations: Vec<u64> = one.skips.locations[&crate::capture::SkipReason::NotJson]
            .iter()
            .filter(|l| l.source == "big.jsonl")
            .map(|l| l.line)
            .collect();
        assert_eq!(locations, bad_lines, "lines are numbered across chunks");
        let plain = CaptureReader::new(Default::default(), baseline.schema())
            .read(
                "cut.jsonl.gz",
                open_decompressed("cut.jsonl.gz", cut),
                &mut |_: &crate::capture::CaptureRow<'_>| {},
            )
            .unwrap_err();
        assert_eq!(one.files[2].summary, plain.read_before());
        assert_eq!(one.files[2].error.as_deref(), Some(error_chain(&plain).as_str()));
        assert!(plain.read_before().records > 10_000, "the cut file spans chunks");
        let quality = one.quality.as_ref().unwrap();
        assert!(quality.measured() && quality.join.matched == 15_000);
        let many = run(3);
        assert_eq!(json(&one.statistics), json(&many.statistics), "3 threads");
        assert_eq!(json(&one.drift), json(&many.drift));
        assert_eq!(json(&one.violations), json(&many.violations));
        assert_eq!(
            (&one.skips, &one.files, &one.summary),
            (&many.skips, &many.files, &many.summary)
        );
        assert_eq!(json(&one.quality), json(&many.quality));
        assert_eq!(json(&one.predictions), json(&many.predictions));
        assert_eq!(one.estimate, many.estimate);
        assert_eq!(json(&one.metrics), json(&many.metrics));
    }

    /// Anything serialised, for comparison (`NaN` and all).
    fn json(value: &impl Serialize) -> String {
        serde_json::to_string(value).unwrap()
    }

    #[test]
    fn the_configured_problem_decides_positives_and_regression_has_no_classes() {
        let baseline = baseline();
        let config = EvaluationConfig {
            predictions: Some(PredictionConfig {
                threshold: 0.8,
                ..PredictionConfig::new(ProblemType::BinaryClassification)
            }),
            ..EvaluationConfig::default()
        };
        let mut evaluator = Evaluator::new(&baseline, &config);
        evaluator.add_file("h.jsonl", captures().as_bytes());
        let evaluation = evaluator.finish(&scope(), None);
        // 0.9 by score and the labelled "1" are positive at 0.8; 0.2 and 0.7 are not.
        assert_eq!(evaluation.predictions.positive_rate, Some(0.5));
        assert!(evaluation.estimate.is_none());
        assert_eq!(
            evaluation.predictions.start,
            scope().timestamp,
            "no window: the metrics' time"
        );

        let config = EvaluationConfig {
            predictions: Some(PredictionConfig::new(ProblemType::Regression)),
            ..EvaluationConfig::default()
        };
        let mut evaluator = Evaluator::new(&baseline, &config);
        evaluator.add_file("h.jsonl", captures().as_bytes());
        let p = evaluator.finish(&scope(), None).predictions;
        assert_eq!((p.positive_rate, p.class_shares.len()), (None, 0));
    }

    #[test]
    fn evaluations_feed_the_history_and_a_shifted_hour_is_flagged() {
        let baseline = baseline();
        let config = EvaluationConfig {
            predictions: Some(PredictionConfig::new(ProblemType::BinaryClassification)),
            ..EvaluationConfig::default()
        };
        let store = MemoryState::default();
        let run = |k: i64, scores: &[f64]| {
            let window = Window::new(
                hour().start + chrono::Duration::hours(k),
                hour().end + chrono::Duration::hours(k),
            )
            .unwrap();
            let lines: Vec<String> = scores
                .iter()
                .enumerate()
                .map(|(i, s)| line(&format!("{k}-{i}"), "1.0", Some(csv(&s.to_string()))))
                .collect();
            let mut evaluator = Evaluator::new(&baseline, &config).for_window(&window);
            evaluator.add_file("h.jsonl", lines.join("\n").as_bytes());
            let evaluation = evaluator.finish(&scope(), None);
            update_history(&store, "h", &evaluation.predictions, 3600, &config.history, &scope()).unwrap()
        };
        let normal: Vec<f64> = (0..100).map(|i| 0.2 + 0.002 * f64::from(i % 7)).collect();
        let first = run(0, &normal);
        assert!(
            first
                .assessments
                .iter()
                .all(|a| a.verdict == Verdict::InsufficientHistory)
        );
        for k in 1..6 {
            run(k, &normal);
        }
        let shifted: Vec<f64> = normal.iter().map(|s| s + 0.4).collect();
        let now = run(6, &shifted);
        let mean = now
            .assessments
            .iter()
            .find(|a| a.series == crate::history::Series::PredictionMean)
            .unwrap();
        assert_eq!(mean.verdict, Verdict::Spike, "{mean:?}");
        assert_eq!(mean.reference_windows, 6);
        let positive = now
            .assessments
            .iter()
            .find(|a| a.series == crate::history::Series::PositiveRate)
            .unwrap();
        assert_eq!((positive.value, positive.verdict), (1.0, Verdict::Spike));
        let (body, _) = store.get("h").unwrap().unwrap();
        let stored = PredictionHistory::from_json(std::str::from_utf8(&body).unwrap()).unwrap();
        assert_eq!(stored.windows.len(), 7);
    }

    #[test]
    fn with_too_few_labels_the_realised_metrics_are_not_measured_published_or_written() {
        let baseline = baseline();
        let config = EvaluationConfig {
            quality: Some(QualityConfig::new(ProblemType::BinaryClassification)),
            ..EvaluationConfig::default()
        };
        let label = |id: &str, y: u8| {
            serde_json::json!({"groundTruthData": {"data": y.to_string(), "encoding": "CSV"},
                "eventMetadata": {"eventId": id}, "eventVersion": "0"})
            .to_string()
        };
        let lines: Vec<String> = (0..40)
            .map(|i| {
                line(
                    &format!("r{i}"),
                    "1.0",
                    Some(csv(if i % 2 == 0 { "0.9" } else { "0.1" })),
                )
            })
            .collect();
        let run = |labelled: usize| {
            let mut evaluator = Evaluator::new(&baseline, &config).for_window(&hour());
            evaluator.add_file("h.jsonl", lines.join("\n").as_bytes());
            let labels: Vec<String> = (0..labelled)
                .map(|i| label(&format!("r{i}"), u8::from(i % 2 == 0)))
                .collect();
            evaluator.add_ground_truth("labels.jsonl", labels.join("\n").as_bytes());
            evaluator.finish(&scope(), None)
        };
        let metric = |e: &Evaluation, n: &str| e.metrics.iter().find(|d| d.metric_name == n).map(|d| d.value);

        // Labels arrive late: none yet. Nothing realised is published (accuracy is not 0), the count is.
        let none = run(0);
        let q = none.quality.as_ref().unwrap();
        assert_eq!(
            q.not_measured.as_ref().map(|n| (n.evaluated, n.minimum)),
            Some((0, DEFAULT_MIN_LABELS))
        );
        for name in ["accuracy", "precision", "recall", "f1", "auc"] {
            assert_eq!(metric(&none, name), None, "{name}");
        }
        assert_eq!(metric(&none, LABELS_EVALUATED_METRIC), Some(0.0));
        let files = crate::report::report_files(&none, None).unwrap();
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert!(!names.contains(&"model-quality/statistics.json"), "{names:?}");
        assert!(
            !names.contains(&"model-quality/constraint_violations.json"),
            "{names:?}"
        );
        let join = &files.iter().find(|(n, _)| n == "model-quality/join.json").unwrap().1;
        let join: serde_json::Value = serde_json::from_slice(join).unwrap();
        assert_eq!(join["not_measured"]["evaluated"], 0);

        // Below the minimum: still not measured. At it: measured, published and written.
        assert!(run(29).quality.unwrap().not_measured.is_some());
        let enough = run(30);
        assert!(enough.quality.as_ref().unwrap().measured());
        assert_eq!(metric(&enough, "accuracy"), Some(1.0));
        assert_eq!(metric(&enough, LABELS_EVALUATED_METRIC), Some(30.0));
        let files = crate::report::report_files(&enough, None).unwrap();
        assert!(files.iter().any(|(n, _)| n == "model-quality/statistics.json"));
    }

    /// Evaluates `lines` (capture lines) against `baseline` with the default configuration.
    fn evaluate_lines(baseline: &Baseline, lines: &[String]) -> Evaluation {
        let config = EvaluationConfig::default();
        let mut evaluator = Evaluator::new(baseline, &config).for_window(&hour());
        if !lines.is_empty() {
            evaluator.add_file("h.jsonl", lines.join("\n").as_bytes());
        }
        evaluator.finish(&scope(), None)
    }

    fn metric_names(evaluation: &Evaluation) -> Vec<&str> {
        evaluation.metrics.iter().map(|d| d.metric_name.as_str()).collect()
    }

    #[test]
    fn a_window_with_judged_features_has_a_verdict_and_its_drift_metrics() {
        let lines: Vec<String> = (0..100)
            .map(|i| line(&i.to_string(), &format!("{}", f64::from(i) / 10.0), None))
            .collect();
        let evaluation = evaluate_lines(&baseline(), &lines);
        assert_eq!(evaluation.drift.nothing_compared, None);
        assert!(evaluation.drift.has_verdict());
        let names = metric_names(&evaluation);
        assert!(names.contains(&"dataset_drift_share") && names.contains(&"feature_baseline_drift_x"));
    }

    #[test]
    fn nothing_compared_names_its_reason_and_publishes_no_drift() {
        let no_drift = |e: &Evaluation| {
            let names = metric_names(e);
            assert!(
                !names.iter().any(|n| n.contains("drift")),
                "no drift metric without a verdict: {names:?}"
            );
            assert!(!e.drift.dataset_drifted && !e.drift.has_verdict());
        };
        // Every row has two fields where the baseline has one.
        let lines: Vec<String> = (0..40).map(|i| line(&i.to_string(), "1.0,2.0", None)).collect();
        let e = evaluate_lines(&baseline(), &lines);
        let reason = e.drift.nothing_compared.clone().expect("nothing compared");
        assert!(
            reason.starts_with("no row was read: 40 line(s) and row(s) skipped (field_count 40)"),
            "{reason}"
        );
        assert!(
            reason.ends_with("the baseline has 1 features, the rows had 2 fields"),
            "{reason}"
        );
        no_drift(&e);

        // No capture file at all: an empty report, not an error.
        let e = evaluate_lines(&baseline(), &[]);
        assert_eq!(
            e.drift.nothing_compared.as_deref(),
            Some("no capture file in the window")
        );
        assert_eq!(e.summary.rows, 0);
        no_drift(&e);

        // Three records: every feature has too few values to be judged.
        let lines: Vec<String> = (0..3).map(|i| line(&i.to_string(), "50.0", None)).collect();
        let e = evaluate_lines(&baseline(), &lines);
        assert_eq!(
            e.drift.nothing_compared.as_deref(),
            Some("every feature had fewer than 30 values in the window (drift.min_current_values)")
        );
        assert_eq!(e.drift.too_few, 1);
        no_drift(&e);

        // A baseline without features.
        let empty = Baseline::from_profile(&DatasetProfile::new(Vec::<(String, Option<InferredType>)>::new()));
        let lines: Vec<String> = (0..40).map(|i| line(&i.to_string(), "1.0", None)).collect();
        let e = evaluate_lines(&empty, &lines);
        assert_eq!(
            e.drift.nothing_compared.as_deref(),
            Some("the baseline has no features (its statistics.json lists none)")
        );
        no_drift(&e);

        // A baseline whose feature has no distribution (an inconsistent baseline).
        let mut hollow = baseline();
        for f in &mut hollow.statistics.features {
            if let Some(n) = f.numerical_statistics.as_mut() {
                n.distribution = None;
            }
        }
        let e = evaluate_lines(&hollow, &lines);
        let reason = e.drift.nothing_compared.clone().expect("nothing compared");
        assert!(
            reason.starts_with("no feature could be compared with the baseline (x: "),
            "{reason}"
        );
        no_drift(&e);
    }

    #[test]
    fn a_file_outside_the_hourly_layout_is_filtered_by_its_records_times() {
        let timed = |id: &str, x: &str, time: Option<&str>| {
            let mut v: serde_json::Value = serde_json::from_str(&line(id, x, None)).unwrap();
            if let Some(t) = time {
                v["eventMetadata"]["inferenceTime"] = serde_json::json!(t);
            }
            v.to_string()
        };
        let lines = [
            timed("early", "1.0", Some("2024-05-01T12:59:59Z")),
            timed("in-1", "2.0", Some("2024-05-01T13:00:00Z")),
            timed("in-2", "3.0", Some("2024-05-01T13:59:59Z")),
            timed("late", "4.0", Some("2024-05-01T14:00:00Z")),
            timed("untimed", "5.0", None),
        ]
        .join("\n");
        let (baseline, config) = (baseline(), EvaluationConfig::default());
        let mut evaluator = Evaluator::new(&baseline, &config).for_window(&hour());
        evaluator.add_file_within("single.jsonl", lines.as_bytes(), &hour());
        let e = evaluator.finish(&scope(), None);
        assert_eq!((e.summary.records, e.summary.rows), (5, 2));
        assert_eq!(e.summary.rows_outside_window, 3);
        let x = e
            .statistics
            .feature("x")
            .unwrap()
            .numerical_statistics
            .as_ref()
            .unwrap();
        assert_eq!((x.min, x.max), (2.0, 3.0), "only the hour's records");
    }
}

/// A listed capture object that cannot be opened: gone (reported with the window) or not readable now (the
/// window fails, to be retried).
#[cfg(test)]
mod open_failures {
    use super::*;
    use crate::testing::DemoCase;

    /// The demo's captures, with every object failing to open with `kind`.
    struct Failing<'a> {
        inner: &'a dyn CaptureSource,
        kind: PortErrorKind,
    }

    impl CaptureSource for Failing<'_> {
        fn list(&self, window: Option<&Window>) -> Result<Vec<CaptureObject>, PortError> {
            self.inner.list(window)
        }

        fn open(&self, object: &CaptureObject) -> Result<Box<dyn Read + Send + '_>, PortError> {
            Err(PortError::new(
                "reading",
                object.name.clone(),
                self.kind,
                "SlowDown or NoSuchKey",
            ))
        }
    }

    fn evaluate(kind: PortErrorKind) -> Result<Evaluation, PortError> {
        let case = DemoCase::first_hour();
        let failing = Failing {
            inner: &case.captures,
            kind,
        };
        let sources = Sources {
            captures: &failing,
            ground_truth: None,
            quality_constraints: None,
            estimate: None,
            partials: None,
        };
        let window = case.hour(0);
        let scope = MetricScope {
            endpoint: "e".into(),
            schedule: "s".into(),
            timestamp: window.end,
        };
        evaluate_window(
            &sources,
            Some(&window),
            &case.baseline,
            &EvaluationConfig::default(),
            &scope,
            &mut |_, _, _| {},
        )
    }

    #[test]
    fn a_vanished_object_is_reported_and_the_window_evaluated() {
        let evaluation = evaluate(PortErrorKind::NotFound).expect("evaluated without it");
        assert_eq!(evaluation.summary.files, 1);
        assert_eq!(evaluation.summary.failed_files, 1);
        assert_eq!(evaluation.summary.rows, 0);
    }

    #[test]
    fn an_object_not_readable_now_fails_the_window() {
        let error = evaluate(PortErrorKind::Other).expect_err("not evaluated on part of its data");
        assert_eq!(error.kind, PortErrorKind::Other);
    }
}
