//! The SAM template (`infra/template.yaml`) and the Grafana dashboard (`infra/grafana-dashboard.json`), checked
//! against the code and deployed to the emulators.
//!
//! - [`template_and_dashboards_reference_only_what_the_code_publishes`] needs no emulator. It runs the core on the
//!   demo endpoint (every hour scheduled with ground truth, a CBPE calibration and the prediction history, one file
//!   folded live; multiclass and regression quality blocks besides) and collects every datum the functions would
//!   publish. Every alarm and every dashboard metric of the template (resolved with the parameters below, the
//!   demo's features in the drift slots) and of the Grafana dashboard must be one of those data: namespace, metric
//!   name and dimensions. A CloudWatch `SEARCH` term `MetricName=x` without quotes is a partial match: by
//!   CloudWatch's documented tokenisation (names split at non-alphanumeric characters), its tokens must appear in
//!   a row in the name. `AWS/SageMaker` and `AWS/Lambda` metrics are AWS's own and are checked against the list in
//!   [`aws_published`]; the scaler's against its constants in `modelwatch_core::scaling::controller`. It also
//!   checks the evaluate-captures environment against the function's own parser, and the quality alarms' metric
//!   lists against the core's.
//! - The `launch_retraining_*` tests need no emulator either. They resolve the template with the retraining part
//!   on (a `TrainingRoleArn` given): it adds exactly its own resources and changes no other, and none of it exists
//!   without the role or without the functions; launch-retraining's environment parses with the function's own
//!   parser and shares evaluate-captures' state, report and baseline locations; its rollback alarms are the
//!   stack's own; its role passes only the training and model roles (to SageMaker only) and writes only the
//!   core's history keys; its triggers are the events the function classifies, the S3 one on the very object
//!   key the evaluator commits (`Target::last_window_key` below the state root).
//! - [`template_deploys_and_its_alarm_notifies_through_sns`] deploys the template without its functions
//!   (`DeployFunctions=false`) to LocalStack's CloudFormation, pushes data above two alarms' thresholds and waits
//!   for their notifications in SQS queues subscribed to the alarm and retraining topics; it also sends a capture
//!   file through the bucket's EventBridge notifications and the stack's capture rule.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::{Duration as StdDuration, Instant};

use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum as SdkDatum};
use chrono::{Duration, Utc};
use modelwatch_core::demo;
use modelwatch_core::evaluate::{EvaluationConfig, QualityConfig, Sources};
use modelwatch_core::memory::{MemoryMetrics, MemoryReports, MemoryState};
use modelwatch_core::metrics::{DATA_METRICS_NAMESPACE, MODEL_METRICS_NAMESPACE, MetricDatum, MetricScope};
use modelwatch_core::monitor::{RunPorts, Target, WindowDecision, commit_window_once, fold_object};
use modelwatch_core::ports::CaptureSource;
use modelwatch_core::quality::metrics::{BinaryOptions, MulticlassAccumulator, RegressionAccumulator};
use modelwatch_core::quality::report::lower_is_better;
use modelwatch_core::quality::{CbpeCalibration, ModelQualityStatistics, ProblemType, quality_metric_data};
use modelwatch_core::retrain::lifecycle::{history_key, versions_key};
use modelwatch_core::scaling::controller::{CURRENT_METRIC, DEFAULT_METRICS_NAMESPACE, DESIRED_METRIC};
use modelwatch_core::testing::DemoCase;
use modelwatch_core::window::Window;
use modelwatch_e2e::iam::{Need, allowing};
use modelwatch_e2e::template::{
    STACK, Stack, allows, environment, infra, items, object_arn, statements, template_text, text,
};
use modelwatch_e2e::{sdk_config, unique};
use serde_json::{Value as Json, json};
use serde_norway::Value as Yaml;

/// A metric a dashboard or an alarm refers to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Reference {
    namespace: String,
    /// The metric name, or a SEARCH's partial term.
    name: String,
    partial: bool,
    /// Dimension names and values; for a SEARCH, the schema's dimensions with the values it filters on ("" for
    /// a dimension it does not filter on).
    dimensions: BTreeMap<String, String>,
    /// Where it was found, for the failure message.
    source: String,
}

/// CloudWatch's search tokens of a name: split at non-alphanumeric characters, lower case.
fn tokens(name: &str) -> Vec<String> {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

impl Reference {
    fn matches_name(&self, name: &str) -> bool {
        if !self.partial {
            return self.name == name;
        }
        let want = tokens(&self.name);
        tokens(name).windows(want.len()).any(|w| w == want.as_slice())
    }

    fn matches(&self, d: &Published) -> bool {
        self.namespace == d.namespace
            && self.matches_name(&d.name)
            && self.dimensions.len() == d.dimensions.len()
            && self
                .dimensions
                .iter()
                .all(|(k, v)| d.dimensions.get(k).is_some_and(|dv| v.is_empty() || v == dv))
    }
}

/// A datum as published: namespace, name, dimensions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Published {
    namespace: String,
    name: String,
    dimensions: BTreeMap<String, String>,
}

impl From<&MetricDatum> for Published {
    fn from(d: &MetricDatum) -> Self {
        Published {
            namespace: d.namespace.clone(),
            name: d.metric_name.clone(),
            dimensions: d.dimensions.iter().cloned().collect(),
        }
    }
}

/// The endpoint metrics SageMaker and the Lambda metrics AWS publish, that the dashboards show (AWS's
/// documentation of `AWS/SageMaker` endpoint invocation metrics and `AWS/Lambda` function metrics).
fn aws_published(endpoint: &str, variant: &str, functions: &[String]) -> Vec<Published> {
    let sagemaker = [
        "Invocations",
        "InvocationsPerInstance",
        "ModelLatency",
        "OverheadLatency",
        "Invocation4XXErrors",
        "Invocation5XXErrors",
    ]
    .map(|name| Published {
        namespace: "AWS/SageMaker".into(),
        name: name.into(),
        dimensions: [
            ("EndpointName".to_owned(), endpoint.to_owned()),
            ("VariantName".to_owned(), variant.to_owned()),
        ]
        .into(),
    });
    let lambda = functions.iter().flat_map(|f| {
        ["Errors", "Invocations", "Duration", "Throttles"].map(|name| Published {
            namespace: "AWS/Lambda".into(),
            name: name.into(),
            dimensions: [("FunctionName".to_owned(), f.clone())].into(),
        })
    });
    sagemaker.into_iter().chain(lambda).collect()
}

/// What scale-endpoint publishes (`scaling::controller::run_variant`: its two counts, by endpoint and variant).
fn scaler_published(namespace: &str, endpoint: &str, variant: &str) -> Vec<Published> {
    [DESIRED_METRIC, CURRENT_METRIC]
        .map(|name| Published {
            namespace: namespace.into(),
            name: name.into(),
            dimensions: [
                ("EndpointName".to_owned(), endpoint.to_owned()),
                ("VariantName".to_owned(), variant.to_owned()),
            ]
            .into(),
        })
        .into()
}

/// Everything evaluate-captures publishes for the demo endpoint under `schedule`, computed by the core as the
/// function computes it: the six hours scheduled (ground truth, CBPE, prediction history), one file folded live,
/// and the quality metrics of the other two problem types.
fn evaluation_published(schedule: &str) -> Vec<MetricDatum> {
    let case = DemoCase::training();
    let DemoCase {
        data,
        captures,
        ground_truth,
        baseline,
    } = &case;
    // The validation set is `default,score`: the CBPE calibration's reference.
    let validation: Vec<(String, f64)> = data
        .validation_csv
        .lines()
        .skip(1)
        .map(|l| {
            let (label, score) = l.split_once(',').expect("label,score");
            (label.to_owned(), score.parse().expect("a score"))
        })
        .collect();
    let calibration = CbpeCalibration::fit(
        BinaryOptions::default(),
        validation.iter().map(|(l, s)| (l.as_str(), Some(*s))),
    )
    .expect("calibration");
    let (reports, metrics, state) = (
        MemoryReports::default(),
        MemoryMetrics::default(),
        MemoryState::default(),
    );
    let ports = RunPorts {
        sources: Sources {
            captures,
            ground_truth: Some(ground_truth),
            quality_constraints: None,
            estimate: Some(&calibration),
            partials: None,
        },
        reports: &reports,
        metrics: &metrics,
        state: &state,
    };
    let config = EvaluationConfig {
        quality: Some(QualityConfig::new(ProblemType::BinaryClassification)),
        ..EvaluationConfig::default()
    };
    let target = Target {
        endpoint: demo::ENDPOINT.into(),
        variant: demo::VARIANT.into(),
        schedule: schedule.into(),
    };
    let lease = Duration::minutes(20);
    for h in 0..demo::HOURS as i64 {
        let w = case.hour(h);
        let outcome = commit_window_once(&ports, &target, &w, baseline, &config, "infra-check", w.end, lease).unwrap();
        assert_eq!(outcome.decision, WindowDecision::Evaluated);
    }
    let live_hour = case.hour(demo::HOURS as i64 - 1);
    let object = captures.list(Some(&live_hour)).unwrap().remove(0);
    fold_object(&ports, &target, &object, baseline, &config, live_hour.end).expect("fold a file live");

    let mut out = metrics.data.lock().unwrap().clone();
    let scope = MetricScope {
        endpoint: target.endpoint.clone(),
        schedule: target.schedule.clone(),
        timestamp: live_hour.end,
    };
    let mut multiclass = MulticlassAccumulator::default();
    let mut regression = RegressionAccumulator::default();
    for (key, (predicted, actual)) in [(0, 0), (1, 1), (2, 1), (1, 2), (0, 0), (2, 2)].into_iter().enumerate() {
        multiclass.add(key as u64, predicted, actual);
        regression.add(key as u64, predicted as f64 + 0.5, actual as f64);
    }
    let classes = ["a", "b", "c"].map(String::from);
    for (problem, block) in [
        (ProblemType::MulticlassClassification, multiclass.block(&classes)),
        (ProblemType::Regression, regression.block()),
    ] {
        out.extend(quality_metric_data(
            &ModelQualityStatistics::new(problem, 6, block),
            &scope,
        ));
    }
    out
}

/// The metric references of a CloudWatch dashboard body.
fn cloudwatch_dashboard_references(body: &Json, source: &str) -> Vec<Reference> {
    let mut out = Vec::new();
    for (i, widget) in body["widgets"].as_array().expect("widgets").iter().enumerate() {
        let Some(metrics) = widget["properties"]["metrics"].as_array() else {
            continue;
        };
        let mut previous: Vec<String> = Vec::new();
        for row in metrics {
            let row = row.as_array().expect("a metric row");
            let source = format!("{source} widget {i} ({})", widget["properties"]["title"]);
            if let Some(expression) = row[0].get("expression") {
                out.extend(search_references(expression.as_str().unwrap(), &source));
                continue;
            }
            // ["ns", "name", "dim", "value", ..., {options}]; "." repeats the previous row's entry.
            let fields: Vec<String> = row
                .iter()
                .take_while(|f| f.is_string())
                .enumerate()
                .map(|(j, f)| match f.as_str().unwrap() {
                    "." => previous[j].clone(),
                    s => s.to_owned(),
                })
                .collect();
            assert!(
                fields.len() >= 2 && fields.len().is_multiple_of(2),
                "{source}: bad metric row {row:?}"
            );
            out.push(Reference {
                namespace: fields[0].clone(),
                name: fields[1].clone(),
                partial: false,
                dimensions: fields[2..].chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect(),
                source,
            });
            previous = fields;
        }
    }
    out
}

/// The metrics a `SEARCH('{schema} terms', 'stat', period)` expression finds: the schema's namespace and
/// dimensions, `Name="value"` filters on them, and `MetricName="x"` (exact) or `MetricName=x` (partial).
fn search_references(expression: &str, source: &str) -> Vec<Reference> {
    let inner = expression
        .strip_prefix("SEARCH('")
        .unwrap_or_else(|| panic!("{source}: only SEARCH expressions are used, not {expression}"));
    let query = &inner[..inner.find("',").expect("the query's closing quote")];
    let (schema, terms) = query
        .strip_prefix('{')
        .and_then(|q| q.split_once('}'))
        .expect("a metric schema");
    let mut parts = schema.split(',').map(|p| p.trim().trim_matches('"').to_owned());
    let namespace = parts.next().expect("a namespace");
    let mut dimensions: BTreeMap<String, String> = parts.map(|d| (d, String::new())).collect();
    let mut names = Vec::new();
    for term in terms.split_whitespace() {
        let (key, value) = term.split_once('=').unwrap_or_else(|| panic!("{source}: term {term}"));
        let exact = value.starts_with('"');
        let value = value.trim_matches('"').to_owned();
        if key == "MetricName" {
            names.push((value, !exact));
        } else {
            assert!(
                exact,
                "{source}: dimension filters are exact in these dashboards: {term}"
            );
            let slot = dimensions
                .get_mut(key)
                .unwrap_or_else(|| panic!("{source}: {key} is not in the schema"));
            *slot = value;
        }
    }
    assert!(!names.is_empty(), "{source}: a SEARCH without MetricName");
    names
        .into_iter()
        .map(|(name, partial)| Reference {
            namespace: namespace.clone(),
            name,
            partial,
            dimensions: dimensions.clone(),
            source: source.to_owned(),
        })
        .collect()
}

/// The metric references of the Grafana dashboard, with its variables replaced by `vars`.
fn grafana_references(dashboard: &Json, vars: &[(&str, &str)]) -> Vec<Reference> {
    let fill = |s: &str| {
        let mut s = s.to_owned();
        // Longest names first, so that $schedule does not eat a prefix of another variable.
        let mut vars = vars.to_vec();
        vars.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
        for (k, v) in &vars {
            s = s.replace(&format!("${{{k}}}"), v).replace(&format!("${k}"), v);
        }
        assert!(!s.contains('$') || s.contains("PROP("), "unknown variable in {s}");
        s
    };
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        let source = format!("grafana panel {}", panel["title"]);
        for target in panel["targets"].as_array().expect("targets") {
            if target["metricEditorMode"] == 1 {
                out.extend(search_references(
                    &fill(target["expression"].as_str().unwrap()),
                    &source,
                ));
                continue;
            }
            assert_eq!(target["matchExact"], true, "{source}: dimensions must match exactly");
            out.push(Reference {
                namespace: fill(target["namespace"].as_str().unwrap()),
                name: target["metricName"].as_str().unwrap().to_owned(),
                partial: false,
                dimensions: target["dimensions"]
                    .as_object()
                    .expect("dimensions")
                    .iter()
                    .map(|(k, v)| (k.clone(), fill(v.as_str().unwrap())))
                    .collect(),
                source: source.clone(),
            });
        }
    }
    out
}

fn unmatched<'r>(references: &'r [Reference], published: &[Published]) -> Vec<&'r Reference> {
    references
        .iter()
        .filter(|r| !published.iter().any(|p| r.matches(p)))
        .collect()
}

#[test]
fn template_and_dashboards_reference_only_what_the_code_publishes() {
    let schedule = "check-hourly";
    let features = ["income", "region", "age", "credit_score", "channel"];
    let stack = Stack::new(&[
        ("EndpointName", demo::ENDPOINT),
        ("VariantName", demo::VARIANT),
        ("ScheduleName", schedule),
        ("GroundTruthPrefix", "ground-truth/credit-risk"),
        (
            "EvaluationConfig",
            r#"{"quality": {"problem_type": "BinaryClassification"}}"#,
        ),
        ("SettleMinutes", "7"),
        ("MaxWindowsPerRun", "12"),
        ("LeaseMinutes", "25"),
        ("DriftAlarmFeature1", features[0]),
        ("DriftAlarmFeature2", features[1]),
        ("DriftAlarmFeature3", features[2]),
        ("DriftAlarmFeature4", features[3]),
        ("DriftAlarmFeature5", features[4]),
        ("QualityAlarm1Metric", "accuracy"),
        ("QualityAlarm2Metric", "rmse"),
        ("QualityAlarm3Metric", "estimated_auc"),
    ]);
    let data = evaluation_published(schedule);
    let names: BTreeSet<&str> = data.iter().map(|d| d.metric_name.as_str()).collect();
    for expected in [
        "feature_baseline_drift_income",
        "dataset_drift_share",
        "accuracy",
        "estimated_accuracy",
        "prediction_anomaly_score",
        "rmse",
        "weighted_f1",
    ] {
        assert!(
            names.contains(expected),
            "the core run published no {expected}: {names:?}"
        );
    }
    assert!(
        data.iter().any(|d| d.dimensions[1].1 == format!("{schedule}-live")),
        "the live fold published nothing"
    );
    let functions: Vec<String> = [
        "EvaluateCapturesFunction",
        "ScaleEndpointFunction",
        "SuggestBaselineFunction",
    ]
    .iter()
    .map(|f| text(&stack.reference(f).unwrap()))
    .collect();
    let mut published: Vec<Published> = data.iter().map(Published::from).collect();
    published.extend(aws_published(demo::ENDPOINT, demo::VARIANT, &functions));
    published.extend(scaler_published(
        DEFAULT_METRICS_NAMESPACE,
        demo::ENDPOINT,
        demo::VARIANT,
    ));
    assert_eq!(stack.params["ScalingMetricsNamespace"], DEFAULT_METRICS_NAMESPACE);
    // SQS's metric of the failed-invocations queue (AWS's documentation of the AWS/SQS metrics).
    published.push(Published {
        namespace: "AWS/SQS".into(),
        name: "ApproximateNumberOfMessagesVisible".into(),
        dimensions: [(
            "QueueName".to_owned(),
            text(&stack.attribute("FailedInvocationsQueue", "QueueName")),
        )]
        .into(),
    });

    // Every resource resolves (a reference to a resource left out by its condition fails here).
    let resources = stack.resources();
    for (name, _) in &resources {
        stack.properties(name);
    }

    // Alarms.
    let mut alarms = Vec::new();
    for (name, r) in &resources {
        if r["Type"].as_str() != Some("AWS::CloudWatch::Alarm") {
            continue;
        }
        let p = stack.properties(name);
        alarms.push(Reference {
            namespace: text(&p["Namespace"]),
            name: text(&p["MetricName"]),
            partial: false,
            dimensions: p["Dimensions"]
                .as_array()
                .expect("Dimensions")
                .iter()
                .map(|d| (text(&d["Name"]), text(&d["Value"])))
                .collect(),
            source: format!("alarm {name}"),
        });
    }
    assert_eq!(
        alarms.len(),
        18,
        "every alarm is created with these parameters: {alarms:#?}"
    );
    for f in features {
        assert!(alarms.iter().any(|a| a.name == format!("feature_baseline_drift_{f}")));
    }
    assert!(
        alarms.iter().any(|a| a.name == "dataset_max_feature_drift"),
        "the any-feature drift alarm"
    );
    assert_eq!(unmatched(&alarms, &published), Vec::<&Reference>::new());

    // The CloudWatch dashboard.
    let body = stack.properties("Dashboard")["DashboardBody"].clone();
    let body: Json = serde_json::from_str(body.as_str().unwrap()).expect("the dashboard body is JSON");
    let cloudwatch = cloudwatch_dashboard_references(&body, "dashboard");
    assert!(cloudwatch.len() > 25, "{cloudwatch:#?}");
    assert_eq!(unmatched(&cloudwatch, &published), Vec::<&Reference>::new());
    // The drift SEARCH finds exactly the per-feature drift metrics.
    let drift: BTreeSet<&str> = cloudwatch
        .iter()
        .filter(|r| r.partial)
        .flat_map(|r| published.iter().filter(|p| r.matches(p)).map(|p| p.name.as_str()))
        .collect();
    let expected: BTreeSet<&str> = published
        .iter()
        .filter(|p| p.name.starts_with("feature_baseline_drift_") && p.dimensions["MonitoringSchedule"] == schedule)
        .map(|p| p.name.as_str())
        .collect();
    assert!(expected.len() >= demo::FEATURES.len(), "{expected:?}");
    assert_eq!(drift, expected);

    // The Grafana dashboard, with its variables set to the stack's values.
    let grafana: Json = serde_json::from_str(
        &std::fs::read_to_string(infra("grafana-dashboard.json")).expect("grafana-dashboard.json"),
    )
    .expect("the Grafana dashboard is JSON");
    let grafana = grafana_references(
        &grafana,
        &[
            ("datasource", "cloudwatch"),
            ("region", "us-east-1"),
            ("data_namespace", DATA_METRICS_NAMESPACE),
            ("model_namespace", MODEL_METRICS_NAMESPACE),
            ("scaling_namespace", DEFAULT_METRICS_NAMESPACE),
            ("endpoint", demo::ENDPOINT),
            ("variant", demo::VARIANT),
            ("schedule", schedule),
        ],
    );
    assert!(grafana.len() > 20, "{grafana:#?}");
    assert_eq!(unmatched(&grafana, &published), Vec::<&Reference>::new());
    // The Grafana dashboard shows what the CloudWatch dashboard shows (the Lambda errors aside).
    let shown = |refs: &[Reference]| -> BTreeSet<(String, String)> {
        refs.iter()
            .filter(|r| r.namespace != "AWS/Lambda")
            .map(|r| (r.namespace.clone(), r.name.clone()))
            .collect()
    };
    assert_eq!(shown(&grafana), shown(&cloudwatch));

    // The quality alarms offer exactly the metric names the core publishes in the model-metrics namespace, and
    // compare in the direction the core's lower_is_better gives.
    let model_metrics: BTreeSet<String> = data
        .iter()
        .filter(|d| d.namespace == MODEL_METRICS_NAMESPACE && !d.metric_name.starts_with("prediction_"))
        .map(|d| d.metric_name.clone())
        .filter(|n| !n.ends_with("_best_constant_classifier"))
        // A count of labelled predictions, not a quality metric: it tells "no labels yet" from "quality fell".
        .filter(|n| n != modelwatch_core::evaluate::LABELS_EVALUATED_METRIC)
        .collect();
    for slot in 1..=3 {
        let allowed: BTreeSet<String> =
            stack.root["Parameters"][format!("QualityAlarm{slot}Metric").as_str()]["AllowedValues"]
                .as_sequence()
                .expect("AllowedValues")
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .filter(|v| !v.is_empty())
                .collect();
        let missing: Vec<_> = allowed.difference(&model_metrics).collect();
        assert!(
            missing.is_empty(),
            "QualityAlarm{slot}Metric offers unpublished {missing:?}"
        );
        for metric in &allowed {
            let key = format!("QualityAlarm{slot}Metric");
            let check = Stack::new(&[("EndpointName", demo::ENDPOINT), (key.as_str(), metric.as_str())]);
            let comparison = text(&check.properties(&format!("QualityAlarm{slot}"))["ComparisonOperator"]);
            let want = if lower_is_better(metric.trim_start_matches("estimated_")) {
                "GreaterThanThreshold"
            } else {
                "LessThanThreshold"
            };
            assert_eq!(comparison, want, "QualityAlarm{slot} on {metric}");
        }
    }
    let offered: BTreeSet<String> = stack.root["Parameters"]["QualityAlarm1Metric"]["AllowedValues"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let unoffered: Vec<_> = model_metrics.difference(&offered).collect();
    assert!(
        unoffered.is_empty(),
        "published but not offered for alarms: {unoffered:?}"
    );

    // evaluate-captures' environment parses with the function's own parser, and every variable set is read:
    // leaving any one out changes the parsed configuration or fails.
    let env = stack.properties("EvaluateCapturesFunction")["Environment"]["Variables"].clone();
    let env: std::collections::HashMap<String, String> = env
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), text(v)))
        .collect();
    let config = evaluate_captures::config::Config::from_vars(&env).expect("the template's environment parses");
    assert_eq!(config.schedule, schedule);
    assert_eq!(config.endpoints.len(), 1);
    assert_eq!(
        config.capture_of(&config.endpoints[0]).to_string(),
        format!(
            "s3://{STACK}-databucket/datacapture/{}/{}",
            demo::ENDPOINT,
            demo::VARIANT
        )
    );
    assert_eq!(
        config.baseline_of(&config.endpoints[0]).to_string(),
        format!("s3://{STACK}-databucket/baselines/{}/{}", demo::ENDPOINT, demo::VARIANT)
    );
    // METRICS_NAMESPACE is left out with the default namespaces (see the custom namespace test).
    let keys: BTreeSet<&str> = env.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = [
        "ENDPOINTS",
        "CAPTURE_S3_URI",
        "BASELINE_S3_URI",
        "REPORT_S3_URI",
        "STATE_S3_URI",
        "GROUND_TRUTH_S3_URI",
        "EVALUATION_CONFIG",
        "SCHEDULE_NAME",
        "SETTLE_MINUTES",
        "MAX_WINDOWS_PER_RUN",
        "LEASE_MINUTES",
        "DISTRIBUTED_STATE_MACHINE_ARN",
    ]
    .into();
    assert_eq!(keys, expected);
    assert_eq!(
        config.distributed.as_deref(),
        Some(format!("arn:aws:states:us-east-1:000000000000:stateMachine:{STACK}-distributed-evaluation").as_str()),
        "the state machine of the template, by name"
    );
    let full = format!("{config:?}");
    for key in env.keys() {
        let mut less = env.clone();
        less.remove(key);
        if let Ok(c) = evaluate_captures::config::Config::from_vars(&less) {
            assert_ne!(
                format!("{c:?}"),
                full,
                "{key} is set by the template but not read by the function"
            );
        }
    }
}

#[test]
fn a_custom_namespace_moves_alarms_and_dashboard_together() {
    // With MetricsNamespace set, the function publishes to {it}/data-metrics and {it}/model-metrics (the
    // CloudWatch sink keeps the last segment of Model Monitor's namespace).
    let stack = Stack::new(&[
        ("EndpointName", "churn"),
        ("MetricsNamespace", "acme/ml"),
        ("DeployFunctions", "false"),
    ]);
    let mut namespaces = BTreeSet::new();
    for (name, r) in stack.resources() {
        assert_ne!(
            r["Type"].as_str(),
            Some("AWS::Serverless::Function"),
            "{name} despite DeployFunctions=false"
        );
        // AWS's own metrics (the failed-invocations queue's) stay in AWS's namespaces.
        if r["Type"].as_str() == Some("AWS::CloudWatch::Alarm") {
            let namespace = text(&stack.properties(&name)["Namespace"]);
            if !namespace.starts_with("AWS/") {
                namespaces.insert(namespace);
            }
        }
    }
    assert_eq!(
        namespaces,
        ["acme/ml/data-metrics", "acme/ml/model-metrics"]
            .map(String::from)
            .into()
    );
    let body = stack.properties("Dashboard")["DashboardBody"].clone();
    let body: Json = serde_json::from_str(body.as_str().unwrap()).unwrap();
    let dashboard: BTreeSet<String> = cloudwatch_dashboard_references(&body, "dashboard")
        .into_iter()
        .map(|r| r.namespace)
        .filter(|n| !n.starts_with("AWS/") && n != DEFAULT_METRICS_NAMESPACE)
        .collect();
    assert_eq!(dashboard, namespaces);
    // The role may publish exactly there.
    let role = stack.properties("EvaluateCapturesRole");
    let statements = role["Policies"][0]["PolicyDocument"]["Statement"].as_array().unwrap();
    let publish = statements
        .iter()
        .find(|s| s["Action"] == "cloudwatch:PutMetricData")
        .expect("a PutMetricData statement");
    let allowed: BTreeSet<String> = publish["Condition"]["StringEquals"]["cloudwatch:namespace"]
        .as_array()
        .unwrap()
        .iter()
        .map(text)
        .collect();
    assert_eq!(allowed, namespaces);
    // And the function is told.
    let deployed = Stack::new(&[("EndpointName", "churn"), ("MetricsNamespace", "acme/ml")]);
    let env = deployed.properties("EvaluateCapturesFunction")["Environment"]["Variables"].clone();
    let env: std::collections::HashMap<String, String> = env
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), text(v)))
        .collect();
    let config = evaluate_captures::config::Config::from_vars(&env).expect("the template's environment parses");
    assert_eq!(config.namespace.as_deref(), Some("acme/ml"));
}

// ------------------------------------------------------------------------------------------------------------------
// The retraining part: launch-retraining and what it needs, only under DeployRetraining.

const TRAINING_ROLE: &str = "arn:aws:iam::000000000000:role/modelwatch-training";
const MODEL_ROLE: &str = "arn:aws:iam::000000000000:role/modelwatch-model";
const RETRAIN_ENDPOINT: &str = "churn-prod";
const RETRAIN_VARIANT: &str = "blue";

/// The stack of `RETRAIN_ENDPOINT`/`RETRAIN_VARIANT` with the retraining part on and `more` parameters.
fn retraining_stack(more: &[(&str, &str)]) -> Stack {
    let mut params = vec![
        ("EndpointName", RETRAIN_ENDPOINT),
        ("VariantName", RETRAIN_VARIANT),
        ("TrainingRoleArn", TRAINING_ROLE),
    ];
    params.extend_from_slice(more);
    Stack::new(&params)
}

fn retraining_config(env: &HashMap<String, String>) -> Result<launch_retraining::config::Config, String> {
    launch_retraining::config::Config::from_vars(&modelwatch_aws::env::Vars::from_map(env.clone()))
        .map_err(|e| e.to_string())
}

#[test]
fn launch_retraining_exists_only_with_a_training_role_and_the_functions() {
    let ids = |s: &Stack| -> BTreeSet<String> { s.resources().into_iter().map(|(id, _)| id).collect() };
    let off = Stack::new(&[("EndpointName", RETRAIN_ENDPOINT), ("VariantName", RETRAIN_VARIANT)]);
    let on = retraining_stack(&[]);
    let part: BTreeSet<String> = ids(&on).difference(&ids(&off)).cloned().collect();
    let expected: BTreeSet<String> = [
        "LaunchRetrainingLogGroup",
        "LaunchRetrainingRole",
        "LaunchRetrainingFunction",
        "ModelPackageGroup",
        "RetrainingTopicSubscription",
        "RetrainingTopicPermission",
        "TrainingJobStateRule",
        "TrainingJobStatePermission",
        "ModelPackageApprovedRule",
        "ModelPackageApprovedPermission",
        "EndpointStateRule",
        "EndpointStatePermission",
        "WindowCommittedRule",
        "WindowCommittedPermission",
        "BaselineRequestedRule",
        "BaselineRequestedPermission",
        "RollbackErrorsAlarm",
        "LaunchRetrainingErrorsAlarm",
    ]
    .map(String::from)
    .into();
    assert_eq!(part, expected, "the retraining part");
    assert!(ids(&off).is_subset(&ids(&on)));
    // It changes nothing else, and everything resolves (a reference into the part from outside it would fail
    // in `off`), outputs included.
    for id in ids(&off) {
        assert_eq!(
            on.properties(&id),
            off.properties(&id),
            "{id} changes with the retraining part"
        );
    }
    for stack in [&on, &off] {
        for (name, output) in stack.root["Outputs"].as_mapping().expect("Outputs") {
            if output
                .get("Condition")
                .is_none_or(|c| stack.condition(c.as_str().unwrap()))
            {
                stack
                    .resolve(&output["Value"])
                    .unwrap_or_else(|| panic!("output {name:?}"));
            }
        }
    }
    let output_present = |s: &Stack, name: &str| {
        let o = &s.root["Outputs"][name];
        o.get("Condition").is_none_or(|c| s.condition(c.as_str().unwrap()))
    };
    assert!(output_present(&on, "LaunchRetrainingFunctionArn"));
    assert!(!output_present(&off, "LaunchRetrainingFunctionArn"));

    // Without the functions (the LocalStack deploy test) nothing of it exists, whatever the role: in particular
    // no AWS::SageMaker resource.
    let emulated = retraining_stack(&[("DeployFunctions", "false")]);
    for (id, r) in emulated.resources() {
        assert!(!part.contains(&id), "{id} without the functions");
        let kind = r["Type"].as_str().unwrap();
        assert!(
            !kind.starts_with("AWS::SageMaker::"),
            "{id}: {kind} without the functions"
        );
    }
    assert!(!output_present(&emulated, "LaunchRetrainingFunctionArn"));

    // An existing group is used, not created.
    let existing = retraining_stack(&[("CreateModelPackageGroup", "false")]);
    let without_group: BTreeSet<String> = ids(&existing).difference(&ids(&off)).cloned().collect();
    let mut want = part.clone();
    want.remove("ModelPackageGroup");
    assert_eq!(without_group, want);

    // The group outlives the stack, and is the one the role, the approval rule and the output name.
    let group = on.resource("ModelPackageGroup");
    assert_eq!(group["DeletionPolicy"].as_str(), Some("Retain"));
    assert_eq!(group["UpdateReplacePolicy"].as_str(), Some("Retain"));
    for (stack, name) in [
        (&on, RETRAIN_ENDPOINT),
        (&retraining_stack(&[("ModelPackageGroupName", "churn")]), "churn"),
    ] {
        assert_eq!(stack.properties("ModelPackageGroup")["ModelPackageGroupName"], name);
        assert_eq!(
            stack.properties("ModelPackageApprovedRule")["EventPattern"]["detail"]["ModelPackageGroupName"],
            json!([name])
        );
        assert_eq!(
            text(
                &stack
                    .resolve(&stack.root["Outputs"]["ModelPackageGroupName"]["Value"])
                    .unwrap()
            ),
            name
        );
        let statements = statements(stack, "LaunchRetrainingRole");
        let package = format!("arn:aws:sagemaker:us-east-1:000000000000:model-package/{name}/3");
        let group_arn = format!("arn:aws:sagemaker:us-east-1:000000000000:model-package-group/{name}");
        for action in ["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage"] {
            assert!(allows(&statements, action, &package), "{action} on {package}");
            assert!(
                !allows(&statements, action, &package.replace(name, "other")),
                "{action} beyond the group"
            );
        }
        assert!(allows(&statements, "sagemaker:CreateModelPackage", &group_arn));
    }

    // The function is built and run like the others.
    let function = on.resource("LaunchRetrainingFunction");
    assert_eq!(function["Metadata"]["BuildMethod"].as_str(), Some("rust-cargolambda"));
    assert_eq!(
        function["Metadata"]["BuildProperties"]["Binary"].as_str(),
        Some("launch-retraining")
    );
    let p = on.properties("LaunchRetrainingFunction");
    assert_eq!(p["Timeout"], 300);
    assert_eq!(p["LoggingConfig"]["LogFormat"], "JSON");
    assert_eq!(
        p["LoggingConfig"]["LogGroup"],
        on.reference("LaunchRetrainingLogGroup").unwrap()
    );
    assert_eq!(p["Role"], on.attribute("LaunchRetrainingRole", "Arn"));
}

#[test]
fn launch_retraining_environment_parses_and_is_the_evaluators() {
    let stack = retraining_stack(&[
        ("StatePrefix", "mw/state"),
        ("ReportPrefix", "mw/reports"),
        ("BaselinePrefix", "mw/baselines"),
        ("RetrainSettingsKey", "retraining/churn-prod.json"),
        ("QualityAlarm1Metric", "accuracy"),
        ("QualityAlarm2Metric", "rmse"),
        ("QualityAlarm3Metric", "estimated_auc"),
    ]);
    let env = environment(&stack, "LaunchRetrainingFunction");
    let evaluator = environment(&stack, "EvaluateCapturesFunction");
    for key in ["STATE_S3_URI", "REPORT_S3_URI", "BASELINE_S3_URI"] {
        assert!(env.contains_key(key), "launch-retraining has no {key}");
        assert_eq!(
            env.get(key),
            evaluator.get(key),
            "{key}: launch-retraining's is not evaluate-captures'"
        );
    }
    let config = retraining_config(&env).expect("the template's environment parses");
    let ec = evaluate_captures::config::Config::from_vars(&evaluator).expect("evaluate-captures' parses");
    assert_eq!(config.endpoints, vec![RETRAIN_ENDPOINT.to_owned()]);
    let bucket = format!("{STACK}-databucket");
    assert_eq!(
        config.settings_of(RETRAIN_ENDPOINT).to_string(),
        format!("s3://{bucket}/retraining/churn-prod.json")
    );
    assert_eq!(config.state.to_string(), ec.state.to_string());
    assert_eq!(config.reports.to_string(), ec.reports.to_string());
    assert_eq!(
        config
            .baseline_of(RETRAIN_ENDPOINT, RETRAIN_VARIANT)
            .expect("a baseline folder")
            .to_string(),
        ec.baseline_of(&ec.endpoints[0]).to_string()
    );
    assert_eq!(config.training_role, TRAINING_ROLE);
    assert_eq!(
        config.model_role, TRAINING_ROLE,
        "without ModelRoleArn the models run as the training role"
    );

    // The rollback alarms are the stack's: the server-error alarm and the quality alarms created, by name.
    let alarms: BTreeMap<String, String> = stack
        .resources()
        .into_iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .map(|(id, _)| (text(&stack.properties(&id)["AlarmName"]), id))
        .collect();
    let rollback: Vec<&str> = config
        .rollback_alarms
        .iter()
        .map(|a| {
            alarms
                .get(a)
                .unwrap_or_else(|| panic!("rollback alarm {a} is not an alarm of the stack"))
                .as_str()
        })
        .collect();
    // Not the quality alarms, though they exist: they are in ALARM when the retraining they asked for deploys.
    assert_eq!(rollback, ["RollbackErrorsAlarm"]);
    assert!(stack.present("QualityAlarm1"));
    assert!(config.rollback_alarms.len() <= launch_retraining::config::MAX_ROLLBACK_ALARMS);
    assert!(config.rollback_alarms.iter().all(|a| (1..=255).contains(&a.len())));
    let plain = retraining_config(&environment(&retraining_stack(&[]), "LaunchRetrainingFunction")).unwrap();
    assert_eq!(
        plain.rollback_alarms,
        vec![format!("{STACK}-{RETRAIN_ENDPOINT}-server-errors")],
        "without quality alarms, the server-error alarm alone"
    );

    // The retraining part's alarms watch what AWS publishes: the variant's server errors, the function's errors.
    let function = text(&stack.reference("LaunchRetrainingFunction").unwrap());
    let published = aws_published(RETRAIN_ENDPOINT, RETRAIN_VARIANT, &[function]);
    for id in ["RollbackErrorsAlarm", "LaunchRetrainingErrorsAlarm"] {
        let p = stack.properties(id);
        let reference = Reference {
            namespace: text(&p["Namespace"]),
            name: text(&p["MetricName"]),
            partial: false,
            dimensions: p["Dimensions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| (text(&d["Name"]), text(&d["Value"])))
                .collect(),
            source: format!("alarm {id}"),
        };
        assert_eq!(unmatched(&[reference], &published), Vec::<&Reference>::new());
    }
    let errors = stack.properties("RollbackErrorsAlarm");
    assert_eq!(
        (
            &errors["MetricName"],
            &errors["Statistic"],
            &errors["Period"],
            &errors["EvaluationPeriods"]
        ),
        (&json!("Invocation5XXErrors"), &json!("Sum"), &json!(60), &json!(1))
    );
    assert_eq!(errors["Threshold"], "5");
    assert_eq!(errors["TreatMissingData"], "notBreaching");
    assert_eq!(errors["AlarmActions"], json!([stack.reference("AlarmTopic").unwrap()]));

    // Every variable set is read; without a required one the environment does not parse, and the error names it.
    let keys: BTreeSet<&str> = env.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = [
        "ENDPOINTS",
        "RETRAIN_SETTINGS_S3_URI",
        "STATE_S3_URI",
        "REPORT_S3_URI",
        "BASELINE_S3_URI",
        "TRAINING_ROLE_ARN",
        "ROLLBACK_ALARMS",
    ]
    .into();
    assert_eq!(keys, expected, "MODEL_ROLE_ARN is left out without ModelRoleArn");
    let required = [
        "ENDPOINTS",
        "RETRAIN_SETTINGS_S3_URI",
        "STATE_S3_URI",
        "REPORT_S3_URI",
        "TRAINING_ROLE_ARN",
    ];
    let full = format!("{config:?}");
    for key in env.keys() {
        let mut less = env.clone();
        less.remove(key);
        match retraining_config(&less) {
            Err(e) => {
                assert!(
                    required.contains(&key.as_str()),
                    "{key} is optional, yet without it: {e}"
                );
                assert!(e.contains(key.as_str()), "the error names {key}: {e}");
            }
            Ok(c) => {
                assert!(
                    !required.contains(&key.as_str()),
                    "without {key} the environment still parses"
                );
                assert_ne!(
                    format!("{c:?}"),
                    full,
                    "{key} is set by the template but not read by the function"
                );
            }
        }
    }

    // A model role of its own.
    let env = environment(
        &retraining_stack(&[("ModelRoleArn", MODEL_ROLE)]),
        "LaunchRetrainingFunction",
    );
    assert_eq!(env["MODEL_ROLE_ARN"], MODEL_ROLE);
    let config = retraining_config(&env).unwrap();
    assert_eq!(
        (config.training_role.as_str(), config.model_role.as_str()),
        (TRAINING_ROLE, MODEL_ROLE)
    );
}

#[test]
fn launch_retraining_role_passes_only_its_roles_and_writes_only_its_histories() {
    for (more, passed) in [
        (vec![], vec![TRAINING_ROLE]),
        (vec![("ModelRoleArn", MODEL_ROLE)], vec![TRAINING_ROLE, MODEL_ROLE]),
    ] {
        let stack = retraining_stack(&more);
        let statements = statements(&stack, "LaunchRetrainingRole");
        for s in &statements {
            assert_eq!(s["Effect"], "Allow", "{s}");
            assert!(
                items(&s["Action"]).iter().all(|a| !a.contains('*')),
                "a wildcard action: {s}"
            );
        }
        let pass: Vec<&Json> = statements
            .iter()
            .filter(|s| items(&s["Action"]).iter().any(|a| a.starts_with("iam:")))
            .collect();
        assert_eq!(pass.len(), 1, "one IAM statement: {pass:#?}");
        assert_eq!(items(&pass[0]["Action"]), ["iam:PassRole"]);
        assert_eq!(items(&pass[0]["Resource"]), passed, "PassRole on exactly these roles");
        assert_eq!(
            pass[0]["Condition"],
            json!({"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}})
        );
        // ... which are the roles the function passes.
        let config = retraining_config(&environment(&stack, "LaunchRetrainingFunction")).unwrap();
        let mut used = vec![config.training_role.clone(), config.model_role.clone()];
        used.dedup();
        assert_eq!(used, passed);
    }

    // S3: reads what the core reads, writes only the core's history keys (never the evaluator's state).
    let stack = retraining_stack(&[("StatePrefix", "mw/state")]);
    let statements = statements(&stack, "LaunchRetrainingRole");
    let config = retraining_config(&environment(&stack, "LaunchRetrainingFunction")).unwrap();
    let target = Target {
        endpoint: RETRAIN_ENDPOINT.into(),
        variant: RETRAIN_VARIANT.into(),
        schedule: String::new(),
    };
    let window = Window {
        start: Utc::now() - Duration::hours(1),
        end: Utc::now(),
    };
    let state = |key: &str| (config.state.bucket.clone(), config.state.key(key));
    let settings = config.settings_of(RETRAIN_ENDPOINT);
    let baseline = config.baseline_of(RETRAIN_ENDPOINT, RETRAIN_VARIANT).unwrap();
    let histories = [state(&history_key("churn")), state(&versions_key(RETRAIN_ENDPOINT))];
    let evaluator_state = [
        state(&target.last_window_key()),
        state(&target.marker_key(&window)),
        state(&target.history_key()),
    ];
    let inputs = [
        (settings.bucket.clone(), settings.prefix.clone()),
        (
            config.reports.bucket.clone(),
            config
                .reports
                .key(&format!("{}/drift.json", target.report_folder(&window))),
        ),
        (baseline.bucket.clone(), baseline.key("model-quality/constraints.json")),
    ];
    // A missing object is a 404 only with s3:ListBucket on the bucket, asked without a prefix.
    let lists = |bucket: &str| {
        allowing(
            &statements,
            &Need::new("s3:ListBucket", format!("arn:aws:s3:::{bucket}")),
        )
        .is_some()
    };
    for (bucket, key) in histories.iter().chain(&evaluator_state).chain(&inputs) {
        assert!(
            allows(&statements, "s3:GetObject", &object_arn(bucket, key)),
            "read {key}"
        );
        assert!(lists(bucket), "list {key} (a missing object is a 404)");
    }
    for (bucket, key) in &histories {
        assert!(
            allows(&statements, "s3:PutObject", &object_arn(bucket, key)),
            "write {key}"
        );
    }
    for (bucket, key) in evaluator_state.iter().chain(&inputs) {
        assert!(
            !allows(&statements, "s3:PutObject", &object_arn(bucket, key)),
            "write {key}"
        );
    }
    let writes: Vec<String> = statements
        .iter()
        .filter(|s| {
            items(&s["Action"])
                .iter()
                .any(|a| a.starts_with("s3:") && a != "s3:GetObject" && a != "s3:ListBucket")
        })
        .flat_map(|s| items(&s["Action"]).into_iter().chain(items(&s["Resource"])))
        .collect();
    let dir = |key: String| key.split('/').next().unwrap().to_owned();
    assert_eq!(
        writes,
        vec![
            "s3:PutObject".to_owned(),
            object_arn(
                &config.state.bucket,
                &config.state.key(&format!("{}/*", dir(history_key("m"))))
            ),
            object_arn(
                &config.state.bucket,
                &config.state.key(&format!("{}/*", dir(versions_key("e"))))
            ),
            // The training manifests of the labelled captures (training.captured), beside them.
            "s3:PutObject".to_owned(),
            object_arn(
                &config.state.bucket,
                &format!("labelled/{RETRAIN_ENDPOINT}/_manifests/*")
            ),
        ]
    );
    let labelled = allowing(
        &statements,
        &Need::new("s3:ListBucket", format!("arn:aws:s3:::{}", config.state.bucket))
            .with("s3:prefix", &format!("labelled/{RETRAIN_ENDPOINT}/2026/11/27/10/")),
    );
    assert!(labelled.is_some(), "list the labelled captures");
    // Other endpoints' data is not read.
    let other = Target {
        endpoint: "other".into(),
        ..target.clone()
    };
    assert!(!allows(
        &statements,
        "s3:GetObject",
        &object_arn(&config.state.bucket, &config.state.key(&other.last_window_key()))
    ));

    // SageMaker: the endpoint, by its (lower-case) name.
    let endpoint = format!("arn:aws:sagemaker:us-east-1:000000000000:endpoint/{RETRAIN_ENDPOINT}");
    for action in ["sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpoint"] {
        assert!(allows(&statements, action, &endpoint), "{action}");
        assert!(
            !allows(&statements, action, &format!("{endpoint}-other")),
            "{action} on another endpoint"
        );
    }
    assert!(allows(
        &statements,
        "cloudwatch:DescribeAlarms",
        "arn:aws:cloudwatch:us-east-1:000000000000:alarm:a"
    ));

    // The data key, when there is one.
    let key = "arn:aws:kms:us-east-1:000000000000:key/1234";
    let with_kms = retraining_stack(&[("DataKmsKeyArn", key)]);
    let statements = modelwatch_e2e::template::statements(&with_kms, "LaunchRetrainingRole");
    assert!(allows(&statements, "kms:Decrypt", key) && allows(&statements, "kms:GenerateDataKey", key));
}

/// evaluate-captures' role reaches its own endpoint variant's captures, baselines, reports and state, and nothing
/// else below the state root: not another endpoint's state, not the retraining histories beside it.
#[test]
fn evaluate_captures_role_reaches_only_its_own_endpoint_variant() {
    let stack = Stack::new(&[
        ("DataBucketName", "mw-data"),
        ("EndpointName", "churn-prod"),
        ("VariantName", "blue"),
    ]);
    let statements = statements(&stack, "EvaluateCapturesRole");
    let config = evaluate_captures::config::Config::from_vars(&environment(&stack, "EvaluateCapturesFunction"))
        .expect("the template's environment parses");
    let own = Target {
        endpoint: "churn-prod".into(),
        variant: "blue".into(),
        schedule: String::new(),
    };
    let window = Window {
        start: Utc::now() - Duration::hours(1),
        end: Utc::now(),
    };
    let state = |key: &str| object_arn(&config.state.bucket, &config.state.key(key));
    let report = |key: &str| object_arn(&config.reports.bucket, &config.reports.key(key));
    let own_state = [
        state(&own.last_window_key()),
        state(&own.marker_key(&window)),
        state(&own.history_key()),
    ];
    for arn in &own_state {
        assert!(allows(&statements, "s3:PutObject", arn), "write {arn}");
        assert!(allows(&statements, "s3:GetObject", arn), "read {arn}");
    }
    let own_report = report(&format!("{}/drift.json", own.report_folder(&window)));
    assert!(allows(&statements, "s3:PutObject", &own_report), "write {own_report}");
    for other in [
        Target {
            endpoint: "fraud".into(),
            ..own.clone()
        },
        Target {
            variant: "green".into(),
            ..own.clone()
        },
    ] {
        for arn in [
            state(&other.last_window_key()),
            report(&format!("{}/drift.json", other.report_folder(&window))),
        ] {
            assert!(
                !allows(&statements, "s3:PutObject", &arn),
                "writes another variant's {arn}"
            );
            assert!(
                !allows(&statements, "s3:GetObject", &arn),
                "reads another variant's {arn}"
            );
        }
    }
    for arn in [state(&history_key("churn")), state(&versions_key("churn-prod"))] {
        assert!(
            !allows(&statements, "s3:PutObject", &arn),
            "writes the retraining history {arn}"
        );
    }
}

/// An event that the pattern matches: the first value of each list, `extra` added to its detail.
fn event_of(pattern: &Json, extra: Json) -> Json {
    fn sample(v: &Json) -> Json {
        match v {
            Json::Object(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), sample(v))).collect()),
            Json::Array(values) => match &values[0] {
                Json::Object(m) if m.contains_key("prefix") => m["prefix"].clone(),
                first => first.clone(),
            },
            other => other.clone(),
        }
    }
    let mut detail = sample(&pattern["detail"]);
    detail
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"version": "0", "id": "1", "detail-type": sample(&pattern["detail-type"]),
        "source": sample(&pattern["source"]), "account": "000000000000", "time": "2026-11-27T10:00:00Z",
        "region": "us-east-1", "resources": [], "detail": detail})
}

#[test]
fn launch_retraining_triggers_are_the_events_it_handles() {
    use launch_retraining::event::{Invocation, classify};

    let stack = retraining_stack(&[("StatePrefix", "mw/state")]);
    // What launch-retraining sends: a new version's baseline request, to suggest-baseline, the detail as its event.
    let baseline = stack.properties("BaselineRequestedRule");
    assert_eq!(
        baseline["EventPattern"],
        json!({"source": [launch_retraining::events::SOURCE],
               "detail-type": [launch_retraining::events::BASELINE_REQUESTED],
               "resources": [RETRAIN_ENDPOINT]})
    );
    let target = &baseline["Targets"][0];
    assert_eq!(target["Arn"], stack.attribute("SuggestBaselineFunction", "Arn"));
    assert_eq!(target["InputPath"], "$.detail");
    let permission = stack.properties("BaselineRequestedPermission");
    assert_eq!(
        (&permission["FunctionName"], &permission["SourceArn"]),
        (
            &stack.reference("SuggestBaselineFunction").unwrap(),
            &stack.attribute("BaselineRequestedRule", "Arn")
        )
    );
    let function = stack.attribute("LaunchRetrainingFunction", "Arn");
    let name = stack.reference("LaunchRetrainingFunction").unwrap();
    let resources: Vec<(String, String)> = stack
        .resources()
        .into_iter()
        .map(|(id, r)| (id, r["Type"].as_str().unwrap().to_owned()))
        .collect();
    let of_type = |kind: &str| -> Vec<(String, Json)> {
        resources
            .iter()
            .filter(|(_, t)| t == kind)
            .map(|(id, _)| (id.clone(), stack.properties(id)))
            .collect()
    };
    let rules: Vec<(String, Json)> = of_type("AWS::Events::Rule")
        .into_iter()
        .filter(|(_, p)| {
            p["Targets"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["Arn"] == function))
        })
        .collect();
    let permissions: Vec<Json> = of_type("AWS::Lambda::Permission")
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| p["FunctionName"] == name)
        .collect();
    assert_eq!(
        permissions.len(),
        rules.len() + 1,
        "one permission per rule, and the topic's"
    );
    for (id, _) in &rules {
        assert!(
            permissions.iter().any(|p| p["Principal"] == "events.amazonaws.com"
                && p["Action"] == "lambda:InvokeFunction"
                && p["SourceArn"] == stack.attribute(id, "Arn")),
            "no permission for {id}"
        );
    }
    let topic = stack.reference("RetrainingTopic").unwrap();
    assert!(
        permissions
            .iter()
            .any(|p| p["Principal"] == "sns.amazonaws.com" && p["SourceArn"] == topic)
    );
    let subscription = stack.properties("RetrainingTopicSubscription");
    assert_eq!(
        (
            &subscription["TopicArn"],
            &subscription["Protocol"],
            &subscription["Endpoint"]
        ),
        (&topic, &json!("lambda"), &function)
    );
    // The topic the data-set drift alarm notifies.
    assert!(
        stack.properties("DatasetDriftAlarm")["AlarmActions"]
            .as_array()
            .unwrap()
            .contains(&topic)
    );

    // Each rule's events are classified as the step they are meant for.
    let config = retraining_config(&environment(&stack, "LaunchRetrainingFunction")).unwrap();
    let target = Target {
        endpoint: RETRAIN_ENDPOINT.into(),
        variant: RETRAIN_VARIANT.into(),
        schedule: String::new(),
    };
    let mut seen = BTreeSet::new();
    for (id, p) in &rules {
        let pattern = &p["EventPattern"];
        let detail_type = text(&pattern["detail-type"][0]);
        assert_eq!(pattern["detail-type"].as_array().unwrap().len(), 1, "{id}");
        let (extra, want) = match detail_type.as_str() {
            "SageMaker Training Job State Change" => {
                assert_eq!(
                    pattern["detail"]["TrainingJobStatus"],
                    json!(["Completed", "Failed", "Stopped"])
                );
                (
                    json!({"TrainingJobName": "churn-1"}),
                    Invocation::TrainingJob {
                        job_name: "churn-1".into(),
                    },
                )
            }
            "SageMaker Model Package State Change" => {
                assert_eq!(pattern["detail"]["ModelApprovalStatus"], json!(["Approved"]));
                (
                    json!({"ModelPackageArn": "arn:p/1"}),
                    Invocation::ModelPackage { arn: "arn:p/1".into() },
                )
            }
            "SageMaker Endpoint State Change" => (
                json!({"EndpointStatus": "InService"}),
                Invocation::Endpoint {
                    endpoint: RETRAIN_ENDPOINT.into(),
                },
            ),
            "Object Created" => {
                // The very object the evaluator writes when it commits a window, in its state bucket.
                let detail = &pattern["detail"];
                assert_eq!(detail["bucket"]["name"], json!([config.state.bucket]));
                assert_eq!(
                    detail["object"]["key"],
                    json!([config.state.key(&target.last_window_key())])
                );
                let key = text(&detail["object"]["key"][0]);
                (
                    json!({}),
                    Invocation::Check {
                        endpoints: Some(vec![RETRAIN_ENDPOINT.into()]),
                        trigger: format!("window committed: {key}"),
                    },
                )
            }
            other => panic!("{id}: detail-type {other:?} is not one the function handles"),
        };
        let source = if detail_type == "Object Created" {
            "aws.s3"
        } else {
            "aws.sagemaker"
        };
        assert_eq!(pattern["source"], json!([source]), "{id}");
        let event = event_of(pattern, extra);
        assert_eq!(
            classify(event.clone()).unwrap_or_else(|e| panic!("{id}: {e}: {event}")),
            want,
            "{id}"
        );
        seen.insert(detail_type);
    }
    assert_eq!(seen.len(), 4, "{seen:?}");
}

// ------------------------------------------------------------------------------------------------------------------
// Deployed to LocalStack.

async fn queue_for(sqs: &aws_sdk_sqs::Client, sns: &aws_sdk_sns::Client, topic: &str, name: &str) -> String {
    let url = sqs
        .create_queue()
        .queue_name(unique(name))
        .send()
        .await
        .expect("create queue")
        .queue_url()
        .unwrap()
        .to_owned();
    let arn = queue_arn(sqs, &url).await;
    sns.subscribe()
        .topic_arn(topic)
        .protocol("sqs")
        .endpoint(arn)
        .send()
        .await
        .expect("subscribe");
    url
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    use aws_sdk_sqs::types::QueueAttributeName;
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes")
        .attributes()
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone()
}

/// The bodies of the messages waiting in a queue (a few seconds of long polling), deleted once read.
async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let out = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(2)
        .send()
        .await
        .expect("receive");
    let mut bodies = Vec::new();
    for m in out.messages() {
        bodies.push(m.body().unwrap_or_default().to_owned());
        if let Some(handle) = m.receipt_handle() {
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(handle)
                .send()
                .await
                .expect("delete");
        }
    }
    bodies
}

fn dims(endpoint: &str, schedule: &str) -> Vec<Dimension> {
    vec![
        Dimension::builder().name("Endpoint").value(endpoint).build(),
        Dimension::builder().name("MonitoringSchedule").value(schedule).build(),
    ]
}

/// Data above the thresholds of the data-set drift alarm and the prediction anomaly alarm.
async fn push_breaching(cw: &aws_sdk_cloudwatch::Client, endpoint: &str, schedule: &str) {
    for (namespace, name, value) in [
        (DATA_METRICS_NAMESPACE, "dataset_drift_share", 0.9),
        (MODEL_METRICS_NAMESPACE, "prediction_anomaly_score", 9.0),
    ] {
        cw.put_metric_data()
            .namespace(namespace)
            .metric_data(
                SdkDatum::builder()
                    .metric_name(name)
                    .set_dimensions(Some(dims(endpoint, schedule)))
                    .value(value)
                    .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                        Utc::now().timestamp(),
                    ))
                    .build(),
            )
            .send()
            .await
            .expect("PutMetricData");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_deploys_and_its_alarm_notifies_through_sns() {
    let sdk = sdk_config().await;
    let s3 = modelwatch_aws::config::s3_client(&sdk);
    let cw = modelwatch_aws::config::cloudwatch_client(&sdk);
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let events = aws_sdk_eventbridge::Client::new(&sdk);

    // What `sam deploy` does: the functions' local CodeUri replaced by an S3 location (nothing is read from it,
    // the functions are left out), and the template uploaded, as it is larger than CreateStack's inline limit.
    let local = "    CodeUri: ..\n";
    let template = template_text();
    assert_eq!(template.matches(local).count(), 1, "one CodeUri, in Globals");
    let template = template.replace(local, "    CodeUri: s3://modelwatch-not-deployed/functions.zip\n");
    let staging = unique("mw-infra-staging");
    s3.create_bucket()
        .bucket(&staging)
        .send()
        .await
        .expect("staging bucket");
    modelwatch_e2e::put(&s3, &staging, "template.yaml", template.into_bytes()).await;
    let stack = unique("mw-infra");
    let endpoint = unique("ep");
    let schedule = unique("hourly");
    let params = [
        ("DeployFunctions", "false"),
        ("EndpointName", endpoint.as_str()),
        ("ScheduleName", schedule.as_str()),
        ("AlarmPeriodSeconds", "60"),
        ("DriftAlarmFeature1", "income"),
        ("QualityAlarm1Metric", "accuracy"),
        ("QualityAlarm1Threshold", "0.7"),
    ];
    let started = Instant::now();
    cfn.create_stack()
        .stack_name(&stack)
        .template_url(format!("{}/{staging}/template.yaml", modelwatch_e2e::endpoint()))
        .set_parameters(Some(
            params
                .iter()
                .map(|(k, v)| Parameter::builder().parameter_key(*k).parameter_value(*v).build())
                .collect(),
        ))
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityAutoExpand)
        .send()
        .await
        .expect("CreateStack");
    let described = loop {
        let s = cfn
            .describe_stacks()
            .stack_name(&stack)
            .send()
            .await
            .expect("DescribeStacks");
        let s = s.stacks()[0].clone();
        let status = s.stack_status().cloned().unwrap();
        if !status.as_str().ends_with("IN_PROGRESS") {
            break s;
        }
        assert!(
            started.elapsed() < StdDuration::from_secs(180),
            "stack still {status:?}"
        );
        tokio::time::sleep(StdDuration::from_millis(500)).await;
    };
    if described.stack_status() != Some(&StackStatus::CreateComplete) {
        let events = cfn.describe_stack_events().stack_name(&stack).send().await.unwrap();
        let failed: Vec<String> = events
            .stack_events()
            .iter()
            .filter(|e| e.resource_status().is_some_and(|s| s.as_str().ends_with("FAILED")))
            .map(|e| format!("{:?}: {:?}", e.logical_resource_id(), e.resource_status_reason()))
            .collect();
        panic!(
            "{:?} {:?}: {failed:#?}",
            described.stack_status(),
            described.stack_status_reason()
        );
    }
    println!("stack created in {:.1} s", started.elapsed().as_secs_f64());
    let output = |key: &str| {
        described
            .outputs()
            .iter()
            .find(|o| o.output_key() == Some(key))
            .and_then(|o| o.output_value())
            .unwrap_or_else(|| panic!("output {key}"))
            .to_owned()
    };
    assert!(
        described
            .outputs()
            .iter()
            .all(|o| !o.output_key().unwrap_or_default().ends_with("FunctionArn")),
        "no function outputs without functions"
    );
    let resources = cfn.describe_stack_resources().stack_name(&stack).send().await.unwrap();
    let types: BTreeMap<String, String> = resources
        .stack_resources()
        .iter()
        .map(|r| {
            (
                r.logical_resource_id().unwrap().to_owned(),
                r.resource_type().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(!types.values().any(|t| t.starts_with("AWS::Lambda::")), "{types:?}");
    for (id, kind) in [
        ("DataBucket", "AWS::S3::Bucket"),
        ("AlarmTopic", "AWS::SNS::Topic"),
        ("RetrainingTopic", "AWS::SNS::Topic"),
        ("EvaluateCapturesRole", "AWS::IAM::Role"),
        ("ScaleEndpointRole", "AWS::IAM::Role"),
        ("SuggestBaselineRole", "AWS::IAM::Role"),
        ("EvaluateCapturesLogGroup", "AWS::Logs::LogGroup"),
        ("CaptureObjectCreatedRule", "AWS::Events::Rule"),
        ("EvaluationScheduleRule", "AWS::Events::Rule"),
        ("ScalingScheduleRule", "AWS::Events::Rule"),
        ("FeatureDriftAlarm1", "AWS::CloudWatch::Alarm"),
        ("QualityAlarm1", "AWS::CloudWatch::Alarm"),
        ("Dashboard", "AWS::CloudWatch::Dashboard"),
    ] {
        assert_eq!(types.get(id).map(String::as_str), Some(kind), "{id}");
    }

    // Queues on both topics; data above two alarms' thresholds: the data-set drift alarm (both topics) and the
    // prediction anomaly alarm (the alarm topic only).
    let alarms_queue = queue_for(&sqs, &sns, &output("AlarmTopicArn"), "mw-infra-alarms").await;
    let retraining_queue = queue_for(&sqs, &sns, &output("RetrainingTopicArn"), "mw-infra-retraining").await;
    let drift_alarm = format!("{stack}-{endpoint}-dataset-drift");
    let anomaly_alarm = format!("{stack}-{endpoint}-prediction-anomaly");
    push_breaching(&cw, &endpoint, &schedule).await;

    // Meanwhile: a capture file below the variant's prefix goes through the bucket's EventBridge notifications
    // and the capture rule (to a queue the test adds as the rule's target); files elsewhere do not.
    let bucket = output("DataBucketName");
    let rule = resources
        .stack_resources()
        .iter()
        .find(|r| r.logical_resource_id() == Some("CaptureObjectCreatedRule"))
        .and_then(|r| r.physical_resource_id())
        .unwrap()
        .to_owned();
    let rule_queue = sqs
        .create_queue()
        .queue_name(unique("mw-infra-captures"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    events
        .put_targets()
        .rule(&rule)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("test-queue")
                .arn(queue_arn(&sqs, &rule_queue).await)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("PutTargets");
    let hour = Utc::now().format("%Y/%m/%d/%H");
    let inside = format!("datacapture/{endpoint}/AllTraffic/{hour}/capture.jsonl");
    for key in [
        inside.clone(),
        format!("datacapture/other-endpoint/AllTraffic/{hour}/capture.jsonl"),
        format!("reports/{endpoint}/AllTraffic/{hour}/drift.json"),
    ] {
        modelwatch_e2e::put(&s3, &bucket, &key, b"{}".to_vec()).await;
    }
    let mut keys = Vec::new();
    let waited = Instant::now();
    while waited.elapsed() < StdDuration::from_secs(10) {
        for body in drain(&sqs, &rule_queue).await {
            let event: Json = serde_json::from_str(&body).expect("an EventBridge event");
            assert_eq!(event["detail-type"], "Object Created");
            keys.push(event["detail"]["object"]["key"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(keys, vec![inside], "only the variant's capture files reach the rule");

    // The alarms fire; LocalStack evaluates them about once a period (60 s), so the data are pushed again every
    // 20 s to keep the last minute breaching.
    let mut alarm_topic: Vec<String> = Vec::new();
    let mut retraining_topic: Vec<String> = Vec::new();
    let notified = |bodies: &[String], alarm: &str| bodies.iter().any(|b| b.contains(alarm) && b.contains("ALARM"));
    let mut pushed = Instant::now();
    let waited = Instant::now();
    while waited.elapsed() < StdDuration::from_secs(240)
        && !(notified(&alarm_topic, &drift_alarm)
            && notified(&alarm_topic, &anomaly_alarm)
            && notified(&retraining_topic, &drift_alarm))
    {
        alarm_topic.extend(drain(&sqs, &alarms_queue).await);
        retraining_topic.extend(drain(&sqs, &retraining_queue).await);
        if pushed.elapsed() > StdDuration::from_secs(20) {
            push_breaching(&cw, &endpoint, &schedule).await;
            pushed = Instant::now();
        }
    }
    println!("alarms notified {:.0} s after the data", waited.elapsed().as_secs_f64());
    let state = cw
        .describe_alarms()
        .alarm_names(&drift_alarm)
        .alarm_names(&anomaly_alarm)
        .send()
        .await
        .unwrap();
    for alarm in state.metric_alarms() {
        assert_eq!(
            alarm.state_value().map(|s| s.as_str()),
            Some("ALARM"),
            "{:?}",
            alarm.alarm_name()
        );
    }
    assert_eq!(state.metric_alarms().len(), 2);
    assert!(
        notified(&alarm_topic, &drift_alarm),
        "no data-set drift notification on the alarm topic"
    );
    assert!(
        notified(&alarm_topic, &anomaly_alarm),
        "no anomaly notification on the alarm topic"
    );
    assert!(
        notified(&retraining_topic, &drift_alarm),
        "no data-set drift notification on the retraining topic"
    );
    // The anomaly alarm, which fired at the same time, is not a retraining trigger.
    retraining_topic.extend(drain(&sqs, &retraining_queue).await);
    assert!(
        !retraining_topic.iter().any(|b| b.contains(&anomaly_alarm)),
        "the prediction anomaly alarm reached the retraining topic"
    );

    cfn.delete_stack().stack_name(&stack).send().await.expect("DeleteStack");
}

/// The `key = value` lines of the TOML section `[name]` of `text` (comments and blank lines left out).
fn toml_section(text: &str, name: &str) -> BTreeMap<String, String> {
    let header = format!("[{name}]");
    text.lines()
        .skip_while(|l| l.trim() != header)
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| !k.trim_start().starts_with('#'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

#[test]
fn release_builds_unwind_and_strip_and_sam_builds_without_asking() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let release = toml_section(&cargo, "profile.release");
    // `cargo lambda build --release` makes panics abort unless the profile says otherwise: one endpoint's panic
    // would end every other endpoint's run of the invocation.
    assert_eq!(
        release.get("panic").map(String::as_str),
        Some("\"unwind\""),
        "{release:?}"
    );
    assert_eq!(
        release.get("strip").map(String::as_str),
        Some("\"symbols\""),
        "{release:?}"
    );
    let sam = std::fs::read_to_string(infra("samconfig.toml")).unwrap();
    for section in ["default.build.parameters", "default.sync.parameters"] {
        assert_eq!(
            toml_section(&sam, section).get("beta_features").map(String::as_str),
            Some("true"),
            "{section}: rust-cargolambda is a preview build method, `sam build` asks without the opt-in"
        );
    }
}

#[test]
fn endpoint_names_with_capitals_are_refused_by_the_template() {
    // SageMaker's ARNs are lower case and the roles' resources are built from the parameter: a capital would make
    // every call AccessDenied on a real account. SageMaker's pattern is ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}.
    let root: Yaml = serde_norway::from_str(&template_text()).unwrap();
    let pattern = root["Parameters"]["EndpointName"]["AllowedPattern"].as_str().unwrap();
    assert_eq!(pattern, "^[a-z0-9](-*[a-z0-9]){0,62}$");
}

#[test]
fn failed_asynchronous_invocations_are_kept_and_the_scaler_is_not_retried() {
    let stack = retraining_stack(&[]);
    let queue = "arn:aws:test:us-east-1:000000000000:FailedInvocationsQueue/Arn";
    for (function, role) in [
        ("EvaluateCapturesFunction", "EvaluateCapturesRole"),
        ("SuggestBaselineFunction", "SuggestBaselineRole"),
        ("LaunchRetrainingFunction", "LaunchRetrainingRole"),
    ] {
        let config = &stack.properties(function)["EventInvokeConfig"];
        assert_eq!(config["MaximumRetryAttempts"], 2, "{function}");
        let on_failure = &config["DestinationConfig"]["OnFailure"];
        assert_eq!(
            (on_failure["Type"].as_str(), on_failure["Destination"].as_str()),
            (Some("SQS"), Some(queue)),
            "{function}"
        );
        // Lambda delivers to the destination with the function's own role.
        assert!(allows(&statements(&stack, role), "sqs:SendMessage", queue), "{role}");
    }
    let scaler = &stack.properties("ScaleEndpointFunction")["EventInvokeConfig"];
    assert_eq!(
        (
            scaler["MaximumRetryAttempts"].as_i64(),
            scaler["MaximumEventAgeInSeconds"].as_i64()
        ),
        (Some(0), Some(60))
    );
    assert!(
        scaler.get("DestinationConfig").is_none(),
        "a failed minute is superseded, not kept"
    );
    let alarm = stack.properties("FailedInvocationsAlarm");
    assert_eq!(alarm["MetricName"], "ApproximateNumberOfMessagesVisible");
    assert_eq!(
        alarm["Dimensions"][0]["Value"],
        "arn:aws:test:us-east-1:000000000000:FailedInvocationsQueue/QueueName"
    );
}

/// The Prometheus variant of the Grafana dashboard queries only series that the exposition of what the code
/// publishes (`modelwatch evaluate --prometheus`/`--pushgateway`) holds, with its variables set to the demo's
/// endpoint and schedule, and shows each modelwatch metric the CloudWatch variant shows.
#[test]
fn the_prometheus_dashboard_queries_only_what_the_exposition_holds() {
    let schedule = "check-hourly";
    let text = modelwatch_core::metrics::prometheus::exposition(&evaluation_published(schedule));
    let read = |name: &str| -> Json {
        serde_json::from_str(&std::fs::read_to_string(infra(name)).unwrap_or_else(|e| panic!("{name}: {e}")))
            .unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
    };
    let dashboard = read("grafana-dashboard-prometheus.json");
    let mut shown = BTreeSet::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            assert_eq!(target["datasource"]["type"], "prometheus", "{}", panel["title"]);
            let expr = target["expr"].as_str().expect("a PromQL expression");
            let selector = format!(
                "{{endpoint=\"{}\", monitoring_schedule=\"{schedule}\"}}",
                demo::ENDPOINT
            );
            let filled = expr.replace("$endpoint", demo::ENDPOINT).replace("$schedule", schedule);
            let family = filled
                .strip_suffix(&selector)
                .unwrap_or_else(|| panic!("{expr}: one selector"));
            let series = format!("{family}{{endpoint=\"{}\",", demo::ENDPOINT);
            assert!(
                text.lines()
                    .any(|l| l.starts_with(&series) && l.contains(&format!("monitoring_schedule=\"{schedule}\""))),
                "{expr} ({}) matches no published series",
                panel["title"]
            );
            shown.insert(family.trim_start_matches("modelwatch_").to_owned());
        }
    }
    // What the CloudWatch variant shows of modelwatch's own namespaces (not the endpoint's SageMaker metrics).
    let cloudwatch = read("grafana-dashboard.json");
    for panel in cloudwatch["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let name = match target["metricName"].as_str() {
                Some(name)
                    if target["namespace"]
                        .as_str()
                        .is_some_and(|n| n.starts_with("$data") || n.starts_with("$model")) =>
                {
                    name.to_owned()
                }
                Some(_) => continue,
                None => "feature_baseline_drift".to_owned(),
            };
            assert!(
                shown.contains(&name),
                "the Prometheus dashboard lacks {name} ({})",
                panel["title"]
            );
        }
    }
}

/// A JSONPath of the state machine (`$.a.b`, `$$.Execution.Name`) read from the state's input and context.
fn path_value(path: &str, input: &Json, context: &Json) -> Json {
    let (root, rest) = match path.strip_prefix("$$") {
        Some(rest) => (context, rest),
        None => (input, path.strip_prefix('$').expect("a path")),
    };
    rest.split('.').filter(|p| !p.is_empty()).fold(root.clone(), |v, part| {
        v.get(part)
            .cloned()
            .unwrap_or_else(|| panic!("{path}: no {part} in {v}"))
    })
}

/// A state's `Parameters`, `ItemSelector` or `ResultSelector`, filled as Step Functions fills it: a key ending in
/// `.$` takes the value of its path.
fn fill(template: &Json, input: &Json, context: &Json) -> Json {
    match template {
        Json::Object(fields) => Json::Object(
            fields
                .iter()
                .map(|(k, v)| match k.strip_suffix(".$") {
                    Some(key) => (key.to_owned(), path_value(v.as_str().expect("a path"), input, context)),
                    None => (k.clone(), fill(v, input, context)),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The distributed state machine sends the three steps the function classifies (with the execution's name as the
/// run and the map's item as the batch), reads the fields the function returns, and loops the reduce until done;
/// its role may invoke the function and run its own map's child executions, and evaluate-captures' role may write
/// the run's plan and partials of its own variant only.
#[test]
fn the_distributed_state_machine_sends_the_steps_the_function_handles() {
    use evaluate_captures::event::{DistributedStep, Invocation, classify};
    use evaluate_captures::handler::{DistributedOutcome, Response};
    use modelwatch_core::distributed::{Item, Reduced, partial_key, plan_key};

    let stack = Stack::new(&[("EndpointName", "churn-prod"), ("VariantName", "blue")]);
    let machine = stack.properties("DistributedEvaluationStateMachine");
    let states = &machine["Definition"]["States"];
    let function = machine["DefinitionSubstitutions"]["Function"].clone();
    let input = json!({"endpoint": "churn-prod", "variant": "blue",
        "window": {"start": "2024-05-01T00:00:00Z", "end": "2024-05-02T00:00:00Z"}});
    let context =
        json!({"Execution": {"Name": "backfill-may-1"}, "Map": {"Item": {"Value": {"window": 3, "batch": 1}}}});
    let invoke = |state: &Json, input: &Json| {
        assert_eq!(state["Resource"], "arn:aws:states:::lambda:invoke");
        assert_eq!(state["Parameters"]["FunctionName"], "${Function}");
        let payload = match state["Parameters"].get("Payload") {
            Some(p) => fill(p, input, &context),
            None => path_value(state["Parameters"]["Payload.$"].as_str().unwrap(), input, &context),
        };
        let retried: Vec<&Json> = state["Retry"][0]["ErrorEquals"].as_array().unwrap().iter().collect();
        assert!(
            retried.contains(&&json!(modelwatch_aws::lambda::RETRYABLE)),
            "{retried:?}"
        );
        assert!(!retried.contains(&&json!(modelwatch_aws::lambda::BAD_INPUT)));
        classify(payload).expect("the function classifies the payload")
    };
    let returned = |outcome: DistributedOutcome| json!({"Payload": serde_json::to_value(Response { distributed: Some(outcome), ..Response::default() }).unwrap()});
    assert!(
        function
            .as_str()
            .is_some_and(|f| f.contains("EvaluateCapturesFunction")),
        "{function}"
    );

    // Plan.
    assert_eq!(machine["Definition"]["StartAt"], "Plan");
    let plan = &states["Plan"];
    let Invocation::Distributed {
        run_id,
        endpoint,
        variant,
        step: DistributedStep::Plan { window, .. },
    } = invoke(plan, &input)
    else {
        panic!("a plan step")
    };
    assert_eq!(
        (run_id.as_str(), endpoint.as_str(), variant.as_str()),
        ("backfill-may-1", "churn-prod", "blue")
    );
    assert_eq!(window.hourly().len(), 24);
    let items = vec![Item { window: 0, batch: 0 }, Item { window: 3, batch: 1 }];
    let planned = fill(
        &plan["ResultSelector"],
        &returned(DistributedOutcome::Plan {
            items: items.clone(),
            windows: 24,
            bytes: 9,
            next: 0,
        }),
        &context,
    );
    let mut state = input.clone();
    state["plan"] = planned;
    assert_eq!(state["plan"]["items"], serde_json::to_value(&items).unwrap());

    // Read: a distributed map over the plan's items, each item one invocation.
    assert_eq!(plan["Next"], "Read");
    let read = &states["Read"];
    assert_eq!(read["ItemProcessor"]["ProcessorConfig"]["Mode"], "DISTRIBUTED");
    assert_eq!(
        path_value(read["ItemsPath"].as_str().unwrap(), &state, &context),
        json!(items)
    );
    let item_input = fill(&read["ItemSelector"], &state, &context);
    let processor = &read["ItemProcessor"]["States"][read["ItemProcessor"]["StartAt"].as_str().unwrap()];
    let Invocation::Distributed {
        run_id,
        step: DistributedStep::Read(item),
        ..
    } = invoke(processor, &item_input)
    else {
        panic!("a read step")
    };
    assert_eq!(
        (run_id.as_str(), item),
        ("backfill-may-1", Item { window: 3, batch: 1 })
    );
    let one = fill(
        &processor["ResultSelector"],
        &returned(DistributedOutcome::Read { partial: "k".into() }),
        &context,
    );
    assert!(one.to_string().len() < 20, "an item's output stays small: {one}");
    assert_eq!(
        read["ResultSelector"]["batches.$"], "States.ArrayLength($)",
        "the map's results are counted"
    );
    assert_eq!(read["ResultPath"], "$.read");

    // Reduce, again until done.
    let reduce = &states[read["Next"].as_str().unwrap()];
    let Invocation::Distributed {
        step: DistributedStep::Reduce { next },
        ..
    } = invoke(reduce, &state)
    else {
        panic!("a reduce step")
    };
    assert_eq!(next, 0);
    let choice = &states[reduce["Next"].as_str().unwrap()];
    for (done, then) in [(false, "Reduce"), (true, "Done")] {
        let reduced = Reduced {
            next: 5,
            done,
            outcomes: Vec::new(),
        };
        state["plan"] = fill(
            &reduce["ResultSelector"],
            &returned(DistributedOutcome::Reduce(reduced)),
            &context,
        );
        let chosen = match choice["Choices"][0]["BooleanEquals"].as_bool() == Some(state["plan"]["done"] == json!(true))
        {
            true => choice["Choices"][0]["Next"].clone(),
            false => choice["Default"].clone(),
        };
        assert_eq!(chosen, then);
    }
    let Invocation::Distributed {
        step: DistributedStep::Reduce { next },
        ..
    } = invoke(reduce, &state)
    else {
        panic!("a reduce step")
    };
    assert_eq!(next, 5, "the next reduce takes up where the last stopped");
    assert_eq!(states["Done"]["Type"], "Succeed");

    // The roles.
    let policies = machine["Policies"].as_array().unwrap();
    assert!(
        policies.iter().any(|p| p["LambdaInvokePolicy"].is_object()),
        "{policies:?}"
    );
    let own_children = policies
        .iter()
        .filter_map(|p| p["Statement"].as_array())
        .flatten()
        .find(|s| s["Action"] == "states:StartExecution")
        .expect("its map's child executions");
    assert!(text(&own_children["Resource"]).ends_with(&format!("stateMachine:{}", text(&machine["Name"]))));
    let statements = statements(&stack, "EvaluateCapturesRole");
    let config = evaluate_captures::config::Config::from_vars(&environment(&stack, "EvaluateCapturesFunction"))
        .expect("the template's environment parses");
    let state_arn = |key: &str| object_arn(&config.state.bucket, &config.state.key(key));
    let own = Target {
        endpoint: "churn-prod".into(),
        variant: "blue".into(),
        schedule: String::new(),
    };
    let day = Window::new(Utc::now() - Duration::hours(1), Utc::now()).unwrap();
    for key in [plan_key(&own, "r"), partial_key(&own, "r", &day, 7)] {
        assert!(allows(&statements, "s3:PutObject", &state_arn(&key)), "write {key}");
        assert!(allows(&statements, "s3:GetObject", &state_arn(&key)), "read {key}");
    }
    let other = Target {
        variant: "green".into(),
        ..own
    };
    assert!(!allows(&statements, "s3:PutObject", &state_arn(&plan_key(&other, "r"))));
}
