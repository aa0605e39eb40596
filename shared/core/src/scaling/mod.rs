//! Endpoint autoscaling: the policy, the decision and the fleet simulator.
//!
//! # Layout
//!
//! - [`policy`]: the per-variant policy file (limits, target, cooldowns, windows, steps, forecast, schedules,
//!   missing-metrics handling, vertical ladder, asynchronous backlog).
//! - [`observed`]: what one run sees: per-minute CloudWatch metrics and the variant's state.
//! - [`decision`]: the vocabulary of a decision: the `Action`, the `Rule` that settled it, the `Reason`s behind
//!   it, and the `Decision` that carries them.
//! - [`history`]: what is kept between runs, bounded, with the seasonal profile the forecast reads.
//! - [`decide`](mod@decide): `decide(&Observed, &Policy, &History) -> Decision`, the rules in their order.
//! - [`cron`]: the 5-field cron subset and fixed UTC offsets for scheduled minimums.
//! - [`catalogue`]: a small built-in catalogue of `ml.*` instance types with approximate prices.
//! - [`target_tracking`]: an emulation of Application Auto Scaling target tracking, for comparison.
//! - [`queue`]: the simulated endpoint's request queue: waits, the 60-second invocation timeout (an
//!   asynchronous request's time to live), drops.
//! - [`simulate`]: traces, the fleet model, the replay loop, the summary and the cost-against-delay sweep.
//! - [`serving`]: real-time, asynchronous or batch transform: each priced on a trace for a latency tolerance.
//! - [`plot`]: the simulator's SVG plots: the timeline (downsampled, readable over weeks) and the frontier.
//! - [`endpoint`]: the one SageMaker endpoint port, shared with the retraining loop, and its views (the endpoint
//!   and configuration as described), and the one metric query per run.
//! - [`autoscaling`]: an Application Auto Scaling registration, whether it controls the count, and whether it
//!   can be restored after a type change.
//! - [`controller`]: the scaling function's use case: its ports, the pure plan of calls, the state kept
//!   between runs, and one run (observe, decide, claim, act, record, publish).

pub mod autoscaling;
pub mod catalogue;
pub mod controller;
pub mod cron;
pub mod decide;
pub mod decision;
pub mod endpoint;
pub mod history;
pub mod observed;
pub mod plot;
pub mod policy;
pub mod queue;
pub mod serving;
pub mod simulate;
pub mod target_tracking;

pub use decide::decide;
pub use decision::{Action, Decision, Reason, Rule};
pub use history::History;
pub use observed::{MetricsFetch, MinuteMetrics, Observed, VariantState, VariantStatus};
pub use policy::{Policy, PolicyError};

#[cfg(test)]
mod controller_tests;
#[cfg(test)]
mod decide_tests;
