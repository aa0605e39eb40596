//! The `evaluate-captures` function end to end against the emulators (LocalStack's S3, CloudWatch, SNS, SQS):
//! the demo endpoint's captures in S3, the handler invoked in-process.

use std::time::{Duration as StdDuration, Instant};

use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Metric, MetricDataQuery, MetricStat, Statistic};
use chrono::{Duration, Utc};
use evaluate_captures::config::Config;
use evaluate_captures::handler::{App, Clients, TargetWindow};
use modelwatch_core::demo;
use modelwatch_core::metrics::DATA_METRICS_NAMESPACE;
use modelwatch_core::monitor::{MarkerStatus, Target, WindowDecision, WindowMarker};
use modelwatch_core::window::Window;
use modelwatch_e2e::iam::{Deployment, Function};
use modelwatch_e2e::proxy::{Fault, Proxy, S3Error};
use modelwatch_e2e::{DemoBucket, endpoint, get, put, queue, sdk_config, unique};

fn dims(schedule: &str) -> Vec<Dimension> {
    vec![
        Dimension::builder().name("Endpoint").value(demo::ENDPOINT).build(),
        Dimension::builder().name("MonitoringSchedule").value(schedule).build(),
    ]
}

/// The hourly sample counts and maxima of a metric over the demo's hours.
async fn hourly(cw: &aws_sdk_cloudwatch::Client, name: &str, demo: &DemoBucket, stat: &str) -> Vec<f64> {
    let start = demo.data.start;
    let metric = Metric::builder()
        .namespace(DATA_METRICS_NAMESPACE)
        .metric_name(name)
        .set_dimensions(Some(dims(&demo.schedule)))
        .build();
    let out = cw
        .get_metric_data()
        .metric_data_queries(
            MetricDataQuery::builder()
                .id("m")
                .metric_stat(MetricStat::builder().metric(metric).period(3600).stat(stat).build())
                .build(),
        )
        .start_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(start.timestamp()))
        .end_time(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
            (start + Duration::hours(demo::HOURS as i64 + 2)).timestamp(),
        ))
        .send()
        .await
        .expect("GetMetricData");
    let result = &out.metric_data_results()[0];
    let mut points: Vec<(i64, f64)> = result
        .timestamps()
        .iter()
        .map(|t| t.secs())
        .zip(result.values().iter().copied())
        .collect();
    points.sort_by_key(|p| p.0);
    points.into_iter().map(|p| p.1).collect()
}

/// The function over a bucket holding the demo's captures and baseline, as the template deploys it (its
/// environment and its role: [`Deployment::check`]), with the test's own S3 and CloudWatch clients.
async fn demo_app() -> (
    DemoBucket,
    App,
    Deployment,
    aws_sdk_s3::Client,
    aws_sdk_cloudwatch::Client,
) {
    demo_app_from(None).await
}

/// [`demo_app`] with the demo's first hour at `start` (by default the recent hours of [`DemoBucket::create`]).
async fn demo_app_from(
    start: Option<chrono::DateTime<Utc>>,
) -> (
    DemoBucket,
    App,
    Deployment,
    aws_sdk_s3::Client,
    aws_sdk_cloudwatch::Client,
) {
    let sdk = sdk_config().await;
    let s3 = modelwatch_aws::config::s3_client(&sdk);
    let cw = modelwatch_aws::config::cloudwatch_client(&sdk);
    let demo = match start {
        Some(start) => DemoBucket::create_from(&s3, start).await,
        None => DemoBucket::create(&s3).await,
    };
    let ground_truth = format!("ground-truth/{}", demo::ENDPOINT);
    let deployment = Deployment::new(
        Function::EvaluateCaptures,
        &[
            ("DataBucketName", &demo.bucket),
            ("EndpointName", demo::ENDPOINT),
            ("VariantName", demo::VARIANT),
            ("GroundTruthPrefix", &ground_truth),
            ("ScheduleName", &demo.schedule),
            (
                "EvaluationConfig",
                r#"{"quality": {"problem_type": "BinaryClassification"}}"#,
            ),
        ],
    );
    let function = deployment.sdk_config().await;
    let app = App {
        config: inline_config(&deployment),
        clients: Clients::from_sdk(&function),
    };
    (demo, app, deployment, s3, cw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluates_windows_once_and_folds_new_files_into_live_drift_that_alarms() {
    let (demo, app, deployment, s3, cw) = demo_app().await;
    let start = demo.data.start;
    let end = start + Duration::hours(demo::HOURS as i64);
    let backfill = serde_json::json!({"window": {"start": start.to_rfc3339(), "end": end.to_rfc3339()}});
    let now = end + Duration::minutes(10);

    // Every hour of the demo, evaluated and committed.
    let first = app.handle(backfill.clone(), now, "run-1").await.expect("backfill");
    assert_eq!(first.windows.len(), demo::HOURS);
    for (hour, w) in first.windows.iter().enumerate() {
        assert_eq!(w.outcome.decision, WindowDecision::Evaluated, "hour {hour}");
        let summary = w.outcome.summary.as_ref().unwrap();
        assert_eq!(summary.rows, demo::RECORDS_PER_HOUR as u64, "hour {hour}");
        assert_eq!(summary.failed_files, 0);
        let drifted = summary.drifted_features > 0;
        assert_eq!(drifted, hour >= demo::DRIFT_FROM_HOUR, "hour {hour}: {summary:?}");
    }

    // The reports, in S3, under the hour's folder, with the CLI's names.
    let folder = |h: i64| {
        format!(
            "reports/{}/{}/{}",
            demo::ENDPOINT,
            demo::VARIANT,
            (start + Duration::hours(h)).format("%Y/%m/%d/%H")
        )
    };
    let drift: serde_json::Value =
        serde_json::from_slice(&get(&s3, &demo.bucket, &format!("{}/drift.json", folder(4))).await).unwrap();
    let drifted: Vec<&str> = drift["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["drifted"] == true)
        .map(|f| f["feature"].as_str().unwrap())
        .collect();
    for feature in demo::DRIFTED_FEATURES {
        assert!(drifted.contains(&feature), "{feature} not in {drifted:?}");
    }
    // The page for a person, beside them and named by the run's summary, drifted features first.
    let summary: serde_json::Value =
        serde_json::from_slice(&get(&s3, &demo.bucket, &format!("{}/summary.json", folder(4))).await).unwrap();
    let page = get(
        &s3,
        &demo.bucket,
        &format!("{}/{}", folder(4), summary["report"].as_str().unwrap()),
    )
    .await;
    let page = String::from_utf8(page).unwrap();
    let first = page.split("data-feature=\"").nth(1).unwrap().split('"').next().unwrap();
    assert!(demo::DRIFTED_FEATURES.contains(&first), "{first} first");
    let violations: serde_json::Value =
        serde_json::from_slice(&get(&s3, &demo.bucket, &format!("{}/constraint_violations.json", folder(4))).await)
            .unwrap();
    assert!(
        violations["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["constraint_check_type"] == "baseline_drift_check")
    );
    let quality: serde_json::Value = serde_json::from_slice(
        &get(
            &s3,
            &demo.bucket,
            &format!("{}/model-quality/statistics.json", folder(1)),
        )
        .await,
    )
    .unwrap();
    let accuracy = quality["binary_classification_metrics"]["accuracy"]["value"]
        .as_f64()
        .unwrap();
    assert!((0.5..=1.0).contains(&accuracy), "{accuracy}");

    // The prediction history, kept in the state store across the hours, assessed in each hour's report.
    let history: serde_json::Value =
        serde_json::from_slice(&get(&s3, &demo.bucket, &format!("{}/prediction_history.json", folder(5))).await)
            .unwrap();
    assert_eq!(history["windows_kept"], 6, "{history}");
    assert_eq!(history["window"]["invocations"], demo::RECORDS_PER_HOUR as u64);

    // The metrics, in CloudWatch: one datum per hour, drift higher after the injected drift.
    let counts = hourly(&cw, "feature_baseline_drift_income", &demo, "SampleCount").await;
    assert_eq!(counts, vec![1.0; demo::HOURS]);
    let drift_income = hourly(&cw, "feature_baseline_drift_income", &demo, "Maximum").await;
    assert!(drift_income[4] > 2.0 * drift_income[0], "{drift_income:?}");
    let items = hourly(&cw, "dataset_item_count", &demo, "Sum").await;
    assert_eq!(items, vec![demo::RECORDS_PER_HOUR as f64; demo::HOURS]);

    // The same window again, and the schedule after it: nothing evaluated, nothing published twice.
    let again = app.handle(backfill, now, "run-2").await.expect("re-run");
    assert!(
        again
            .windows
            .iter()
            .all(|w| w.outcome.decision == WindowDecision::AlreadyCommitted && w.outcome.published == 0)
    );
    let schedule = serde_json::json!({"version": "0", "id": "x", "detail-type": "Scheduled Event",
        "source": "aws.events", "time": now.to_rfc3339(), "detail": {}});
    let scheduled = app.handle(schedule, now, "run-3").await.expect("schedule");
    assert!(scheduled.windows.is_empty(), "{:?}", scheduled.windows);
    assert_eq!(
        hourly(&cw, "feature_baseline_drift_income", &demo, "SampleCount").await,
        counts
    );

    // An alarm on the live drift of `income`, notifying an SNS topic that feeds an SQS queue.
    let sdk = sdk_config().await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let topic = sns.create_topic().name(unique("mw-drift")).send().await.unwrap();
    let topic_arn = topic.topic_arn().unwrap().to_owned();
    let (queue_url, queue_arn) = queue(&sqs, "mw-drift").await;
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .send()
        .await
        .unwrap();
    // On what the live path publishes (`monitor::LIVE_METRICS`): the share of drifted features of the hour so far.
    let alarm = unique("mw-live-drift");
    cw.put_metric_alarm()
        .alarm_name(&alarm)
        .namespace(DATA_METRICS_NAMESPACE)
        .metric_name("dataset_drift_share")
        .set_dimensions(Some(dims(&format!("{}-live", demo.schedule))))
        .statistic(Statistic::Maximum)
        .period(60)
        .evaluation_periods(1)
        .threshold(0.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .alarm_actions(&topic_arn)
        .send()
        .await
        .unwrap();

    // New capture files of the current hour, announced by S3 notifications, folded into the hour's profile.
    let drifted_hour = &demo.data.captures[4].1;
    let this_hour = Utc::now();
    let key_in_hour = |name: &str| {
        format!(
            "datacapture/{}/{}/{}/{name}.jsonl",
            demo::ENDPOINT,
            demo::VARIANT,
            this_hour.format("%Y/%m/%d/%H")
        )
    };
    let notify = |key: &str| {
        // An S3 event notification as S3 sends it (event structure version 2.1).
        serde_json::json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": Utc::now().to_rfc3339(), "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:TEST"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {"x-amz-request-id": "1", "x-amz-id-2": "2"},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "captures",
                   "bucket": {"name": demo.bucket, "ownerIdentity": {"principalId": "TEST"},
                              "arn": format!("arn:aws:s3:::{}", demo.bucket)},
                   "object": {"key": key, "size": 1, "eTag": "0", "sequencer": "0"}}
        }]})
    };
    let first_key = key_in_hour("live-0");
    put(&s3, &demo.bucket, &first_key, drifted_hour.as_bytes()).await;
    let folded = app
        .handle(notify(&first_key), Utc::now(), "event-0")
        .await
        .expect("fold");
    assert_eq!(folded.folded.len(), 1);
    let f = &folded.folded[0];
    assert!(f.folded);
    assert_eq!((f.hour_rows, f.objects_in_hour), (demo::RECORDS_PER_HOUR as u64, 1));
    assert!(f.drifted_features >= 1, "{f:?}");
    let live_drift: serde_json::Value = serde_json::from_slice(
        &get(
            &s3,
            &demo.bucket,
            &format!(
                "reports/{}/{}/{}/live/drift.json",
                demo::ENDPOINT,
                demo::VARIANT,
                this_hour.format("%Y/%m/%d/%H")
            ),
        )
        .await,
    )
    .unwrap();
    assert!(live_drift["drifted"].as_u64().unwrap() >= 1);
    // The same notification again (S3 delivers at least once): not folded twice.
    let repeat = app.handle(notify(&first_key), Utc::now(), "event-1").await.unwrap();
    assert!(!repeat.folded[0].folded);
    assert_eq!(repeat.folded[0].hour_rows, demo::RECORDS_PER_HOUR as u64);

    // The alarm fires and its notification reaches the queue. LocalStack evaluates alarms about once a period;
    // a further file is folded every 20 s so that the last minute always holds a datum.
    let started = Instant::now();
    let mut alarmed = false;
    let mut notified = false;
    let mut files = 1;
    while started.elapsed() < StdDuration::from_secs(180) && !(alarmed && notified) {
        if !alarmed {
            let state = cw.describe_alarms().alarm_names(&alarm).send().await.unwrap();
            alarmed = state.metric_alarms()[0].state_value().map(|s| s.as_str()) == Some("ALARM");
        }
        let messages = sqs
            .receive_message()
            .queue_url(&queue_url)
            .wait_time_seconds(5)
            .send()
            .await
            .unwrap();
        notified |= messages
            .messages()
            .iter()
            .any(|m| m.body().is_some_and(|b| b.contains(&alarm) && b.contains("ALARM")));
        if !(alarmed && notified) && started.elapsed().as_secs() > 20 * files {
            let key = key_in_hour(&format!("live-{files}"));
            put(&s3, &demo.bucket, &key, drifted_hour.as_bytes()).await;
            let more = app.handle(notify(&key), Utc::now(), "event-n").await.unwrap();
            assert_eq!(more.folded[0].objects_in_hour, files as usize + 1);
            files += 1;
        }
    }
    assert!(alarmed, "the alarm on live drift did not go to ALARM in 180 s");
    assert!(notified, "no ALARM notification reached the SQS queue in 180 s");
    deployment.check();
}

/// The test stack refuses what CloudWatch refuses (scripts/teststack/.../cloudwatch_strict.py), and the function's
/// sink stays within it: names capped by the core, requests of at most 1,000 data and 1 MB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_refuses_what_cloudwatch_refuses_and_the_sink_stays_within_it() {
    use aws_sdk_cloudwatch::types::MetricDatum as SdkDatum;
    use modelwatch_core::metrics::{MetricScope, Unit};
    use modelwatch_core::ports::MetricSink;

    let sdk = sdk_config().await;
    let cw = modelwatch_aws::config::cloudwatch_client(&sdk);
    let namespace = unique("mw-strict");
    let datum = |name: &str, ahead: Duration| {
        SdkDatum::builder()
            .metric_name(name)
            .value(1.0)
            .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                (Utc::now() + ahead).timestamp(),
            ))
            .build()
    };
    let refused = |result: Result<_, aws_sdk_cloudwatch::error::SdkError<_, _>>| {
        let e = result.expect_err("refused");
        aws_sdk_cloudwatch::error::ProvideErrorMetadata::code(&e).map(str::to_owned)
    };
    let too_many: Vec<SdkDatum> = (0..1001).map(|i| datum(&format!("m{i}"), Duration::zero())).collect();
    let code = refused(
        cw.put_metric_data()
            .namespace(&namespace)
            .set_metric_data(Some(too_many))
            .send()
            .await,
    );
    assert_eq!(code.as_deref(), Some("InvalidParameterValue"));
    let long = "x".repeat(256);
    let code = refused(
        cw.put_metric_data()
            .namespace(&namespace)
            .metric_data(datum(&long, Duration::zero()))
            .send()
            .await,
    );
    assert_eq!(code.as_deref(), Some("InvalidParameterValue"));
    let code = refused(
        cw.put_metric_data()
            .namespace(&namespace)
            .metric_data(datum("ahead", Duration::hours(3)))
            .send()
            .await,
    );
    assert_eq!(code.as_deref(), Some("InvalidParameterValue"));
    let code = refused(
        cw.put_metric_data()
            .namespace(&namespace)
            .metric_data(datum("behind", -Duration::days(15)))
            .send()
            .await,
    );
    assert_eq!(code.as_deref(), Some("InvalidParameterValue"));

    // The sink: 2,500 data, some with names far beyond 255 characters (capped by the core), now.
    let scope = MetricScope {
        endpoint: "strict".into(),
        schedule: "s".into(),
        timestamp: Utc::now(),
    };
    let data: Vec<_> = (0..2500)
        .map(|i| {
            let name = if i % 100 == 0 {
                format!("feature_data_{}{i}", "long_".repeat(60))
            } else {
                format!("m{i}")
            };
            scope.datum(&namespace, name, f64::from(i), Unit::None)
        })
        .collect();
    assert!(data.iter().all(|d| d.metric_name.chars().count() <= 255));
    let sink = modelwatch_aws::cloudwatch::CloudWatchSink::new(cw.clone(), tokio::runtime::Handle::current(), None);
    tokio::task::spawn_blocking(move || sink.publish(&data))
        .await
        .unwrap()
        .expect("published within CloudWatch's limits");
}

/// Fault: two invocations of the same window at once (EventBridge delivers at least once; a schedule and a manual
/// backfill can overlap). One evaluates and publishes, the other does not; nothing is published twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_invocations_of_the_same_window_at_once_publish_it_once() {
    let (demo, app, deployment, _, cw) = demo_app().await;
    let start = demo.data.start;
    let end = start + Duration::hours(1);
    let backfill = serde_json::json!({"window": {"start": start.to_rfc3339(), "end": end.to_rfc3339()}});
    let now = end + Duration::minutes(10);
    let (a, b) = tokio::join!(
        app.handle(backfill.clone(), now, "run-a"),
        app.handle(backfill.clone(), now, "run-b")
    );
    let decisions: Vec<WindowDecision> = [a.expect("run a"), b.expect("run b")]
        .iter()
        .flat_map(|r| r.windows.iter().map(|w| w.outcome.decision))
        .collect();
    assert_eq!(
        decisions.iter().filter(|d| **d == WindowDecision::Evaluated).count(),
        1,
        "{decisions:?}"
    );
    assert!(
        decisions.iter().all(|d| matches!(
            d,
            WindowDecision::Evaluated
                | WindowDecision::InProgress
                | WindowDecision::LostClaim
                | WindowDecision::AlreadyCommitted
        )),
        "{decisions:?}"
    );
    let counts = hourly(&cw, "dataset_item_count", &demo, "SampleCount").await;
    assert_eq!(counts.first().copied(), Some(1.0), "published once: {counts:?}");
    deployment.check();
}

/// Fault: the stack's endpoint goes down in the middle of an evaluation, when the answer to the run's claim of
/// hour 1 comes back (the claim is stored, the run never learns it), and comes back up. The run stops after
/// hour 0; the next scheduled run, within the claim's lease, evaluates the later hours and defers hour 1; the run
/// after the lease takes it over. Every hour is evaluated once and committed, and its metrics published once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_in_the_middle_of_an_evaluation_loses_nothing_and_publishes_nothing_twice() {
    let (demo, _, deployment, s3, cw) = demo_app().await;
    let target = Target {
        endpoint: demo::ENDPOINT.into(),
        variant: demo::VARIANT.into(),
        schedule: demo.schedule.clone(),
    };
    let start = demo.data.start;
    let hour = |h: i64| Window {
        start: start + Duration::hours(h),
        end: start + Duration::hours(h + 1),
    };
    let claim = format!(
        "PUT /{}/{}",
        demo.bucket,
        app_state_key(&deployment, &target.marker_key(&hour(1)))
    );
    let outage = Proxy::start(&endpoint(), vec![Fault::DownAfter(claim)]).await;
    let app = app_through(&deployment, &outage.url).await;
    let end = start + Duration::hours(demo::HOURS as i64);
    let backfill = serde_json::json!({"window": {"start": start.to_rfc3339(), "end": end.to_rfc3339()}});
    let first_at = end + Duration::minutes(10);
    let evaluated = |windows: &[TargetWindow]| -> Vec<Window> {
        windows
            .iter()
            .filter(|w| w.outcome.decision == WindowDecision::Evaluated)
            .map(|w| w.outcome.window)
            .collect()
    };
    let decisions = |windows: &[TargetWindow]| -> Vec<(Window, WindowDecision)> {
        windows.iter().map(|w| (w.outcome.window, w.outcome.decision)).collect()
    };

    // The run, cut off at hour 1's claim: it fails; the state says hour 0 is committed and hour 1 claimed (the
    // claim landed, its answer did not), nothing later started.
    let first = app.handle(backfill, first_at, "run-1").await;
    assert!(first.is_err(), "{first:?}");
    assert!(outage.tripped(), "the outage came");
    assert!(!outage.is_up());
    let marker = |h: i64| {
        let key = app.config.state.key(&target.marker_key(&hour(h)));
        let s3 = s3.clone();
        let bucket = demo.bucket.clone();
        async move {
            let body = s3.get_object().bucket(bucket).key(key).send().await.ok()?;
            let bytes = body.body.collect().await.ok()?.into_bytes();
            serde_json::from_slice::<WindowMarker>(&bytes).ok().map(|m| m.status)
        }
    };
    assert_eq!(marker(0).await, Some(MarkerStatus::Committed));
    assert_eq!(marker(1).await, Some(MarkerStatus::Claimed));
    assert_eq!(marker(2).await, None);
    let mut done = vec![hour(0)];
    outage.restore();

    // Back up, within hour 1's lease: the later hours.
    let second_at = first_at + Duration::minutes(2);
    let second = app
        .handle(scheduled(second_at), second_at, "run-2")
        .await
        .expect("run 2");
    let seen = decisions(&second.windows);
    assert_eq!(seen.len(), demo::HOURS - 1, "{seen:?}");
    assert_eq!(
        seen[0],
        (hour(1), WindowDecision::InProgress),
        "the dead run's claim holds it"
    );
    assert!(
        seen[1..].iter().all(|(_, d)| *d == WindowDecision::Evaluated),
        "{seen:?}"
    );
    done.extend(evaluated(&second.windows));

    // After the lease: hour 1 taken over (deferred, it is not passed over for the later hours committed).
    let third_at = second_at + Duration::minutes(21);
    let third = app.handle(scheduled(third_at), third_at, "run-3").await.expect("run 3");
    assert_eq!(decisions(&third.windows), vec![(hour(1), WindowDecision::Evaluated)]);
    done.extend(evaluated(&third.windows));

    // Every hour evaluated once, committed, and published once.
    done.sort_by_key(|w| w.start);
    assert_eq!(done, (0..demo::HOURS as i64).map(hour).collect::<Vec<_>>());
    for h in 0..demo::HOURS as i64 {
        assert_eq!(marker(h).await, Some(MarkerStatus::Committed), "hour {h}");
    }
    let counts = hourly(&cw, "dataset_item_count", &demo, "SampleCount").await;
    assert_eq!(counts, vec![1.0; demo::HOURS], "each hour published once");
    deployment.check();
}

/// The test stack answers a conditional write that overlaps another on the same key with 409
/// `ConditionalRequestConflict`, as S3 does (scripts/teststack/.../s3_conditional.py); the state store takes it,
/// like 412, as a lost compare-and-set, and the key holds the winner's body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_conditional_writes_lose_with_409_and_the_state_store_takes_it_as_lost() {
    use modelwatch_core::ports::{PortErrorKind, StateStore};

    let sdk = sdk_config().await;
    let s3 = modelwatch_aws::config::s3_client(&sdk);
    let bucket = modelwatch_e2e::bucket(&s3, "mw-conflict").await;
    let location = modelwatch_aws::s3::S3Location {
        bucket: bucket.clone(),
        prefix: "state".into(),
    };
    let store = std::sync::Arc::new(modelwatch_aws::s3::S3StateStore::new(
        s3.clone(),
        tokio::runtime::Handle::current(),
        location,
    ));
    let write = |body: &'static str, after_ms: u64| {
        let store = store.clone();
        tokio::task::spawn_blocking(move || {
            std::thread::sleep(StdDuration::from_millis(after_ms));
            store.put_if("claim.json", body.as_bytes(), None)
        })
    };
    // The second starts while the first is in progress (the stack holds a conditional write for 40 ms).
    let (first, second) = tokio::join!(write("first", 0), write("second", 10));
    let (first, second) = (first.unwrap(), second.unwrap());
    assert!(first.is_ok(), "{first:?}");
    let lost = second.expect_err("the overlapping write loses");
    assert_eq!(lost.kind, PortErrorKind::Conflict, "{lost:?}");
    assert!(
        modelwatch_core::ports::error_chain(&lost).contains("ConditionalRequestConflict"),
        "{}",
        modelwatch_core::ports::error_chain(&lost)
    );
    assert_eq!(get(&s3, &bucket, "state/claim.json").await, b"first");
    // Once the first is done, the same write is refused with 412: also a lost compare-and-set.
    let late = write("late", 0).await.unwrap().expect_err("the key exists");
    assert_eq!(late.kind, PortErrorKind::Conflict, "{late:?}");
    assert!(
        modelwatch_core::ports::error_chain(&late).contains("PreconditionFailed"),
        "{}",
        modelwatch_core::ports::error_chain(&late)
    );
}

/// CloudWatch takes no datum stamped more than two weeks back and refuses the whole request for one, and so does
/// the test stack. Hours evaluated fifteen days late are evaluated, their reports written and committed; their
/// metrics are withheld, not sent, and the outcome says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hours_evaluated_after_two_weeks_are_committed_with_their_metrics_withheld() {
    let start = modelwatch_core::window::truncate_to_hour(Utc::now()) - Duration::days(15);
    let (demo, app, deployment, s3, _) = demo_app_from(Some(start)).await;
    let end = start + Duration::hours(2);
    let backfill = serde_json::json!({"window": {"start": start.to_rfc3339(), "end": end.to_rfc3339()}});
    let late = app.handle(backfill, Utc::now(), "late").await.expect("the late run");
    assert_eq!(late.windows.len(), 2);
    for w in &late.windows {
        assert_eq!(w.outcome.decision, WindowDecision::Evaluated, "{w:?}");
        assert_eq!(w.outcome.published, 0, "{w:?}");
        let withheld = w.outcome.withheld.as_ref().expect("the withheld data, counted");
        assert!(withheld.too_old > 0, "{withheld:?}");
    }
    let folder = format!(
        "reports/{}/{}/{}",
        demo::ENDPOINT,
        demo::VARIANT,
        start.format("%Y/%m/%d/%H")
    );
    let drift: serde_json::Value =
        serde_json::from_slice(&get(&s3, &demo.bucket, &format!("{folder}/drift.json")).await).unwrap();
    assert!(drift["features"].as_array().is_some_and(|f| !f.is_empty()), "{drift}");
    let refused: Vec<_> = deployment
        .calls()
        .into_iter()
        .filter(|c| c.operation == "PutMetricData" && c.status != 200)
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
    deployment.check();
}

/// The template's environment of the function, with backfill requests evaluated in the invocation rather than
/// handed to the distributed evaluation (that hand-off has its own test,
/// [`backfills_and_large_windows_start_distributed_runs_named_by_their_window`]; here no state machine exists).
fn inline_config(deployment: &Deployment) -> Config {
    let mut config = Config::from_vars(&deployment.env()).expect("the template's environment");
    assert!(config.distributed.is_some(), "the template names the state machine");
    config.distributed = None;
    config
}

/// The function as `deployment` deploys it, its clients going through `url` (a [`Proxy`] in front of the stack).
async fn app_through(deployment: &Deployment, url: &str) -> App {
    let through = deployment.sdk_config_at(url).await;
    App {
        config: inline_config(deployment),
        clients: Clients::from_sdk(&through),
    }
}

/// The S3 key of a state object of `deployment`'s function.
fn app_state_key(deployment: &Deployment, key: &str) -> String {
    Config::from_vars(&deployment.env())
        .expect("the template's environment")
        .state
        .key(key)
}

/// A scheduled invocation at `at`.
fn scheduled(at: chrono::DateTime<Utc>) -> serde_json::Value {
    serde_json::json!({"version": "0", "id": "x", "detail-type": "Scheduled Event",
        "source": "aws.events", "time": at.to_rfc3339(), "detail": {}})
}

/// Fault: S3 answers `503 SlowDown` to reads of the capture files. Twice: the SDK's retries read them and every
/// hour is evaluated whole. Five times in a row on hour 0's file (the SDK's attempts, `config::MAX_ATTEMPTS`):
/// hour 0 is not evaluated on part of its data; it fails, nothing of it is published, and the next run after its
/// claim's lease evaluates it whole. Each hour is published once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_down_on_capture_reads_is_retried_and_never_evaluates_part_of_a_window() {
    let (demo, _, deployment, _, cw) = demo_app().await;
    let start = demo.data.start;
    let first_file = format!("GET /{}/datacapture/{}", demo.bucket, demo.data.captures[0].0);
    let proxy = Proxy::start(
        &endpoint(),
        vec![
            Fault::Answer {
                text: first_file,
                times: modelwatch_aws::config::MAX_ATTEMPTS as usize,
                error: S3Error::SlowDown,
            },
            Fault::Answer {
                text: format!("GET /{}/datacapture/", demo.bucket),
                times: 2,
                error: S3Error::SlowDown,
            },
        ],
    )
    .await;
    let app = app_through(&deployment, &proxy.url).await;
    let end = start + Duration::hours(demo::HOURS as i64);
    let backfill = serde_json::json!({"window": {"start": start.to_rfc3339(), "end": end.to_rfc3339()}});
    let first_at = end + Duration::minutes(10);
    let first = app.handle(backfill, first_at, "run-1").await;
    // The invocation fails (Retryable) after the other hours ran; the windows are in the state.
    assert!(first.is_err(), "a failed window fails the invocation: {first:?}");
    assert_eq!(proxy.answered(), modelwatch_aws::config::MAX_ATTEMPTS as usize + 2);
    let target = Target {
        endpoint: demo::ENDPOINT.into(),
        variant: demo::VARIANT.into(),
        schedule: demo.schedule.clone(),
    };
    let sdk = sdk_config().await;
    let s3 = modelwatch_aws::config::s3_client(&sdk);
    let last: serde_json::Value =
        serde_json::from_slice(&get(&s3, &demo.bucket, &app.config.state.key(&target.last_window_key())).await)
            .unwrap();
    let failed = last["failed"].as_array().expect("hour 0 recorded failed");
    assert_eq!(failed.len(), 1, "{last}");
    assert!(failed[0]["error"].as_str().unwrap().contains("SlowDown"), "{last}");
    let counts = hourly(&cw, "dataset_item_count", &demo, "SampleCount").await;
    assert_eq!(counts, vec![1.0; demo::HOURS - 1], "hours 1-5 once, hour 0 not at all");

    // The next run after the claim's lease: hour 0, whole.
    let retry_at = first_at + Duration::minutes(25);
    let retry = app
        .handle(scheduled(retry_at), retry_at, "run-2")
        .await
        .expect("the retry");
    assert_eq!(retry.windows.len(), 1, "{:?}", retry.windows);
    let w = &retry.windows[0].outcome;
    assert_eq!((w.window.start, w.decision), (start, WindowDecision::Evaluated));
    let summary = w.summary.as_ref().unwrap();
    assert_eq!((summary.rows, summary.failed_files), (demo::RECORDS_PER_HOUR as u64, 0));
    let counts = hourly(&cw, "dataset_item_count", &demo, "SampleCount").await;
    assert_eq!(counts, vec![1.0; demo::HOURS], "each hour published once");
    deployment.check();
}

/// Fault: a capture file deleted after the listing (S3 answers its read `404 NoSuchKey`). The file is reported
/// with its error and the window is committed without it (it is gone for good); nothing else changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_file_deleted_after_the_listing_is_reported_and_the_window_committed() {
    let (demo, _, deployment, s3, _) = demo_app().await;
    let start = demo.data.start;
    let file = &demo.data.captures[1].0;
    let proxy = Proxy::start(
        &endpoint(),
        vec![Fault::Answer {
            text: format!("GET /{}/datacapture/{file}", demo.bucket),
            times: usize::MAX,
            error: S3Error::NoSuchKey,
        }],
    )
    .await;
    let app = app_through(&deployment, &proxy.url).await;
    let end = start + Duration::hours(2);
    let backfill = serde_json::json!({"window": {"start": start.to_rfc3339(), "end": end.to_rfc3339()}});
    let run = app
        .handle(backfill, end + Duration::minutes(10), "run-1")
        .await
        .expect("run");
    assert_eq!(proxy.answered(), 1, "read once: not found is not retried");
    let summaries: Vec<_> = run
        .windows
        .iter()
        .map(|w| {
            assert_eq!(w.outcome.decision, WindowDecision::Evaluated);
            let s = w.outcome.summary.as_ref().unwrap();
            (s.files, s.failed_files, s.rows)
        })
        .collect();
    assert_eq!(summaries, vec![(1, 0, demo::RECORDS_PER_HOUR as u64), (1, 1, 0)]);
    let folder = format!(
        "reports/{}/{}/{}",
        demo::ENDPOINT,
        demo::VARIANT,
        (start + Duration::hours(1)).format("%Y/%m/%d/%H")
    );
    // The run summary names the file and its error, and says why nothing was compared.
    let summary: serde_json::Value = serde_json::from_slice(
        &get(
            &s3,
            &demo.bucket,
            &format!("{folder}/{}", modelwatch_core::report::SUMMARY_FILE),
        )
        .await,
    )
    .unwrap();
    let files = summary["files"].as_array().unwrap();
    assert!(files[0]["name"].as_str().unwrap().ends_with(file.as_str()), "{summary}");
    assert!(files[0]["error"].as_str().unwrap().contains("NoSuchKey"), "{summary}");
    assert!(
        summary["nothing_compared"].as_str().unwrap().contains("could be read"),
        "{summary}"
    );
    deployment.check();
}

/// A completed Batch Transform job of the configured name prefix (SageMaker's state-change event, which describes
/// the job without its DataCaptureConfig: the stack's TransformCaptureS3Uri names the destination): its capture
/// manifests and the objects they name, in the job's layout in the bucket, are evaluated
/// as one window against the variant's baseline, as the template deploys the function (its role allows every
/// call); the reports land below the variant's `transform/{job}/` folder and the metrics carry the job's name as
/// a dimension. An event of another status is not acted on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_transform_jobs_capture_is_evaluated_as_one_window() {
    let sdk = sdk_config().await;
    let s3 = modelwatch_aws::config::s3_client(&sdk);
    let cw = modelwatch_aws::config::cloudwatch_client(&sdk);
    let demo = DemoBucket::create(&s3).await;
    let destinations = format!("s3://{}/batch/capture/{{job}}", demo.bucket);
    let deployment = Deployment::new(
        Function::EvaluateCaptures,
        &[
            ("DataBucketName", &demo.bucket),
            ("EndpointName", demo::ENDPOINT),
            ("VariantName", demo::VARIANT),
            ("ScheduleName", &demo.schedule),
            ("TransformJobNamePrefix", "score-"),
            ("TransformCaptureS3Uri", &destinations),
        ],
    );
    let function = deployment.sdk_config().await;
    let app = App {
        config: inline_config(&deployment),
        clients: Clients::from_sdk(&function),
    };

    // The job scored the demo's drifted last hour: its inputs are those captures' bodies, one line each.
    let (_, body) = demo.data.captures.last().expect("captures");
    let (mut input, mut output) = (String::new(), String::new());
    for line in body.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        input.push_str(record["captureData"]["endpointInput"]["data"].as_str().unwrap());
        input.push('\n');
        output.push_str(
            record["captureData"]["endpointOutput"]["data"]
                .as_str()
                .unwrap_or("0.5"),
        );
        output.push('\n');
    }
    let rows = body.lines().count() as u64;
    let job = unique("score-job");
    let b = &demo.bucket;
    put(&s3, b, &format!("batch/in/{job}/part-0.csv"), input.as_bytes()).await;
    put(&s3, b, &format!("batch/out/{job}/part-0.csv.out"), output.as_bytes()).await;
    let capture = format!("batch/capture/{job}");
    let hour = Utc::now().format("%Y/%m/%d/%H");
    let manifest = |prefix: &str, key: &str| format!(r#"[{{"prefix": "s3://{b}/{prefix}/"}}, "{key}"]"#);
    put(
        &s3,
        b,
        &format!("{capture}/input/{hour}/m.json"),
        manifest(&format!("batch/in/{job}"), "part-0.csv").as_bytes(),
    )
    .await;
    put(
        &s3,
        b,
        &format!("{capture}/output/{hour}/m.json"),
        manifest(&format!("batch/out/{job}"), "part-0.csv.out").as_bytes(),
    )
    .await;

    let event = |status: &str| {
        serde_json::json!({
            "version": "0", "id": unique("ev"), "detail-type": "SageMaker Transform Job State Change",
            "source": "aws.sagemaker", "account": "000000000000", "time": Utc::now().to_rfc3339(),
            "region": "us-east-1", "resources": [],
            "detail": {"TransformJobName": job, "TransformJobStatus": status, "ModelName": "m",
                       "TransformOutput": {"S3OutputPath": format!("s3://{b}/batch/out/{job}")}}
        })
    };
    let ignored = app
        .handle(event("Stopped"), Utc::now(), "run-t0")
        .await
        .expect("not acted on");
    assert!(
        ignored.transform_jobs.is_empty() && ignored.ignored.len() == 1,
        "{ignored:?}"
    );

    let response = app
        .handle(event("Completed"), Utc::now(), "run-t1")
        .await
        .expect("the job evaluated");
    let outcome = &response.transform_jobs[0];
    assert_eq!(outcome.job, job);
    assert_eq!(outcome.summary.rows, rows);
    assert!(
        outcome.summary.drifted_features > 0,
        "the last hour drifted: {outcome:?}"
    );
    assert_eq!(
        outcome.lines,
        Default::default(),
        "every input line had its output line"
    );
    let folder = format!("reports/{}/{}/transform/{job}", demo::ENDPOINT, demo::VARIANT);
    let drift: serde_json::Value = serde_json::from_slice(&get(&s3, b, &format!("{folder}/drift.json")).await).unwrap();
    assert!(drift["drifted"].as_u64().unwrap() > 0);
    let page = String::from_utf8(get(&s3, b, &format!("{folder}/report.html")).await).unwrap();
    assert!(page.contains("data-verdict=\"drifted\""));

    let listed = cw
        .list_metrics()
        .namespace(DATA_METRICS_NAMESPACE)
        .metric_name("dataset_drift_share")
        .dimensions(
            aws_sdk_cloudwatch::types::DimensionFilter::builder()
                .name("TransformJobName")
                .value(&job)
                .build(),
        )
        .send()
        .await
        .expect("ListMetrics");
    assert_eq!(listed.metrics().len(), 1, "the job's series");
    assert!(outcome.published.published > 0 && !outcome.published.already);
    // EventBridge delivers at least once: the same event again writes the reports again but publishes nothing.
    let again = app
        .handle(event("Completed"), Utc::now(), "run-t2")
        .await
        .expect("again");
    let repeat = &again.transform_jobs[0].published;
    assert_eq!((repeat.published, repeat.already), (0, true));
    deployment.check();
}

/// A distributed run through the function's three steps, as the stack's state machine drives them, against S3 and
/// CloudWatch through the template's role: the plan of every demo hour (one batch an object), a reduce before the
/// batches are read fails retryably and commits nothing, every batch read (one twice), then the reduce commits every
/// hour in order with its reports, and a repeated reduce publishes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distributed_run_plans_reads_and_reduces_every_hour_once() {
    use evaluate_captures::handler::DistributedOutcome;
    use modelwatch_aws::lambda::{RETRYABLE, diagnostic};
    use modelwatch_core::distributed::Item;

    let (demo, app, deployment, s3, _cw) = demo_app().await;
    let start = demo.data.start;
    let end = start + Duration::hours(demo::HOURS as i64);
    let now = end + Duration::minutes(10);
    let step = |fields: serde_json::Value| {
        let mut d = serde_json::json!({"run_id": "exec-1", "endpoint": demo::ENDPOINT, "variant": demo::VARIANT});
        d.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        serde_json::json!({ "distributed": d })
    };
    let window = serde_json::json!({"start": start.to_rfc3339(), "end": end.to_rfc3339()});
    let plan = app
        .handle(
            step(serde_json::json!({"step": "plan", "window": window, "max_batch_bytes": 1})),
            now,
            "req-1",
        )
        .await
        .expect("plan");
    let Some(DistributedOutcome::Plan {
        items,
        windows,
        bytes,
        next,
    }) = plan.distributed
    else {
        panic!("a plan: {plan:?}")
    };
    assert_eq!((windows, items.len(), next), (demo::HOURS, demo::HOURS, 0));
    assert!(bytes > 0);

    let reduce = serde_json::json!({"step": "reduce", "next": 0});
    let early = app.handle(step(reduce.clone()), now, "req-2").await.unwrap_err();
    let d = diagnostic(&early);
    assert_eq!(d.error_type, RETRYABLE, "{}", d.error_message);
    assert!(d.error_message.contains("was not read"), "{}", d.error_message);
    let target = Target {
        endpoint: demo::ENDPOINT.into(),
        variant: demo::VARIANT.into(),
        schedule: demo.schedule.clone(),
    };
    let hour = |h: i64| Window::new(start + Duration::hours(h), start + Duration::hours(h + 1)).unwrap();
    let marker_key = |h: i64| app.config.state.key(&target.marker_key(&hour(h)));
    let absent = s3.get_object().bucket(&demo.bucket).key(marker_key(0)).send().await;
    assert!(absent.is_err(), "nothing committed before the batches are read");

    for item in items.iter().chain(&items[..1]) {
        let Item { window, batch } = *item;
        let read = app
            .handle(
                step(serde_json::json!({"step": "read", "item": {"window": window, "batch": batch}})),
                now,
                "req-r",
            )
            .await
            .expect("read");
        assert!(
            matches!(read.distributed, Some(DistributedOutcome::Read { .. })),
            "{read:?}"
        );
    }
    let reduced = app.handle(step(reduce.clone()), now, "req-3").await.expect("reduce");
    let Some(DistributedOutcome::Reduce(reduced)) = reduced.distributed else {
        panic!("a reduce: {reduced:?}")
    };
    assert!(reduced.done && reduced.next == demo::HOURS, "{reduced:?}");
    for (h, outcome) in reduced.outcomes.iter().enumerate() {
        assert_eq!(outcome.decision, WindowDecision::Evaluated, "hour {h}");
        assert_eq!(outcome.summary.as_ref().unwrap().rows, demo::RECORDS_PER_HOUR as u64);
        let marker: WindowMarker =
            serde_json::from_slice(&get(&s3, &demo.bucket, &marker_key(h as i64)).await).unwrap();
        assert_eq!(marker.status, MarkerStatus::Committed);
        let folder = format!("reports/{}", target.report_folder(&hour(h as i64)));
        let summary: serde_json::Value =
            serde_json::from_slice(&get(&s3, &demo.bucket, &format!("{folder}/summary.json")).await).unwrap();
        assert_eq!(
            summary["summary"]["drifted_features"].as_u64().unwrap() > 0,
            h >= demo::DRIFT_FROM_HOUR
        );
    }
    let again = app.handle(step(reduce), now, "req-4").await.expect("reduce again");
    let Some(DistributedOutcome::Reduce(again)) = again.distributed else {
        panic!()
    };
    assert!(
        again
            .outcomes
            .iter()
            .all(|o| o.decision == WindowDecision::AlreadyCommitted)
    );
    deployment.check();
}

/// Through the template's role, with the template's state machine name (a one-step machine standing in for it):
/// a backfill request starts the distributed evaluation's run named by its window and evaluates nothing itself, and
/// asked again after that run ended it does not run the window twice; a scheduled hour of more captures than
/// `DISTRIBUTE_ABOVE_BYTES` is handed to a run (deferred), the run having ended without committing it is a failed
/// attempt, and the next attempt starts a run of a new name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfills_and_large_windows_start_distributed_runs_named_by_their_window() {
    use evaluate_captures::handler::TargetWindow;
    use modelwatch_core::distributed::{RunInput, run_name};

    // Hours of their own (nothing is published), so that the runs' names, made of the window, are this test's
    // even on a stack kept from an earlier run of the tests.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let start = modelwatch_core::window::truncate_to_hour(Utc::now()) - Duration::hours(48 + (nanos % 50_000) as i64);
    let (demo, mut app, deployment, s3, _cw) = demo_app_from(Some(start)).await;
    let arn = Config::from_vars(&deployment.env())
        .unwrap()
        .distributed
        .expect("the template's state machine");
    let name = arn.rsplit(':').next().unwrap().to_owned();
    assert_eq!(
        name,
        format!("{}-distributed-evaluation", modelwatch_e2e::template::STACK)
    );
    let sfn = aws_sdk_sfn::Client::new(&sdk_config().await);
    let created = sfn
        .create_state_machine()
        .name(&name)
        .definition(r#"{"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": true}}}"#)
        .role_arn("arn:aws:iam::000000000000:role/stand-in")
        .send()
        .await;
    if let Err(e) = created {
        // A stack kept from an earlier run of the tests has it already.
        assert!(
            sfn.describe_state_machine()
                .state_machine_arn(&arn)
                .send()
                .await
                .is_ok(),
            "{e:?}"
        );
    }
    app.config.distributed = Some(arn.clone());
    app.config.distribute_above_bytes = 1;
    let target = Target {
        endpoint: demo::ENDPOINT.into(),
        variant: demo::VARIANT.into(),
        schedule: demo.schedule.clone(),
    };
    let start = demo.data.start;
    let all = Window::new(start, start + Duration::hours(demo::HOURS as i64)).unwrap();
    let execution = |run: &str| format!("{}:{run}", arn.replace(":stateMachine:", ":execution:"));
    let ended = async |run: &str| {
        for _ in 0..100 {
            let d = sfn
                .describe_execution()
                .execution_arn(execution(run))
                .send()
                .await
                .expect("the run");
            if d.status() != &aws_sdk_sfn::types::ExecutionStatus::Running {
                return d;
            }
            tokio::time::sleep(StdDuration::from_millis(100)).await;
        }
        panic!("{run} still runs");
    };

    let backfill = serde_json::json!({"window": {"start": all.start.to_rfc3339(), "end": all.end.to_rfc3339()}});
    let now = all.end + Duration::minutes(10);
    let first = app.handle(backfill.clone(), now, "req-1").await.expect("backfill");
    assert!(
        first.windows.is_empty(),
        "nothing evaluated in the invocation: {first:?}"
    );
    let run = run_name(&target, &all, 0);
    assert_eq!(
        (first.runs.len(), first.runs[0].run.as_str(), first.runs[0].started),
        (1, run.as_str(), true)
    );
    let described = ended(&run).await;
    let input: RunInput = serde_json::from_str(described.input().unwrap()).unwrap();
    assert_eq!(input, RunInput::new(&target, &all));
    let again = app.handle(backfill, now, "req-2").await.expect("backfill again");
    assert!(
        !again.runs[0].started,
        "a window's backfill is not run twice: {again:?}"
    );
    let marker = s3
        .get_object()
        .bucket(&demo.bucket)
        .key(app.config.state.key(&target.marker_key(&all)))
        .send();
    assert!(marker.await.is_err(), "no window committed by the function");

    // The schedule's last closed hour, above the threshold.
    let schedule = serde_json::json!({"version": "0", "id": "x", "detail-type": "Scheduled Event",
        "source": "aws.events", "time": now.to_rfc3339(), "detail": {}});
    let last_hour = Window::new(all.end - Duration::hours(1), all.end).unwrap();
    let window_of = |windows: &[TargetWindow]| (windows[0].outcome.window, windows[0].outcome.decision);
    let handed = app.handle(schedule.clone(), now, "run-1").await.expect("schedule");
    assert_eq!(window_of(&handed.windows), (last_hour, WindowDecision::Distributed));
    let hour_run = run_name(&target, &last_hour, 0);
    assert_eq!(handed.windows[0].outcome.run.as_deref(), Some(hour_run.as_str()));
    ended(&hour_run).await;
    let failed = app.handle(schedule.clone(), now, "run-2").await.unwrap_err();
    assert!(format!("{failed}").contains("ended without committing"), "{failed}");
    let retried = app.handle(schedule, now, "run-3").await.expect("schedule");
    assert_eq!(window_of(&retried.windows), (last_hour, WindowDecision::Distributed));
    assert_eq!(retried.windows[0].outcome.run, Some(run_name(&target, &last_hour, 1)));
    deployment.check();
}
