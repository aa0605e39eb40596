//! What the emulators cannot produce, with `aws-smithy-mocks`: throttling, a 5xx on one batch of
//! `PutMetricData`, an object that disappears between the listing and the read, listing pagination, and a lost
//! conditional write.

use aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataOutput;
use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::Object;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use chrono::TimeZone;
use modelwatch_aws::cloudwatch::CloudWatchSink;
use modelwatch_aws::s3::{S3CaptureSource, S3StateStore};
use modelwatch_aws::testing::runtime;
use modelwatch_core::baseline::Baseline;
use modelwatch_core::evaluate::{EvaluationConfig, Sources, evaluate_window};
use modelwatch_core::metrics::{MetricDatum, MetricScope, Unit};
use modelwatch_core::ports::{CaptureSource, MetricSink, PortErrorKind, StateStore};
use modelwatch_core::profile::DatasetProfile;

/// A runtime for the adapters' futures; the ports are called from this (non-runtime) test thread.
fn data(n: usize) -> Vec<MetricDatum> {
    let scope = MetricScope {
        endpoint: "ep".into(),
        schedule: "s".into(),
        timestamp: chrono::Utc.with_ymd_and_hms(2024, 5, 1, 14, 0, 0).unwrap(),
    };
    (0..n)
        .map(|i| scope.datum("aws/sagemaker/Endpoints/data-metrics", format!("m{i}"), 1.0, Unit::None))
        .collect()
}

const SLOW_DOWN: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";

#[test]
fn a_5xx_on_one_batch_is_retried_and_nothing_is_lost() {
    let rt = runtime();
    let rule = mock!(aws_sdk_cloudwatch::Client::put_metric_data)
        .sequence()
        .output(|| PutMetricDataOutput::builder().build())
        .http_status(503, None)
        .output(|| PutMetricDataOutput::builder().build())
        .times(2)
        .build();
    let client = mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, &[&rule], |c| c
        .retry_config(modelwatch_aws::config::retry_config()));
    let sink = CloudWatchSink::new(client, rt.handle().clone(), None);
    sink.publish(&data(2500)).expect("the 503 is retried");
    // Three batches (1000, 1000, 500), the second sent twice.
    assert_eq!(rule.num_calls(), 4);
}

#[test]
fn a_batch_failing_after_every_retry_fails_the_run_but_the_others_are_sent() {
    let rt = runtime();
    let rule = mock!(aws_sdk_cloudwatch::Client::put_metric_data)
        .sequence()
        .output(|| PutMetricDataOutput::builder().build())
        .http_status(500, None)
        .times(modelwatch_aws::config::MAX_ATTEMPTS as usize)
        .output(|| PutMetricDataOutput::builder().build())
        .build();
    let client = mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, &[&rule], |c| c
        .retry_config(modelwatch_aws::config::retry_config()));
    let sink = CloudWatchSink::new(client, rt.handle().clone(), Some("Custom".into()));
    let error = sink.publish(&data(2500)).unwrap_err();
    assert!(error.resource.contains("Custom/data-metrics"), "{}", error.resource);
    assert!(error.resource.contains("1 of 3 batches failed"), "{}", error.resource);
    assert_eq!(rule.num_calls(), 1 + modelwatch_aws::config::MAX_ATTEMPTS as usize + 1);
}

fn capture_line(x: f64) -> String {
    serde_json::json!({
        "captureData": {
            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": format!("{x},a"), "encoding": "CSV"},
            "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": "0.5", "encoding": "CSV"}
        },
        "eventMetadata": {"eventId": format!("id-{x}"), "inferenceTime": "2024-05-01T13:10:00Z"},
        "eventVersion": "0"
    })
    .to_string()
}

fn object(key: &str) -> Object {
    Object::builder().key(key).size(100).build()
}

#[test]
fn listing_follows_pages_throttling_is_retried_and_a_vanished_object_is_reported() {
    let rt = runtime();
    let prefix = "dc/ep/v/2024/05/01/13/";
    let page_one = mock!(aws_sdk_s3::Client::list_objects_v2)
        .match_requests(|r| r.continuation_token().is_none())
        .then_output(move || {
            ListObjectsV2Output::builder()
                .contents(object(&format!("{prefix}a.jsonl")))
                .contents(object(&format!("{prefix}notes.txt")))
                .is_truncated(true)
                .next_continuation_token("page-2")
                .build()
        });
    let page_two = mock!(aws_sdk_s3::Client::list_objects_v2)
        .match_requests(|r| r.continuation_token() == Some("page-2"))
        .then_output(move || {
            ListObjectsV2Output::builder()
                .contents(object(&format!("{prefix}b.jsonl.gz")))
                .contents(object(&format!("{prefix}c.jsonl")))
                .is_truncated(false)
                .build()
        });
    // a.jsonl vanished after the listing; b.jsonl.gz is throttled once (S3's SlowDown), then read.
    let vanished = mock!(aws_sdk_s3::Client::get_object)
        .match_requests(|r| r.key().is_some_and(|k| k.ends_with("a.jsonl")))
        .then_error(|| {
            // With its code, as S3's answer carries it (the kind of an error is read from its code).
            let meta = aws_sdk_s3::error::ErrorMetadata::builder()
                .code("NoSuchKey")
                .message("The specified key does not exist.")
                .build();
            GetObjectError::NoSuchKey(aws_sdk_s3::types::error::NoSuchKey::builder().meta(meta).build())
        });
    let gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        writeln!(e, "{}\n{}", capture_line(1.0), capture_line(2.0)).unwrap();
        e.finish().unwrap()
    };
    let throttled = mock!(aws_sdk_s3::Client::get_object)
        .match_requests(|r| r.key().is_some_and(|k| k.ends_with("b.jsonl.gz")))
        .sequence()
        .http_status(503, Some(SLOW_DOWN.to_owned()))
        .output(move || GetObjectOutput::builder().body(ByteStream::from(gz.clone())).build())
        .build();
    let plain = mock!(aws_sdk_s3::Client::get_object)
        .match_requests(|r| r.key().is_some_and(|k| k.ends_with("c.jsonl")))
        .then_output(|| {
            GetObjectOutput::builder()
                .body(ByteStream::from(capture_line(3.0).into_bytes()))
                .build()
        });
    let client = mock_client!(
        aws_sdk_s3,
        RuleMode::MatchAny,
        &[&page_one, &page_two, &vanished, &throttled, &plain],
        |c| c.retry_config(modelwatch_aws::config::retry_config())
    );
    let source = S3CaptureSource::new(client, rt.handle().clone(), "s3://bucket/dc/ep/v".parse().unwrap());
    let window = modelwatch_core::window::Window::new(
        chrono::Utc.with_ymd_and_hms(2024, 5, 1, 13, 0, 0).unwrap(),
        chrono::Utc.with_ymd_and_hms(2024, 5, 1, 14, 0, 0).unwrap(),
    )
    .unwrap();
    let names: Vec<String> = source
        .list(Some(&window))
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(
        names,
        vec![
            format!("s3://bucket/{prefix}a.jsonl"),
            format!("s3://bucket/{prefix}b.jsonl.gz"),
            format!("s3://bucket/{prefix}c.jsonl"),
        ]
    );
    assert_eq!((page_one.num_calls(), page_two.num_calls()), (1, 1));

    let baseline = Baseline::from_profile(&DatasetProfile::new([("x".to_owned(), None), ("s".to_owned(), None)]));
    let sources = Sources {
        captures: &source,
        ground_truth: None,
        quality_constraints: None,
        estimate: None,
        partials: None,
    };
    let scope = MetricScope {
        endpoint: "ep".into(),
        schedule: "s".into(),
        timestamp: window.end,
    };
    let evaluation = evaluate_window(
        &sources,
        Some(&window),
        &baseline,
        &EvaluationConfig::default(),
        &scope,
        &mut |_, _, _| {},
    )
    .unwrap();
    assert_eq!(evaluation.summary.files, 3);
    assert_eq!(evaluation.summary.failed_files, 1);
    assert_eq!(evaluation.summary.rows, 3, "b's two rows and c's one");
    let failed = evaluation.files.iter().find(|f| f.error.is_some()).unwrap();
    assert!(failed.name.ends_with("a.jsonl"));
    assert!(
        failed.error.as_deref().unwrap().contains("NoSuchKey"),
        "{:?}",
        failed.error
    );
    assert_eq!(throttled.num_calls(), 2, "SlowDown retried once");
}

#[test]
fn a_lost_conditional_write_is_a_conflict() {
    let rt = runtime();
    let rule = mock!(aws_sdk_s3::Client::put_object).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(412).unwrap(),
            aws_smithy_types::body::SdkBody::from(
                "<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>",
            ),
        )
    });
    let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, &[&rule]);
    let store = S3StateStore::new(client, rt.handle().clone(), "s3://bucket/state".parse().unwrap());
    let error = store.put_if("ep/v/windows/x.json", b"{}", None).unwrap_err();
    assert_eq!(error.kind, PortErrorKind::Conflict);
    assert!(error.resource.contains("s3://bucket/state/ep/v/windows/x.json"));
}
