//! An evaluation's report files, with the same names wherever they are written (a local folder, an S3 prefix).

use crate::baseline::STATISTICS_FILE;
use crate::evaluate::{Evaluation, QualityOutcome};
use crate::history::HistoryUpdate;
use crate::ports::{PortError, PortErrorKind, ReportStore};
use crate::violations::VIOLATIONS_FILE;

/// The drift report's file name.
pub const DRIFT_FILE: &str = "drift.json";
/// One CloudWatch datum a line.
pub const METRICS_FILE: &str = "metrics.jsonl";
/// Counts, skipped input and per-file results.
pub const SUMMARY_FILE: &str = "summary.json";
/// Model quality's reports live in their own folder, as Model Monitor's model-quality job writes its own.
pub const QUALITY_DIR: &str = "model-quality";
/// The window's prediction summary and its assessment against the history.
pub const HISTORY_FILE: &str = "prediction_history.json";
/// The label-free estimate (CBPE), in the model-quality folder.
pub const ESTIMATE_FILE: &str = "estimated_metrics.json";

/// The realised metrics of a window's quality outcome (its one problem-type block).
pub fn realised_block(q: &QualityOutcome) -> Option<&crate::quality::MetricsBlock> {
    q.measured()
        .then(|| q.statistics.blocks().next().map(|(_, b)| b))
        .flatten()
}

/// The files of an evaluation, `(name, body)`: `statistics.json`, `constraint_violations.json`, `drift.json`,
/// `metrics.jsonl`, `summary.json`; with quality `model-quality/{statistics.json, constraint_violations.json,
/// join.json}`; with an estimate `model-quality/estimated_metrics.json`; with a history update
/// `prediction_history.json`.
///
/// # Errors
///
/// A serialisation error (none is expected: every value is plain data).
pub fn report_files(
    evaluation: &Evaluation,
    history: Option<&HistoryUpdate>,
) -> Result<Vec<(String, Vec<u8>)>, serde_json::Error> {
    let mut files = vec![
        (
            STATISTICS_FILE.to_owned(),
            serde_json::to_vec_pretty(&evaluation.statistics)?,
        ),
        (
            VIOLATIONS_FILE.to_owned(),
            serde_json::to_vec_pretty(&evaluation.violations)?,
        ),
        (DRIFT_FILE.to_owned(), serde_json::to_vec_pretty(&evaluation.drift)?),
    ];
    let mut metrics = Vec::new();
    for datum in &evaluation.metrics {
        serde_json::to_writer(&mut metrics, datum)?;
        metrics.push(b'\n');
    }
    files.push((METRICS_FILE.to_owned(), metrics));
    let summary = serde_json::json!({
        "summary": evaluation.summary,
        "nothing_compared": evaluation.drift.nothing_compared,
        "skipped": evaluation.skips,
        "files": evaluation.files,
        "report": crate::report_html::REPORT_FILE,
    });
    files.push((SUMMARY_FILE.to_owned(), serde_json::to_vec_pretty(&summary)?));
    files.push((
        crate::report_html::REPORT_FILE.to_owned(),
        crate::report_html::render(evaluation, history).into_bytes(),
    ));
    if let Some(q) = &evaluation.quality {
        // Realised metrics that were not measured (too few labels) are not written: a reader of statistics.json (the
        // retraining loop, Model Monitor's tools) would take them for a measurement.
        if q.measured() {
            files.push((
                format!("{QUALITY_DIR}/{STATISTICS_FILE}"),
                serde_json::to_vec_pretty(&q.statistics)?,
            ));
            let violations = serde_json::json!({ "violations": q.violations });
            files.push((
                format!("{QUALITY_DIR}/{VIOLATIONS_FILE}"),
                serde_json::to_vec_pretty(&violations)?,
            ));
        }
        let join = serde_json::json!({
            "not_measured": q.not_measured,
            "join": q.join,
            "auc_error_bound": q.auc_error_bound,
            "not_evaluated": q.not_evaluated,
            "skipped_labels": q.label_skips,
            "files": q.ground_truth_files,
        });
        files.push((format!("{QUALITY_DIR}/join.json"), serde_json::to_vec_pretty(&join)?));
    }
    if let Some(e) = &evaluation.estimate {
        let realised = evaluation.quality.as_ref().and_then(realised_block).map(|block| {
            e.estimate
                .values()
                .iter()
                .filter_map(|(m, _)| Some((m.to_string(), block.value(m)?)))
                .collect::<std::collections::BTreeMap<_, _>>()
        });
        let report = serde_json::json!({
            "note": "estimated from the scores alone by CBPE with the baseline's calibration; not a measurement",
            "estimate": e,
            "realised": realised,
        });
        files.push((
            format!("{QUALITY_DIR}/{ESTIMATE_FILE}"),
            serde_json::to_vec_pretty(&report)?,
        ));
    }
    if let Some(h) = history {
        files.push((HISTORY_FILE.to_owned(), serde_json::to_vec_pretty(h)?));
    }
    Ok(files)
}

/// Writes [`report_files`] into `store`.
///
/// # Errors
///
/// The first [`PortError`] of the store.
pub fn write_reports(
    store: &dyn ReportStore,
    evaluation: &Evaluation,
    history: Option<&HistoryUpdate>,
) -> Result<(), PortError> {
    let files = report_files(evaluation, history)
        .map_err(|e| PortError::new("serialising", "the reports", PortErrorKind::Other, e))?;
    for (name, body) in files {
        store.put(&name, &body)?;
    }
    Ok(())
}
