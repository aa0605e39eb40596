//! The `launch-retraining` Lambda function: closes the loop from a degraded model to a new version serving
//! traffic. Woken by the retraining SNS topic (CloudWatch alarms), by the evaluator's committed windows and by
//! SageMaker's own events, it launches a training job when the endpoint's retraining policy says so (at most
//! one, however many notifications arrive), registers the trained model as a version in the Model Package
//! Group, deploys an approved version blue/green with auto-rollback, records how the deployment ended, and
//! rolls back on request.
//!
//! # Layout
//!
//! - [`config`]: the environment variables, parsed once into a typed configuration.
//! - [`event`]: what invoked the function, classified.
//! - [`events`]: what it sends: a new version's baseline request, routed to `suggest-baseline`.
//! - [`handler`]: the invocation: each endpoint's retraining file read, the core's step run on a blocking
//!   thread with the SageMaker and S3 adapters, each result logged as one structured event.
//!
//! `main.rs` only wires the runtime. Every decision is the core's (`modelwatch_core::retrain`).

pub mod config;
pub mod event;
pub mod events;
pub mod handler;
