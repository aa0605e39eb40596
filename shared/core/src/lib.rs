//! The pure core of modelwatch: everything that decides, nothing that talks to AWS.
//!
//! No AWS SDK, no Lambda runtime and no async runtime live here, so every function can be tested with plain
//! values, and the CLI, the Lambda functions and the simulators run the very same code.
//!
//! # Layout
//!
//! - [`capture`]: the streaming reader of SageMaker Data Capture JSON Lines, and its row and schema types.
//! - [`skip`]: the one skip report for bad input (counts by reason, first locations), of captures and ground truth.
//! - `json_scan`: the fast path of the capture and ground-truth readers for lines SageMaker wrote plainly (no
//!   escapes); serde_json reads every line it declines.
//! - [`payload`]: decoding of the CSV and JSON request and response bodies inside a capture record.
//! - [`sketch`]: the KLL quantile sketch (Model Monitor's own `kll` format) and the bounded heavy-hitter counter.
//! - [`profile`]: mergeable per-feature statistical profiles built in one streaming pass.
//! - [`baseline`]: Model Monitor's `statistics.json` and `constraints.json`, read and written.
//! - [`baseline_files`]: the one loader of a baseline folder (data baseline, model-quality constraints, CBPE
//!   calibration) over a read port.
//! - [`dataset`]: profiling a training data set (CSV or Parquet) in one streaming pass, typed as captures are
//!   typed (feature `datasets`).
//! - [`suggest`]: the baseline use case: a data set in, the data and model-quality baseline files out (`datasets`).
//! - [`suggest_request`]: the `suggest-baseline` request, typed and validated; a retraining file's `new_baseline`.
//! - [`drift`]: drift statistics, the per-feature method choice and its configuration.
//! - [`violations`]: the constraint checks, written as Model Monitor's `constraint_violations.json`.
//! - [`metric_limits`]: what CloudWatch accepts (name length, time range), decided before anything is sent.
//! - [`metrics`]: the CloudWatch data a run publishes, with Model Monitor's namespaces and metric names, and the
//!   encoding of a window's data-quality metrics.
//! - [`quality`]: ground truth, the join with captures, model-quality metrics and label-free estimates.
//! - [`history`]: per-window prediction history: the window summary, the seasonality-aware anomaly detector, and
//!   the history kept between runs with its compare-and-set update.
//! - [`scaling`]: the endpoint autoscaling policy and the fleet simulator.
//! - [`retrain`]: the retraining loop: when to retrain (policy, decision, budget), the endpoint's retraining file,
//!   job names and lineage tags, the version history, and the steps over ports (launch, register, deploy, roll back).
//! - [`ports`]: the traits the adapters implement (capture source, report store, metric sink, state store).
//! - [`memory`]: in-memory adapters of the ports, for tests and dry runs.
//! - [`evaluate`]: the monitoring use case that ties them together: its configuration, and the evaluator over the
//!   ports with what it produces.
//! - [`suggest_quality`]: the model-quality baseline of a labelled validation set (tolerance-loosened constraints,
//!   the CBPE calibration), without the data set readers; the baseline use case calls it.
//! - [`report`]: an evaluation's report files, the same names in a folder or under an S3 prefix.
//! - [`transform`]: SageMaker Batch Transform's data capture (manifests of the job's input and output objects) read
//!   as capture records, one input line joined with its output line.
//! - [`report_html`]: `report.html`, the evaluation drawn for a person (distributions, drift, violations, quality,
//!   prediction history), self-contained.
//! - [`monitor`]: the scheduled and S3-event runs: windows due, committed once, new files folded into their hour.
//! - [`distributed`]: windows too large for one invocation: a run's plan of batches, each read into a stored
//!   partial, each window reduced from all its partials and committed once.
//! - [`demo`]: the embedded synthetic endpoint that `modelwatch demo` writes and evaluates.
//! - [`state`]: small JSON state objects: one typed read, one compare-and-set update with jittered backoff.
//! - [`window`]: time windows and S3's hourly capture layout.
//! - `testing` (the crate's tests and feature `test-util` only): `realdata()`, the real third-party files beside
//!   the checkout, whose absence is a visible skip on a workstation and a failure in CI; `DemoCase`, the demo
//!   endpoint ready for a run; the scaling policy and endpoint views the controller's tests share.

pub mod baseline;
pub mod baseline_files;
pub mod capture;
#[cfg(feature = "datasets")]
pub mod dataset;
pub mod demo;
pub mod distributed;
pub mod drift;
pub mod evaluate;
pub mod history;
mod json_scan;
pub mod memory;
pub mod metric_limits;
pub mod metrics;
pub mod monitor;
pub mod payload;
pub mod ports;
pub mod profile;
pub mod quality;
pub mod report;
pub mod report_html;
pub mod retrain;
pub mod scaling;
pub mod sketch;
pub mod skip;
pub mod state;
#[cfg(feature = "datasets")]
pub mod suggest;
pub mod suggest_quality;
pub mod suggest_request;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
pub mod transform;
pub mod violations;
pub mod window;
