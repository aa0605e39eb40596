//! The end-to-end tests, one module per function (and the template), in one test binary: each of these links the
//! AWS SDKs, so one binary links them once instead of six times, and its tests, which mostly wait on the emulators,
//! run side by side rather than one file after another. They share nothing but the stack: every test makes its own
//! bucket, endpoint and access key (`modelwatch_e2e::unique`).
//!
//! One module: `cargo test -p modelwatch-e2e --test e2e scale_endpoint::` (emulator stack running).

mod cargo_lambda;
mod evaluate_captures;
mod infra;
mod launch_retraining;
mod scale_endpoint;
mod suggest_baseline;
