//! The `scale-endpoint` Lambda function: every minute (EventBridge schedule), scales each configured SageMaker
//! endpoint variant by its policy, horizontally (`UpdateEndpointWeightsAndCapacities`) and vertically (a copied
//! endpoint configuration on another instance type, deployed blue/green with auto-rollback alarms), stepping
//! around Application Auto Scaling as configured.
//!
//! # Layout
//!
//! - [`config`]: the environment variables, parsed once into a typed configuration.
//! - [`event`]: what invoked the function (the schedule, or a manual `{}`).
//! - [`handler`]: the invocation: the policy read, the core's controller run on a blocking thread with the
//!   adapters, each decision logged as one structured event.
//!
//! `main.rs` only wires the runtime. Every decision is the core's (`modelwatch_core::scaling`).

pub mod config;
pub mod event;
pub mod handler;
