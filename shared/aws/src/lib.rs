//! The AWS adapters of modelwatch: the core's ports over S3 and CloudWatch, built on the official SDK crates.
//!
//! The core is synchronous and runtime-free; these adapters hold a Tokio runtime handle and block on the SDK's
//! futures, so they must be called from a thread that may block (the Lambda functions run the core inside
//! `tokio::task::spawn_blocking`). Nothing here decides anything: the core does.
//!
//! # Layout
//!
//! - [`config`]: the SDK configuration, loaded once per process (region, endpoint overrides, retries).
//! - [`error`]: SDK errors mapped to the core's [`PortError`](modelwatch_core::ports::PortError), cause kept.
//! - [`logs`]: the functions' JSON logs, set up once per process.
//! - [`s3`]: S3 locations; the capture source, the report store and the state store.
//! - [`cloudwatch`]: the metric sink, batching within `PutMetricData`'s limits.
//!
//! With feature `scaling` (only the scaling function needs them, so the others neither compile nor ship the
//! SageMaker SDK):
//!
//! - `endpoint_metrics`: an endpoint variant's CloudWatch metrics, read with one `GetMetricData` call.
//! - `sagemaker`: the endpoint controller: describe, count changes, configuration copies, blue/green updates.
//! - `autoscaling`: Application Auto Scaling registrations of variants, removed and restored.

#[cfg(feature = "scaling")]
pub mod autoscaling;
pub mod cloudwatch;
pub mod config;
#[cfg(feature = "scaling")]
pub mod endpoint_metrics;
pub mod error;
pub mod logs;
pub mod s3;
#[cfg(feature = "scaling")]
pub mod sagemaker;
