//! Writing an evaluation's reports and printing readable tables.

use std::fmt::Write as _;
use std::path::Path;

use modelwatch_core::baseline::Baseline;
use modelwatch_core::evaluate::{EstimateOutcome, Evaluation, QualityOutcome};
use modelwatch_core::history::{Assessment, HistoryUpdate, Series, Verdict};
use modelwatch_core::quality::{CBPE_CALIBRATION_FILE, CbpeCalibration, ModelQualityStatistics};
use modelwatch_core::report::{HISTORY_FILE, QUALITY_DIR, realised_block};
use modelwatch_core::window::Window;

/// The metrics shown in the quality table, in order, when present.
const QUALITY_SHOWN: [&str; 12] = [
    "accuracy",
    "precision",
    "recall",
    "f1",
    "auc",
    "pr_auc",
    "weighted_f1",
    "macro_f1",
    "mae",
    "rmse",
    "r2",
    "mape",
];

pub fn print_quality_baseline(statistics: &ModelQualityStatistics, calibration: Option<&CbpeCalibration>, out: &Path) {
    outln!(
        "Wrote {}/statistics.json and constraints.json (model quality):",
        out.display()
    );
    for (_, block) in statistics.blocks() {
        let shown: Vec<String> = QUALITY_SHOWN
            .iter()
            .filter_map(|m| block.value(m).map(|v| format!("{m} {v:.4}")))
            .collect();
        outln!("  {}", shown.join("  "));
    }
    if let Some(c) = calibration {
        outln!(
            "Wrote {}/{CBPE_CALIBRATION_FILE}: isotonic calibration of {} scored rows, for label-free estimates (CBPE).",
            out.display(),
            c.reference_samples
        );
    }
}

/// The realised metrics of a window (its one block of metrics).
/// The estimate beside the realised values (when labels were joined), clearly marked as an estimate.
fn render_estimate(e: &EstimateOutcome, quality: Option<&QualityOutcome>, s: &mut String) {
    let realised = quality.and_then(realised_block);
    if e.estimate.n == 0 {
        // As published: no estimate of a window without scored predictions.
        let _ = writeln!(
            s,
            "\nEstimated without labels (CBPE): no scored prediction in the window, no estimate."
        );
        return;
    }
    let _ = writeln!(
        s,
        "\nEstimated without labels (CBPE, {} scored predictions, threshold {}): an estimate, not a measurement.",
        e.estimate.n, e.threshold
    );
    let _ = writeln!(s, "  {:<12} {:>10} {:>10}", "metric", "estimated", "realised");
    for (metric, value) in e.estimate.values() {
        let real = realised
            .and_then(|b| b.value(metric))
            .map(fmt_score)
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(s, "  {:<12} {:>10} {:>10}", metric, fmt_score(value), real);
    }
}

/// A series' name as printed and as published.
fn series_name(series: &Series) -> String {
    match series {
        Series::ClassShare(c) => format!("class_share[{c}]"),
        other => other.metric_name().unwrap_or_default().to_owned(),
    }
}

fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Normal => "ok",
        Verdict::Spike => "SPIKE",
        Verdict::Drop => "DROP",
        Verdict::LevelShiftUp => "SHIFT UP",
        Verdict::LevelShiftDown => "SHIFT DOWN",
        Verdict::InsufficientHistory => "learning",
    }
}

fn fmt_value(series: &Series, x: f64) -> String {
    match series {
        Series::Invocations => format!("{x:.0}"),
        _ => format!("{x:.4}"),
    }
}

fn render_history(h: &HistoryUpdate, s: &mut String) {
    let _ = writeln!(
        s,
        "\nPrediction history ({}, {} windows kept{}):",
        h.key,
        h.windows_kept,
        if h.replaced { ", this window replaced" } else { "" }
    );
    let _ = writeln!(
        s,
        "  {:<26} {:>10} {:>10} {:>23} {:>8}  {:<10} compared with",
        "series", "value", "expected", "expected range", "z", "verdict"
    );
    for a in &h.assessments {
        let range = match (a.expected_low, a.expected_high) {
            (Some(lo), Some(hi)) => format!("{} .. {}", fmt_value(&a.series, lo), fmt_value(&a.series, hi)),
            _ => "-".into(),
        };
        let reference = match a.baseline {
            Some(b) => format!(
                "{} ({} windows)",
                serde_json::to_value(b)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                a.reference_windows
            ),
            None => "too few earlier windows".into(),
        };
        let _ = writeln!(
            s,
            "  {:<26} {:>10} {:>10} {:>23} {:>8}  {:<10} {}",
            series_name(&a.series),
            fmt_value(&a.series, a.value),
            a.expected
                .map(|x| fmt_value(&a.series, x))
                .unwrap_or_else(|| "-".into()),
            range,
            a.score.map(|z| format!("{z:.2}")).unwrap_or_else(|| "-".into()),
            verdict_text(a.verdict),
            reference
        );
    }
}

/// The columns of [`hourly_line`].
pub const HOURLY_HEADER: &str =
    "hour               rows  mean score  positive  accuracy  est. accuracy (CBPE)  prediction history";

/// The anomalies of an assessment, or what the detector is doing.
fn history_verdicts(assessments: &[Assessment]) -> String {
    let flagged: Vec<String> = assessments
        .iter()
        .filter(|a| !matches!(a.verdict, Verdict::Normal | Verdict::InsufficientHistory))
        .map(|a| {
            format!(
                "{} {} (z {:.1})",
                series_name(&a.series),
                verdict_text(a.verdict),
                a.score.unwrap_or(f64::NAN)
            )
        })
        .collect();
    if !flagged.is_empty() {
        flagged.join(", ")
    } else if assessments.iter().all(|a| a.verdict == Verdict::InsufficientHistory) {
        "learning (too few earlier windows)".into()
    } else {
        "ok".into()
    }
}

/// One hour of the demo's hourly pass: the prediction summary, realised and estimated accuracy, the verdicts.
pub fn hourly_line(evaluation: &Evaluation, update: Option<&HistoryUpdate>) -> String {
    let w = &evaluation.predictions;
    let opt = |x: Option<f64>| x.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into());
    let accuracy = evaluation
        .quality
        .as_ref()
        .and_then(realised_block)
        .and_then(|b| b.value("accuracy"));
    let estimated = evaluation.estimate.as_ref().map(|e| e.estimate.accuracy);
    format!(
        "{}  {:>5}  {:>10}  {:>8}  {:>8}  {:>20}  {}",
        w.start.format("%Y-%m-%d %H:%M"),
        w.invocations,
        opt(w.prediction_mean),
        opt(w.positive_rate),
        opt(accuracy),
        opt(estimated),
        update.map_or_else(|| "not recorded".to_owned(), |u| history_verdicts(&u.assessments))
    )
}

fn render_quality(q: &QualityOutcome, s: &mut String) {
    let j = &q.join;
    let _ = writeln!(
        s,
        "\nModel quality: {} captures, {} labels, {} matched ({} without label, {} labels without capture, {} duplicate ids).",
        j.captures, j.labels, j.matched, j.captures_without_label, j.labels_without_capture, j.duplicate_capture_ids
    );
    if j.scores_outside_unit_interval > 0 {
        let _ = writeln!(
            s,
            "{} scores outside [0, 1] (logits or margins?): auc and au_prc rank them as they are; check that the \
             threshold is on the same scale.",
            j.scores_outside_unit_interval
        );
    }
    if let Some(n) = &q.not_measured {
        let _ = writeln!(
            s,
            "Model quality not measured: {} labelled predictions, fewer than the minimum {} (quality.min_labels). \
             No realised metric is published or checked; labels may still arrive.",
            n.evaluated, n.minimum
        );
        return;
    }
    for (_, block) in q.statistics.blocks() {
        let shown: Vec<String> = QUALITY_SHOWN
            .iter()
            .filter_map(|m| block.value(m).map(|v| format!("{m} {}", fmt_score(v))))
            .collect();
        let _ = writeln!(s, "  {}", shown.join("  "));
    }
    if q.violations.is_empty() {
        let _ = writeln!(s, "Quality violations: none.");
    } else {
        let _ = writeln!(s, "Quality violations ({}):", q.violations.len());
        for v in &q.violations {
            let _ = writeln!(
                s,
                "  {:<24} {:<26} {}",
                v.metric_name, v.constraint_check_type, v.description
            );
        }
    }
    if !q.label_skips.is_empty() {
        let _ = writeln!(
            s,
            "Skipped ground truth: {} lines (see model-quality/join.json).",
            q.label_skips.lines()
        );
    }
}

pub fn print_baseline(baseline: &Baseline, out: &Path) {
    outln!(
        "Wrote {}/statistics.json and constraints.json: {} rows, {} features.",
        out.display(),
        baseline.statistics.dataset.item_count,
        baseline.statistics.features.len()
    );
    for f in &baseline.statistics.features {
        let detail = match (&f.numerical_statistics, f.categories()) {
            (Some(n), _) => format!("mean {:.4}  std {:.4}  [{}, {}]", n.mean, n.std_dev, n.min, n.max),
            (None, Some(c)) => format!("{} distinct values", c.len()),
            _ => String::new(),
        };
        outln!("  {:<24} {:<10} {}", f.name, format!("{:?}", f.inferred_type), detail);
    }
}

fn fmt_score(x: f64) -> String {
    if x != 0.0 && x.abs() < 1e-3 {
        format!("{x:.2e}")
    } else {
        format!("{x:.4}")
    }
}

/// The readable report of an evaluation.
pub fn render_evaluation(evaluation: &Evaluation, history: Option<&HistoryUpdate>, out: &Path) -> String {
    let mut s = String::new();
    let sum = &evaluation.summary;
    let _ = writeln!(
        s,
        "Read {} files, {} records, {} rows; skipped {} lines, {} rows, {} values.",
        sum.files,
        sum.records,
        sum.rows,
        sum.skipped,
        evaluation.skips.rows(),
        evaluation.skips.values()
    );
    let _ = writeln!(
        s,
        "\n{:<22} {:<12} {:<19} {:>10} {:>10} {:>9}  {:<8} {:>9}",
        "feature", "type", "method", "statistic", "p-value", "threshold", "drift", "MM dist."
    );
    for d in &evaluation.drift.features {
        let kind = evaluation
            .statistics
            .feature(&d.feature)
            .map(|f| format!("{:?}", f.inferred_type))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "{:<22} {:<12} {:<19} {:>10} {:>10} {:>9}  {:<8} {:>9}",
            d.feature,
            kind,
            d.method.as_str(),
            fmt_score(d.statistic),
            d.p_value.map(fmt_score).unwrap_or_else(|| "-".into()),
            fmt_score(d.threshold),
            match d.verdict {
                modelwatch_core::drift::Verdict::Drifted => "DRIFT",
                modelwatch_core::drift::Verdict::Ok => "ok",
                modelwatch_core::drift::Verdict::TooFewValues => "too few",
            },
            fmt_score(d.model_monitor_distance),
        );
    }
    for (feature, reason) in &evaluation.drift.not_compared {
        let _ = writeln!(s, "{feature:<22} not compared: {reason}");
    }
    if let Some(reason) = &evaluation.drift.nothing_compared {
        let _ = writeln!(s, "\nData-set drift: NOT COMPARED: {reason}.");
    } else {
        render_dataset_drift(evaluation, &mut s);
    }
    if let Some(reason) = &sum.history_not_recorded {
        let _ = writeln!(s, "Prediction history: not recorded: {reason}.");
    }
    if sum.rows_outside_window > 0 {
        let _ = writeln!(
            s,
            "Rows outside the window (by their inferenceTime, or without one): {}.",
            sum.rows_outside_window
        );
    }
    render_violations(evaluation, &mut s);
    if let Some(q) = &evaluation.quality {
        render_quality(q, &mut s);
    }
    if let Some(e) = &evaluation.estimate {
        render_estimate(e, evaluation.quality.as_ref(), &mut s);
    }
    if let Some(h) = history {
        render_history(h, &mut s);
    }
    if !evaluation.skips.is_empty() {
        let _ = writeln!(s, "Skipped input:");
        for (reason, n) in &evaluation.skips.counts {
            let at: Vec<String> = evaluation.skips.locations[reason]
                .iter()
                .map(|l| format!("{}:{}", l.source, l.line))
                .collect();
            let _ = writeln!(s, "  {:<20} {:>8}  first at {}", reason.as_str(), n, at.join(", "));
        }
    }
    let mut files = vec![
        "statistics.json",
        "constraint_violations.json",
        "drift.json",
        "metrics.jsonl",
        "summary.json",
    ];
    if history.is_some() {
        files.push(HISTORY_FILE);
    }
    let _ = writeln!(s, "Reports: {}/{{{}}}", out.display(), files.join(", "));
    let _ = writeln!(
        s,
        "Open in a browser: {}",
        out.join(modelwatch_core::report_html::REPORT_FILE).display()
    );
    if evaluation.quality.is_some() || evaluation.estimate.is_some() {
        let _ = writeln!(s, "Model quality: {}/{QUALITY_DIR}/", out.display());
    }
    s
}

/// The demo's last words: what happened between the window `before` and the window `after`, in plain words.
pub fn demo_conclusion(before: &Evaluation, after: &Evaluation, window: &Window, folder: &Path) -> String {
    let drifted: Vec<String> = after
        .drift
        .features
        .iter()
        .filter(|f| f.drifted)
        .map(|f| {
            let method = serde_json::to_value(f.method)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            format!(
                "{} ({method} {:.2}, threshold {:.2})",
                f.feature, f.statistic, f.threshold
            )
        })
        .collect();
    let mut s = String::from("What happened:\n");
    let _ = writeln!(
        s,
        "  From {}, {} of {} input features drifted from the training data: {}.",
        window.start.format("%Y-%m-%d %H:%M UTC"),
        after.drift.drifted,
        after.drift.compared,
        if drifted.is_empty() {
            "none".to_owned()
        } else {
            drifted.join(", ")
        }
    );
    let accuracy = |e: &Evaluation| {
        e.quality
            .as_ref()
            .and_then(realised_block)
            .and_then(|b| b.value("accuracy"))
    };
    let estimated = |e: &Evaluation| e.estimate.as_ref().map(|x| x.estimate.accuracy);
    if let (Some(a), Some(b)) = (accuracy(before), accuracy(after)) {
        let _ = write!(s, "  Accuracy measured against the labels went from {a:.2} to {b:.2}");
        match (estimated(before), estimated(after)) {
            (Some(x), Some(y)) => {
                let _ = writeln!(
                    s,
                    "; the label-free estimate (CBPE, from the scores alone) said {x:.2} and then {y:.2}{}.",
                    if (y - x).abs() < 0.05 && (b - a).abs() >= 0.05 {
                        ": the scores did not show the fall, only the labels did"
                    } else {
                        ""
                    }
                );
            }
            _ => s.push_str(".\n"),
        }
    }
    let _ = writeln!(
        s,
        "  To look at it: {}",
        folder.join(modelwatch_core::report_html::REPORT_FILE).display()
    );
    s
}

pub fn print_evaluation(evaluation: &Evaluation, history: Option<&HistoryUpdate>, out: &Path) {
    out!("{}", render_evaluation(evaluation, history, out));
}

/// The data-set drift line of a window with a verdict.
fn render_dataset_drift(evaluation: &Evaluation, s: &mut String) {
    let _ = writeln!(
        s,
        "\nData-set drift: {}/{} features drifted ({:.0}%; {} with too few values not judged), threshold {:.0}%: {}",
        evaluation.drift.drifted,
        evaluation.drift.compared,
        evaluation.drift.drift_share * 100.0,
        evaluation.drift.too_few,
        evaluation.drift.dataset_drift_share_threshold * 100.0,
        if evaluation.drift.dataset_drifted {
            "DRIFTED"
        } else {
            "ok"
        }
    );
}

/// The data-quality constraint violations.
fn render_violations(evaluation: &Evaluation, s: &mut String) {
    if evaluation.violations.violations.is_empty() {
        let _ = writeln!(s, "Violations: none.");
    } else {
        let _ = writeln!(s, "Violations ({}):", evaluation.violations.violations.len());
        for v in &evaluation.violations.violations {
            let _ = writeln!(
                s,
                "  {:<24} {:<26} {}",
                v.feature_name,
                v.constraint_check_type.as_str(),
                v.description
            );
        }
    }
}
