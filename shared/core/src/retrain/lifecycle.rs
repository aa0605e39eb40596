//! The retraining loop, sequenced over ports: launch a training job when the policy says so, register what it
//! produced as a model version, deploy an approved version blue/green, follow the deployment to its end, and
//! roll back. Every decision is a pure function ([`decide_retraining`](super::decide_retraining), [`decide_approval`],
//! [`judge_deployment`]); the ports only carry them out.
//!
//! Each step is safe to repeat: the state objects are written with compare-and-set before the call they
//! protect (`CreateTrainingJob`, `UpdateEndpoint`), so two handlers woken by the same alarm, or one event
//! delivered three times, act once. `CreateModelPackage` carries an idempotency token derived from the job.
//!
//! The steps live in their own modules ([`ports`](super::ports), [`launch`](super::launch),
//! [`register`](super::register), [`deploy`](super::deploy), [`rollback`](super::rollback), and the verdicts in
//! [`verdicts`](super::verdicts)); this module gathers them under the one path the functions use,
//! `retrain::lifecycle::X`.

pub use super::deploy::{
    DeployOutcome, Ended, baseline_request, deploy_package, deploy_pending, reconcile, reconcile_then,
};
pub use super::launch::{
    LaunchOutcome, LaunchReport, MAX_LOOKBACK_WINDOWS, check_and_launch, lookback_windows, read_signals,
};
pub use super::ports::{
    Approval, Context, LabelledDataPort, LifecycleError, ManifestChannel, ModelPort, NewModel, PackageView,
    RegisterRequest, RegistryPort, RetrainPorts, ServingModel, TrainingJobView, TrainingPort, TrainingRequest,
    history_key, retrain_history, variant_model, version_history, versions_key,
};
pub use super::register::{
    LAUNCH_GRACE_MINUTES, MAX_PACKAGE_DESCRIPTION, METADATA_PREFIX, TrainingReport, metric_key, on_training_job,
};
pub use super::rollback::{RollbackReport, rollback};
pub use super::verdicts::{ApprovalDecision, DEPLOY_GRACE_MINUTES, decide_approval, judge_deployment};
pub use crate::scaling::endpoint::{EndpointPort, EndpointView};
