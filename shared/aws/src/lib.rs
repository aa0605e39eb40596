//! The AWS adapters of modelwatch: the core's ports over S3 and CloudWatch, built on the official SDK crates.
//!
//! The core is synchronous and runtime-free; these adapters hold a Tokio runtime handle and block on the SDK's
//! futures, so they must be called from a thread that may block (the Lambda functions run the core inside
//! `tokio::task::spawn_blocking`). Nothing here decides anything: the core does.
//!
//! # Layout
//!
//! - [`config`]: the SDK configuration, loaded once per process (region, endpoint overrides, retries).
//! - [`env`]: environment variables into typed configuration, shared by the functions.
//! - [`error`]: SDK errors mapped to the core's [`PortError`](modelwatch_core::ports::PortError), cause kept.
//! - [`lambda`]: the functions' edge: errors classified retryable or bad input and mapped to Lambda's
//!   `Diagnostic`; the per-target loop of blocking jobs every handler runs.
//! - [`logs`]: the functions' JSON logs, set up once per process.
//! - [`s3`]: S3 locations; the capture source, the report store and the state store.
//! - [`cloudwatch`]: the metric sink, batching within `PutMetricData`'s limits.
//!
//! With feature `scaling` (only the scaling function needs them, so the others neither compile nor ship the
//! SageMaker SDK):
//!
//! - `endpoint_metrics`: an endpoint variant's CloudWatch metrics, read with one `GetMetricData` call.
//! - `sagemaker`: the one SageMaker endpoint adapter, shared with the retraining loop: describe (a missing
//!   endpoint or configuration is `NotFound`), configuration copies, blue/green updates; and the scaler's count
//!   changes.
//! - `autoscaling`: Application Auto Scaling registrations of variants, removed and restored.
//!
//! With feature `retrain` (only the retraining function needs it):
//!
//! - `retrain`: the retraining loop's ports: training jobs cloned from a template, model packages registered and
//!   described, and models copied with new model data.
//! - `sagemaker` (also compiled here: the retraining loop describes, copies and updates the endpoint through the
//!   scaler's adapter).
//!
//! With feature `distributed` (only evaluate-captures needs it):
//!
//! - `stepfunctions`: the distributed evaluation's runs, started as executions of the stack's state machine.
//!
//! With feature `test-util` (and in this crate's tests):
//!
//! - `testing`: the SDK objects the tests build, written once: endpoint and configuration descriptions of the
//!   core's views, data capture, the template training job, scalable targets and target-tracking policies.

#[cfg(feature = "scaling")]
pub mod autoscaling;
pub mod cloudwatch;
pub mod config;
#[cfg(feature = "scaling")]
pub mod endpoint_metrics;
pub mod env;
pub mod error;
pub mod lambda;
pub mod logs;
#[cfg(feature = "retrain")]
pub mod retrain;
pub mod s3;
#[cfg(any(feature = "scaling", feature = "retrain"))]
pub mod sagemaker;
#[cfg(feature = "distributed")]
pub mod stepfunctions;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
