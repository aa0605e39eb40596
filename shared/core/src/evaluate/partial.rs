//! A window read in parts by other invocations: the plan of its batches and what each one's reading leaves.
//!
//! A window too large for one invocation is cut into batches of its capture objects ([`plan_batches`], by bytes,
//! in listing order). Each batch is read by another invocation into a [`WindowPartial`] ([`read_batch`]): what
//! the evaluator counted (the profile, the join's captures, the prediction summary, the label-free estimate, the
//! skip counts and the file results), stored as JSON. The window is then evaluated from its partials, merged in the
//! planned order ([`super::Sources::partials`]), with its ground truth read then: the run summary, skips, file
//! results, counts and model quality are those one invocation gives; sums, means and deviations, merged in another
//! grouping, agree to rounding; the quantile sketches, and the drift statistics read from them, agree within the
//! sketches' error (merging sketches is associative only up to it).

use serde::{Deserialize, Serialize};

use crate::baseline::Baseline;
use crate::capture::ReaderCounts;
use crate::history::WindowBuilder;
use crate::ports::{CaptureObject, CaptureSource, PortError};
use crate::profile::DatasetProfile;
use crate::quality::{CbpeAccumulator, CbpeCalibration, JoinPart};
use crate::window::Window;

use super::{EvaluationConfig, Evaluator, FileResult};

/// The partial format this build writes and reads.
pub const PARTIAL_VERSION: u32 = 1;

/// What reading one batch of a window's captures left ([`read_batch`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WindowPartial {
    pub version: u32,
    pub profile: DatasetProfile,
    /// The captures waiting for labels, when model quality is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join: Option<JoinPart>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_error: Option<String>,
    pub predictions: WindowBuilder,
    /// The label-free estimate's accumulator, when the baseline has a calibration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<CbpeAccumulator>,
    pub rows_outside_window: u64,
    pub counts: ReaderCounts,
    pub files: Vec<FileResult>,
}

/// Why a partial cannot be merged into a window.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartialError {
    #[error("a partial of format version {found}; this build reads version {PARTIAL_VERSION}")]
    Version { found: u32 },
    #[error("a partial read under another configuration: {0}")]
    Configuration(String),
}

/// A batch of one window's capture objects, for one invocation to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub window: Window,
    /// Its place among the window's batches, from 0: the order its partial is merged in.
    pub index: usize,
    pub objects: Vec<CaptureObject>,
    /// The objects' bytes (as listed).
    pub bytes: u64,
}

/// Cuts a window's capture objects (in listing order) into batches of at most `max_bytes` each, in order; an
/// object larger than that, or of unknown size, is a batch of its own. No object: no batch.
pub fn plan_batches(window: &Window, objects: &[CaptureObject], max_bytes: u64) -> Vec<Batch> {
    let mut batches: Vec<Batch> = Vec::new();
    for object in objects {
        let size = object.size.unwrap_or(max_bytes);
        match batches.last_mut() {
            Some(last) if last.bytes + size <= max_bytes => {
                last.bytes += size;
                last.objects.push(object.clone());
            }
            _ => batches.push(Batch {
                window: *window,
                index: batches.len(),
                objects: vec![object.clone()],
                bytes: size,
            }),
        }
    }
    batches
}

/// Reads one batch of a window's captures into its partial: the same reading as one invocation's (every core, the
/// window's time filter for objects outside the hourly layout), without ground truth.
///
/// # Errors
///
/// A [`PortError`] when an object it names is there but cannot be opened (the batch is retried); an object gone
/// since the plan is recorded in the partial's files, as one invocation records it.
pub fn read_batch(
    source: &dyn CaptureSource,
    batch: &Batch,
    baseline: &Baseline,
    config: &EvaluationConfig,
    estimate: Option<&CbpeCalibration>,
) -> Result<WindowPartial, PortError> {
    // No ground truth here: labels are read once, by the window's evaluation; the partial holds the captures' side
    // of the join.
    let mut evaluator = Evaluator::new(baseline, config).for_window(&batch.window);
    if let Some(calibration) = estimate {
        evaluator = evaluator.with_estimate(calibration);
    }
    evaluator.read_objects(source, &batch.objects, Some(&batch.window), &mut |_, _, _| {})?;
    Ok(evaluator.into_partial())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::{QualityConfig, Sources, evaluate_window};
    use crate::memory::MemorySource;
    use crate::metrics::MetricScope;
    use crate::quality::ProblemType;
    use crate::testing::DemoCase;

    fn object(name: &str, size: Option<u64>) -> CaptureObject {
        CaptureObject {
            name: name.into(),
            size,
            hour: None,
        }
    }

    #[test]
    fn batches_keep_the_listing_order_and_stay_under_their_bytes() {
        let window = DemoCase::first_hour().hour(0);
        let objects = [
            object("a", Some(40)),
            object("b", Some(50)),
            object("c", Some(30)),
            object("d", Some(250)),
            object("e", None),
            object("f", Some(10)),
        ];
        let batches = plan_batches(&window, &objects, 100);
        let names: Vec<Vec<&str>> = batches
            .iter()
            .map(|b| b.objects.iter().map(|o| o.name.as_str()).collect())
            .collect();
        assert_eq!(names, [vec!["a", "b"], vec!["c"], vec!["d"], vec!["e"], vec!["f"]]);
        assert_eq!(batches.iter().map(|b| b.index).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
        assert_eq!(
            batches.iter().map(|b| b.bytes).collect::<Vec<_>>(),
            [90, 30, 250, 100, 10]
        );
        assert!(plan_batches(&window, &[], 100).is_empty());
    }

    /// Anything serialised, for comparison (`NaN` and all).
    fn json(value: &impl Serialize) -> String {
        serde_json::to_string(value).unwrap()
    }

    /// Three demo hours (6,000 records: the sketches compact) in fifteen files, read in batches by other
    /// "invocations" (partials through JSON) and evaluated from the partials, give one invocation's reports: the
    /// same counts, skips, files, predictions and model quality, and the drift verdicts with statistics within the
    /// sketches' error.
    #[test]
    fn a_window_read_in_batches_evaluates_as_one_invocation_reads_it() {
        let case = DemoCase::first_hour();
        let mut files = Vec::new();
        for (path, body) in &case.data.captures {
            let lines: Vec<&str> = body.lines().collect();
            for (part, chunk) in lines.chunks(lines.len().div_ceil(5)).enumerate() {
                files.push((path.replace(".jsonl", &format!("-{part}.jsonl")), chunk.join("\n")));
            }
        }
        // A bad line, to follow the skip report through.
        files[7].1.push_str("\n{not json");
        let captures = MemorySource::new(files);
        let window = Window::new(case.hour(1).start, case.hour(4).start).unwrap();
        let config = EvaluationConfig {
            quality: Some(QualityConfig::new(ProblemType::BinaryClassification)),
            ..EvaluationConfig::default()
        };
        let scope = MetricScope {
            endpoint: "e".into(),
            schedule: "s".into(),
            timestamp: window.end,
        };
        let sources = Sources {
            captures: &captures,
            ground_truth: Some(&case.ground_truth),
            quality_constraints: None,
            estimate: None,
            partials: None,
        };
        let one = evaluate_window(
            &sources,
            Some(&window),
            &case.baseline,
            &config,
            &scope,
            &mut |_, _, _| {},
        )
        .unwrap();

        let objects = captures.list(Some(&window)).unwrap();
        assert_eq!(objects.len(), 15);
        let total: u64 = objects.iter().filter_map(|o| o.size).sum();
        let batches = plan_batches(&window, &objects, total / 4);
        assert!(batches.len() >= 4, "{} batches", batches.len());
        let partials: Vec<WindowPartial> = batches
            .iter()
            .map(|b| {
                let partial = read_batch(&captures, b, &case.baseline, &config, None).unwrap();
                serde_json::from_str(&serde_json::to_string(&partial).unwrap()).unwrap()
            })
            .collect();
        let merged = Sources {
            partials: Some(&partials),
            ..sources
        };
        let many = evaluate_window(
            &merged,
            Some(&window),
            &case.baseline,
            &config,
            &scope,
            &mut |_, _, _| {},
        )
        .unwrap();

        assert_eq!(one.summary.rows, 6000);
        assert_eq!(one.skips.lines(), 1);
        assert_eq!(
            (&one.summary, &one.skips, &one.files),
            (&many.summary, &many.skips, &many.files)
        );
        // The prediction summary's mean and deviation are merged in another grouping: equal to rounding.
        let value = |v: &crate::history::WindowSummary| serde_json::to_value(v).unwrap();
        crate::testing::assert_json_close(&value(&one.predictions), &value(&many.predictions), 1e-12);
        let quality = one.quality.as_ref().unwrap();
        assert!(quality.measured() && quality.join.matched > 1000, "{:?}", quality.join);
        assert_eq!(json(&one.quality), json(&many.quality));
        assert_eq!(one.drift.drifted, many.drift.drifted);
        assert!(one.drift.drifted > 0, "the demo's later hours drift");
        for (a, b) in one.drift.features.iter().zip(&many.drift.features) {
            assert_eq!((&a.feature, a.drifted), (&b.feature, b.drifted));
            assert!(
                (a.statistic - b.statistic).abs() <= 0.02,
                "{}: {} vs {}",
                a.feature,
                a.statistic,
                b.statistic
            );
        }
        for (a, b) in one.statistics.features.iter().zip(&many.statistics.features) {
            assert_eq!(json(&a.inferred_type), json(&b.inferred_type));
        }

        // A partial read under another configuration is refused, naming why.
        let mut without_quality = read_batch(
            &captures,
            &batches[0],
            &case.baseline,
            &EvaluationConfig::default(),
            None,
        )
        .unwrap();
        let mut evaluator = Evaluator::new(&case.baseline, &config);
        assert!(matches!(
            evaluator.add_partial(without_quality.clone()),
            Err(PartialError::Configuration(why)) if why.contains("without model quality")
        ));
        without_quality.version = PARTIAL_VERSION + 1;
        assert_eq!(
            Evaluator::new(&case.baseline, &EvaluationConfig::default()).add_partial(without_quality),
            Err(PartialError::Version {
                found: PARTIAL_VERSION + 1
            })
        );
    }
}
