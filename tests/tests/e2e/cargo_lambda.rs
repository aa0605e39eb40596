//! The `evaluate-captures` binary under cargo-lambda's Lambda runtime emulator (`cargo lambda watch
//! --only-lambda-apis`), invoked with `cargo lambda invoke`, against LocalStack's S3 and CloudWatch: what is
//! deployed is what the in-process tests exercise. The binary is the function's own `main.rs`, built with the tests
//! as `evaluate-captures-bootstrap` (tests/Cargo.toml), so the emulator does not build it. cargo-lambda comes from
//! `.local/venv-tools` (installed by `scripts/teststack/stack.sh install`).

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

/// Stops a process and its children (its whole process group), even when the test fails.
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
    let port = free_port().to_string();
    let path = path_with_tools();
    let watch = Command::new("cargo")
        .args(["lambda", "watch", "--only-lambda-apis", "-P", &port])
        .current_dir(workspace())
        .env("PATH", &path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("watch.log")).unwrap())
        .process_group(0)
        .spawn()
        .expect("cargo lambda watch starts");
    let mut watch = Watch(watch);
    let watch_log = || std::fs::read_to_string(dir.path().join("watch.log")).unwrap_or_default();
    // The runtime API first: the function exits when it cannot reach it, as it would on Lambda.
    let listening = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).is_err() {
        if let Some(status) = watch.0.try_wait().unwrap() {
            panic!("cargo lambda watch exited ({status}): {}", watch_log());
        }
        assert!(
            listening.elapsed() < Duration::from_secs(60),
            "cargo lambda watch did not listen within a minute: {}",
            watch_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The function as Lambda starts it: the runtime API cargo-lambda serves (the variables it prints with
    // `--only-lambda-apis`), the template's environment, credentials.
    let function = Command::new(env!("CARGO_BIN_EXE_evaluate-captures-bootstrap"))
        .envs(demo.env())
        .envs([
            ("AWS_LAMBDA_RUNTIME_API", format!("http://[::]:{port}/.rt")),
            ("AWS_LAMBDA_FUNCTION_NAME", "_".to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "1".to_owned()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024".to_owned()),
            ("AWS_ENDPOINT_URL", endpoint()),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("function.log")).unwrap())
        .process_group(0)
        .spawn()
        .expect("the function's binary starts");
    let mut function = Watch(function);
    let function_log = || std::fs::read_to_string(dir.path().join("function.log")).unwrap_or_default();

    let start = demo.data.start + ChronoDuration::hours(4);
    let event = serde_json::json!({"window": {"start": start.to_rfc3339(), "end": (start + ChronoDuration::hours(1)).to_rfc3339()}});
    // Invoke until the emulator and the function are up (a few seconds).
    let started = Instant::now();
    let output = loop {
        let out = Command::new("cargo")
            .args([
                "lambda",
                "invoke",
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
        if let Some(status) = function.0.try_wait().unwrap() {
            panic!("the function exited ({status}): {}", function_log());
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "cargo lambda invoke kept failing for a minute: {stderr}\nwatch: {}\nfunction: {}",
            watch_log(),
            function_log()
        );
        std::thread::sleep(Duration::from_millis(500));
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
