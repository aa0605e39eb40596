//! The `evaluate-captures` Lambda function: evaluates SageMaker Data Capture files against a Model Monitor
//! baseline on an EventBridge schedule, and folds each new capture file into its hour as S3 reports it.
//!
//! # Layout
//!
//! - [`config`]: the environment variables, parsed once into a typed configuration.
//! - [`event`]: what invoked the function (a schedule, an S3 notification, an EventBridge S3 event, a manual
//!   backfill), classified from the raw event.
//! - [`handler`]: the invocation: adapters built, the core's runs called on a blocking thread, the outcome returned.
//!
//! `main.rs` only wires the runtime.

pub mod config;
pub mod event;
pub mod handler;
