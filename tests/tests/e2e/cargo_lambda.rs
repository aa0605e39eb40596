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

/// The evaluate-captures binary under `cargo lambda watch`, with the demo bucket's environment: the emulator's port,
/// and both processes (stopped when dropped).
struct Running {
    port: String,
    path: String,
    dir: tempfile::TempDir,
    watch: Watch,
    function: Watch,
}

impl Running {
    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    /// Panics with the logs when either process has exited.
    fn check_alive(&mut self) {
        if let Some(status) = self.watch.0.try_wait().unwrap() {
            panic!("cargo lambda watch exited ({status}): {}", self.log("watch.log"));
        }
        if let Some(status) = self.function.0.try_wait().unwrap() {
            panic!("the function exited ({status}): {}", self.log("function.log"));
        }
    }
}

fn run_function(demo: &DemoBucket) -> Running {
    run_function_at(demo, &endpoint())
}

/// [`run_function`] with the function's AWS endpoint at `url` (a fault proxy).
fn run_function_at(demo: &DemoBucket, url: &str) -> Running {
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
            ("AWS_ENDPOINT_URL", url.to_owned()),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("function.log")).unwrap())
        .process_group(0)
        .spawn()
        .expect("the function's binary starts");
    Running {
        port,
        path,
        dir,
        watch,
        function: Watch(function),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_function_binary_evaluates_a_window_under_the_lambda_runtime_emulator() {
    let sdk = sdk_config().await;
    let s3 = modelwatch_aws::config::s3_client(&sdk);
    let demo = DemoBucket::create(&s3).await;
    let mut running = run_function(&demo);
    let (port, path) = (running.port.clone(), running.path.clone());
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
        running.check_alive();
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "cargo lambda invoke kept failing for a minute: {stderr}\nwatch: {}\nfunction: {}",
            running.log("watch.log"),
            running.log("function.log")
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

/// The distributed evaluation's state machine, as the template defines it, on LocalStack's Step Functions, its
/// Lambda tasks answered by the evaluate-captures binary under cargo-lambda's emulator (the test stack forwards
/// `Invoke` of a function named `mw-forward-<port>` to it: `scripts/teststack/localstack_plugin`). A run over every
/// demo hour, one of whose capture objects S3 keeps refusing (503 through a fault proxy), fails after its retries
/// and commits no hour; a run over the later hours plans them, reads them in the Distributed Map, reduces them in
/// order and commits each once with its reports and model quality.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_distributed_state_machine_runs_on_step_functions_with_the_function_binary() {
    use aws_sdk_sfn::types::ExecutionStatus;
    use modelwatch_core::monitor::{MarkerStatus, Target, WindowMarker};
    use modelwatch_core::window::Window;
    use modelwatch_e2e::proxy::{Fault, Proxy, S3Error};

    let sdk = sdk_config().await;
    let s3 = modelwatch_aws::config::s3_client(&sdk);
    let sfn = aws_sdk_sfn::Client::new(&sdk);
    let demo = DemoBucket::create(&s3).await;
    const REFUSED: usize = 2;
    let proxy = Proxy::start(
        &endpoint(),
        vec![Fault::Answer {
            text: format!("GET /{}/datacapture/{}", demo.bucket, demo.data.captures[REFUSED].0),
            times: usize::MAX,
            error: S3Error::SlowDown,
        }],
    )
    .await;
    let mut running = run_function_at(&demo, &proxy.url);
    let account = std::env::var("TESTSTACK_ACCOUNT_ID").unwrap_or_else(|_| "000000000000".into());
    let function = format!(
        "arn:aws:lambda:us-east-1:{account}:function:mw-forward-{}",
        running.port
    );
    let stack = modelwatch_e2e::template::Stack::new(&[("EndpointName", demo::ENDPOINT)]);
    let definition = stack.properties("DistributedEvaluationStateMachine")["Definition"].to_string();
    assert_eq!(definition.matches(r#""IntervalSeconds":5"#).count(), 3, "{definition}");
    // The template's retries, one second apart instead of five (the test's time).
    let definition = definition
        .replace("${Function}", &function)
        .replace(r#""IntervalSeconds":5"#, r#""IntervalSeconds":1"#);
    let machine = sfn
        .create_state_machine()
        .name(modelwatch_e2e::unique("mw-distributed"))
        .definition(definition)
        .role_arn(format!("arn:aws:iam::{account}:role/mw-distributed"))
        .send()
        .await
        .expect("CreateStateMachine");
    let start = demo.data.start;
    let hour = |h: usize| {
        Window::new(
            start + ChronoDuration::hours(h as i64),
            start + ChronoDuration::hours(h as i64 + 1),
        )
        .unwrap()
    };
    let target = Target {
        endpoint: demo::ENDPOINT.into(),
        variant: demo::VARIANT.into(),
        schedule: demo.schedule.clone(),
    };
    let marker = |h: usize| {
        let (s3, bucket, key) = (
            s3.clone(),
            demo.bucket.clone(),
            format!("state/{}", target.marker_key(&hour(h))),
        );
        async move {
            let object = s3.get_object().bucket(bucket).key(key).send().await.ok()?;
            let bytes = object.body.collect().await.ok()?.into_bytes();
            Some(serde_json::from_slice::<WindowMarker>(&bytes).expect("a marker"))
        }
    };
    let mut run = async |name: &str, from: usize| {
        let input = serde_json::json!({"endpoint": demo::ENDPOINT, "variant": demo::VARIANT,
            "window": {"start": hour(from).start.to_rfc3339(), "end": hour(demo::HOURS - 1).end.to_rfc3339()}});
        let execution = sfn
            .start_execution()
            .state_machine_arn(machine.state_machine_arn())
            .name(name)
            .input(input.to_string())
            .send()
            .await
            .expect("StartExecution");
        let started = Instant::now();
        loop {
            let d = sfn
                .describe_execution()
                .execution_arn(execution.execution_arn())
                .send()
                .await
                .expect("DescribeExecution");
            if d.status() != &ExecutionStatus::Running {
                break d;
            }
            running.check_alive();
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "the execution still runs after five minutes\nfunction: {}",
                running.log("function.log")
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };

    let failed = run("backfill-refused", 0).await;
    assert_eq!(failed.status(), &ExecutionStatus::Failed, "{failed:?}");
    assert!(proxy.answered() > 0, "S3 refused the object");
    // The refused hour, and every hour after it (the reduce goes in order), is not committed. Whether the hours
    // before it are depends on the engine: on AWS a failed item fails the map and nothing is reduced; LocalStack's
    // map does not enforce failure tolerance and goes on to the reduce, which commits the hours whose every partial
    // is there and stops at the refused one. Either way each committed hour is whole.
    for h in 0..demo::HOURS {
        if let Some(m) = marker(h).await {
            assert!(
                h < REFUSED,
                "hour {h} committed by a run whose batch of hour {REFUSED} failed"
            );
            assert_eq!(
                m.summary.map(|s| s.rows),
                Some(demo::RECORDS_PER_HOUR as u64),
                "hour {h} whole"
            );
        }
    }

    let done = run("backfill-later", REFUSED + 1).await;
    assert_eq!(
        done.status(),
        &ExecutionStatus::Succeeded,
        "{:?} {:?}\nfunction: {}",
        done.error(),
        done.cause(),
        running.log("function.log")
    );
    let output: serde_json::Value = serde_json::from_str(done.output().unwrap()).unwrap();
    let later = demo::HOURS - REFUSED - 1;
    assert_eq!(output["plan"]["done"], true, "{output}");
    assert_eq!(output["read"]["batches"], later, "one batch an hour: {output}");
    for h in 0..demo::HOURS {
        let Some(marker) = marker(h).await else {
            assert!(h <= REFUSED, "hour {h} not committed");
            continue;
        };
        assert_ne!(h, REFUSED, "the refused hour committed");
        let run = if h > REFUSED {
            "backfill-later"
        } else {
            "backfill-refused"
        };
        assert_eq!(
            (marker.status, marker.run_id.as_str()),
            (MarkerStatus::Committed, run),
            "hour {h}"
        );
        let summary = marker.summary.expect("a summary");
        assert_eq!(summary.rows, demo::RECORDS_PER_HOUR as u64);
        assert_eq!(summary.drifted_features > 0, h >= demo::DRIFT_FROM_HOUR, "hour {h}");
        let folder = format!("reports/{}", target.report_folder(&hour(h)));
        let quality: serde_json::Value =
            serde_json::from_slice(&get(&s3, &demo.bucket, &format!("{folder}/model-quality/statistics.json")).await)
                .unwrap();
        assert!(
            quality["binary_classification_metrics"]["accuracy"]["value"].is_number(),
            "{quality}"
        );
    }
}
