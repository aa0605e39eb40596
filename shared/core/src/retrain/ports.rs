//! The retraining loop's ports and what they carry: the views SageMaker's answers are turned into, the requests
//! the loop sends, one port trait per capability (training, registry, models, labelled data; the endpoint is the
//! scaler's [`EndpointPort`]), the
//! [`RetrainPorts`] that bundle them, the [`Context`] the function is given, the [`LifecycleError`] of every
//! step, and the state keys with their read and compare-and-set helpers.
//!
//! State keys (in the state store shared with the evaluator; SageMaker names cannot hold `_`, so these never
//! collide with an endpoint's folder):
//! - `_retrain/{model}/history.json`: the model's [`RetrainHistory`].
//! - `_versions/{endpoint}.json`: the endpoint's [`VersionHistory`].

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::history::{JobStatus, RetrainHistory};
use super::naming::Tag;
use super::versions::VersionHistory;
use crate::ports::{PortError, PortErrorKind, StateStore, StateVersion};
use crate::scaling::endpoint::{ConfigView, EndpointPort};
use crate::state::{StateError, Step};

/// A training job as DescribeTrainingJob (and ListTags) show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingJobView {
    pub name: String,
    pub status: JobStatus,
    /// `FailureReason`.
    pub failure_reason: Option<String>,
    /// `BillableTimeInSeconds` (or `TrainingTimeInSeconds`) times the instance count, in hours.
    pub hours: Option<f64>,
    /// `ModelArtifacts.S3ModelArtifacts`.
    pub model_artifacts: Option<String>,
    /// `FinalMetricDataList`.
    pub final_metrics: BTreeMap<String, f64>,
    /// The job's tags.
    pub tags: Vec<Tag>,
}

/// A `CreateTrainingJob` request: the template job cloned with these changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRequest {
    pub job_name: String,
    /// The job whose description is cloned.
    pub template_job: String,
    /// The channel whose `S3Uri` is replaced, and the new URI.
    pub channel: String,
    pub data_s3_uri: String,
    /// `RoleArn`: always the configured training role (the only role the function may pass).
    pub role_arn: String,
    /// `OutputDataConfig.S3OutputPath`, when not the template's.
    pub output_s3_uri: Option<String>,
    /// Every tag of the job (lineage and the template's, already merged).
    pub tags: Vec<Tag>,
    /// One more channel, a copy of `channel` reading a manifest file (the labelled captures).
    pub manifest_channel: Option<ManifestChannel>,
    /// Channels of the template left out: the labelled-captures channel of an earlier retraining job, when that
    /// job is the template (its manifest lists another week's files).
    pub drop_channels: Vec<String>,
}

/// A channel reading a manifest file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestChannel {
    pub name: String,
    /// The manifest's `s3://` URI.
    pub manifest_uri: String,
}

/// The approval status of a model package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Approval {
    Approved,
    Rejected,
    PendingManualApproval,
}

impl Approval {
    /// SageMaker's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Approval::Approved => "Approved",
            Approval::Rejected => "Rejected",
            Approval::PendingManualApproval => "PendingManualApproval",
        }
    }

    /// From SageMaker's name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "Approved" => Some(Approval::Approved),
            "Rejected" => Some(Approval::Rejected),
            "PendingManualApproval" => Some(Approval::PendingManualApproval),
            _ => None,
        }
    }
}

/// A model package (a version in a Model Package Group).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageView {
    pub arn: String,
    pub group: String,
    pub version: u32,
    pub approval: Approval,
    /// The inference container's image and model data.
    pub image: Option<String>,
    pub model_data_url: Option<String>,
    /// `CustomerMetadataProperties`.
    pub metadata: BTreeMap<String, String>,
}

/// A `CreateModelPackage` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterRequest {
    pub group: String,
    /// `ClientToken`: the same job registers once.
    pub client_token: String,
    pub image: String,
    pub model_data_url: String,
    pub approval: Approval,
    pub description: String,
    pub metadata: BTreeMap<String, String>,
    pub content_types: Vec<String>,
    pub response_types: Vec<String>,
}

/// The model a variant of a configuration serves (DescribeModel of the model DescribeEndpointConfig names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServingModel {
    pub name: String,
    /// Its primary container's image: a retrained version is served by the same image.
    pub image: Option<String>,
    /// Its primary container's environment (copied to a retrained version's model).
    #[serde(default)]
    pub environment: std::collections::BTreeMap<String, String>,
    /// Its primary container's model data.
    #[serde(default)]
    pub model_data_url: Option<String>,
}

/// The variable with which the SageMaker Python SDK's framework models (`PyTorchModel`, `SKLearnModel`, ... with an
/// `entry_point`) point the serving container at their inference code.
pub const SUBMIT_DIRECTORY_VARIABLE: &str = "SAGEMAKER_SUBMIT_DIRECTORY";
/// Where a framework model's code lives when the SDK repacked it into `model.tar.gz` (under `code/`).
pub const CODE_IN_MODEL_DATA: &str = "/opt/ml/model/code";

impl ServingModel {
    /// Why a version built from a training job's own `model.tar.gz` cannot be served like this model, when it
    /// cannot: the model's inference code was repacked into its model data, and a training job's artifact does not
    /// hold it, so the new model would start without its code. The SageMaker Python SDK's framework models point
    /// [`SUBMIT_DIRECTORY_VARIABLE`] at [`CODE_IN_MODEL_DATA`] (network isolation) or at the repacked
    /// `model.tar.gz` itself in S3 (its default).
    pub fn code_in_model_data(&self) -> Option<String> {
        let dir = self.environment.get(SUBMIT_DIRECTORY_VARIABLE)?;
        let repacked = dir.starts_with("/opt/ml/model")
            || self.model_data_url.as_deref() == Some(dir.as_str())
            || dir.ends_with("/model.tar.gz");
        repacked.then(|| {
            format!(
                "the serving model {} runs inference code packed into its model data ({SUBMIT_DIRECTORY_VARIABLE}={dir}, \
                 as the SageMaker Python SDK repacks an entry_point), which a training job's model.tar.gz does not \
                 hold: have the training script copy the serving code to /opt/ml/model/code/ and register that \
                 version, or deploy it by hand",
                self.name
            )
        })
    }
}

/// A `CreateModel` request: `source`'s primary container (environment and all) with another image and model data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewModel {
    pub name: String,
    pub source: String,
    pub image: String,
    pub model_data_url: String,
    /// `ExecutionRoleArn`: the configured model role.
    pub role_arn: String,
    pub tags: Vec<Tag>,
}

/// Training jobs.
pub trait TrainingPort {
    /// The job, or `None` when there is none of that name.
    fn describe_job(&self, name: &str) -> Result<Option<TrainingJobView>, PortError>;
    /// `CreateTrainingJob`: the template described and cloned with the request's changes.
    fn create_job(&self, request: &TrainingRequest) -> Result<(), PortError>;
}

/// The model registry.
pub trait RegistryPort {
    /// `CreateModelPackage` in the request's group; returns the package's ARN.
    fn register(&self, request: &RegisterRequest) -> Result<String, PortError>;
    /// `DescribeModelPackage`.
    fn describe_package(&self, arn: &str) -> Result<PackageView, PortError>;
    /// The newest `Approved` package of a group, if any.
    fn latest_approved(&self, group: &str) -> Result<Option<PackageView>, PortError>;
}

/// SageMaker Models (the endpoint and its configurations are the [`EndpointPort`] the scaler uses too).
pub trait ModelPort {
    /// `DescribeModel`: the model's primary container image.
    fn describe_model(&self, name: &str) -> Result<ServingModel, PortError>;
    /// `CreateModel`: `model.source`'s container with the request's image and model data.
    fn create_model(&self, model: &NewModel) -> Result<(), PortError>;
}

/// Labelled data below one S3 location.
pub trait LabelledDataPort {
    /// The keys (relative to the location) of every object below `folder` (relative, ending in `/`).
    fn list(&self, folder: &str) -> Result<Vec<String>, PortError>;
    /// Writes `body` at `key` (relative); returns its `s3://` URI.
    fn put(&self, key: &str, body: &[u8]) -> Result<String, PortError>;
}

/// The ports of the loop. `reports` and `baseline` are only read (any [`StateStore`] over those locations).
pub struct RetrainPorts<'a> {
    pub state: &'a dyn StateStore,
    pub reports: &'a dyn StateStore,
    pub baseline: &'a dyn StateStore,
    /// The baseline folder's name in errors (its `s3://` URI).
    pub baseline_name: &'a str,
    pub training: &'a dyn TrainingPort,
    pub registry: &'a dyn RegistryPort,
    /// The endpoint and its configurations: the same port, and adapter, as the scaler's.
    pub endpoints: &'a dyn EndpointPort,
    pub models: &'a dyn ModelPort,
    /// The retraining file's `training.captured` location, when it has one.
    pub labelled: Option<&'a dyn LabelledDataPort>,
}

/// What the function is allowed and told, besides the endpoint's retraining file.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// The only role training jobs run as.
    pub training_role: String,
    /// The only role new models run as.
    pub model_role: String,
    /// Alarms that roll every deployment back (quality, errors).
    pub rollback_alarms: Vec<String>,
    /// The baseline the windows are judged against (for the lineage).
    pub baseline_uri: Option<String>,
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Port(#[from] PortError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Baseline(#[from] crate::baseline::BaselineError),
    #[error(transparent)]
    Rollback(#[from] super::versions::RollbackError),
    #[error("{0}")]
    Refused(String),
}

/// The model `variant` of a configuration serves.
///
/// # Errors
///
/// A [`PortError`] of kind [`PortErrorKind::NotFound`] when the configuration has no such variant, or `Other`
/// when the variant names no model.
pub fn variant_model(config: &ConfigView, variant: &str) -> Result<String, PortError> {
    let resource = format!("{}/{variant}", config.name);
    let Some(v) = config.variants.iter().find(|v| v.name == variant) else {
        return Err(PortError::new(
            "finding the model of",
            resource,
            PortErrorKind::NotFound,
            format!(
                "endpoint configuration {} has no production variant {variant}",
                config.name
            ),
        ));
    };
    v.model_name.clone().ok_or_else(|| {
        PortError::new(
            "finding the model of",
            resource,
            PortErrorKind::Other,
            "the production variant names no model",
        )
    })
}

/// The model `variant` of configuration `config` serves: the configuration described, then its model.
pub(super) fn serving_model(ports: &RetrainPorts<'_>, config: &str, variant: &str) -> Result<ServingModel, PortError> {
    let name = variant_model(&ports.endpoints.describe_config(config)?, variant)?;
    ports.models.describe_model(&name)
}

/// The key of a model's retraining history.
pub fn history_key(model: &str) -> String {
    format!("_retrain/{model}/history.json")
}

/// The key of an endpoint's version history.
pub fn versions_key(endpoint: &str) -> String {
    format!("_versions/{endpoint}.json")
}

pub(super) fn read<T: DeserializeOwned>(
    store: &dyn StateStore,
    key: &str,
) -> Result<Option<(T, StateVersion)>, LifecycleError> {
    Ok(crate::state::read_json(store, key)?)
}

/// Reads `key` (or `default`), applies `change`, writes it back with [`crate::state::update`]'s compare-and-set.
/// `change` returns `Ok(None)` to write nothing, `Ok(Some(r))` to write and return `r`.
pub(super) fn update<T, R>(
    store: &dyn StateStore,
    key: &str,
    default: impl Fn() -> T,
    mut change: impl FnMut(&mut T) -> Result<Option<R>, LifecycleError>,
) -> Result<Option<R>, LifecycleError>
where
    T: Serialize + DeserializeOwned,
{
    let updated = crate::state::update(store, key, default, |value| {
        Ok::<_, LifecycleError>(match change(value)? {
            Some(r) => Step::Write(Some(r)),
            None => Step::Keep(None),
        })
    })?;
    Ok(updated.result)
}

/// The model's retraining history (empty when nothing was launched).
///
/// # Errors
///
/// A [`LifecycleError`] when the state cannot be read.
pub fn retrain_history(state: &dyn StateStore, model: &str) -> Result<RetrainHistory, LifecycleError> {
    Ok(read::<RetrainHistory>(state, &history_key(model))?
        .map(|(h, _)| h)
        .unwrap_or_default())
}

/// The endpoint's version history (empty when nothing was recorded).
///
/// # Errors
///
/// A [`LifecycleError`] when the state cannot be read.
pub fn version_history(state: &dyn StateStore, endpoint: &str) -> Result<VersionHistory, LifecycleError> {
    Ok(read::<VersionHistory>(state, &versions_key(endpoint))?
        .map(|(h, _)| h)
        .unwrap_or_else(|| VersionHistory::new(endpoint)))
}
