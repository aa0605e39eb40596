//! The SDK configuration, loaded once per process.
//!
//! Region, credentials and endpoint overrides come from the environment as for every AWS SDK
//! (`AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`, ...). Throttling and 5xx responses are retried by the
//! SDK's standard retry strategy: exponential backoff with full jitter, up to [`MAX_ATTEMPTS`] attempts.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;

/// Attempts per request, the first included (the SDK's standard mode defaults to 3; a monitoring run can afford
/// a little more patience than an interactive call).
pub const MAX_ATTEMPTS: u32 = 5;
/// The first backoff of the standard retry strategy (its default is 1 s).
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(200);

/// The retry configuration every client uses.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(INITIAL_BACKOFF)
}

/// Loads the configuration from the environment.
pub async fn load() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .load()
        .await
}

/// An S3 client for `config`. Path-style addressing is used when an endpoint override is set (emulators such as
/// LocalStack on `127.0.0.1` cannot serve virtual-hosted buckets) or when `MODELWATCH_S3_PATH_STYLE=true`.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let path_style = config.endpoint_url().is_some()
        || std::env::var("MODELWATCH_S3_PATH_STYLE").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    let s3 = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(path_style)
        .build();
    aws_sdk_s3::Client::from_conf(s3)
}

/// A CloudWatch client for `config`.
pub fn cloudwatch_client(config: &SdkConfig) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(config)
}
