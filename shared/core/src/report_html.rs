//! `report.html`: an evaluation for a person to look at, one self-contained page beside the JSON reports.
//!
//! What it shows: the run (records, files, skips), a summary (features drifted, violations, model quality), then
//! every feature sorted drifted first and by how far its statistic went past its threshold, each with the
//! baseline's and the window's distributions drawn on one axis from the stored sketches and category counts; the
//! constraint violations; model quality realised beside the label-free estimate; the prediction history of the
//! recent windows. Everything is inline (CSS and SVG, no script, no network), details fold (`<details>`), so that a
//! window with hundreds of features stays readable, and nothing is per record: the page grows with the features,
//! not the traffic.

use std::fmt::Write as _;

use serde::Serialize;

use crate::baseline::{FeatureStatistics, Statistics};
use crate::drift::FeatureDrift;
use crate::evaluate::Evaluation;
use crate::history::{HistoryUpdate, WindowSummary};
use crate::report::realised_block;

/// The report's file name, beside `statistics.json`.
pub const REPORT_FILE: &str = "report.html";
/// Bins of a numeric feature's chart.
const NUMERIC_BINS: usize = 24;
/// Categories drawn per feature; the rest are one bar.
const CATEGORIES_DRAWN: usize = 12;
/// The share of each tail left out of a numeric chart's axis (a far outlier would squash the rest).
const TAIL: f64 = 0.005;

/// A feature's distribution in the baseline and in the window, on one axis: what its chart draws.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Distribution {
    /// Shares of the values in `edges.len() - 1` equal bins from the 0.5th to the 99.5th percentile of both.
    Numeric {
        edges: Vec<f64>,
        baseline: Vec<f64>,
        window: Vec<f64>,
    },
    /// Shares of the most common categories of either, largest first, and of all the others together.
    Categorical {
        categories: Vec<(String, f64, f64)>,
        other: (f64, f64),
    },
}

/// A feature's [`Distribution`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureDistribution {
    pub feature: String,
    pub distribution: Distribution,
}

/// The distributions of the features the window and the baseline share, from their statistics (sketches and
/// category counts); a feature with nothing to draw on either side is left out.
pub fn distributions(baseline: &Statistics, window: &Statistics) -> Vec<FeatureDistribution> {
    window
        .features
        .iter()
        .filter_map(|w| {
            let b = baseline.feature(&w.name)?;
            let distribution = numeric(b, w).or_else(|| categorical(b, w))?;
            Some(FeatureDistribution {
                feature: w.name.clone(),
                distribution,
            })
        })
        .collect()
}

fn numeric(baseline: &FeatureStatistics, window: &FeatureStatistics) -> Option<Distribution> {
    let (b, w) = (baseline.numeric_sketch(), window.numeric_sketch());
    let sketches: Vec<_> = [&b, &w].into_iter().flatten().collect();
    let lo = sketches.iter().filter_map(|s| s.quantile(TAIL)).reduce(f64::min)?;
    let hi = sketches
        .iter()
        .filter_map(|s| s.quantile(1.0 - TAIL))
        .reduce(f64::max)?;
    let (lo, hi) = if hi > lo { (lo, hi) } else { (lo - 0.5, lo + 0.5) };
    let edges: Vec<f64> = (0..=NUMERIC_BINS)
        .map(|i| lo + (hi - lo) * i as f64 / NUMERIC_BINS as f64)
        .collect();
    let shares = |sketch: &Option<crate::sketch::KllSketch>| -> Vec<f64> {
        let Some(s) = sketch else {
            return vec![0.0; NUMERIC_BINS];
        };
        // The first bin takes the lower tail and the last the upper, so that the shares add up to one.
        let cdf: Vec<f64> = edges[1..NUMERIC_BINS].iter().map(|e| s.cdf(*e)).collect();
        (0..NUMERIC_BINS)
            .map(|i| {
                let upper = if i + 1 == NUMERIC_BINS { 1.0 } else { cdf[i] };
                let lower = if i == 0 { 0.0 } else { cdf[i - 1] };
                (upper - lower).max(0.0)
            })
            .collect()
    };
    Some(Distribution::Numeric {
        baseline: shares(&b),
        window: shares(&w),
        edges,
    })
}

fn categorical(baseline: &FeatureStatistics, window: &FeatureStatistics) -> Option<Distribution> {
    let (b, w) = (baseline.categories(), window.categories());
    if b.is_none() && w.is_none() {
        return None;
    }
    let total = |c: &Option<Vec<(String, f64)>>| c.iter().flatten().map(|(_, n)| n).sum::<f64>().max(f64::MIN_POSITIVE);
    let (bt, wt) = (total(&b), total(&w));
    let share = |c: &Option<Vec<(String, f64)>>, t: f64, value: &str| {
        c.iter().flatten().find(|(v, _)| v == value).map_or(0.0, |(_, n)| n / t)
    };
    let mut values: Vec<&str> = b.iter().chain(w.iter()).flatten().map(|(v, _)| v.as_str()).collect();
    values.sort_unstable();
    values.dedup();
    let mut categories: Vec<(String, f64, f64)> = values
        .into_iter()
        .map(|v| (v.to_owned(), share(&b, bt, v), share(&w, wt, v)))
        .collect();
    categories.sort_by(|x, y| y.1.max(y.2).total_cmp(&x.1.max(x.2)).then_with(|| x.0.cmp(&y.0)));
    let rest = categories.split_off(categories.len().min(CATEGORIES_DRAWN));
    let other = rest.iter().fold((0.0, 0.0), |(x, y), (_, b, w)| (x + b, y + w));
    Some(Distribution::Categorical { categories, other })
}

/// The page for `evaluation` (with its prediction-history update, when the run recorded one).
pub fn render(evaluation: &Evaluation, history: Option<&HistoryUpdate>) -> String {
    let mut page = String::with_capacity(64 * 1024);
    let s = &evaluation.summary;
    let title = format!(
        "modelwatch: {} of {} features drifted, {} violations",
        s.drifted_features, s.compared_features, s.violations
    );
    let _ = write!(
        page,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style>\
         </head><body><h1>{}</h1>",
        escape(&title),
        escape(&title)
    );
    let _ = write!(
        page,
        "<p class=\"run\">{} records ({} rows) from {} file(s){}; {} line(s) skipped. Window from {}.</p>",
        s.records,
        s.rows,
        s.files,
        if s.failed_files > 0 {
            format!(", <b>{} could not be read</b>", s.failed_files)
        } else {
            String::new()
        },
        s.skipped,
        evaluation.predictions.start.format("%Y-%m-%d %H:%M UTC"),
    );
    if let Some(reason) = &evaluation.drift.nothing_compared {
        let _ = write!(page, "<p class=\"warn\">Nothing compared: {}</p>", escape(reason));
    }
    summary(&mut page, evaluation);
    features(&mut page, evaluation);
    violations(&mut page, evaluation);
    quality(&mut page, evaluation);
    predictions(&mut page, evaluation, history);
    page.push_str("</body></html>\n");
    page
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}\
h1{font-size:22px}h2{font-size:18px;margin-top:28px}table{border-collapse:collapse}\
td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}td.n{text-align:right}\
.drifted{color:#b00020;font-weight:600}.ok{color:#1b5e20}.muted{color:#777}.warn{color:#b00020}\
.cards{display:flex;gap:16px;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:10px 16px}\
.card b{display:block;font-size:20px}details{margin:4px 0}summary{cursor:pointer}\
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}";

const BASELINE_COLOR: &str = "#9e9e9e";
const WINDOW_COLOR: &str = "#1565c0";

fn summary(page: &mut String, evaluation: &Evaluation) {
    let d = &evaluation.drift;
    page.push_str("<div class=\"cards\">");
    let _ = write!(
        page,
        "<div class=\"card\">features drifted<b class=\"{}\">{} of {}</b>share {}</div>",
        if d.drifted > 0 { "drifted" } else { "ok" },
        d.drifted,
        d.compared,
        percent(d.drift_share)
    );
    let _ = write!(
        page,
        "<div class=\"card\">constraint violations<b class=\"{}\">{}</b>{}</div>",
        if evaluation.violations.violations.is_empty() {
            "ok"
        } else {
            "drifted"
        },
        evaluation.violations.violations.len(),
        if d.too_few > 0 {
            format!("{} feature(s) with too few values", d.too_few)
        } else {
            String::new()
        }
    );
    if let Some(block) = evaluation.quality.as_ref().and_then(realised_block)
        && let Some((name, value)) = ["accuracy", "rmse", "weighted_f1"]
            .into_iter()
            .find_map(|m| block.value(m).map(|v| (m, v)))
    {
        let _ = write!(
            page,
            "<div class=\"card\">{name} (labels)<b>{}</b></div>",
            fixed(value, 3)
        );
    }
    if let Some(e) = &evaluation.estimate {
        let _ = write!(
            page,
            "<div class=\"card\">accuracy estimated without labels<b>{}</b>CBPE, {} scores</div>",
            fixed(e.estimate.accuracy, 3),
            e.estimate.n
        );
    }
    page.push_str("</div>");
}

/// How far past (above 1) or short of its threshold a feature's statistic is, for the order of the table.
fn severity(f: &FeatureDrift) -> f64 {
    match f.p_value {
        Some(p) => f.threshold / p.max(1e-300),
        None => f.statistic / f.threshold.max(1e-300),
    }
}

fn features(page: &mut String, evaluation: &Evaluation) {
    let mut drift: Vec<&FeatureDrift> = evaluation.drift.features.iter().collect();
    drift.sort_by(|a, b| {
        b.drifted
            .cmp(&a.drifted)
            .then_with(|| severity(b).total_cmp(&severity(a)))
            .then_with(|| a.feature.cmp(&b.feature))
    });
    page.push_str("<h2>Features, drifted first</h2><p class=\"legend\">");
    let _ = write!(
        page,
        "<span style=\"background:{BASELINE_COLOR}\"></span>baseline<span style=\"background:{WINDOW_COLOR}\">\
         </span>this window</p><div id=\"features\">"
    );
    for f in drift {
        let verdict = if f.drifted { "drifted" } else { "ok" };
        let test = match f.p_value {
            Some(p) => format!("p-value {} (drift below {})", sig(p), sig(f.threshold)),
            None => format!("{} (drift above {})", sig(f.statistic), sig(f.threshold)),
        };
        let _ = write!(
            page,
            "<details class=\"feature\" data-feature=\"{name}\" data-verdict=\"{verdict}\"{open}><summary>\
             <span class=\"{verdict}\">{label}</span> <b>{name}</b> <span class=\"muted\">{kind}, {method}: \
             {test}</span></summary>",
            name = escape(&f.feature),
            open = if f.drifted { " open" } else { "" },
            label = if f.drifted { "DRIFT" } else { "ok" },
            kind = escape(&f.kind),
            method = escape(&name_of(&f.method)),
        );
        match evaluation.distributions.iter().find(|d| d.feature == f.feature) {
            Some(d) => chart(page, &d.distribution),
            None => page.push_str("<p class=\"muted\">no distribution to draw</p>"),
        }
        page.push_str("</details>");
    }
    page.push_str("</div>");
}

fn chart(page: &mut String, distribution: &Distribution) {
    const W: f64 = 640.0;
    const H: f64 = 140.0;
    let bars: Vec<(String, f64, f64)> = match distribution {
        Distribution::Numeric {
            edges,
            baseline,
            window,
        } => (0..baseline.len())
            .map(|i| (sig(edges[i]), baseline[i], window[i]))
            .collect(),
        Distribution::Categorical { categories, other } => {
            let mut bars = categories.clone();
            if other.0 > 0.0 || other.1 > 0.0 {
                bars.push(("(others)".to_owned(), other.0, other.1));
            }
            bars
        }
    };
    let top = bars.iter().map(|(_, b, w)| b.max(*w)).fold(0.0, f64::max).max(1e-12);
    let slot = W / bars.len().max(1) as f64;
    let _ = write!(
        page,
        "<svg role=\"img\" width=\"{W}\" height=\"{}\" viewBox=\"0 0 {W} {}\">",
        H + 34.0,
        H + 34.0
    );
    for (i, (label, b, w)) in bars.iter().enumerate() {
        let x = i as f64 * slot;
        for (j, (share, color)) in [(b, BASELINE_COLOR), (w, WINDOW_COLOR)].into_iter().enumerate() {
            let h = share / top * H;
            let _ = write!(
                page,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{color}\"><title>{}: {}</title></rect>",
                x + 1.0 + j as f64 * (slot - 2.0) / 2.0,
                H - h,
                ((slot - 2.0) / 2.0).max(0.5),
                escape(label),
                percent(*share)
            );
        }
        let every = (bars.len() / 8).max(1);
        if i % every == 0 {
            let _ = write!(
                page,
                "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" fill=\"#555\">{}</text>",
                x + 1.0,
                H + 14.0,
                escape(&truncate(label, 14))
            );
        }
    }
    let _ = write!(
        page,
        "<line x1=\"0\" y1=\"{H}\" x2=\"{W}\" y2=\"{H}\" stroke=\"#999\"/><text x=\"0\" y=\"{}\" font-size=\"10\" \
         fill=\"#777\">largest bar {}</text></svg>",
        H + 30.0,
        percent(top)
    );
}

fn violations(page: &mut String, evaluation: &Evaluation) {
    let list = &evaluation.violations.violations;
    let _ = write!(page, "<h2>Constraint violations ({})</h2>", list.len());
    if list.is_empty() {
        page.push_str("<p class=\"ok\">none</p>");
        return;
    }
    page.push_str("<table><tr><th>feature</th><th>check</th><th>description</th></tr>");
    for v in list {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&v.feature_name),
            escape(&name_of(&v.constraint_check_type)),
            escape(&v.description)
        );
    }
    page.push_str("</table>");
}

fn quality(page: &mut String, evaluation: &Evaluation) {
    let realised = evaluation.quality.as_ref().and_then(realised_block);
    let estimated = evaluation.estimate.as_ref().map(|e| e.estimate.values());
    if evaluation.quality.is_none() && estimated.is_none() {
        return;
    }
    page.push_str("<h2>Model quality</h2>");
    if let Some(q) = &evaluation.quality {
        let _ = write!(
            page,
            "<p>{} labelled predictions evaluated ({} captures, {} labels).{}</p>",
            q.join.evaluated,
            q.join.captures,
            q.join.labels,
            q.not_measured
                .as_ref()
                .map(|n| format!(" <span class=\"warn\">Not measured: {}</span>", escape(&n.reason)))
                .unwrap_or_default()
        );
    }
    page.push_str("<table><tr><th>metric</th><th>realised (labels)</th><th>estimated (no labels, CBPE)</th></tr>");
    let mut names: Vec<String> = realised
        .map(|b| b.metrics.keys().cloned().collect())
        .unwrap_or_default();
    for (m, _) in estimated.iter().flatten() {
        if !names.iter().any(|n| n == m) {
            names.push((*m).to_owned());
        }
    }
    for name in names {
        let r = realised.and_then(|b| b.value(&name));
        let e = estimated
            .iter()
            .flatten()
            .find(|(m, _)| *m == name.as_str())
            .map(|(_, v)| *v);
        let cell = |v: Option<f64>| v.map_or_else(|| "<span class=\"muted\">-</span>".to_owned(), |v| fixed(v, 4));
        let _ = write!(
            page,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&name),
            cell(r),
            cell(e)
        );
    }
    page.push_str("</table>");
    if let Some(q) = evaluation.quality.as_ref().filter(|q| !q.violations.is_empty()) {
        let _ = write!(
            page,
            "<p class=\"warn\">{} model-quality violation(s).</p>",
            q.violations.len()
        );
    }
}

fn predictions(page: &mut String, evaluation: &Evaluation, history: Option<&HistoryUpdate>) {
    let p = &evaluation.predictions;
    page.push_str("<h2>Predictions</h2>");
    if p.invocations == 0 {
        // A data set or an empty window: nothing captured to summarise (a data set's prediction column is
        // profiled as `prediction_score` above).
        page.push_str("<p class=\"muted\">No captured outputs in this run.</p>");
        return;
    }
    let _ = write!(
        page,
        "<p>{} invocations, {} invalid outputs; mean score {}{}.</p>",
        p.invocations,
        p.invalid_outputs,
        p.prediction_mean.map_or_else(|| "-".to_owned(), sig),
        p.positive_rate
            .map(|r| format!(", positive rate {}", percent(r)))
            .unwrap_or_default()
    );
    let Some(h) = history else {
        page.push_str(
            "<p class=\"muted\">No prediction history for this run (it is kept by the scheduled runs and \
                       the CLI's --state).</p>",
        );
        return;
    };
    for a in &h.assessments {
        let _ = write!(
            page,
            "<p>{}: {} ({})</p>",
            escape(&name_of(&a.series)),
            escape(&name_of(&a.verdict)),
            sig(a.value)
        );
    }
    history_chart(page, &h.recent);
}

fn history_chart(page: &mut String, windows: &[WindowSummary]) {
    let points: Vec<(usize, f64)> = windows
        .iter()
        .enumerate()
        .filter_map(|(i, w)| w.prediction_mean.map(|m| (i, m)))
        .collect();
    if points.len() < 2 {
        return;
    }
    const W: f64 = 640.0;
    const H: f64 = 120.0;
    let lo = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let hi = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let x = |i: usize| i as f64 / (windows.len() - 1).max(1) as f64 * (W - 20.0) + 10.0;
    let y = |v: f64| H - 10.0 - (v - lo) / span * (H - 20.0);
    let path: Vec<String> = points
        .iter()
        .map(|(i, v)| format!("{:.1},{:.1}", x(*i), y(*v)))
        .collect();
    let _ = write!(
        page,
        "<p>Mean score of the last {} windows ({} to {}): from {} to {}.</p><svg role=\"img\" width=\"{W}\" \
         height=\"{H}\"><polyline fill=\"none\" stroke=\"{WINDOW_COLOR}\" stroke-width=\"2\" points=\"{}\"/></svg>",
        windows.len(),
        windows[0].start.format("%Y-%m-%d %H:%M"),
        windows[windows.len() - 1].start.format("%Y-%m-%d %H:%M"),
        sig(lo),
        sig(hi),
        path.join(" ")
    );
}

/// A value's name as its JSON reports write it (`baseline_drift_check`, `prediction_mean`).
fn name_of(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn truncate(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(chars - 1).collect::<String>())
    }
}

/// Four significant digits, as a person reads a statistic.
fn sig(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let magnitude = v.abs().log10().floor() as i32;
    if !(-4..6).contains(&magnitude) {
        return format!("{v:.3e}");
    }
    let decimals = (3 - magnitude).max(0) as usize;
    format!("{v:.decimals$}")
}

fn fixed(v: f64, decimals: usize) -> String {
    format!("{v:.decimals$}")
}

fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::Baseline;
    use crate::profile::{DatasetProfile, InferredType};

    fn statistics(shift: f64, colours: &[&str]) -> Statistics {
        let mut profile = DatasetProfile::new([
            ("x".to_owned(), Some(InferredType::Fractional)),
            ("colour".to_owned(), Some(InferredType::String)),
        ]);
        for i in 0..1000 {
            profile.features[0].add_number(f64::from(i % 100) + shift, false);
            profile.features[1].add_string(colours[i as usize % colours.len()]);
            profile.item_count += 1;
        }
        Baseline::from_profile(&profile).statistics
    }

    #[test]
    fn distributions_share_one_axis_and_add_up_to_one() {
        let d = distributions(
            &statistics(0.0, &["red", "blue"]),
            &statistics(50.0, &["red", "green", "green"]),
        );
        assert_eq!(d.len(), 2);
        let Distribution::Numeric {
            edges,
            baseline,
            window,
        } = &d[0].distribution
        else {
            panic!("x is numeric: {d:?}")
        };
        assert_eq!(
            (edges.len(), baseline.len(), window.len()),
            (NUMERIC_BINS + 1, NUMERIC_BINS, NUMERIC_BINS)
        );
        assert!((baseline.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!((window.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(edges[0] <= 1.0 && edges[NUMERIC_BINS] >= 148.0, "{edges:?}");
        // The baseline (0-99) lies in the lower two thirds of the axis (0-149), the window (50-149) in the upper.
        let third = NUMERIC_BINS / 3;
        assert!(baseline[..2 * third].iter().sum::<f64>() > 0.97, "{baseline:?}");
        assert!(window[..third].iter().sum::<f64>() < 0.03, "{window:?}");
        assert!(window[2 * third..].iter().sum::<f64>() > 0.45, "{window:?}");
        let Distribution::Categorical { categories, other } = &d[1].distribution else {
            panic!("colour is categorical")
        };
        assert_eq!(*other, (0.0, 0.0));
        let shares: Vec<(&str, f64, f64)> = categories.iter().map(|(v, b, w)| (v.as_str(), *b, *w)).collect();
        assert_eq!(shares[0].0, "green");
        assert!((shares[0].2 - 2.0 / 3.0).abs() < 0.01 && shares[0].1 == 0.0);
        assert!(shares.iter().any(|(v, b, _)| *v == "red" && (*b - 0.5).abs() < 1e-9));
    }

    /// Hundreds of features: the page stays small (no per-record data), the drifted ones come first and open, the
    /// others folded.
    #[test]
    fn hundreds_of_features_stay_small_with_the_drifted_first() {
        use crate::evaluate::{EvaluationConfig, Evaluator};
        let n = 300;
        let names: Vec<(String, Option<InferredType>)> = (0..n)
            .map(|i| (format!("f{i:03}"), Some(InferredType::Fractional)))
            .collect();
        let mut profile = DatasetProfile::new(names.clone());
        for r in 0..2000 {
            for f in &mut profile.features {
                f.add_number(f64::from(r % 100), false);
            }
            profile.item_count += 1;
        }
        let baseline = Baseline::from_profile(&profile);
        // The window: features f007 and f123 shifted far, the rest as in the baseline; 2,000 records.
        let mut captures = String::new();
        for r in 0..2000 {
            let values: Vec<String> = (0..n)
                .map(|i| {
                    let shift = if i == 7 || i == 123 { 500 } else { 0 };
                    format!("{}.5", r % 100 + shift)
                })
                .collect();
            captures.push_str(
                &serde_json::json!({"captureData": {"endpointInput": {"observedContentType": "text/csv",
                    "mode": "INPUT", "data": values.join(","), "encoding": "CSV"}},
                    "eventMetadata": {"eventId": format!("e{r}")}, "eventVersion": "0"})
                .to_string(),
            );
            captures.push('\n');
        }
        let config = EvaluationConfig::default();
        let mut evaluator = Evaluator::new(&baseline, &config);
        evaluator.add_file("h.jsonl", captures.as_bytes());
        let scope = crate::metrics::MetricScope {
            endpoint: "ep".into(),
            schedule: "s".into(),
            timestamp: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        };
        let page = render(&evaluator.finish(&scope, None), None);
        let order: Vec<&str> = page
            .split("data-feature=\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap())
            .collect();
        assert_eq!(order.len(), n);
        let mut first_two = order[..2].to_vec();
        first_two.sort_unstable();
        assert_eq!(first_two, ["f007", "f123"]);
        assert_eq!(page.matches(" open>").count(), 2, "only the drifted are unfolded");
        assert!(page.len() < 4 * 1024 * 1024, "{} bytes for {n} features", page.len());
        assert!(page.len() / n < 12 * 1024, "{} bytes a feature", page.len() / n);
    }

    #[test]
    fn text_is_escaped_and_numbers_read_as_a_person_reads_them() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(sig(0.123456), "0.1235");
        assert_eq!(sig(1234.5678), "1235");
        assert_eq!(sig(12.5), "12.50");
        assert_eq!(sig(1.5e-7), "1.500e-7");
        assert_eq!(percent(0.1234), "12.3%");
        assert_eq!(truncate("abcdefghijklmnopq", 5), "abcd…");
    }
}
