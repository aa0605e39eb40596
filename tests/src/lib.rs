//! Shared set-up of the end-to-end tests: the emulator stack's endpoint, SDK clients pointed at it, and the
//! demo endpoint's files uploaded to a fresh bucket.
//!
//! The stack is started by `scripts/test.sh` (or `scripts/teststack/stack.sh start`), which writes
//! `.local/teststack.env`; these tests read the endpoint from `AWS_ENDPOINT_URL` or from that file, and fail with
//! a message saying how to start the stack when neither is there.

use std::path::PathBuf;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::primitives::ByteStream;
use modelwatch_core::baseline::{Baseline, CONSTRAINTS_FILE, STATISTICS_FILE};
use modelwatch_core::dataset::{DatasetOptions, profile_dataset};
use modelwatch_core::demo::{self, DemoData};

/// The emulator's endpoint URL.
pub fn endpoint() -> String {
    if let Ok(url) = std::env::var("AWS_ENDPOINT_URL") {
        return url;
    }
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.local/teststack.env");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|_| {
        panic!(
            "the AWS emulator stack is not running ({} is missing): run `bash scripts/test.sh`, or \
             `bash scripts/teststack/stack.sh install && bash scripts/teststack/stack.sh start`",
            file.display()
        )
    });
    text.lines()
        .find_map(|l| l.trim().trim_start_matches("export ").strip_prefix("AWS_ENDPOINT_URL="))
        .map(|v| v.trim_matches('"').to_owned())
        .expect("teststack.env names AWS_ENDPOINT_URL")
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
/// `baselines/{endpoint}/{variant}/`.
pub struct DemoBucket {
    pub bucket: String,
    /// The `MonitoringSchedule` dimension of this run's metrics: unique, as the demo's hours are fixed.
    pub schedule: String,
    pub data: DemoData,
    pub baseline: Baseline,
}

impl DemoBucket {
    /// Creates the bucket and uploads the demo.
    pub async fn create(s3: &aws_sdk_s3::Client) -> Self {
        let bucket = unique("mw-e2e");
        s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");
        let data = demo::generate();
        for (path, body) in &data.captures {
            put(s3, &bucket, &format!("datacapture/{path}"), body.as_bytes()).await;
        }
        for (path, body) in &data.ground_truth {
            put(s3, &bucket, &format!("ground-truth/{path}"), body.as_bytes()).await;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let training = dir.path().join("training.csv");
        std::fs::write(&training, &data.training_csv).expect("write training set");
        let profile = profile_dataset(
            &training,
            &DatasetOptions {
                has_header: true,
                label_column: Some(demo::LABEL.to_owned()),
                prediction_column: None,
            },
        )
        .expect("profile the training set");
        let baseline = Baseline::from_profile(&profile);
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
