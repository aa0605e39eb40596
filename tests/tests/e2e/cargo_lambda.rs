//! The `evaluate-captures` binary run by `cargo lambda watch` (the Lambda runtime emulator) and invoked with
//! `cargo lambda invoke`, against LocalStack's S3 and CloudWatch: what is deployed is what the in-process tests
//! exercise. cargo-lambda comes from `.local/venv-tools` (installed by `scripts/teststack/stack.sh install`).

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Duration as ChronoDuration;
use modelwatch_core::demo;
use modelwatch_e2e::{DemoBucket, endpoint, get, sdk_config};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `PATH` with the project-local cargo-lambda and zig first.
fn path_with_tools() -> String {
    let tools = workspace().join(".local/venv-tools/bin");
    assert!(
        tools.join("cargo-lambda").exists(),
        "cargo-lambda is not installed in {}: run `bash scripts/teststack/stack.sh install`",
        tools.display()
    );
    format!("{}:{}", tools.display(), std::env::var("PATH").unwrap_or_default())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Stops `cargo lambda watch` and the function it started (its whole process group), even when the test fails.
struct Watch(Child);

impl Drop for Watch {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_function_binary_evaluates_a_window_under_the_lambda_runtime_emulator() {
    let sdk = sdk_config().await;
    let s3 = modelwatch_aws::config::s3_client(&sdk);
    let demo = DemoBucket::create(&s3).await;
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("function.env");
    // Single quotes: dotenv takes the value literally (EVALUATION_CONFIG is JSON).
    let mut env: Vec<String> = demo.env().into_iter().map(|(k, v)| format!("{k}='{v}'")).collect();
    env.extend([
        format!("AWS_ENDPOINT_URL={}", endpoint()),
        "AWS_ACCESS_KEY_ID=test".to_owned(),
        "AWS_SECRET_ACCESS_KEY=test".to_owned(),
        "AWS_REGION=us-east-1".to_owned(),
    ]);
    std::fs::write(&env_file, env.join("\n")).unwrap();
    let port = free_port().to_string();
    let path = path_with_tools();
    let watch = Command::new("cargo")
        .args([
            "lambda",
            "watch",
            "--ignore-changes",
            "--bin",
            "evaluate-captures",
            "-P",
            &port,
            "--env-file",
        ])
        .arg(&env_file)
        .current_dir(workspace())
        .env("PATH", &path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("watch.log")).unwrap())
        .process_group(0)
        .spawn()
        .expect("cargo lambda watch starts");
    let mut watch = Watch(watch);
    let watch_log = || std::fs::read_to_string(dir.path().join("watch.log")).unwrap_or_default();

    let start = demo.data.start + ChronoDuration::hours(4);
    let event = serde_json::json!({"window": {"start": start.to_rfc3339(), "end": (start + ChronoDuration::hours(1)).to_rfc3339()}});
    // The emulator compiles the function on the first invocation; invoke until it answers (a few minutes at most).
    let started = Instant::now();
    let output = loop {
        let out = Command::new("cargo")
            .args([
                "lambda",
                "invoke",
                "evaluate-captures",
                "-P",
                &port,
                "--output-format",
                "json",
                "--data-ascii",
            ])
            .arg(event.to_string())
            .current_dir(workspace())
            .env("PATH", &path)
            .output()
            .expect("cargo lambda invoke runs");
        if out.status.success() {
            break out;
        }
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if let Some(status) = watch.0.try_wait().unwrap() {
            panic!("cargo lambda watch exited ({status}): {}", watch_log());
        }
        assert!(
            started.elapsed() < Duration::from_secs(420),
            "cargo lambda invoke kept failing for 7 minutes: {stderr}\nwatch: {}",
            watch_log()
        );
        std::thread::sleep(Duration::from_secs(3));
    };
    let response: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)));
    let windows = response["windows"].as_array().expect("windows");
    assert_eq!(windows.len(), 1, "{response}");
    assert_eq!(windows[0]["decision"], "evaluated");
    assert_eq!(windows[0]["summary"]["rows"], demo::RECORDS_PER_HOUR as u64);
    assert!(
        windows[0]["summary"]["drifted_features"].as_u64().unwrap() >= 1,
        "{response}"
    );
    let key = format!(
        "reports/{}/{}/{}/drift.json",
        demo::ENDPOINT,
        demo::VARIANT,
        start.format("%Y/%m/%d/%H")
    );
    let drift: serde_json::Value = serde_json::from_slice(&get(&s3, &demo.bucket, &key).await).unwrap();
    assert!(drift["drifted"].as_u64().unwrap() >= 1);
}
