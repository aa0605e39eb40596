//! One state layout: a state folder written by `modelwatch evaluate --state` is copied to the evaluate-captures
//! function's STATE_S3_URI and continued by the function's schedule, and the function's state is copied back and
//! continued by the CLI. The function runs in-process against the emulators (scripts/teststack).

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::Duration;
use evaluate_captures::config::Config;
use evaluate_captures::handler::{App, Clients};
use modelwatch_core::baseline::{CONSTRAINTS_FILE, STATISTICS_FILE};
use modelwatch_core::demo;
use modelwatch_core::monitor::{LastWindow, Target, WindowDecision};
use modelwatch_core::window::Window;
use modelwatch_e2e::{DemoBucket, get, put, sdk_config};

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// `modelwatch evaluate` of one demo hour with `--state`, as the function evaluates it (binary quality).
fn cli_hour(dir: &Path, window: &Window, state: &Path, schedule: &str) -> serde_json::Value {
    let out = dir.join(format!("out-{}", window.start.format("%H")));
    let arg = |p: &Path| p.display().to_string();
    let result = Command::new(env!("CARGO_BIN_EXE_modelwatch"))
        .args(["evaluate", "--captures", &arg(&dir.join("captures"))])
        .args(["--baseline", &arg(&dir.join("baseline"))])
        .args(["--ground-truth", &arg(&dir.join("ground-truth"))])
        .args(["--problem-type", "binary", "--schedule", schedule])
        .args(["--from", &window.start.to_rfc3339(), "--to", &window.end.to_rfc3339()])
        .args(["--state", &arg(state), "--out", &arg(&out)])
        .output()
        .expect("modelwatch runs");
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    json(&out.join("prediction_history.json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cli_state_folder_is_continued_by_the_function_and_back() {
    let sdk = sdk_config().await;
    let s3 = modelwatch_aws::config::s3_client(&sdk);
    let demo_bucket = DemoBucket::create(&s3).await;
    let data = &demo_bucket.data;
    let dir = tempfile::tempdir().unwrap();
    for (path, body) in &data.captures {
        let file = dir.path().join("captures").join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, body).unwrap();
    }
    for (path, body) in &data.ground_truth {
        let file = dir.path().join("ground-truth").join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, body).unwrap();
    }
    let baseline = dir.path().join("baseline");
    std::fs::create_dir_all(&baseline).unwrap();
    let b = &demo_bucket.baseline;
    std::fs::write(
        baseline.join(STATISTICS_FILE),
        serde_json::to_vec(&b.statistics).unwrap(),
    )
    .unwrap();
    std::fs::write(
        baseline.join(CONSTRAINTS_FILE),
        serde_json::to_vec(&b.constraints).unwrap(),
    )
    .unwrap();
    let hour = |k: i64| Window {
        start: data.start + Duration::hours(k),
        end: data.start + Duration::hours(k + 1),
    };
    let target = Target {
        endpoint: demo::ENDPOINT.into(),
        variant: demo::VARIANT.into(),
        schedule: demo_bucket.schedule.clone(),
    };

    // The CLI keeps the first three hours in a local folder.
    let local = dir.path().join("state");
    for k in 0..3 {
        let h = cli_hour(dir.path(), &hour(k), &local, &demo_bucket.schedule);
        assert_eq!(h["windows_kept"], k + 1);
    }
    let last: LastWindow = serde_json::from_value(json(&local.join(target.last_window_key()))).unwrap();
    assert_eq!(last.end, hour(2).end);

    // Copied to the function's state location, the schedule continues with the next hour only.
    let mut files = Vec::new();
    files_under(&local, &mut files);
    for file in &files {
        let key = file.strip_prefix(&local).unwrap().display().to_string();
        put(
            &s3,
            &demo_bucket.bucket,
            &format!("state/{key}"),
            std::fs::read(file).unwrap(),
        )
        .await;
    }
    let app = App {
        config: Config::from_vars(&demo_bucket.env()).expect("config"),
        clients: Clients::from_sdk(&sdk),
    };
    let schedule = serde_json::json!({"version": "0", "id": "x", "detail-type": "Scheduled Event",
        "source": "aws.events", "time": "2024-05-01T14:07:00Z", "detail": {}});
    let now = hour(3).end + Duration::minutes(10);
    let run = app.handle(schedule, now, "after-cli").await.expect("schedule");
    let windows: Vec<_> = run
        .windows
        .iter()
        .map(|w| (w.outcome.window, w.outcome.decision))
        .collect();
    assert_eq!(windows, vec![(hour(3), WindowDecision::Evaluated)]);
    let history_key = format!("state/{}", target.history_key());
    let history: serde_json::Value =
        serde_json::from_slice(&get(&s3, &demo_bucket.bucket, &history_key).await).unwrap();
    let starts: Vec<&str> = history["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["start"].as_str().unwrap())
        .collect();
    assert_eq!(starts.len(), 4, "the CLI's three hours and the function's: {starts:?}");

    // And back: the function's state, copied to a new folder, is continued by the CLI.
    let back = dir.path().join("state-back");
    let listed = s3
        .list_objects_v2()
        .bucket(&demo_bucket.bucket)
        .prefix("state/")
        .send()
        .await
        .expect("list the state");
    for object in listed.contents() {
        let key = object.key().unwrap();
        let file = back.join(key.strip_prefix("state/").unwrap());
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, get(&s3, &demo_bucket.bucket, key).await).unwrap();
    }
    let h = cli_hour(dir.path(), &hour(4), &back, &demo_bucket.schedule);
    assert_eq!(
        (h["windows_kept"].as_u64(), h["replaced"].as_bool()),
        (Some(5), Some(false))
    );
    let mean = h["assessments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["series"] == "prediction_mean")
        .unwrap()
        .clone();
    assert_eq!(mean["reference_windows"], 4, "{mean}");
}
