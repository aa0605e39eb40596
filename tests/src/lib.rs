//! Shared set-up of the end-to-end tests: the emulator stack's endpoint, SDK clients pointed at it, fresh buckets
//! and queues, SageMaker models, configurations and endpoints created in the emulator and waited for, and the demo
//! endpoint's files uploaded to a fresh bucket.
//!
//! The stack is started by `scripts/test.sh` (or `scripts/teststack/stack.sh start`), which writes
//! `.local/teststack.env`; these tests read the endpoint from `AWS_ENDPOINT_URL` or from that file, and fail with
//! a message saying how to start the stack when neither is there.
//!
//! - [`template`]: `infra/template.yaml` resolved for a set of parameters;
//! - [`iam`]: a function deployed as the template deploys it, and the check of its calls against its role;
//! - [`proxy`]: faults of the stack's endpoint as one function sees it (an outage, S3's own error answers).

pub mod iam;
pub mod proxy;
pub mod template;

use std::path::PathBuf;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sagemaker::operation::describe_endpoint::DescribeEndpointOutput;
use aws_sdk_sagemaker::types::{ContainerDefinition, DataCaptureConfig, EndpointStatus};
use aws_sdk_sqs::types::QueueAttributeName;
use modelwatch_aws::testing::variant;
use modelwatch_core::baseline::{Baseline, CONSTRAINTS_FILE, STATISTICS_FILE};
use modelwatch_core::demo::{self, DemoData};
use modelwatch_core::testing::DemoCase;
use modelwatch_core::window::truncate_to_hour;

/// The execution role of the models the tests create (the emulator does not check it).
pub const MODEL_ROLE: &str = "arn:aws:iam::000000000000:role/modelwatch-model";

/// The emulator's endpoint URL.
pub fn endpoint() -> String {
    teststack_env("AWS_ENDPOINT_URL")
}

/// A variable of the running stack's environment: from the process's environment (`scripts/test.sh` exports
/// them), else from `.local/teststack.env`; fails with a message saying how to start the stack when neither has it.
pub fn teststack_env(name: &str) -> String {
    local_env(
        "teststack.env",
        name,
        "the AWS emulator stack is not running: run `bash scripts/test.sh`, or `bash scripts/teststack/stack.sh \
         install && bash scripts/teststack/stack.sh start`",
    )
}

/// A variable that a script of the test command wrote into `.local/{file}` (`NAME=value` lines) for the tests: from
/// the process's environment (`scripts/test.sh` exports them), else from the file; fails saying `how_to_start`
/// when neither has it.
pub fn local_env(file: &str, name: &str, how_to_start: &str) -> String {
    if let Ok(value) = std::env::var(name) {
        return value;
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.local").join(file);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{} is missing: {how_to_start}", path.display()));
    text.lines()
        .find_map(|l| l.trim().trim_start_matches("export ").strip_prefix(&format!("{name}=")))
        .map(|v| v.trim_matches('"').to_owned())
        .unwrap_or_else(|| panic!("{} names no {name}: {how_to_start}", path.display()))
}

/// An SDK configuration for the emulator, with the test credentials and the SDK's retry configuration.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "teststack"))
        .retry_config(modelwatch_aws::config::retry_config())
        .load()
        .await
}

/// A name no earlier run used.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos();
    format!("{prefix}-{}", nanos % 1_000_000_000_000)
}

/// A fresh bucket, named after `prefix`.
pub async fn bucket(s3: &aws_sdk_s3::Client, prefix: &str) -> String {
    let bucket = unique(prefix);
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("creating bucket {bucket}: {e:?}"));
    bucket
}

/// A fresh SQS queue named after `prefix`: its URL and ARN.
pub async fn queue(sqs: &aws_sdk_sqs::Client, prefix: &str) -> (String, String) {
    let created = sqs
        .create_queue()
        .queue_name(unique(prefix))
        .send()
        .await
        .expect("CreateQueue");
    let url = created.queue_url().expect("a queue URL").to_owned();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("the queue's ARN");
    (url, arn)
}

/// SageMaker model `name` serving `container`, run by [`MODEL_ROLE`].
pub async fn create_model(sm: &aws_sdk_sagemaker::Client, name: &str, container: ContainerDefinition) {
    sm.create_model()
        .model_name(name)
        .execution_role_arn(MODEL_ROLE)
        .primary_container(container)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateModel {name}: {e:?}"));
}

/// Endpoint configuration `name` of `(variant, instances, weight)` on `ml.m5.large`, all serving `model`, with
/// `capture` when given.
pub async fn create_endpoint_config(
    sm: &aws_sdk_sagemaker::Client,
    name: &str,
    model: &str,
    variants: &[(&str, i32, f32)],
    capture: Option<DataCaptureConfig>,
) {
    let variants = variants
        .iter()
        .map(|&(variant_name, count, weight)| variant(variant_name, model, count, weight))
        .collect();
    sm.create_endpoint_config()
        .endpoint_config_name(name)
        .set_production_variants(Some(variants))
        .set_data_capture_config(capture)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateEndpointConfig {name}: {e:?}"));
}

/// Endpoint `name` on configuration `config`, checked `InService` (the emulator creates it at once).
pub async fn create_endpoint(sm: &aws_sdk_sagemaker::Client, name: &str, config: &str) {
    sm.create_endpoint()
        .endpoint_name(name)
        .endpoint_config_name(config)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateEndpoint {name}: {e:?}"));
    assert_eq!(endpoint_status(sm, name).await.0, EndpointStatus::InService);
}

/// Endpoint `endpoint` serving `container` from model `{endpoint}-model` and configuration `{endpoint}-config` of
/// `(variant, instances, weight)` (see [`create_endpoint_config`]).
pub async fn serving_endpoint(
    sm: &aws_sdk_sagemaker::Client,
    endpoint: &str,
    container: ContainerDefinition,
    variants: &[(&str, i32, f32)],
    capture: Option<DataCaptureConfig>,
) {
    let (model, config) = (format!("{endpoint}-model"), format!("{endpoint}-config"));
    create_model(sm, &model, container).await;
    create_endpoint_config(sm, &config, &model, variants, capture).await;
    create_endpoint(sm, endpoint, &config).await;
}

/// `DescribeEndpoint`'s answer.
pub async fn describe_endpoint(sm: &aws_sdk_sagemaker::Client, endpoint: &str) -> DescribeEndpointOutput {
    sm.describe_endpoint()
        .endpoint_name(endpoint)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DescribeEndpoint {endpoint}: {e:?}"))
}

/// The endpoint's status and the configuration it runs, as `DescribeEndpoint` reports them.
pub async fn endpoint_status(sm: &aws_sdk_sagemaker::Client, endpoint: &str) -> (EndpointStatus, String) {
    let d = describe_endpoint(sm, endpoint).await;
    (
        d.endpoint_status().cloned().expect("a status"),
        d.endpoint_config_name().unwrap_or_default().to_owned(),
    )
}

/// The configuration the endpoint runs once it is `InService` again, asked every 250 ms.
///
/// # Panics
///
/// When the endpoint is not `InService` within 60 s.
pub async fn settled_config(sm: &aws_sdk_sagemaker::Client, endpoint: &str) -> String {
    // The stack keeps an endpoint `Updating` for a while after a change, as AWS does
    // (MODELWATCH_TESTSTACK_UPDATE_SECONDS, 4 s by default).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let (status, config) = endpoint_status(sm, endpoint).await;
        if status == EndpointStatus::InService {
            return config;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    panic!("endpoint {endpoint} did not return to InService in 60 s")
}

/// Writes an object.
pub async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: impl Into<Vec<u8>>) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.into()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("putting s3://{bucket}/{key}: {e:?}"));
}

/// Reads an object whole.
pub async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("getting s3://{bucket}/{key}: {e:?}"));
    out.body.collect().await.expect("body").to_vec()
}

/// The demo endpoint in a fresh bucket: captures under `datacapture/`, ground truth under
/// `ground-truth/{endpoint}/`, and the baseline profiled from its training set under
/// `baselines/{endpoint}/{variant}/`. Its hours are the last ones ending two hours before the current one:
/// CloudWatch takes no data stamped more than two weeks back, and neither does the test stack.
pub struct DemoBucket {
    pub bucket: String,
    /// The `MonitoringSchedule` dimension of this run's metrics: unique, as the demo's hours are fixed.
    pub schedule: String,
    pub data: DemoData,
    pub baseline: Baseline,
}

impl DemoBucket {
    /// Creates the bucket and uploads the demo, with the baseline profiled from its training set
    /// ([`DemoCase::training`]).
    pub async fn create(s3: &aws_sdk_s3::Client) -> Self {
        let start = truncate_to_hour(chrono::Utc::now()) - chrono::Duration::hours(demo::HOURS as i64 + 2);
        Self::create_from(s3, start).await
    }

    /// [`Self::create`] with the demo's first hour at `start`.
    pub async fn create_from(s3: &aws_sdk_s3::Client, start: chrono::DateTime<chrono::Utc>) -> Self {
        let bucket = bucket(s3, "mw-e2e").await;
        let DemoCase { data, baseline, .. } = DemoCase::training_from(start);
        for (path, body) in &data.captures {
            put(s3, &bucket, &format!("datacapture/{path}"), body.as_bytes()).await;
        }
        for (path, body) in &data.ground_truth {
            put(s3, &bucket, &format!("ground-truth/{path}"), body.as_bytes()).await;
        }
        let folder = format!("baselines/{}/{}", demo::ENDPOINT, demo::VARIANT);
        let statistics = serde_json::to_vec_pretty(&baseline.statistics).expect("plain data");
        let constraints = serde_json::to_vec_pretty(&baseline.constraints).expect("plain data");
        put(s3, &bucket, &format!("{folder}/{STATISTICS_FILE}"), statistics).await;
        put(s3, &bucket, &format!("{folder}/{CONSTRAINTS_FILE}"), constraints).await;
        Self {
            schedule: unique("e2e-hourly"),
            bucket,
            data,
            baseline,
        }
    }

    /// The function's environment for this bucket.
    pub fn env(&self) -> std::collections::HashMap<String, String> {
        let b = &self.bucket;
        [
            ("ENDPOINTS", format!("{}/{}", demo::ENDPOINT, demo::VARIANT)),
            ("CAPTURE_S3_URI", format!("s3://{b}/datacapture")),
            (
                "BASELINE_S3_URI",
                format!("s3://{b}/baselines/{{endpoint}}/{{variant}}"),
            ),
            ("REPORT_S3_URI", format!("s3://{b}/reports")),
            ("STATE_S3_URI", format!("s3://{b}/state")),
            ("GROUND_TRUTH_S3_URI", format!("s3://{b}/ground-truth/{{endpoint}}")),
            ("SCHEDULE_NAME", self.schedule.clone()),
            (
                "EVALUATION_CONFIG",
                r#"{"quality": {"problem_type": "BinaryClassification"}}"#.to_owned(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}
