//! The `suggest-baseline` Lambda function: an event names a data set in S3 (CSV with or without header, or
//! Parquet) and a baseline folder; the function writes Model Monitor's `statistics.json` and `constraints.json`
//! there, and with a problem type the model-quality baseline and CBPE calibration in `model-quality/`.
//!
//! # Layout
//!
//! - [`handler`]: the event read as the core's [`BaselineRequest`], download to the function's temporary storage,
//!   the core's `suggest`, the files written to S3.
//!
//! `main.rs` only wires the runtime.

pub mod handler;

pub use modelwatch_core::suggest_request::BaselineRequest;
