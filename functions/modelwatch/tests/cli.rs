//! The `modelwatch` program end to end, on the demo and on real SageMaker files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

fn realdata() -> Option<PathBuf> {
    let p = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/realdata"));
    if p.exists() {
        Some(p.to_path_buf())
    } else {
        eprintln!("../shared/realdata is absent: skipping");
        None
    }
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
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
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
