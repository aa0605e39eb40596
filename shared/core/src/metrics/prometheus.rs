//! A run's metrics in Prometheus' text exposition format (0.0.4), for node_exporter's textfile collector and the
//! Pushgateway: the data CloudWatch gets, named the Prometheus way.
//!
//! - A metric `m` is the gauge `modelwatch_m`. Model Monitor's per-feature metrics (`feature_data_<feature>`,
//!   `feature_non_null_<feature>`, `feature_baseline_drift_<feature>`) are one family each with a `feature` label
//!   (`modelwatch_feature_baseline_drift{feature="income"}`), so that one query or one Grafana panel covers every
//!   feature.
//! - Dimensions are labels in snake case (`Endpoint` is `endpoint`, `MonitoringSchedule` `monitoring_schedule`); the
//!   CloudWatch namespace is the `namespace` label.
//! - A statistic set (`feature_data_*`) gives its mean as the family's value, and `_sample_count`, `_sum`,
//!   `_minimum` and `_maximum` families.
//! - No sample has a timestamp: the Pushgateway refuses pushed samples with one, and the textfile collector's are
//!   the scrape's. `modelwatch_run_timestamp_seconds` holds the run's time, for "how old is this" alerts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::MetricDatum;
use super::data::{FEATURE_BASELINE_DRIFT_PREFIX, FEATURE_DATA_PREFIX, FEATURE_NON_NULL_PREFIX};

/// The prefix of every metric name.
pub const PREFIX: &str = "modelwatch_";

/// The metrics in the text exposition format, families sorted by name, each with its `# HELP` and `# TYPE`.
pub fn exposition(metrics: &[MetricDatum]) -> String {
    let mut families: BTreeMap<String, (String, Vec<(String, f64)>)> = BTreeMap::new();
    let mut add = |family: String, help: &str, labels: &str, value: f64| {
        families
            .entry(family)
            .or_insert_with(|| (help.to_owned(), Vec::new()))
            .1
            .push((labels.to_owned(), value));
    };
    for datum in metrics {
        let (name, feature) = split_feature(&datum.metric_name);
        let family = format!("{PREFIX}{}", metric_name(name));
        let mut labels: Vec<(String, &str)> = datum
            .dimensions
            .iter()
            .map(|(k, v)| (label_name(k), v.as_str()))
            .collect();
        labels.push(("namespace".to_owned(), datum.namespace.as_str()));
        if let Some(feature) = feature {
            labels.push(("feature".to_owned(), feature));
        }
        labels.sort();
        let labels = label_set(&labels);
        let help = match feature {
            Some(_) => format!("CloudWatch metric {name}_<feature> of {}", datum.namespace),
            None => format!("CloudWatch metric {name} of {}", datum.namespace),
        };
        add(family.clone(), &help, &labels, datum.value);
        if let Some(s) = &datum.statistics {
            for (suffix, value) in [
                ("sample_count", s.sample_count),
                ("sum", s.sum),
                ("minimum", s.minimum),
                ("maximum", s.maximum),
            ] {
                add(
                    format!("{family}_{suffix}"),
                    &format!("{help}: {suffix}"),
                    &labels,
                    value,
                );
            }
        }
    }
    if let Some(first) = metrics.first() {
        let labels: Vec<(String, &str)> = first
            .dimensions
            .iter()
            .map(|(k, v)| (label_name(k), v.as_str()))
            .collect();
        add(
            format!("{PREFIX}run_timestamp_seconds"),
            "When the run that wrote these metrics evaluated its window (Unix seconds)",
            &label_set(&labels),
            first.timestamp.timestamp_millis() as f64 / 1000.0,
        );
    }
    let mut out = String::new();
    for (family, (help, samples)) in &families {
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "# HELP {family} {}",
            help.replace('\\', "\\\\").replace('\n', "\\n")
        );
        let _ = writeln!(out, "# TYPE {family} gauge");
        for (labels, value) in samples {
            let _ = writeln!(out, "{family}{labels} {}", number(*value));
        }
    }
    out
}

/// The path below a Pushgateway's URL that replaces the metrics of the group `job` with these `labels` (each value
/// base64url-encoded, so that any text is safe in the path).
pub fn pushgateway_path(job: &str, labels: &[(&str, &str)]) -> String {
    use base64::Engine as _;
    let encode = |v: &str| base64::engine::general_purpose::URL_SAFE.encode(v);
    let mut path = format!("/metrics/job@base64/{}", encode(job));
    for (name, value) in labels {
        let _ = write!(path, "/{}@base64/{}", label_name(name), encode(value));
    }
    path
}

/// A per-feature metric's name without the feature, and the feature.
fn split_feature(name: &str) -> (&str, Option<&str>) {
    for prefix in [
        FEATURE_DATA_PREFIX,
        FEATURE_NON_NULL_PREFIX,
        FEATURE_BASELINE_DRIFT_PREFIX,
    ] {
        if let Some(feature) = name.strip_prefix(prefix) {
            return (prefix.trim_end_matches('_'), Some(feature));
        }
    }
    (name, None)
}

/// A metric name as Prometheus allows them (`[a-zA-Z_:][a-zA-Z0-9_:]*`), other characters as `_`.
fn metric_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A dimension's name as a label name (`[a-zA-Z_][a-zA-Z0-9_]*`, snake case: `MonitoringSchedule` is
/// `monitoring_schedule`).
fn label_name(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else {
            out.push('_');
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// `{a="x",b="y"}`, values escaped as the format asks (backslash, double quote, line feed); empty without labels.
fn label_set(labels: &[(String, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            let v = v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    format!("{{{}}}", pairs.join(","))
}

/// A value as the format writes it: `NaN`, `+Inf`, `-Inf`, else the shortest text that reads back exactly.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{StatisticSet, Unit};

    fn datum(name: &str, value: f64, statistics: Option<StatisticSet>) -> MetricDatum {
        MetricDatum {
            namespace: "aws/sagemaker/Endpoints/data-metrics".into(),
            metric_name: name.into(),
            dimensions: vec![
                ("Endpoint".into(), "churn \"v2\"".into()),
                ("MonitoringSchedule".into(), "hourly".into()),
            ],
            value,
            statistics,
            unit: Unit::None,
            timestamp: chrono::DateTime::from_timestamp(1_700_000_000, 500_000_000).unwrap(),
        }
    }

    #[test]
    fn writes_families_with_feature_labels_statistic_sets_and_the_run_time() {
        let stats = StatisticSet {
            sample_count: 10.0,
            sum: 55.0,
            minimum: 1.0,
            maximum: 10.0,
        };
        let text = exposition(&[
            datum("feature_baseline_drift_income", 0.25, None),
            datum("feature_baseline_drift_region", f64::NAN, None),
            datum("feature_data_income", 5.5, Some(stats)),
            datum("dataset_drift_share", 0.5, None),
        ]);
        let labels = |feature: &str| {
            format!(
                "{{endpoint=\"churn \\\"v2\\\"\",{feature}monitoring_schedule=\"hourly\",\
                 namespace=\"aws/sagemaker/Endpoints/data-metrics\"}}"
            )
        };
        let lines: Vec<&str> = text.lines().collect();
        let drift = "# TYPE modelwatch_feature_baseline_drift gauge";
        let at = lines
            .iter()
            .position(|l| *l == drift)
            .expect("one family for every feature's drift");
        assert_eq!(
            lines[at + 1],
            format!(
                "modelwatch_feature_baseline_drift{} 0.25",
                labels("feature=\"income\",")
            )
        );
        assert_eq!(
            lines[at + 2],
            format!("modelwatch_feature_baseline_drift{} NaN", labels("feature=\"region\","))
        );
        for (family, value) in [
            ("", "5.5"),
            ("_sample_count", "10"),
            ("_minimum", "1"),
            ("_maximum", "10"),
        ] {
            let line = format!(
                "modelwatch_feature_data{family}{} {value}",
                labels("feature=\"income\",")
            );
            assert!(lines.contains(&line.as_str()), "{line}\n{text}");
        }
        assert!(lines.contains(&format!("modelwatch_dataset_drift_share{} 0.5", labels("")).as_str()));
        assert!(lines.contains(
            &"modelwatch_run_timestamp_seconds{endpoint=\"churn \\\"v2\\\"\",monitoring_schedule=\"hourly\"} 1700000000.5"
        ));
        // Every family's samples follow its one HELP and TYPE, families in order.
        let types: Vec<&str> = lines.iter().filter(|l| l.starts_with("# TYPE")).copied().collect();
        let mut sorted = types.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(types, sorted);
        assert_eq!(types.len(), 8);
    }

    #[test]
    fn names_are_made_valid_and_grouping_values_encoded() {
        assert_eq!(metric_name("a-b.c"), "a_b_c");
        assert_eq!(label_name("MonitoringSchedule"), "monitoring_schedule");
        assert_eq!(label_name("9lives"), "_9lives");
        assert_eq!(label_name("Variant Name"), "variant_name");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(-0.5), "-0.5");
        assert_eq!(
            pushgateway_path("modelwatch", &[("Endpoint", "a/b")]),
            "/metrics/job@base64/bW9kZWx3YXRjaA==/endpoint@base64/YS9i"
        );
        assert_eq!(exposition(&[]), "");
    }
}
