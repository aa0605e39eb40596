//! The `modelwatch` program end to end, on the demo and on real SageMaker files.

use std::path::Path;
use std::process::{Command, Output};

use modelwatch_core::testing::{fixtures, realdata};

fn modelwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modelwatch"))
        .args(args)
        .output()
        .expect("modelwatch runs")
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn demo_finds_the_injected_drift_and_the_quality_drop_only_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = modelwatch(&["demo", "--out", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reports = dir.path().join("reports");
    let before = reports.join("20261126T08-20261126T11");
    let after = reports.join("20261126T11-20261126T14");

    let drift_before = json(&before.join("drift.json"));
    assert_eq!(drift_before["drifted"], 0);
    let drift_after = json(&after.join("drift.json"));
    let drifted: Vec<&str> = drift_after["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["drifted"] == true)
        .map(|f| f["feature"].as_str().unwrap())
        .collect();
    assert_eq!(drifted, ["income", "region"]);

    assert_eq!(
        json(&before.join("constraint_violations.json"))["violations"],
        serde_json::json!([])
    );
    let checks: Vec<(String, String)> = json(&after.join("constraint_violations.json"))["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["feature_name"].as_str().unwrap().into(),
                v["constraint_check_type"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        checks.contains(&("income".into(), "baseline_drift_check".into())),
        "{checks:?}"
    );
    assert!(
        checks.contains(&("region".into(), "categorical_values_check".into())),
        "{checks:?}"
    );

    let quality_before = json(&before.join("model-quality/constraint_violations.json"));
    assert_eq!(quality_before["violations"], serde_json::json!([]));
    let quality_after = json(&after.join("model-quality/constraint_violations.json"));
    let metrics: Vec<&str> = quality_after["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["metric_name"].as_str().unwrap())
        .collect();
    assert!(metrics.contains(&"accuracy") && metrics.contains(&"f1"), "{metrics:?}");

    // One CloudWatch datum a line, with Model Monitor's names and dimensions.
    let lines = std::fs::read_to_string(after.join("metrics.jsonl")).unwrap();
    let data: Vec<serde_json::Value> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let income = data
        .iter()
        .find(|d| d["metric_name"] == "feature_baseline_drift_income")
        .unwrap();
    assert_eq!(income["namespace"], "aws/sagemaker/Endpoints/data-metrics");
    assert_eq!(income["dimensions"][0], serde_json::json!(["Endpoint", "credit-risk"]));
    assert!(income["value"].as_f64().unwrap() > 0.1);
    assert!(
        data.iter()
            .any(|d| d["metric_name"] == "accuracy" && d["namespace"] == "aws/sagemaker/Endpoints/model-metrics")
    );

    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("DRIFT") && stdout.contains("Model quality"), "{stdout}");

    // It ends in plain words, and the commands it prints work as printed.
    let conclusion = stdout.split("What happened:").nth(1).expect("a conclusion");
    assert!(conclusion.contains("2 of 7 input features drifted"), "{conclusion}");
    assert!(conclusion.contains("income (wasserstein_normed") && conclusion.contains("region (jensen_shannon"));
    assert!(conclusion.contains("went from 0.72 to 0.44"), "{conclusion}");
    assert!(
        conclusion.contains(&format!("{}", after.join("report.html").display())),
        "{conclusion}"
    );
    let commands: Vec<&str> = stdout
        .split("Try it yourself:")
        .nth(1)
        .expect("commands")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(commands.len(), 2);
    for command in commands {
        let words: Vec<&str> = command.split_whitespace().collect();
        let run = Command::new(words[0])
            .args(&words[1..])
            .output()
            .expect("the printed program runs");
        assert!(
            run.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
}

#[test]
fn evaluate_reads_a_time_window_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        modelwatch(&["demo", "--out", dir.path().to_str().unwrap()])
            .status
            .success()
    );
    // Compress one hour's file: the reader must take .jsonl.gz the same.
    let hour = dir.path().join("captures/credit-risk/AllTraffic/2026/11/26/09");
    let file = std::fs::read_dir(&hour).unwrap().next().unwrap().unwrap().path();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::copy(&mut std::fs::File::open(&file).unwrap(), &mut gz).unwrap();
    std::fs::write(file.with_extension("jsonl.gz"), gz.finish().unwrap()).unwrap();
    std::fs::remove_file(&file).unwrap();

    let out = dir.path().join("one-hour");
    let p = |x: &Path| x.to_str().unwrap().to_owned();
    let result = modelwatch(&[
        "evaluate",
        "--captures",
        &p(&dir.path().join("captures")),
        "--baseline",
        &p(&dir.path().join("baseline")),
        "--out",
        &p(&out),
        "--from",
        "2026-11-26T09",
        "--to",
        "2026-11-26T10",
    ]);
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let summary = json(&out.join("summary.json"));
    assert_eq!(summary["summary"]["files"], 1);
    assert_eq!(summary["summary"]["rows"], 2000);
    assert_eq!(json(&out.join("statistics.json"))["dataset"]["item_count"], 2000);
}

#[test]
fn unreadable_input_is_a_clear_error_but_the_rest_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        modelwatch(&["demo", "--out", dir.path().to_str().unwrap()])
            .status
            .success()
    );
    let junk = dir
        .path()
        .join("captures/credit-risk/AllTraffic/2026/11/26/08/junk.jsonl");
    std::fs::write(&junk, "this is not a capture file\n").unwrap();
    let out = dir.path().join("with-junk");
    let result = modelwatch(&[
        "evaluate",
        "--captures",
        dir.path().join("captures").to_str().unwrap(),
        "--baseline",
        dir.path().join("baseline").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("junk.jsonl") && stderr.contains("no capture record"),
        "{stderr}"
    );
    assert_eq!(
        json(&out.join("summary.json"))["summary"]["rows"],
        12_000,
        "the good files were still evaluated"
    );

    let missing = modelwatch(&[
        "evaluate",
        "--captures",
        "/nonexistent",
        "--baseline",
        "/nonexistent",
        "--out",
        "/tmp/x",
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent"));
}

#[test]
fn real_churn_baseline_and_captures_from_the_model_monitor_introduction() {
    let Some(root) = realdata() else { return };
    let example = root.join("capture/sm-examples-model-monitor-introduction");
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("baseline");
    let result = modelwatch(&[
        "baseline",
        "--dataset",
        example.join("training-dataset-with-header.csv").to_str().unwrap(),
        "--out",
        baseline.to_str().unwrap(),
        "--label-column",
        "Churn",
    ]);
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let statistics = json(&baseline.join("statistics.json"));
    assert_eq!(statistics["dataset"]["item_count"], 2333);
    assert_eq!(statistics["features"].as_array().unwrap().len(), 69);

    let out = dir.path().join("reports");
    let result = modelwatch(&[
        "evaluate",
        "--captures",
        example.join("notebook-output-capture-sample.jsonl").to_str().unwrap(),
        "--baseline",
        baseline.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    // Three records are too few to judge drift on: read, reported, and "nothing compared" (exit 3).
    assert_eq!(
        result.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(String::from_utf8_lossy(&result.stderr).contains("every feature had fewer than 30 values"));
    let summary = json(&out.join("summary.json"));
    assert_eq!(summary["summary"]["rows"], 3);
    assert_eq!(summary["summary"]["skipped"], 0);
}

#[test]
fn real_validation_set_gives_a_model_quality_baseline() {
    let Some(root) = realdata() else { return };
    let csv = root.join("capture/sm-examples-model-quality/validation_with_predictions.csv");
    let header = std::fs::read_to_string(&csv)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(header, "probability,prediction,label");
    let dir = tempfile::tempdir().unwrap();
    let result = modelwatch(&[
        "baseline",
        "--dataset",
        csv.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
        "--label-column",
        "label",
        "--prediction-column",
        "probability",
        "--problem-type",
        "binary",
        "--threshold",
        "0.8",
    ]);
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let stats = json(&dir.path().join("model-quality/statistics.json"));
    let accuracy = stats["binary_classification_metrics"]["accuracy"]["value"]
        .as_f64()
        .unwrap();
    let constraints = json(&dir.path().join("model-quality/constraints.json"));
    let threshold = constraints["binary_classification_constraints"]["accuracy"]["threshold"]
        .as_f64()
        .unwrap();
    assert!(
        (threshold - accuracy * 0.9).abs() < 1e-12,
        "10% tolerance below the baseline"
    );
    assert!(accuracy > 0.5 && accuracy <= 1.0);
}

/// The churn example's shapes (a training set with a header and the label first, CSV captures whose output content
/// type has a charset parameter), in the core's own fixtures.
#[test]
fn fixture_churn_shaped_baseline_and_captures() {
    let fixtures = fixtures();
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("baseline");
    let result = modelwatch(&[
        "baseline",
        "--dataset",
        fixtures.join("dataset/training-with-header.csv").to_str().unwrap(),
        "--out",
        baseline.to_str().unwrap(),
        "--label-column",
        "Churn",
    ]);
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let statistics = json(&baseline.join("statistics.json"));
    assert_eq!(statistics["dataset"]["item_count"], 6);
    assert_eq!(statistics["features"].as_array().unwrap().len(), 5);

    let out = dir.path().join("reports");
    let result = modelwatch(&[
        "evaluate",
        "--captures",
        fixtures.join("capture/charset-output.jsonl").to_str().unwrap(),
        "--baseline",
        baseline.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    // Two records are too few to judge drift on: read, reported, and "nothing compared" (exit 3).
    assert_eq!(
        result.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let summary = json(&out.join("summary.json"));
    assert_eq!(summary["summary"]["rows"], 2);
    assert_eq!(summary["summary"]["skipped"], 0);
}

/// The model-quality validation set's shape (`probability,prediction,label`), in the core's own fixture: accuracy
/// 7/10 at threshold 0.8 (see the core's `fixture_validation_with_predictions_gives_the_exact_metrics`).
#[test]
fn fixture_validation_set_gives_a_model_quality_baseline() {
    let csv = fixtures().join("model-quality/validation_with_predictions.csv");
    let dir = tempfile::tempdir().unwrap();
    let result = modelwatch(&[
        "baseline",
        "--dataset",
        csv.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
        "--label-column",
        "label",
        "--prediction-column",
        "probability",
        "--problem-type",
        "binary",
        "--threshold",
        "0.8",
    ]);
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let stats = json(&dir.path().join("model-quality/statistics.json"));
    let accuracy = stats["binary_classification_metrics"]["accuracy"]["value"]
        .as_f64()
        .unwrap();
    let constraints = json(&dir.path().join("model-quality/constraints.json"));
    let threshold = constraints["binary_classification_constraints"]["accuracy"]["threshold"]
        .as_f64()
        .unwrap();
    assert!(
        (threshold - accuracy * 0.9).abs() < 1e-12,
        "10% tolerance below the baseline"
    );
    assert!((accuracy - 0.7).abs() < 1e-12, "{accuracy}");
}

fn run_demo(dir: &Path) -> Output {
    let out = modelwatch(&["demo", "--out", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn metric_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn metric(data: &[serde_json::Value], name: &str) -> Option<f64> {
    data.iter()
        .find(|d| d["metric_name"] == name)
        .map(|d| d["value"].as_f64().unwrap())
}

fn p(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

/// `modelwatch evaluate` on the demo's captures for `[from, to)`, with extra arguments; asserts success.
fn evaluate_demo(dir: &Path, baseline: &Path, from: &str, to: &str, out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "evaluate".to_owned(),
        "--captures".to_owned(),
        p(&dir.join("captures")),
        "--baseline".to_owned(),
        p(baseline),
        "--out".to_owned(),
        p(out),
        "--from".to_owned(),
        from.to_owned(),
        "--to".to_owned(),
        to.to_owned(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = modelwatch(&args);
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    String::from_utf8_lossy(&result.stdout).into_owned()
}

fn drift_of<'a>(drift: &'a serde_json::Value, feature: &str) -> &'a serde_json::Value {
    drift["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["feature"] == feature)
        .unwrap_or_else(|| panic!("{feature} not compared: {drift}"))
}

#[test]
fn prediction_drift_is_reported_on_the_prediction_column() {
    let dir = tempfile::tempdir().unwrap();
    run_demo(dir.path());
    // A reference data set with the model's scores: the demo's first three hours of traffic, features and score.
    let mut csv = format!("{},score\n", modelwatch_core::demo::FEATURES.join(","));
    let hours = dir.path().join("captures/credit-risk/AllTraffic/2026/11/26");
    for hour in ["08", "09", "10"] {
        for file in std::fs::read_dir(hours.join(hour)).unwrap() {
            for line in std::fs::read_to_string(file.unwrap().path()).unwrap().lines() {
                let r: serde_json::Value = serde_json::from_str(line).unwrap();
                let data = &r["captureData"];
                csv.push_str(&format!(
                    "{},{}\n",
                    data["endpointInput"]["data"].as_str().unwrap(),
                    data["endpointOutput"]["data"].as_str().unwrap()
                ));
            }
        }
    }
    let reference = dir.path().join("reference.csv");
    std::fs::write(&reference, csv).unwrap();
    let baseline = dir.path().join("baseline-with-scores");
    let result = modelwatch(&[
        "baseline",
        "--dataset",
        &p(&reference),
        "--out",
        &p(&baseline),
        "--prediction-column",
        "score",
    ]);
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let statistics = json(&baseline.join("statistics.json"));
    let names: Vec<&str> = statistics["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"prediction_score") && !names.contains(&"score"),
        "{names:?}"
    );

    // The model's own traffic: the predictions are compared and do not drift.
    let same = dir.path().join("same");
    evaluate_demo(dir.path(), &baseline, "2026-11-26T09", "2026-11-26T10", &same, &[]);
    let drift = json(&same.join("drift.json"));
    assert_eq!(drift_of(&drift, "prediction_score")["drifted"], false);
    assert_eq!(drift["drifted"], 0);

    // The same inputs with every score shifted down by 0.25: only the prediction drifts.
    let shifted = dir.path().join("shifted-captures/credit-risk/AllTraffic/2026/11/26/09");
    std::fs::create_dir_all(&shifted).unwrap();
    for file in std::fs::read_dir(hours.join("09")).unwrap() {
        let file = file.unwrap().path();
        let mut lines = String::new();
        for line in std::fs::read_to_string(&file).unwrap().lines() {
            let mut r: serde_json::Value = serde_json::from_str(line).unwrap();
            let output = &mut r["captureData"]["endpointOutput"]["data"];
            let score: f64 = output.as_str().unwrap().parse().unwrap();
            *output = serde_json::json!(format!("{:.6}", (score - 0.25).max(0.0)));
            lines.push_str(&r.to_string());
            lines.push('\n');
        }
        std::fs::write(shifted.join(file.file_name().unwrap()), lines).unwrap();
    }
    let out = dir.path().join("after-shift");
    let result = modelwatch(&[
        "evaluate",
        "--captures",
        &p(&dir.path().join("shifted-captures")),
        "--baseline",
        &p(&baseline),
        "--out",
        &p(&out),
    ]);
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let drift = json(&out.join("drift.json"));
    let score = drift_of(&drift, "prediction_score");
    assert_eq!(score["drifted"], true, "{score}");
    assert_eq!(drift["drifted"], 1, "only the prediction: {drift}");
    let data = metric_lines(&out.join("metrics.jsonl"));
    assert!(metric(&data, "feature_baseline_drift_prediction_score").unwrap() > 0.2);
    let stdout = String::from_utf8_lossy(&result.stdout);
    let line = stdout.lines().find(|l| l.starts_with("prediction_score")).unwrap();
    assert!(line.contains("DRIFT"), "{line}");

    // The demo's own drift (income up by half) moves the scores too, far more than an ordinary hour does.
    let after = dir.path().join("after-drift");
    evaluate_demo(dir.path(), &baseline, "2026-11-26T11", "2026-11-26T14", &after, &[]);
    let moved = drift_of(&json(&after.join("drift.json")), "prediction_score")["statistic"]
        .as_f64()
        .unwrap();
    let still = drift_of(&json(&same.join("drift.json")), "prediction_score")["statistic"]
        .as_f64()
        .unwrap();
    assert!(moved > 3.0 * still, "after drift {moved}, before {still}");
}

#[test]
fn baseline_fits_a_cbpe_calibration_and_evaluate_reports_the_estimate() {
    let dir = tempfile::tempdir().unwrap();
    run_demo(dir.path());
    let quality = dir.path().join("quality-baseline");
    let result = modelwatch(&[
        "baseline",
        "--dataset",
        &p(&dir.path().join("validation.csv")),
        "--out",
        &p(&quality),
        "--label-column",
        "default",
        "--prediction-column",
        "score",
        "--problem-type",
        "binary",
    ]);
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    assert!(String::from_utf8_lossy(&result.stdout).contains("cbpe_calibration.json"));
    let file = quality.join("model-quality/cbpe_calibration.json");
    let calibration = json(&file);
    assert_eq!(calibration["reference_samples"], 5000);
    assert_eq!(calibration["options"]["threshold"], 0.5);
    assert_eq!(
        std::fs::read(&file).unwrap(),
        std::fs::read(dir.path().join("baseline/model-quality/cbpe_calibration.json")).unwrap(),
        "the demo's baseline holds the same calibration"
    );

    // No labels: the estimate alone, marked as such, and published as estimated_* only.
    let baseline = dir.path().join("baseline");
    let alone = dir.path().join("alone");
    let stdout = evaluate_demo(dir.path(), &baseline, "2026-11-26T08", "2026-11-26T11", &alone, &[]);
    assert!(
        stdout.contains("Estimated without labels (CBPE") && stdout.contains("not a measurement"),
        "{stdout}"
    );
    let report = json(&alone.join("model-quality/estimated_metrics.json"));
    assert_eq!(report["estimate"]["estimate"]["n"], 6000);
    assert_eq!(report["estimate"]["method"], "CBPE");
    assert!(report["realised"].is_null());
    let data = metric_lines(&alone.join("metrics.jsonl"));
    let estimated = metric(&data, "estimated_accuracy").unwrap();
    assert!(
        data.iter()
            .any(|d| d["metric_name"] == "estimated_auc" && d["namespace"] == "aws/sagemaker/Endpoints/model-metrics")
    );
    assert_eq!(metric(&data, "accuracy"), None);

    // With labels: beside the realised values, and close to them before the concept drift.
    let both = dir.path().join("both");
    let stdout = evaluate_demo(
        dir.path(),
        &baseline,
        "2026-11-26T08",
        "2026-11-26T11",
        &both,
        &["--ground-truth", &p(&dir.path().join("ground-truth"))],
    );
    let report = json(&both.join("model-quality/estimated_metrics.json"));
    let realised = report["realised"]["accuracy"].as_f64().unwrap();
    assert_eq!(report["estimate"]["estimate"]["accuracy"].as_f64().unwrap(), estimated);
    assert!(
        (estimated - realised).abs() < 0.05,
        "estimated {estimated}, realised {realised}"
    );
    let row = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Estimated without labels"))
        .find(|l| l.trim_start().starts_with("accuracy"))
        .unwrap();
    let cells: Vec<f64> = row.split_whitespace().skip(1).map(|c| c.parse().unwrap()).collect();
    assert_eq!(cells.len(), 2, "estimated and realised columns: {row}");
    assert!((cells[1] - realised).abs() < 1e-4, "{row}");

    // A validation set of predicted labels only has no calibration, and is still a quality baseline.
    let labels_only = dir.path().join("labels-only.csv");
    std::fs::write(&labels_only, "label,predicted\n1,1\n0,1\n0,0\n1,1\n").unwrap();
    let out = dir.path().join("labels-only");
    let result = modelwatch(&[
        "baseline",
        "--dataset",
        &p(&labels_only),
        "--out",
        &p(&out),
        "--label-column",
        "label",
        "--predicted-label-column",
        "predicted",
        "--problem-type",
        "binary",
    ]);
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    assert!(out.join("model-quality/statistics.json").exists());
    assert!(!out.join("model-quality/cbpe_calibration.json").exists());
}

#[test]
fn state_keeps_the_prediction_history_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    run_demo(dir.path());
    let baseline = dir.path().join("baseline");
    let state = dir.path().join("my-state");
    let state_arg = p(&state);
    let run = |hour: u32| {
        let out = dir.path().join(format!("h{hour}"));
        let stdout = evaluate_demo(
            dir.path(),
            &baseline,
            &format!("2026-11-26T{hour:02}"),
            &format!("2026-11-26T{:02}", hour + 1),
            &out,
            &["--state", &state_arg],
        );
        (json(&out.join("prediction_history.json")), out, stdout)
    };
    let verdict = |h: &serde_json::Value, series: &str| {
        h["assessments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["series"] == series)
            .cloned()
            .unwrap_or_else(|| panic!("no {series} in {h}"))
    };

    let (first, _, stdout) = run(8);
    assert_eq!(first["windows_kept"], 1);
    assert!(
        first["assessments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["verdict"] == "insufficient_history")
    );
    assert_eq!(first["window"]["invocations"], 2000);
    assert!(
        stdout.contains("Prediction history") && stdout.contains("learning"),
        "{stdout}"
    );
    run(9);
    run(10);
    let (before, _, _) = run(11);
    let mean = verdict(&before, "prediction_mean");
    assert_eq!(
        (mean["baseline"].as_str(), mean["reference_windows"].as_u64()),
        (Some("recent"), Some(3))
    );
    // Re-running an hour replaces it: the history does not grow and the assessment is the same.
    let (again, _, stdout) = run(11);
    assert_eq!(
        (again["windows_kept"].as_u64(), again["replaced"].as_bool()),
        (Some(4), Some(true))
    );
    assert_eq!(again["assessments"], before["assessments"]);
    assert!(stdout.contains("this window replaced"), "{stdout}");

    // The second hour of the income drift: the mean score drops out of its expected range.
    let (dropped, out, stdout) = run(12);
    let mean = verdict(&dropped, "prediction_mean");
    assert_eq!(mean["verdict"], "drop", "{mean}");
    assert!(mean["value"].as_f64().unwrap() < mean["expected_low"].as_f64().unwrap());
    assert!(stdout.contains("DROP"), "{stdout}");
    let data = metric_lines(&out.join("metrics.jsonl"));
    let z = metric(&data, "prediction_mean_anomaly_score").unwrap();
    assert!(z < -3.5, "{z}");
    assert_eq!(metric(&data, "prediction_anomaly_score"), Some(z.abs()));
    assert_eq!(metric(&data, "prediction_invocations"), Some(2000.0));
    let stored = json(&state.join("credit-risk/AllTraffic/prediction_history.json"));
    assert_eq!(stored["windows"].as_array().unwrap().len(), 5);

    // One window length per history: another is evaluated and reported, not recorded; a history needs a window.
    let result = modelwatch(&[
        "evaluate",
        "--captures",
        &p(&dir.path().join("captures")),
        "--baseline",
        &p(&baseline),
        "--out",
        &p(&dir.path().join("two-hours")),
        "--from",
        "2026-11-26T12",
        "--to",
        "2026-11-26T14",
        "--state",
        &state_arg,
    ]);
    assert_eq!(
        result.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        stdout.contains("Prediction history: not recorded") && stdout.contains("keeps windows of 3600 s"),
        "{stdout}"
    );
    assert!(dir.path().join("two-hours/drift.json").exists());
    let result = modelwatch(&[
        "evaluate",
        "--captures",
        &p(&dir.path().join("captures")),
        "--baseline",
        &p(&baseline),
        "--out",
        &p(&dir.path().join("no-window")),
        "--state",
        &state_arg,
    ]);
    assert_eq!(result.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&result.stderr).contains("--state needs --from and --to"));
}

#[test]
fn demo_shows_the_hourly_prediction_history() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_demo(dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Hour by hour") && stdout.contains("est. accuracy (CBPE)"),
        "{stdout}"
    );
    let stored = json(&dir.path().join("state/credit-risk/AllTraffic/prediction_history.json"));
    assert_eq!(stored["windows"].as_array().unwrap().len(), 6);
    let verdicts = |hour: &str| -> Vec<String> {
        let h = json(
            &dir.path()
                .join(format!("reports/hourly/{hour}/prediction_history.json")),
        );
        h["assessments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| format!("{}:{}", a["series"].as_str().unwrap(), a["verdict"].as_str().unwrap()))
            .collect()
    };
    assert!(
        verdicts("20261126T08-20261126T09")
            .iter()
            .all(|v| v.ends_with(":insufficient_history"))
    );
    assert!(verdicts("20261126T12-20261126T13").contains(&"prediction_mean:drop".to_owned()));
    assert!(verdicts("20261126T13-20261126T14").contains(&"prediction_mean:level_shift_down".to_owned()));
    // Running the demo again replaces its hours: the history does not grow.
    run_demo(dir.path());
    let again = json(&dir.path().join("state/credit-risk/AllTraffic/prediction_history.json"));
    assert_eq!(again, stored);
}

/// `modelwatch` with `args`, its exit code and its stdout and stderr.
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = modelwatch(args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn nothing_compared_is_its_own_exit_status_and_publishes_no_drift() {
    let dir = tempfile::tempdir().unwrap();
    run_demo(dir.path());
    let (captures, baseline) = (p(&dir.path().join("captures")), p(&dir.path().join("baseline")));

    // An hour without traffic: an empty report, exit 3, no drift metric.
    let out = dir.path().join("empty-hour");
    let (code, stdout, stderr) = run(&[
        "evaluate",
        "--captures",
        &captures,
        "--baseline",
        &baseline,
        "--out",
        &p(&out),
        "--from",
        "2026-11-25T09",
        "--to",
        "2026-11-25T10",
    ]);
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(
        stderr.trim(),
        "modelwatch: nothing compared: no capture file in the window"
    );
    assert!(
        stdout.contains("Data-set drift: NOT COMPARED: no capture file in the window."),
        "{stdout}"
    );
    assert!(!stdout.contains("0/0"), "{stdout}");
    assert_eq!(
        json(&out.join("drift.json"))["nothing_compared"],
        "no capture file in the window"
    );
    assert_eq!(json(&out.join("summary.json"))["summary"]["rows"], 0);
    let names: Vec<String> = metric_lines(&out.join("metrics.jsonl"))
        .iter()
        .map(|d| d["metric_name"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("drift")), "{names:?}");
    assert!(names.contains(&"dataset_item_count".to_owned()), "{names:?}");

    // A data set without rows gives no baseline.
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "a,b\n").unwrap();
    let (code, _, stderr) = run(&[
        "baseline",
        "--dataset",
        &p(&empty),
        "--out",
        &p(&dir.path().join("empty-baseline")),
    ]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("empty.csv has no rows: a baseline needs data"),
        "{stderr}"
    );

    // A drift.features key that names no feature of the baseline (a typo) is refused, naming it; so is an absurd
    // setting, as the file is read.
    for (config, expected) in [
        (
            r#"{"drift": {"features": {"incme": {"method": "ks"}}}}"#,
            "drift.features.incme",
        ),
        (
            r#"{"drift": {"dataset_drift_share": 1.5}}"#,
            "drift.dataset_drift_share: 1.5 is outside [0, 1]",
        ),
    ] {
        let path = dir.path().join("config.json");
        std::fs::write(&path, config).unwrap();
        let (code, _, stderr) = run(&[
            "evaluate",
            "--captures",
            &captures,
            "--baseline",
            &baseline,
            "--out",
            &p(&out),
            "--config",
            &p(&path),
        ]);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
    }

    // A baseline of another table (three columns): every captured row (seven fields) is skipped.
    let other = dir.path().join("other.csv");
    std::fs::write(
        &other,
        (0..50)
            .map(|i| format!("{i},{},{}\n", i * 2, i % 3))
            .fold("a,b,c\n".to_owned(), |s, l| s + &l),
    )
    .unwrap();
    let other_baseline = dir.path().join("other-baseline");
    let (code, _, stderr) = run(&["baseline", "--dataset", &p(&other), "--out", &p(&other_baseline)]);
    assert_eq!(code, Some(0), "{stderr}");
    let out = dir.path().join("mismatch");
    let (code, stdout, stderr) = run(&[
        "evaluate",
        "--captures",
        &captures,
        "--baseline",
        &p(&other_baseline),
        "--out",
        &p(&out),
        "--from",
        "2026-11-26T09",
        "--to",
        "2026-11-26T10",
    ]);
    assert_eq!(code, Some(3), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("no row was read: 2000 line(s) and row(s) skipped (field_count 2000)")
            && stderr.contains("the baseline has 3 features, the rows had 7 fields"),
        "{stderr}"
    );
    assert!(metric(&metric_lines(&out.join("metrics.jsonl")), "dataset_drift_share").is_none());
}

#[test]
fn captures_of_several_endpoints_are_refused_and_a_single_file_is_filtered_by_time() {
    let dir = tempfile::tempdir().unwrap();
    run_demo(dir.path());
    let captures = dir.path().join("captures");
    let baseline = p(&dir.path().join("baseline"));
    let hour = captures.join("credit-risk/AllTraffic/2026/11/26/09");
    let file = std::fs::read_dir(&hour).unwrap().next().unwrap().unwrap().path();

    // A second endpoint's captures under the same root.
    let second = captures.join("fraud/AllTraffic/2026/11/26/09");
    std::fs::create_dir_all(&second).unwrap();
    std::fs::copy(&file, second.join("a.jsonl")).unwrap();
    let out = p(&dir.path().join("mixed"));
    let (code, _, stderr) = run(&[
        "evaluate",
        "--captures",
        &p(&captures),
        "--baseline",
        &baseline,
        "--out",
        &out,
    ]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("belong to 2 endpoint variants (credit-risk/AllTraffic, fraud/AllTraffic)")
            && stderr.contains("credit-risk/AllTraffic"),
        "{stderr}"
    );
    assert!(!dir.path().join("mixed/summary.json").exists(), "nothing evaluated");

    // One file outside the layout: its records are filtered by their inferenceTime, not by a folder.
    let single = dir.path().join("single.jsonl");
    std::fs::copy(&file, &single).unwrap();
    let evaluate_single = |from: &str, to: &str, name: &str| {
        let out = dir.path().join(name);
        let (code, stdout, stderr) = run(&[
            "evaluate",
            "--captures",
            &p(&single),
            "--baseline",
            &baseline,
            "--out",
            &p(&out),
            "--from",
            from,
            "--to",
            to,
        ]);
        (code, stdout, stderr, json(&out.join("summary.json")))
    };
    let (code, _, stderr, summary) = evaluate_single("2026-11-26T09", "2026-11-26T10", "inside");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(summary["summary"]["rows"], 2000);
    let (code, _, _, summary) = evaluate_single("2026-11-26T09:30", "2026-11-26T10", "half");
    assert_eq!(code, Some(0));
    let rows = summary["summary"]["rows"].as_u64().unwrap();
    let outside = summary["summary"]["rows_outside_window"].as_u64().unwrap();
    assert!(rows > 500 && rows < 1500 && rows + outside == 2000, "{summary}");
    let (code, stdout, _, summary) = evaluate_single("2026-11-26T10", "2026-11-26T11", "after");
    assert_eq!(code, Some(3));
    assert_eq!(
        (
            summary["summary"]["rows"].as_u64(),
            summary["summary"]["rows_outside_window"].as_u64()
        ),
        (Some(0), Some(2000))
    );
    assert!(
        stdout.contains("Rows outside the window (by their inferenceTime, or without one): 2000."),
        "{stdout}"
    );
}

#[test]
fn a_closed_pipe_ends_the_program_quietly() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_modelwatch"))
        .args(["demo", "--out", dir.path().to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("Wrote a synthetic endpoint"), "{first}");
    // The reader is gone (as after `| head -1`): the next line written finds the pipe closed.
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
}

#[test]
fn model_quality_takes_the_baselines_problem_and_a_month_is_reported_without_the_history() {
    let dir = tempfile::tempdir().unwrap();
    run_demo(dir.path());
    let (captures, baseline) = (p(&dir.path().join("captures")), p(&dir.path().join("baseline")));
    let labels = p(&dir.path().join("ground-truth"));
    let out = dir.path().join("quality");
    // No --problem-type: the baseline's model-quality constraints say binary.
    let (code, stdout, stderr) = run(&[
        "evaluate",
        "--captures",
        &captures,
        "--baseline",
        &baseline,
        "--out",
        &p(&out),
        "--ground-truth",
        &labels,
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let statistics = json(&out.join("model-quality/statistics.json"));
    assert!(
        statistics["binary_classification_metrics"]["accuracy"]["value"].is_f64(),
        "{statistics}"
    );
    assert!(stdout.contains("Model quality"), "{stdout}");
    // Another problem type than the baseline's is refused.
    let (code, _, stderr) = run(&[
        "evaluate",
        "--captures",
        &captures,
        "--baseline",
        &baseline,
        "--out",
        &p(&out),
        "--ground-truth",
        &labels,
        "--problem-type",
        "regression",
    ]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains(
            "asked for as Regression, but the baseline's model-quality constraints are for BinaryClassification"
        ),
        "{stderr}"
    );
    // Without model-quality files the problem type must be given.
    let bare = dir.path().join("bare-baseline");
    std::fs::create_dir_all(&bare).unwrap();
    for f in ["statistics.json", "constraints.json"] {
        std::fs::copy(dir.path().join("baseline").join(f), bare.join(f)).unwrap();
    }
    let (code, _, stderr) = run(&[
        "evaluate",
        "--captures",
        &captures,
        "--baseline",
        &p(&bare),
        "--out",
        &p(&out),
        "--ground-truth",
        &labels,
    ]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--ground-truth needs the problem type"), "{stderr}");

    // A calendar month with --state, then a window of another length: the second is reported, not recorded.
    let state = p(&dir.path().join("state-months"));
    let month = dir.path().join("november");
    let (code, _, stderr) = run(&[
        "evaluate",
        "--captures",
        &captures,
        "--baseline",
        &baseline,
        "--out",
        &p(&month),
        "--state",
        &state,
        "--from",
        "2026-11-01",
        "--to",
        "2026-12-01",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(month.join("prediction_history.json").exists());
    let day = dir.path().join("one-day");
    let (code, stdout, stderr) = run(&[
        "evaluate",
        "--captures",
        &captures,
        "--baseline",
        &baseline,
        "--out",
        &p(&day),
        "--state",
        &state,
        "--from",
        "2026-11-26",
        "--to",
        "2026-11-27",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("Prediction history: not recorded: the prediction history"),
        "{stdout}"
    );
    let summary = json(&day.join("summary.json"));
    assert_eq!(summary["summary"]["rows"], 12_000);
    assert!(
        summary["summary"]["history_not_recorded"]
            .as_str()
            .unwrap()
            .contains("keeps windows of 2592000 s")
    );
    assert!(day.join("drift.json").exists() && !day.join("prediction_history.json").exists());
}

/// A day's feature table evaluated as the window: columns matched by name, an id excluded in the baseline and in
/// the window, an unknown column left out and said, the drifted feature found, the reports of a capture window.
#[test]
fn a_data_set_is_evaluated_as_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let table = |shift: f64, header: &str, row: &dyn Fn(usize, f64, &str) -> String| {
        let mut text = format!("{header}\n");
        for i in 0..2_000 {
            let x = (i % 100) as f64 + shift;
            text.push_str(&row(i, x, ["a", "b", "c"][i % 3]));
            text.push('\n');
        }
        text
    };
    let train = dir.path().join("train.csv");
    std::fs::write(
        &train,
        table(0.0, "id,x,s,label", &|i, x, s| format!("{i},{x},{s},{}", i % 2)),
    )
    .unwrap();
    let current = dir.path().join("current.csv");
    std::fs::write(
        &current,
        table(40.0, "s,note,x,id", &|i, x, s| format!("{s},n{i},{x},{i}")),
    )
    .unwrap();
    let (baseline, reports) = (dir.path().join("baseline"), dir.path().join("reports"));
    let out = modelwatch(&[
        "baseline",
        "--dataset",
        &p(&train),
        "--out",
        &p(&baseline),
        "--label-column",
        "label",
        "--exclude-column",
        "id",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let features: Vec<String> = json(&baseline.join("statistics.json"))["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(features, ["x", "s"]);

    let (code, stdout, stderr) = run(&[
        "evaluate",
        "--dataset",
        &p(&current),
        "--baseline",
        &p(&baseline),
        "--out",
        &p(&reports),
        "--exclude-column",
        "id",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("not features of the baseline and were left out: note"),
        "{stderr}"
    );
    assert_eq!(json(&reports.join("statistics.json"))["dataset"]["item_count"], 2_000);
    let drift = json(&reports.join("drift.json"));
    assert_eq!(drift_of(&drift, "x")["drifted"], true);
    assert_eq!(drift_of(&drift, "s")["drifted"], false);
    assert!(stdout.contains("1/2 features drifted"), "{stdout}");
    let page = std::fs::read_to_string(reports.join("report.html")).unwrap();
    assert!(page.contains("No captured outputs in this run") && !page.contains("0 invocations"));

    // Captures and a data set are one or the other.
    let (code, _, stderr) = run(&[
        "evaluate",
        "--dataset",
        &p(&current),
        "--captures",
        &p(&current),
        "--baseline",
        &p(&baseline),
        "--out",
        &p(&reports),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

/// The Pushgateway the test command starts (`scripts/pushgateway.sh`).
fn pushgateway_url() -> String {
    modelwatch_e2e::local_env(
        "pushgateway.env",
        "PUSHGATEWAY_URL",
        "run `bash scripts/test.sh`, or `bash scripts/pushgateway.sh install && bash scripts/pushgateway.sh start`",
    )
}

/// The value of the sample of `family` whose labels include all of `labels`, in an exposition text.
fn sample(text: &str, family: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{family}{{")))
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
}

/// `--prometheus` writes the run's metrics for node_exporter's textfile collector and `--pushgateway` pushes the
/// same to a real Pushgateway, which accepts them (it refuses malformed text) and serves them under the job's
/// group; a Pushgateway that refuses the push makes the run fail with its answer.
#[test]
fn metrics_go_to_a_prometheus_file_and_a_pushgateway() {
    let url = pushgateway_url();
    let dir = tempfile::tempdir().unwrap();
    run_demo(dir.path());
    let (baseline, out) = (dir.path().join("baseline"), dir.path().join("after"));
    let prom = dir.path().join("modelwatch.prom");
    let endpoint = format!("cli-test-{}", std::process::id());
    evaluate_demo(
        dir.path(),
        &baseline,
        "2026-11-26T11",
        "2026-11-26T14",
        &out,
        &[
            "--ground-truth",
            &p(&dir.path().join("ground-truth")),
            "--endpoint",
            &endpoint,
            "--prometheus",
            &p(&prom),
            "--pushgateway",
            &url,
        ],
    );
    let file = std::fs::read_to_string(&prom).unwrap();
    assert!(!dir.path().join("modelwatch.prom.tmp").exists());
    let metrics = metric_lines(&out.join("metrics.jsonl"));
    let income = ["feature=\"income\"", &format!("endpoint=\"{endpoint}\"")];
    let drift = sample(&file, "modelwatch_feature_baseline_drift", &income).expect("income's drift");
    assert_eq!(Some(drift), metric(&metrics, "feature_baseline_drift_income"));
    let accuracy = sample(&file, "modelwatch_accuracy", &[]).expect("model quality");
    assert_eq!(Some(accuracy), metric(&metrics, "accuracy"));

    let pushed = ureq::get(&format!("{url}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let grouped = [income[0], income[1], "job=\"modelwatch\""];
    assert_eq!(
        sample(&pushed, "modelwatch_feature_baseline_drift", &grouped),
        Some(drift)
    );
    assert_eq!(sample(&pushed, "modelwatch_accuracy", &grouped[1..]), Some(accuracy));
    assert!(sample(&pushed, "modelwatch_run_timestamp_seconds", &grouped[1..]).is_some());

    let refused = modelwatch(&[
        "evaluate",
        "--captures",
        &p(&dir.path().join("captures")),
        "--baseline",
        &p(&baseline),
        "--out",
        &p(&dir.path().join("refused")),
        "--pushgateway",
        &format!("{url}/not-a-pushgateway"),
    ]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("answered 404"), "{stderr}");
}

/// Headless Chromium, unpacked by `scripts/chromium.sh` (which `scripts/test.sh` runs).
fn chromium() -> String {
    modelwatch_e2e::local_env(
        "chromium.env",
        "CHROMIUM",
        "run `bash scripts/test.sh`, or `bash scripts/chromium.sh install`",
    )
}

/// The share of a PNG's pixels that are not the page's white, and whether any is `color` (within a small distance).
fn drawn(png_path: &Path, color: [u8; 3]) -> (f64, bool) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png_path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let inked = pixels.iter().filter(|p| p[..3].iter().any(|c| *c < 245)).count();
    let close = |p: &&&[u8]| p[..3].iter().zip(color).all(|(a, b)| a.abs_diff(b) < 12);
    (inked as f64 / pixels.len() as f64, pixels.iter().any(|p| close(&p)))
}

/// The demo's report as a person sees it: rendered by a real browser, the drifted features come first and open,
/// with their charts drawn; an empty page fails the same screenshot check.
#[test]
fn the_demo_report_renders_in_a_browser_with_the_drifted_features_first() {
    let browser = chromium();
    let dir = tempfile::tempdir().unwrap();
    run_demo(dir.path());
    let report = dir.path().join("reports/20261126T11-20261126T14/report.html");
    let url = format!("file://{}", report.display());
    let dom = Command::new(&browser)
        .args(["--dump-dom", &url])
        .output()
        .expect("chromium runs");
    assert!(dom.status.success(), "{}", String::from_utf8_lossy(&dom.stderr));
    let dom = String::from_utf8_lossy(&dom.stdout);
    let features: Vec<(&str, &str)> = dom
        .split("data-feature=\"")
        .skip(1)
        .map(|rest| {
            let name = rest.split('"').next().unwrap();
            let verdict = rest.split("data-verdict=\"").nth(1).unwrap().split('"').next().unwrap();
            (name, verdict)
        })
        .collect();
    assert_eq!(features.len(), 7, "{features:?}");
    let drifted: Vec<&str> = features
        .iter()
        .take_while(|(_, v)| *v == "drifted")
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(
        drifted,
        ["income", "region"],
        "drifted first, the farthest past its threshold first"
    );
    assert!(features[2..].iter().all(|(_, v)| *v == "ok"));
    assert!(dom.contains("2 of 7 features drifted"), "the title says it");

    let shot = dir.path().join("report.png");
    let run = |url: &str, png: &Path| {
        let out = Command::new(&browser)
            .args([
                &format!("--screenshot={}", png.display()),
                "--window-size=1100,1400",
                url,
            ])
            .output()
            .expect("chromium runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    run(&url, &shot);
    let (inked, window_bars) = drawn(&shot, [0x15, 0x65, 0xc0]);
    assert!(
        inked > 0.03 && window_bars,
        "a blank or chartless page: {inked:.3} of the pixels drawn"
    );
    // The check fails on an empty page.
    let empty = dir.path().join("empty.html");
    std::fs::write(&empty, "<!doctype html><html><body></body></html>").unwrap();
    let empty_shot = dir.path().join("empty.png");
    run(&format!("file://{}", empty.display()), &empty_shot);
    let (inked, bars) = drawn(&empty_shot, [0x15, 0x65, 0xc0]);
    assert!(inked < 0.001 && !bars, "{inked}");
}

/// A Batch Transform job's capture in AWS's layout (input and output manifests in the hour folder, naming the
/// job's own objects), read from a local copy of the buckets: one job evaluated as one window, each input line
/// joined with its output line, and the lines that did not meet said.
#[test]
fn a_batch_transform_jobs_capture_is_evaluated_as_one_window() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("buckets");
    let put = |uri: &str, text: &str| {
        let path = root.join(uri.strip_prefix("s3://").unwrap());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    let mut train = String::from("x,s,label\n");
    for i in 0..3000 {
        train.push_str(&format!("{},{},{}\n", i % 100, ["a", "b"][i % 2], i % 2));
    }
    let train_path = dir.path().join("train.csv");
    std::fs::write(&train_path, train).unwrap();
    let baseline = dir.path().join("baseline");
    let out = modelwatch(&[
        "baseline",
        "--dataset",
        &p(&train_path),
        "--out",
        &p(&baseline),
        "--label-column",
        "label",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Two input files of 1,500 lines, shifted by 60; the second's output is one line short.
    for part in 0..2 {
        let (mut input, mut output) = (String::new(), String::new());
        for i in 0..1500 {
            input.push_str(&format!("{},{}\n", i % 100 + 60, ["a", "b"][i % 2]));
            if !(part == 1 && i == 1499) {
                output.push_str(&format!("0.{}\n", i % 10));
            }
        }
        put(&format!("s3://in/batch/part-{part}.csv"), &input);
        put(&format!("s3://out/scored/part-{part}.csv.out"), &output);
    }
    put(
        "s3://cap/jobs/score-2026-11-26/input/2026/11/26/13/manifest.jsonl",
        r#"[{"prefix": "s3://in/batch/"}, "part-0.csv", "part-1.csv"]"#,
    );
    put(
        "s3://cap/jobs/score-2026-11-26/output/2026/11/26/13/manifest.jsonl",
        r#"[{"prefix": "s3://out/scored/"}, "part-0.csv.out", "part-1.csv.out"]"#,
    );
    let reports = dir.path().join("reports");
    let (code, stdout, stderr) = run(&[
        "evaluate",
        "--transform-capture",
        "s3://cap/jobs/score-2026-11-26/",
        "--s3-root",
        &p(&root),
        "--baseline",
        &p(&baseline),
        "--out",
        &p(&reports),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("1 input line(s) without an output line"), "{stderr}");
    let summary = json(&reports.join("summary.json"));
    assert_eq!(summary["summary"]["rows"], 3000);
    assert_eq!(summary["summary"]["files"], 2);
    let drift = json(&reports.join("drift.json"));
    assert_eq!(drift_of(&drift, "x")["drifted"], true);
    assert_eq!(drift_of(&drift, "s")["drifted"], false);
    let metrics = metric_lines(&reports.join("metrics.jsonl"));
    assert_eq!(
        metrics[0]["dimensions"][0],
        serde_json::json!(["Endpoint", "score-2026-11-26"]),
        "the job's name"
    );
    let job = serde_json::json!(["TransformJobName", "score-2026-11-26"]);
    assert!(
        metrics
            .iter()
            .all(|m| m["dimensions"].as_array().unwrap().contains(&job)),
        "every datum names the job"
    );
    assert!(stdout.contains("1/2 features drifted"), "{stdout}");
}

/// Three days of a daily cycle at one row every 5 minutes, with one row missing and one stray row.
fn daily_trace_csv() -> String {
    let mut csv = "timestamp,value\n".to_owned();
    for k in 0..(3 * 288) {
        if k == 100 {
            continue;
        }
        let minute = 5 * k;
        let hour = (minute / 60) % 24;
        let count = if (8..20).contains(&hour) { 2500 } else { 150 };
        csv += &format!("{},{count}\n", 1_700_006_400 + 60 * minute);
        if k == 50 {
            csv += &format!("{},7\n", 1_700_006_400 + 60 * minute + 120);
        }
    }
    csv
}

#[test]
fn simulate_sweeps_the_controllers_and_writes_the_frontier() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.csv");
    std::fs::write(&trace, daily_trace_csv()).unwrap();
    let policy = dir.path().join("policy.json");
    let body = r#"{"endpoint":"llm","variant":"AllTraffic","instance_type":"ml.g5.xlarge",
        "min_instances":1,"max_instances":20,"target_invocations_per_instance":60}"#;
    std::fs::write(&policy, body).unwrap();
    let out = dir.path().join("sim");
    let args = [
        "simulate",
        "--trace",
        trace.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--compare",
        "target-tracking",
        "--compare",
        "target-tracking-scheduled",
        "--out",
        out.to_str().unwrap(),
    ];
    // No capacity per instance: refused, not taken from the target.
    let (code, _, err) = run(&args);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("capacity per instance of ml.g5.xlarge is unknown"),
        "{err}"
    );

    let mut args = args.to_vec();
    args.extend(["--capacity-per-instance", "120", "--sweep", "--sweep-targets", "60,120"]);
    let (code, stdout, err) = run(&args);
    assert_eq!(code, Some(0), "{err}");
    assert!(stdout.contains("5 minutes missing, rows every 300 s"), "{stdout}");
    for name in ["policy", "target-tracking", "target-tracking-scheduled"] {
        assert!(stdout.lines().any(|l| l.starts_with(name)), "{stdout}");
    }
    let summary = json(&out.join("summary.json"));
    let runs = summary["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    for r in runs {
        for key in ["delayed_share", "p99_wait_s", "dropped_requests", "cost_usd", "flaps"] {
            assert!(r[key].is_number(), "{key}: {r}");
        }
        assert_eq!(r["missing_minutes"], 5);
        assert!(r["cost_by_type_usd"]["ml.g5.xlarge"].is_number());
    }
    let frontier = json(&out.join("frontier.json"));
    let controllers = frontier["controllers"].as_object().unwrap();
    assert_eq!(controllers.len(), 3);
    for (name, points) in controllers {
        let points = points.as_array().unwrap();
        assert_eq!(points.len(), 2, "{name}");
        assert_eq!(points[0]["target"], 60.0);
        for p in points {
            for key in [
                "target",
                "cost_usd",
                "instance_hours",
                "delayed_share",
                "dropped_requests",
                "p99_wait_s",
            ] {
                assert!(p[key].is_number(), "{name} {key}: {p}");
            }
        }
        // The looser target costs less.
        assert!(
            points[1]["instance_hours"].as_f64() < points[0]["instance_hours"].as_f64(),
            "{name}"
        );
    }
    // Both baselines' points with the policy's delay at their cost.
    let cmp = frontier["policy_at_equal_cost"].as_array().unwrap();
    assert_eq!(cmp.len(), 4);
    assert!(cmp.iter().all(|e| e["baseline"] != "policy" && e["cost"].is_number()));
    assert!(stdout.contains("at equal cost"), "{stdout}");
    assert!(
        std::fs::read_to_string(out.join("plot.svg"))
            .unwrap()
            .contains("target-tracking-scheduled")
    );
    assert!(
        std::fs::read_to_string(out.join("frontier.svg"))
            .unwrap()
            .contains("class=\"curve\"")
    );
    plots_render_unclipped_in_a_browser(&out);
}

/// Runs `modelwatch simulate` on `trace` with the policy a user writes from the README (the required fields, the
/// capacity per instance and half of it as the target, as `benches/frontier.py` writes it) and `extra` arguments,
/// into `dir/sim`; asserts that it succeeded and returns its stdout and that folder.
fn simulate_readme_policy(dir: &Path, trace: &Path, capacity: f64, extra: &[&str]) -> (String, std::path::PathBuf) {
    let policy = dir.join("policy.json");
    let body = serde_json::json!({
        "endpoint": "e", "variant": "AllTraffic", "instance_type": "ml.g5.xlarge",
        "min_instances": 1, "max_instances": 100,
        "target_invocations_per_instance": capacity / 2.0, "capacity_invocations_per_instance": capacity,
    });
    std::fs::write(&policy, body.to_string()).unwrap();
    let out = dir.join("sim");
    let mut args = vec![
        "simulate",
        "--trace",
        trace.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    let (code, stdout, err) = run(&args);
    assert_eq!(code, Some(0), "{err}");
    (stdout, out)
}

/// The policy's decisions in timeline.json (the run at the policy's own target).
fn policy_decisions(out: &Path) -> Vec<serde_json::Value> {
    let timeline = json(&out.join("timeline.json"));
    let run = timeline
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["summary"]["controller"] == "policy")
        .unwrap();
    run["decisions"].as_array().unwrap().clone()
}

fn has_reason(decision: &serde_json::Value, reason: &str) -> bool {
    decision["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["reason"] == reason)
}

/// The README's claim on real bursty traffic, with the policy a user writes (the required fields and the
/// capacity): on the NAB Twitter volume of AAPL the policy delays no more requests than either baseline at the
/// same cost, and its seasonal forecast, whose changes foresee nothing there, is withheld in every decision.
/// (`benches/frontier.py` runs the five traces of the README in release; a year of bike counts is too long here.)
#[test]
fn on_real_bursty_traffic_the_policy_is_below_both_baselines_and_withholds_its_forecast() {
    let Some(root) = realdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let trace = root.join("traces/nab/Twitter_volume_AAPL.csv");
    let sweep = ["--sweep", "--sweep-targets", "1.8,2.4,3,3.6,4.2"];
    let (stdout, out) = simulate_readme_policy(dir.path(), &trace, 6.0, &sweep);
    let frontier = json(&out.join("frontier.json"));
    let compared: Vec<&serde_json::Value> = frontier["policy_at_equal_cost"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["policy_delayed_share"].is_null())
        .collect();
    assert!(compared.len() >= 4, "{stdout}");
    for e in &compared {
        let (policy, baseline) = (
            e["policy_delayed_share"].as_f64().unwrap(),
            e["baseline_delayed_share"].as_f64().unwrap(),
        );
        assert!(policy <= baseline, "{e}\n{stdout}");
    }
    let decisions = policy_decisions(&out);
    assert!(decisions.len() > 1000, "{}", decisions.len());
    assert!(decisions.iter().all(|d| has_reason(d, "forecast_withheld")));
}

/// On a real daily cycle the seasonal forecast earns its skill within days, winter included: the UCI bike
/// counts' first three weeks of 2012 (hourly, `dteday` and `hr` joined as `benches/frontier.py` joins them). The
/// forecast is withheld before a day has been compared and used from January 5th; compared by mean square errors
/// it stayed withheld until mid-February, and judged on changes read a reaction time late until January 18th.
#[test]
fn on_real_bike_counts_the_forecast_earns_its_skill_in_the_first_week() {
    let Some(root) = realdata() else { return };
    let hours = std::fs::read_to_string(root.join("datasets/bike_sharing/hour.csv")).unwrap();
    let header = hours.lines().next().unwrap();
    let column = |name: &str| header.split(',').position(|c| c == name).unwrap();
    let (day, hour, count) = (column("dteday"), column("hr"), column("cnt"));
    let mut csv = String::from("timestamp,value\n");
    for line in hours.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        if ("2012-01-01".."2012-01-22").contains(&fields[day]) {
            let h: u32 = fields[hour].parse().unwrap();
            csv += &format!("{} {h:02}:00:00,{}\n", fields[day], fields[count]);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("bikes.csv");
    std::fs::write(&trace, csv).unwrap();
    let (_, out) = simulate_readme_policy(dir.path(), &trace, 2.0, &[]);
    let decisions = policy_decisions(&out);
    let at = |d: &serde_json::Value| d["at"].as_str().unwrap().to_owned();
    let (first_days, later): (Vec<_>, Vec<_>) = decisions.iter().partition(|d| at(d).as_str() < "2012-01-05T12");
    let first_day: Vec<_> = first_days.iter().filter(|d| at(d).as_str() < "2012-01-02").collect();
    assert!(!first_day.is_empty() && first_day.iter().all(|d| has_reason(d, "forecast_withheld")));
    assert!(later.len() > 200, "{}", later.len());
    assert!(later.iter().all(|d| !has_reason(d, "forecast_withheld")));
    assert!(later.iter().filter(|d| has_reason(d, "forecast")).count() > later.len() / 2);
}

/// `--compare-serving`: the three ways of serving priced on the trace, the cheapest named in the output and in
/// serving.json, and a tolerance that cannot be read refused with the forms it takes.
#[test]
fn simulate_prices_real_time_asynchronous_and_batch_serving() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.csv");
    std::fs::write(&trace, daily_trace_csv()).unwrap();
    let policy = dir.path().join("policy.json");
    let body = r#"{"endpoint":"llm","variant":"AllTraffic","instance_type":"ml.g5.xlarge",
        "min_instances":1,"max_instances":40,"target_invocations_per_instance":60,
        "capacity_invocations_per_instance":120}"#;
    std::fs::write(&policy, body).unwrap();
    let out = dir.path().join("sim");
    let mut args = vec![
        "simulate",
        "--trace",
        trace.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--compare-serving",
        "soon",
    ];
    let (code, _, err) = run(&args);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("90s, 15m, 2h, 1d"), "{err}");

    // Half a minute: only a real-time endpoint answers in time (a batch job cannot at all). Twenty minutes: an
    // asynchronous endpoint's queue absorbs the morning ramps that a real-time one drops after 60 s.
    for (tolerance, cheapest) in [("30s", "real-time"), ("20m", "asynchronous")] {
        *args.last_mut().unwrap() = tolerance;
        let (code, stdout, err) = run(&args);
        assert_eq!(code, Some(0), "{err}");
        assert!(
            stdout.contains(&format!("cheapest: {cheapest} ")),
            "{tolerance}: {stdout}"
        );
    }
    assert!(json(&out.join("serving.json"))["modes"]["batch-transform"]["not_possible"].is_null());

    *args.last_mut().unwrap() = "6h";
    let (code, stdout, err) = run(&args);
    assert_eq!(code, Some(0), "{err}");
    assert!(stdout.contains("serving for answers within 21600 s"), "{stdout}");
    assert!(stdout.contains("serving.json"), "{stdout}");
    let serving = json(&out.join("serving.json"));
    let modes = serving["modes"].as_object().unwrap();
    let names: Vec<&str> = modes.keys().map(String::as_str).collect();
    assert_eq!(names, ["asynchronous", "batch-transform", "real-time"]);
    // Each way's cheapest setting that meets the tolerance; the verdict is the cheapest of those.
    let mut costs = Vec::new();
    for (name, m) in modes {
        let candidates = m["candidates"].as_array().unwrap();
        assert!(!candidates.is_empty(), "{name}");
        let best = &m["cheapest"];
        assert!(best["meets"].as_bool().unwrap(), "{name}: {m}");
        let cost = best["cost_usd"].as_f64().unwrap();
        for c in candidates.iter().filter(|c| c["meets"] == true) {
            assert!(c["cost_usd"].as_f64().unwrap() >= cost, "{name}: {c}");
        }
        costs.push((cost, name.clone()));
    }
    costs.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(serving["cheapest"], costs[0].1.as_str(), "{costs:?}");
    assert!(
        stdout.contains(&format!("cheapest: {} (compared by usd)", costs[0].1)),
        "{stdout}"
    );
}

/// The simulator's two plots as a person sees them, in headless Chromium: every text (titles, ticks, legends) is
/// inside the drawing and no legend line lies over the plot area, and the screenshot shows the policy's line.
fn plots_render_unclipped_in_a_browser(out: &Path) {
    let browser = chromium();
    for plot in ["plot.svg", "frontier.svg"] {
        let svg = std::fs::read_to_string(out.join(plot)).unwrap();
        let page = out.join(format!("{plot}.html"));
        std::fs::write(
            &page,
            format!(
                "<!doctype html><html><body style=\"margin:0\">{svg}<script>
                const svg = document.querySelector('svg'), box = svg.getBoundingClientRect();
                const axis = svg.querySelector('line').getBoundingClientRect().bottom;
                let clipped = 0, over = 0, texts = 0;
                for (const t of svg.querySelectorAll('text')) {{
                  texts++;
                  const b = t.getBoundingClientRect();
                  if (b.left < box.left || b.right > box.right || b.top < box.top || b.bottom > box.bottom) clipped++;
                  if (t.classList.contains('legend') && b.top < axis) over++;
                }}
                document.body.dataset.texts = texts;
                document.body.dataset.clipped = clipped;
                document.body.dataset.over = over;
                </script></body></html>"
            ),
        )
        .unwrap();
        let url = format!("file://{}", page.display());
        let dom = Command::new(&browser)
            .args(["--dump-dom", &url])
            .output()
            .expect("chromium runs");
        assert!(dom.status.success(), "{}", String::from_utf8_lossy(&dom.stderr));
        let dom = String::from_utf8_lossy(&dom.stdout);
        let attribute = |name: &str| -> usize {
            let rest = dom
                .split(&format!("data-{name}=\""))
                .nth(1)
                .unwrap_or_else(|| panic!("no data-{name}: {dom:.300}"));
            rest.split('"').next().unwrap().parse().unwrap()
        };
        assert!(attribute("texts") >= 10, "{plot}: the script ran over the texts");
        assert_eq!(
            (attribute("clipped"), attribute("over")),
            (0, 0),
            "{plot}: texts cut off or over the plot"
        );
        let shot = out.join(format!("{plot}.png"));
        let run = Command::new(&browser)
            .args([
                &format!("--screenshot={}", shot.display()),
                "--window-size=1000,600",
                &url,
            ])
            .output()
            .expect("chromium runs");
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let (inked, policy_line) = drawn(&shot, [0xd6, 0x27, 0x28]);
        assert!(
            inked > 0.02 && policy_line,
            "{plot}: {inked:.3} of the pixels drawn, the policy's line: {policy_line}"
        );
    }
}
