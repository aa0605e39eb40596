//! Retraining when the model degrades, and the versions it produces: the pure decisions, no AWS.
//!
//! The launching function sequences them: it reads the model's [`RetrainHistory`] (with its version) and the
//! recent windows' [`Signals`], calls [`decide_retraining`]; on `Launch` it derives the job's name with
//! [`training_job_name`], records the launch with [`RetrainHistory::record_launch`] and writes the history back
//! with a compare-and-set. Only a handler whose write lands calls `CreateTrainingJob` (with [`lineage_tags`]);
//! one that loses re-reads and decides again, and holds on the job now in progress. A failed `CreateTrainingJob`
//! is recorded as `Failed` with zero hours, so it does not block the next launch.
//!
//! # Layout
//!
//! - [`policy`]: the per-model policy file: which checks count (and the `Check` they name), windows in a row,
//!   interval, budget.
//! - [`signals`]: what one evaluated window showed (violations, drift, model quality against its thresholds).
//! - [`history`]: the launches of a model, their status and hours, and the monthly budget's accounting.
//! - [`decide`]: `decide_retraining(&Signals, &RetrainPolicy, &RetrainHistory, now) -> RetrainDecision`, with reasons.
//! - [`naming`]: the training job's name and its lineage tags, within SageMaker's limits.
//! - [`versions`]: the endpoint's version history, rollback targets and the `modelwatch history` rendering.
//! - [`settings`]: an endpoint's retraining file: the policy, how to train, register and deploy.
//! - [`verdicts`]: the loop's other decisions: `decide_approval` (is a new version approved?) and
//!   `judge_deployment` (how did the deployment in progress end?).
//! - [`ports`]: the loop's port traits and views (the endpoint's is the scaler's `EndpointPort`), `RetrainPorts`,
//!   `Context`, `LifecycleError`, the state keys and their read and compare-and-set helpers.
//! - [`launch`]: the windows' signals read back, the decision, the launch recorded, `CreateTrainingJob`.
//! - [`clone`]: what the new training job must not inherit from the template job it clones (metric definitions of
//!   built-in algorithms, the template's checkpoint and model locations).
//! - [`register`]: a training job followed to its end and its model registered as a version.
//! - [`deploy`]: an approved version deployed blue/green, and the deployment followed to its end.
//! - [`rollback`]: the endpoint returned to a version that served before.
//! - [`lifecycle`]: the loop's public surface: every step above under one path, `retrain::lifecycle::X`.

pub mod clone;
pub mod decide;
pub mod deploy;
pub mod history;
pub mod launch;
pub mod lifecycle;
pub mod naming;
pub mod policy;
pub mod ports;
pub mod register;
pub mod rollback;
pub mod settings;
pub mod signals;
pub mod verdicts;
pub mod versions;

pub use decide::{Reason, RetrainDecision, decide_retraining};
pub use history::{JobStatus, LaunchRecord, RetrainHistory, RetrainHistoryError};
pub use naming::{LaunchTags, Lineage, Tag, is_valid_training_job_name, lineage_tags, training_job_name};
pub use policy::{Check, RetrainPolicy, RetrainPolicyError};
pub use signals::{DataQualitySignal, QualitySignal, Signals, WindowSignals};
pub use versions::{
    ChangeCause, Deployment, DeploymentRecord, DeploymentStatus, Outcome, RollbackError, VersionError, VersionHistory,
};

#[cfg(test)]
mod decide_tests;
#[cfg(test)]
mod lifecycle_tests;
